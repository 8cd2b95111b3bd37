"""Commands of the synthetic world: ``synth``, ``synth-sheets``, ``synth-bench`` and ``synth-check``.

Heavy modules (anny, torch, numba) are imported inside the commands, so ``gaitbench --help`` stays fast.
"""

from __future__ import annotations

import argparse

from benchmark.cli import non_negative_int, positive_int
from benchmark.synth import NOISE_MODELS, PRESET_NAMES
from benchmark.types import CASIA_VIEWS


def _views(text: str) -> tuple[int, ...]:
    try:
        views = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"views must be comma-separated degrees like 0,90,180; got {text!r}") from None
    bad = [v for v in views if v not in CASIA_VIEWS]
    if bad or not views:
        raise argparse.ArgumentTypeError(f"views must be among {list(CASIA_VIEWS)}, got {text!r}")
    return views


def _conditions(text: str) -> tuple[str, ...]:
    return tuple(c.strip() for c in text.split(",") if c.strip())




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
    p.add_argument("--seed", type=non_negative_int, default=0, help="world seed (default 0)")
    p.add_argument("--workers", type=positive_int, help="processes (default: all cores)")
    p.add_argument("--views", type=_views, help="comma-separated subset of views (default: the preset's)")
    p.add_argument("--conditions", type=_conditions, help="comma-separated, e.g. nm-01,bg-01 (default: preset's)")
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
    p.add_argument("--workers", type=positive_int, help="processes for reading (default: all cores)")
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
