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
With S gallery subjects a recognizer that knows nothing has top-k accuracy ``min(k, S) / S``
(:func:`chance_accuracy`): with few test subjects every method crowds near that level, where the two metrics
below still separate them (docs/metrics.md).

**Normalised rank** (:func:`normalised_rank`): the expected position of the true subject among the other
``S - 1`` under the same random tie order, ``(b + e / 2) / (S - 1)``: 0 = always first, 1 = always last, chance
0.5. It is one minus the probe's ROC AUC of its genuine against its impostor distances.

**Equal error rate** (:func:`equal_error_rate`): verification of (probe, gallery subject) pairs by their subject
distance, genuine = the probe's own subject, impostor = every other one; a pair is accepted when its distance is
at most the threshold. The operating points over all distinct distances run from (FAR, FRR) = (0, 1) to (1, 0);
the EER is where the line through two neighbouring points crosses FAR = FRR. Moving along that line is accepting
the pairs tied at the next distance with a probability, so ties are handled as randomly ordered, in expectation,
as above. 0 = separable, 0.5 = chance (genuine and impostor distances alike), 1 = exactly reversed.
"""

from __future__ import annotations

import dataclasses
import math
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
    for k in ks:
        if int(k) < 1:
            raise ValueError(f"k must be >= 1, got {k}")
    better, equal, _ = _true_subject_order(distance, probe_subjects, gallery_subjects)
    return {int(k): np.clip((int(k) - better) / (equal + 1), 0.0, 1.0) for k in ks}


def _true_subject(
    distance: np.ndarray, probe_subjects: Sequence[str] | np.ndarray, gallery_subjects: Sequence[str] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-subject distances (P, S) and the column of each probe's own subject (P,), checked."""
    probe_subjects = np.asarray(probe_subjects)
    subjects, per_subject = subject_distances(distance, gallery_subjects)
    if probe_subjects.shape != (per_subject.shape[0],):
        raise ValueError(f"probe_subjects has {len(probe_subjects)} entries, distance has {per_subject.shape[0]} rows")
    pos = np.clip(np.searchsorted(subjects, probe_subjects), 0, max(len(subjects) - 1, 0))
    missing = subjects[pos] != probe_subjects if len(subjects) else np.ones(len(pos), bool)
    if missing.any():
        raise ValueError(f"probe subject {str(probe_subjects[missing][0])!r} has no sequence in the gallery")
    return per_subject, pos


def _true_subject_order(
    distance: np.ndarray, probe_subjects: Sequence[str] | np.ndarray, gallery_subjects: Sequence[str] | np.ndarray
) -> tuple[np.ndarray, np.ndarray, int]:
    """Per probe: other subjects strictly nearer than its own (P,), others at the same distance (P,), and S."""
    per_subject, pos = _true_subject(distance, probe_subjects, gallery_subjects)
    true = per_subject[np.arange(len(pos)), pos][:, None]
    better = (per_subject < true).sum(axis=1)
    equal = (per_subject == true).sum(axis=1) - 1  # other subjects at the same distance
    return better, equal, per_subject.shape[1]


def normalised_rank(
    distance: np.ndarray,
    probe_subjects: Sequence[str] | np.ndarray,
    gallery_subjects: Sequence[str] | np.ndarray,
) -> np.ndarray:
    """Expected position of each probe's own subject among the other gallery subjects, scaled to [0, 1].

    ``(b + e / 2) / (S - 1)`` with ``b`` other subjects strictly nearer, ``e`` others at the same distance and S
    gallery subjects: the mean over random orders of the tied subjects (the module's tie rule).

    Parameters
    ----------
    distance : ndarray, float (P, G)
    probe_subjects : sequence of str, length P
    gallery_subjects : sequence of str, length G

    Returns
    -------
    ndarray, float64 (P,)
        0 = always first, 1 = always last, 0.5 = chance; NaN when S = 1 (nobody to rank against).
    """
    better, equal, size = _true_subject_order(distance, probe_subjects, gallery_subjects)
    if size < 2:
        return np.full(len(better), np.nan)
    return (better + equal / 2) / (size - 1)


def genuine_impostor(
    distance: np.ndarray,
    probe_subjects: Sequence[str] | np.ndarray,
    gallery_subjects: Sequence[str] | np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Verification scores: each probe's distance to its own subject and to every other gallery subject.

    Subject distances as in :func:`subject_distances` (the minimum over the subject's gallery sequences).

    Returns
    -------
    genuine : ndarray, float64 (P,)
    impostor : ndarray, float64 (P, S - 1)
        The other subjects in sorted order.
    """
    per_subject, pos = _true_subject(distance, probe_subjects, gallery_subjects)
    own = np.zeros(per_subject.shape, bool)
    own[np.arange(len(pos)), pos] = True
    return per_subject[own], per_subject[~own].reshape(len(pos), per_subject.shape[1] - 1)


def chance_accuracy(k: int, gallery_size: int | np.ndarray) -> float | np.ndarray:
    """Top-k accuracy of a recognizer that knows nothing (every subject tied): ``min(k, S) / S``.

    The chance success rate is one minus this, e.g. ``1 - 1/5 = 0.8`` for k = 1 and S = 5 gallery subjects.
    """
    size = np.asarray(gallery_size)
    if int(k) < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if (size < 1).any():
        raise ValueError(f"a gallery needs at least one subject, got S = {size.min()}")
    out = np.minimum(int(k), size) / size
    return float(out) if out.ndim == 0 else out


#: EER and normalised rank of a recognizer that knows nothing
CHANCE_EER = 0.5
CHANCE_RANK = 0.5
#: bootstrap replicates x pairs weighed at once (float64: 32 MB per array)
_PAIR_WEIGHTS_PER_CHUNK = 1 << 22
#: the bootstrap looks for crossings first where the sample's |FAR - FRR| <= this / sqrt(P)
_FIRST_WINDOW = 2.0


@dataclasses.dataclass(frozen=True)
class _Pairs:
    """Every (probe, subject) pair sorted by distance."""

    owner: np.ndarray  # int (N,): the pair's probe
    genuine: np.ndarray  # float64 (N,): 1 for a genuine pair, 0 for an impostor
    stops: np.ndarray  # int (m + 1,): pairs accepted at operating point j (0: none; j: distance <= j-th distinct)
    probes: int
    impostors: np.ndarray  # float64 (P,): impostor pairs of each probe


def _eer_pairs(genuine: np.ndarray, impostor: np.ndarray) -> _Pairs:
    genuine = np.asarray(genuine, dtype=np.float64)
    impostor = np.asarray(impostor, dtype=np.float64)
    if genuine.ndim != 1:
        raise ValueError(f"genuine must be one distance per probe (P,), got shape {genuine.shape}")
    if impostor.ndim != 2 or impostor.shape[0] != genuine.shape[0]:
        raise ValueError(f"impostor must be a (P, M) matrix with P = {genuine.shape[0]}, got shape {impostor.shape}")
    if np.isnan(genuine).any():
        raise ValueError("genuine contains NaN; every probe has a distance to its own subject")
    present = ~np.isnan(impostor)  # NaN pads rows with fewer impostors
    rows, cols = np.nonzero(present)
    scores = np.concatenate([genuine, impostor[rows, cols]])
    owner = np.concatenate([np.arange(len(genuine)), rows])
    is_genuine = np.concatenate([np.ones(len(genuine)), np.zeros(len(rows))])
    order = np.argsort(scores, kind="stable")
    scores = scores[order]
    ends = np.flatnonzero(np.append(scores[1:] != scores[:-1], True)) if len(scores) else np.zeros(0, np.int64)
    return _Pairs(owner[order], is_genuine[order], np.concatenate([[0], ends + 1]), len(genuine),
                  present.sum(axis=1).astype(np.float64))


def _accepted(weights: np.ndarray, pairs: _Pairs, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """Genuine and impostor weight accepted at operating points ``lo .. hi``, for probe weights (B, P): two
    (B, hi - lo + 1) arrays. Pairs below ``lo`` enter through per-probe counts, so only the window is summed."""
    head = pairs.owner[:pairs.stops[lo]]
    own = np.bincount(head, weights=pairs.genuine[:pairs.stops[lo]], minlength=pairs.probes)  # (P,)
    other = np.bincount(head, minlength=pairs.probes) - own  # (P,)
    window = slice(pairs.stops[lo], pairs.stops[hi])
    at = pairs.stops[lo + 1:hi + 1] - pairs.stops[lo] - 1  # the last window pair of each point lo+1 .. hi
    gen, imp = [], []
    chunk = max(1, _PAIR_WEIGHTS_PER_CHUNK // max(window.stop - window.start, 1))
    for i in range(0, len(weights), chunk):
        w = weights[i:i + chunk]  # (b, P)
        pair_w = w[:, pairs.owner[window]]  # (b, Nw): each pair weighs as much as its probe
        g = np.cumsum(pair_w * pairs.genuine[window], axis=1)  # (b, Nw)
        a = np.cumsum(pair_w, axis=1)  # (b, Nw)
        zero = np.zeros((len(w), 1))
        gen.append(w @ own[:, None] + np.concatenate([zero, g[:, at]], axis=1))  # (b, hi - lo + 1)
        imp.append(w @ other[:, None] + np.concatenate([zero, a[:, at] - g[:, at]], axis=1))
    return np.concatenate(gen), np.concatenate(imp)


def _crossing(weights: np.ndarray, pairs: _Pairs, lo: int, hi: int) -> np.ndarray:
    """EER for each row of probe weights (B, P), whole numbers (the sums are then exact), found between operating
    points ``lo`` and ``hi``; NaN for a row whose crossing is not in between (or that has no impostor pair)."""
    gen, imp = _accepted(weights, pairs, lo, hi)  # (B, K)
    n_gen, n_imp = weights.sum(axis=1)[:, None], (weights @ pairs.impostors)[:, None]  # (B, 1)
    d = imp * n_gen - (n_gen - gen) * n_imp  # (FAR - FRR) * n_gen * n_imp, (B, K): rises with the threshold
    inside = (d[:, 0] < 0) & (d[:, -1] >= 0)
    j = np.maximum(np.argmax(d >= 0, axis=1), 1)  # the first point with FAR >= FRR
    r = np.arange(len(d))
    before, after = d[r, j - 1], d[r, j]
    with np.errstate(invalid="ignore", divide="ignore"):
        far = imp / n_imp  # (B, K)
        step = np.where(after > before, -before / (after - before), 1.0)  # where the line meets FAR = FRR
        eer = far[r, j - 1] + step * (far[r, j] - far[r, j - 1])
    return np.where(inside, eer, np.nan)


def equal_error_rate(genuine: np.ndarray, impostor: np.ndarray) -> float:
    """Equal error rate of verifying (probe, subject) pairs by distance (the module's rule).

    FAR = share of impostor pairs with distance <= t, FRR = share of genuine pairs with distance > t; the EER
    interpolates linearly between the two neighbouring operating points where FAR - FRR changes sign (exactly
    the point where it is 0, when there is one). Infinite distances are allowed: a probe at +inf from everyone
    is rejected at every finite threshold (ISO/IEC 19795-1's failure to acquire).

    Parameters
    ----------
    genuine : ndarray, float (P,)
        Each probe's distance to its own subject.
    impostor : ndarray, float (P, M)
        Its distances to other subjects; NaN where a probe has fewer than M (pooled views with other galleries).

    Returns
    -------
    float
        In [0, 1]: 0 = genuine all nearer than impostors, 0.5 = chance, 1 = all farther; NaN without a genuine
        or an impostor pair.
    """
    pairs = _eer_pairs(genuine, impostor)
    if pairs.probes == 0:
        return math.nan
    return float(_crossing(np.ones((1, pairs.probes)), pairs, 0, len(pairs.stops) - 1)[0])


def eer_interval(
    genuine: np.ndarray,
    impostor: np.ndarray,
    *,
    replicates: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of :func:`equal_error_rate` over probes.

    Each replicate draws P probes with replacement (with all their pairs: a probe's pairs share its sequence, so
    they are not independent) and recomputes the EER; the interval is the ``(1 -+ confidence) / 2`` percentiles
    of the replicates. The fixed ``seed`` makes it deterministic.

    Returns
    -------
    (float, float)
        ``(nan, nan)`` for fewer than 2 probes, or without impostor pairs.
    """
    if replicates < 1:
        raise ValueError(f"replicates must be >= 1, got {replicates}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    pairs = _eer_pairs(genuine, impostor)
    probes, last = pairs.probes, len(pairs.stops) - 1
    if probes < 2 or not pairs.impostors.any():
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, probes, size=(replicates, probes))  # (B, P) probe indices
    flat = (draws + probes * np.arange(replicates)[:, None]).ravel()
    weights = np.bincount(flat, minlength=replicates * probes).reshape(replicates, probes).astype(np.float64)
    # Exact but quick: each replicate's crossing is first looked for where the full sample's FAR - FRR lies
    # within +-delta (about 4 standard errors), the window widened for those whose crossing is outside.
    gen, imp = _accepted(np.ones((1, probes)), pairs, 0, last)
    gap = imp[0] / pairs.impostors.sum() - (1 - gen[0] / probes)  # FAR - FRR of the full sample, (m + 1,)
    eer = np.full(replicates, np.nan)
    todo = np.flatnonzero(weights @ pairs.impostors > 0)  # a replicate without impostor pairs has no EER
    delta, window = _FIRST_WINDOW / math.sqrt(probes), (-1, -1)
    while len(todo):
        lo = max(int(np.searchsorted(gap, -delta, side="right")) - 1, 0)
        hi = min(int(np.searchsorted(gap, delta, side="left")), last)
        delta *= 2
        if (lo, hi) == window:
            continue
        window = (lo, hi)
        eer[todo] = _crossing(weights[todo], pairs, lo, hi)
        todo = todo[np.isnan(eer[todo])] if window != (0, last) else todo[:0]
    if np.isnan(eer).all():
        return (math.nan, math.nan)
    tail = 100 * (1 - confidence) / 2
    lo_q, hi_q = np.nanpercentile(eer, [tail, 100 - tail])
    return (float(lo_q), float(hi_q))


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
