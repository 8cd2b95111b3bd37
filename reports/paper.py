"""The paper's own numbers beside a run's: Tables 2 and 3 of Tieu et al. (ST-GAN).

The paper states numbers in two tables only (its Figs. 11-16 are plots): the frame score (Table 2, a pretrained
YOLOv3's "person" probability) and the video score (Table 3, a pretrained ResNeXt-101's "walking" probability) of
ST-GAN's output, per view, at alpha 0.2, 0.3 and 0.4, on CASIA-B's 40 test subjects. Its claim about them
(section 4.4): both scores rise as alpha falls, at every view.

:func:`paper_tables` puts those numbers under a run's own for every method with an alpha sweep and a frame or
video scorer, and says per table how many views fall strictly with alpha in each, and how closely the run's
per-view profile follows the paper's (Pearson r over the views). Absolute values are not comparable: the paper's
scorers ran on CASIA-B's video; a run's scorers are whatever its config names (labelled in every table).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from reports.run_dir import evaluator_label
from reports.tables import FRAME, VIDEO, Table, alpha_sweep, evaluators

#: the paper's views (degrees), the columns of Tables 2 and 3
PAPER_VIEWS = (0, 18, 36, 54, 72, 90, 108, 126, 144, 162, 180)

#: Table 2 (frame score) and Table 3 (video score) of the paper: alpha -> one value per view of PAPER_VIEWS
PAPER_SCORES: dict[str, dict[float, tuple[float, ...]]] = {
    FRAME: {
        0.2: (0.9764, 0.9762, 0.9751, 0.9706, 0.9699, 0.9671, 0.9672, 0.9690, 0.9679, 0.9690, 0.9694),
        0.3: (0.9668, 0.9664, 0.9646, 0.9590, 0.9567, 0.9556, 0.9555, 0.9574, 0.9541, 0.9568, 0.9575),
        0.4: (0.9558, 0.9550, 0.9533, 0.9461, 0.9386, 0.9366, 0.9363, 0.9433, 0.9418, 0.9450, 0.9464),
    },
    VIDEO: {
        0.2: (0.5738, 0.5468, 0.6575, 0.5311, 0.6268, 0.5289, 0.5174, 0.5351, 0.6239, 0.6070, 0.5335),
        0.3: (0.5437, 0.5353, 0.6291, 0.5197, 0.6036, 0.5225, 0.5090, 0.5321, 0.6083, 0.5887, 0.5167),
        0.4: (0.5185, 0.5220, 0.6016, 0.4929, 0.5956, 0.5156, 0.4969, 0.5242, 0.6004, 0.5827, 0.4983),
    },
}
PAPER_TABLE_NUMBER = {FRAME: 2, VIDEO: 3}
PAPER_SCORER = {FRAME: "YOLOv3, CASIA-B", VIDEO: "ResNeXt-101, CASIA-B"}
OURS, PAPER = "this run", "paper"


def paper_frame(metric: str) -> pd.DataFrame:
    """The paper's table for ``metric`` (:data:`FRAME` or :data:`VIDEO`): index alpha labels (``"0.2"``),
    columns the views as strings."""
    table = PAPER_SCORES[metric]
    return pd.DataFrame([list(v) for v in table.values()], index=pd.Index([f"{a:g}" for a in table], name="alpha"),
                        columns=[str(v) for v in PAPER_VIEWS])


def falling_views(table: pd.DataFrame) -> list[str]:
    """The columns of ``table`` (rows in rising alpha) whose values fall strictly from each row to the next;
    columns with a missing value are left out."""
    return [c for c in table.columns
            if table[c].notna().all() and bool((np.diff(table[c].to_numpy(dtype=float)) < 0).all())]


def profile_r(ours: pd.Series, paper: pd.Series) -> float:
    """Pearson r of two per-view profiles over the views both have (NaN with fewer than three, or a flat one)."""
    both = pd.concat([ours, paper], axis=1).dropna().to_numpy(dtype=float)
    if len(both) < 3 or np.ptp(both[:, 0]) == 0 or np.ptp(both[:, 1]) == 0:
        return math.nan
    return float(np.corrcoef(both[:, 0], both[:, 1])[0, 1])


def paper_tables(frame: pd.DataFrame, labels: Mapping[str, str]) -> list[tuple[Table, list[str]]]:
    """Tables 2-3 of the paper under the run's own numbers, with a verdict per table.

    One table per method with an alpha sweep that shares at least two alphas with the paper (0.2, 0.3, 0.4), per
    frame or video scorer. Rows (alpha, source): the run's mean over seeds, then the paper's; columns: the
    paper's views the run has. The verdicts: how many views fall strictly with alpha in the run and in the paper
    (the paper's section 4.4 claim), which do not in the run, and per alpha the Pearson r between the two per-view
    profiles.
    """
    out = []
    for metric in (FRAME, VIDEO):
        paper = paper_frame(metric)
        number = PAPER_TABLE_NUMBER[metric]
        for evaluator in evaluators(frame, metric):
            for method, sweep in alpha_sweep(frame, metric=metric, evaluator=evaluator).items():
                ours = sweep.mean.copy()
                ours.index = [f"{a:g}" for a in sweep.alphas]
                seeds = pd.Series(sweep.seeds.to_numpy(), index=ours.index)
                keep = ~ours.index.duplicated()  # another parameter beside alpha: the first setting of each alpha
                ours, seeds = ours[keep], seeds[keep]
                alphas = [a for a in paper.index if a in ours.index]
                views = [c for c in paper.columns if c in ours.columns]
                if len(alphas) < 2 or not views:
                    continue
                ours, theirs = ours.loc[alphas, views], paper.loc[alphas, views]
                rows = pd.concat({OURS: ours, PAPER: theirs}, names=["source", "alpha"]).swaplevel()
                rows = rows.reindex(pd.MultiIndex.from_product([alphas, [OURS, PAPER]], names=["alpha", "source"]))
                ours_fall, paper_fall = falling_views(ours), falling_views(theirs)
                not_falling = [v for v in views if v not in ours_fall]
                what = "frame score" if metric == FRAME else "video score"
                verdicts = [
                    f"Table {number} ({method}, {evaluator}): the {what} falls strictly with alpha "
                    f"({alphas[0]} to {alphas[-1]}) at {len(ours_fall)} of {len(views)} views in this run "
                    + (f"(not at {', '.join(not_falling)})" if not_falling else "(every view)")
                    + f", at {len(paper_fall)} of {len(views)} in the paper.",
                    f"Table {number} ({method}, {evaluator}): per-view profile against the paper's, Pearson r "
                    + ", ".join(f"{r:.2f}" if not math.isnan(r) else "n/a" for r in
                                (profile_r(ours.loc[a], theirs.loc[a]) for a in alphas))
                    + f" at alpha {', '.join(alphas)}.",
                ]
                counts = ", ".join(str(int(seeds[a])) for a in alphas)
                out.append((Table(
                    name=f"paper-table{number}-{method}-{evaluator}",
                    title=f"Table {number} beside this run: {what} per view and alpha, {method} ({evaluator}) and "
                          f"the paper's ST-GAN ({PAPER_SCORER[metric]})",
                    frame=rows, source=f"{evaluator_label(evaluator, labels)}; paper: {PAPER_SCORER[metric]}",
                    digits=4,
                    note=f"this run: mean over seeds per alpha (seeds: {counts}), probe conditions pooled; paper: Tieu "
                         f"et al., Table {number}, 40 CASIA-B test subjects. The scorers differ: compare the "
                         f"direction and the profile over views, not the values"), verdicts))
    return out
