"""The report's summary: which method anonymizes best, at which view, at what cost in naturalness.

Plain sentences computed from the tidy results table (the same pooled numbers as :mod:`reports.tables`):

- per recognizer, the variant (method and parameters, identity excluded) with the highest top-1 success rate
  over all views, its best and worst view, its top-3 rate, the clean probes' rate and the best variant of
  another method;
- for each such winner, its frame and video scores (over all views) beside identity's, per scorer;
- the survey's mean opinion score per variant, when there is one.

Parts the run lacks are stated ("no naturalness scores in this run"), never skipped silently.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from reports.run_dir import evaluator_label
from reports.tables import (
    ALL,
    FRAME,
    METRIC_NAMES,
    MOS,
    REFERENCE,
    SUCCESS,
    VIDEO,
    by_view,
    evaluators,
    ks,
    select,
    variant_label,
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


def success_sentence(frame: pd.DataFrame, evaluator: str, labels: Mapping[str, str]) -> str:
    """One sentence on the best variant against ``evaluator`` (top-1 over all views)."""
    who = evaluator_label(evaluator, labels)
    k = 1 if 1 in ks(frame, SUCCESS, evaluator) else ks(frame, SUCCESS, evaluator)[0]
    best = best_variants(frame, evaluator, k)
    table = by_view(frame, metric=SUCCESS, evaluator=evaluator, k=k)
    if not best:
        return f"Against {who} only clean probes (identity) were scored: no anonymizer to compare."
    winner = best[0]
    row = table.loc[winner]
    views = row.drop(index=[ALL]).dropna()
    text = f"Against {who}, {winner} anonymizes best"
    if len(best) > 1:
        text += f" (tied with {', '.join(best[1:])})"
    text += f": top-{k} success rate {_pct(row[ALL])} over all views"
    if len(views):
        text += f", highest at {_where(views, views.max())}, lowest at {_where(views, views.min())}"
    if k == 1 and 3 in ks(frame, SUCCESS, evaluator):
        top3 = by_view(frame, metric=SUCCESS, evaluator=evaluator, k=3)
        if winner in top3.index and not math.isnan(top3.loc[winner, ALL]):
            text += f"; top-3 {_pct(top3.loc[winner, ALL])}"
    if REFERENCE in table.index and not math.isnan(table.loc[REFERENCE, ALL]):
        text += f"; clean probes (identity): {_pct(table.loc[REFERENCE, ALL])}"
    method = _method_of(frame, winner)
    others = table[ALL].drop(index=[REFERENCE], errors="ignore").dropna()
    others = others[[_method_of(frame, str(v)) != method for v in others.index]]
    if len(others):
        text += f"; the best other method, {others.idxmax()}, reaches {_pct(others.max())}"
    return text + "."


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
