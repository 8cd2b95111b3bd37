"""The regression gate: a run's tidy results against a golden file made from several seeds of a reference run.

A row is identified by :data:`KEY` (metric, evaluator, method, parameters, condition, view, k). A golden file
(:func:`make_golden`) holds, for every row, the mean over K runs of one config that differ only in their seed,
the spread of those runs (``spread``, the sample standard deviation: training variance) and the row's sampling
standard error (``sampling_se``: from n by the binomial for rates, from the per-sequence spread for scores).

**When a row falls.** Let ``worse = d * (golden - run)`` (``d`` = +1 when higher is better, -1 when lower is), and
``z = Phi^-1(1 - alpha / m)``, ``t = t_{K-1}^-1(1 - alpha / m)`` with ``m`` the number of judged rows (Bonferroni).
A row falls when the run is worse than the golden on every count at once:

1. *sampling*: ``worse > z * se``, ``se = sqrt(v (1 + 1/K))`` the standard error of the difference of the run and
   a K-run mean (``v = p~ (1 - p~) / n`` for rates with ``p~`` the Wilson centre of the golden rate, so that
   rates of 0 or 1 still have a spread; ``v = sampling_se^2`` for scores);
2. *training*: ``worse > t * spread * sqrt(1 + 1/K)``, the upper prediction bound of one more seed (a golden of
   one seed has no measured spread: only counts 1 and 3 judge it, and :func:`format_result` says so);
3. *size*: ``worse > tolerance``, the smallest fall that matters (:data:`METRICS`; 0.05 for rates and scores).

``improved`` is the same in the better direction; metrics without a better direction are ``changed`` either way.

**Which rows can fail.** Only *pooled* rows (``condition = "all"``, ``view = -1``: every probe of a method, the
most a row rests on) are judged and counted in ``m``. Rows of one condition or one view (``cell``) are judged by
the same rule and reported (``cell-fall``, ``cell-improved``), but never fail the gate alone: in the ci world a
view of one condition holds 5 probes, where one flipped identification is 0.2.

=============  =====================================================================  ======
status         when                                                                   fails
=============  =====================================================================  ======
pass           not significantly different                                            no
improved       significantly better                                                   no
fall           significantly worse (all three counts)                                 yes
changed        significantly different, metric with no better direction               yes
missing        the golden row (or its value) is not in the run                        yes
cell-fall      a row of one condition or view significantly worse (reported)          no
cell-improved  a row of one condition or view significantly better (reported)         no
new            a run row that the golden file does not have                           no
=============  =====================================================================  ======

If the K golden runs are exchangeable with the checked run (same config and code, another seed or CPU), the
chance that a check FAILs although nothing regressed is at most ``alpha`` (default 0.01), by the union bound over
the ``m`` judged rows; tests/golden/README.md gives the measured false-alarm rate and the smallest falls caught.

**Golden files** are one JSON document::

    {"format": "gaitbench-golden", "format_version": 2,
     "made_by": {"command": ..., "git": ..., "versions": ..., "finished": ...},
     "runs": [{"dir": ..., "seed": ..., "git": ...}, ...],
     "run": {"dir": ..., "files": [...], "record": <the first run's run.json: config, seeds, git hash, ...>},
     "columns": [...the tidy columns..., "runs", "spread", "sampling_se", "values"],
     "rows": [{...one row per line...}, ...]}

with NaN written as ``null``. They hold every row of the runs; which metrics are gated is chosen when checking.
Version 1 files (one run, no spread) are still read.
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

from benchmark.results import ALL_CONDITIONS, COLUMNS, read_results

GOLDEN_FORMAT = "gaitbench-golden"
GOLDEN_VERSION = 2
READABLE_VERSIONS = (1, 2)
KEY: tuple[str, ...] = ("metric", "evaluator", "method", "parameters", "condition", "view", "k")
#: what a golden row holds beyond the tidy columns: how many runs it rests on, their spread, the sampling error
#: of one run's value, and the runs' own values
GOLDEN_EXTRA: tuple[str, ...] = ("runs", "spread", "sampling_se", "values")
FAILING = ("fall", "changed", "missing")
REPORTED = ("cell-fall", "cell-improved")
#: values pass through 6-digit CSV text: differences below this are rounding, never a change
EPSILON = 1e-6
#: the family-wise false-alarm rate of a check
DEFAULT_ALPHA = 0.01
#: the Wilson centre's z: rates of 0 or 1 get the spread of a 95% Wilson interval instead of none
_WILSON_Z = 1.959963984540054


class GateError(ValueError):
    """An input the gate cannot use (no results, a broken golden file, duplicate rows); the CLI exits 2."""


@dataclasses.dataclass(frozen=True)
class MetricRule:
    """How a metric is gated: ``direction`` +1 higher is better, -1 lower is better, 0 any significant change
    fails; ``tolerance`` the smallest change that can fail (None: it must be given); ``kind`` ``"rate"`` (a share
    of n items: binomial sampling) or ``"mean"`` (a mean of n values: sampling error from their spread)."""

    direction: int
    tolerance: float | None
    unit: str
    kind: str = "mean"
    #: the values the metric can take (a row outside them is refused, not judged)
    bounds: tuple[float, float] = (0.0, 1.0)


METRICS: dict[str, MetricRule] = {
    "success_rate": MetricRule(+1, 0.05, "share of probes not identified, in [0, 1]", "rate"),
    "accuracy": MetricRule(-1, 0.05, "share of probes identified (an anonymizer wants it low), in [0, 1]", "rate"),
    "cross_view_accuracy": MetricRule(-1, 0.05, "cross-view identification share, in [0, 1]", "rate"),
    "eer": MetricRule(+1, 0.05, "verification equal error rate (0.5 = chance), in [0, 1]"),
    "rank": MetricRule(+1, 0.05, "mean normalised rank of the true subject (0.5 = chance), in [0, 1]"),
    "frame_score": MetricRule(+1, 0.05, "frame naturalness score, in [0, 1]"),
    "video_score": MetricRule(+1, 0.05, "video naturalness score, in [0, 1]"),
    "mos": MetricRule(+1, 0.2, "mean opinion score, 1-5", bounds=(1.0, 5.0)),
    "mos_q1": MetricRule(+1, 0.5, "opinion score quartile, 1-5", bounds=(1.0, 5.0)),
    "mos_median": MetricRule(+1, 0.5, "opinion score median, 1-5", bounds=(1.0, 5.0)),
    "mos_q3": MetricRule(+1, 0.5, "opinion score quartile, 1-5", bounds=(1.0, 5.0)),
    "temporal_change_ratio": MetricRule(0, 0.05, "frame-to-frame change of anonymized / original (1 = same)",
                                        bounds=(0.0, math.inf)),
    "silhouette_difference": MetricRule(0, 0.05, "share of silhouette pixels changed (1 - IoU with the original), "
                                             "in [0, 1]"),
    "frechet": MetricRule(-1, None, "Frechet distance of embeddings, anonymized vs original", bounds=(0.0, math.inf)),
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
    alpha : float
        Family-wise false-alarm rate over the judged rows, in (0, 1).
    tolerance : float, optional
        Smallest change that can fail, for every gated metric (replaces the defaults in :data:`METRICS`).
    per_metric : mapping of str to float
        The same for single metrics (wins over ``tolerance``).
    """

    metrics: tuple[str, ...] = DEFAULT_METRICS
    alpha: float = DEFAULT_ALPHA
    tolerance: float | None = None
    per_metric: Mapping[str, float] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.metrics:
            raise GateError("no metrics to gate")
        if not (isinstance(self.alpha, float | int) and 0 < self.alpha < 1):
            raise GateError(f"alpha must lie in (0, 1), got {self.alpha!r}")
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
    """The classified rows: ``table`` has :data:`KEY`, golden, run, delta, runs, spread, threshold, status."""

    table: pd.DataFrame
    settings: GateSettings
    #: rows judged (the Bonferroni m), and the quantiles used for them
    judged: int = 0
    z: float = math.nan
    t: float = math.nan

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
    _in_bounds(frame, str(Path(run_dir) / "results.csv"))
    return _unique(frame, str(run_dir))


def _in_bounds(frame: pd.DataFrame, where: str, *, need_value: bool = False) -> None:
    """:class:`GateError` naming the first row of a known metric whose value lies outside the metric's bounds (or
    is missing, with ``need_value``): such a row would otherwise be judged "improved" or silently not judged."""
    for i, row in enumerate(frame[["metric", "value", "n"]].itertuples(index=False)):
        rule = METRICS.get(row.metric)
        if rule is None:
            continue
        value = float(row.value)
        if math.isnan(value):
            if need_value:
                raise GateError(f"{where}, row {i + 1} ({row.metric}): no value; a golden row must hold one")
            continue
        lo, hi = rule.bounds
        if not (lo <= value <= hi) or math.isinf(value):
            raise GateError(f"{where}, row {i + 1}: {row.metric} = {value!r} lies outside [{lo:g}, {hi:g}]")


def _numbers(frame: pd.DataFrame, columns: Iterable[str], where: str) -> None:
    for col in columns:
        text = frame[col].replace("", np.nan)
        number = pd.to_numeric(text, errors="coerce")
        bad = number.isna() & text.notna()
        if bad.any():
            raise GateError(f"{where}: column {col} holds non-numbers, e.g. {text[bad].iloc[0]!r}")
        frame[col] = number.astype("float64")


def _golden_frame(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    """A golden file's rows with the types :func:`read_run` gives (null numbers as NaN); non-numbers are refused."""
    frame = frame.copy()
    _numbers(frame, ("value", "ci_low", "ci_high", "spread", "sampling_se"), where)
    for col in ("view", "k", "n", "runs"):
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


# ---------------------------------------------------------------------------------------------- making golden files


def sampling_se(metric: str, value: float, n: int, ci: tuple[float, float]) -> float:
    """Standard error of one run's value of a row from its own sampling: ``sqrt(p~ (1 - p~) / n)`` for rates (``p~``
    the Wilson centre of ``value``), else the half width of its 95% interval over the t quantile (the wider side,
    as intervals are clipped to the metric's range); NaN when it cannot be told (n < 2 and no interval)."""
    from scipy import stats

    rule = METRICS.get(metric)
    if n < 1 or not math.isfinite(value):
        return math.nan
    if rule is not None and rule.kind == "rate":
        z2 = _WILSON_Z**2
        centre = (n * value + z2 / 2) / (n + z2)
        return math.sqrt(centre * (1 - centre) / n)
    lo, hi = ci
    if not (math.isfinite(lo) and math.isfinite(hi)) or n < 2:
        return math.nan
    half = max(hi - value, value - lo, 0.0)
    return half / float(stats.t.ppf(0.975, n - 1))


def _run_record(run_dir: Path) -> dict[str, Any]:
    record_path = run_dir / "run.json"
    if not record_path.is_file():
        raise GateError(f"{record_path} is missing; a golden file records the run's config, and run.json holds it")
    try:
        return json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise GateError(f"{record_path} is not readable JSON: {exc}") from None


def _config_without_seed(record: Mapping[str, Any]) -> Any:
    config = record.get("config")
    if isinstance(config, dict):
        return {k: v for k, v in config.items() if k != "seed"}
    return config


def combine_runs(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """One golden table from K tidy tables of one config (other seeds): per row key the mean ``value``, the mean
    interval, the runs it rests on (``runs``), their sample standard deviation (``spread``, NaN for one run), the
    root mean square of their sampling errors (``sampling_se``, :func:`sampling_se`) and the ``values`` themselves.

    ``n`` is the smallest of the runs' (it can differ where a seed's model erased the person in a probe: such a
    probe is a miss in every rate, but metrics over usable sequences, e.g. ``frechet``, have one fewer); a row
    that some runs lack rests on the runs that have it.
    """
    if not frames:
        raise GateError("no runs to combine")
    parts = []
    for i, frame in enumerate(frames):
        f = frame.copy()
        f["_run"] = i
        f["_se"] = [sampling_se(m, v, n, (lo, hi)) for m, v, n, lo, hi in
                    zip(f["metric"], f["value"], f["n"], f["ci_low"], f["ci_high"], strict=True)]
        parts.append(f)
    both = pd.concat(parts, ignore_index=True)
    rows = []
    for _, group in both.groupby(list(KEY), sort=True, dropna=False):
        values = group["value"].to_numpy(dtype=np.float64)
        finite = values[np.isfinite(values)]
        se = group["_se"].to_numpy(dtype=np.float64)
        se = se[np.isfinite(se)]
        first = group.iloc[0]
        rows.append({
            **{c: first[c] for c in COLUMNS if c not in ("value", "n", "ci_low", "ci_high")},
            "n": int(group["n"].min()),
            "value": float(finite.mean()) if finite.size else math.nan,
            "ci_low": float(np.nanmean(group["ci_low"])) if group["ci_low"].notna().any() else math.nan,
            "ci_high": float(np.nanmean(group["ci_high"])) if group["ci_high"].notna().any() else math.nan,
            "runs": int(finite.size),
            "spread": float(finite.std(ddof=1)) if finite.size > 1 else math.nan,
            "sampling_se": float(np.sqrt(np.mean(se**2))) if se.size else math.nan,
            "values": [None if not math.isfinite(v) else round(float(v), 6) for v in values],
        })
    return pd.DataFrame(rows, columns=[*COLUMNS, *GOLDEN_EXTRA])


def make_golden(run_dirs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
                command: Sequence[str]) -> dict[str, Any]:
    """The golden document of one or more runs of one config (other seeds): the combined rows
    (:func:`combine_runs`) plus who made it (command, git commit) and the first run's record.

    Every ``RUN_DIR/run.json`` is required (a golden file without the config that produced it could not be
    reproduced), and the runs' configs must agree apart from ``seed``.
    """
    from benchmark.record import run_record

    dirs = [Path(run_dirs)] if isinstance(run_dirs, str | os.PathLike) else [Path(d) for d in run_dirs]
    if not dirs:
        raise GateError("name at least one run directory")
    if len(set(map(str, dirs))) != len(dirs):
        raise GateError(f"a run directory is named twice: {[str(d) for d in dirs]}")
    records = [_run_record(d) for d in dirs]
    base = _config_without_seed(records[0])
    for d, record in zip(dirs[1:], records[1:], strict=True):
        if _config_without_seed(record) != base:
            raise GateError(f"{d} ran another config than {dirs[0]} (they may differ only in seed); a golden file "
                            "combines seeds of one config")
    seeds = [(r.get("seeds") or {}).get("run", (r.get("config") or {}).get("seed")) for r in records]
    if len(dirs) > 1 and len(set(map(str, seeds))) != len(seeds):
        raise GateError(f"the runs share a seed ({seeds}); their spread would not measure training variance")
    rows = combine_runs([read_run(d) for d in dirs])
    made_by = run_record()
    made_by["command"] = " ".join(command)
    files = ["results.csv", *(p.name for p in sorted(dirs[0].glob("results-*.csv")))]
    cwd = Path.cwd()
    return {
        "format": GOLDEN_FORMAT,
        "format_version": GOLDEN_VERSION,
        "made_by": made_by,
        "runs": [_relative_paths({"dir": str(d), "seed": s, "git": r.get("git")}, cwd)
                 for d, s, r in zip(dirs, seeds, records, strict=True)],
        "run": {"dir": _relative_paths(str(dirs[0]), cwd), "files": files,
                "record": _relative_paths(records[0], cwd)},
        "columns": [*COLUMNS, *GOLDEN_EXTRA],
        "rows": [_json_row(r) for r in rows.to_dict("records")],
    }


def _json_row(row: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for col in (*COLUMNS, *GOLDEN_EXTRA):
        if col not in row:
            continue
        v = row[col]
        if isinstance(v, np.generic):
            v = v.item()
        if isinstance(v, float):
            v = None if math.isnan(v) else round(v, 9)
        out[col] = v
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
    """The rows (tidy columns plus :data:`GOLDEN_EXTRA`) and the rest of a golden file; a file of another format
    raises :class:`GateError`. A version 1 file (one run) reads as one run without a measured spread."""
    path = Path(path)
    if path.is_dir():
        raise GateError(f"golden file {path} is a folder; name the .json file in it")
    if not path.is_file():
        raise GateError(f"golden file {path} does not exist; make one with `gaitbench golden RUN_DIR --out {path}`")

    def refuse(constant: str) -> float:  # JSON has no NaN or Infinity; Python's reader would accept them
        raise ValueError(f"{constant} is not a JSON number")

    try:
        doc = json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise GateError(f"golden file {path} is not readable JSON: {exc}") from None
    except RecursionError:
        raise GateError(f"golden file {path} is nested too deeply to be a golden file") from None
    if not isinstance(doc, dict) or doc.get("format") != GOLDEN_FORMAT:
        raise GateError(f"{path} is not a gaitbench golden file (no \"format\": \"{GOLDEN_FORMAT}\")")
    version = doc.get("format_version")
    if version not in READABLE_VERSIONS:
        raise GateError(
            f"{path} has golden format version {version}, this gaitbench reads {READABLE_VERSIONS}; "
            "regenerate it with `gaitbench golden`"
        )
    rows = doc.get("rows")
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise GateError(f"{path}: \"rows\" must be a list of objects")
    missing = sorted({c for r in rows for c in COLUMNS if c not in r})
    if missing:
        raise GateError(f"{path}: rows lack columns {missing}")
    frame = pd.DataFrame(rows, columns=[*COLUMNS, *GOLDEN_EXTRA])
    if version == 1:  # one run: no spread, sampling error from the row itself
        frame["runs"] = 1
    frame["runs"] = frame["runs"].fillna(1)
    frame = _golden_frame(frame, str(path))
    _in_bounds(frame, str(path), need_value=True)
    for col, least in (("n", 1), ("runs", 1), ("spread", 0), ("sampling_se", 0)):
        bad = frame[col] < least  # NaN compares False: a missing spread or error is allowed (estimated below)
        if bad.any():
            i = int(bad.to_numpy().nonzero()[0][0])
            raise GateError(f"{path}, row {i + 1}: {col} = {frame[col].iloc[i].item()!r} must be >= {least}")
    need = frame["sampling_se"].isna()
    frame.loc[need, "sampling_se"] = [
        sampling_se(m, v, n, (lo, hi)) for m, v, n, lo, hi in
        frame.loc[need, ["metric", "value", "n", "ci_low", "ci_high"]].itertuples(index=False)]
    return _unique(frame, str(path)), {k: v for k, v in doc.items() if k != "rows"}


# ---------------------------------------------------------------------------------------------- comparing


def quantiles(alpha: float, judged: int, runs: int) -> tuple[float, float]:
    """The one-sided normal and Student-t (``runs - 1`` degrees of freedom) quantiles at ``1 - alpha / judged``."""
    from scipy import stats

    level = 1.0 - alpha / max(judged, 1)
    return float(stats.norm.ppf(level)), (float(stats.t.ppf(level, runs - 1)) if runs > 1 else math.nan)


def threshold(metric: str, golden: Mapping[str, Any], *, z: float, t: float, tolerance: float) -> float:
    """The smallest difference from the golden value that counts, for a golden row (``value``, ``n``, ``runs``,
    ``spread``, ``sampling_se``): the largest of the sampling bound, the training bound and the tolerance (see
    the module docstring). A difference must exceed it."""
    runs = max(int(golden["runs"]), 1)
    inflate = math.sqrt(1.0 + 1.0 / runs)
    rule = METRICS.get(metric)
    if rule is not None and rule.kind == "rate":
        se = sampling_se(metric, float(golden["value"]), int(golden["n"]), (math.nan, math.nan))
    else:
        se = float(golden["sampling_se"])
    bounds = [tolerance, EPSILON]
    if math.isfinite(se):
        bounds.append(z * se * inflate)
    spread = float(golden["spread"])
    if runs > 1 and math.isfinite(spread) and math.isfinite(t):
        bounds.append(t * spread * inflate)
    return max(bounds)


def _pooled(row: Mapping[str, Any]) -> bool:
    return bool(row["view"] < 0 and row["condition"] == ALL_CONDITIONS)


def pooled_rows(frame: pd.DataFrame) -> pd.Series:
    """Which rows of a tidy table are pooled over every probe (``condition = "all"``, ``view = -1``): the ones
    the gate judges."""
    return (frame["view"] < 0) & (frame["condition"] == ALL_CONDITIONS)


def _judge(golden: float, run: float, limit: float, direction: int) -> str:
    if math.isnan(golden):
        return "pass" if math.isnan(run) else "new"
    if math.isnan(run):
        return "missing"
    lower, higher = run < golden - limit, run > golden + limit
    if direction == 0:
        return "changed" if lower or higher else "pass"
    worse, better = (lower, higher) if direction > 0 else (higher, lower)
    return "fall" if worse else "improved" if better else "pass"


def compare(golden: pd.DataFrame, run: pd.DataFrame, settings: GateSettings | None = None) -> GateResult:
    """Classify every golden row of the gated metrics against the run, and list the run's new rows.

    Parameters
    ----------
    golden : DataFrame
        As :func:`read_golden` returns it (tidy columns plus ``runs``, ``spread``, ``sampling_se``); a plain tidy
        table reads as one run.
    run : DataFrame
        Tidy table with unique keys, as :func:`read_run` returns it.
    settings : GateSettings, optional

    Returns
    -------
    GateResult
        One row per golden row of the gated metrics (status as in the module docstring) plus one per new run row,
        in key order, with the ``threshold`` each was judged by.

    Raises
    ------
    GateError
        A gated metric nobody knows, one without a tolerance, or nothing to compare.
    """
    settings = settings or GateSettings()
    golden = golden.copy()
    for col, default in (("runs", 1), ("spread", math.nan), ("sampling_se", math.nan)):
        if col not in golden.columns:
            golden[col] = default
    known = set(METRICS) | set(golden["metric"]) | set(run["metric"])
    for metric in settings.metrics:
        if metric not in known:
            close = difflib.get_close_matches(metric, sorted(known), n=3)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise GateError(f"unknown metric {metric!r}{hint}")
    gated = list(settings.metrics)
    g = golden[golden["metric"].isin(gated)]
    r = run[run["metric"].isin(gated)][list(COLUMNS)]
    if g.empty:
        raise GateError(
            f"the golden file holds no rows of the gated metrics ({', '.join(gated)}); nothing to compare "
            f"(it has {', '.join(sorted(set(golden['metric']))) or 'no rows'})"
        )
    tolerance = {m: settings.tolerance_of(m) for m in gated}
    judged = int(pooled_rows(g).sum())
    if not judged:
        raise GateError(
            f"the golden file has no row pooled over every probe (condition {ALL_CONDITIONS!r}, view -1) of "
            f"{', '.join(gated)}: those are the rows the gate judges; regenerate it with `gaitbench golden` from "
            "runs of this gaitbench"
        )
    runs = int(g["runs"].max())
    z, t = quantiles(settings.alpha, judged, runs)
    merged = g.merge(r, on=list(KEY), how="outer", suffixes=("_golden", "_run"), indicator=True)
    records = []
    for row in merged.to_dict("records"):
        metric = row["metric"]
        golden_value, run_value = row["value_golden"], row["value_run"]
        limit = math.nan
        if row["_merge"] == "right_only":
            status = "new"
        elif row["_merge"] == "left_only":
            status = "missing"
        else:
            # Student's quantile for this row's own runs (a row some seeds lack has fewer degrees of freedom).
            row_t = t if int(row["runs"]) == runs else quantiles(settings.alpha, judged, int(row["runs"]))[1]
            limit = threshold(metric, {"value": golden_value, "n": row["n_golden"], "runs": row["runs"],
                                       "spread": row["spread"], "sampling_se": row["sampling_se"]},
                              z=z, t=row_t, tolerance=tolerance[metric])
            status = _judge(golden_value, run_value, limit, direction_of(metric))
            if not _pooled(row) and status in ("fall", "changed", "improved"):
                status = "cell-improved" if status == "improved" else "cell-fall"
        records.append({**{k: row[k] for k in KEY}, "golden": golden_value, "run": run_value,
                        "delta": run_value - golden_value, "runs": row.get("runs"), "spread": row.get("spread"),
                        "threshold": limit, "status": status})
    columns = [*KEY, "golden", "run", "delta", "runs", "spread", "threshold", "status"]
    table = pd.DataFrame(records, columns=columns)
    table = table.sort_values(list(KEY), kind="stable").reset_index(drop=True)
    return GateResult(table, settings, judged, z, t)


# ---------------------------------------------------------------------------------------------- report


def _text_table(frame: pd.DataFrame) -> str:
    cols = [*KEY, "golden", "run", "delta", "threshold"]
    cells = [[_cell(col, row[col]) for col in cols] for row in frame.to_dict("records")]
    widths = [max(len(c), *(len(line[i]) for line in cells)) for i, c in enumerate(cols)]
    numeric = {"view", "k", "golden", "run", "delta", "threshold"}

    def fmt(values: Iterable[str]) -> str:
        return "  ".join(v.rjust(w) if c in numeric else v.ljust(w)
                         for c, v, w in zip(cols, values, widths, strict=True)).rstrip()

    return "\n".join([fmt(cols), fmt("-" * w for w in widths), *(fmt(line) for line in cells)])


def _cell(col: str, value: Any) -> str:
    if col in ("golden", "run", "threshold"):
        return "-" if pd.isna(value) else f"{value:.4f}"
    if col == "delta":
        return "-" if pd.isna(value) else f"{value:+.4f}"
    if col == "view":
        return "all" if int(value) == -1 else str(int(value))
    if col == "parameters":
        return str(value) or "-"
    return str(value)


def format_result(result: GateResult) -> str:
    """The failing rows as a table, then single-view rows beyond their noise, improvements and new rows, then one
    summary line."""
    table = result.table
    parts = []
    titles = (
        (FAILING, "failing rows (fall: worse beyond threshold; changed: moved beyond threshold; missing: not in "
                  "the run)"),
        (REPORTED, "rows of one condition or view beyond their threshold (reported, never failing alone: few "
                   "probes each)"),
        (("improved",), "improved beyond threshold (passes; regenerate the golden file to keep the gain)"),
        (("new",), "new rows (not in the golden file; not checked)"),
    )
    for statuses, title in titles:
        sel = table[table["status"].isin(statuses)]
        if sel.empty:
            continue
        sel = sel.assign(metric=[f"{m} ({s})" for m, s in zip(sel["metric"], sel["status"], strict=True)])
        parts.append(f"{title}:\n{_text_table(sel)}")
    runs = int(table["runs"].max()) if table["runs"].notna().any() else 1
    falls, changed, missing = (result.count(s) for s in FAILING)
    verdict = "FAIL" if not result.ok else "PASS"
    pooled = table[pooled_rows(table) & (table["status"] != "new")]
    cells = table[~pooled_rows(table) & (table["status"] != "new")]
    spread = (f"training spread from {runs} runs" if runs > 1
              else "one golden run: training variance NOT measured, trained methods may fail falsely")
    mode = (f"family-wise false-alarm rate {result.settings.alpha:g} over {result.judged} pooled rows "
            f"(z {result.z:.2f}{f', t {result.t:.2f}' if math.isfinite(result.t) else ''}); {spread}")
    summary = (
        f"{verdict}: {len(pooled)} pooled golden rows of {', '.join(result.settings.metrics)} judged ({mode}): "
        f"{int((pooled['status'] == 'pass').sum())} hold, {result.count('improved')} improved, {falls} fell, "
        f"{changed} changed, {missing} missing; {len(cells)} rows of one condition or view reported "
        f"({result.count('cell-fall')} below, {result.count('cell-improved')} above their threshold); "
        f"{result.count('new')} new"
    )
    return "\n\n".join([*parts, summary])
