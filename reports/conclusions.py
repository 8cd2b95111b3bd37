"""The paper's numbered conclusions (Tieu et al., ST-GAN, sections 4.1-4.4), each checked against a run's results.

:func:`check_conclusions` reads a run's tidy table and returns one :class:`Conclusion` per claim: the claim as the
paper states it, a verdict (:data:`VERDICTS`) and the run's numbers behind it. The claims compare the paper's
method (ST-GAN at alpha 0.3, ``proposed``) with the baseline (Tieu et al.'s noise-gait, ``baseline``) against
the paper's two attackers (Zheng et al. 2011, Wu et al. 2017 MT; the ignorant attacker, as in the paper), and
ST-GAN over alpha. A claim is tested on the point values (means over seeds where a setting has several); where
the 95% intervals of the compared values overlap, the evidence says so: the direction is then not established
by the run. Claims about how the pictures look, and claims on measures the run lacks (a survey's MOS, a
scorer, an ablation), are ``not testable`` with the reason. Nothing here runs a model.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from reports.paper import falling_views
from reports.tables import (
    ALL,
    DIFFERENCE,
    FRAME,
    REFERENCE,
    SUCCESS,
    VIDEO,
    alpha_sweep,
    evaluators,
    ks,
    merge_seeds,
    mos_boxes,
    parse_parameters,
    variant_label,
    view_cells,
)

REPRODUCED, PARTLY, NOT_REPRODUCED, UNTESTABLE = "reproduced", "partly reproduced", "not reproduced", "not testable"
VERDICTS = (REPRODUCED, PARTLY, NOT_REPRODUCED, UNTESTABLE)
#: the paper's two attackers: Zheng et al. 2011 and Wu et al. 2017 (model MT)
ZHENG, WU = "zheng2011", "wu2017-mt"
#: the side views of section 4.2 (2) and the end views of sections 4.3 (2) and 4.3's automatic (2)
SIDE_VIEWS, END_VIEWS = (72, 90, 108), (0, 180)
#: the front views of section 4.3 (3)'s MOS claim (0-36 against 54-180)
FRONT_VIEWS = (0, 18, 36)
PAPER_ALPHA, PAPER_ALPHAS = 0.3, (0.2, 0.3, 0.4)
#: :func:`reports.tables.mos_boxes`' column of the mean opinion score
MOS_MEAN = "mean"


@dataclasses.dataclass(frozen=True)
class Conclusion:
    """One numbered claim of the paper and what a run says of it.

    Attributes
    ----------
    section : str
        Where the paper states it, e.g. ``"4.2 (1)"``.
    claim : str
        The claim, in short.
    verdict : str
        One of :data:`VERDICTS`.
    evidence : str
        The run's numbers behind the verdict, or why it cannot be tested.
    """

    section: str
    claim: str
    verdict: str
    evidence: str


def combine(parts: Sequence[bool]) -> str:
    """The verdict of a claim made of sub-claims: all hold, some hold, none hold (``not testable`` when empty)."""
    if not parts:
        return UNTESTABLE
    return REPRODUCED if all(parts) else NOT_REPRODUCED if not any(parts) else PARTLY


def end_offset(profile: pd.Series, ends: Sequence[int] = END_VIEWS) -> float:
    """Mean of a per-view profile (index: views as strings) at ``ends`` minus its mean at the other views."""
    views = [c for c in profile.index if c != ALL and not math.isnan(float(profile[c]))]
    at = [float(profile[c]) for c in views if int(c) in ends]
    rest = [float(profile[c]) for c in views if int(c) not in ends]
    if not at or not rest:
        return math.nan
    return float(np.mean(at) - np.mean(rest))


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def _num(value: float) -> str:
    return f"{value:.4f}"


class _Run:
    """The run's rows, seeds merged (:func:`merge_seeds`), with the variants the claims compare."""

    def __init__(self, frame: pd.DataFrame, proposed: str, baseline: str) -> None:
        self.raw = frame
        self.frame = merge_seeds(frame)
        self.proposed_method, self.baseline_method = proposed, baseline
        self.proposed = self.variant(proposed, PAPER_ALPHA)
        self.baseline = self.variant(baseline)
        self.identity = self.variant(REFERENCE)

    def variant(self, method: str, alpha: float | None = None) -> str | None:
        """The label of ``method``'s variant (at ``alpha`` when given; else its only one, or its first)."""
        pairs = sorted(set(zip(self.frame["method"], self.frame["parameters"], strict=True)))
        mine = [(m, p) for m, p in pairs if m == method]
        if alpha is not None:
            at = [(m, p) for m, p in mine if _alpha(p) == alpha]
            mine = at or (mine if len(mine) == 1 else [])
        return variant_label(*mine[0]) if mine else None

    def cells(self, metric: str, evaluator: str, k: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """Values, low and high bounds per variant label and view (conditions pooled)."""
        c = view_cells(self.frame, metric=metric, evaluator=evaluator, k=k)
        return c.value, c.low, c.high


def _alpha(parameters: str) -> float | None:
    value = parse_parameters(parameters).get("alpha")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _overlap(lows: Sequence[float], highs: Sequence[float]) -> bool | None:
    """Whether two intervals overlap (None when either is missing)."""
    if any(math.isnan(float(v)) for v in (*lows, *highs)):
        return None
    return bool(lows[1] <= highs[0] and lows[0] <= highs[1])


def _noise(overlap: bool | None) -> str:
    return {True: " (95% intervals overlap)", False: " (95% intervals apart)", None: ""}[overlap]


def _compare(run: _Run, metric: str, evaluator: str, k: int, a: str, b: str, fmt: Callable[[float], str],
             what: str) -> tuple[bool, str] | None:
    """Is ``a`` above ``b`` over all views? With the number of views where it is, and the intervals."""
    value, low, high = run.cells(metric, evaluator, k)
    if a not in value.index or b not in value.index:
        return None
    x, y = float(value.loc[a, ALL]), float(value.loc[b, ALL])
    if math.isnan(x) or math.isnan(y):
        return None
    views = [c for c in value.columns if c != ALL]
    above = sum(1 for c in views if float(value.loc[a, c]) > float(value.loc[b, c]))
    overlap = _overlap([low.loc[a, ALL], low.loc[b, ALL]], [high.loc[a, ALL], high.loc[b, ALL]])
    return x > y, f"{what}: {fmt(x)} against {fmt(y)}{_noise(overlap)}, above at {above} of {len(views)} views"


def _success_evaluators(run: _Run) -> list[str]:
    present = evaluators(run.frame, SUCCESS)
    return [e for e in (ZHENG, WU) if e in present]


def _untestable(section: str, claim: str, why: str) -> Conclusion:
    return Conclusion(section, claim, UNTESTABLE, why)


def _judge(section: str, claim: str, found: Iterable[tuple[bool, str] | None], why: str, prefix: str = ""
           ) -> Conclusion:
    """The verdict of the sub-claims ``found`` (holds, evidence; None = could not be tested), or ``not testable``
    with ``why`` when none could be."""
    tested = [f for f in found if f is not None]
    if not tested:
        return _untestable(section, claim, why)
    return Conclusion(section, claim, combine([f[0] for f in tested]), prefix + "; ".join(f[1] for f in tested))


def _lacking(run: _Run) -> str:
    """Why the run cannot compare ST-GAN at alpha 0.3 with the baseline."""
    return f"the run lacks {run.proposed_method} at alpha 0.3 or {run.baseline_method}"


def _success_higher(run: _Run) -> Conclusion:
    section, claim = "4.2 (1)", ("ST-GAN (alpha 0.3) has a higher success rate than the noise-gait baseline against "
                                 "both recognizers, top-1 and top-3")
    if run.proposed is None or run.baseline is None:
        return _untestable(section, claim, _lacking(run))
    found = [_compare(run, SUCCESS, evaluator, k, run.proposed, run.baseline, _pct, f"{evaluator} top-{k}")
             for evaluator in _success_evaluators(run) for k in ks(run.frame, SUCCESS, evaluator)]
    return _judge(section, claim, found, "no success rates of both methods against zheng2011 or wu2017-mt")


def _side_views(run: _Run) -> Conclusion:
    section, claim = "4.2 (2)", ("ST-GAN's lead over the baseline in success rate is larger at the side views "
                                 "(72-108 degrees) than at the others")
    if run.proposed is None or run.baseline is None:
        return _untestable(section, claim, _lacking(run))
    parts, lines = [], []
    for evaluator in _success_evaluators(run):
        k = ks(run.frame, SUCCESS, evaluator)[0]
        value = run.cells(SUCCESS, evaluator, k)[0]
        if run.proposed not in value.index or run.baseline not in value.index:
            continue
        lead = (value.loc[run.proposed] - value.loc[run.baseline]).drop(ALL)
        side = [float(lead[c]) for c in lead.index if int(c) in SIDE_VIEWS and not math.isnan(float(lead[c]))]
        rest = [float(lead[c]) for c in lead.index if int(c) not in SIDE_VIEWS and not math.isnan(float(lead[c]))]
        if not side or not rest:
            continue
        parts.append(float(np.mean(side)) > float(np.mean(rest)))
        lines.append(f"{evaluator} top-{k}: lead {np.mean(side) * 100:+.1f} points at 72-108 against "
                     f"{np.mean(rest) * 100:+.1f} at the other views")
    if not parts:
        return _untestable(section, claim, "no per-view success rates of both methods with side and other views")
    return Conclusion(section, claim, combine(parts), "; ".join(lines))


def _zheng_above_wu(run: _Run) -> Conclusion:
    section, claim = "4.2 (3)", ("success rates against Zheng's system are higher than against Wu's (Wu's is the "
                                 "more robust), for both methods")
    present = _success_evaluators(run)
    if present != [ZHENG, WU]:
        return _untestable(section, claim, "the run lacks zheng2011 or wu2017-mt success rates")
    parts, lines = [], []
    for label in (run.proposed, run.baseline):
        if label is None:
            continue
        for k in sorted(set(ks(run.frame, SUCCESS, ZHENG)) & set(ks(run.frame, SUCCESS, WU))):
            (zv, zl, zh), (wv, wl, wh) = run.cells(SUCCESS, ZHENG, k), run.cells(SUCCESS, WU, k)
            if label not in zv.index or label not in wv.index:
                continue
            z, w = float(zv.loc[label, ALL]), float(wv.loc[label, ALL])
            overlap = _overlap([zl.loc[label, ALL], wl.loc[label, ALL]], [zh.loc[label, ALL], wh.loc[label, ALL]])
            parts.append(z > w)
            lines.append(f"{label} top-{k}: {_pct(z)} against {_pct(w)}{_noise(overlap)}")
    if not parts:
        return _untestable(section, claim, "no success rates of ST-GAN or the baseline against both recognizers")
    return Conclusion(section, claim, combine(parts), "; ".join(lines))


def _mos(run: _Run) -> list[Conclusion]:
    claims = [("4.3 MOS (1)", "ST-GAN's opinion-score quartiles and mean are above the baseline's at every view"),
              ("4.3 MOS (2)", "the MOS gap between ST-GAN and the baseline is largest at 0 and 180 degrees"),
              ("4.3 MOS (3)", "ST-GAN's opinion scores are higher at 54-180 degrees than at 0-36 degrees")]
    boxes = mos_boxes(run.frame)
    if boxes.empty or run.proposed is None or run.baseline is None:
        why = ("no survey ratings in this run (gaitbench survey, docs/survey.md: a survey run by people, merged as "
               "results-mos.csv)" if boxes.empty
               else "the survey did not rate both ST-GAN at alpha 0.3 and the baseline")
        return [_untestable(s, c, why) for s, c in claims]
    boxes = boxes[boxes["view"] != -1]
    mine = boxes[boxes["method"] == run.proposed].set_index("view")
    theirs = boxes[boxes["method"] == run.baseline].set_index("view")
    views = sorted(set(mine.index) & set(theirs.index))
    if not views:
        return [_untestable(s, c, "ST-GAN and the baseline were rated at no common view") for s, c in claims]
    stats = ["q1", "median", "q3", "mean"]
    above = [v for v in views if all(mine.loc[v, s] > theirs.loc[v, s] for s in stats)]
    first = Conclusion(*claims[0], combine([v in above for v in views]),
                       f"all four statistics above at {len(above)} of {len(views)} rated views; mean "
                       f"{mine.loc[views, MOS_MEAN].mean():.2f} against {theirs.loc[views, MOS_MEAN].mean():.2f}")
    gap = mine.loc[views, MOS_MEAN] - theirs.loc[views, MOS_MEAN]
    ends, rest = [gap[v] for v in views if v in END_VIEWS], [gap[v] for v in views if v not in END_VIEWS]
    second = (Conclusion(*claims[1], combine([float(np.mean(ends)) > float(np.mean(rest))]),
                         f"gap {np.mean(ends):+.2f} at 0/180 against {np.mean(rest):+.2f} at the other rated views")
              if ends and rest else _untestable(*claims[1], "the survey did not rate the end views and others"))
    front = [mine.loc[v, MOS_MEAN] for v in views if v in FRONT_VIEWS]
    back = [mine.loc[v, MOS_MEAN] for v in views if v not in FRONT_VIEWS]
    third = (Conclusion(*claims[2], combine([float(np.mean(back)) > float(np.mean(front))]),
                        f"ST-GAN mean {np.mean(back):.2f} at 54-180 against {np.mean(front):.2f} at 0-36")
             if front and back
             else _untestable(*claims[2], "the survey did not rate views on both sides of 45 degrees"))
    return [first, second, third]


def _scorers(run: _Run) -> list[tuple[str, str]]:
    return [(metric, e) for metric in (FRAME, VIDEO) for e in evaluators(run.frame, metric)]


def _natural_higher(run: _Run) -> Conclusion:
    section, claim = "4.3 auto (1)", "ST-GAN's frame and video scores are higher than the baseline's"
    if run.proposed is None or run.baseline is None:
        return _untestable(section, claim, _lacking(run))
    found = [_compare(run, metric, evaluator, 0, run.proposed, run.baseline, _num, evaluator)
             for metric, evaluator in _scorers(run)]
    judged = _judge(section, claim, found, "no frame or video scores of both methods")
    kinds = {m for m, _ in _scorers(run)}
    if judged.verdict != UNTESTABLE and kinds != {FRAME, VIDEO}:
        judged = dataclasses.replace(judged, evidence=f"{judged.evidence}; the run has no "
                                                      f"{'video' if FRAME in kinds else 'frame'} scorer")
    return judged


def _end_views(run: _Run) -> Conclusion:
    section, claim = "4.3 auto (2)", ("at 0 and 180 degrees the baseline's frame score departs from the original's "
                                      "profile (lower there, where the original's is slightly higher); ST-GAN's "
                                      "follows the original's")
    labels = (run.identity, run.baseline, run.proposed)
    if any(label is None for label in labels):
        return _untestable(section, claim, "the run lacks identity, the baseline or ST-GAN at alpha 0.3")
    parts, lines = [], []
    for evaluator in evaluators(run.frame, FRAME):
        value = run.cells(FRAME, evaluator)[0]
        if any(label not in value.index for label in labels):
            continue
        orig, base, prop = (end_offset(value.loc[label]) for label in labels)
        if any(math.isnan(v) for v in (orig, base, prop)):
            continue
        parts.append(base < orig and abs(prop - orig) < abs(base - orig))
        lines.append(f"{evaluator}, mean at 0/180 minus mean at the other views: original {orig:+.4f}, baseline "
                     f"{base:+.4f}, ST-GAN {prop:+.4f}")
    if not parts:
        return _untestable(section, claim, "no frame scores of the original, the baseline and ST-GAN at 0/180 and "
                                           "other views")
    return Conclusion(section, claim, combine(parts), "; ".join(lines))


def _sweep_alphas(alphas: Sequence[float]) -> list[int]:
    """Row positions of the paper's alphas in a sweep (all rows when the sweep has fewer than two of them)."""
    at = [i for i, a in enumerate(alphas) if a in PAPER_ALPHAS]
    return at if len(at) >= 2 else list(range(len(alphas)))


@dataclasses.dataclass(frozen=True)
class _Trend:
    """One measure of ST-GAN over alpha: does its all-views value move strictly the expected way, and at how many
    of the views does it."""

    overall: bool
    views: int
    total: int
    text: str


def _over_alpha(run: _Run, measures: Sequence[tuple[str, str, int]], rising: bool, fmt: Callable[[float], str]
                ) -> list[_Trend]:
    out = []
    for metric, evaluator, k in measures:
        mine = alpha_sweep(run.raw, metric=metric, evaluator=evaluator, k=k, method=run.proposed_method).get(
            run.proposed_method)
        if mine is None:
            continue
        table = mine.mean.iloc[_sweep_alphas(mine.alphas)]
        table = table[~table.index.duplicated()]  # another parameter beside alpha: its first setting
        signed = -table if rising else table
        views = [c for c in table.columns if c != ALL]
        moving = falling_views(signed[views])
        name = f"{evaluator} top-{k}" if metric == SUCCESS else evaluator
        out.append(_Trend(bool(falling_views(signed[[ALL]])), len(moving), len(views),
                          f"{name}: {' -> '.join(fmt(float(v)) for v in table[ALL])} over alpha "
                          f"{', '.join(table.index)}; strictly at {len(moving)} of {len(views)} views"))
    return out


def _alpha_success(run: _Run) -> Conclusion:
    section, claim = "4.4 (a)", "the success rate rises with alpha against both recognizers (Figs. 15-16)"
    measures = [(SUCCESS, e, k) for e in _success_evaluators(run) for k in ks(run.frame, SUCCESS, e)]
    trends = _over_alpha(run, measures, rising=True, fmt=_pct)
    if not trends:
        return _untestable(section, claim, f"no alpha sweep of {run.proposed_method} with success rates")
    return Conclusion(section, claim, combine([t.overall for t in trends]), "; ".join(t.text for t in trends))


def _alpha_difference(run: _Run) -> Conclusion:
    section, claim = "4.4 (b)", "the difference between original and anonymized silhouettes grows with alpha (Fig. 18)"
    trends = _over_alpha(run, [(DIFFERENCE, e, 0) for e in evaluators(run.frame, DIFFERENCE)], rising=True, fmt=_pct)
    if not trends:
        return _untestable(section, claim, f"no alpha sweep of {run.proposed_method} with silhouette differences "
                                           "(the realism stage)")
    return Conclusion(section, claim, combine([t.overall for t in trends]),
                      "silhouette difference (share of pixels changed), " + "; ".join(t.text for t in trends))


def _alpha_natural(run: _Run) -> Conclusion:
    section, claim = "4.4 (c)", "frame and video scores rise as alpha falls, at every view (Tables 2-3)"
    trends = _over_alpha(run, [(metric, e, 0) for metric, e in _scorers(run)], rising=False, fmt=_num)
    if not trends:
        return _untestable(section, claim, f"no alpha sweep of {run.proposed_method} with frame or video scores")
    # the paper's claim is per view: a measure reproduces it only where every view falls
    return Conclusion(section, claim, combine([t.overall and t.views == t.total for t in trends]),
                      "; ".join(t.text for t in trends))


def _gn_matters(run: _Run) -> Conclusion:
    section, claim = "4.1 (3)", ("the noise generator GN makes the anonymized gait more natural than a Gaussian seed "
                                 "(Fig. 7): higher frame and video scores with GN")
    ablation = run.variant("stgan-nogn")
    if ablation is None:
        return _untestable(section, claim, "the run has no stgan-nogn (the ablation without GN)")
    alpha = _alpha(run.frame.loc[run.frame["method"] == "stgan-nogn", "parameters"].iloc[0])
    with_gn = run.variant("stgan", alpha)
    if with_gn is None:
        return _untestable(section, claim, f"the run has no stgan at the ablation's alpha ({alpha:g}) to compare with")
    found = [_compare(run, metric, evaluator, 0, with_gn, ablation, _num, evaluator)
             for metric, evaluator in _scorers(run)]
    return _judge(section, claim, found, "no frame or video scores of stgan and stgan-nogn",
                  prefix=f"{with_gn} against {ablation}: ")


def check_conclusions(frame: pd.DataFrame, proposed: str = "stgan-paper", baseline: str = "noise-gait"
                      ) -> list[Conclusion]:
    """Every numbered conclusion of the paper's sections 4.1-4.4, checked against ``frame`` (a run's tidy rows).

    Parameters
    ----------
    frame : DataFrame
        A run's results (:mod:`benchmark.results` columns; lazy- and semi-informed evaluators are ignored: the
        paper's attacker is the ignorant one).
    proposed : str
        The method standing for the paper's ST-GAN: its variant at alpha 0.3 (or its only one) is compared with
        the baseline, and its alpha sweep is section 4.4's.
    baseline : str
        The method standing for Tieu et al.'s noise-gait.

    Returns
    -------
    list of Conclusion
        In the paper's order; claims about the pictures' look (4.1 (1), (2)) are ``not testable`` here.
    """
    run = _Run(frame, proposed, baseline)
    pictures = "a claim about how the pictures look: see Figs. 8-10 in the report's pictures"
    return [
        _untestable("4.1 (1)", "ST-GAN removes the baseline's head distortion, notably at 0 and 180 degrees", pictures),
        _untestable("4.1 (2)", "ST-GAN's colour frames are consistent from one frame to the next", pictures),
        _gn_matters(run),
        _success_higher(run), _side_views(run), _zheng_above_wu(run),
        *_mos(run),
        _natural_higher(run), _end_views(run),
        _alpha_success(run), _alpha_difference(run), _alpha_natural(run),
    ]


def to_markdown(conclusions: Sequence[Conclusion], title: str) -> str:
    """A Markdown table of ``conclusions`` under a bold ``title``, with a count of each verdict."""
    escape = lambda text: text.replace("|", "\\|")  # noqa: E731
    counts = ", ".join(f"{sum(c.verdict == v for c in conclusions)} {v}" for v in VERDICTS)
    lines = [f"**{escape(title)}**", "", "| section | the paper's claim | verdict | this run |", "|---|---|---|---|"]
    lines += [f"| {c.section} | {escape(c.claim)} | {c.verdict} | {escape(c.evidence)} |" for c in conclusions]
    return "\n".join([*lines, "", f"{counts}."]) + "\n"
