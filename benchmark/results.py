"""The tidy results table: every figure gaitbench reports is one row of it.

Columns (``results.csv``):

===========  ====================================================================================
method       the anonymizer (``identity`` for clean probes), as registered
parameters   its parameters as ``key=value;key=value`` (e.g. ``alpha=0.3``), empty when none
evaluator    the recognizer or scorer that produced the value, as registered
condition    probe condition type: ``nm``, ``bg``, ``cl``, or ``all`` (every condition type pooled)
view         probe view in degrees; -1 for a value over all views
metric       e.g. ``accuracy``, ``success_rate``, ``frame_score``, ``video_score``, ``mos``
k            rank for top-k metrics, 0 otherwise
value        the figure
n            how many items (probes, sequences, ratings) it rests on
ci_low       lower end of its 95% interval (empty when none)
ci_high      upper end
chance       the value a recognizer that knows nothing gets (identification rows; optional, see below)
attack       the attack model of an identification row: ``ignorant`` (clean gallery) or ``lazy-informed``
             (gallery anonymized by the same method); optional, see below
===========  ====================================================================================

``chance`` and ``attack`` are optional (:data:`OPTIONAL_COLUMNS`): written only when some row holds one, and a
file without them (older runs, score or survey tables) reads with them empty. They are not part of a row's
identity: rows of an informed attack also name it in their ``evaluator`` (``zheng2011@lazy-informed``), which is.
The regression gate neither reads nor keeps them.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.io import atomic_path

#: a run directory's main results file; ``results-*.csv`` beside it (e.g. survey MOS rows) belong to it too
RESULTS = "results.csv"

#: the ``condition`` of rows pooled over every condition type (with ``view = -1``: over every probe)
ALL_CONDITIONS = "all"

COLUMNS: tuple[str, ...] = (
    "method", "parameters", "evaluator", "condition", "view", "metric", "k", "value", "n", "ci_low", "ci_high",
)
#: columns after :data:`COLUMNS` that a table may lack (read as NaN)
OPTIONAL_COLUMNS: tuple[str, ...] = ("chance", "attack")


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
    #: None, not NaN, where there is none: a row's fields go into JSON (stage rows, golden files), which has no NaN
    chance: float | None = None
    #: the attack model of an identification row (``ignorant``, ``lazy-informed``; docs/metrics.md); None elsewhere
    attack: str | None = None


def format_parameters(params: Mapping[str, object]) -> str:
    """``{"alpha": 0.3}`` -> ``"alpha=0.3"``; keys sorted so equal parameters give equal strings."""
    for key in params:
        if any(c in str(key) for c in "=;"):
            raise ValueError(f"parameter name {key!r} must not contain '=' or ';'")
    return ";".join(f"{k}={params[k]}" for k in sorted(params))


def to_frame(rows: Iterable[Row]) -> pd.DataFrame:
    frame = pd.DataFrame([dataclasses.asdict(r) for r in rows], columns=[*COLUMNS, *OPTIONAL_COLUMNS])
    return frame.astype({"view": "int64", "k": "int64", "n": "int64", "value": "float64", "chance": "float64"})


def write_csv(rows: Iterable[Row] | pd.DataFrame, path: str | Path) -> pd.DataFrame:
    """Write the tidy table atomically (rows sorted for stable diffs); returns what was written.

    An optional column is written when some row holds a value in it: tables without chance levels keep their
    old form."""
    frame = rows if isinstance(rows, pd.DataFrame) else to_frame(rows)
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"results table lacks columns {missing}")
    optional = [c for c in OPTIONAL_COLUMNS if c in frame.columns and frame[c].notna().any()]
    frame = frame[[*COLUMNS, *optional]].sort_values(
        ["method", "parameters", "evaluator", "metric", "k", "condition", "view"], kind="stable"
    )
    with atomic_path(path, suffix=".csv") as tmp:
        frame.to_csv(tmp, index=False, float_format="%.6g")
    return frame.reset_index(drop=True)


def read_csv(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"results file {path} does not exist")
    frame = pd.read_csv(path, dtype={"parameters": str}, keep_default_na=False,
                        na_values={"ci_low": [""], "ci_high": [""], "chance": [""], "attack": [""]})
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{path} is not a gaitbench results table: columns {missing} are missing")
    for column in OPTIONAL_COLUMNS:
        if column not in frame.columns:
            frame[column] = math.nan
    return frame


def read_results(run_dir: str | os.PathLike[str]) -> tuple[pd.DataFrame, tuple[Path, ...]]:
    """``RUN_DIR/results.csv`` and ``RUN_DIR/results-*.csv`` concatenated, with the files read.

    Raises
    ------
    FileNotFoundError
        When ``RUN_DIR`` or ``RUN_DIR/results.csv`` does not exist.
    ValueError
        When a file lacks columns of :data:`benchmark.results.COLUMNS` or holds non-numeric values.
    """
    root = Path(run_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"run directory {root} does not exist")
    main = root / RESULTS
    if not main.is_file():
        raise FileNotFoundError(
            f"{main} does not exist: {root} is not a finished gaitbench run (make one with gaitbench run CONFIG)"
        )
    paths = (main, *sorted(root.glob("results-*.csv")))
    frames = []
    for path in paths:
        try:
            frame = read_csv(path)[[*COLUMNS, *OPTIONAL_COLUMNS]]
        except pd.errors.EmptyDataError:
            raise ValueError(f"{path} is empty: not a gaitbench results table") from None
        for column in ("view", "k", "n", "value", "ci_low", "ci_high", "chance"):
            values = pd.to_numeric(frame[column], errors="coerce")
            empty = frame[column].isna() | frame[column].astype(str).str.strip().str.lower().isin(["", "nan"])
            # value and the interval may be empty (no estimate, e.g. n = 0); view, k and n may not
            bad = values.isna() & ~empty if column not in ("view", "k", "n") else values.isna()
            if bad.any():
                row = int(bad.to_numpy().nonzero()[0][0])
                raise ValueError(
                    f"{path}, data row {row + 1}: column {column!r} must be a number, got {frame[column].iloc[row]!r}"
                )
            if column in ("view", "k", "n"):
                fractional = values != values.round()
                negative = (values < 0) if column in ("k", "n") else (values < -1)
                wrong = fractional | negative
                if wrong.any():
                    row = int(wrong.to_numpy().nonzero()[0][0])
                    least = "-1 (every view)" if column == "view" else "0"
                    raise ValueError(f"{path}, data row {row + 1}: column {column!r} must be a whole number >= "
                                     f"{least}, got {float(values.iloc[row]):g}")
            else:
                infinite = values.notna() & ~np.isfinite(values.to_numpy(dtype=float, na_value=0.0))
                if infinite.any():
                    row = int(infinite.to_numpy().nonzero()[0][0])
                    raise ValueError(f"{path}, data row {row + 1}: column {column!r} must be finite, got "
                                     f"{float(values.iloc[row]):g}")
            frame[column] = values
        frames.append(frame)
    frame = pd.concat(frames, ignore_index=True)
    frame = frame.astype({"view": "int64", "k": "int64", "n": "int64", "value": "float64",
                          "ci_low": "float64", "ci_high": "float64", "chance": "float64"})
    for column in ("method", "parameters", "evaluator", "condition", "metric"):
        frame[column] = frame[column].astype(str)
    return frame, paths


def per_view_table(frame: pd.DataFrame, index: Iterable[str] = ("evaluator", "condition")) -> pd.DataFrame:
    """Pivot to one row per ``index`` combination and one column per view (values in percent, 1 decimal)."""
    index = list(index)
    table = frame.pivot_table(index=index, columns="view", values="value", aggfunc="mean")
    table.columns = [("mean" if v == -1 else f"{v}") for v in table.columns]
    return (100 * table).round(1)
