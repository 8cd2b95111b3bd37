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

from benchmark.stats import t_interval, wilson_interval
from reports.run_dir import evaluator_label

SUCCESS = "success_rate"
ACCURACY = "accuracy"
EER = "eer"
RANK = "rank"
#: rates over probes (a count of probes over n): pooled rows of them get the Wilson interval of the pooled count
RATES = (SUCCESS, ACCURACY)
FRAME = "frame_score"
VIDEO = "video_score"
TEMPORAL = "temporal_change_ratio"
DIFFERENCE = "silhouette_difference"
FRECHET = "frechet"
MOS = "mos"
#: the survey's box-plot statistics and what they are called in the MOS table
MOS_STATS = {"mos": "mean", "mos_q1": "q1", "mos_median": "median", "mos_q3": "q3", "mos_min": "min",
             "mos_max": "max"}
#: metrics the report shows; anything else in the table is listed as not shown
SHOWN = (SUCCESS, ACCURACY, EER, RANK, FRAME, VIDEO, TEMPORAL, DIFFERENCE, FRECHET, *MOS_STATS)
METRIC_NAMES = {SUCCESS: "success rate", EER: "EER", RANK: "normalised rank", FRAME: "frame score",
                VIDEO: "video score", TEMPORAL: "temporal change ratio",
                DIFFERENCE: "silhouette difference (1 - IoU with the original)",
                FRECHET: "Fréchet distance of embeddings",
                MOS: "MOS"}
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
    ``seeds`` (runs behind each alpha), the alpha values in row order and, per row, the variant labels it
    averages (one per seed)."""

    mean: pd.DataFrame
    low: pd.DataFrame
    high: pd.DataFrame
    seeds: pd.Series
    alphas: tuple[float, ...]
    variants: tuple[tuple[str, ...], ...] = ()


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


def _successes(value: float, n: int) -> float:
    """``value * n`` of a rate: a whole number of probes, up to the rounding of the CSV (6 digits)."""
    count = value * n
    return float(min(max(round(count) if abs(count - round(count)) < 1e-3 else count, 0.0), n))


def _pooled_interval(group: pd.DataFrame, n: int) -> tuple[float, float]:
    """The 95% interval of a pooled cell: its row's own when it rests on one row; the Wilson interval of the pooled
    count for a rate over probes (:data:`RATES`: the interval evaluate writes for its own pooled rows); else none."""
    if len(group) == 1:
        row = group.iloc[0]
        return float(row.get("ci_low", math.nan)), float(row.get("ci_high", math.nan))
    if n > 0 and "metric" in group and set(group["metric"]) <= set(RATES):
        return wilson_interval(sum(_successes(v, c) for v, c in zip(group["value"], group["n"], strict=True)), n)
    return math.nan, math.nan


def _weighted_chance(group: pd.DataFrame) -> float:
    """The n-weighted mean of the rows' chance levels (the chance of their pooled probes); NaN when one lacks it."""
    if "chance" not in group:
        return math.nan
    chance = group["chance"].to_numpy(dtype=float)
    n = group["n"].to_numpy(dtype=float)
    if not len(chance) or np.isnan(chance).any():
        return math.nan
    return float((chance * n).sum() / n.sum()) if n.sum() > 0 else float(chance.mean())


def pool_conditions(rows: pd.DataFrame, by: Sequence[str] = ("method", "parameters", "view")) -> pd.DataFrame:
    """n-weighted mean of ``value`` over conditions within each ``by`` group, with its 95% interval.

    Parameters
    ----------
    rows : DataFrame
        Tidy rows of one evaluator, metric and k.
    by : sequence of str
        The grouping columns.

    Returns
    -------
    DataFrame
        Columns ``by`` + ``value``, ``n`` (summed), ``conditions`` (the pooled ones, comma-separated), ``ci_low``,
        ``ci_high`` and ``chance`` (n-weighted). A group with a ``condition = all`` row keeps that row alone. Rows
        with NaN values are left out; a group whose n add up to 0 gets the plain mean. The interval is the row's own
        when the group is one row, the Wilson interval of the pooled count for a rate (:data:`RATES`), else NaN:
        intervals of means, EERs and distances cannot be combined from the rows.
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
        low, high = _pooled_interval(group, n)
        out.append({**dict(zip(by, key, strict=True)), "value": value, "n": n,
                    "conditions": ",".join(sorted(set(group["condition"]))), "ci_low": low, "ci_high": high,
                    "chance": _weighted_chance(group)})
    return pd.DataFrame(out, columns=[*by, "value", "n", "conditions", "ci_low", "ci_high", "chance"])


#: metrics that live in [0, 1]: a seed interval of their mean is clipped to it
_UNIT_METRICS = (*RATES, EER, RANK, FRAME, VIDEO)
#: the columns :func:`merge_seeds` combines; every other column names the cell
_MEASURED = ("value", "n", "ci_low", "ci_high", "chance")


def _with_pooled_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` plus, for each (variant, evaluator, view, metric, k) with two or more conditions and no ``all``
    row, the ``all`` row :func:`pool_conditions` makes of them."""
    cell = [c for c in ("evaluator", "metric", "k", "attack") if c in rows]
    extra = []
    for key, group in rows.groupby(cell, sort=False, dropna=False):
        counted = group.groupby(["method", "parameters", "view"])["condition"]
        lacking = counted.agg(lambda c: ALL not in set(c) and c.nunique() > 1)
        if not lacking.any():
            continue
        wanted = group.set_index(["method", "parameters", "view"]).index.isin(lacking[lacking].index)
        pooled = pool_conditions(group[wanted]).drop(columns="conditions")
        for column, value in zip(cell, key if isinstance(key, tuple) else (key,), strict=True):
            pooled[column] = value
        pooled["condition"] = ALL
        extra.append(pooled.reindex(columns=rows.columns))
    return pd.concat([rows, *extra], ignore_index=True) if extra else rows


def merge_seeds(frame: pd.DataFrame) -> pd.DataFrame:
    """One variant per setting: rows of variants that differ only in their ``seed`` parameter made one.

    For figures that draw every variant once (Fig. 11, 13, 14, the trade-off): three seeds of five alphas are
    fifteen bars a view otherwise. Within each cell (evaluator, condition, view, metric, k) the merged row's
    ``value`` is the mean over the seeds and its interval the Student-t 95% interval over them (the spread of
    training runs; clipped to [0, 1] for rates and scores), its ``n`` and ``chance`` the seeds' mean. Its
    parameters lose ``seed`` and gain ``seeds=N`` (``"alpha=0.3;seeds=3"``), so every label says how many runs it
    rests on. As in the alpha section (:func:`alpha_sweep`), a variant without ``seed`` whose other parameters are
    those of seeded ones is one more seed of that setting. A setting with one seed keeps its row as it is (the
    probes' own interval). Rows of settings without seeds are returned unchanged, first.
    Where a view has several probe conditions and no pooled ``all`` row, each seed's conditions are pooled first
    (:func:`pool_conditions`) into an ``all`` row, so that the pooled cell's interval is also the one over seeds.
    """
    if frame.empty or "parameters" not in frame:
        return frame
    params = frame["parameters"].map(parse_parameters)
    rest = params.map(lambda p: ";".join(f"{k}={v}" for k, v in p.items() if k != "seed"))
    seeded = params.map(lambda p: "seed" in p).to_numpy(dtype=bool)
    if not seeded.any():
        return frame
    settings = set(zip(frame.loc[seeded, "method"], rest[seeded], strict=True))
    involved = np.array([pair in settings for pair in zip(frame["method"], rest, strict=True)], dtype=bool)
    seeds = _with_pooled_rows(frame.loc[involved])
    seeds = seeds.assign(_rest=seeds["parameters"].map(
        lambda t: ";".join(f"{k}={v}" for k, v in parse_parameters(t).items() if k != "seed")).to_numpy())
    counts = seeds.groupby(["method", "_rest"])["parameters"].nunique()
    keys = [c for c in frame.columns if c not in _MEASURED and c != "parameters"]
    out = [frame.loc[~involved]]
    for (method, setting), runs in counts.items():
        mine = seeds[(seeds["method"] == method) & (seeds["_rest"] == setting)]
        if runs < 2:
            out.append(mine.drop(columns="_rest"))
            continue
        merged = []
        for key, cell in mine.groupby(keys, sort=False, dropna=False):
            values = cell["value"].to_numpy(dtype=float)
            values = values[np.isfinite(values)]
            low, high = (t_interval(values, bounds=(0.0, 1.0) if cell["metric"].iloc[0] in _UNIT_METRICS else None)
                         if len(values) >= 2 else (math.nan, math.nan))
            merged.append({**dict(zip(keys, key, strict=True)),
                           "parameters": ";".join(p for p in (setting, f"seeds={len(values)}") if p),
                           "value": float(values.mean()) if len(values) else math.nan,
                           "n": int(round(float(cell["n"].mean()))), "ci_low": low, "ci_high": high,
                           **({"chance": float(cell["chance"].mean())} if "chance" in cell else {})})
        out.append(pd.DataFrame(merged, columns=frame.columns))
    return pd.concat(out, ignore_index=True)[list(frame.columns)]


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
    cells = view_cells(frame, metric=metric, evaluator=evaluator, k=k, condition=condition)
    return cells.value, cells.n


@dataclasses.dataclass(frozen=True)
class Cells:
    """:func:`view_table`'s values with what goes with them, each a DataFrame of the same shape (variants x views +
    ``all``): ``value``, ``n``, the 95% interval ``low`` .. ``high`` (NaN where there is none, see
    :func:`pool_conditions`) and ``chance`` (the value of a recognizer that knows nothing; NaN where not written)."""

    value: pd.DataFrame
    n: pd.DataFrame
    low: pd.DataFrame
    high: pd.DataFrame
    chance: pd.DataFrame


def view_cells(frame: pd.DataFrame, *, metric: str, evaluator: str, k: int = 0, condition: str | None = None
               ) -> Cells:
    """:func:`view_table` with the 95% interval and the chance level of every cell.

    A variant without ``view = -1`` rows gets, in ``all``, the n-weighted mean of its views (value and chance) and,
    for a rate, the Wilson interval of the count over its views; other metrics get no interval there.
    """
    rows = select(frame, metric=metric, evaluator=evaluator, k=k, condition=condition)
    pooled = pool_conditions(rows)
    order = _variant_order(zip(pooled["method"], pooled["parameters"], strict=True))
    labels = [variant_label(m, p) for m, p in order]
    columns = view_columns(pooled["view"]) if len(pooled) else []
    if ALL not in columns and len(pooled):
        columns.append(ALL)
    index = pd.Index(labels, name="method")
    empty = lambda: pd.DataFrame(np.nan, index=index, columns=columns)  # noqa: E731
    values, low, high, chance = empty(), empty(), empty(), empty()
    counts = pd.DataFrame(0, index=index, columns=columns, dtype="int64")
    for row in pooled.itertuples(index=False):
        label = variant_label(str(row.method), str(row.parameters))
        column = ALL if row.view == -1 else str(row.view)
        values.loc[label, column] = row.value
        counts.loc[label, column] = row.n
        low.loc[label, column], high.loc[label, column] = row.ci_low, row.ci_high
        chance.loc[label, column] = row.chance
    for label in values.index:  # no view -1 rows: the n-weighted mean over the views
        if math.isnan(values.loc[label, ALL]):
            per_view = [c for c in columns if c != ALL and not math.isnan(values.loc[label, c])]
            n = counts.loc[label, per_view].to_numpy(dtype=float)
            v = values.loc[label, per_view].to_numpy(dtype=float)
            if len(v):
                values.loc[label, ALL] = float((v * n).sum() / n.sum()) if n.sum() > 0 else float(v.mean())
                counts.loc[label, ALL] = int(n.sum())
                c = chance.loc[label, per_view].to_numpy(dtype=float)
                if not np.isnan(c).any():
                    chance.loc[label, ALL] = float((c * n).sum() / n.sum()) if n.sum() > 0 else float(c.mean())
                if metric in RATES and n.sum() > 0:
                    total = int(n.sum())
                    low.loc[label, ALL], high.loc[label, ALL] = wilson_interval(
                        min(float(sum(_successes(x, int(m)) for x, m in zip(v, n, strict=True))), total), total)
    return Cells(values, counts, low, high, chance)


def evaluators(frame: pd.DataFrame, metric: str) -> list[str]:
    """Evaluators with rows of ``metric``, sorted."""
    return sorted(set(select(frame, metric=metric)["evaluator"]))


def attack_groups(names: Iterable[str]) -> dict[str, list[str]]:
    """Evaluator names grouped by attack model: ``zheng2011@lazy-informed`` is zheng2011 under the lazy-informed
    attacker, a name without ``@`` the ignorant one (docs/metrics.md, "Attack models"). Groups in the order
    ignorant, lazy-informed, semi-informed, then any other in name order; names keep their order in each."""
    groups: dict[str, list[str]] = {}
    for name in names:
        attack = name.partition("@")[2] or "ignorant"
        groups.setdefault(attack, []).append(name)
    known = ("ignorant", "lazy-informed", "semi-informed")
    return {a: groups[a] for a in sorted(groups, key=lambda a: (known.index(a) if a in known else len(known), a))}


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


def identification_tables(frame: pd.DataFrame, labels: Mapping[str, str]) -> list[Table]:
    """EER and mean normalised rank (%) per variant and view, per recognizer (docs/metrics.md); conditions pooled,
    then one table per condition. Higher is more private for both; chance is 50%."""
    tables = []
    for metric, what in ((EER, "EER"), (RANK, "Mean normalised rank of the true subject")):
        for evaluator in evaluators(frame, metric):
            source = evaluator_label(evaluator, labels)
            values, counts = view_table(frame, metric=metric, evaluator=evaluator)
            note = f"{_pool_note(frame, metric, evaluator, 0)}; {_n_note(counts, 'probes')}; chance 50%"
            if metric == EER and len([c for c in conditions(frame, metric, evaluator) if c != ALL]) > 1:
                note += ("; per view, the conditions' EERs averaged, weighted by n (the EER of the pooled pairs is "
                         "not); the all column is the EER over every probe where the results hold it")
            tables.append(Table(name=f"{metric}-{evaluator}", title=f"{what} (%) against {evaluator}", frame=values,
                                source=source, scale=100.0, digits=1, note=note))
            for condition in [c for c in conditions(frame, metric, evaluator) if c != ALL]:
                values, counts = view_table(frame, metric=metric, evaluator=evaluator, condition=condition)
                if not values.empty:
                    tables.append(Table(
                        name=f"{metric}-{evaluator}-{condition}",
                        title=f"{what} (%) against {evaluator}, {condition} probes", frame=values, source=source,
                        scale=100.0, digits=1, note=f"condition {condition}; {_n_note(counts, 'probes')}"))
    return tables


#: the privacy metrics of :func:`privacy_tables`, with their k and column label, in column order
PRIVACY = ((SUCCESS, 1, "top-1"), (SUCCESS, 3, "top-3"), (EER, 0, "EER"), (RANK, 0, "rank"))
CHANCE_ROW = "(chance)"


def privacy_tables(frame: pd.DataFrame, labels: Mapping[str, str]) -> list[Table]:
    """One table per recognizer: every privacy metric over all views and conditions with its 95% interval (%).

    Columns ``top-1``, ``top-1 low``, ``top-1 high``, then the same for ``top-3``, ``EER`` and ``rank`` where the
    results hold them; the last row, ``(chance)``, holds what a recognizer that knows nothing gets (the ``chance``
    column; left out where the results hold none). The numbers are the ``all`` column of :func:`view_cells`.
    """
    out = []
    for evaluator in sorted({e for metric, _, _ in PRIVACY for e in evaluators(frame, metric)}):
        columns: dict[str, pd.Series] = {}
        chance: dict[str, float] = {}
        for metric, k, name in PRIVACY:
            if k not in ks(frame, metric, evaluator):
                continue
            cells = view_cells(frame, metric=metric, evaluator=evaluator, k=k)
            columns[name], columns[f"{name} low"], columns[f"{name} high"] = (
                cells.value[ALL], cells.low[ALL], cells.high[ALL])
            chance[name] = float(np.nanmean(cells.chance[ALL])) if cells.chance[ALL].notna().any() else math.nan
        if not columns:
            continue
        table = pd.DataFrame(columns)
        table.index.name = "method"
        if any(not math.isnan(c) for c in chance.values()):
            table.loc[CHANCE_ROW] = [chance.get(c, math.nan) for c in table.columns]
        shown = [name for metric, k, name in PRIVACY if name in columns]
        out.append(Table(
            name=f"privacy-{evaluator}",
            title=f"Privacy over all views and conditions (%) against {evaluator}: {', '.join(shown)} with 95% "
                  "intervals", frame=table, source=evaluator_label(evaluator, labels), scale=100.0, digits=1,
            note="higher is more private; top-k: success rate; rank: mean normalised rank of the true subject; "
                 "intervals as the results give them (Wilson for rates, bootstrap for EER, Student-t for rank), or "
                 "the Wilson interval of the pooled count where rates were pooled here"))
    return out


def naturalness_tables(frame: pd.DataFrame, labels: Mapping[str, str]) -> list[Table]:
    """Figs. 13-14's numbers (frame and video score per variant and view, one table per scorer) and the
    realism metrics (temporal change ratio, silhouette difference, Fréchet distance of recognizer embeddings) when
    present."""
    tables = []
    for metric, digits, unit in ((FRAME, 4, "sequences"), (VIDEO, 4, "sequences"), (TEMPORAL, 3, "sequences"),
                                 (DIFFERENCE, 3, "sequences"), (FRECHET, 3, "sequences")):
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
        out[name] = Sweep(stats["mean"], stats["low"], stats["high"], seeds, tuple(alpha_of[g] for g in order),
                          tuple(tuple(groups[g]) for g in order))
    return out


def alpha_tables(frame: pd.DataFrame, labels: Mapping[str, str]) -> list[Table]:
    """Tables 2-3 (alpha vs frame / video score per view, per scorer) and the numbers of Figs. 15-16 (alpha vs
    success rate per view, per recognizer and k); with several seeds per alpha, their mean and their range."""
    specs: list[tuple[str, str, int, float, int]] = []
    for evaluator in evaluators(frame, SUCCESS):
        specs += [(SUCCESS, evaluator, k, 100.0, 1) for k in ks(frame, SUCCESS, evaluator)]
    for metric in (FRAME, VIDEO):
        specs += [(metric, evaluator, 0, 1.0, 4) for evaluator in evaluators(frame, metric)]
    specs += [(DIFFERENCE, evaluator, 0, 100.0, 1) for evaluator in evaluators(frame, DIFFERENCE)]  # Fig. 18
    tables = []
    for metric, evaluator, k, scale, digits in specs:
        for method, sweep in alpha_sweep(frame, metric=metric, evaluator=evaluator, k=k).items():
            what = (f"top-{k} success rate (%)" if metric == SUCCESS
                    else f"{METRIC_NAMES[metric]}{' (%)' if scale != 1.0 else ''}")
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


#: metrics that grow as an anonymizer hides more (:func:`dial_verdict`'s expected direction); the rest fall
PRIVACY_METRICS = (SUCCESS, EER, RANK, DIFFERENCE)


def dial(frame: pd.DataFrame, *, metric: str, evaluator: str, k: int = 0, method: str) -> pd.DataFrame:
    """Is alpha a dial? One metric of ``method`` over all views per alpha, with its 95% interval.

    Rows: the alphas of :func:`alpha_sweep` (its row labels). Columns: ``mean`` (over the seeds of the ``all``
    value), ``low`` and ``high`` and ``seeds``. With two or more seeds the interval is Student-t over the seeds
    (:func:`benchmark.stats.t_interval`: the spread of training runs); with one, the interval its results give for
    the probes (Wilson for rates). Empty when ``method`` has no alpha sweep for this metric.
    """
    from benchmark.stats import t_interval

    sweep = alpha_sweep(frame, metric=metric, evaluator=evaluator, k=k, method=method).get(method)
    columns = ["mean", "low", "high", "seeds"]
    if sweep is None:
        return pd.DataFrame(columns=columns)
    cells = view_cells(frame, metric=metric, evaluator=evaluator, k=k)
    out = pd.DataFrame(np.nan, index=sweep.mean.index, columns=columns)
    for label, variants in zip(sweep.mean.index, sweep.variants, strict=True):
        values = cells.value.loc[list(variants), ALL].to_numpy(dtype=float)
        values = values[~np.isnan(values)]
        if not len(values):
            continue
        if len(values) == 1:
            low, high = cells.low.loc[variants[0], ALL], cells.high.loc[variants[0], ALL]
        else:
            low, high = t_interval(values)
        out.loc[label] = [float(values.mean()), low, high, len(values)]
    return out


def dial_verdict(table: pd.DataFrame, *, rising: bool, scale: float = 1.0, digits: int = 4) -> str:
    """One sentence on a :func:`dial` table: whether its means move strictly the expected way over alpha, where
    they do not, and between which neighbouring alphas the 95% intervals overlap (the order there is not
    established). Means are printed times ``scale`` with ``digits`` decimals."""
    rows = table.dropna(subset=["mean"])
    if len(rows) < 2:
        return "fewer than two alphas with values: no order to check"
    labels, means = list(rows.index), rows["mean"].to_numpy(dtype=float)
    f = lambda v: f"{v * scale:.{digits}f}"  # noqa: E731
    way = "rise" if rising else "fall"
    wrong = [f"{a} to {b} ({f(x)} to {f(y)})" for a, b, x, y in zip(labels, labels[1:], means, means[1:], strict=False)
             if (y <= x if rising else y >= x)]
    text = (f"means {way} strictly with alpha ({labels[0]} to {labels[-1]}: {f(means[0])} to {f(means[-1])})"
            if not wrong else f"means do not {way} strictly with alpha: not from {', '.join(wrong)}")
    low, high = rows["low"].to_numpy(dtype=float), rows["high"].to_numpy(dtype=float)
    overlap = [f"{a}-{b}" for a, b, lo1, hi1, lo2, hi2 in zip(labels, labels[1:], low, high, low[1:], high[1:],
                                                              strict=False)
               if not any(math.isnan(v) for v in (lo1, hi1, lo2, hi2)) and lo2 <= hi1 and lo1 <= hi2]
    unknown = [f"{a}-{b}" for a, b, lo1, lo2 in zip(labels, labels[1:], low, low[1:], strict=False)
               if math.isnan(lo1) or math.isnan(lo2)]
    if overlap:
        text += f"; 95% intervals overlap between alphas {', '.join(overlap)}"
    elif not unknown:
        text += "; no two neighbouring 95% intervals overlap"
    if unknown:
        text += f"; no interval to compare between alphas {', '.join(unknown)}"
    return text


def dial_tables(frame: pd.DataFrame, labels: Mapping[str, str]) -> list[tuple[Table, list[str]]]:
    """Per method with an alpha sweep, two tables of :func:`dial`, rows (measure, alpha, seeds): privacy (the first
    top-k success per recognizer, the EER and the silhouette difference, in %) and naturalness (frame and video
    scores); with each, a verdict per measure (:func:`dial_verdict`)."""
    privacy: list[tuple[str, str, int]] = []
    for evaluator in evaluators(frame, SUCCESS):
        privacy += [(SUCCESS, evaluator, k) for k in ks(frame, SUCCESS, evaluator)[:1]]
    privacy += [(EER, evaluator, 0) for evaluator in evaluators(frame, EER)]
    privacy += [(DIFFERENCE, evaluator, 0) for evaluator in evaluators(frame, DIFFERENCE)]  # the paper's Fig. 18
    natural = [(metric, evaluator, 0) for metric in (FRAME, VIDEO) for evaluator in evaluators(frame, metric)]
    methods = sorted({m for metric, evaluator, k in privacy + natural
                      for m in alpha_sweep(frame, metric=metric, evaluator=evaluator, k=k)})
    out = []
    for method in methods:
        for kind, measures, scale, digits in (("privacy", privacy, 100.0, 1), ("naturalness", natural, 1.0, 4)):
            blocks, verdicts, sources = [], [], []
            for metric, evaluator, k in measures:
                table = dial(frame, metric=metric, evaluator=evaluator, k=k, method=method)
                if table.empty:
                    continue
                what = (f"top-{k} success" if metric == SUCCESS else METRIC_NAMES[metric]) + f", {evaluator}"
                shown = table[["mean", "low", "high"]].copy()
                shown.index = pd.MultiIndex.from_arrays(
                    [[what] * len(table), list(table.index),
                     ["-" if math.isnan(n) else str(int(n)) for n in table["seeds"]]],
                    names=["measure", "alpha", "seeds"])
                blocks.append(shown)
                verdict = dial_verdict(table, rising=metric in PRIVACY_METRICS, scale=scale, digits=digits)
                verdicts.append(f"{what}: {verdict}.")
                sources.append(evaluator_label(evaluator, labels))
            if not blocks:
                continue
            unit = " (%)" if scale != 1.0 else ""
            out.append((Table(
                name=f"dial-{method}-{kind}", title=f"Alpha as a dial ({method}): {kind}{unit} over all views, per "
                f"alpha, with 95% intervals", frame=pd.concat(blocks), source="; ".join(dict.fromkeys(sources)),
                scale=scale, digits=digits,
                note="mean over the seeds; low-high: Student-t over the seeds where there are two or more, else the "
                     "probes' own 95% interval; expected: " + ("rising" if kind == "privacy" else "falling") +
                     " with alpha"), verdicts))
    return out


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
    return [*privacy_tables(frame, labels), *success_tables(frame, labels), *identification_tables(frame, labels),
            *naturalness_tables(frame, labels), *alpha_tables(frame, labels),
            *(table for table, _ in dial_tables(frame, labels)), *([mos] if mos is not None else [])]


# ----------------------------------------------------------------------------------------------------------
# the trade-off: privacy against naturalness


def pareto_front(points: object) -> np.ndarray:
    """Indices of the points that no other point dominates, both coordinates maximised.

    Point ``j`` dominates point ``i`` when ``x_j >= x_i`` and ``y_j >= y_i`` with at least one inequality strict.
    Equal points do not dominate each other, so duplicates on the front are all kept; a point with a NaN
    coordinate is neither on the front nor dominates another.

    Parameters
    ----------
    points : array_like, shape (N, 2)
        ``(x, y)`` per point, e.g. (naturalness, success rate).

    Returns
    -------
    ndarray of int64, shape (M,)
        The indices on the front, ascending.
    """
    xy = np.asarray(points, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ValueError(f"points must have shape (N, 2), got {xy.shape}")
    finite = ~np.isnan(xy).any(axis=1)
    front = []
    for i in np.flatnonzero(finite):
        others = xy[finite]
        dominated = ((others >= xy[i]).all(axis=1) & (others > xy[i]).any(axis=1)).any()
        if not dominated:
            front.append(int(i))
    return np.asarray(front, dtype=np.int64)


@dataclasses.dataclass(frozen=True)
class TradeOff:
    """Privacy against naturalness over all views and conditions, one point per variant (identity included).

    Attributes
    ----------
    points : DataFrame
        Index = variant labels (report order). Columns ``method``; ``curve`` (the label of the line the point lies
        on: variants of one method that differ in one swept number share it, see :func:`sweep_curves`); ``key`` and
        ``swept`` (the swept parameter and its value; ``""`` and NaN for a lone point); ``x``, ``x_low``,
        ``x_high`` (naturalness and its 95% interval); ``y``, ``y_low``, ``y_high`` (privacy and its interval);
        ``front`` (bool: on the Pareto front).
    chance : float
        The privacy metric's chance level (mean of the pooled rows' ``chance``; NaN where the results hold none).
    front : tuple of str
        The variants on the Pareto front of the anonymizers (identity, the clean data, is not one), by naturalness.
    """

    points: pd.DataFrame
    chance: float
    front: tuple[str, ...]


def sweep_curves(pairs: Iterable[tuple[str, str]]) -> dict[str, tuple[str, str, float]]:
    """Which variants form one curve: ``{variant label: (curve label, swept key, swept value)}``.

    Within a method (identity aside), the swept key is the first parameter, other than ``seed``, whose values
    differ between the method's variants and are all numbers (a method without one has lone points). Variants that
    agree on every other parameter (seed included) lie on one curve, labelled like ``"stgan (alpha)"`` or
    ``"stgan (alpha; seed=1)"``; a curve of one variant is a lone point: ``(its label, "", nan)``.
    """
    by_method: dict[str, list[str]] = {}
    for method, parameters in _variant_order(pairs):
        by_method.setdefault(method, []).append(parameters)
    out: dict[str, tuple[str, str, float]] = {}
    for method, all_parameters in by_method.items():
        params = [parse_parameters(p) for p in all_parameters]
        keys = list(dict.fromkeys(k for p in params for k in p))
        swept = [k for k in keys if k not in ("seed", "seeds") and len({p.get(k) for p in params}) > 1
                 and all(_number_or_text(p.get(k, ""))[0] == 0 for p in params)]
        groups: dict[tuple[tuple[str, str], ...], list[int]] = {}
        for i, p in enumerate(params):
            rest = tuple((k, v) for k, v in p.items() if not swept or k != swept[0])
            groups.setdefault(rest, []).append(i)
        for rest, members in groups.items():
            for i in members:
                label = variant_label(method, all_parameters[i])
                if method == REFERENCE or not swept or len(members) < 2:
                    out[label] = (label, "", math.nan)
                else:
                    curve = f"{method} ({'; '.join([swept[0], *(f'{k}={v}' for k, v in rest)])})"
                    out[label] = (curve, swept[0], float(params[i][swept[0]]))
    return out


def tradeoff(frame: pd.DataFrame, *, naturalness: str, scorer: str, evaluator: str, metric: str = SUCCESS,
             k: int = 1) -> TradeOff:
    """The points of the trade-off figure: ``naturalness`` by ``scorer`` (x) against ``metric`` at ``k`` by
    ``evaluator`` (y), both the ``all`` column of :func:`view_cells` (over all views and conditions).

    Variants scored by only one of the two are left out. Raises ``ValueError`` when no variant has both.
    """
    x = view_cells(frame, metric=naturalness, evaluator=scorer)
    y = view_cells(frame, metric=metric, evaluator=evaluator, k=k)
    both = [v for v in y.value.index if v in x.value.index
            and not math.isnan(x.value.loc[v, ALL]) and not math.isnan(y.value.loc[v, ALL])]
    if not both:
        raise ValueError(f"no variant has both {naturalness} rows by {scorer!r} and {metric} rows (k = {k}) by "
                         f"{evaluator!r}")
    pairs = {variant_label(m, p): (m, p) for m, p in zip(frame["method"], frame["parameters"], strict=True)}
    curves = sweep_curves(pairs[v] for v in both)
    points = pd.DataFrame({
        "method": [pairs[v][0] for v in both],
        "curve": [curves[v][0] for v in both],
        "key": [curves[v][1] for v in both],
        "swept": [curves[v][2] for v in both],
        "x": x.value.loc[both, ALL], "x_low": x.low.loc[both, ALL], "x_high": x.high.loc[both, ALL],
        "y": y.value.loc[both, ALL], "y_low": y.low.loc[both, ALL], "y_high": y.high.loc[both, ALL],
    }, index=pd.Index(both, name="method"))
    anonymizers = [v for v in both if pairs[v][0] != REFERENCE]
    on = pareto_front(points.loc[anonymizers, ["x", "y"]].to_numpy()) if anonymizers else np.zeros(0, np.int64)
    front = sorted((anonymizers[i] for i in on), key=lambda v: (points.loc[v, "x"], -points.loc[v, "y"]))
    points["front"] = [v in front for v in both]
    chance = y.chance.loc[both, ALL].dropna()
    return TradeOff(points, float(chance.mean()) if len(chance) else math.nan, tuple(front))


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
