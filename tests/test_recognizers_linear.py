"""Robust PCA, robust projection, LDA and the view transformation model against known answers and references."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from recognizers.linear import (
    ViewTransform,
    _svt,
    fix_signs,
    lda,
    pairwise_euclidean,
    pca_lda,
    principal_basis,
    robust_pca,
    robust_project,
)


def test_svt_matches_svd_reference() -> None:
    rng = np.random.default_rng(0)
    for shape in ((12, 40), (40, 12)):
        a = rng.normal(size=shape)
        u, s, vt = np.linalg.svd(a, full_matrices=False)
        ref = (u * np.maximum(s - 2.5, 0)) @ vt
        np.testing.assert_allclose(_svt(a, 2.5), ref, atol=1e-10)
    assert not _svt(a, 1e6).any()


def test_robust_pca_recovers_low_rank_and_sparse_parts() -> None:
    # Candès et al. 2011, Sec. 4.1: random rank-r L0 = X Y^T and a random sparse S0 with +-1 entries are recovered
    # exactly when r and the support are small; here 100 x 120, rank 3, 5% of the entries corrupted.
    rng = np.random.default_rng(1)
    m, n, r = 100, 120, 3
    low0 = rng.normal(size=(m, r)) @ rng.normal(size=(r, n)) / np.sqrt(n)
    sparse0 = np.zeros((m, n))
    support = rng.random((m, n)) < 0.05
    sparse0[support] = rng.choice([-1.0, 1.0], support.sum())
    low, sparse, iterations = robust_pca(low0 + sparse0)
    assert np.linalg.norm(low - low0) / np.linalg.norm(low0) < 1e-5
    assert np.linalg.norm(sparse - sparse0) / np.linalg.norm(sparse0) < 1e-5
    assert np.linalg.matrix_rank(low, tol=1e-6) == r
    assert iterations < 100
    # The plain SVD cannot do this: the best rank-3 approximation is far off.
    u, s, vt = np.linalg.svd(low0 + sparse0, full_matrices=False)
    assert np.linalg.norm((u[:, :r] * s[:r]) @ vt[:r] - low0) / np.linalg.norm(low0) > 0.1


def test_robust_pca_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match=r"non-empty \(m, n\) matrix, got shape \(3,\)"):
        robust_pca(np.zeros(3))
    low, sparse, it = robust_pca(np.zeros((4, 5)))
    assert it == 0 and not low.any() and not sparse.any()


def test_robust_project_ignores_sparse_errors() -> None:
    rng = np.random.default_rng(2)
    basis = np.linalg.qr(rng.normal(size=(200, 5)))[0].T  # (5, 200) orthonormal rows
    coeffs = rng.normal(size=(3, 5))
    errors = np.zeros((3, 200))
    errors[:, :10] = 3.0  # a "bag": a few pixels far off
    x = coeffs @ basis + errors
    np.testing.assert_allclose(robust_project(x, basis, np.inf), x @ basis.T)
    # By hand: at the optimum each corrupted pixel keeps a residual of exactly tau (soft thresholding), clean
    # pixels keep -delta B_j, and the residual is orthogonal to the basis. With B_e the corrupted columns and
    # s = B_e 1 that gives delta (I - B_e B_e^T) = tau s, against delta = 3 s for the plain projection.
    tau = 0.1
    be = basis[:, :10]
    s = be.sum(1)
    expected = tau * np.linalg.solve(np.eye(5) - be @ be.T, s)
    robust = robust_project(x, basis, tau, iterations=200)
    np.testing.assert_allclose(robust - coeffs, np.tile(expected, (3, 1)), atol=1e-8)
    np.testing.assert_allclose(x @ basis.T - coeffs, np.tile(3.0 * s, (3, 1)), atol=1e-12)
    assert np.abs(expected).max() < np.abs(3.0 * s).max() / 20


def test_lda_two_classes_by_hand() -> None:
    # Class a: the corners of a 2x2 square, mean (1, 1), scatter 4 I.  Class b: (4, 1), (6, 3), mean (5, 2),
    # scatter [[2, 2], [2, 2]].  S_w = [[6, 2], [2, 6]]; Fisher's direction S_w^-1 (m_a - m_b)
    # = [[6, -2], [-2, 6]] / 32 @ (-4, -1) is parallel to (11, -1).
    x = np.array([[0, 0], [2, 0], [0, 2], [2, 2], [4, 1], [6, 3]], float)
    labels = np.array(["a", "a", "a", "a", "b", "b"])
    w = lda(x, labels).weights[:, 0]
    direction = np.array([11.0, -1.0]) / np.hypot(11, 1)
    assert abs(abs(w @ direction) / np.linalg.norm(w) - 1) < 1e-6
    np.testing.assert_allclose(lda(x, labels).mean, [2.3333333333, 1.3333333333])


def test_lda_matches_eigenvectors_of_sw_inverse_sb() -> None:
    rng = np.random.default_rng(3)
    centres = rng.normal(scale=3, size=(4, 6))
    labels = np.repeat(np.arange(4), 15)
    x = centres[labels] + rng.normal(size=(60, 6))
    got = lda(x, labels, reg=0.0).weights  # (6, 3)
    mean = x.mean(0)
    sw = sum((x[labels == c] - x[labels == c].mean(0)).T @ (x[labels == c] - x[labels == c].mean(0)) for c in range(4))
    sb = sum(15 * np.outer(x[labels == c].mean(0) - mean, x[labels == c].mean(0) - mean) for c in range(4))
    values, vectors = np.linalg.eig(np.linalg.solve(sw, sb))  # independent route: non-symmetric eigenproblem
    ref = np.real(vectors[:, np.argsort(-np.real(values))[:3]])
    for j in range(3):
        cos = abs(got[:, j] @ ref[:, j]) / np.linalg.norm(got[:, j]) / np.linalg.norm(ref[:, j])
        assert cos > 1 - 1e-8
    np.testing.assert_allclose(got.T @ sw @ got, np.eye(3), atol=1e-8)  # S_w-orthonormal
    with pytest.raises(ValueError, match="at least 2 classes"):
        lda(x, np.zeros(60))


def test_pca_lda_separates_classes_in_high_dimension() -> None:
    rng = np.random.default_rng(4)
    labels = np.repeat(np.arange(5), 6)
    x = rng.normal(scale=0.2, size=(5, 500))[labels] + rng.normal(scale=0.1, size=(30, 500))
    y = pca_lda(x, labels)(x)  # (30, 4): more dimensions than samples, so PCA comes first
    assert y.shape == (30, 4)
    d = pairwise_euclidean(y, y)
    np.fill_diagonal(d, np.inf)
    assert (labels[d.argmin(1)] == labels).all()


def test_view_transform_is_exact_on_low_rank_data() -> None:
    # Features g_k(m) = A_k v_m + b_k: a rank-3 VTM maps an unseen subject between any two views exactly.
    rng = np.random.default_rng(5)
    views = np.array([0, 90, 180])
    a = rng.normal(size=(3, 8, 3))
    b = rng.normal(size=(3, 8))
    subjects_v = rng.normal(size=(6, 3))
    feats, subj, vw = [], [], []
    for m in range(5):
        for k, v in enumerate(views):
            feats.append(a[k] @ subjects_v[m] + b[k])
            subj.append(m)
            vw.append(v)
    vtm = ViewTransform.fit(np.array(feats), np.array(subj), np.array(vw), rank=3)
    new = subjects_v[5]
    moved = vtm.transform((a[0] @ new + b[0])[None], 0, 180)
    np.testing.assert_allclose(moved[0], a[2] @ new + b[2], atol=1e-8)
    np.testing.assert_array_equal(vtm.transform(moved, 180, 180), moved)
    with pytest.raises(ValueError, match=r"view 54 was not in the training data \(views \[0, 90, 180\]\)"):
        vtm.transform(moved, 54, 0)


def test_pairwise_euclidean_matches_scipy() -> None:
    rng = np.random.default_rng(6)
    g, p = rng.normal(size=(7, 5)), rng.normal(size=(4, 5))
    np.testing.assert_allclose(pairwise_euclidean(g, p), cdist(p, g), atol=1e-12)


def test_fix_signs_makes_the_largest_entry_positive() -> None:
    rows = np.array([[-3.0, 1.0, 0.5], [0.5, -0.2, 0.1], [0.0, 0.0, -2.0]])
    np.testing.assert_array_equal(fix_signs(rows), [[3.0, -1.0, -0.5], [0.5, -0.2, 0.1], [0.0, 0.0, 2.0]])
    np.testing.assert_array_equal(fix_signs(-rows), fix_signs(rows))


def test_principal_basis_takes_the_low_rank_span_then_the_data_outside_it() -> None:
    # Low-rank part: a line along -e1 around mean m; the data add spread along e2 (std 3) and e3 (std 1). With
    # rank 4 the basis is e1 (the low-rank span, sign fixed), then e2 and e3 (the data's principal directions
    # outside it, by variance), then a zero row: the data span nothing more. An SVD of the rank-1 low part alone
    # would have padded rows 2-4 with arbitrary null-space vectors.
    m = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    t = np.array([-2.0, -1.0, 0.0, 1.0, 2.0, 0.0])
    e = np.eye(5)
    low = m + np.outer(t, -e[0])
    data = low + np.outer([3, -3, 3, -3, 0, 0], e[1]) + np.outer([0, 0, 0, 0, 1, -1], e[2])
    basis, mean, spanned = principal_basis(low, data, 4)
    np.testing.assert_allclose(mean, m, atol=1e-12)
    assert spanned == 1
    np.testing.assert_allclose(basis, [e[0], e[1], e[2], np.zeros(5)], atol=1e-12)
    # Fewer rows asked for than the low-rank part spans: only its leading ones.
    two = low + np.outer(t**2 - 1, e[3])
    basis2, _, spanned2 = principal_basis(two, two, 1)
    assert spanned2 == 1 and basis2.shape == (1, 5)
    with pytest.raises(ValueError, match="one shape"):
        principal_basis(low, data[:3], 2)
