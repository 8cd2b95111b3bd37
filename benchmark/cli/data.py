"""``gaitbench data ...``: commands about datasets on disk (``check``).

The readers are imported when a command runs, so building the parser stays free of OpenCV; defaults left
as None here are :func:`benchmark.data.check.check_tree`'s.
"""

from __future__ import annotations

import argparse
import sys

from benchmark.cli.args import add_conditions, add_subjects, add_views, add_workers


def register(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="inspect datasets on disk")
    data_sub = data.add_subparsers(dest="data_command", metavar="DATA_COMMAND")
    data.set_defaults(func=lambda args: _help(data))

    p = data_sub.add_parser(
        "check",
        help="check a CASIA-B silhouette tree: present/missing/empty/corrupt sequences and frames",
        description=(
            "Decode every frame of a CASIA-B silhouette tree (<ROOT>/001/nm-01/090/*.png) and count present, "
            "missing, empty and corrupt sequences and frames per subject, condition and view. Exit status: "
            "0 usable, 1 not usable (no readable sequence, or too many bad ones), 2 ROOT missing."
        ),
    )
    p.add_argument("root", metavar="ROOT", help="the silhouette tree")
    add_subjects(p, "those in the tree")
    add_conditions(p, "all ten")
    add_views(p, "000..180 step 18")
    p.add_argument("--csv", metavar="FILE", help="also write one row per sequence to FILE")
    p.add_argument("--min-pixels", type=int, help="a frame with fewer foreground pixels is empty (default 40)")
    p.add_argument(
        "--max-bad",
        type=float,
        help="largest fraction of missing/empty/corrupt sequences in a usable tree (default 0.1)",
    )
    add_workers(p, "worker processes")
    p.add_argument("--show", type=int, default=20, help="list at most this many problems (default 20)")
    p.set_defaults(func=cmd_check)


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def cmd_check(args: argparse.Namespace) -> int:
    from benchmark.data.check import check_tree

    options = {"min_pixels": args.min_pixels, "max_bad_fraction": args.max_bad}
    report = check_tree(
        args.root,
        subjects=args.subjects,
        conditions=args.conditions,
        views=args.views,
        workers=args.workers,
        **{k: v for k, v in options.items() if v is not None},
    )
    print(report.format(max_problems=args.show))
    if args.csv:
        report.write_csv(args.csv)
        print(f"wrote {args.csv}")
    sys.stdout.flush()
    return 0 if report.usable else 1
