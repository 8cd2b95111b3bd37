"""The report's figures: one function per paper figure, each a pure function of the tidy results table.

Every function returns a :class:`matplotlib.figure.Figure` drawn from the same numbers as the matching table
of :mod:`reports.tables` (nothing is recomputed differently for a plot). Figures are built without pyplot, so
no global backend or figure list is touched; :func:`figure_bytes` encodes PNG or PDF (Agg / PDF backends) with
metadata that holds no date, so the same table gives the same bytes.

======================  ========================  ==============================================================
paper                   function                  what
======================  ========================  ==============================================================
(trade-off)             :func:`tradeoff_figure`   success rate and EER against naturalness, Pareto front marked
Fig. 11                 :func:`success_figure`    success rate per view, methods as grouped bars, top-1 and top-3
Fig. 11 (polar)         :func:`polar_figure`      top-1 success rate per view on a half-polar axis
Figs. 13, 14            :func:`score_figure`      frame or video score per view, one line per method
Figs. 15, 16            :func:`alpha_figure`      success rate per view, one line per alpha (mean, min-max bars)
Fig. 12                 :func:`mos_figure`        MOS box plots per view and method, triangle at the mean
======================  ========================  ==============================================================
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Iterable, Sequence
from typing import cast

import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.projections.polar import PolarAxes
from matplotlib.text import Annotation, Text

from reports.tables import (
    ALL,
    EER,
    METRIC_NAMES,
    REFERENCE,
    SUCCESS,
    alpha_sweep,
    evaluators,
    ks,
    mos_boxes,
    tradeoff,
    variants,
    view_cells,
)

#: metadata written into each format: no dates, so output depends on the data only
METADATA: dict[str, dict[str, str | None]] = {
    "png": {"Software": None},
    "pdf": {"Creator": None, "Producer": None, "CreationDate": None, "ModDate": None},
}
DPI = 150
#: Figs. 15-16 with several seeds: neighbouring alphas' lines are this share of the views' span apart
DODGE = 0.012
_PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
            "#393b79", "#ad494a", "#637939", "#7b4173", "#8c6d31", "#3182bd", "#e6550d"]
_REFERENCE_COLOUR = "#7f7f7f"



def _wrap(text: str, width: int = 110) -> str:
    """A title broken into lines of at most ``width`` characters (each paragraph of ``text`` on its own): model
    labels are long (they say exactly what produced the numbers), and one line of them runs off both edges."""
    return "\n".join(textwrap.fill(line, width=max(10, width), break_on_hyphens=False) for line in text.split("\n"))


def _fit(title: Text, text: str, room: float) -> Text:
    """Set ``text`` on ``title``, wrapped at the widest width whose lines fit ``room`` (display pixels).

    The width is measured with the figure's renderer, not guessed from a character count, so the title stays inside
    whatever the font; constrained layout then makes room above the axes for its height.
    """
    renderer = cast(Figure, title.figure).canvas.get_renderer()  # type: ignore[attr-defined]
    width = max(len(line) for line in text.split("\n"))
    while True:
        title.set_text(_wrap(text, width))
        if width <= 10 or title.get_window_extent(renderer).width <= room:
            return title
        width = int(width * 0.92)


def _suptitle(fig: Figure, text: str) -> Text:
    """The figure's title, wrapped to fit the figure's width."""
    return _fit(fig.suptitle(text), text, 0.96 * fig.bbox.width)


def _axes_title(ax: Axes, text: str, **kwargs: object) -> Text:
    """An axes title, wrapped to fit the axes' column of the figure (its width before the layout shrinks it)."""
    fig = cast(Figure, ax.figure)  # .figure, not get_figure(root=True): matplotlib 3.8 and 3.9 lack the latter
    return _fit(ax.set_title(text, **kwargs), text, 0.9 * ax.get_position().width * fig.bbox.width)  # type: ignore[arg-type]


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
    order = sorted(range(len(labels)), key=lambda i: labels[i] == "chance")  # what marks the lines last
    handles, labels = [handles[i] for i in order], [labels[i] for i in order]
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
    cells = [view_cells(frame, metric=SUCCESS, evaluator=evaluator, k=k) for k in topk]
    fig = _figure(11.0, 2.0 + 3.0 * len(topk))
    axes = fig.subplots(len(topk), 1, squeeze=False)[:, 0]
    shown = list(dict.fromkeys(v for c in cells for v in c.value.index))
    palette = run_colours(frame)
    intervals = False
    for ax, k, cell in zip(axes, topk, cells, strict=True):
        table = cell.value
        views = _views(table)
        columns = [str(v) for v in views]
        width = 0.8 / max(1, len(table.index))
        x = np.arange(len(views), dtype=float)
        for j, variant in enumerate(table.index):
            heights = 100.0 * table.loc[variant, columns].to_numpy(dtype=float)
            yerr = _yerr(heights, cell.low.loc[variant, columns], cell.high.loc[variant, columns])
            intervals |= yerr is not None
            ax.bar(x - 0.4 + width * (j + 0.5), heights, width, label=variant, color=palette[variant], yerr=yerr,
                   error_kw={"elinewidth": 0.8, "capsize": 1.5, "ecolor": "black", "alpha": 0.7})
        ax.set_xticks(x, [f"{v}°" for v in views])
        ax.set_ylim(0, 100)
        ax.set_ylabel(f"top-{k} success rate (%)")
        ax.set_title(f"top-{k}", fontsize="medium")
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
    axes[-1].set_xlabel("view")
    _suptitle(fig, f"Success rate against {label or evaluator}"
              + ("\nbars: 95% intervals (Wilson, probe conditions pooled)" if intervals else ""))
    _legend(fig, axes[0], len(shown))
    return fig


def _yerr(values: np.ndarray, low: pd.Series, high: pd.Series, scale: float = 100.0) -> np.ndarray | None:
    """Error bar lengths ``(2, N)`` below and above ``values`` (already scaled) from an interval, NaN where a cell
    has none; None when no cell has one."""
    lo, hi = scale * low.to_numpy(dtype=float), scale * high.to_numpy(dtype=float)
    if np.isnan(lo).all() or np.isnan(hi).all():
        return None
    # an interval that does not hold its value (rounding in the CSV) must not give a negative length
    return np.vstack([np.clip(values - lo, 0.0, None), np.clip(hi - values, 0.0, None)])


def polar_figure(frame: pd.DataFrame, evaluator: str, label: str | None = None, k: int = 1) -> Figure:
    """Top-``k`` success rate (%) per view on a half-polar axis: the angle is the view (0° to 180°, as the camera
    sees the walker), the radius the rate, one line per variant (the same numbers as :func:`success_figure`), and
    a dotted line (gid ``chance``) at the chance level where the results hold one.

    Each line (gid ``rate:<variant>``) has its markers at the views (``markevery``): there its x data are the
    views in radians and its y data :func:`reports.tables.by_view` times 100; between them, the rate interpolated.
    """
    cells = view_cells(frame, metric=SUCCESS, evaluator=evaluator, k=k)
    table = cells.value
    if table.empty:
        raise ValueError(f"no top-{k} success_rate rows for evaluator {evaluator!r}")
    views = _views(table)
    fig = _figure(11.0, 5.5)
    ax = cast(PolarAxes, fig.add_subplot(projection="polar"))
    palette = run_colours(frame)
    for variant in table.index:
        values = 100.0 * table.loc[variant, [str(v) for v in views]].to_numpy(dtype=float)
        at = np.asarray(views, dtype=float)[~np.isnan(values)]
        rates = values[~np.isnan(values)]
        if not len(at):
            continue
        # between views the rate is interpolated along the arc (a straight segment would cut across as a chord);
        # the views themselves are on the line's grid and carry its markers
        angles = np.union1d(np.linspace(at.min(), at.max(), 181), at)
        ax.plot(np.radians(angles), np.interp(angles, at, rates), marker="o",
                markevery=np.searchsorted(angles, at).tolist(), label=variant, color=palette[variant],
                linewidth=2.0 if variant == REFERENCE else 1.3, linestyle="--" if variant == REFERENCE else "-",
                gid=f"rate:{variant}")
    chance = cells.chance[[str(v) for v in views]].mean(axis=0).to_numpy(dtype=float)  # the same for every variant
    if not np.isnan(chance).any():
        angles = np.linspace(min(views), max(views), 181)
        ax.plot(np.radians(angles), 100.0 * np.interp(angles, views, chance), color="black", linestyle=":",
                linewidth=1.0, label="chance", gid="chance")
    ax.set_thetamin(min(0, *views))
    ax.set_thetamax(max(180, *views))
    ax.set_xticks(np.radians(views), [f"{v}°" for v in views])
    ax.set_ylim(0, 100)
    ax.set_rlabel_position(90)
    ax.grid(alpha=0.4)
    _suptitle(fig, f"Top-{k} success rate (%) by view against {label or evaluator}; angle: view, radius: rate")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside right center", fontsize="small", frameon=False)
    return fig


def score_figure(frame: pd.DataFrame, evaluator: str, metric: str, label: str | None = None) -> Figure:
    """Figs. 13-14: a naturalness score (``frame_score`` or ``video_score``) per view, one line per variant.

    Line ``j`` is :func:`reports.tables.by_view` for variant ``j`` (conditions pooled, weighted by n); its
    x data are the views in degrees. Where the results give a view's 95% interval (one probe condition, or the
    scorer's pooled row), a shaded band (gid ``band:<variant>``) spans it. The title names the score and the
    scorer's label, e.g. ``"frame score: frame-hog (OpenCV HOG ...)"``.
    """
    cells = view_cells(frame, metric=metric, evaluator=evaluator)
    table = cells.value
    if table.empty:
        raise ValueError(f"no {metric} rows for evaluator {evaluator!r}")
    fig = _figure(9.0, 5.0)
    ax = fig.add_subplot()
    views = _views(table)
    cols = [str(v) for v in views]
    palette = run_colours(frame)
    banded = False
    for variant in table.index:
        values = table.loc[variant, cols].to_numpy(dtype=float)
        ax.plot(views, values, marker="o", label=variant, color=palette[variant])
        low, high = (cells.low.loc[variant, cols].to_numpy(dtype=float),
                     cells.high.loc[variant, cols].to_numpy(dtype=float))
        if not (np.isnan(low).all() or np.isnan(high).all()):
            ax.fill_between(views, low, high, color=palette[variant], alpha=0.12, linewidth=0, gid=f"band:{variant}")
            banded = True
    ax.set_xticks(views, [f"{v}°" for v in views])
    ax.set_xlabel("view")
    ax.set_ylabel(METRIC_NAMES.get(metric, metric))
    ax.grid(alpha=0.3)
    _axes_title(ax, f"{METRIC_NAMES.get(metric, metric)}: {label or evaluator}"
                + ("\nbands: 95% intervals (Student-t over sequences)" if banded else ""))
    _legend(fig, ax, len(table.index))
    return fig


def alpha_figure(frame: pd.DataFrame, evaluator: str, label: str | None = None, method: str = "stgan",
                 topk: Sequence[int] | None = None) -> Figure:
    """Figs. 15-16: success rate (%) per view against one recognizer, one line per alpha of ``method``.

    Each line is :func:`reports.tables.alpha_sweep`'s mean over the seeds of that alpha, drawn by ``errorbar``
    (its container is labelled ``alpha = A``, plus ``(N seeds)`` when there are several); with several seeds,
    bars span their minimum to maximum; with one, a shaded band (gid ``band:<alpha>``) spans each view's 95%
    interval. A dashed line (gid ``chance``) marks the chance level where the results hold one. One axes per k.
    """
    topk = list(topk) if topk is not None else ks(frame, SUCCESS, evaluator)
    found = [alpha_sweep(frame, metric=SUCCESS, evaluator=evaluator, k=k, method=method).get(method) for k in topk]
    sweeps = [s for s in found if s is not None]
    if not topk or len(sweeps) != len(topk):
        raise ValueError(f"no success_rate rows of {method!r} with an alpha parameter for evaluator {evaluator!r}")
    fig = _figure(9.0, 2.0 + 3.0 * len(topk))
    axes = fig.subplots(len(topk), 1, squeeze=False)[:, 0]
    banded = False
    for ax, k, sweep in zip(axes, topk, sweeps, strict=True):
        views = _views(sweep.mean)
        cols = [str(v) for v in views]
        palette = colours(f"alpha = {a}" for a in sweep.mean.index)
        cells = view_cells(frame, metric=SUCCESS, evaluator=evaluator, k=k)
        # seed ranges of several alphas at one view would hide each other: each alpha's line is moved sideways a
        # little (a fortieth of the views' span between neighbours), the view still under its tick
        alphas = list(sweep.mean.index)
        step = DODGE * (max(views) - min(views) or 1) if (sweep.seeds > 1).any() else 0.0
        for row, alpha in enumerate(alphas):
            x = np.asarray(views, dtype=float) + (row - (len(alphas) - 1) / 2) * step
            mean = 100.0 * sweep.mean.loc[alpha, cols].to_numpy(dtype=float)
            seeds = int(sweep.seeds[alpha])
            yerr = None
            name = f"alpha = {alpha}"
            if seeds > 1:
                low = 100.0 * sweep.low.loc[alpha, cols].to_numpy(dtype=float)
                high = 100.0 * sweep.high.loc[alpha, cols].to_numpy(dtype=float)
                # seeds that agree at a view have a float mean a rounding step outside their min..max (0.1 three
                # times: the mean is 0.10000000000000002): no bar there, not a negative one
                yerr = np.clip(np.vstack([mean - low, high - mean]), 0.0, None)
            elif sweep.variants and sweep.variants[row][0] in cells.low.index:
                variant = sweep.variants[row][0]
                low = 100.0 * cells.low.loc[variant, cols].to_numpy(dtype=float)
                high = 100.0 * cells.high.loc[variant, cols].to_numpy(dtype=float)
                if not (np.isnan(low).all() or np.isnan(high).all()):
                    ax.fill_between(views, low, high, color=palette[name], alpha=0.12, linewidth=0,
                                    gid=f"band:{alpha}")
                    banded = True
            ax.errorbar(x, mean, yerr=yerr, marker="o", capsize=3, color=palette[name],
                        label=name + (f" ({seeds} seeds)" if seeds > 1 else ""))
        chance = cells.chance[cols].mean(axis=0).to_numpy(dtype=float)
        if not np.isnan(chance).all():
            ax.plot(views, 100.0 * chance, linestyle="--", color=_REFERENCE_COLOUR, linewidth=1.0, zorder=1,
                    label="chance", gid="chance")
        ax.set_xticks(views, [f"{v}°" for v in views])
        ax.set_ylim(0, 100)
        ax.set_ylabel(f"top-{k} success rate (%)")
        ax.set_title(f"top-{k}", fontsize="medium")
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("view")
    several = any(int(n) > 1 for sweep in sweeps for n in sweep.seeds)
    notes = (["lines: mean over seeds, bars: their minimum to maximum"] if several else []) + (
        ["bands: 95% intervals"] if banded else [])
    _suptitle(fig, f"Effect of alpha ({method}) on success rate against {label or evaluator}"
              + (f"\n{'; '.join(notes)}; dashed: chance" if notes else ""))
    _legend(fig, axes[0], len(sweeps[0].mean.index) + 1)
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
    _axes_title(ax, "Mean opinion score" + (f": {label}" if label else "") + " (triangles: means)")
    _legend(fig, ax, len(shown))
    return fig


_MARKERS = ["o", "s", "D", "^", "v", "P", "X", "h", "<", ">", "p", "d"]


def _tradeoff_panel(ax: Axes, frame: pd.DataFrame, naturalness: str, scorer: str, evaluator: str, metric: str,
                    k: int, palette: dict[str, str]) -> None:
    """One panel of :func:`tradeoff_figure`: the points of :func:`reports.tables.tradeoff`, in percent on y."""
    data = tradeoff(frame, naturalness=naturalness, scorer=scorer, evaluator=evaluator, metric=metric, k=k)
    points = data.points
    methods = [m for m in dict.fromkeys(points["method"]) if m != REFERENCE]
    for curve in dict.fromkeys(points["curve"]):
        mine = points[points["curve"] == curve].sort_values(["swept", "x"])
        method = str(mine["method"].iloc[0])
        reference = method == REFERENCE
        x, y = mine["x"].to_numpy(dtype=float), 100.0 * mine["y"].to_numpy(dtype=float)
        xerr = _yerr(x, mine["x_low"], mine["x_high"], scale=1.0)
        yerr = _yerr(y, mine["y_low"], mine["y_high"])
        colour = palette[str(mine.index[0])]
        drawn = ax.errorbar(x, y, xerr=xerr, yerr=yerr, color=colour,
                            marker="*" if reference else _MARKERS[methods.index(method) % len(_MARKERS)],
                            markersize=11 if reference else 6, linestyle="-" if len(mine) > 1 else "none",
                            linewidth=1.2, elinewidth=0.7, capsize=2, alpha=0.9, zorder=3,
                            label=f"{curve} (clean data)" if reference else curve)
        drawn.lines[0].set_gid(f"curve:{curve}")
        if len(mine) > 1:
            for key, value, xi, yi in zip(mine["key"], mine["swept"], x, y, strict=True):
                ax.annotate(f"{key}={value:g}", (xi, yi), xytext=(7, 5), textcoords="offset points",
                            fontsize="x-small", color=colour, gid=f"label:{curve}")
    front = points.loc[list(data.front)]
    if len(front):
        fx, fy = front["x"].to_numpy(dtype=float), 100.0 * front["y"].to_numpy(dtype=float)
        # the front sorted by x has y falling: steps-pre draws the edge of the region it dominates
        ax.plot(fx, fy, drawstyle="steps-pre", linestyle=":", color="black", linewidth=1.0, zorder=2,
                gid="front-line")
        ax.plot(fx, fy, linestyle="none", marker="o", markersize=13, markerfacecolor="none", markeredgecolor="black",
                markeredgewidth=1.0, zorder=4, label="Pareto front", gid="front")
    if not np.isnan(data.chance):
        ax.axhline(100.0 * data.chance, linestyle="--", color=_REFERENCE_COLOUR, linewidth=1.0, zorder=1,
                   label="chance", gid="chance")
    what = f"top-{k} success rate" if metric == SUCCESS else METRIC_NAMES.get(metric, metric)
    ax.set_ylabel(f"{what} (%), higher = more private")
    ax.set_xlabel(f"{METRIC_NAMES.get(naturalness, naturalness)} by {scorer}, higher = more natural")
    _axes_title(ax, f"{what} against {evaluator}", fontsize="medium")
    ax.grid(alpha=0.3)
    ax.set_axisbelow(True)


def _spread_labels(ax: Axes) -> None:
    """Move the ``key=value`` labels of ``ax`` up until no two overlap, the lowest first.

    The points of a sweep often lie close together (our ST-GAN over alpha sits at one frame score), and labels
    placed at a fixed offset then print over each other. Measured with the figure's renderer after the layout; a
    label moved by more than its height gets a thin leader line to its point. Deterministic: same data, same
    picture.
    """
    fig = cast(Figure, ax.figure)
    labels = [t for t in ax.texts if isinstance(t, Annotation) and str(t.get_gid() or "").startswith("label:")]
    if len(labels) < 2:
        return
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    boxes = {id(t): t.get_window_extent(renderer) for t in labels}
    placed: list[object] = []
    points_per_pixel = 72.0 / fig.dpi
    for label in sorted(labels, key=lambda t: (boxes[id(t)].y0, boxes[id(t)].x0)):
        box = boxes[id(label)]
        shift = 0.0
        for _ in range(len(labels)):
            hits = [p for p in placed if box.translated(0, shift).overlaps(p)]  # type: ignore[arg-type]
            if not hits:
                break
            shift = max(p.y1 for p in hits) - box.y0 + 1.0  # type: ignore[attr-defined]
        placed.append(box.translated(0, shift))
        if shift <= 0:
            continue
        dx, dy = label.xyann
        label.xyann = (dx, dy + shift * points_per_pixel)
        if shift > box.height:  # far from its point: a leader line says which point it names
            ax.annotate("", label.xy, xytext=(dx, dy + shift * points_per_pixel), textcoords="offset points",
                        arrowprops={"arrowstyle": "-", "color": label.get_color(), "linewidth": 0.5,
                                    "shrinkA": 0, "shrinkB": 4, "alpha": 0.7},
                        gid=f"leader:{label.get_gid()}")


def tradeoff_figure(frame: pd.DataFrame, naturalness: str, scorer: str, label: str | None = None,
                    k: int = 1, recognizers: Sequence[str] | None = None, attack: str | None = None) -> Figure:
    """The trade-off at a glance: privacy (y) against naturalness (x) over all views and conditions.

    One column of panels per recognizer; the top row is the top-``k`` success rate (%), a second row the EER (%)
    where the results hold ``eer`` rows. Each point is :func:`reports.tables.tradeoff`'s: the ``all`` column of
    the naturalness table of ``scorer`` against that of the recognizer, with their 95% intervals as error bars in
    both directions. Variants of one method along a swept number are one line (its data line has the gid
    ``curve:<curve label>``), each point annotated ``key=value``; identity (the clean data) is a grey star. The
    Pareto front of the anonymizers (:func:`reports.tables.pareto_front`) is ringed (gid ``front``) and joined
    by a dotted step line (``front-line``); the dashed line (``chance``) is the chance level.

    Parameters
    ----------
    frame : DataFrame
        The tidy results table.
    naturalness : str
        ``frame_score`` or ``video_score``.
    scorer : str
        The naturalness scorer.
    label : str, optional
        The scorer's label for the title (default its name).
    k : int
        The success rate's k.
    recognizers : sequence of str, optional
        The evaluators drawn, one column each (default: every one with top-``k`` success rates), e.g. those of one
        attack model (:func:`reports.tables.attack_groups`).
    attack : str, optional
        The attack model those evaluators share, named in the title.
    """
    found = [e for e in evaluators(frame, SUCCESS) if k in ks(frame, SUCCESS, e)]
    recognizers = found if recognizers is None else [e for e in recognizers if e in found]
    if not recognizers:
        raise ValueError(f"no top-{k} success_rate rows: no trade-off to draw")
    rows = [(SUCCESS, k)] + ([(EER, 0)] if any(e in evaluators(frame, EER) for e in recognizers) else [])
    fig = _figure(1.0 + 5.0 * len(recognizers), 2.2 + 4.2 * len(rows))
    axes = fig.subplots(len(rows), len(recognizers), squeeze=False)
    palette = run_colours(frame)
    for (metric, k_), row in zip(rows, axes, strict=True):
        for evaluator, ax in zip(recognizers, row, strict=True):
            try:
                _tradeoff_panel(ax, frame, naturalness, scorer, evaluator, metric, k_, palette)
            except ValueError:  # this recognizer has no such rows, or none of the scored variants
                ax.set_axis_off()
                ax.text(0.5, 0.5, f"no {METRIC_NAMES.get(metric, metric)} rows of {evaluator}\nfor the variants "
                        f"scored by {scorer}", ha="center", va="center", transform=ax.transAxes, color="#8a5a00")
    against = f", {attack} attacker" if attack else ""
    _suptitle(fig, f"Privacy against naturalness ({METRIC_NAMES.get(naturalness, naturalness)} by "
                   f"{label or scorer}{against}), over all views and conditions\nbars: 95% intervals; ringed and "
                   "dotted: Pareto front of the anonymizers; dashed: chance")
    handles: dict[str, Artist] = {}
    for ax in fig.axes:
        for handle, name in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(name, handle)
    for last in ("Pareto front", "chance"):  # the variants first, then what marks them
        if last in handles:
            handles[last] = handles.pop(last)
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="outside lower center",
                   ncols=min(4, len(handles)), fontsize="small", frameon=False)
    for ax in fig.axes:  # last: the layout is final once titles and legend are in
        _spread_labels(ax)
    return fig


def figure_bytes(fig: Figure, fmt: str = "png", dpi: int = DPI) -> bytes:
    """``fig`` encoded as ``fmt`` (png or pdf) with :data:`METADATA` (no dates)."""
    if fmt not in METADATA:
        raise ValueError(f"figure format must be one of {sorted(METADATA)}, got {fmt!r}")
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=dpi, metadata=METADATA[fmt])
    return buffer.getvalue()

