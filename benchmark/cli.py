"""The ``gaitbench`` command line. Each command lives in its own module that exposes ``register(subparsers)``."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

# Modules that add sub-commands; each has ``register(subparsers)`` and sets ``func`` on its parser.
COMMAND_MODULES: tuple[str, ...] = (
    "benchmark.commands",
    "benchmark.data.cli",
    "benchmark.perf",
    "benchmark.demo",
    "benchmark.synth.cli",
    "benchmark.recognize_cli",
    "benchmark.anonymize_cli",
    "benchmark.score_cli",
    "benchmark.action_cli",
    "benchmark.run_cli",
    "benchmark.survey_cli",
    "benchmark.report_cli",
    "benchmark.gate_cli",
)


def _int_at_least(minimum: int, text: str, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {what}, got {value}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    return _int_at_least(1, text, "a positive integer")


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    return _int_at_least(0, text, "an integer >= 0")


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
