"""The identification protocol: gallery and probes from a protocol, same-view and cross-view scores, results rows.

- **Subjects**: the protocol's groups are assigned on the clean (gallery) tree; only ``protocol.test_group`` is
  scored. A recognizer trained on any test subject is refused.
- **Gallery**: the protocol's gallery conditions (``nm-01..04``) of the test subjects, read from the clean tree.
- **Probes**: each of the protocol's probe conditions (``nm``: nm-05/06, ``bg``, ``cl``), read from the probe
  tree: the clean tree itself, or an anonymized copy in the same CASIA-B layout.
- **Same-view identification** (the paper's success rates): a probe at view ``v`` is ranked against the gallery
  sequences at ``v`` only. Rows ``accuracy`` and ``success_rate`` (= 1 - accuracy) per view and over all views
  (``view = -1``), for each k, with n probes and a 95% Wilson interval (:mod:`benchmark.retrieval`).
- **Cross-view**: the probe-view x gallery-view accuracy matrix (OpenGait's CASIA-B table); rows
  ``cross_view_accuracy`` per probe view hold the mean over the other gallery views (identical view excluded),
  and ``view = -1`` their mean; these means have no interval. The full matrices are returned as a tidy table too.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from benchmark import shard
from benchmark.protocol import Protocol
from benchmark.record import git_hash, run_record, write_run_record  # noqa: F401 (moved; importable from here)
from benchmark.results import Row, per_view_table
from benchmark.retrieval import exclude_identical_views, topk_hits, view_matrix
from benchmark.stats import wilson_interval

if TYPE_CHECKING:
    from recognizers.base import Embedding, Recognizer
    from recognizers.data import InputSpec, Sequences

MATRIX_COLUMNS = (
    "method", "parameters", "evaluator", "condition", "k", "probe_view", "gallery_view", "value", "n",
)


@dataclasses.dataclass(frozen=True)
class EvalSets:
    """Gallery and probe sequences of the test subjects, prepared for one input spec."""

    gallery: Sequences
    probes: dict[str, Sequences]  # condition name (nm, bg, cl) -> probes
    test_subjects: tuple[str, ...]


def protocol_split(root: str | os.PathLike[str], protocol: Protocol) -> dict[str, list[str]]:
    """The protocol's groups over the subjects found in the tree ``root``."""
    from benchmark.data.casia import CasiaB

    subjects = sorted({r.subject for r in CasiaB(root).index()})
    return protocol.assign(subjects)


def load_eval_sets(
    gallery_root: str | os.PathLike[str],
    probes_root: str | os.PathLike[str],
    protocol: Protocol,
    spec: InputSpec,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    workers: int | None = None,
) -> EvalSets:
    """Read the protocol's gallery (clean tree) and probes (probe tree) of the test subjects for ``spec``."""
    from recognizers.data import load_sequences

    test = protocol_split(gallery_root, protocol)[protocol.test_group]
    def load(root: str | os.PathLike[str], conditions: Sequence[str]) -> Sequences:
        return load_sequences(
            root, spec, subjects=test, conditions=conditions, views=protocol.views, cache_dir=cache_dir, workers=workers
        )

    gallery = load(gallery_root, protocol.gallery)
    probes = {name: load(probes_root, conditions) for name, conditions in protocol.probes.items()}
    return EvalSets(gallery, probes, tuple(test))


def check_recognizer_data(rec: Recognizer, test_subjects: Iterable[str], gallery_root: str | os.PathLike[str]) -> None:
    """Refuse a recognizer trained on test subjects, or on another synthetic world than the gallery's."""
    from recognizers.data import world_identity

    training = rec.training or {}
    overlap = sorted(set(training.get("subjects") or ()) & set(test_subjects))
    if overlap:
        raise ValueError(
            f"{rec.name} was trained on test subjects {overlap[:8]}{' ...' if len(overlap) > 8 else ''}; "
            "train it on the protocol's recognizer group (gaitbench train recognizer) or pick another protocol"
        )
    trained_world = (training.get("fingerprint") or {}).get("world")
    world = world_identity(gallery_root)
    if trained_world and world and trained_world.get("manifest_sha256") != world.get("manifest_sha256"):
        raise ValueError(
            f"{rec.name} was trained on another world (seed {trained_world.get('seed')}, preset "
            f"{trained_world.get('preset')}) than {gallery_root} (seed {world.get('seed')}, preset "
            f"{world.get('preset')}); retrain it on this world"
        )


def _rate_rows(hits: Mapping[int, np.ndarray], *, view: int, base: Mapping[str, Any]) -> list[Row]:
    rows = []
    for k, h in hits.items():
        n = len(h)
        acc = float(h.mean()) if n else math.nan
        lo, hi = wilson_interval(float(h.sum()), n)
        rows.append(Row(metric="accuracy", k=k, view=view, value=acc, n=n, ci_low=lo, ci_high=hi, **base))
        rows.append(
            Row(metric="success_rate", k=k, view=view, value=1.0 - acc, n=n, ci_low=1.0 - hi, ci_high=1.0 - lo,
                **base)
        )
    return rows


def same_view_hits(
    distance_fn: Any,
    gallery: Embedding,
    probes: Embedding,
    gallery_subjects: np.ndarray,
    probe_subjects: np.ndarray,
    views: Sequence[int],
    ks: Sequence[int],
) -> dict[int, dict[int, np.ndarray]]:
    """Per view ``v``: top-k hits of the probes at ``v`` against the gallery at ``v`` (``distance_fn(g, p)``).

    Probes whose subject has no gallery sequence at ``v`` are left out. Returns ``{view: {k: hits (n,)}}``.
    """
    out = {}
    for v in views:
        cols = np.flatnonzero(gallery.views == v)
        rows = np.flatnonzero(probes.views == v)
        rows = rows[np.isin(probe_subjects[rows], gallery_subjects[cols])]
        if len(rows) == 0:
            continue
        d = distance_fn(gallery.subset(cols), probes.subset(rows))  # (p, g)
        out[int(v)] = topk_hits(d, probe_subjects[rows], gallery_subjects[cols], ks)
    return out


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
) -> tuple[list[Row], list[dict[str, Any]]]:
    """Score one recognizer on the gallery and every probe condition of ``sets``.

    Under torchrun (an initialised ``torch.distributed`` process group) the embeddings and distances are computed
    in shards over the ranks and gathered (:mod:`benchmark.shard`); every rank returns the same, full result.

    Returns
    -------
    rows : list of Row
        Same-view ``accuracy`` / ``success_rate`` per view and condition (and ``view = -1`` pooled over views),
        plus ``cross_view_accuracy`` rows when ``cross_view``.
    matrices : list of dict
        The cross-view matrices as tidy records with :data:`MATRIX_COLUMNS` (empty without ``cross_view``).
    """
    evaluator = evaluator or rec.name
    views = sorted(set(sets.gallery.views.tolist())) if views is None else list(views)

    def compare(g: Embedding, p: Embedding) -> np.ndarray:
        return shard.compare(rec, g, p)

    gallery = shard.embed(rec, sets.gallery)
    rows: list[Row] = []
    records: list[dict[str, Any]] = []
    for condition, probe_data in sets.probes.items():
        probes = shard.embed(rec, probe_data)
        base: dict[str, Any] = {"method": method, "parameters": parameters, "evaluator": evaluator,
                                "condition": condition}
        per_view = same_view_hits(
            compare, gallery, probes, sets.gallery.subjects, probe_data.subjects, views, ks
        )
        for v, hits in per_view.items():
            rows += _rate_rows(hits, view=v, base=base)
        if per_view:
            pooled = {k: np.concatenate([h[k] for h in per_view.values()]) for k in ks}
            rows += _rate_rows(pooled, view=-1, base=base)
        if not cross_view:
            continue
        distance = np.zeros((len(probes), len(gallery)))
        for v in np.unique(probes.views):
            r = probes.views == v
            distance[r] = compare(gallery, probes.subset(np.flatnonzero(r)))
        for k in ks:
            acc, n = view_matrix(
                distance, probe_data.subjects, probe_data.views, sets.gallery.subjects, sets.gallery.views, views, k
            )
            for i, pv in enumerate(views):
                for j, gv in enumerate(views):
                    records.append(
                        {**base, "k": k, "probe_view": pv, "gallery_view": gv, "value": acc[i, j], "n": int(n[i, j])}
                    )
            excluded = exclude_identical_views(acc)
            probe_counts = [int((probe_data.views == v).sum()) for v in views]
            for v, value, count in zip(views, excluded, probe_counts, strict=True):
                if not math.isnan(value):
                    rows.append(Row(metric="cross_view_accuracy", k=k, view=v, value=float(value), n=count, **base))
            if not np.isnan(excluded).all():
                rows.append(
                    Row(metric="cross_view_accuracy", k=k, view=-1, value=float(np.nanmean(excluded)),
                        n=len(probes), **base)
                )
    return rows, records


def format_tables(frame: pd.DataFrame, ks: Sequence[int] = (1, 3)) -> str:
    """Per-view tables (views as columns, one row per evaluator x condition) of same-view top-k accuracy and,
    when present, the cross-view means; values in percent."""
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
    return "\n\n".join(parts)
