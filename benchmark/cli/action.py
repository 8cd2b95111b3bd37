"""Command ``gaitbench action-model``: render the synthetic action dataset, train the ``video-synth`` model.

Rendering (:mod:`benchmark.synth.actions`) resumes where an interrupted run stopped, and training keeps a
per-epoch state beside the checkpoint (``OUT.state.pt``), so rerunning the same command finishes the job.
The held-out accuracy per class (people never trained on) is printed and stored in the checkpoint: it is what
the model's numbers can be trusted for. torch, anny and numba are imported when the command runs.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from benchmark.cli.args import add_device, add_quiet, add_seed, add_workers, non_negative_int, positive_int

DEFAULT_CLIPS = 600
DEFAULT_EPOCHS = 30


def _default_out() -> Path:
    from benchmark.io import cache_root

    return cache_root() / "weights" / "synth-action.pt"


def _size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be HxW like 120x160, got {text!r}") from None
    if h < 16 or w < 16:
        raise argparse.ArgumentTypeError(f"size must be at least 16x16, got {text!r}")
    return h, w


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "action-model",
        help="render the synthetic action dataset and train the video-synth scorer's model",
        description="Render N clips per action (walk, run, stand, jump, turn) of synthetic people into "
        "--data-dir (skipped when already there), train gaitbench's small 3D CNN on them and write the "
        "checkpoint --out (default: where video-synth looks, $GAITBENCH_CACHE/weights/synth-action.pt). "
        "Some people are held out of training; their per-class accuracy is printed and kept in the "
        "checkpoint. Rerunning the command resumes rendering and training.",
    )
    p.add_argument("--out", type=Path, help="checkpoint to write (.pt; default $GAITBENCH_CACHE/weights/"
                   "synth-action.pt)")
    p.add_argument("--clips-per-class", type=positive_int, default=DEFAULT_CLIPS,
                   help=f"clips rendered per action (default {DEFAULT_CLIPS})")
    p.add_argument("--subjects", type=positive_int, help="people in the dataset (default clips-per-class / 4)")
    p.add_argument("--epochs", type=non_negative_int, default=DEFAULT_EPOCHS,
                   help=f"training epochs (default {DEFAULT_EPOCHS})")
    p.add_argument("--data-dir", type=Path, help="dataset folder (default $GAITBENCH_CACHE/synth-actions/"
                   "seedS-clipsN-subjectsP)")
    add_workers(p, "rendering processes", default=1)
    add_seed(p, 0, "dataset and training seed")
    p.add_argument("--size", type=_size, default=(120, 160), help="rendered frame size HxW (default 120x160)")
    p.add_argument("--width", type=positive_int, default=32, help="channels of the first Conv3d (default 32)")
    p.add_argument("--crop", type=positive_int, default=64,
                   help="network input size: frames resized to this shorter side, centre-cropped (default 64)")
    p.add_argument("--batch-size", type=positive_int, default=16, help="clips per training batch (default 16)")
    p.add_argument("--holdout", type=float, default=0.2, help="fraction of people held out (default 0.2)")
    add_device(p)
    add_quiet(p)
    p.set_defaults(func=cmd_action_model)


def cmd_action_model(args: argparse.Namespace) -> int:
    from benchmark.io import cache_root
    from benchmark.record import write_run_record
    from benchmark.scorers.action import TrainConfig, print_report, train_action_model
    from benchmark.synth.actions import generate_actions

    if not 0.0 <= args.holdout < 1.0:
        raise ValueError(f"--holdout must lie in [0, 1), got {args.holdout}")
    subjects = args.subjects or max(4, args.clips_per_class // 4)
    out = args.out or _default_out()
    data_dir = args.data_dir or (
        cache_root() / "synth-actions" / f"seed{args.seed}-clips{args.clips_per_class}-subjects{subjects}"
    )
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, width=args.width, crop=args.crop,
                         holdout=args.holdout, seed=args.seed)
    log = None if args.quiet else (lambda line: print(line, file=sys.stderr))
    import torch

    threads = torch.get_num_threads()
    began = time.perf_counter()
    generate_actions(data_dir, args.clips_per_class, subjects=subjects, seed=args.seed, size=args.size,
                     workers=args.workers, log=log)
    # Rendering in this process set torch to one thread (the body model's choice for worker processes).
    torch.set_num_threads(threads)
    meta = train_action_model(data_dir, out, config, device=args.device, progress=not args.quiet)
    write_run_record(out.with_name(out.stem + ".run.json"), command_name="action-model", checkpoint=str(out),
                     data=str(data_dir), meta=meta, seconds=round(time.perf_counter() - began, 3))
    print_report(meta)
    print(f"wrote {out}")
    return 0
