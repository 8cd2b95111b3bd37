"""The regression gate: a run's tidy results against a golden file, metric by metric, view by view.

A row is identified by :data:`KEY` (metric, evaluator, method, parameters, condition, view, k). For every golden
row of the gated metrics the run's row with the same key is looked up and classified:

=========  ========================================================================================  ======
status     when                                                                                      fails
=========  ========================================================================================  ======
pass       within tolerance                                                                          no
improved   moved beyond tolerance in the better direction (regenerate the golden to keep the gain)   no
fall       moved beyond tolerance in the worse direction                                             yes
changed    moved beyond tolerance, for a metric with no better direction                             yes
missing    the golden row (or its value) is not in the run                                           yes
new        a run row that the golden file does not have                                              no
=========  ========================================================================================  ======

**Tolerance** is absolute, in the metric's own unit; a change of exactly the tolerance passes. Defaults are
declared with each metric in :data:`METRICS`: 0.05 (5 percentage points) for rates and scores in [0, 1], 0.2 for
the mean opinion score on its 1-5 scale. A global value or per-metric values replace them. With ``use_ci`` a run
row that has a 95% interval fails only when the golden value lies outside that interval on the worse side (the
run is then significantly worse than the golden); rows without an interval keep the absolute tolerance.

**Golden files** (:func:`make_golden`, :func:`read_golden`) are one JSON document::

    {"format": "gaitbench-golden", "format_version": 1,
     "made_by": {"command": "gaitbench golden RUN_DIR --out FILE", "git": ..., "versions": ..., "finished": ...},
     "run": {"dir": ..., "files": [...], "record": <RUN_DIR/run.json: config, seeds, git hash, command, ...>},
     "columns": [...the tidy columns...],
     "rows": [{...one tidy row per line...}, ...]}

with NaN written as ``null``. They hold every row of the run; which metrics are gated is chosen when checking.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark.results import COLUMNS, read_results

GOLDEN_FORMAT = "gaitbench-golden"
GOLDEN_VERSION = 1
KEY: tuple[str, ...] = ("metric", "evaluator", "method", "parameters", "condition", "view", "k")
FAILING = ("fall", "changed", "missing")
#: a change this much beyond the tolerance still passes: values pass through 6-digit CSV text
EPSILON = 1e-9


class GateError(ValueError):
    """An input the gate cannot use (no results, a broken golden file, duplicate rows); the CLI exits 2."""


@dataclasses.dataclass(frozen=True)
class MetricRule:
    """How a metric is gated: ``direction`` +1 higher is better, -1 lower is better, 0 any change beyond tolerance
    fails; ``tolerance`` the default absolute tolerance (None: it must be given)."""

    direction: int
    tolerance: float | None
    unit: str


METRICS: dict[str, MetricRule] = {
    "success_rate": MetricRule(+1, 0.05, "share of probes not identified, in [0, 1]"),
    "accuracy": MetricRule(-1, 0.05, "share of probes identified (an anonymizer wants it low), in [0, 1]"),
    "cross_view_accuracy": MetricRule(-1, 0.05, "cross-view identification share, in [0, 1]"),
    "frame_score": MetricRule(+1, 0.05, "frame naturalness score, in [0, 1]"),
    "video_score": MetricRule(+1, 0.05, "video naturalness score, in [0, 1]"),
    "mos": MetricRule(+1, 0.2, "mean opinion score, 1-5"),
    "mos_q1": MetricRule(+1, 0.5, "opinion score quartile, 1-5"),
    "mos_median": MetricRule(+1, 0.5, "opinion score median, 1-5"),
    "mos_q3": MetricRule(+1, 0.5, "opinion score quartile, 1-5"),
    "temporal_change_ratio": MetricRule(0, 0.05, "frame-to-frame change of anonymized / original (1 = same)"),
    "frechet": MetricRule(-1, None, "Frechet distance of embeddings, anonymized vs original"),
}
#: what the gate checks unless told otherwise: the paper's success rates and naturalness
DEFAULT_METRICS: tuple[str, ...] = ("success_rate", "frame_score", "video_score", "mos")


@dataclasses.dataclass(frozen=True)
class GateSettings:
    """What :func:`compare` checks.

    Parameters
    ----------
    metrics : tuple of str
        Gated metrics; golden and run rows of other metrics are ignored.
    tolerance : float, optional
        Absolute tolerance of every gated metric (replaces the defaults in :data:`METRICS`).
    per_metric : mapping of str to float
        Absolute tolerance of single metrics (wins over ``tolerance``).
    use_ci : bool
        Judge rows that have a 95% interval by it instead of the absolute tolerance.
    """

    metrics: tuple[str, ...] = DEFAULT_METRICS
    tolerance: float | None = None
    per_metric: Mapping[str, float] = dataclasses.field(default_factory=dict)
    use_ci: bool = False

    def __post_init__(self) -> None:
        if not self.metrics:
            raise GateError("no metrics to gate")
        for name, value in [("tolerance", self.tolerance), *self.per_metric.items()]:
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise GateError(f"tolerance of {name} must be a finite number >= 0, got {value}")
        extra = sorted(set(self.per_metric) - set(self.metrics))
        if extra:
            raise GateError(f"tolerance given for {extra}, which are not gated (gated: {', '.join(self.metrics)})")

    def tolerance_of(self, metric: str) -> float:
        if metric in self.per_metric:
            return float(self.per_metric[metric])
        if self.tolerance is not None:
            return float(self.tolerance)
        rule = METRICS.get(metric)
        if rule is None or rule.tolerance is None:
            raise GateError(f"metric {metric!r} has no default tolerance; give one, e.g. --tolerance {metric}=0.1")
        return rule.tolerance


def direction_of(metric: str) -> int:
    """+1 when higher is better, -1 when lower is better, 0 when any change counts (unknown metrics too)."""
    rule = METRICS.get(metric)
    return rule.direction if rule else 0


@dataclasses.dataclass(frozen=True)
class GateResult:
    """The classified rows: ``table`` has :data:`KEY`, golden, run, delta, tolerance (text), status."""

    table: pd.DataFrame
    settings: GateSettings

    @property
    def failures(self) -> pd.DataFrame:
        return self.table[self.table["status"].isin(FAILING)]

    @property
    def ok(self) -> bool:
        return self.failures.empty

    def count(self, status: str) -> int:
        return int((self.table["status"] == status).sum())


# ---------------------------------------------------------------------------------------------- reading tables


def read_run(run_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """The run's tidy rows: ``RUN_DIR/results.csv`` and every ``RUN_DIR/results-*.csv`` concatenated.

    Read as the report reads them (:func:`benchmark.results.read_results`); a repeated row key is refused.
    """

    try:
        frame, _ = read_results(run_dir)
    except (FileNotFoundError, ValueError, pd.errors.ParserError) as exc:
        raise GateError(str(exc)) from None
    return _unique(frame, str(run_dir))


def _golden_frame(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    """A golden file's rows with the types :func:`read_run` gives (null numbers as NaN); non-numbers are refused."""
    frame = frame[list(COLUMNS)].copy()
    for col in ("value", "ci_low", "ci_high"):
        text = frame[col].replace("", np.nan)
        number = pd.to_numeric(text, errors="coerce")
        bad = number.isna() & text.notna()
        if bad.any():
            raise GateError(f"{where}: column {col} holds non-numbers, e.g. {text[bad].iloc[0]!r}")
        frame[col] = number.astype("float64")
    for col in ("view", "k", "n"):
        number = pd.to_numeric(frame[col], errors="coerce")
        if number.isna().any() or (number != number.round()).any():
            raise GateError(f"{where}: column {col} must hold integers")
        frame[col] = number.astype("int64")
    for col in ("method", "parameters", "evaluator", "condition", "metric"):
        frame[col] = frame[col].fillna("").astype(str)
    return frame


def _unique(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    dup = frame.duplicated(list(KEY), keep=False)
    if dup.any():
        first = frame[dup].iloc[0]
        raise GateError(
            f"{where} holds {int(dup.sum())} rows with a repeated key, e.g. "
            + ", ".join(f"{k}={first[k]!r}" for k in KEY)
            + "; every (metric, evaluator, method, parameters, condition, view, k) must appear once"
        )
    return frame.reset_index(drop=True)


def _relative_paths(value: Any, root: Path) -> Any:
    """``value`` with every string that is a path under ``root`` made relative to it: a golden file is committed
    and shared, so it must not hold the paths of the machine that made it."""
    prefix = str(root).rstrip(os.sep) + os.sep
    if isinstance(value, str):
        return value[len(prefix):] if value.startswith(prefix) else value
    if isinstance(value, dict):
        return {k: _relative_paths(v, root) for k, v in value.items()}
    if isinstance(value, list):
        return [_relative_paths(v, root) for v in value]
    return value


def make_golden(run_dir: str | os.PathLike[str], command: Sequence[str]) -> dict[str, Any]:
    """The golden document of a run: all its rows plus who made it (command, git commit) and the run's record.

    ``RUN_DIR/run.json`` (the run's config, seeds and git hash) is required: a golden file without the config
    that produced it could not be reproduced.
    """
    from benchmark.record import run_record

    run_dir = Path(run_dir)
    rows = read_run(run_dir)
    record_path = run_dir / "run.json"
    if not record_path.is_file():
        raise GateError(f"{record_path} is missing; a golden file records the run's config, and run.json holds it")
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise GateError(f"{record_path} is not readable JSON: {exc}") from None
    made_by = run_record()
    made_by["command"] = " ".join(command)
    files = ["results.csv", *(p.name for p in sorted(run_dir.glob("results-*.csv")))]
    return {
        "format": GOLDEN_FORMAT,
        "format_version": GOLDEN_VERSION,
        "made_by": made_by,
        "run": {"dir": str(run_dir), "files": files, "record": _relative_paths(record, Path.cwd())},
        "columns": list(COLUMNS),
        "rows": [_json_row(r) for r in rows.to_dict("records")],
    }


def _json_row(row: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for col in COLUMNS:
        v = row[col]
        if isinstance(v, np.generic):
            v = v.item()
        out[col] = None if isinstance(v, float) and math.isnan(v) else v
    return out


def write_golden(path: str | os.PathLike[str], golden: Mapping[str, Any], *, force: bool = False) -> Path:
    """Write a golden document atomically, one row per line (readable diffs); refuses to overwrite without ``force``."""
    from benchmark.io import atomic_open

    path = Path(path)
    if path.exists() and not force:
        raise GateError(f"{path} exists; a golden file is replaced only on purpose: add --force")
    head = {k: v for k, v in golden.items() if k != "rows"}
    text = json.dumps(head, indent=2, sort_keys=True, default=str)
    rows = ",\n".join("    " + json.dumps(r, default=str) for r in golden["rows"])
    with atomic_open(path, "w", encoding="utf-8") as fh:
        fh.write(text[:-2] + ',\n  "rows": [\n' + rows + "\n  ]\n}\n")
    return path


def read_golden(path: str | os.PathLike[str]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The rows (tidy columns) and the rest of a golden file; a file of another format raises :class:`GateError`."""
    path = Path(path)
    if not path.is_file():
        raise GateError(f"golden file {path} does not exist; make one with `gaitbench golden RUN_DIR --out {path}`")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GateError(f"golden file {path} is not readable JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != GOLDEN_FORMAT:
        raise GateError(f"{path} is not a gaitbench golden file (no \"format\": \"{GOLDEN_FORMAT}\")")
    if doc.get("format_version") != GOLDEN_VERSION:
        raise GateError(
            f"{path} has golden format version {doc.get('format_version')}, this gaitbench reads {GOLDEN_VERSION}; "
            "regenerate it with `gaitbench golden`"
        )
    rows = doc.get("rows")
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise GateError(f"{path}: \"rows\" must be a list of objects")
    missing = sorted({c for r in rows for c in COLUMNS if c not in r})
    if missing:
        raise GateError(f"{path}: rows lack columns {missing}")
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    return _unique(_golden_frame(frame, str(path)), str(path)), {k: v for k, v in doc.items() if k != "rows"}


# ---------------------------------------------------------------------------------------------- comparing


def _judge(golden: float, run: float, ci: tuple[float, float] | None, tol: float, direction: int) -> str:
    """Status of one row; ``ci`` = the run's interval when judged by it."""
    if math.isnan(golden):
        return "pass" if math.isnan(run) else "new"
    if math.isnan(run):
        return "missing"
    if ci is not None:
        lo, hi = ci
        # Golden above the run's interval: the run is significantly lower than the golden.
        lower, higher = golden > hi + EPSILON, golden < lo - EPSILON
    else:
        lower, higher = run < golden - tol - EPSILON, run > golden + tol + EPSILON
    if direction == 0:
        return "changed" if lower or higher else "pass"
    worse, better = (lower, higher) if direction > 0 else (higher, lower)
    return "fall" if worse else "improved" if better else "pass"


def compare(golden: pd.DataFrame, run: pd.DataFrame, settings: GateSettings | None = None) -> GateResult:
    """Classify every golden row of the gated metrics against the run, and list the run's new rows.

    Parameters
    ----------
    golden, run : DataFrame
        Tidy tables (:data:`benchmark.results.COLUMNS`) with unique keys, as :func:`read_golden` and
        :func:`read_run` return them.
    settings : GateSettings, optional

    Returns
    -------
    GateResult
        One row per golden row of the gated metrics (``status`` pass, improved, fall, changed or missing) plus
        one per new run row (``new``), in key order.

    Raises
    ------
    GateError
        A gated metric nobody knows (not in :data:`METRICS`, the golden file or the run), one without a
        tolerance, or nothing to compare.
    """
    settings = settings or GateSettings()
    known = set(METRICS) | set(golden["metric"]) | set(run["metric"])
    for metric in settings.metrics:
        if metric not in known:
            close = difflib.get_close_matches(metric, sorted(known), n=3)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise GateError(f"unknown metric {metric!r}{hint}")
    gated = list(settings.metrics)
    g = golden[golden["metric"].isin(gated)]
    r = run[run["metric"].isin(gated)]
    if g.empty:
        raise GateError(
            f"the golden file holds no rows of the gated metrics ({', '.join(gated)}); nothing to compare "
            f"(it has {', '.join(sorted(set(golden['metric']))) or 'no rows'})"
        )
    tolerance = {m: settings.tolerance_of(m) for m in gated}
    merged = g.merge(r, on=list(KEY), how="outer", suffixes=("_golden", "_run"), indicator=True)
    records = []
    for row in merged.to_dict("records"):
        metric = row["metric"]
        tol = tolerance[metric]
        golden_value, run_value = row["value_golden"], row["value_run"]
        if row["_merge"] == "right_only":
            status, tol_text = "new", ""
        elif row["_merge"] == "left_only":
            status, tol_text = "missing", f"{tol:g}"
        else:
            lo, hi = row["ci_low_run"], row["ci_high_run"]
            ci = (lo, hi) if settings.use_ci and math.isfinite(lo) and math.isfinite(hi) else None
            status = _judge(golden_value, run_value, ci, tol, direction_of(metric))
            tol_text = f"ci [{lo:.4g}, {hi:.4g}]" if ci else f"{tol:g}"
        records.append({**{k: row[k] for k in KEY}, "golden": golden_value, "run": run_value,
                        "delta": run_value - golden_value, "tolerance": tol_text, "status": status})
    table = pd.DataFrame(records, columns=[*KEY, "golden", "run", "delta", "tolerance", "status"])
    table = table.sort_values(list(KEY), kind="stable").reset_index(drop=True)
    return GateResult(table, settings)


# ---------------------------------------------------------------------------------------------- report


def _text_table(frame: pd.DataFrame) -> str:
    cols = [*KEY, "golden", "run", "delta", "tolerance"]
    cells = [[_cell(col, row[col]) for col in cols] for row in frame.to_dict("records")]
    widths = [max(len(c), *(len(line[i]) for line in cells)) for i, c in enumerate(cols)]
    numeric = {"view", "k", "golden", "run", "delta"}

    def fmt(values: Iterable[str]) -> str:
        return "  ".join(v.rjust(w) if c in numeric else v.ljust(w)
                         for c, v, w in zip(cols, values, widths, strict=True)).rstrip()

    return "\n".join([fmt(cols), fmt("-" * w for w in widths), *(fmt(line) for line in cells)])


def _cell(col: str, value: Any) -> str:
    if col in ("golden", "run"):
        return "-" if pd.isna(value) else f"{value:.4f}"
    if col == "delta":
        return "-" if pd.isna(value) else f"{value:+.4f}"
    if col == "view":
        return "all" if int(value) == -1 else str(int(value))
    if col == "parameters":
        return str(value) or "-"
    return str(value)


def format_result(result: GateResult) -> str:
    """The failing rows as a table, then improvements and new rows, then one summary line."""
    table = result.table
    parts = []
    titles = (
        (FAILING, "failing rows (fall: worse beyond tolerance; changed: moved beyond tolerance; missing: not in "
                  "the run)"),
        (("improved",), "improved beyond tolerance (passes; regenerate the golden file to keep the gain)"),
        (("new",), "new rows (not in the golden file; not checked)"),
    )
    for statuses, title in titles:
        sel = table[table["status"].isin(statuses)]
        if sel.empty:
            continue
        if statuses == FAILING:
            sel = sel.assign(metric=[f"{m} ({s})" for m, s in zip(sel["metric"], sel["status"], strict=True)])
        parts.append(f"{title}:\n{_text_table(sel)}")
    compared = int((table["status"] != "new").sum())
    falls, changed, missing = (result.count(s) for s in FAILING)
    verdict = "FAIL" if not result.ok else "PASS"
    mode = "95% intervals where present, else absolute tolerance" if result.settings.use_ci else "absolute tolerance"
    summary = (
        f"{verdict}: {compared} golden rows of {', '.join(result.settings.metrics)} compared ({mode}): "
        f"{result.count('pass')} within tolerance, {result.count('improved')} improved, {falls} fell, "
        f"{changed} changed, {missing} missing; {result.count('new')} new"
    )
    return "\n\n".join([*parts, summary])
