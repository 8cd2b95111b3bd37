"""Commands of the synthetic world: ``synth``, ``synth-sheets``, ``synth-bench`` and ``synth-check``.

Heavy modules (anny, torch, numba) are imported inside the commands, so ``gaitbench --help`` stays fast.
"""

from __future__ import annotations

import argparse

from benchmark.cli.args import add_conditions, add_seed, add_views, add_workers, positive_int
from benchmark.synth import NOISE_MODELS, PRESET_NAMES


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "synth",
        help="generate the synthetic CASIA-B-like world (needs gaitbench[synth])",
        description="Render walkers at CASIA-B's 11 views into CASIA-B's layout: silhouettes/, videos/, "
        "manifest.json. An interrupted run resumes where it stopped. anny's first-run cache (~790 MB) goes to "
        "$GAITBENCH_CACHE/anny (default ~/.cache/gaitbench/anny).",
    )
    p.add_argument("--preset", required=True, choices=PRESET_NAMES, help="ci (tiny), quick (40 people), full (124)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--subjects", type=positive_int, help="number of people (default: the preset's)")
    add_seed(p, 0, "world seed")
    add_workers(p, "processes")
    add_views(p, "the preset's")
    add_conditions(p, "the preset's")
    p.add_argument("--noise", choices=NOISE_MODELS, help="segmentation noise on the silhouettes (default none)")
    p.add_argument("--no-videos", action="store_true", help="write silhouettes only")
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("synth-sheets", help="contact sheets (PNG) of a synthetic world, to judge by eye")
    p.add_argument("world", help="folder written by 'gaitbench synth'")
    p.add_argument("--out", required=True, help="folder for the PNG sheets")
    p.add_argument("--subject", default="001", help="the subject shown at every view (default 001)")
    p.set_defaults(func=cmd_sheets)

    p = sub.add_parser("synth-bench", help="print the rasterizer's speed (silhouette and colour frames/s)")
    p.add_argument("--repeats", type=positive_int, default=5, help="timed repeats; the median is reported")
    p.add_argument("--frames", type=positive_int, default=64, help="frames per repeat")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser(
        "synth-check",
        help="fit-for-purpose figures: GEI nearest-neighbour rank-1 per view for nm/bg/cl probes",
    )
    p.add_argument("world", help="folder written by 'gaitbench synth' (the quick preset is the reference)")
    add_workers(p, "processes for reading")
    p.set_defaults(func=cmd_check)


def cmd_synth(args: argparse.Namespace) -> int:
    from benchmark.synth.world import generate, preset

    config = preset(
        args.preset,
        subjects=args.subjects,
        seed=args.seed,
        views=args.views,
        conditions=args.conditions,
        noise=args.noise,
        videos=False if args.no_videos else None,
    )
    generate(config, args.out, workers=args.workers)
    return 0


def cmd_sheets(args: argparse.Namespace) -> int:
    from benchmark.synth.sheets import contact_sheets

    for path in contact_sheets(args.world, args.out, subject=args.subject):
        print(path)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from benchmark.synth.bench import main

    main(repeats=args.repeats, frames=args.frames)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from benchmark.synth.identity import format_table, identity_table

    table = identity_table(args.world, workers=args.workers)
    print(format_table(table))
    return 0
