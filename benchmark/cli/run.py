"""Command ``gaitbench run CONFIG.toml [--out DIR]``: the whole benchmark from one config file.

World -> recognizers -> anonymizer training -> anonymized test data -> success rates, naturalness and realism
-> pictures -> ``DIR/results.csv``, ``DIR/run.json``, ``DIR/pictures/``. Every stage's artifact is cached by the
content that produced it (``DIR/cache`` unless ``--cache`` or the config's ``cache_dir`` says otherwise), so a
rerun reuses what is done and a killed run resumes. See docs/run.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benchmark.cli.args import non_negative_int


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run the whole benchmark from a config file (cached, resumable)",
        description="Run every stage of CONFIG (a TOML file, see configs/ and docs/run.md): generate or read the "
        "data, train the recognizers and anonymizers, anonymize the protocol's test group with every method, "
        "score success rates, naturalness and realism per view, draw the paper's pictures, and write "
        "OUT/results.csv, OUT/run.json and OUT/pictures/. Stages already computed with the same inputs are "
        "reused (printed as cached); an interrupted run resumes.",
    )
    p.add_argument("config", help="run config (TOML); relative paths in it are relative to its folder")
    p.add_argument("--out", help="run directory (default runs/<config name>)")
    p.add_argument("--cache", help="stage cache (default: the config's cache_dir, else OUT/cache); several runs "
                   "may share one, e.g. $GAITBENCH_CACHE/runs")
    p.add_argument("--seed", type=non_negative_int, help="replace the config's seed (anonymization and every "
                   "model's training; the world keeps its own): runs of one config under several seeds measure "
                   "training variance (see gaitbench golden --seeds)")
    p.add_argument("--dry-run", action="store_true", help="print the stages, their keys and which are cached; "
                   "compute nothing")
    p.add_argument("--stop-after", metavar="STAGE", help="stop once this stage is complete (a name from --dry-run)")
    p.add_argument("--prune", action="store_true", help="first delete cached stages this config no longer uses "
                   "(not on a cache shared with other configs)")
    p.add_argument("--drop-anonymized", action="store_true", help="delete each anonymized tree (the run's "
                   "largest files) once every stage of this run that reads it is done; its marker stays, and a later "
                   "run that needs it recomputes it with the same bytes (not with other runs in flight on the cache)")
    p.add_argument("--jobs", type=non_negative_int, nargs="?", const=0, default=1, metavar="N",
                   help="run up to N independent stages at once in a local Dask cluster of N processes, each stage "
                   "with its share of the cores (--jobs 0, or --jobs alone: one per core; default 1: one stage at a "
                   "time, in this process)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="run the stages on the Dask cluster whose scheduler is "
                   "at ADDRESS (tcp://host:8786, or the JSON file of dask scheduler --scheduler-file); its workers "
                   "must see the world and the cache folder at the same paths (docs/run.md)")
    p.add_argument("--report", action="store_true", help="also write OUT/report (gaitbench report) at the end")
    p.add_argument("--quiet", action="store_true", help="only the per-stage lines, no progress of the stages")
    p.set_defaults(func=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    from benchmark.runner import execute, load_run_config, plan_run
    from benchmark.runner.execute import check_stop_after, prune

    resolved = load_run_config(args.config, seed=args.seed)
    out = Path(args.out) if args.out else Path("runs") / (resolved.config.name or Path(args.config).stem)
    plan = plan_run(resolved, out, cache_dir=args.cache, progress=not args.quiet)
    check_stop_after(plan, args.stop_after)  # a dry run refuses a stage name that is not in the run too
    plan.drop = args.drop_anonymized
    if args.prune and not args.dry_run:
        removed = prune(plan)
        print(f"pruned {len(removed)} unused stage folder(s) from {plan.store.root}")
    if args.dry_run:
        print(plan.describe())
        return 0
    if args.scheduler is not None or args.jobs != 1:
        from benchmark.runner.cluster import available_cores, execute_distributed

        if args.scheduler is not None and args.jobs != 1:
            raise ValueError("--jobs sets up a local cluster and --scheduler names another: give one of them")
        try:
            result = execute_distributed(plan, jobs=args.jobs or available_cores(), scheduler=args.scheduler,
                                         stop_after=args.stop_after)
        except ConnectionError as err:
            print(f"gaitbench run: {err}", file=sys.stderr)
            return 2
    else:
        result = execute(plan, stop_after=args.stop_after)
    if result.finished and args.report:
        from reports.report import build_report

        report = build_report(out)
        print(f"wrote {report.html}")
    return 0

