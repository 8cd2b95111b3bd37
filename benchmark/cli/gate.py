"""Commands ``gaitbench check`` (the regression gate) and ``gaitbench golden`` (the only way golden files are made).

``check`` exits 0 when every gated golden row holds within tolerance, 1 when one falls, changes or is missing,
and 2 when an input cannot be used (no results, a broken golden file, an unknown metric).
"""

from __future__ import annotations

import argparse
import math
import shlex
from pathlib import Path
from typing import Any

from benchmark.cli.args import non_negative_int, positive_int


def _tolerance(text: str) -> list[tuple[str | None, float]]:
    """``0.03`` (every metric) or ``success_rate=0.02[,mos=0.3]`` -> [(metric or None, value)]."""
    out: list[tuple[str | None, float]] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        metric, _, number = part.rpartition("=")
        try:
            value = float(number)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a number or METRIC=NUMBER (e.g. 0.05 or success_rate=0.02), got {part!r}"
            ) from None
        if not (math.isfinite(value) and value >= 0):
            raise argparse.ArgumentTypeError(f"a tolerance must be a finite number >= 0, got {part!r}")
        out.append((metric.strip() or None, value))
    if not out:
        raise argparse.ArgumentTypeError(f"no tolerance in {text!r}")
    return out


def register(sub: argparse._SubParsersAction) -> None:
    from benchmark.gate import DEFAULT_ALPHA, DEFAULT_METRICS, METRICS

    defaults = ", ".join(f"{m} {METRICS[m].tolerance:g}" for m in DEFAULT_METRICS if METRICS[m].tolerance)
    others = ", ".join(sorted(set(METRICS) - set(DEFAULT_METRICS)))
    p = sub.add_parser(
        "check",
        help="regression gate: compare a run's results with a golden file (exit 1 on a significant fall)",
        description="Compare RUN_DIR's tidy results (results.csv and results-*.csv) with a golden file made by "
        "`gaitbench golden` from several seeds of a reference run. A pooled row (one condition over all views) "
        "fails when the run is worse than the golden mean beyond its sampling error (from n), beyond the spread "
        "of the golden's seeds (training variance) and beyond the metric's tolerance, each bound at a "
        "family-wise false-alarm rate ALPHA over the pooled rows; single-view rows are reported, never fail "
        "alone. A golden row missing from the run fails; run rows the golden file lacks are listed as new. "
        "See tests/golden/README.md. Exit 0: pass; 1: fail; 2: unusable input.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory (gaitbench run --out)")
    p.add_argument("--golden", required=True, help="golden file, e.g. tests/golden/ci.json")
    p.add_argument("--alpha", type=float, default=DEFAULT_ALPHA,
                   help=f"family-wise false-alarm rate over the pooled rows (default {DEFAULT_ALPHA:g})")
    p.add_argument(
        "--tolerance",
        type=_tolerance,
        action="append",
        default=[],
        metavar="T|METRIC=T",
        help=f"the smallest fall that can fail, for every gated metric or per metric (repeatable, or "
        f"comma-separated) (defaults: {defaults})",
    )
    p.add_argument(
        "--metrics",
        nargs="+",
        metavar="METRIC",
        help=f"metrics to gate (default: {' '.join(DEFAULT_METRICS)}); others: {others}",
    )
    p.set_defaults(func=cmd_check)

    p = sub.add_parser(
        "golden",
        help="write a golden file from runs of one config under several seeds (refuses to overwrite without "
        "--force)",
        description="Write the tidy rows of one or more runs of one config that differ only in their seed into one "
        "JSON golden file: per row the mean, the spread between the seeds (training variance) and the sampling "
        "error, with this command, the git commit, the versions and the first run's run.json. Either name "
        "finished run directories, or give --config and --seeds K to run the config under seeds 0..K-1 first "
        "(into --runs, sharing one stage cache). This is the only way golden files are made; see "
        "tests/golden/README.md.",
    )
    p.add_argument("run_dirs", metavar="RUN_DIR", nargs="*", help="finished run directories of one config")
    p.add_argument("--config", help="run this config under --seeds seeds first (with no RUN_DIR)")
    p.add_argument("--seeds", type=positive_int, help="how many seeds to run (0..K-1; with --config)")
    p.add_argument("--first-seed", type=non_negative_int, default=0, help="the first seed (default 0)")
    p.add_argument("--runs", default="runs/golden", help="where the seeds' runs go: RUNS/seed-N and the shared "
                   "stage cache RUNS/cache (default runs/golden)")
    p.add_argument("--out", required=True, help="golden file to write, e.g. tests/golden/ci.json")
    p.add_argument("--force", action="store_true", help="replace an existing golden file")
    p.set_defaults(func=cmd_golden)


def _settings(args: argparse.Namespace) -> Any:
    from benchmark.gate import DEFAULT_METRICS, GateError, GateSettings

    metrics = tuple(dict.fromkeys(m.strip() for text in (args.metrics or DEFAULT_METRICS) for m in text.split(",")
                                  if m.strip()))
    pairs = [pair for group in args.tolerance for pair in group]
    overall = {value for metric, value in pairs if metric is None}
    if len(overall) > 1:
        raise GateError(f"--tolerance given as several numbers for every metric: {sorted(overall)}")
    per_metric = {metric: value for metric, value in pairs if metric is not None}
    return GateSettings(metrics=metrics, alpha=args.alpha, tolerance=overall.pop() if overall else None,
                        per_metric=per_metric)


def _describe(meta: dict[str, Any]) -> str:
    made = meta.get("made_by") or {}
    run = (meta.get("run") or {}).get("record") or {}
    return (
        f"made by `{made.get('command', '?')}` at commit {made.get('git') or 'unknown'} on "
        f"{made.get('finished', '?')}; the run: commit {run.get('git') or 'unknown'}"
    )


def cmd_check(args: argparse.Namespace) -> int:
    from benchmark.gate import compare, format_result, read_golden, read_run

    settings = _settings(args)
    golden, meta = read_golden(args.golden)
    result = compare(golden, read_run(args.run_dir), settings)
    print(f"golden file {args.golden}: {_describe(meta)}")
    print(f"run {args.run_dir}\n")
    print(format_result(result))
    return 0 if result.ok else 1


def _run_seeds(config: str, seeds: list[int], runs: str) -> list[str]:
    """Run ``config`` once per seed into ``RUNS/seed-N`` (one stage cache ``RUNS/cache``); the run directories."""
    from benchmark.runner import execute, load_run_config, plan_run

    dirs = []
    for seed in seeds:
        out = Path(runs) / f"seed-{seed}"
        print(f"== gaitbench run {config} --seed {seed} --out {out}", flush=True)
        plan = plan_run(load_run_config(config, seed=seed), out, cache_dir=Path(runs) / "cache", progress=False)
        if not execute(plan).finished:
            raise SystemExit(f"gaitbench golden: the run of seed {seed} did not finish")
        dirs.append(str(out))
    return dirs


def cmd_golden(args: argparse.Namespace) -> int:
    from benchmark.gate import GateError, make_golden, write_golden

    if bool(args.config) == bool(args.run_dirs):
        raise GateError("name finished RUN_DIRs, or give --config CONFIG --seeds K (not both)")
    if args.config and not args.seeds:
        raise GateError("--config needs --seeds K: how many seeds to run")
    if args.seeds and not args.config:
        raise GateError("--seeds runs a config: give --config CONFIG")
    if Path(args.out).exists() and not args.force:  # before hours of runs, not after
        raise GateError(f"{args.out} exists; a golden file is replaced only on purpose: add --force")
    command = ["gaitbench", "golden", *args.run_dirs]
    if args.config:
        seeds = list(range(args.first_seed, args.first_seed + args.seeds))
        command += ["--config", args.config, "--seeds", str(args.seeds), "--runs", args.runs]
        if args.first_seed:
            command += ["--first-seed", str(args.first_seed)]
        run_dirs = _run_seeds(args.config, seeds, args.runs)
    else:
        run_dirs = list(args.run_dirs)
    command += ["--out", args.out] + (["--force"] if args.force else [])
    golden = make_golden(run_dirs, [shlex.quote(c) for c in command])
    path = write_golden(args.out, golden, force=args.force)
    metrics = sorted({r["metric"] for r in golden["rows"]})
    print(f"wrote {path}: {len(golden['rows'])} rows ({', '.join(metrics)}) of {len(run_dirs)} run(s) "
          f"({', '.join(run_dirs)}); {_describe(golden)}")
    return 0
