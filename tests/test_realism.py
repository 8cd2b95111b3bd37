"""Realism metrics (benchmark.scorers.realism): Fréchet distance of embeddings and temporal consistency."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmark.scorers import realism
from benchmark.scorers.realism import (
    embedding_frechet,
    frame_change,
    frechet_distance,
    silhouette_difference,
    temporal_consistency,
)
from benchmark.sequences import Embedding, InputSpec, Sequences

# ------------------------------------------------------------------------------------------------- Fréchet


def symmetric_reference(a: np.ndarray, b: np.ndarray) -> float:
    """Independent route: Tr((Sa Sb)^1/2) = Tr((Sa^1/2 Sb Sa^1/2)^1/2), both roots of symmetric PSD matrices by eigh."""

    def psd_sqrt(m: np.ndarray) -> np.ndarray:
        w, v = np.linalg.eigh(m)
        return (v * np.sqrt(np.clip(w, 0, None))) @ v.T

    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = psd_sqrt(sa)
    inner = np.linalg.eigvalsh(root @ sb @ root)
    diff = a.mean(0) - b.mean(0)
    return float(diff @ diff + np.trace(sa) + np.trace(sb) - 2 * np.sqrt(np.clip(inner, 0, None)).sum())


def test_frechet_of_1d_gaussians_by_hand() -> None:
    # a: mean 1, sample variance 2; b: mean 5, variance 8. (1 - 5)^2 + (sqrt 2 - sqrt 8)^2 = 16 + 2 = 18.
    assert frechet_distance(np.array([[0.0], [2.0]]), np.array([[3.0], [7.0]])) == pytest.approx(18.0, rel=1e-12)


def test_frechet_of_diagonal_covariances_by_hand() -> None:
    # a = (+-1, +-2): mean (0, 0), covariance diag(4/3, 16/3); b = (3 +- 2, -1 +- 1): mean (3, -1), diag(16/3, 4/3).
    # 3^2 + 1^2 + (sqrt(4/3) - sqrt(16/3))^2 + (sqrt(16/3) - sqrt(4/3))^2 = 10 + 4/3 + 4/3 = 38/3.
    a = np.array([[x, y] for x in (-1.0, 1.0) for y in (-2.0, 2.0)])
    b = np.array([[3 + x, -1 + y] for x in (-2.0, 2.0) for y in (-1.0, 1.0)])
    assert frechet_distance(a, b) == pytest.approx(38 / 3, rel=1e-12)


def test_frechet_of_identical_sets_is_zero() -> None:
    a = np.random.default_rng(0).normal(size=(30, 6))
    assert frechet_distance(a, a.copy()) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("n, d", [(40, 5), (4, 12)])  # full-rank and singular (fewer samples than dimensions)
def test_frechet_matches_the_symmetric_reference(n: int, d: int) -> None:
    rng = np.random.default_rng(n * 100 + d)
    a = rng.normal(size=(n, d))
    b = rng.normal(size=(n + 3, d)) @ rng.normal(size=(d, d)) + 0.5
    assert frechet_distance(a, b) == pytest.approx(symmetric_reference(a, b), rel=1e-6, abs=1e-6)


def test_frechet_regularises_a_product_without_finite_root(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[np.ndarray] = []
    real = realism.sqrtm

    def flaky(m: np.ndarray) -> np.ndarray:  # the first root fails, as scipy's does for defective products
        calls.append(m)
        return np.full_like(m, np.nan) if len(calls) == 1 else real(m)

    monkeypatch.setattr(realism, "sqrtm", flaky)
    eps = 0.5
    got = frechet_distance(np.array([[0.0], [2.0]]), np.array([[3.0], [7.0]]), eps=eps)
    # Means as before (16); traces of the unregularised covariances 2 + 8; the root of (2 + eps)(8 + eps).
    assert got == pytest.approx(16 + 2 + 8 - 2 * math.sqrt(2.5 * 8.5), rel=1e-12)
    np.testing.assert_allclose(calls[1], [[2.5 * 8.5]])


def test_frechet_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="a has 1 sample"):
        frechet_distance(np.zeros((1, 3)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="same dimension D, got 3 and 2"):
        frechet_distance(np.zeros((4, 3)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"b must be a \(N, D\) array"):
        frechet_distance(np.zeros((4, 3)), np.zeros(4))
    with pytest.raises(ValueError, match="NaN"):
        frechet_distance(np.zeros((4, 3)), np.full((4, 3), np.nan))


class MeanEmbedder:
    """Embeds a GEI as its mean pixel value, shaped (1, 1) per sequence so that flattening is exercised."""

    def embed(self, data: Sequences) -> Embedding:
        return Embedding(data.geis().mean(axis=(1, 2))[:, None, None], data.views.copy())


def constant_geis(entries: list[tuple[int, float]]) -> Sequences:
    items = [np.full((8, 8), value, np.float32) for _, value in entries]
    n = len(entries)
    return Sequences.make(items, ["001"] * n, ["nm-05"] * n, [v for v, _ in entries], InputSpec(8, 8, "gei"))


def test_embedding_frechet_per_view_and_pooled() -> None:
    original = constant_geis([(0, 0.0), (0, 0.2), (90, 0.1), (90, 0.3), (180, 0.5), (180, 0.6)])
    anonymized = constant_geis([(0, 0.3), (0, 0.7), (90, 0.1), (90, 0.3), (180, 0.5)])
    got = embedding_frechet(MeanEmbedder(), original, anonymized)
    # view 0: the 1-D case above scaled by 1/10, so 18/100; view 90: the same values, 0; view 180: one
    # anonymized sequence, left out. Pooled: original (0, .2, .1, .3, .5, .6), anonymized (.3, .7, .1, .3, .5).
    pooled_o, pooled_a = np.array([0, 0.2, 0.1, 0.3, 0.5, 0.6]), np.array([0.3, 0.7, 0.1, 0.3, 0.5])
    pooled = (pooled_o.mean() - pooled_a.mean()) ** 2 + (pooled_o.std(ddof=1) - pooled_a.std(ddof=1)) ** 2
    assert sorted(got) == [-1, 0, 90]
    assert got[0][0] == pytest.approx(0.18, rel=1e-5) and got[0][1] == 2
    assert got[90] == (pytest.approx(0.0, abs=1e-10), 2)
    assert got[-1][0] == pytest.approx(pooled, rel=1e-5) and got[-1][1] == 5
    assert embedding_frechet(MeanEmbedder(), original, anonymized, by_view=False) == {-1: got[-1]}


# ------------------------------------------------------------------------------------------------- temporal

# 4x4 masks: A = columns 0-1 (8 px), B = columns 1-2 (8 px), C = columns 0-2 (12 px).
# IoU(A, A) = 1, IoU(A, C) = 8/12 = 2/3, IoU(A, B) = 4/12 = 1/3, IoU(B, C) = 8/12 = 2/3.
A = np.array([[1, 1, 0, 0]] * 4, bool)
B = np.array([[0, 1, 1, 0]] * 4, bool)
C = np.array([[1, 1, 1, 0]] * 4, bool)
E = np.zeros((4, 4), bool)


def test_frame_change_by_hand() -> None:
    np.testing.assert_allclose(frame_change(np.stack([A, A, C, B])), [0.0, 1 / 3, 1 / 3], rtol=1e-12)
    np.testing.assert_allclose(frame_change(np.stack([E, E, A])), [0.0, 1.0])  # empty union: no change


def test_temporal_consistency_by_hand() -> None:
    # original A, A, C: changes 0, 1/3 -> mean 1/6; anonymized A, B, A: changes 2/3, 2/3 -> mean 2/3; ratio 4.
    got = temporal_consistency(np.stack([A, A, C]), np.stack([A, B, A]))
    assert got == pytest.approx({"original": 1 / 6, "anonymized": 2 / 3, "ratio": 4.0}, rel=1e-12)
    # Smoother than the original: A, C, C -> changes 1/3, 0 -> mean 1/6 against original A, B, A: ratio 1/4.
    assert temporal_consistency(np.stack([A, B, A]), np.stack([A, C, C]))["ratio"] == pytest.approx(0.25)


def test_temporal_consistency_of_a_still_original() -> None:
    still = np.stack([A, A, A])
    assert temporal_consistency(still, still) == {"original": 0.0, "anonymized": 0.0, "ratio": 1.0}
    assert temporal_consistency(still, np.stack([A, B, A]))["ratio"] == math.inf


def test_temporal_consistency_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match=r"original_sil has shape \(3, 4, 4\), anonymized_sil \(2, 4, 4\)"):
        temporal_consistency(np.stack([A, A, C]), np.stack([A, A]))
    with pytest.raises(ValueError, match="at least 2 frames, got 1"):
        temporal_consistency(A[None], A[None])
    with pytest.raises(TypeError, match="anonymized_sil must have dtype bool"):
        temporal_consistency(np.stack([A, A]), np.stack([A, A]).astype(np.uint8))


def test_silhouette_difference_by_hand() -> None:
    # A vs C: XOR = column 2 (4 pixels) of a 12-pixel union -> 1/3; A vs B: 8 of 12 -> 2/3; blank vs blank -> 0
    assert silhouette_difference(np.stack([A, A, C]), np.stack([A, C, A])) == pytest.approx(2 / 9, rel=1e-12)
    assert silhouette_difference(np.stack([A, A, E]), np.stack([A, B, E])) == pytest.approx(2 / 9, rel=1e-12)
    assert silhouette_difference(np.stack([A, C]), np.stack([A, C])) == 0.0
    assert silhouette_difference(np.stack([A]), np.stack([E])) == 1.0  # nothing in common


def test_silhouette_difference_matches_a_pixel_loop() -> None:
    rng = np.random.default_rng(7)
    a, b = rng.random((5, 9, 7)) < 0.4, rng.random((5, 9, 7)) < 0.5
    shares = []
    for fa, fb in zip(a, b, strict=True):  # per frame: count the pixels one by one
        differ = union = 0
        for x, y in zip(fa.ravel().tolist(), fb.ravel().tolist(), strict=True):
            differ += x != y
            union += x or y
        shares.append(differ / union if union else 0.0)
    assert silhouette_difference(a, b) == pytest.approx(sum(shares) / len(shares), rel=1e-12)


def test_silhouette_difference_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match=r"original_sil has shape \(2, 4, 4\), anonymized_sil \(1, 4, 4\)"):
        silhouette_difference(np.stack([A, C]), A[None])
    with pytest.raises(ValueError, match="at least 1 frame, got 0"):
        silhouette_difference(A[:0].reshape(0, 4, 4), A[:0].reshape(0, 4, 4))
    with pytest.raises(TypeError, match="original_sil must have dtype bool"):
        silhouette_difference(A[None].astype(np.uint8), A[None])
