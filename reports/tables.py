"""The report's tables: pure functions of the tidy results table (:mod:`benchmark.results`).

Every table is views as columns (degrees, then ``all`` = over all views) and one row per method variant
(``method`` plus its ``parameters``, e.g. ``stgan (alpha=0.3)``), or per alpha for the alpha sweep.

- **Pooling over probe conditions.** Rows of one method, evaluator, metric, k and view but different
  conditions (``nm``, ``bg``, ``cl``) are pooled into their n-weighted mean ``sum(value * n) / sum(n)``, which is
  the rate over all their probes; a ``condition = all`` row, where present, is used as it is instead.
- **The ``all`` column** holds the ``view = -1`` rows (pooled the same way); a variant without them gets the
  n-weighted mean of its per-view values.
- **Seeds.** For the alpha sweep, variants that differ only in ``seed`` are runs of one setting: the table
  holds their mean, :class:`Sweep` also the minimum and maximum and how many seeds there were.

:class:`Table` carries a table with its title, the model that produced its numbers and how to print it;
:func:`to_markdown`, :func:`to_latex` and :func:`to_csv` write it.
"""

from __future__ import annotations

import dataclasses
import io
import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from reports.run_dir import evaluator_label

SUCCESS = "success_rate"
FRAME = "frame_score"
VIDEO = "video_score"
TEMPORAL = "temporal_change_ratio"
FRECHET = "frechet"
MOS = "mos"
#: the survey's box-plot statistics and what they are called in the MOS table
MOS_STATS = {"mos": "mean", "mos_q1": "q1", "mos_median": "median", "mos_q3": "q3", "mos_min": "min",
             "mos_max": "max"}
#: metrics the report shows; anything else in the table is listed as not shown
SHOWN = (SUCCESS, "accuracy", FRAME, VIDEO, TEMPORAL, FRECHET, *MOS_STATS)
METRIC_NAMES = {SUCCESS: "success rate", FRAME: "frame score", VIDEO: "video score",
                TEMPORAL: "temporal change ratio", FRECHET: "Fréchet distance of embeddings", MOS: "MOS"}
ALL = "all"
REFERENCE = "identity"


@dataclasses.dataclass(frozen=True)
class Table:
    """A table of the report.

    Attributes
    ----------
    name : str
        File stem, e.g. ``success-top1-zheng2011``.
    title : str
        Caption, e.g. ``Top-1 success rate (%) against zheng2011 (...)``.
    frame : DataFrame
        The values as computed (fractions for rates); index = row labels (one or more levels), columns = strings.
    source : str
        Which evaluator / model produced the numbers.
    scale : float
        Factor applied when printing (100 for rates shown in percent).
    digits : int
        Decimals printed after scaling.
    note : str
        How the numbers were pooled, and what they rest on.
    """

    name: str
    title: str
    frame: pd.DataFrame
    source: str
    scale: float = 1.0
    digits: int = 4
    note: str = ""

    def shown(self) -> pd.DataFrame:
        """The values as printed: scaled (not rounded; the writers round)."""
        return self.frame * self.scale


@dataclasses.dataclass(frozen=True)
class Sweep:
    """One metric over the alpha sweep: ``mean``, ``low``, ``high`` (index alpha label, columns views + ``all``),
    ``seeds`` (runs behind each alpha) and the alpha values in row order."""

    mean: pd.DataFrame
    low: pd.DataFrame
    high: pd.DataFrame
    seeds: pd.Series
    alphas: tuple[float, ...]


# ----------------------------------------------------------------------------------------------------------
# parameters and variants


def parse_parameters(text: str) -> dict[str, str]:
    """``"alpha=0.3;seed=1"`` -> ``{"alpha": "0.3", "seed": "1"}`` (the inverse of ``format_parameters``)."""
    out = {}
    for part in str(text).split(";"):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"parameters {text!r}: {part!r} is not key=value")
        out[key.strip()] = value.strip()
    return out


def variant_label(method: str, parameters: str) -> str:
    """``stgan``, ``"alpha=0.3;seed=1"`` -> ``"stgan (alpha=0.3, seed=1)"``; the bare method without parameters."""
    params = parse_parameters(parameters)
    return f"{method} ({', '.join(f'{k}={v}' for k, v in params.items())})" if params else method


def _variant_order(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Identity first, then by method name, then by parameters with numbers compared as numbers."""
    def key(pair: tuple[str, str]) -> tuple[object, ...]:
        method, parameters = pair
        params = tuple((k, _number_or_text(v)) for k, v in parse_parameters(parameters).items())
        return (method != REFERENCE, method, params)
    return sorted(set(pairs), key=key)


def _number_or_text(text: str) -> tuple[int, float, str]:
    try:
        return (0, float(text), "")
    except ValueError:
        return (1, 0.0, text)


def variants(frame: pd.DataFrame) -> list[str]:
    """Labels of every variant (method and parameters) in ``frame``, identity first (the report's row order)."""
    return [variant_label(m, p) for m, p in _variant_order(zip(frame["method"], frame["parameters"], strict=True))]


def view_columns(views: Iterable[int]) -> list[str]:
    """``[90, -1, 0]`` -> ``["0", "90", "all"]``: views ascending, then ``all`` when -1 is there."""
    views = set(int(v) for v in views)
    return [str(v) for v in sorted(views - {-1})] + ([ALL] if -1 in views else [])


# ----------------------------------------------------------------------------------------------------------
# pooling


def pool_conditions(rows: pd.DataFrame, by: Sequence[str] = ("method", "parameters", "view")) -> pd.DataFrame:
    """n-weighted mean of ``value`` over conditions within each ``by`` group.

    Parameters
    ----------
    rows : DataFrame
        Tidy rows of one evaluator, metric and k.
    by : sequence of str
        The grouping columns.

    Returns
    -------
    DataFrame
        Columns ``by`` + ``value``, ``n`` (summed) and ``conditions`` (the pooled ones, comma-separated).
        A group with a ``condition = all`` row keeps that row alone. Rows with NaN values are left out; a group
        whose n add up to 0 gets the plain mean.
    """
    by = list(by)
    out = []
    for key, group in rows.groupby(by, sort=True):
        if (group["condition"] == ALL).any():
            group = group[group["condition"] == ALL]
        group = group[np.isfinite(group["value"].to_numpy())]
        if group.empty:
            continue
        n = int(group["n"].sum())
        value = float((group["value"] * group["n"]).sum() / n) if n > 0 else float(group["value"].mean())
        out.append({**dict(zip(by, key, strict=True)), "value": value, "n": n,
                    "conditions": ",".join(sorted(set(group["condition"])))})
    return pd.DataFrame(out, columns=[*by, "value", "n", "conditions"])


def select(frame: pd.DataFrame, *, metric: str, evaluator: str | None = None, k: int | None = None,
           condition: str | None = None) -> pd.DataFrame:
    """Rows of ``frame`` with the given metric (and evaluator, k, condition when given)."""
    mask = frame["metric"] == metric
    if evaluator is not None:
        mask &= frame["evaluator"] == evaluator
    if k is not None:
        mask &= frame["k"] == k
    if condition is not None:
        mask &= frame["condition"] == condition
    return frame[mask]


def by_view(frame: pd.DataFrame, *, metric: str, evaluator: str, k: int = 0, condition: str | None = None
            ) -> pd.DataFrame:
    """One metric per variant and view, conditions pooled (or one ``condition``): the values of :func:`view_table`."""
    return view_table(frame, metric=metric, evaluator=evaluator, k=k, condition=condition)[0]


def view_table(frame: pd.DataFrame, *, metric: str, evaluator: str, k: int = 0, condition: str | None = None
               ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One metric per variant and view, conditions pooled (:func:`pool_conditions`) or one ``condition``.

    Returns
    -------
    values : DataFrame
        Index = variant labels (:func:`variant_label`, identity first), columns = :func:`view_columns` (``all``
        always). Empty when there are no such rows.
    n : DataFrame
        What each value rests on (summed over the pooled conditions), same shape.
    """
    rows = select(frame, metric=metric, evaluator=evaluator, k=k, condition=condition)
    pooled = pool_conditions(rows)
    order = _variant_order(zip(pooled["method"], pooled["parameters"], strict=True))
    labels = [variant_label(m, p) for m, p in order]
    columns = view_columns(pooled["view"]) if len(pooled) else []
    if ALL not in columns and len(pooled):
        columns.append(ALL)
    values = pd.DataFrame(np.nan, index=pd.Index(labels, name="method"), columns=columns)
    counts = pd.DataFrame(0, index=values.index, columns=columns, dtype="int64")
    for row in pooled.itertuples(index=False):
        label = variant_label(str(row.method), str(row.parameters))
        column = ALL if row.view == -1 else str(row.view)
        values.loc[label, column] = row.value
        counts.loc[label, column] = row.n
    for label in values.index:  # no view -1 rows: the n-weighted mean over the views
        if math.isnan(values.loc[label, ALL]):
            per_view = [c for c in columns if c != ALL and not math.isnan(values.loc[label, c])]
            n = counts.loc[label, per_view].to_numpy(dtype=float)
            v = values.loc[label, per_view].to_numpy(dtype=float)
            if len(v):
                values.loc[label, ALL] = float((v * n).sum() / n.sum()) if n.sum() > 0 else float(v.mean())
                counts.loc[label, ALL] = int(n.sum())
    return values, counts


def evaluators(frame: pd.DataFrame, metric: str) -> list[str]:
    """Evaluators with rows of ``metric``, sorted."""
    return sorted(set(select(frame, metric=metric)["evaluator"]))


def ks(frame: pd.DataFrame, metric: str, evaluator: str) -> list[int]:
    return sorted(set(int(k) for k in select(frame, metric=metric, evaluator=evaluator)["k"]))


def conditions(frame: pd.DataFrame, metric: str, evaluator: str) -> list[str]:
    return sorted(set(select(frame, metric=metric, evaluator=evaluator)["condition"]))


def _n_note(counts: pd.DataFrame, what: str) -> str:
    per_view = counts.drop(columns=[ALL], errors="ignore").to_numpy()
    per_view = per_view[per_view > 0]
    if not len(per_view):
        return ""
    lo, hi = int(per_view.min()), int(per_view.max())
    return f"n = {lo} {what} per view" if lo == hi else f"n = {lo} to {hi} {what} per view"


def _pool_note(frame: pd.DataFrame, metric: str, evaluator: str, k: int) -> str:
    conds = [c for c in conditions(frame, metric, evaluator) if c != ALL]
    rows = select(frame, metric=metric, evaluator=evaluator, k=k)
    if len(conds) <= 1:
        return f"condition {', '.join(sorted(set(rows['condition'])))}"
    return f"conditions {', '.join(conds)} pooled, weighted by n"


# ----------------------------------------------------------------------------------------------------------
# the report's tables


def success_tables(frame: pd.DataFrame, labels: Mapping[str, str]) -> list[Table]:
    """Fig. 11's numbers: success rate (%) per variant and view, per recognizer and k; conditions pooled,
    then one table per condition."""
    tables = []
    for evaluator in evaluators(frame, SUCCESS):
        source = evaluator_label(evaluator, labels)
        for k in ks(frame, SUCCESS, evaluator):
            values, counts = view_table(frame, metric=SUCCESS, evaluator=evaluator, k=k)
            tables.append(Table(
                name=f"success-top{k}-{evaluator}", title=f"Top-{k} success rate (%) against {evaluator}",
                frame=values, source=source, scale=100.0, digits=1,
                note=f"{_pool_note(frame, SUCCESS, evaluator, k)}; {_n_note(counts, 'probes')}",
            ))
        for condition in [c for c in conditions(frame, SUCCESS, evaluator) if c != ALL]:
            for k in ks(frame, SUCCESS, evaluator):
                values, counts = view_table(frame, metric=SUCCESS, evaluator=evaluator, k=k, condition=condition)
                if values.empty:
                    continue
                tables.append(Table(
                    name=f"success-top{k}-{evaluator}-{condition}",
                    title=f"Top-{k} success rate (%) against {evaluator}, {condition} probes",
                    frame=values, source=source, scale=100.0, digits=1,
                    note=f"condition {condition}; {_n_note(counts, 'probes')}",
                ))
    return tables


def naturalness_tables(frame: pd.DataFrame, labels: Mapping[str, str]) -> list[Table]:
    """Figs. 13-14's numbers (frame and video score per variant and view, one table per scorer) and the
    realism metrics (temporal change ratio, Fréchet distance of recognizer embeddings) when present."""
    tables = []
    for metric, digits, unit in ((FRAME, 4, "sequences"), (VIDEO, 4, "sequences"), (TEMPORAL, 3, "sequences"),
                                 (FRECHET, 3, "sequences")):
        for evaluator in evaluators(frame, metric):
            values, counts = view_table(frame, metric=metric, evaluator=evaluator)
            note = f"{_pool_note(frame, metric, evaluator, 0)}; {_n_note(counts, unit)}"
            if metric == FRECHET:
                note += "; per-condition distances averaged, weighted by n (a distance of pooled sets is not)"
            tables.append(Table(
                name=f"{metric.replace('_', '-')}-{evaluator}", title=f"{METRIC_NAMES[metric]} by {evaluator}",
                frame=values, source=evaluator_label(evaluator, labels), digits=digits, note=note,
            ))
    return tables


def alpha_sweep(frame: pd.DataFrame, *, metric: str, evaluator: str, k: int = 0, method: str | None = None
                ) -> dict[str, Sweep]:
    """A metric of every variant with an ``alpha`` parameter, per alpha and view (conditions pooled).

    Variants whose parameters differ only in ``seed`` are seeds of one setting: :class:`Sweep` holds their
    mean, minimum and maximum per cell and their count. Returns ``{method: Sweep}`` (only ``method`` if given)
    for methods with at least two settings.
    Row labels are the alpha (``"0.3"``), followed by any other non-seed parameter (``"0.3 (lr=0.001)"``).
    """
    rows = select(frame, metric=metric, evaluator=evaluator, k=k)
    params = rows["parameters"].map(parse_parameters)
    rows = rows[params.map(lambda p: "alpha" in p)]
    if method is not None:
        rows = rows[rows["method"] == method]
    out = {}
    for name in sorted(set(rows["method"])):
        values = by_view(rows[rows["method"] == name], metric=metric, evaluator=evaluator, k=k)
        groups: dict[str, list[str]] = {}
        alpha_of: dict[str, float] = {}
        for parameters in sorted(set(rows.loc[rows["method"] == name, "parameters"])):
            p = parse_parameters(parameters)
            alpha = p.pop("alpha")
            p.pop("seed", None)
            label = alpha + (f" ({', '.join(f'{k2}={v}' for k2, v in p.items())})" if p else "")
            groups.setdefault(label, []).append(variant_label(name, parameters))
            try:
                alpha_of[label] = float(alpha)
            except ValueError:
                raise ValueError(f"method {name!r}: alpha must be a number, got parameters {parameters!r}") from None
        if len(groups) < 2:
            continue  # one setting is no sweep: it is in the per-method tables already
        order = sorted(groups, key=lambda g: (alpha_of[g], g))
        index = pd.Index(order, name="alpha")
        stats = {s: pd.DataFrame(np.nan, index=index, columns=values.columns) for s in ("mean", "low", "high")}
        for label in order:
            block = values.loc[groups[label]]
            stats["mean"].loc[label] = block.mean(axis=0)
            stats["low"].loc[label] = block.min(axis=0)
            stats["high"].loc[label] = block.max(axis=0)
        seeds = pd.Series([len(groups[g]) for g in order], index=index, name="seeds")
        out[name] = Sweep(stats["mean"], stats["low"], stats["high"], seeds, tuple(alpha_of[g] for g in order))
    return out


def alpha_tables(frame: pd.DataFrame, labels: Mapping[str, str]) -> list[Table]:
    """Tables 2-3 (alpha vs frame / video score per view, per scorer) and the numbers of Figs. 15-16 (alpha vs
    success rate per view, per recognizer and k); with several seeds per alpha, their mean and their range."""
    specs: list[tuple[str, str, int, float, int]] = []
    for evaluator in evaluators(frame, SUCCESS):
        specs += [(SUCCESS, evaluator, k, 100.0, 1) for k in ks(frame, SUCCESS, evaluator)]
    for metric in (FRAME, VIDEO):
        specs += [(metric, evaluator, 0, 1.0, 4) for evaluator in evaluators(frame, metric)]
    tables = []
    for metric, evaluator, k, scale, digits in specs:
        for method, sweep in alpha_sweep(frame, metric=metric, evaluator=evaluator, k=k).items():
            what = f"top-{k} success rate (%)" if metric == SUCCESS else METRIC_NAMES[metric]
            stem = f"alpha-{method}-" + (f"success-top{k}" if metric == SUCCESS else metric.replace("_", "-"))
            seeds = sorted(set(sweep.seeds))
            several = max(seeds) > 1
            if not several:
                note = "one run per alpha"
            elif len(seeds) == 1:
                note = f"mean over {seeds[0]} seeds per alpha"
            else:
                note = f"mean over {', '.join(str(s) for s in sweep.seeds)} seeds per alpha"
            tables.append(Table(
                name=f"{stem}-{evaluator}", title=f"Effect of alpha ({method}) on {what}, {evaluator}",
                frame=sweep.mean, source=evaluator_label(evaluator, labels), scale=scale, digits=digits,
                note=f"{note}; {_pool_note(frame, metric, evaluator, k)}",
            ))
            if several:
                tables.append(Table(
                    name=f"{stem}-{evaluator}-range", title=f"Range over seeds (max - min) of the {what}, "
                    f"{method}, {evaluator}", frame=sweep.high - sweep.low, source=evaluator_label(evaluator, labels),
                    scale=scale, digits=digits, note=f"seeds per alpha: {', '.join(str(s) for s in sweep.seeds)}",
                ))
    return tables


def mos_boxes(frame: pd.DataFrame) -> pd.DataFrame:
    """Fig. 12's box-plot input: one row per variant and view with ``mean``, ``q1``, ``median``, ``q3``,
    ``min``, ``max`` and ``n`` (ratings behind the mean) from the survey's ``mos*`` rows.

    Views ascending, then the ``view = -1`` row (all views) when the survey wrote one; statistics the survey
    did not write are NaN. Empty when there are no MOS rows.
    """
    columns = ["method", "view", *MOS_STATS.values(), "n"]
    rows = frame[frame["metric"].isin(list(MOS_STATS))]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    order = _variant_order(zip(rows["method"], rows["parameters"], strict=True))
    out = []
    for method, parameters in order:
        mine = rows[(rows["method"] == method) & (rows["parameters"] == parameters)]
        for view in sorted(set(mine["view"]), key=lambda v: (v == -1, v)):
            at = mine[mine["view"] == view]
            record: dict[str, object] = {"method": variant_label(method, parameters), "view": int(view)}
            for metric, stat in MOS_STATS.items():
                pooled = pool_conditions(at[at["metric"] == metric], by=("metric",))
                record[stat] = float(pooled["value"].iloc[0]) if len(pooled) else math.nan
            means = at[at["metric"] == MOS]
            record["n"] = int(means["n"].sum()) if len(means) else 0
            out.append(record)
    return pd.DataFrame(out, columns=columns)


def mos_table(frame: pd.DataFrame, labels: Mapping[str, str]) -> Table | None:
    """Fig. 12's numbers: rows (variant, statistic), columns views; None without MOS rows."""
    boxes = mos_boxes(frame)
    if boxes.empty:
        return None
    stats = list(MOS_STATS.values())
    long = boxes.melt(id_vars=["method", "view"], value_vars=stats, var_name="statistic")
    long["column"] = [ALL if v == -1 else str(v) for v in long["view"]]
    table = long.pivot_table(index=["method", "statistic"], columns="column", values="value", aggfunc="first",
                             dropna=False, sort=False)
    methods = list(dict.fromkeys(boxes["method"]))
    table = table.reindex(pd.MultiIndex.from_product([methods, stats], names=["method", "statistic"]))
    table = table[view_columns(boxes["view"])]
    table.columns.name = None
    evaluators_ = sorted(set(frame.loc[frame["metric"].isin(list(MOS_STATS)), "evaluator"]))
    counts = boxes[boxes["view"] != -1]["n"]
    note = "mean, quartiles, median, minimum and maximum of the ratings"
    if len(counts):
        lo, hi = int(counts.min()), int(counts.max())
        note += f"; n = {lo}{'' if lo == hi else f' to {hi}'} ratings per view and method"
    return Table(name="mos", title="Mean opinion score (1 bad .. 5 excellent) by view",
                 frame=table, source=", ".join(evaluator_label(e, labels) for e in evaluators_), digits=2, note=note)


def all_tables(frame: pd.DataFrame, labels: Mapping[str, str]) -> list[Table]:
    """Every table of the report, in report order."""
    mos = mos_table(frame, labels)
    return [*success_tables(frame, labels), *naturalness_tables(frame, labels), *alpha_tables(frame, labels),
            *([mos] if mos is not None else [])]


# ----------------------------------------------------------------------------------------------------------
# writers


def _cells(table: Table, nan: str) -> tuple[list[str], list[list[str]]]:
    """Header and body cells: index levels first, values scaled and rounded to ``table.digits``."""
    shown = table.shown()
    names = [str(n) if n is not None else "" for n in shown.index.names]
    header = names + [str(c) for c in shown.columns]
    body = []
    for key, row in zip(shown.index, shown.to_numpy(dtype=float), strict=True):
        keys = list(key) if isinstance(key, tuple) else [key]
        body.append([str(k) for k in keys] + [nan if math.isnan(v) else f"{v:.{table.digits}f}" for v in row])
    return header, body


def to_markdown(table: Table) -> str:
    """A Markdown (GitHub) table preceded by its title and followed by its source and note."""
    header, body = _cells(table, "-")
    escape = lambda text: text.replace("|", "\\|")  # noqa: E731
    lines = [f"**{escape(table.title)}**", "", "| " + " | ".join(escape(h) for h in header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(escape(c) for c in row) + " |" for row in body]
    lines += ["", f"Produced by {escape(table.source)}" + (f"; {escape(table.note)}" if table.note else "") + "."]
    return "\n".join(lines) + "\n"


_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
          "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "<": r"\textless{}",
          ">": r"\textgreater{}"}


def latex_escape(text: str) -> str:
    """``text`` with LaTeX's special characters escaped."""
    return "".join(_LATEX.get(c, c) for c in str(text))


def to_latex(table: Table) -> str:
    """A booktabs table (``\\toprule``, ``\\midrule``, ``\\bottomrule``) in a ``table`` float with caption
    (title, source and note) and label ``tab:NAME``."""
    header, body = _cells(table, "--")
    levels = table.frame.index.nlevels
    spec = "l" * levels + "r" * (len(header) - levels)
    caption = f"{table.title}. Produced by {table.source}" + (f"; {table.note}" if table.note else "") + "."
    lines = [
        r"\begin{table}[htbp]", r"\centering", rf"\caption{{{latex_escape(caption)}}}",
        rf"\label{{tab:{latex_escape(table.name)}}}", rf"\begin{{tabular}}{{{spec}}}", r"\toprule",
        " & ".join(latex_escape(h) for h in header) + r" \\", r"\midrule",
        *(" & ".join(latex_escape(c) for c in row) + r" \\" for row in body),
        r"\bottomrule", r"\end{tabular}", r"\end{table}",
    ]
    return "\n".join(lines) + "\n"


def to_csv(table: Table) -> str:
    """The table as CSV: index levels then views, values scaled (percent for rates), 6 significant digits."""
    buffer = io.StringIO()
    table.shown().to_csv(buffer, float_format="%.6g", lineterminator="\n")
    return buffer.getvalue()
