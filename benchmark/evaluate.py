"""The identification protocol: gallery and probes from a protocol, same-view and cross-view scores, results rows.

- **Subjects**: the protocol's groups are assigned on the clean (gallery) tree; only ``protocol.test_group`` is
  scored. A recognizer trained on any test subject is refused.
- **Gallery**: the protocol's gallery conditions (``nm-01..04``) of the test subjects, read from the clean tree.
- **Probes**: each of the protocol's probe conditions (``nm``: nm-05/06, ``bg``, ``cl``), read from the probe
  tree: the clean tree itself, or an anonymized copy in the same CASIA-B layout.
- **Probes without a usable frame** (every frame has fewer than 40 foreground pixels, e.g. an anonymizer shrank
  or erased the person): there is nothing to rank, so such a probe is *not identified*: a miss at every k, in
  the same-view rates and in every cross-view cell, and still counted in ``n`` (a success for the anonymizer,
  as the paper's success rate counts all anonymized gaits). This differs on purpose from the tie rule of
  :mod:`benchmark.retrieval` (a probe seen but alike to everybody scores chance): here the recognizer gives no
  answer at all. Like any probe, it is left out at a view where its subject has no gallery sequence. Their
  number per condition and view is warned about and kept in :attr:`EvalSets.unusable`
  (:func:`unusable_counts`).
- **Gallery sequences without a usable frame** are left out with a warning naming them, as a missing sequence
  would be (CASIA-B itself has a few empty sequences); ``errors="raise"`` makes them an error, and a gallery with
  no usable sequence at all always is. An informed attacker's gallery is different: it is the method's output
  (``split_root`` given), so its blank sequences are the method's doing, never an error. They are kept in
  :attr:`EvalSets.lost`: their subject stays a candidate at that view, at +inf from every probe, and a probe
  whose subject the method left with no usable gallery sequence at its view is not identified (a miss), not left
  out.
- **Same-view identification** (the paper's success rates): a probe at view ``v`` is ranked against the gallery
  sequences at ``v`` only. Rows ``accuracy`` and ``success_rate`` (= 1 - accuracy) per view and over all views
  (``view = -1``), for each k, with n probes and a 95% Wilson interval (:mod:`benchmark.retrieval`); beside
  them, from the same distances, ``eer`` (verification equal error rate, 95% percentile bootstrap over probes)
  and ``rank`` (mean normalised rank of the true subject, 95% Student-t interval over probes), both k = 0. Every
  such row carries its ``chance`` level: ``1 - min(k, S) / S`` for ``success_rate`` (``min(k, S) / S`` for
  ``accuracy``) with S the gallery subjects at the probe's view, the probe-weighted mean on pooled rows; 0.5 for
  ``eer`` and ``rank``. An unusable probe is a miss in the rates, but gives no information to the other two: its
  rank is 0.5 and it is at +inf from every gallery subject in the EER (docs/metrics.md).
- **Cross-view**: the probe-view x gallery-view accuracy matrix (OpenGait's CASIA-B table); rows
  ``cross_view_accuracy`` per probe view hold the mean over the other gallery views (identical view excluded),
  and ``view = -1`` their mean; these means have no interval. The full matrices are returned as a tidy table too.
"""

from __future__ import annotations

import dataclasses
import math
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from benchmark import shard
from benchmark.protocol import Protocol, check_training_subjects, protocol_groups
from benchmark.results import ALL_CONDITIONS, Row, per_view_table
from benchmark.retrieval import (
    CHANCE_EER,
    CHANCE_RANK,
    chance_accuracy,
    eer_interval,
    equal_error_rate,
    exclude_identical_views,
    genuine_impostor,
    normalised_rank,
    topk_hits,
    view_matrix,
)
from benchmark.stats import t_interval, wilson_interval

if TYPE_CHECKING:
    from benchmark.recognizer import Recognizer
    from benchmark.sequences import Embedding, InputSpec, Sequences

MATRIX_COLUMNS = (
    "method", "parameters", "evaluator", "condition", "k", "probe_view", "gallery_view", "value", "n",
)


#: a sequence's ``(subject, condition, view)``, e.g. ``("075", "nm-05", 90)``
Label = tuple[str, str, int]


@dataclasses.dataclass(frozen=True)
class EvalSets:
    """Gallery and probe sequences of the test subjects, prepared for one input spec.

    ``unusable`` holds, per probe condition name, the probe sequences of the probe tree that are not in ``probes``:
    without a usable frame, or a sequence folder without frames; each counts as a probe that was not identified, so
    an emptied folder never silently lowers n.
    """

    gallery: Sequences
    probes: dict[str, Sequences]  # condition name (nm, bg, cl) -> probes
    test_subjects: tuple[str, ...]
    unusable: Mapping[str, tuple[Label, ...]] = dataclasses.field(default_factory=dict)
    #: gallery sequences of an anonymized (informed attacker's) gallery that the method left without a usable
    #: frame: their subjects stay candidates at their views (see the module docstring)
    lost: tuple[Label, ...] = ()

    def __post_init__(self) -> None:
        extra = sorted(set(self.unusable) - set(self.probes))
        if extra:
            raise ValueError(
                f"unusable probes of conditions {extra} that have no probe set; known: {list(self.probes)}"
            )


def load_eval_sets(
    gallery_root: str | os.PathLike[str],
    probes_root: str | os.PathLike[str],
    protocol: Protocol,
    spec: InputSpec,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    workers: int | None = None,
    errors: str = "skip",
    split_root: str | os.PathLike[str] | None = None,
) -> EvalSets:
    """Read the protocol's gallery (clean tree) and probes (probe tree) of the test subjects for ``spec``.

    The test subjects are the protocol's split of the clean tree ``split_root`` (default ``gallery_root``): an
    anonymized gallery holds the test group only, and a split of its folders would put some of them elsewhere.

    A sequence without a usable frame (none with :data:`~benchmark.silhouettes.MIN_FOREGROUND_PIXELS` foreground
    pixels; for a pose input, none in which BlazePose finds a person), or a sequence folder without frames, is, in
    the probes, recorded in :attr:`EvalSets.unusable` with a warning; in the gallery it is left out with a warning
    naming it (``errors="skip"``) or raises ``ValueError`` naming it (``errors="raise"``); in an anonymized
    gallery (``split_root`` given) it is recorded in :attr:`EvalSets.lost` with a warning, whatever ``errors``.
    A probe condition with no sequence folder at all in the probe tree raises ``ValueError``.
    """
    from benchmark.data.casia import CasiaB, condition_order
    from benchmark.sequences import load_sequences
    from benchmark.silhouettes import MIN_FOREGROUND_PIXELS

    if errors not in ("raise", "skip"):
        raise ValueError(f"errors must be 'raise' or 'skip', got {errors!r}")
    test = protocol_groups(gallery_root if split_root is None else split_root, protocol)[protocol.test_group]

    def load(root: str | os.PathLike[str], conditions: Sequence[str]) -> tuple[Sequences, tuple[Label, ...]]:
        """The usable sequences, and the labels of those in the tree that are not usable: without a usable frame,
        or a sequence folder without frames."""
        tree = CasiaB(root)
        refs = tree.index(test, conditions, protocol.views)
        empty = tree.empty_folders(test, conditions, protocol.views)
        expected = {(r.subject, r.condition, r.view) for r in refs} | set(empty)
        # With no folder at all, load_sequences raises its "no sequences" error: a wrong tree, not a blank one.
        data = load_sequences(root, spec, subjects=test, conditions=conditions, views=protocol.views,
                              cache_dir=cache_dir, workers=workers, allow_empty=bool(expected))
        loaded = {data.key(i) for i in range(len(data))}
        missing = [label for label in expected if f"{label[0]}-{label[1]}-{label[2]:03d}" not in loaded]
        return data, tuple(sorted(missing, key=lambda t: (t[0], condition_order(t[1]), t[2])))

    unusable_frame = ("no frame in which BlazePose finds a person" if spec.kind == "pose" else
                      f"no frame at all, or every frame has fewer than {MIN_FOREGROUND_PIXELS} foreground pixels")
    gallery, blank = load(gallery_root, protocol.gallery)
    lost: tuple[Label, ...] = ()
    if blank and split_root is not None:
        _warn(f"{len(blank)} sequence(s) of the anonymized gallery {gallery_root} have no usable frame "
              f"({unusable_frame}): {_names(blank)}; their subjects cannot be enrolled there, and their probes at "
              "those views count as not identified")
        lost = blank
    elif blank:
        message = f"{len(blank)} gallery sequence(s) of {gallery_root} have no usable frame ({unusable_frame}): " \
                  f"{_names(blank)}"
        if errors == "raise" or len(gallery) == 0:
            raise ValueError(
                f"{message}; a gallery sequence must show its subject: repair or remove these folders "
                "(gaitbench data check lists every empty sequence)"
            )
        _warn(f"{message}; left out of the gallery")
    probes, unusable = {}, {}
    for name, conditions in protocol.probes.items():
        probes[name], unusable[name] = load(probes_root, conditions)
    sets = EvalSets(gallery, probes, tuple(test), unusable, lost)
    counts = unusable_counts(sets)
    if any(counts.values()):
        per = "; ".join(
            f"{name} {sum(c.values())} of {sum(c.values()) + len(probes[name])} "
            f"({', '.join(f'view {v}: {m}' for v, m in c.items())})"
            for name, c in counts.items() if c
        )
        _warn(f"probes of {probes_root} without a usable frame ({unusable_frame}), counted as not identified at "
              f"every k: {per}")
    return sets


def unusable_counts(sets: EvalSets) -> dict[str, dict[int, int]]:
    """Probes without a usable frame per condition name and view: ``{"nm": {0: 1, 90: 2}, "bg": {}}``."""
    out: dict[str, dict[int, int]] = {}
    for name in sets.probes:
        views = [int(v) for _, _, v in sets.unusable.get(name, ())]
        out[name] = {v: views.count(v) for v in sorted(set(views))}
    return out


def _names(labels: Sequence[Label], limit: int = 8) -> str:
    names = [f"{s}-{c}-{v:03d}" for s, c, v in labels]
    return ", ".join(names[:limit]) + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def _warn(message: str) -> None:
    if shard.current()[0] == 0:  # under torchrun every rank reads the same data; one says so
        warnings.warn(message, stacklevel=3)


def check_recognizer_data(rec: Recognizer, test_subjects: Iterable[str], gallery_root: str | os.PathLike[str]) -> None:
    """Refuse a recognizer trained on test subjects, or on another synthetic world than the gallery's."""
    from benchmark.sequences import world_identity

    training = rec.training or {}
    check_training_subjects(f"recognizer {rec.name}", training.get("subjects"), test_subjects)
    trained_world = (training.get("fingerprint") or {}).get("world")
    world = world_identity(gallery_root)
    if trained_world and world and trained_world.get("manifest_sha256") != world.get("manifest_sha256"):
        raise ValueError(
            f"{rec.name} was trained on another world (seed {trained_world.get('seed')}, preset "
            f"{trained_world.get('preset')}) than {gallery_root} (seed {world.get('seed')}, preset "
            f"{world.get('preset')}); retrain it on this world"
        )


@dataclasses.dataclass(frozen=True)
class ProbeScores:
    """Same-view results of n probes (one view, or several pooled), one entry per probe.

    ``impostor`` is NaN-padded: probes of different views may face galleries of different sizes. An unusable
    probe has hits 0, rank 0.5, and genuine and impostor distances +inf.
    """

    hits: dict[int, np.ndarray]  # k -> float64 (n,): expected top-k hit
    genuine: np.ndarray  # float64 (n,): distance to the own subject
    impostor: np.ndarray  # float64 (n, M): distances to the other gallery subjects, NaN beyond S - 1
    rank: np.ndarray  # float64 (n,): normalised rank of the own subject
    gallery_size: np.ndarray  # int64 (n,): gallery subjects S at the probe's view

    def __len__(self) -> int:
        return len(self.genuine)

    @staticmethod
    def concat(parts: Sequence[ProbeScores]) -> ProbeScores:
        width = max((p.impostor.shape[1] for p in parts), default=0)
        impostor = [np.pad(p.impostor, ((0, 0), (0, width - p.impostor.shape[1])), constant_values=np.nan)
                    for p in parts]
        return ProbeScores(
            {k: np.concatenate([p.hits[k] for p in parts]) for k in (parts[0].hits if parts else {})},
            np.concatenate([p.genuine for p in parts]) if parts else np.zeros(0),
            np.concatenate(impostor) if parts else np.zeros((0, 0)),
            np.concatenate([p.rank for p in parts]) if parts else np.zeros(0),
            np.concatenate([p.gallery_size for p in parts]) if parts else np.zeros(0, np.int64),
        )


def _same_view_rows(scores: ProbeScores, *, view: int, base: Mapping[str, Any]) -> list[Row]:
    """``accuracy`` and ``success_rate`` per k, ``eer`` and ``rank`` of ``scores``, each with its chance level."""
    rows = []
    n = len(scores)
    for k, h in scores.hits.items():
        acc = float(h.mean()) if n else math.nan
        chance = float(np.mean(chance_accuracy(k, scores.gallery_size))) if n else math.nan
        lo, hi = wilson_interval(float(h.sum()), n)
        rows.append(Row(metric="accuracy", k=k, view=view, value=acc, n=n, ci_low=lo, ci_high=hi, chance=chance,
                        **base))
        rows.append(
            Row(metric="success_rate", k=k, view=view, value=1.0 - acc, n=n, ci_low=1.0 - hi, ci_high=1.0 - lo,
                chance=1.0 - chance, **base)
        )
    lo, hi = eer_interval(scores.genuine, scores.impostor)
    rows.append(Row(metric="eer", view=view, value=equal_error_rate(scores.genuine, scores.impostor), n=n,
                    ci_low=lo, ci_high=hi, chance=CHANCE_EER, **base))
    ranks = scores.rank[~np.isnan(scores.rank)]  # NaN only at a view with one gallery subject
    lo, hi = t_interval(ranks, bounds=(0.0, 1.0))
    rows.append(Row(metric="rank", view=view, value=float(ranks.mean()) if len(ranks) else math.nan, n=len(ranks),
                    ci_low=lo, ci_high=hi, chance=CHANCE_RANK, **base))
    return rows


def same_view_scores(
    distance_fn: Any,
    gallery: Embedding,
    probes: Embedding,
    gallery_subjects: np.ndarray,
    probe_subjects: np.ndarray,
    views: Sequence[int],
    ks: Sequence[int],
    *,
    unusable: tuple[np.ndarray, np.ndarray] | None = None,
    lost: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[int, ProbeScores]:
    """Per view ``v``: the probes at ``v`` against the gallery at ``v`` (``distance_fn(g, p)``, one call).

    ``unusable`` = (subjects, views), both (U,): probes without a usable frame, appended after the embedded
    probes of their view: a miss (0) at every k, rank 0.5, +inf from every gallery subject. ``lost`` = (subjects,
    views): gallery sequences an anonymizer left without a usable frame (:attr:`EvalSets.lost`); a subject left
    with none at ``v`` stays a candidate there, at +inf from every probe, and its own probes at ``v`` are misses.
    Other probes (of either kind) whose subject has no gallery sequence at ``v`` are left out. Returns
    ``{view: scores}``.
    """
    out = {}
    for v in views:
        cols = np.flatnonzero(gallery.views == v)
        present = np.unique(gallery_subjects[cols])
        gone = np.setdiff1d(lost[0][lost[1] == v], present) if lost is not None else np.zeros(0, str)
        rows = np.flatnonzero(probes.views == v)
        orphans = int(np.isin(probe_subjects[rows], gone).sum())  # probes whose subject cannot be enrolled at v
        rows = rows[np.isin(probe_subjects[rows], present)]
        misses = _miss_count(unusable, np.concatenate([present, gone]), v) + orphans
        if len(rows) + misses == 0:
            continue
        size = len(present) + len(gone)
        hits = {int(k): np.zeros(0) for k in ks}
        genuine, impostor, rank = np.zeros(0), np.zeros((0, size - 1)), np.zeros(0)
        if len(rows):
            d = distance_fn(gallery.subset(cols), probes.subset(rows))  # (p, g)
            hits = topk_hits(d, probe_subjects[rows], gallery_subjects[cols], ks)  # the gone ones rank last
            genuine, impostor = genuine_impostor(d, probe_subjects[rows], gallery_subjects[cols])
            impostor = np.pad(impostor, ((0, 0), (0, len(gone))), constant_values=np.inf)
            rank = normalised_rank(d, probe_subjects[rows], gallery_subjects[cols])
            if len(gone):  # the same position among more subjects (the gone ones last)
                rank = np.nan_to_num(rank) * (len(present) - 1) / (size - 1)
        out[int(v)] = ProbeScores(
            {k: np.concatenate([h, np.zeros(misses)]) for k, h in hits.items()},
            np.concatenate([genuine, np.full(misses, np.inf)]),
            np.concatenate([impostor, np.full((misses, size - 1), np.inf)]),
            np.concatenate([rank, np.full(misses, CHANCE_RANK if size > 1 else np.nan)]),
            np.full(len(rows) + misses, size, np.int64),
        )
    return out


def _miss_count(unusable: tuple[np.ndarray, np.ndarray] | None, gallery_subjects: np.ndarray, view: int) -> int:
    """How many unusable probes at ``view`` have their subject among ``gallery_subjects`` (so count as misses)."""
    if unusable is None:
        return 0
    subjects, views = unusable
    return int(np.isin(subjects[views == view], gallery_subjects).sum())


def _add_misses(acc: np.ndarray, n: np.ndarray, misses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy matrix cells with ``misses`` more probes that are all missed: ``acc * n / (n + misses)``."""
    total = n + misses
    hits = np.where(n > 0, np.nan_to_num(acc) * n, 0.0)
    out = np.full(acc.shape, np.nan)
    np.divide(hits, total, out=out, where=total > 0)
    return out, total


def evaluate_recognizer(
    rec: Recognizer,
    sets: EvalSets,
    *,
    evaluator: str | None = None,
    method: str = "identity",
    parameters: str = "",
    views: Sequence[int] | None = None,
    ks: Sequence[int] = (1, 3),
    cross_view: bool = True,
    attack: str | None = None,
) -> tuple[list[Row], list[dict[str, Any]]]:
    """Score one recognizer on the gallery and every probe condition of ``sets``; ``attack`` names the attack
    model in every row (None: the rows have none).

    Under torchrun (an initialised ``torch.distributed`` process group) the embeddings and distances are computed
    in shards over the ranks and gathered (:mod:`benchmark.shard`); every rank returns the same, full result.

    Returns
    -------
    rows : list of Row
        Same-view ``accuracy`` / ``success_rate`` per k, ``eer`` and ``rank`` (with their ``chance``) per view
        and condition, ``view = -1`` pooled over views, and ``condition = "all"``, ``view = -1`` pooled over
        every probe (the rows the regression gate judges), plus ``cross_view_accuracy`` rows when
        ``cross_view``.
    matrices : list of dict
        The cross-view matrices as tidy records with :data:`MATRIX_COLUMNS` (empty without ``cross_view``).
    """
    from benchmark.sequences import Embedding

    evaluator = evaluator or rec.name
    views = sorted(set(sets.gallery.views.tolist())) if views is None else list(views)

    def compare(g: Embedding, p: Embedding) -> np.ndarray:
        return shard.compare(rec, g, p)

    # An informed attacker's gallery may be empty: the method left no usable sequence (EvalSets.lost).
    gallery = shard.embed(rec, sets.gallery) if len(sets.gallery) else Embedding(np.zeros(0), np.zeros(0, np.int64))
    gallery_subjects, gallery_views = sets.gallery.subjects, sets.gallery.views
    lost = (np.asarray([s for s, _, _ in sets.lost], dtype=str), np.asarray([v for *_, v in sets.lost], np.int64))
    rows: list[Row] = []
    records: list[dict[str, Any]] = []
    everything: list[ProbeScores] = []  # each condition's pooled scores, for the rows over all probes
    for condition, probe_data in sets.probes.items():
        # Every probe blank: nothing to embed (recognizers need at least one sequence).
        probes = shard.embed(rec, probe_data) if len(probe_data) else Embedding(np.zeros(0), np.zeros(0, np.int64))
        labels = sets.unusable.get(condition, ())
        unusable = (np.asarray([s for s, _, _ in labels], dtype=str), np.asarray([v for *_, v in labels], np.int64))
        base: dict[str, Any] = {"method": method, "parameters": parameters, "evaluator": evaluator,
                                "condition": condition, "attack": attack}
        per_view = same_view_scores(
            compare, gallery, probes, gallery_subjects, probe_data.subjects, views, ks, unusable=unusable, lost=lost
        )
        for v, scores in per_view.items():
            rows += _same_view_rows(scores, view=v, base=base)
        if per_view:
            pooled = ProbeScores.concat(list(per_view.values()))
            rows += _same_view_rows(pooled, view=-1, base=base)
            everything.append(pooled)
        if not cross_view or not len(sets.gallery):
            continue
        distance = np.zeros((len(probes), len(gallery)))
        for v in np.unique(probes.views):
            r = probes.views == v
            distance[r] = compare(gallery, probes.subset(np.flatnonzero(r)))
        misses = np.array([[_miss_count(unusable, gallery_subjects[gallery_views == gv], pv) for gv in views]
                           for pv in views], np.int64)  # (V, V): probe view x gallery view
        for k in ks:
            acc, n = view_matrix(
                distance, probe_data.subjects, probe_data.views, gallery_subjects, gallery_views, views, k
            )
            acc, n = _add_misses(acc, n, misses)
            for i, pv in enumerate(views):
                for j, gv in enumerate(views):
                    records.append(
                        {**base, "k": k, "probe_view": pv, "gallery_view": gv, "value": acc[i, j], "n": int(n[i, j])}
                    )
            excluded = exclude_identical_views(acc)
            probe_counts = [int((probe_data.views == v).sum() + (unusable[1] == v).sum()) for v in views]
            for v, value, count in zip(views, excluded, probe_counts, strict=True):
                if not math.isnan(value):
                    rows.append(Row(metric="cross_view_accuracy", k=k, view=v, value=float(value), n=count, **base))
            if not np.isnan(excluded).all():
                rows.append(
                    Row(metric="cross_view_accuracy", k=k, view=-1, value=float(np.nanmean(excluded)),
                        n=len(probes) + len(labels), **base)
                )
    if everything:
        rows += _same_view_rows(ProbeScores.concat(everything), view=-1,
                           base={"method": method, "parameters": parameters, "evaluator": evaluator,
                                 "condition": ALL_CONDITIONS, "attack": attack})
    return rows, records


def format_tables(frame: pd.DataFrame, ks: Sequence[int] = (1, 3)) -> str:
    """Per-view tables (views as columns, one row per evaluator x condition) of same-view top-k accuracy and,
    when present, the cross-view means, then per method the success rates, EER and rank over all views, each
    beside its chance level; values in percent."""
    parts = []
    for method in sorted(set(frame["method"])):
        for metric, title in (
            ("accuracy", "same-view"),
            ("cross_view_accuracy", "cross-view, identical views excluded"),
        ):
            for k in ks:
                sel = frame[(frame["method"] == method) & (frame["metric"] == metric) & (frame["k"] == k)]
                if sel.empty:
                    continue
                table = per_view_table(sel)
                parts.append(f"{title} top-{k} accuracy (%), probes: {method}\n{table.to_string()}")
        privacy = _privacy_table(frame[frame["method"] == method], ks)
        if privacy is not None:
            parts.append(
                "same-view success rate, EER and rank over all views (%, [chance]; higher = more private), "
                f"probes: {method}\n{privacy.to_string()}"
            )
    return "\n\n".join(parts)


def _privacy_table(frame: pd.DataFrame, ks: Sequence[int]) -> pd.DataFrame | None:
    """One row per evaluator x condition, columns ``success top-k``, ``EER``, ``rank``: ``"value [chance]"`` of the
    ``view = -1`` rows, in percent (no bracket where the table has no chance column, e.g. an older file)."""
    columns = [(f"success top-{k}", "success_rate", k) for k in ks] + [("EER", "eer", 0), ("rank", "rank", 0)]
    pooled = frame[frame["view"] == -1]
    cells: dict[tuple[str, str], dict[str, str]] = {}
    for name, metric, k in columns:
        sel = pooled[(pooled["metric"] == metric) & (pooled["k"] == k)]
        for row in sel.to_dict("records"):
            text = f"{100 * row['value']:.1f}"
            chance = row.get("chance", math.nan)
            if chance is not None and not pd.isna(chance):
                text += f" [{100 * chance:.1f}]"
            cells.setdefault((row["evaluator"], row["condition"]), {})[name] = text
    if not cells:
        return None
    index = pd.MultiIndex.from_tuples(sorted(cells), names=["evaluator", "condition"])
    present = [name for name, *_ in columns if any(name in c for c in cells.values())]
    return pd.DataFrame([[cells[i].get(c, "-") for c in present] for i in index], index=index, columns=present)
