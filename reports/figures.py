"""The report's figures: one function per paper figure, each a pure function of the tidy results table.

Every function returns a :class:`matplotlib.figure.Figure` drawn from the same numbers as the matching table
of :mod:`reports.tables` (nothing is recomputed differently for a plot). Figures are built without pyplot, so
no global backend or figure list is touched; :func:`figure_bytes` encodes PNG or PDF (Agg / PDF backends) with
metadata that holds no date, so the same table gives the same bytes.

======================  ========================  ==============================================================
paper                   function                  what
======================  ========================  ==============================================================
Fig. 11                 :func:`success_figure`    success rate per view, methods as grouped bars, top-1 and top-3
Figs. 13, 14            :func:`score_figure`      frame or video score per view, one line per method
Figs. 15, 16            :func:`alpha_figure`      success rate per view, one line per alpha (mean, min-max bars)
Fig. 12                 :func:`mos_figure`        MOS box plots per view and method, triangle at the mean
======================  ========================  ==============================================================
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from reports.tables import ALL, METRIC_NAMES, REFERENCE, SUCCESS, alpha_sweep, by_view, ks, mos_boxes, variants

#: metadata written into each format: no dates, so output depends on the data only
METADATA: dict[str, dict[str, str | None]] = {
    "png": {"Software": None},
    "pdf": {"Creator": None, "Producer": None, "CreationDate": None, "ModDate": None},
}
DPI = 150
_PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
            "#393b79", "#ad494a", "#637939", "#7b4173", "#8c6d31", "#3182bd", "#e6550d"]
_REFERENCE_COLOUR = "#7f7f7f"



def _wrap(text: str, width: int = 110) -> str:
    """A title broken into lines that fit the figure: model labels are long (they say exactly what produced the
    numbers), and one line of them runs off both edges."""
    return textwrap.fill(text, width=width, break_on_hyphens=False)

def colours(labels: Iterable[str]) -> dict[str, str]:
    """A colour per variant label, in the order given: grey for identity, then a fixed palette (cycled)."""
    out: dict[str, str] = {}
    others = 0
    for label in labels:
        if label in out:
            continue
        if label == REFERENCE:
            out[label] = _REFERENCE_COLOUR
        else:
            out[label] = _PALETTE[others % len(_PALETTE)]
            others += 1
    return out


def run_colours(frame: pd.DataFrame) -> dict[str, str]:
    """:func:`colours` of every variant in ``frame`` (all metrics), so a method has one colour in all figures."""
    return colours(variants(frame))


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _views(table: pd.DataFrame) -> list[int]:
    return [int(c) for c in table.columns if c != ALL]


def _legend(fig: Figure, ax: object, count: int) -> None:
    handles, labels = ax.get_legend_handles_labels()  # type: ignore[attr-defined]
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=min(4, max(1, count)), fontsize="small",
                   frameon=False)


def success_figure(frame: pd.DataFrame, evaluator: str, label: str | None = None,
                   topk: Sequence[int] | None = None) -> Figure:
    """Fig. 11: success rate (%) per view against one recognizer, methods side by side as grouped bars.

    One axes per k (top-1 above top-3); bar ``j`` of view ``v`` is :func:`reports.tables.by_view` for
    variant ``j`` at ``v`` (probe conditions pooled, weighted by n), times 100. Each variant's bars form one
    ``BarContainer`` labelled with the variant.

    Parameters
    ----------
    frame : DataFrame
        The tidy results table.
    evaluator : str
        The recognizer.
    label : str, optional
        Its label for the title (default the evaluator name).
    topk : sequence of int, optional
        The k to show (default every k of the evaluator's success-rate rows).
    """
    topk = list(topk) if topk is not None else ks(frame, SUCCESS, evaluator)
    if not topk:
        raise ValueError(f"no success_rate rows for evaluator {evaluator!r}")
    tables = [by_view(frame, metric=SUCCESS, evaluator=evaluator, k=k) for k in topk]
    fig = _figure(11.0, 2.0 + 3.0 * len(topk))
    axes = fig.subplots(len(topk), 1, squeeze=False)[:, 0]
    shown = list(dict.fromkeys(v for t in tables for v in t.index))
    palette = run_colours(frame)
    for ax, k, table in zip(axes, topk, tables, strict=True):
        views = _views(table)
        width = 0.8 / max(1, len(table.index))
        x = np.arange(len(views), dtype=float)
        for j, variant in enumerate(table.index):
            heights = 100.0 * table.loc[variant, [str(v) for v in views]].to_numpy(dtype=float)
            ax.bar(x - 0.4 + width * (j + 0.5), heights, width, label=variant, color=palette[variant])
        ax.set_xticks(x, [f"{v}°" for v in views])
        ax.set_ylim(0, 100)
        ax.set_ylabel(f"top-{k} success rate (%)")
        ax.set_title(f"top-{k}", fontsize="medium")
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
    axes[-1].set_xlabel("view")
    fig.suptitle(_wrap(f"Success rate against {label or evaluator}"))
    _legend(fig, axes[0], len(shown))
    return fig


def score_figure(frame: pd.DataFrame, evaluator: str, metric: str, label: str | None = None) -> Figure:
    """Figs. 13-14: a naturalness score (``frame_score`` or ``video_score``) per view, one line per variant.

    Line ``j`` is :func:`reports.tables.by_view` for variant ``j`` (conditions pooled, weighted by n); its
    x data are the views in degrees. The title names the score and the scorer's label, e.g.
    ``"frame score: frame-hog (OpenCV HOG ...)"``.
    """
    table = by_view(frame, metric=metric, evaluator=evaluator)
    if table.empty:
        raise ValueError(f"no {metric} rows for evaluator {evaluator!r}")
    fig = _figure(9.0, 5.0)
    ax = fig.add_subplot()
    views = _views(table)
    palette = run_colours(frame)
    for variant in table.index:
        values = table.loc[variant, [str(v) for v in views]].to_numpy(dtype=float)
        ax.plot(views, values, marker="o", label=variant, color=palette[variant])
    ax.set_xticks(views, [f"{v}°" for v in views])
    ax.set_xlabel("view")
    ax.set_ylabel(METRIC_NAMES.get(metric, metric))
    ax.grid(alpha=0.3)
    ax.set_title(_wrap(f"{METRIC_NAMES.get(metric, metric)}: {label or evaluator}", 90))
    _legend(fig, ax, len(table.index))
    return fig


def alpha_figure(frame: pd.DataFrame, evaluator: str, label: str | None = None, method: str = "stgan",
                 topk: Sequence[int] | None = None) -> Figure:
    """Figs. 15-16: success rate (%) per view against one recognizer, one line per alpha of ``method``.

    Each line is :func:`reports.tables.alpha_sweep`'s mean over the seeds of that alpha, drawn by ``errorbar``
    (its container is labelled ``alpha = A``, plus ``(N seeds)`` when there are several); with several seeds,
    bars span their minimum to maximum. One axes per k.
    """
    topk = list(topk) if topk is not None else ks(frame, SUCCESS, evaluator)
    found = [alpha_sweep(frame, metric=SUCCESS, evaluator=evaluator, k=k, method=method).get(method) for k in topk]
    sweeps = [s for s in found if s is not None]
    if not topk or len(sweeps) != len(topk):
        raise ValueError(f"no success_rate rows of {method!r} with an alpha parameter for evaluator {evaluator!r}")
    fig = _figure(9.0, 2.0 + 3.0 * len(topk))
    axes = fig.subplots(len(topk), 1, squeeze=False)[:, 0]
    for ax, k, sweep in zip(axes, topk, sweeps, strict=True):
        views = _views(sweep.mean)
        cols = [str(v) for v in views]
        palette = colours(f"alpha = {a}" for a in sweep.mean.index)
        for alpha in sweep.mean.index:
            mean = 100.0 * sweep.mean.loc[alpha, cols].to_numpy(dtype=float)
            seeds = int(sweep.seeds[alpha])
            yerr = None
            if seeds > 1:
                low = 100.0 * sweep.low.loc[alpha, cols].to_numpy(dtype=float)
                high = 100.0 * sweep.high.loc[alpha, cols].to_numpy(dtype=float)
                yerr = np.vstack([mean - low, high - mean])
            name = f"alpha = {alpha}"
            ax.errorbar(views, mean, yerr=yerr, marker="o", capsize=3, color=palette[name],
                        label=name + (f" ({seeds} seeds)" if seeds > 1 else ""))
        ax.set_xticks(views, [f"{v}°" for v in views])
        ax.set_ylim(0, 100)
        ax.set_ylabel(f"top-{k} success rate (%)")
        ax.set_title(f"top-{k}", fontsize="medium")
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("view")
    several = any(int(n) > 1 for sweep in sweeps for n in sweep.seeds)
    fig.suptitle(_wrap(f"Effect of alpha ({method}) on success rate against {label or evaluator}")
                 + ("\nlines: mean over seeds, bars: their minimum to maximum" if several else ""))
    _legend(fig, axes[0], len(sweeps[0].mean.index))
    return fig


def mos_figure(frame: pd.DataFrame, label: str | None = None) -> Figure:
    """Fig. 12: MOS box plots per view, methods side by side (the survey's ``mos*`` rows).

    Boxes span ``q1`` to ``q3`` with a line at the median, whiskers reach ``min`` and ``max`` and a triangle
    marks the mean, as in the paper. Each box's artists carry the gid ``"<part>:<method>:<view>"`` (part =
    box, median, mean, whisker, cap), so the drawn numbers can be read back from the Axes.
    """
    boxes = mos_boxes(frame)
    boxes = boxes[boxes["view"] != -1]
    if boxes.empty:
        raise ValueError("no MOS rows (metric mos_q1 ... mos_max) in the results")
    shown = list(dict.fromkeys(boxes["method"]))
    views = sorted(set(int(v) for v in boxes["view"]))
    palette = run_colours(frame)
    fig = _figure(11.0, 5.0)
    ax = fig.add_subplot()
    width = 0.8 / len(shown)
    for j, variant in enumerate(shown):
        mine = boxes[boxes["method"] == variant].set_index("view")
        stats, positions, present = [], [], []
        for i, view in enumerate(views):
            if view not in mine.index:
                continue
            r = mine.loc[view]
            stats.append({"med": r["median"], "q1": r["q1"], "q3": r["q3"], "whislo": r["min"], "whishi": r["max"],
                          "mean": r["mean"], "fliers": [], "label": f"{view}"})
            positions.append(i - 0.4 + width * (j + 0.5))
            present.append(view)
        drawn = ax.bxp(stats, positions=positions, widths=width * 0.85, showmeans=True, patch_artist=True,
                       manage_ticks=False,
                       boxprops={"facecolor": palette[variant], "alpha": 0.6},
                       medianprops={"color": "black"},
                       meanprops={"marker": "^", "markerfacecolor": "white", "markeredgecolor": "black"})
        for part, artists in (("box", drawn["boxes"]), ("median", drawn["medians"]), ("mean", drawn["means"])):
            for view, artist in zip(present, artists, strict=True):
                artist.set_gid(f"{part}:{variant}:{view}")
        for part in ("whisker", "cap"):  # two per box: low then high
            for n, artist in enumerate(drawn[f"{part}s"]):
                artist.set_gid(f"{part}:{variant}:{present[n // 2]}")
        drawn["boxes"][0].set_label(variant)
    ax.set_xticks(np.arange(len(views)), [f"{v}°" for v in views])
    ax.set_xlim(-0.6, len(views) - 0.4)
    ax.set_ylim(0.8, 5.2)
    ax.set_xlabel("view")
    ax.set_ylabel("opinion score (1 bad .. 5 excellent)")
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(_wrap("Mean opinion score" + (f": {label}" if label else "") + " (triangles: means)", 90))
    _legend(fig, ax, len(shown))
    return fig


def figure_bytes(fig: Figure, fmt: str = "png", dpi: int = DPI) -> bytes:
    """``fig`` encoded as ``fmt`` (png or pdf) with :data:`METADATA` (no dates)."""
    if fmt not in METADATA:
        raise ValueError(f"figure format must be one of {sorted(METADATA)}, got {fmt!r}")
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=dpi, metadata=METADATA[fmt])
    return buffer.getvalue()

