"""Identification metrics: top-k accuracy, success rate, per-view tables and the probe x gallery view matrix.

Identification ranks gallery **subjects**, not gallery sequences: a subject's distance to a probe is its smallest
distance over that subject's gallery sequences (several per subject, e.g. nm-01..04). A probe is a top-k hit
when its own subject is among the k nearest subjects.

**Ties.** Subjects at exactly the same distance are ordered at random, and the hit is its expected value: with
``b`` other subjects strictly nearer than the true one and ``e`` others at the same distance, the top-k hit is
``clip((k - b) / (e + 1), 0, 1)``. So a recognizer that sees all subjects alike (e.g. a fully masked video) scores
chance, ``k / N``, rather than 0 or 1 depending on sort order.

**Success rate** of an anonymizer against a recognizer is ``1 - top-k accuracy`` on anonymized probes (the share
of probes not identified), as in the paper. Intervals are Wilson score intervals at 95% over the ``n`` probes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _as_distance(distance: np.ndarray, shape: tuple[int, int] | None = None) -> np.ndarray:
    distance = np.asarray(distance, dtype=np.float64)
    if distance.ndim != 2:
        raise ValueError(f"distance must be a (probes, gallery) matrix, got shape {distance.shape}")
    if shape is not None and distance.shape != shape:
        raise ValueError(f"distance has shape {distance.shape}, expected {shape} (probes, gallery)")
    if np.isnan(distance).any():
        raise ValueError("distance contains NaN")
    return distance


def subject_distances(
    distance: np.ndarray, gallery_subjects: Sequence[str] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-subject distance: the minimum over each subject's gallery sequences.

    Parameters
    ----------
    distance : ndarray, float (P, G)
        Probe x gallery-sequence distances (smaller = more alike).
    gallery_subjects : sequence of str, length G

    Returns
    -------
    subjects : ndarray, str (S,)
        The distinct gallery subjects, sorted.
    per_subject : ndarray, float64 (P, S)
    """
    gallery_subjects = np.asarray(gallery_subjects)
    distance = _as_distance(distance)
    if gallery_subjects.shape != (distance.shape[1],):
        raise ValueError(
            f"gallery_subjects has {gallery_subjects.shape[0] if gallery_subjects.ndim else 0} entries, "
            f"distance has {distance.shape[1]} gallery columns"
        )
    subjects, inverse = np.unique(gallery_subjects, return_inverse=True)
    per_subject = np.full((distance.shape[0], len(subjects)), np.inf)
    np.minimum.at(per_subject.T, inverse, distance.T)
    return subjects, per_subject


def topk_hits(
    distance: np.ndarray,
    probe_subjects: Sequence[str] | np.ndarray,
    gallery_subjects: Sequence[str] | np.ndarray,
    ks: Sequence[int] = (1, 3),
) -> dict[int, np.ndarray]:
    """Expected top-k hit of each probe (see the module's tie rule).

    Parameters
    ----------
    distance : ndarray, float (P, G)
    probe_subjects : sequence of str, length P
        Every probe's subject must have at least one gallery sequence.
    gallery_subjects : sequence of str, length G
    ks : sequence of int
        The ranks k >= 1 to score.

    Returns
    -------
    dict of k -> ndarray, float64 (P,)
        Values in [0, 1]; exactly 0 or 1 where there is no tie at the boundary.
    """
    probe_subjects = np.asarray(probe_subjects)
    subjects, per_subject = subject_distances(distance, gallery_subjects)
    if probe_subjects.shape != (per_subject.shape[0],):
        raise ValueError(f"probe_subjects has {len(probe_subjects)} entries, distance has {per_subject.shape[0]} rows")
    pos = np.searchsorted(subjects, probe_subjects)
    pos = np.clip(pos, 0, len(subjects) - 1)
    missing = subjects[pos] != probe_subjects
    if missing.any():
        raise ValueError(f"probe subject {str(probe_subjects[missing][0])!r} has no sequence in the gallery")
    for k in ks:
        if int(k) < 1:
            raise ValueError(f"k must be >= 1, got {k}")
    true = per_subject[np.arange(len(pos)), pos][:, None]
    better = (per_subject < true).sum(axis=1)
    equal = (per_subject == true).sum(axis=1) - 1  # other subjects at the same distance
    return {int(k): np.clip((int(k) - better) / (equal + 1), 0.0, 1.0) for k in ks}


def view_matrix(
    distance: np.ndarray,
    probe_subjects: Sequence[str] | np.ndarray,
    probe_views: Sequence[int] | np.ndarray,
    gallery_subjects: Sequence[str] | np.ndarray,
    gallery_views: Sequence[int] | np.ndarray,
    views: Sequence[int],
    k: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k accuracy for every (probe view, gallery view) pair, as OpenGait reports CASIA-B.

    Probes whose subject has no gallery sequence at a gallery view are left out of that cell (and counted out
    of its ``n``).

    Returns
    -------
    accuracy : ndarray, float64 (V, V)
        Row = probe view, column = gallery view; NaN where a cell has no probe.
    n : ndarray, int64 (V, V)
        Probes scored in each cell.
    """
    distance = _as_distance(distance)
    probe_subjects, probe_views = np.asarray(probe_subjects), np.asarray(probe_views)
    gallery_subjects, gallery_views = np.asarray(gallery_subjects), np.asarray(gallery_views)
    if probe_views.shape != (distance.shape[0],) or gallery_views.shape != (distance.shape[1],):
        raise ValueError("probe_views / gallery_views must have one entry per distance row / column")
    acc = np.full((len(views), len(views)), np.nan)
    n = np.zeros((len(views), len(views)), np.int64)
    for i, pv in enumerate(views):
        rows = np.flatnonzero(probe_views == pv)
        for j, gv in enumerate(views):
            cols = np.flatnonzero(gallery_views == gv)
            if len(rows) == 0 or len(cols) == 0:
                continue
            keep = rows[np.isin(probe_subjects[rows], gallery_subjects[cols])]
            if len(keep) == 0:
                continue
            hits = topk_hits(distance[np.ix_(keep, cols)], probe_subjects[keep], gallery_subjects[cols], (k,))[k]
            acc[i, j] = hits.mean()
            n[i, j] = len(keep)
    return acc, n


def exclude_identical_views(matrix: np.ndarray) -> np.ndarray:
    """Mean of each row over the other columns (the diagonal, probe view == gallery view, left out); NaNs skipped.

    Parameters
    ----------
    matrix : ndarray, float (V, V)

    Returns
    -------
    ndarray, float64 (V,)
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"matrix must be square (V, V), got shape {matrix.shape}")
    off = matrix.copy()
    np.fill_diagonal(off, np.nan)
    with np.errstate(invalid="ignore"):
        counts = (~np.isnan(off)).sum(axis=1)
        sums = np.nansum(off, axis=1)
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
