"""Commands ``gaitbench anonymize``, ``gaitbench train anonymizer`` and ``gaitbench strips``.

Method code (torch, OpenCV) is imported when a command runs, so building the parser stays cheap.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

from benchmark.cli import positive_int
from benchmark.data.cli import parse_list, parse_subjects
from benchmark.training import add_train_command

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
    p.add_argument("--protocol", default="paper", help="bundled protocol (paper, lt) or a TOML file (default paper)")
    who = p.add_mutually_exclusive_group()
    who.add_argument("--group", help="protocol subject group to anonymize (default: its test group)")
    who.add_argument("--subjects", type=parse_subjects, help="e.g. 001-074,080 instead of a group")
    p.add_argument("--conditions", type=parse_list, help="e.g. nm-05,bg (default: the protocol's probes)")
    p.add_argument("--views", type=parse_list, help="e.g. 0,90 (default: the protocol's views)")
    p.add_argument("--seed", type=int, default=0, help="anonymization seed (default 0)")
    p.add_argument("--no-videos", action="store_true", help="silhouettes only, even when colour videos exist")
    p.add_argument("--config", help="TOML settings of an untrained method (trained ones take theirs from --ckpt)")
    p.add_argument("--device", default="auto", help="auto (GPU when present), cpu, cuda or cuda:N (default auto)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_anonymize)

    t = add_train_command(sub).add_parser(
        "anonymizer",
        help="train an anonymizer on the protocol's training groups",
        description="Train NAME on --data (the protocol's groups for its networks) and write the checkpoint --out.",
    )
    t.add_argument("name", metavar="NAME", help="a trainable anonymizer (gaitbench ls anonymizers)")
    t.add_argument("--alpha", type=float, help="override the config's alpha (ST-GAN's noise weight)")
    t.add_argument("--data", required=True, help="clean CASIA-B tree or synthetic world folder")
    t.add_argument("--out", required=True, help="checkpoint file to write (.npz)")
    t.add_argument("--config", help="TOML file with the method's settings (unknown keys are errors)")
    t.add_argument("--epochs", type=positive_int, help="override the config's number of epochs")
    t.add_argument("--gn-epochs", type=positive_int, help="override the config's epochs of the noise generator")
    t.add_argument("--seed", type=int, help="override the config's seed")
    t.add_argument("--protocol", default="paper", help="bundled protocol (paper, lt) or a TOML file (default paper)")
    t.add_argument("--device", default="auto", help="auto (GPU when present), cpu, cuda or cuda:N (default auto)")
    t.add_argument("--workers", type=positive_int, help="decoding processes (default: all CPUs)")
    t.add_argument("--quiet", action="store_true", help="no progress output")
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
    from baselines.base import load_anonymizer, make_config
    from benchmark.anonymized import anonymize_dataset
    from benchmark.protocol import check_training_subjects, load_protocol, protocol_groups
    from benchmark.registry import ANONYMIZERS, load_plugin_declarations

    load_plugin_declarations()
    trainable = ANONYMIZERS.entry(args.name).meta.get("trainable", False)
    if args.ckpt is None and trainable:
        raise ValueError(f"{args.name} is trainable: pass --ckpt with a checkpoint from "
                         f"`gaitbench train anonymizer {args.name}`")
    if args.ckpt is not None:
        if args.config is not None:
            raise ValueError("--config applies to untrained methods only; the checkpoint holds its config")
        anon = load_anonymizer(args.ckpt)
        if anon.name != args.name:
            raise ValueError(f"checkpoint {args.ckpt} holds anonymizer {anon.name!r}, not {args.name!r}")
    else:
        anon = ANONYMIZERS.get(args.name)(make_config(args.name, args.config))
    anon.to(args.device)
    protocol = load_protocol(args.protocol)
    groups = protocol_groups(args.data, protocol)
    check_training_subjects(f"anonymizer {anon.name} ({args.ckpt})", (anon.training or {}).get("subjects"),
                            groups.get(protocol.test_group, []))
    subjects = args.subjects
    if subjects is None:
        group = args.group or protocol.test_group
        if group not in groups:
            raise ValueError(f"protocol {protocol.name!r} has no group {group!r} (groups: {', '.join(groups)})")
        subjects = groups[group]
    conditions = args.conditions or [c for conds in protocol.probes.values() for c in conds]
    record = anonymize_dataset(
        anon, args.data, args.out, subjects=subjects, conditions=conditions, views=args.views or protocol.views,
        seed=args.seed, videos=False if args.no_videos else "auto", checkpoint=args.ckpt, progress=not args.quiet,
    )
    fps = record["frames_per_second"]
    print(f"anonymized {record['sequences']} sequences ({record['frames']} frames; {record['written_sequences']} "
          f"written now, {record['seconds']:.1f} s, {fps or 0:.1f} frames/s) with {args.name} -> {args.out}")
    return 0


def cmd_train_anonymizer(args: argparse.Namespace) -> int:
    from baselines import train
    from baselines.base import make_config

    config = make_config(args.name, args.config, alpha=args.alpha, epochs=args.epochs, gn_epochs=args.gn_epochs,
                         seed=args.seed)
    began = time.perf_counter()
    anon = train.train_anonymizer(args.name, args.data, args.out, protocol=args.protocol, config=config,
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
    from reports.strips import frame_strips, write_png, xor_strip

    original = _load_key(args.original, args.key)
    rows = [("original", original)] + [(label, _load_key(root, args.key)) for label, root in args.anonymized]
    crop = not args.whole_frames
    print(f"wrote {write_png(args.out, frame_strips(rows, n=args.frames, crop=crop))}")
    if args.xor:
        print(f"wrote {write_png(Path(args.xor), xor_strip(original, rows[1][1], n=args.frames, crop=crop))}")
    return 0
