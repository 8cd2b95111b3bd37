"""The tidy results table: every figure gaitbench reports is one row of it.

Columns (``results.csv``):

===========  ====================================================================================
method       the anonymizer (``identity`` for clean probes), as registered
parameters   its parameters as ``key=value;key=value`` (e.g. ``alpha=0.3``), empty when none
evaluator    the recognizer or scorer that produced the value, as registered
condition    probe condition type: ``nm``, ``bg``, ``cl`` (or ``all``)
view         probe view in degrees; -1 for a value over all views
metric       e.g. ``accuracy``, ``success_rate``, ``frame_score``, ``video_score``, ``mos``
k            rank for top-k metrics, 0 otherwise
value        the figure
n            how many items (probes, sequences, ratings) it rests on
ci_low       lower end of its 95% interval (empty when none)
ci_high      upper end
===========  ====================================================================================
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from benchmark.io import atomic_path

COLUMNS: tuple[str, ...] = (
    "method", "parameters", "evaluator", "condition", "view", "metric", "k", "value", "n", "ci_low", "ci_high",
)


@dataclasses.dataclass(frozen=True)
class Row:
    method: str
    evaluator: str
    condition: str
    view: int
    metric: str
    value: float
    n: int
    k: int = 0
    parameters: str = ""
    ci_low: float = math.nan
    ci_high: float = math.nan


def format_parameters(params: Mapping[str, object]) -> str:
    """``{"alpha": 0.3}`` -> ``"alpha=0.3"``; keys sorted so equal parameters give equal strings."""
    for key in params:
        if any(c in str(key) for c in "=;"):
            raise ValueError(f"parameter name {key!r} must not contain '=' or ';'")
    return ";".join(f"{k}={params[k]}" for k in sorted(params))


def to_frame(rows: Iterable[Row]) -> pd.DataFrame:
    frame = pd.DataFrame([dataclasses.asdict(r) for r in rows], columns=list(COLUMNS))
    return frame.astype({"view": "int64", "k": "int64", "n": "int64", "value": "float64"})


def write_csv(rows: Iterable[Row] | pd.DataFrame, path: str | Path) -> pd.DataFrame:
    """Write the tidy table atomically (rows sorted for stable diffs); returns what was written."""
    frame = rows if isinstance(rows, pd.DataFrame) else to_frame(rows)
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"results table lacks columns {missing}")
    frame = frame[list(COLUMNS)].sort_values(
        ["method", "parameters", "evaluator", "metric", "k", "condition", "view"], kind="stable"
    )
    with atomic_path(path, suffix=".csv") as tmp:
        frame.to_csv(tmp, index=False, float_format="%.6g")
    return frame.reset_index(drop=True)


def read_csv(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"results file {path} does not exist")
    frame = pd.read_csv(path, dtype={"parameters": str}, keep_default_na=False, na_values={"ci_low": [""],
                                                                                         "ci_high": [""]})
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{path} is not a gaitbench results table: columns {missing} are missing")
    return frame


def per_view_table(frame: pd.DataFrame, index: Iterable[str] = ("evaluator", "condition")) -> pd.DataFrame:
    """Pivot to one row per ``index`` combination and one column per view (values in percent, 1 decimal)."""
    index = list(index)
    table = frame.pivot_table(index=index, columns="view", values="value", aggfunc="mean")
    table.columns = [("mean" if v == -1 else f"{v}") for v in table.columns]
    return (100 * table).round(1)
