"""Commands ``gaitbench check`` (the regression gate) and ``gaitbench golden`` (the only way golden files are made).

``check`` exits 0 when every gated golden row holds within tolerance, 1 when one falls, changes or is missing,
and 2 when an input cannot be used (no results, a broken golden file, an unknown metric).
"""

from __future__ import annotations

import argparse
import math
import shlex
from typing import Any


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
    from benchmark.gate import DEFAULT_METRICS, METRICS

    defaults = ", ".join(f"{m} {METRICS[m].tolerance:g}" for m in DEFAULT_METRICS if METRICS[m].tolerance)
    others = ", ".join(sorted(set(METRICS) - set(DEFAULT_METRICS)))
    p = sub.add_parser(
        "check",
        help="regression gate: compare a run's results with a golden file (exit 1 on a fall beyond tolerance)",
        description="Compare RUN_DIR's tidy results (results.csv and results-*.csv) with a golden file made by "
        "`gaitbench golden`. Success rates and naturalness scores are better when higher: a fall beyond "
        "tolerance fails, a rise is reported as an improvement and passes; a golden row missing from the run "
        "fails; run rows the golden file lacks are listed as new. Prints the failing rows (metric, evaluator, "
        "method, parameters, condition, view, k, golden, run, delta, tolerance) and a summary line. "
        "Exit 0: pass; 1: fail; 2: unusable input.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory (gaitbench run --out)")
    p.add_argument("--golden", required=True, help="golden file, e.g. tests/golden/ci.json")
    p.add_argument(
        "--tolerance",
        type=_tolerance,
        action="append",
        default=[],
        metavar="T|METRIC=T",
        help=f"absolute tolerance for every gated metric, or per metric (repeatable, or comma-separated); "
        f"a change of exactly T passes (defaults: {defaults})",
    )
    p.add_argument(
        "--metrics",
        nargs="+",
        metavar="METRIC",
        help=f"metrics to gate (default: {' '.join(DEFAULT_METRICS)}); others: {others}",
    )
    p.add_argument(
        "--ci",
        action="store_true",
        help="judge rows that have a 95%% interval by it: fail only when the golden value lies outside the run's "
        "interval on the worse side (rows without one keep the absolute tolerance)",
    )
    p.set_defaults(func=cmd_check)

    p = sub.add_parser(
        "golden",
        help="write a golden file of a run's results for `gaitbench check` (refuses to overwrite without --force)",
        description="Write every tidy row of RUN_DIR (results.csv and results-*.csv) into one JSON golden file, "
        "with this command, the git commit, the versions and RUN_DIR/run.json (the run's config, seeds and "
        "commit). This is the only way golden files are made; see tests/golden/README.md.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a finished run directory")
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
    return GateSettings(metrics=metrics, tolerance=overall.pop() if overall else None, per_metric=per_metric,
                        use_ci=args.ci)


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


def cmd_golden(args: argparse.Namespace) -> int:
    from benchmark.gate import make_golden, write_golden

    command = ["gaitbench", "golden", args.run_dir, "--out", args.out] + (["--force"] if args.force else [])
    golden = make_golden(args.run_dir, [shlex.quote(c) for c in command])
    path = write_golden(args.out, golden, force=args.force)
    metrics = sorted({r["metric"] for r in golden["rows"]})
    print(f"wrote {path}: {len(golden['rows'])} rows ({', '.join(metrics)}) of {args.run_dir}; {_describe(golden)}")
    return 0
