"""General commands: ``version`` and ``ls``."""

from __future__ import annotations

import argparse
import platform

from benchmark import __version__
from benchmark.registry import ALL, load_plugin_declarations


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("version", help="print the gaitbench version")
    p.set_defaults(func=cmd_version)
    p = sub.add_parser("ls", help="list registered plug-ins by kind (imports no model code)")
    p.add_argument("kind", nargs="?", choices=sorted(ALL), help="only this kind")
    p.set_defaults(func=cmd_ls)


def cmd_version(args: argparse.Namespace) -> int:
    print(f"gaitbench {__version__} (Python {platform.python_version()})")
    return 0


def cmd_ls(args: argparse.Namespace) -> int:
    load_plugin_declarations()
    kinds = [args.kind] if args.kind else sorted(ALL)
    for kind in kinds:
        registry = ALL[kind]
        print(f"{kind}:")
        if not len(registry):
            print("  (none registered)")
        for entry in registry.entries():
            print(f"  {entry.name:<20} {entry.summary}")
    return 0
