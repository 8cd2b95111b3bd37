"""Analyse a survey: rater screening, MOS per method and view, quartiles, a two-way bootstrap interval.

Definitions (one cell = one method and parameters at one view, or over all views: ``view = -1``):

- ``mos``: the mean of all ratings in the cell; ``n`` = number of ratings; ``ci_low``/``ci_high`` = a
  percentile bootstrap interval (:func:`bootstrap_interval`) that resamples raters AND clips.
- ``mos_q1``, ``mos_median``, ``mos_q3``, ``mos_min``, ``mos_max``: quartiles and range of the per-rater means in
  the cell, as the paper's Fig. 12 ("for each viewing angle, we computed the average score of each evaluator")
  draws them; ``n`` = number of raters. Quartiles interpolate linearly between order statistics (numpy's
  default, Hyndman-Fan type 7): for rater means 2, 3, 4, 5 they are 2.75, 3.5, 4.25.

The bootstrap: each of ``n_boot`` replicates draws the cell's raters with replacement and, independently, its
clips with replacement, and takes the mean over the ratings of the drawn (rater, clip) pairs, each pair counted
as often as its rater times its clip was drawn; replicates whose pairs hold no rating are skipped. Resampling
only raters would ignore that the clips are a sample too, and the interval would be too narrow; the two-way
scheme errs on the wide side (Owen, "The pigeonhole bootstrap", Ann. Appl. Stat. 2007). Each cell's generator
is seeded by ``seed`` and the cell's name, so a figure does not change when other methods are added.

Screening (:func:`screen_raters`), before anything is computed; a rater is left out who

1. rated fewer than ``min_completion`` of the survey's clips, or
2. gave the hidden references (originals) a mean below ``min_reference_mean``, or
3. with ``anchor_check``, rated the anchors on average no lower than the references: a deliberately destroyed
   clip scored as high as the original means the rater was not judging the walk.

Rules 2 and 3 need the rater to have rated a reference (and an anchor); otherwise they are not applied, and the
screening table says so.
"""

from __future__ import annotations

import dataclasses
import math
import zlib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from benchmark.results import Row

if TYPE_CHECKING:
    from benchmark.survey.definition import Survey

EVALUATOR = "survey"
CONDITION = "all"
BOX_METRICS: tuple[str, ...] = ("mos_q1", "mos_median", "mos_q3", "mos_min", "mos_max")


@dataclasses.dataclass(frozen=True)
class AnalysisConfig:
    """Settings of ``gaitbench survey analyze`` (TOML keys of the same names; unknown keys are errors).

    Attributes
    ----------
    min_reference_mean : float
        Raters whose mean rating of the hidden references is below this are left out (3 = "Fair").
    anchor_check : bool
        Leave out raters whose mean anchor rating is not below their mean reference rating.
    min_completion : float
        Leave out raters who rated fewer than this fraction of the clips (0.5; raters see clips in random
        order, so a partial rater's answers are an unbiased subset, but a small one).
    n_boot : int
        Bootstrap replicates per cell.
    confidence : float
        Of the interval, in (0, 1).
    seed : int
        Seeds every cell's bootstrap.
    """

    min_reference_mean: float = 3.0
    anchor_check: bool = True
    min_completion: float = 0.5
    n_boot: int = 2000
    confidence: float = 0.95
    seed: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.min_reference_mean <= 5 and self.min_reference_mean != 0:
            raise ValueError(f"min_reference_mean must be 0 (off) or in 1..5, got {self.min_reference_mean}")
        if not 0 <= self.min_completion <= 1:
            raise ValueError(f"min_completion must lie in [0, 1], got {self.min_completion}")
        if self.n_boot < 1:
            raise ValueError(f"n_boot must be >= 1, got {self.n_boot}")
        if not 0 < self.confidence < 1:
            raise ValueError(f"confidence must lie in (0, 1), got {self.confidence}")


# ----------------------------------------------------------------------------------------------------------
# the statistics, on plain arrays


def box_stats(values: Sequence[float] | np.ndarray) -> dict[str, float]:
    """Quartiles (linear interpolation, numpy's default) and range of ``values``.

    Parameters
    ----------
    values : array-like, float (n,), n >= 1

    Returns
    -------
    dict
        ``q1``, ``median``, ``q3``, ``min``, ``max``.
    """
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or len(x) == 0:
        raise ValueError(f"box_stats needs a non-empty 1-d array, got shape {x.shape}")
    q1, median, q3 = np.percentile(x, [25, 50, 75])
    return {"q1": float(q1), "median": float(median), "q3": float(q3), "min": float(x.min()), "max": float(x.max())}


def bootstrap_replicates(matrix: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Two-way bootstrap means of a rater x clip rating matrix.

    Parameters
    ----------
    matrix : ndarray, float (R, C)
        Ratings, NaN where a rater did not rate a clip.
    n_boot : int
        Replicates B.
    rng : numpy Generator
        Draws ``rng.integers(0, R, (B, R))`` (raters), then ``rng.integers(0, C, (B, C))`` (clips).

    Returns
    -------
    ndarray, float (B,)
        Replicate means; NaN where the drawn pairs hold no rating.
    """
    x = np.asarray(matrix, dtype=np.float64)
    if x.ndim != 2 or 0 in x.shape:
        raise ValueError(f"the rating matrix must be 2-d and non-empty, got shape {x.shape}")
    r, c = x.shape
    rater_draws = rng.integers(0, r, size=(n_boot, r))
    clip_draws = rng.integers(0, c, size=(n_boot, c))
    # how often each rater / clip was drawn in each replicate: (B, R) and (B, C)
    wr = np.stack([np.bincount(d, minlength=r) for d in rater_draws]).astype(np.float64)
    wc = np.stack([np.bincount(d, minlength=c) for d in clip_draws]).astype(np.float64)
    observed = ~np.isnan(x)
    num = np.einsum("br,rc,bc->b", wr, np.where(observed, x, 0.0), wc)  # (B,)
    den = np.einsum("br,rc,bc->b", wr, observed.astype(np.float64), wc)  # (B,)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def bootstrap_interval(
    matrix: np.ndarray, n_boot: int, rng: np.random.Generator, confidence: float = 0.95
) -> tuple[float, float]:
    """Percentile interval of :func:`bootstrap_replicates` (quantiles ``(1 -+ confidence) / 2``)."""
    reps = bootstrap_replicates(matrix, n_boot, rng)
    reps = reps[~np.isnan(reps)]
    if len(reps) == 0:
        return (math.nan, math.nan)
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(reps, [alpha, 1 - alpha])
    return (float(lo), float(hi))


def rating_matrix(ratings: pd.DataFrame) -> tuple[np.ndarray, list[str], list[str]]:
    """``rater, clip, rating`` rows -> ``float (R, C)`` matrix (NaN = not rated), rater ids, clip ids (sorted)."""
    table = ratings.pivot(index="rater", columns="clip", values="rating").sort_index().sort_index(axis=1)
    return table.to_numpy(dtype=np.float64), [str(r) for r in table.index], [str(c) for c in table.columns]


def cell_rng(seed: int, method: str, parameters: str, view: int) -> np.random.Generator:
    """The bootstrap generator of one cell: seeded by ``seed`` and the cell's name only."""
    return np.random.default_rng([seed, zlib.crc32(f"{method}|{parameters}|{view}".encode())])


# ----------------------------------------------------------------------------------------------------------
# screening and rows


def ratings_frame(survey: Survey, ratings: Iterable[tuple[str, str, int]]) -> pd.DataFrame:
    """Answers joined with their stimuli: columns rater, clip, rating, role, method, parameters, view."""
    stimuli = survey.by_id()
    rows = []
    for rater, clip, rating in ratings:
        s = stimuli.get(clip)
        if s is None:
            raise ValueError(f"a rating names clip {clip}, which {survey.root}/survey.json does not have")
        rows.append({"rater": rater, "clip": clip, "rating": int(rating), "role": s.role, "method": s.method,
                     "parameters": s.parameters, "view": s.view})
    return pd.DataFrame(rows, columns=["rater", "clip", "rating", "role", "method", "parameters", "view"])


def screen_raters(frame: pd.DataFrame, n_clips: int, config: AnalysisConfig = AnalysisConfig()) -> pd.DataFrame:
    """Apply the screening rules of the module docstring to every rater of ``frame`` (:func:`ratings_frame`).

    Returns
    -------
    DataFrame
        One row per rater: ``rater``, ``ratings``, ``completion``, ``reference_mean``, ``anchor_mean``,
        ``test_mean`` (NaN when none), ``kept`` (bool), ``reason`` (why left out, or notes; "" when none).
    """
    out = []
    for rater, sub in frame.groupby("rater", sort=True):
        means = {role: float(sub.loc[sub["role"] == role, "rating"].mean()) if (sub["role"] == role).any()
                 else math.nan for role in ("test", "reference", "anchor")}
        completion = len(sub) / n_clips
        reasons, notes = [], []
        if completion < config.min_completion:
            reasons.append(f"rated {len(sub)} of {n_clips} clips ({completion:.0%} < {config.min_completion:.0%})")
        ref, anchor = means["reference"], means["anchor"]
        if config.min_reference_mean > 0:
            if math.isnan(ref):
                notes.append("no reference rated: reference rule not applied")
            elif ref < config.min_reference_mean:
                reasons.append(f"hidden references rated {ref:.2f} on average (< {config.min_reference_mean:g})")
        if config.anchor_check and not math.isnan(ref):
            if math.isnan(anchor):
                notes.append("no anchor rated: anchor rule not applied")
            elif anchor >= ref:
                reasons.append(f"anchor rated {anchor:.2f}, not below the references ({ref:.2f})")
        out.append({"rater": str(rater), "ratings": len(sub), "completion": completion, "reference_mean": ref,
                    "anchor_mean": anchor, "test_mean": means["test"], "kept": not reasons,
                    "reason": "; ".join(reasons or notes)})
    return pd.DataFrame(out, columns=["rater", "ratings", "completion", "reference_mean", "anchor_mean",
                                      "test_mean", "kept", "reason"])


def _cell_rows(sub: pd.DataFrame, method: str, parameters: str, view: int, config: AnalysisConfig) -> list[Row]:
    base: dict[str, Any] = {"method": method, "parameters": parameters, "evaluator": EVALUATOR,
                            "condition": CONDITION, "view": view}
    matrix, _, _ = rating_matrix(sub[["rater", "clip", "rating"]])
    lo, hi = bootstrap_interval(matrix, config.n_boot, cell_rng(config.seed, method, parameters, view),
                                config.confidence)
    rater_means = sub.groupby("rater")["rating"].mean().to_numpy(np.float64)
    stats = box_stats(rater_means)
    rows = [Row(metric="mos", value=float(sub["rating"].mean()), n=len(sub), ci_low=lo, ci_high=hi, **base)]
    rows += [Row(metric=metric, value=stats[metric[len("mos_"):]], n=len(rater_means), **base)
             for metric in BOX_METRICS]
    return rows


def mos_rows(frame: pd.DataFrame, config: AnalysisConfig = AnalysisConfig()) -> list[Row]:
    """Tidy rows (module docstring) of every method/parameters at each view and over all views (``view = -1``).

    Parameters
    ----------
    frame : DataFrame
        :func:`ratings_frame` of the kept raters.
    """
    rows: list[Row] = []
    for (method, parameters), sub in frame.groupby(["method", "parameters"], sort=True):
        for view, at_view in sub.groupby("view", sort=True):
            rows += _cell_rows(at_view, str(method), str(parameters), int(view), config)
        rows += _cell_rows(sub, str(method), str(parameters), -1, config)
    return rows


def analyze_ratings(
    survey: Survey, ratings: Iterable[tuple[str, str, int]], config: AnalysisConfig = AnalysisConfig()
) -> tuple[list[Row], pd.DataFrame]:
    """Screen the raters, then compute the rows from the kept ones.

    Returns
    -------
    rows : list of Row
    screening : DataFrame
        :func:`screen_raters`'s table. ``ValueError`` when there is no rating, or no rater is kept.
    """
    frame = ratings_frame(survey, ratings)
    if frame.empty:
        raise ValueError(f"no ratings yet for the survey in {survey.root}: run gaitbench survey serve and collect "
                         "some")
    screening = screen_raters(frame, len(survey.stimuli), config)
    kept = set(screening.loc[screening["kept"], "rater"])
    if not kept:
        raise ValueError(f"all {len(screening)} raters were screened out ({screening['reason'].iloc[0]}, ...); "
                         "see the screening rules in docs/survey.md, or loosen them (--min-reference-mean, "
                         "--no-anchor-check, --min-completion)")
    return mos_rows(frame[frame["rater"].isin(kept)], config), screening


# ----------------------------------------------------------------------------------------------------------
# printing


def format_mos_tables(frame: pd.DataFrame) -> str:
    """Two plain-text tables of a results frame: MOS per view (``all`` = view -1), then the overall summary."""
    mos = frame[frame["metric"] == "mos"].copy()
    if mos.empty:
        return "(no MOS rows)"
    mos["name"] = [m + (f" ({p})" if p else "") for m, p in zip(mos["method"], mos["parameters"], strict=True)]
    table = mos.pivot_table(index="name", columns="view", values="value", aggfunc="mean")
    table = table[[c for c in table.columns if c != -1] + [c for c in table.columns if c == -1]]
    table.columns = ["all" if v == -1 else str(v) for v in table.columns]
    per_view = table.to_string(float_format=lambda x: f"{x:.2f}", na_rep="-")

    overall = []
    for _, row in mos[mos["view"] == -1].iterrows():
        sel = frame[(frame["method"] == row["method"]) & (frame["parameters"] == row["parameters"])
                    & (frame["view"] == -1)]
        get = dict(zip(sel["metric"], sel["value"], strict=True))
        raters = int(sel.loc[sel["metric"] == "mos_median", "n"].iloc[0])
        overall.append({"method": row["name"], "mean": row["value"], "95% interval":
                        f"[{row['ci_low']:.2f}, {row['ci_high']:.2f}]", "q1": get["mos_q1"],
                        "median": get["mos_median"], "q3": get["mos_q3"], "min": get["mos_min"],
                        "max": get["mos_max"], "ratings": int(row["n"]), "raters": raters})
    summary = pd.DataFrame(overall).set_index("method").to_string(float_format=lambda x: f"{x:.2f}")
    return f"MOS by view (mean rating, 1 Bad .. 5 Excellent)\n{per_view}\n\nover all views (quartiles of " \
           f"per-rater means)\n{summary}"


def format_screening(screening: pd.DataFrame) -> str:
    """The screening table (tokens shortened to 8 characters), then one line per rater left out or noted."""
    if screening.empty:
        return "(no raters)"
    shown = screening.assign(rater=[r[:8] for r in screening["rater"]])
    lines = [shown.drop(columns="reason").to_string(index=False, float_format=lambda x: f"{x:.2f}", na_rep="-")]
    for rater, kept, reason in zip(shown["rater"], shown["kept"], shown["reason"], strict=True):
        if reason:
            lines.append(f"{'note' if kept else 'left out'}: {rater}: {reason}")
    return "\n".join(lines)


def screening_records(screening: pd.DataFrame) -> list[dict[str, Any]]:
    """The screening table as JSON-ready records (NaN -> None)."""
    return [{k: (None if isinstance(v, float) and math.isnan(v) else (bool(v) if k == "kept" else v))
             for k, v in rec.items()} for rec in screening.to_dict("records")]
