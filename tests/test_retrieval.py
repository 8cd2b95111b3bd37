"""Identification metrics against hand-computed matrices and brute-force references."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest

from benchmark.retrieval import (
    exclude_identical_views,
    subject_distances,
    topk_hits,
    view_matrix,
)
from benchmark.stats import wilson_interval


def test_literal_topk() -> None:
    # Gallery: subject a has two sequences, b and c one each.  Distances by hand:
    #            a1   a2   b    c
    d = np.array([[0.9, 0.2, 0.5, 0.7],   # probe of a: a's best is 0.2 -> rank 1
                  [0.1, 0.3, 0.4, 0.2],   # probe of b: a 0.1, c 0.2 nearer -> rank 3
                  [0.6, 0.8, 0.1, 0.9]])  # probe of c: b 0.1, a 0.6 nearer -> rank 3
    subjects, per = subject_distances(d, ["a", "a", "b", "c"])
    assert subjects.tolist() == ["a", "b", "c"]
    assert per.tolist() == [[0.2, 0.5, 0.7], [0.1, 0.4, 0.2], [0.6, 0.1, 0.9]]
    hits = topk_hits(d, ["a", "b", "c"], ["a", "a", "b", "c"], ks=(1, 2, 3))
    assert hits[1].tolist() == [1.0, 0.0, 0.0]
    assert hits[2].tolist() == [1.0, 0.0, 0.0]
    assert hits[3].tolist() == [1.0, 1.0, 1.0]


def test_literal_ties() -> None:
    # All four subjects at the same distance: chance level, k / 4.
    d = np.ones((1, 4))
    hits = topk_hits(d, ["s1"], ["s1", "s2", "s3", "s4"], ks=(1, 2, 3, 4))
    assert [hits[k][0] for k in (1, 2, 3, 4)] == [0.25, 0.5, 0.75, 1.0]
    # One subject strictly nearer, the true one tied with one other: rank 2 or 3 with equal chance.
    d = np.array([[0.5, 0.1, 0.5, 0.9]])
    hits = topk_hits(d, ["t"], ["t", "u", "v", "w"], ks=(1, 2, 3))
    assert [hits[k][0] for k in (1, 2, 3)] == [0.0, 0.5, 1.0]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_ties_match_brute_force_over_orderings(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_sub = int(rng.integers(2, 6))
    gallery = [f"s{i}" for i in range(n_sub)]
    d = rng.integers(0, 3, size=(4, n_sub)).astype(float)  # few values: many ties
    probes = [gallery[int(i)] for i in rng.integers(0, n_sub, 4)]
    got = topk_hits(d, probes, gallery, ks=(1, 2))
    for p, subject in enumerate(probes):
        true = gallery.index(subject)
        for k in (1, 2):
            # Average over every ordering that sorts by distance, breaking ties by a permutation.
            total, count = 0.0, 0
            for perm in itertools.permutations(range(n_sub)):
                order = sorted(range(n_sub), key=lambda j, perm=perm: (d[p, j], perm[j]))
                total += true in order[:k]
                count += 1
            assert got[k][p] == pytest.approx(total / count)


def test_wilson_against_scipy_and_literal() -> None:
    lo, hi = wilson_interval(8, 10)
    assert (round(lo, 4), round(hi, 4)) == (0.4902, 0.9433)  # textbook value for 8/10
    for s, n in [(0, 5), (5, 5), (37, 120), (1, 1)]:
        ci = binomtest(s, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert wilson_interval(s, n) == pytest.approx((ci.low, ci.high), abs=1e-9)
    assert all(np.isnan(wilson_interval(0, 0)))
    with pytest.raises(ValueError, match="successes=6, n=5"):
        wilson_interval(6, 5)


def test_view_matrix_and_identical_view_exclusion() -> None:
    # Two subjects, views 0 and 90. Probes: a@0, b@0, a@90. Gallery: a@0, b@0, a@90, b@90.
    d = np.array([
        [0.1, 0.9, 0.8, 0.3],  # a@0  : same view -> a (hit); vs 90 gallery: b nearer (miss)
        [0.9, 0.1, 0.2, 0.4],  # b@0  : same view hit; vs 90: a 0.2 < b 0.4 (miss)
        [0.7, 0.6, 0.1, 0.5],  # a@90 : vs 0 gallery: b 0.6 < a 0.7 (miss); same view hit
    ])
    acc, n = view_matrix(d, ["a", "b", "a"], [0, 0, 90], ["a", "b", "a", "b"], [0, 0, 90, 90], views=[0, 90])
    assert acc.tolist() == [[1.0, 0.0], [0.0, 1.0]]
    assert n.tolist() == [[2, 2], [1, 1]]
    assert exclude_identical_views(acc).tolist() == [0.0, 0.0]
    m = np.array([[1.0, 0.5, 0.3], [0.2, 1.0, np.nan], [0.4, 0.6, 1.0]])
    assert exclude_identical_views(m).tolist() == pytest.approx([0.4, 0.2, 0.5])
    with pytest.raises(ValueError, match="square"):
        exclude_identical_views(np.zeros((2, 3)))


def test_view_matrix_leaves_out_probes_without_gallery() -> None:
    d = np.array([[0.1, 0.2], [0.3, 0.1]])
    acc, n = view_matrix(d, ["a", "c"], [0, 0], ["a", "b"], [0, 0], views=[0, 18])
    assert n.tolist() == [[1, 0], [0, 0]] and acc[0, 0] == 1.0 and np.isnan(acc[0, 1])


def test_errors() -> None:
    with pytest.raises(ValueError, match="probe subject 'z' has no sequence in the gallery"):
        topk_hits(np.zeros((1, 2)), ["z"], ["a", "b"])
    with pytest.raises(ValueError, match="k must be >= 1, got 0"):
        topk_hits(np.zeros((1, 2)), ["a"], ["a", "b"], ks=(0,))
    with pytest.raises(ValueError, match="gallery_subjects has 3 entries, distance has 2 gallery columns"):
        topk_hits(np.zeros((1, 2)), ["a"], ["a", "b", "c"])
    with pytest.raises(ValueError, match="distance contains NaN"):
        topk_hits(np.array([[np.nan, 1.0]]), ["a"], ["a", "b"])
    with pytest.raises(ValueError, match=r"\(probes, gallery\) matrix"):
        topk_hits(np.zeros(3), ["a"], ["a"])
