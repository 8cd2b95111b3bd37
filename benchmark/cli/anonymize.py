"""Commands ``gaitbench anonymize``, ``gaitbench train anonymizer`` and ``gaitbench strips``.

Method code (torch, OpenCV) is imported when a command runs, so building the parser stays cheap.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

from benchmark.cli.args import (
    add_conditions,
    add_device,
    add_protocol,
    add_quiet,
    add_seed,
    add_settings,
    add_train_command,
    add_training,
    add_views,
    add_workers,
    parse_subjects,
    positive_int,
    settings,
    training_config,
)

if TYPE_CHECKING:
    from benchmark.types import GaitSequence


def _labelled(text: str) -> tuple[str, str]:
    label, sep, folder = text.partition("=")
    if not sep or not label or not folder:
        raise argparse.ArgumentTypeError(f"expected LABEL=DIR, e.g. stgan=out/stgan; got {text!r}")
    return label, folder


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "anonymize",
        help="anonymize a dataset's sequences into a new tree in the synthetic world's layout",
        description="Anonymize the selected sequences of --data with NAME and write silhouettes (and colour "
        "videos) under --out, readable as a dataset. Default selection: the protocol's test subjects, probe "
        "conditions and views. Rerunning after an interruption skips finished sequences.",
    )
    p.add_argument("name", metavar="NAME", help="a registered anonymizer (gaitbench ls anonymizers)")
    p.add_argument("--ckpt", help="checkpoint from `gaitbench train anonymizer` (required for trainable methods)")
    p.add_argument("--data", required=True, help="clean CASIA-B tree or synthetic world folder")
    p.add_argument("--out", required=True, help="output folder")
    add_protocol(p)
    who = p.add_mutually_exclusive_group()
    who.add_argument("--group", help="protocol subject group to anonymize (default: its test group)")
    who.add_argument("--subjects", type=parse_subjects, help="e.g. 001-074,080 instead of a group")
    add_conditions(p, "the protocol's probes")
    add_views(p, "the protocol's views")
    add_seed(p, 0, "anonymization seed")
    p.add_argument("--no-videos", action="store_true", help="silhouettes only, even when colour videos exist")
    add_settings(p, "untrained method")  # a trained one takes its settings from --ckpt
    add_device(p)
    add_quiet(p)
    p.set_defaults(func=cmd_anonymize)

    t = add_train_command(sub).add_parser(
        "anonymizer",
        help="train an anonymizer on the protocol's training groups",
        description="Train NAME on --data (the protocol's groups for its networks) and write the checkpoint --out.",
    )
    add_training(t, "anonymizer")
    add_protocol(t)
    add_device(t)
    add_workers(t)
    add_quiet(t)
    t.set_defaults(func=cmd_train_anonymizer)

    s = sub.add_parser("strips", help="draw frame strips of one sequence, original and anonymized (Figs. 8, 17, 18)")
    s.add_argument("--original", required=True, help="clean dataset folder")
    s.add_argument("--anonymized", type=_labelled, action="append", required=True, metavar="LABEL=DIR",
                   help="anonymized dataset and its row label (repeat for several)")
    s.add_argument("--key", required=True, help="sequence, e.g. 001-nm-05-090")
    s.add_argument("--out", required=True, help="PNG of the strips")
    s.add_argument("--xor", help="also a PNG of original vs the first anonymized silhouettes (Fig. 18)")
    s.add_argument("--frames", type=positive_int, default=8, help="frames per row (default 8)")
    s.add_argument("--whole-frames", action="store_true", help="show whole frames instead of crops around the person")
    s.set_defaults(func=cmd_strips)


def cmd_anonymize(args: argparse.Namespace) -> int:
    from benchmark.anonymizer import anonymizer_class
    from benchmark.steps import anonymize, prepare_anonymizer

    config = None
    if args.config is not None or args.settings:
        if args.ckpt is not None:
            raise ValueError("--config and --set apply to untrained methods only; the checkpoint holds its config")
        config = anonymizer_class(args.name).make_config(args.config, **settings(args.settings))
    anon = prepare_anonymizer(args.name, checkpoint=args.ckpt, config=config).to(args.device)
    record = anonymize(
        anon, args.data, args.out, protocol=args.protocol, group=args.group, subjects=args.subjects,
        conditions=args.conditions, views=args.views, seed=args.seed, videos=False if args.no_videos else "auto",
        checkpoint=args.ckpt, progress=not args.quiet,
    )
    fps = record["frames_per_second"]
    print(f"anonymized {record['sequences']} sequences ({record['frames']} frames; {record['written_sequences']} "
          f"written now, {record['seconds']:.1f} s, {fps or 0:.1f} frames/s) with {args.name} -> {args.out}")
    return 0


def cmd_train_anonymizer(args: argparse.Namespace) -> int:
    from benchmark.anonymizer import anonymizer_class
    from benchmark.steps import train_anonymizer

    config = training_config(anonymizer_class(args.name), args)
    began = time.perf_counter()
    anon = train_anonymizer(args.name, args.data, args.out, protocol=args.protocol, config=config,
                            device=args.device, workers=args.workers, progress=not args.quiet)
    training = anon.training or {}
    epochs = f"{training['epochs']} epochs, " if "epochs" in training else ""
    print(f"trained {args.name}: {epochs}training {training.get('seconds', 0.0):.1f} s, total "
          f"{time.perf_counter() - began:.1f} s -> {args.out}")
    return 0


def _load_key(root: str, key: str) -> GaitSequence:
    from benchmark.data.casia import CasiaB

    data = CasiaB(root)
    try:
        ref = data.ref(key)
    except KeyError:
        raise KeyError(f"dataset {root} has no sequence {key} (missing folder or no PNG frames)") from None
    try:
        data.video_path(ref)
    except FileNotFoundError:
        return data.load(ref)
    return data.load(ref, frames=True)


def cmd_strips(args: argparse.Namespace) -> int:
    from benchmark.strips import frame_strips, write_png, xor_strip

    original = _load_key(args.original, args.key)
    rows = [("original", original)] + [(label, _load_key(root, args.key)) for label, root in args.anonymized]
    crop = not args.whole_frames
    print(f"wrote {write_png(args.out, frame_strips(rows, n=args.frames, crop=crop))}")
    if args.xor:
        print(f"wrote {write_png(Path(args.xor), xor_strip(original, rows[1][1], n=args.frames, crop=crop))}")
    return 0
