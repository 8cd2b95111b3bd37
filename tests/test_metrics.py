"""Metrics that keep their resolution near chance: EER, normalised rank, chance levels, and the optional
``chance`` column of the results table. Reference numbers are worked out by hand in the comments, or come from a
brute force in exact fractions."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import benchmark.retrieval as retrieval
from benchmark.gate import DEFAULT_METRICS, METRICS, combine_runs, read_run
from benchmark.results import COLUMNS, Row, read_csv, read_results, write_csv
from benchmark.retrieval import (
    chance_accuracy,
    eer_interval,
    equal_error_rate,
    genuine_impostor,
    normalised_rank,
    topk_hits,
)

INF = math.inf


# ---------------------------------------------------------------------------------------------- EER, by hand


def test_eer_separable_reversed_and_tied() -> None:
    # Every genuine distance below every impostor one: at t = 0.3 nothing is falsely accepted or rejected.
    assert equal_error_rate(np.array([0.1, 0.2, 0.3]), np.array([[0.5, 0.6], [0.4, 0.7], [0.8, 0.9]])) == 0.0
    # Exactly reversed: at t = 0.6 (the largest impostor) FAR = 1 and FRR = 1 (every genuine is above it).
    assert equal_error_rate(np.array([0.9, 0.8, 0.7]), np.array([[0.5, 0.6], [0.4, 0.1], [0.2, 0.3]])) == 1.0
    # All tied: the operating points are (FAR, FRR) = (0, 1) and (1, 0); the line crosses FAR = FRR at 0.5.
    assert equal_error_rate(np.ones(3), np.ones((3, 2))) == 0.5


def test_eer_exact_crossing() -> None:
    # Sorted pairs: 0.1 G, 0.2 I, 0.3 I, 0.4 G, 0.5 I, 0.6 G, 0.7 I, 0.8 I, 0.9 I (3 genuine, 6 impostor).
    # At t = 0.4: FAR = 2/6 (0.2, 0.3), FRR = 1/3 (0.6): equal, so the EER is 1/3 with no interpolation.
    assert equal_error_rate(np.array([0.1, 0.4, 0.6]), np.array([[0.3, 0.8], [0.2, 0.9], [0.5, 0.7]])) == \
        pytest.approx(1 / 3, abs=1e-15)


def test_eer_interpolates_across_a_tie_of_genuine_and_impostor() -> None:
    # Pairs: 0.1 G, 0.2 I, 0.3 I, then 0.5 holds a genuine AND an impostor, 0.6 G, 0.7 I, 0.8 I, 0.9 I.
    #   t = 0.3: FAR 2/6, FRR 2/3 (FAR - FRR = -1/3);  t = 0.5: FAR 3/6, FRR 1/3 (+1/6).
    # On the line between them FAR = FRR at 2/3 of the way: FAR = 1/3 + (2/3)(1/6) = 4/9 = 2/3 - (2/3)(1/3) = FRR.
    # (Accepting the two pairs tied at 0.5 with probability 2/3.)
    got = equal_error_rate(np.array([0.1, 0.5, 0.6]), np.array([[0.5, 0.8], [0.2, 0.9], [0.3, 0.7]]))
    assert got == pytest.approx(4 / 9, abs=1e-15)


def test_eer_of_unusable_probes() -> None:
    # Two probes found perfectly, one unusable (+inf from everyone): FRR >= 1/3 at every finite threshold.
    #   t = 0.2: FAR 0, FRR 1/3;  t = 0.4: FAR 1/6;  t = 0.5: FAR 2/6 = FRR 1/3: EER = 1/3, the unusable share.
    genuine, impostor = np.array([0.1, 0.2, INF]), np.array([[0.5, 0.6], [0.4, 0.7], [INF, INF]])
    assert equal_error_rate(genuine, impostor) == pytest.approx(1 / 3, abs=1e-15)
    # Only unusable probes: every pair tied, chance.
    assert equal_error_rate(np.full(2, INF), np.full((2, 3), INF)) == 0.5


def test_eer_with_galleries_of_different_sizes_and_no_pairs() -> None:
    # NaN pads: probe 0 has two impostors, probe 1 one. Pairs: 0.1 G, 0.2 G, 0.3 I, 0.4 I, 0.5 I: separable.
    assert equal_error_rate(np.array([0.1, 0.2]), np.array([[0.3, 0.4], [0.5, np.nan]])) == 0.0
    # No impostor (a gallery of one subject) or no probe at all: nothing to verify.
    assert math.isnan(equal_error_rate(np.array([0.1]), np.zeros((1, 0))))
    assert math.isnan(equal_error_rate(np.zeros(0), np.zeros((0, 2))))
    with pytest.raises(ValueError, match="genuine contains NaN"):
        equal_error_rate(np.array([np.nan]), np.zeros((1, 1)))
    with pytest.raises(ValueError, match=r"impostor must be a \(P, M\) matrix with P = 2, got shape \(3, 1\)"):
        equal_error_rate(np.zeros(2), np.zeros((3, 1)))


def _brute_eer(genuine: list[int], impostor: list[list[int]]) -> Fraction:
    """The rule written out in exact fractions: every operating point, then the first segment meeting FAR = FRR."""
    gen = [Fraction(g) for g in genuine]
    imp = [Fraction(x) for row in impostor for x in row]
    points = [(Fraction(0), Fraction(1))]
    for t in sorted(set(gen) | set(imp)):
        points.append((Fraction(sum(x <= t for x in imp), len(imp)), Fraction(sum(g > t for g in gen), len(gen))))
    for (far0, frr0), (far1, frr1) in itertools.pairwise(points):
        if far0 - frr0 < 0 <= far1 - frr1:
            step = (frr0 - far0) / ((far1 - far0) - (frr1 - frr0))
            return far0 + step * (far1 - far0)
    raise AssertionError("no crossing")


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 5), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_eer_matches_exact_brute_force(probes: int, impostors: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    genuine = rng.integers(0, 4, probes)  # few values: many ties, within and across genuine and impostor
    impostor = rng.integers(0, 4, (probes, impostors))
    want = _brute_eer(genuine.tolist(), impostor.tolist())
    assert equal_error_rate(genuine.astype(float), impostor.astype(float)) == pytest.approx(float(want), abs=1e-12)


# ---------------------------------------------------------------------------------------------- EER interval


def test_eer_interval_is_a_bootstrap_over_probes(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    genuine = rng.normal(1.0, 0.5, 30)
    impostor = rng.normal(1.6, 0.5, (30, 4))
    impostor[::5, 3] = np.nan  # some probes with fewer impostors, as pooled views have
    got = eer_interval(genuine, impostor, replicates=200, seed=7)
    # Reference: resample the probes themselves (their rows) with the same draws, and recompute.
    draws = np.random.default_rng(7).integers(0, 30, size=(200, 30))
    reps = [equal_error_rate(genuine[d], impostor[d]) for d in draws]
    assert got == pytest.approx(tuple(np.percentile(reps, [2.5, 97.5])), abs=1e-12)
    assert got[0] < equal_error_rate(genuine, impostor) < got[1]
    assert eer_interval(genuine, impostor, replicates=200, seed=7) == got  # deterministic
    # Many small chunks, and a first window so narrow that most replicates need it widened: the same numbers.
    monkeypatch.setattr(retrieval, "_PAIR_WEIGHTS_PER_CHUNK", 100)
    monkeypatch.setattr(retrieval, "_FIRST_WINDOW", 0.01)
    assert eer_interval(genuine, impostor, replicates=200, seed=7) == pytest.approx(got, abs=1e-15)


def test_eer_interval_edges() -> None:
    separable = (np.array([0.1, 0.2, 0.3]), np.array([[0.5, 0.6], [0.4, 0.7], [0.8, 0.9]]))
    assert eer_interval(*separable) == (0.0, 0.0)  # every resample is separable too
    assert all(math.isnan(x) for x in eer_interval(np.array([0.1]), np.array([[0.2]])))  # one probe: no spread
    with pytest.raises(ValueError, match="replicates must be >= 1, got 0"):
        eer_interval(*separable, replicates=0)


# ---------------------------------------------------------------------------------------------- rank, chance


def test_normalised_rank_by_hand() -> None:
    # The literal matrix of tests/test_retrieval.py: subject distances [[0.2, 0.5, 0.7], [0.1, 0.4, 0.2],
    # [0.6, 0.1, 0.9]] for probes of a, b, c: a first (0), b behind both others (2/2), c behind both (2/2).
    d = np.array([[0.9, 0.2, 0.5, 0.7], [0.1, 0.3, 0.4, 0.2], [0.6, 0.8, 0.1, 0.9]])
    assert normalised_rank(d, ["a", "b", "c"], ["a", "a", "b", "c"]).tolist() == [0.0, 1.0, 1.0]
    genuine, impostor = genuine_impostor(d, ["a", "b", "c"], ["a", "a", "b", "c"])
    assert genuine.tolist() == [0.2, 0.4, 0.9] and impostor.tolist() == [[0.5, 0.7], [0.1, 0.2], [0.6, 0.1]]
    # Ties, S = 5: t at 0.5; u nearer (b = 1), v and w tied with t (e = 2): (1 + 2/2) / 4 = 0.5.
    # S = 4: t at 0.2 tied with u (e = 1), nobody nearer: (0 + 1/2) / 3 = 1/6.
    d = np.array([[0.5, 0.1, 0.5, 0.5, 0.9], [0.2, 0.2, 0.3, 0.4, 0.9]])
    got = normalised_rank(d, ["t", "t"], ["t", "u", "v", "w", "x"])
    assert got[0] == 0.5
    got = normalised_rank(d[:, :4], ["t", "t"], ["t", "u", "v", "w"])
    assert got[1] == pytest.approx(1 / 6, abs=1e-15)
    assert normalised_rank(np.ones((2, 3)), ["a", "b"], ["a", "b", "c"]).tolist() == [0.5, 0.5]  # all tied: chance
    assert np.isnan(normalised_rank(np.ones((1, 1)), ["a"], ["a"])).all()  # nobody to rank against


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_normalised_rank_is_the_mean_top_k_miss(seed: int) -> None:
    # E[position - 1] = sum over k = 1 .. S-1 of P(not in the top k): the rank from the top-k hits' tie rule.
    rng = np.random.default_rng(seed)
    size = int(rng.integers(2, 7))
    gallery = [f"s{i}" for i in range(size)]
    d = rng.integers(0, 3, size=(5, size)).astype(float)
    probes = [gallery[int(i)] for i in rng.integers(0, size, 5)]
    hits = topk_hits(d, probes, gallery, ks=range(1, size))
    want = sum(1 - hits[k] for k in range(1, size)) / (size - 1)
    assert normalised_rank(d, probes, gallery) == pytest.approx(want, abs=1e-12)


def test_chance_levels_by_hand() -> None:
    assert 1 - chance_accuracy(1, 5) == pytest.approx(0.8)  # S = 5, k = 1: 4 of 5 probes missed by chance
    assert 1 - chance_accuracy(3, 5) == pytest.approx(0.4)
    assert 1 - chance_accuracy(6, 5) == 0.0  # k beyond the gallery: always found
    assert np.allclose(chance_accuracy(1, np.array([5, 13])), [0.2, 1 / 13])
    with pytest.raises(ValueError, match="k must be >= 1"):
        chance_accuracy(0, 5)


def test_eer_and_rank_are_gateable_but_not_gated_by_default() -> None:
    for metric in ("eer", "rank"):
        rule = METRICS[metric]
        assert (rule.direction, rule.tolerance, rule.bounds) == (+1, 0.05, (0.0, 1.0))
        assert metric not in DEFAULT_METRICS


# ---------------------------------------------------------------------------------------------- chance column


def test_chance_column_round_trip_and_old_files(tmp_path: Path) -> None:
    rows = [Row("m", "rec", "all", -1, "success_rate", 0.9, 40, k=1, chance=0.8),
            Row("m", "rec", "all", -1, "eer", 0.45, 40, ci_low=0.4, ci_high=0.5, chance=0.5),
            Row("m", "score", "all", -1, "frame_score", 0.7, 40)]
    written = write_csv(rows, tmp_path / "results.csv")
    assert list(written.columns) == [*COLUMNS, "chance"]
    back = read_csv(tmp_path / "results.csv").set_index("metric")
    assert back.loc["success_rate", "chance"] == 0.8 and math.isnan(back.loc["frame_score", "chance"])
    # A table whose rows hold no chance level keeps the old columns; an old file reads with the column empty.
    old = write_csv(rows[2:], tmp_path / "old" / "results.csv")
    assert list(old.columns) == list(COLUMNS)
    assert math.isnan(read_csv(tmp_path / "old" / "results.csv")["chance"].item())
    frame, _ = read_results(tmp_path / "old")
    assert frame["chance"].isna().all()
    # A run with the column reads through the gate; a golden file made from it holds the tidy columns only.
    run = read_run(tmp_path)
    assert run.set_index("metric").loc["success_rate", "chance"] == 0.8
    assert "chance" not in combine_runs([run]).columns
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "results.csv").write_text(
        ",".join([*COLUMNS, "chance"]) + "\nm,,rec,all,-1,eer,0,0.4,10,,,half\n")
    with pytest.raises(ValueError, match="column 'chance' must be a number, got 'half'"):
        read_results(tmp_path / "bad")
