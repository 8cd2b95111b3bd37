"""Linear algebra of the classic recognizer: robust PCA, robust projection, PCA+LDA and the view transformation model.

All functions are pure numpy (float64) and independent of gait: they are tested against matrices with known
answers and against scipy.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.linalg


def pairwise_euclidean(gallery: np.ndarray, probes: np.ndarray) -> np.ndarray:
    """Euclidean distances ``float64 (P, G)`` between rows of ``probes (P, D)`` and ``gallery (G, D)``."""
    g = np.asarray(gallery, dtype=np.float64)
    p = np.asarray(probes, dtype=np.float64)
    sq = (p * p).sum(1)[:, None] + (g * g).sum(1)[None, :] - 2.0 * p @ g.T
    return np.sqrt(np.maximum(sq, 0.0))


def _shrink(x: np.ndarray, tau: float) -> np.ndarray:
    """Soft thresholding, the proximal operator of ``tau * ||.||_1``."""
    return np.sign(x) * np.maximum(np.abs(x) - tau, 0.0)


def _svt(a: np.ndarray, tau: float) -> np.ndarray:
    """Singular value thresholding ``U max(S - tau, 0) V^T``, the proximal operator of ``tau * ||.||_*``.

    Computed from the eigen-decomposition of the smaller Gram matrix (``A A^T`` or ``A^T A``): one matrix product
    and a small symmetric eigenproblem instead of an SVD of the full matrix, which is several times faster for
    the short, wide GEI matrices used here. Only singular values above ``tau`` matter, and those are accurate.
    """
    wide = a.shape[0] <= a.shape[1]
    b = a if wide else a.T
    values, u = np.linalg.eigh(b @ b.T)  # ascending; values = S^2
    s = np.sqrt(np.maximum(values, 0.0))
    keep = s > tau
    if not keep.any():
        return np.zeros_like(a)
    uk = u[:, keep]
    out = (uk * (1.0 - tau / s[keep])) @ (uk.T @ b)  # U_k (S_k - tau) V_k^T with V_k^T = S_k^-1 U_k^T B
    return out if wide else out.T


def robust_pca(
    data: np.ndarray, lam: float | None = None, *, tol: float = 1e-7, max_iter: int = 500
) -> tuple[np.ndarray, np.ndarray, int]:
    """Principal component pursuit by the inexact augmented Lagrange multiplier method.

    Solves ``min ||L||_* + lam ||S||_1  s.t.  L + S = data`` (Candès, Li, Ma, Wright, "Robust principal component
    analysis?", J. ACM 58(3) 2011) with the inexact ALM of Lin, Chen and Ma (2010, arXiv:1009.5055), using their
    default schedule: ``mu0 = 1.25 / ||D||_2``, ``rho = 1.5``, ``mu <= 1e7 mu0``.

    Parameters
    ----------
    data : ndarray, float (m, n)
    lam : float, optional
        Weight of the sparse part; default ``1 / sqrt(max(m, n))`` (Candès et al.).
    tol : float
        Stop when ``||D - L - S||_F <= tol ||D||_F``.
    max_iter : int

    Returns
    -------
    low_rank : ndarray, float64 (m, n)
    sparse : ndarray, float64 (m, n)
    iterations : int
    """
    d = np.asarray(data, dtype=np.float64)
    if d.ndim != 2 or d.size == 0:
        raise ValueError(f"data must be a non-empty (m, n) matrix, got shape {d.shape}")
    m, n = d.shape
    lam = float(1.0 / np.sqrt(max(m, n))) if lam is None else float(lam)
    norm_fro = np.linalg.norm(d)
    if norm_fro == 0:
        return np.zeros_like(d), np.zeros_like(d), 0
    norm_two = float(np.linalg.norm(d, 2))
    y = d / max(norm_two, np.abs(d).max() / lam)  # dual variable, scaled so it is feasible for the dual norm
    mu = 1.25 / norm_two
    mu_max = mu * 1e7
    low = np.zeros_like(d)
    sparse = np.zeros_like(d)
    for it in range(1, max_iter + 1):
        sparse = _shrink(d - low + y / mu, lam / mu)
        low = _svt(d - sparse + y / mu, 1.0 / mu)
        residual = d - low - sparse
        y += mu * residual
        mu = min(mu * 1.5, mu_max)
        if np.linalg.norm(residual) <= tol * norm_fro:
            return low, sparse, it
    return low, sparse, max_iter


def robust_project(x: np.ndarray, basis: np.ndarray, tau: float, *, iterations: int = 30) -> np.ndarray:
    """Coefficients of rows of ``x`` on an orthonormal basis, ignoring sparse errors.

    Minimises ``1/2 ||x - c B||^2 + tau ||e||_1`` over ``x = c B + e`` by alternating exact updates
    (``c = (x - e) B^T`` and ``e = shrink(x - c B, tau)``), each of which lowers the convex objective.
    With ``tau = inf`` this is the plain projection ``x B^T``.

    Parameters
    ----------
    x : ndarray, float (N, D)
    basis : ndarray, float (r, D)
        Orthonormal rows.
    tau : float
        Residuals larger than ``tau`` (per pixel) are treated as sparse errors (e.g. a bag) and ignored.

    Returns
    -------
    ndarray, float64 (N, r)
    """
    x = np.asarray(x, dtype=np.float64)
    e = np.zeros_like(x)
    c = x @ basis.T
    if np.isinf(tau):
        return c
    for _ in range(iterations):
        e = _shrink(x - c @ basis, tau)
        c = (x - e) @ basis.T
    return c


def fix_signs(rows: np.ndarray) -> np.ndarray:
    """``rows (k, D)`` with each row's sign chosen so that its entry of largest magnitude is positive.

    Singular and eigen vectors are defined up to sign, and which sign a LAPACK routine returns depends on the
    CPU's kernels; fixing it makes saved bases the same on every machine.
    """
    rows = np.array(rows, dtype=np.float64, copy=True)
    if rows.size:
        pivot = rows[np.arange(len(rows)), np.abs(rows).argmax(1)]
        rows *= np.where(pivot < 0, -1.0, 1.0)[:, None]
    return rows


def principal_basis(
    low: np.ndarray, data: np.ndarray, rank: int, *, rtol: float = 1e-6
) -> tuple[np.ndarray, np.ndarray, int]:
    """An orthonormal basis of ``rank`` directions led by the subspace of a low-rank part, completed from the data.

    First the right singular vectors of ``low - mean`` whose singular values exceed ``rtol`` times the largest
    (the directions the low-rank part really spans); then, while fewer than ``rank``, the principal directions of
    ``data - mean`` outside that subspace, again only those above ``rtol``. Rows past what the data span stay zero.
    An SVD pads a rank-deficient matrix with arbitrary null-space vectors whose choice depends on the CPU's
    rounding; using those as features made identification decisions change between machines.

    Parameters
    ----------
    low : ndarray, float (N, D)
        The low-rank part (e.g. of :func:`robust_pca`); its row mean is the returned ``mean``.
    data : ndarray, float (N, D)
        The data it was taken from.
    rank : int

    Returns
    -------
    basis : ndarray, float64 (rank, D)
        Orthonormal rows (sign fixed by :func:`fix_signs`), then zero rows.
    mean : ndarray, float64 (D,)
    spanned : int
        How many leading rows come from the low-rank part.
    """
    low = np.asarray(low, dtype=np.float64)
    data = np.asarray(data, dtype=np.float64)
    if low.shape != data.shape or low.ndim != 2:
        raise ValueError(f"low and data must be (N, D) matrices of one shape, got {low.shape} and {data.shape}")
    if rank < 1:
        raise ValueError(f"rank must be >= 1, got {rank}")

    def significant(x: np.ndarray) -> np.ndarray:
        _, s, vt = np.linalg.svd(x, full_matrices=False)
        return vt[: int((s > rtol * s[0]).sum())] if s.size and s[0] > 0 else vt[:0]

    mean = low.mean(0)
    lead = significant(low - mean)[:rank]
    rest = data - mean
    rest = rest - (rest @ lead.T) @ lead  # the data outside the low-rank subspace
    extra = significant(rest)[: rank - len(lead)]
    basis = np.zeros((rank, data.shape[1]))
    rows = np.concatenate([lead, extra])
    basis[: len(rows)] = fix_signs(rows)
    return basis, mean, len(lead)


@dataclasses.dataclass(frozen=True)
class LinearMap:
    """``y = (x - mean) @ weights``: a learned projection (PCA, LDA or both)."""

    mean: np.ndarray  # (D,)
    weights: np.ndarray  # (D, k)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, dtype=np.float64) - self.mean) @ self.weights


def pca(x: np.ndarray, dims: int) -> LinearMap:
    """Principal components of rows of ``x (N, D)``: the top ``dims`` directions, ``weights (D, dims)``."""
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(0)
    _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    dims = int(min(dims, int((s > s[0] * 1e-10).sum()) if len(s) else 0))
    return LinearMap(mean, fix_signs(vt[:dims]).T)


def lda(x: np.ndarray, labels: np.ndarray, dims: int | None = None, *, reg: float = 1e-6) -> LinearMap:
    """Fisher's linear discriminant: directions ``w`` maximising ``w^T S_b w / w^T S_w w``.

    Solves the generalised eigenproblem ``S_b w = l S_w w`` (``S_w`` ridge-regularised by ``reg`` times its mean
    diagonal) with ``scipy.linalg.eigh``; eigenvectors are ``S_w``-orthonormal, sorted by decreasing ``l``.

    Parameters
    ----------
    x : ndarray, float (N, D)
    labels : ndarray (N,)
    dims : int, optional
        Output dimensions, at most (classes - 1); default classes - 1.

    Returns
    -------
    LinearMap
        ``weights (D, dims)``, ``mean`` the overall mean.
    """
    x = np.asarray(x, dtype=np.float64)
    labels = np.asarray(labels)
    classes = np.unique(labels)
    if len(classes) < 2:
        raise ValueError(f"LDA needs at least 2 classes, got {len(classes)}")
    dims = len(classes) - 1 if dims is None else min(int(dims), len(classes) - 1)
    mean = x.mean(0)
    d = x.shape[1]
    sw = np.zeros((d, d))
    sb = np.zeros((d, d))
    for c in classes:
        xc = x[labels == c]
        mc = xc.mean(0)
        sw += (xc - mc).T @ (xc - mc)
        sb += len(xc) * np.outer(mc - mean, mc - mean)
    sw += reg * max(np.trace(sw) / d, 1e-12) * np.eye(d)
    values, vectors = scipy.linalg.eigh(sb, sw)
    order = np.argsort(values, kind="stable")[::-1][:dims]
    return LinearMap(mean, fix_signs(vectors[:, order].T).T)


def pca_lda(x: np.ndarray, labels: np.ndarray, pca_dims: int | None = None) -> LinearMap:
    """PCA to at most ``N - classes`` dimensions (so ``S_w`` is full rank), then LDA; one composed map."""
    x = np.asarray(x, dtype=np.float64)
    classes = len(np.unique(labels))
    limit = max(classes - 1, x.shape[0] - classes)
    first = pca(x, limit if pca_dims is None else min(pca_dims, limit))
    second = lda(first(x), labels)
    return LinearMap(first.mean, first.weights @ second.weights)


@dataclasses.dataclass(frozen=True)
class ViewTransform:
    """SVD view transformation model (Makihara et al., ECCV 2006; Kusakunniran et al., ICCV-W 2009).

    Training subjects' mean features at every view are stacked into ``G = [g_1; ...; g_K]`` (views x subjects);
    its truncated SVD ``G = U S V^T`` gives per-view blocks ``P_k`` of ``U S``, and a feature at view ``j`` is
    moved to view ``k`` through the shared subject vector: ``g_k = P_k pinv(P_j) g_j``.
    """

    views: np.ndarray  # (K,)
    means: np.ndarray  # (K, D): per-view mean, removed before the transform
    blocks: np.ndarray  # (K, D, r)

    @classmethod
    def fit(cls, features: np.ndarray, subjects: np.ndarray, views: np.ndarray, rank: int) -> ViewTransform:
        """From features ``(N, D)`` of subjects seen at every view (subjects missing a view are left out)."""
        views_u = np.unique(views)
        names = [s for s in np.unique(subjects) if all(((subjects == s) & (views == v)).any() for v in views_u)]
        if len(names) < 2:
            raise ValueError("the view transformation model needs at least 2 subjects seen at every view")
        means = np.stack([features[views == v].mean(0) for v in views_u])  # (K, D)
        cols = np.stack(
            [
                np.concatenate(
                    [features[(subjects == s) & (views == v)].mean(0) - means[k] for k, v in enumerate(views_u)]
                )
                for s in names
            ],
            axis=1,
        )  # (K*D, M)
        u, s, _ = np.linalg.svd(cols, full_matrices=False)
        r = int(min(rank, (s > s[0] * 1e-10).sum()))
        blocks = (u[:, :r] * s[:r]).reshape(len(views_u), features.shape[1], r)  # (K, D, r)
        return cls(views_u, means, blocks)

    def index(self, view: int) -> int:
        hits = np.flatnonzero(self.views == view)
        if not len(hits):
            raise ValueError(f"view {view} was not in the training data (views {self.views.tolist()})")
        return int(hits[0])

    def transform(self, x: np.ndarray, source: int, target: int) -> np.ndarray:
        """Features ``(N, D)`` seen at view ``source`` as they would look at view ``target``."""
        j, k = self.index(source), self.index(target)
        if j == k:
            return np.asarray(x, dtype=np.float64)
        vectors = np.linalg.pinv(self.blocks[j]) @ (np.asarray(x, dtype=np.float64) - self.means[j]).T  # (r, N)
        return (self.blocks[k] @ vectors).T + self.means[k]
