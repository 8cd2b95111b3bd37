"""The ``gaitbench`` command line: the only layer that parses arguments and prints, imported by nothing.

Each module of this package adds its commands with ``register(subparsers)``, built from the shared options of
:mod:`benchmark.cli.args`; the work itself is done by library functions (:mod:`benchmark.steps`, the runner, the
reports), so a command and a run compute the same thing.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

# Modules that add sub-commands; each has ``register(subparsers)`` and sets ``func`` on its parser.
COMMAND_MODULES: tuple[str, ...] = tuple(f"benchmark.cli.{name}" for name in (
    "general", "data", "perf", "demo", "synth", "recognize", "anonymize", "score", "action", "run", "survey",
    "report", "gate",
))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gaitbench",
        description="Evaluation benchmark suite for gait anonymization.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, KeyError, TypeError) as exc:
        # Errors a user can cause carry their own explanation; show it without a traceback
        # (GAITBENCH_DEBUG=1 shows the traceback instead).
        if os.environ.get("GAITBENCH_DEBUG"):
            raise
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"gaitbench {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
