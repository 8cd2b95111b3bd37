"""The report's summary: which method anonymizes best, at which view, at what cost in naturalness.

Plain sentences computed from the tidy results table (the same pooled numbers as :mod:`reports.tables`):

- per recognizer, the variant (method and parameters, identity excluded) with the highest top-1 success rate
  over all views and its 95% interval, the runner-up's rate and interval and whether the two intervals overlap
  (then the lead is "within noise"), the winner's best and worst view, top-3 rate, EER and rank, the clean
  probes' rate, the chance level and the best variant of another method;
- for each such winner, its frame and video scores (over all views) beside identity's, per scorer;
- the survey's mean opinion score per variant, when there is one.

Parts the run lacks are stated ("no naturalness scores in this run"), never skipped silently.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd

from reports.run_dir import evaluator_label
from reports.tables import (
    ALL,
    EER,
    FRAME,
    METRIC_NAMES,
    MOS,
    RANK,
    REFERENCE,
    SUCCESS,
    VIDEO,
    Cells,
    by_view,
    evaluators,
    ks,
    select,
    variant_label,
    view_cells,
)

_TIE = 1e-9  # pooled means of equal rates can differ in the last bits


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def _where(values: pd.Series, target: float) -> str:
    """``"54°, 72° (92.3%)"``: the views (index) whose value equals ``target``, with it."""
    at = [f"{v}°" for v, x in values.items() if abs(x - target) <= _TIE]
    return f"{', '.join(at)} ({_pct(target)})"


def best_variants(frame: pd.DataFrame, evaluator: str, k: int = 1) -> list[str]:
    """The variants (identity excluded) with the highest ``k`` success rate over all views against
    ``evaluator``, in table order; several when tied; empty when only identity was scored."""
    table = by_view(frame, metric=SUCCESS, evaluator=evaluator, k=k)
    if table.empty:
        return []
    overall = table[ALL].drop(index=[REFERENCE], errors="ignore").dropna()
    if overall.empty:
        return []
    top = float(overall.max())
    return [str(v) for v, x in overall.items() if x >= top - _TIE]


def _method_of(frame: pd.DataFrame, label: str) -> str:
    for method, parameters in zip(frame["method"], frame["parameters"], strict=True):
        if variant_label(method, parameters) == label:
            return str(method)
    return label


def _interval(low: float, high: float) -> str:
    return f" [95% interval {_pct(low)} to {_pct(high)}]" if not (math.isnan(low) or math.isnan(high)) else ""


def _has_interval(cells: Cells, variant: str) -> bool:
    return not (math.isnan(cells.low.loc[variant, ALL]) or math.isnan(cells.high.loc[variant, ALL]))


def _overlap(cells: Cells, a: str, b: str) -> bool:
    """Whether the 95% intervals (over all views) of variants ``a`` and ``b`` share a point."""
    return bool(cells.low.loc[a, ALL] <= cells.high.loc[b, ALL] and cells.low.loc[b, ALL] <= cells.high.loc[a, ALL])


def noise_clause(cells: Cells, best: Sequence[str]) -> str:
    """How the lead of the winner ``best[0]`` (tied with ``best[1:]``) compares with the noise: the runner-up (the
    next variant by the ``all`` column, identity and the tied excluded) with its interval, and whether the two 95%
    intervals overlap ("within noise") or not.

    Overlapping intervals do not prove the two equal, and intervals that just miss each other are a stricter test
    than a test of the difference; the wording says only what the intervals show.
    """
    winner = best[0]
    overall = cells.value[ALL].drop(index=[REFERENCE, *best], errors="ignore").dropna()
    if overall.empty:
        return "; no other anonymizer to compare with"
    runner = str(overall.sort_values(ascending=False, kind="stable").index[0])
    text = f"; the runner-up, {runner}, reaches {_pct(cells.value.loc[runner, ALL])}"
    text += _interval(cells.low.loc[runner, ALL], cells.high.loc[runner, ALL])
    if not (_has_interval(cells, winner) and _has_interval(cells, runner)):
        return text + ": without intervals in the results, whether the lead is within noise is unknown"
    if not _overlap(cells, winner, runner):
        return text + ": the intervals do not overlap, so the lead is larger than this run's noise"
    close = [v for v in overall.index if _has_interval(cells, str(v)) and _overlap(cells, winner, str(v))]
    text += ": the intervals overlap, so the lead is within noise"
    if len(overall) > 1:
        text += (" (every other anonymizer's interval overlaps the winner's)" if len(close) == len(overall) else
                 f" ({len(close)} of the {len(overall)} other anonymizers' intervals overlap the winner's)")
    return text


def success_sentence(frame: pd.DataFrame, evaluator: str, labels: Mapping[str, str]) -> str:
    """One sentence on the best variant against ``evaluator`` (top-1 over all views), with its 95% interval, the
    runner-up's and whether the lead is within noise (:func:`noise_clause`)."""
    who = evaluator_label(evaluator, labels)
    k = 1 if 1 in ks(frame, SUCCESS, evaluator) else ks(frame, SUCCESS, evaluator)[0]
    best = best_variants(frame, evaluator, k)
    cells = view_cells(frame, metric=SUCCESS, evaluator=evaluator, k=k)
    table = cells.value
    if not best:
        return f"Against {who} only clean probes (identity) were scored: no anonymizer to compare."
    winner = best[0]
    row = table.loc[winner]
    views = row.drop(index=[ALL]).dropna()
    text = f"Against {who}, {winner} anonymizes best"
    if len(best) > 1:
        text += f" (tied with {', '.join(best[1:])})"
    text += f": top-{k} success rate {_pct(row[ALL])}"
    text += _interval(cells.low.loc[winner, ALL], cells.high.loc[winner, ALL]) + " over all views"
    chance = cells.chance[ALL].dropna()
    if len(chance):
        text += f" (chance {_pct(float(chance.mean()))})"
    text += noise_clause(cells, best) + "."
    details = []
    if len(views) and views.max() - views.min() <= _TIE:
        details.append(f"the same at every view ({_pct(views.max())})")
    elif len(views):
        details.append(f"highest at {_where(views, views.max())}, lowest at {_where(views, views.min())}")
    if k == 1 and 3 in ks(frame, SUCCESS, evaluator):
        top3 = by_view(frame, metric=SUCCESS, evaluator=evaluator, k=3)
        if winner in top3.index and not math.isnan(top3.loc[winner, ALL]):
            details.append(f"top-3 {_pct(top3.loc[winner, ALL])}")
    for metric, name in ((EER, "EER"), (RANK, "mean normalised rank")):
        other = view_cells(frame, metric=metric, evaluator=evaluator)
        if winner in other.value.index and not math.isnan(other.value.loc[winner, ALL]):
            details.append(f"{name} {_pct(other.value.loc[winner, ALL])}"
                           + _interval(other.low.loc[winner, ALL], other.high.loc[winner, ALL]))
    if REFERENCE in table.index and not math.isnan(table.loc[REFERENCE, ALL]):
        details.append(f"clean probes (identity): {_pct(table.loc[REFERENCE, ALL])}")
    method = _method_of(frame, winner)
    others = table[ALL].drop(index=[REFERENCE], errors="ignore").dropna()
    others = others[[_method_of(frame, str(v)) != method for v in others.index]]
    if len(others):
        details.append(f"the best other method, {others.idxmax()}, reaches {_pct(others.max())}")
    return text + (f" {winner}: {'; '.join(details)}." if details else "")


def cost_sentence(frame: pd.DataFrame, variant: str, labels: Mapping[str, str]) -> str:
    """Naturalness of ``variant`` beside identity's, per scorer (frame and video scores over all views)."""
    parts = []
    for metric in (FRAME, VIDEO):
        for evaluator in evaluators(frame, metric):
            table = by_view(frame, metric=metric, evaluator=evaluator)
            name = f"{METRIC_NAMES[metric]} by {evaluator_label(evaluator, labels)}"
            if variant not in table.index or math.isnan(table.loc[variant, ALL]):
                parts.append(f"{name}: {variant} was not scored")
                continue
            mine = float(table.loc[variant, ALL])
            if REFERENCE in table.index and not math.isnan(table.loc[REFERENCE, ALL]):
                ref = float(table.loc[REFERENCE, ALL])
                change = f" ({100 * (mine / ref - 1):+.1f}%)" if ref else ""
                parts.append(f"{name} {mine:.4f} against {ref:.4f} for the clean data{change}")
            else:
                parts.append(f"{name} {mine:.4f} (no identity score to compare with)")
    if not parts:
        return (f"No naturalness scores in this run (no {FRAME} or {VIDEO} rows): the cost in naturalness of "
                f"{variant} is unknown.")
    return f"Cost in naturalness of {variant}: " + "; ".join(parts) + "."


def mos_sentence(frame: pd.DataFrame) -> str | None:
    """The survey's mean opinion score over all views per variant; None without MOS rows."""
    parts = []
    for evaluator in evaluators(frame, MOS):
        table = by_view(frame, metric=MOS, evaluator=evaluator)
        parts += [f"{v} {x:.2f}" for v, x in table[ALL].dropna().items()]
    if not parts:
        return None
    return "Mean opinion score over all views (1 bad .. 5 excellent): " + ", ".join(parts) + "."


def summarize(frame: pd.DataFrame, labels: Mapping[str, str]) -> list[str]:
    """The summary sentences, in order: success per recognizer, cost in naturalness per winner, MOS."""
    recognizers = evaluators(frame, SUCCESS)
    if not recognizers:
        sentences = ["No success rates in this run (no success_rate rows): which method anonymizes best is unknown."]
        winners: list[str] = []
    else:
        sentences = [success_sentence(frame, e, labels) for e in recognizers]
        winners = list(dict.fromkeys(
            best[0] for e in recognizers
            if (best := best_variants(frame, e, 1 if 1 in ks(frame, SUCCESS, e) else ks(frame, SUCCESS, e)[0]))
        ))
    if not len(select(frame, metric=FRAME)) and not len(select(frame, metric=VIDEO)):
        sentences.append(f"No naturalness scores in this run (no {FRAME} or {VIDEO} rows): the cost in "
                         "naturalness is unknown.")
    else:
        sentences += [cost_sentence(frame, w, labels) for w in winners]
    mos = mos_sentence(frame)
    sentences.append(mos if mos is not None else "No survey (MOS) results in this run.")
    return sentences
