"""Realism of anonymized data against its original: embedding Fréchet distance and temporal consistency.

These are not :class:`~benchmark.scorers.base.Scorer` plug-ins: each compares an anonymized dataset with the
clean one it was made from, sequence for sequence.

- :func:`frechet_distance`: the Fréchet (2-Wasserstein) distance between Gaussians fitted to two embedding sets,
  the formula of FID (Heusel et al. 2017).
- :func:`embedding_frechet`: that distance between a recognizer's embeddings of original and anonymized
  sequences, per view: a gait analogue of FID. It lives in the recognizer's embedding space, so its scale
  depends on the recognizer (and its checkpoint): a table of these numbers must name the recognizer, and
  numbers from different recognizers are not comparable.
- :func:`temporal_consistency`: how much the silhouette changes from one frame to the next, anonymized against
  original (``1 - IoU`` of consecutive frames); a ratio above 1 means the anonymized walker flickers.
- :func:`silhouette_difference`: how much of each silhouette anonymization changed (``1 - IoU`` of each frame with
  its original), the white share of the paper's XOR images (Fig. 18).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np
from scipy.linalg import sqrtm

from benchmark.types import check_silhouettes

if TYPE_CHECKING:
    from benchmark.sequences import Embedding, Sequences

#: what :func:`frechet_distance` adds to both covariances' diagonals when ``Sa @ Sb`` has no finite square root
FRECHET_EPS = 1e-6


class Embedder(Protocol):
    """Anything with ``embed(Sequences) -> Embedding``, e.g. a loaded :class:`benchmark.recognizer.Recognizer`."""

    def embed(self, data: Sequences) -> Embedding: ...


def _as_embeddings(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a (N, D) array of embeddings, got shape {x.shape}")
    if x.shape[0] < 2:
        raise ValueError(f"{name} has {x.shape[0]} sample(s); a covariance needs at least 2")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def frechet_distance(a: np.ndarray, b: np.ndarray, *, eps: float = FRECHET_EPS) -> float:
    """Fréchet distance between Gaussians fitted to two sets of embeddings (the formula of FID).

    ``||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^{1/2})`` with sample means and sample covariances
    (``ddof = 1``, as FID implementations use).

    Parameters
    ----------
    a : ndarray, float (N, D)
    b : ndarray, float (M, D)
        N, M >= 2 samples of the same dimension D.
    eps : float
        When ``S_a S_b`` has no finite square root (singular covariances, e.g. fewer samples than dimensions),
        ``eps * I`` is added to both covariances inside the square root and it is taken again.

    Returns
    -------
    float
        >= 0; round-off below 0 (identical sets) is clipped to 0. Raises ``ValueError`` for fewer than
        2 samples, different D, non-finite input, or a square root with a large imaginary part.
    """
    a, b = _as_embeddings(a, "a"), _as_embeddings(b, "b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"a and b must have the same dimension D, got {a.shape[1]} and {b.shape[1]}")
    diff = a.mean(axis=0) - b.mean(axis=0)  # (D,)
    cov_a = np.atleast_2d(np.cov(a, rowvar=False))  # (D, D); np.cov gives a 0-d array when D == 1
    cov_b = np.atleast_2d(np.cov(b, rowvar=False))
    covmean = sqrtm(cov_a @ cov_b)  # (D, D), complex when round-off puts an eigenvalue just below 0
    if not np.isfinite(covmean).all():
        offset = eps * np.eye(cov_a.shape[0])
        covmean = sqrtm((cov_a + offset) @ (cov_b + offset))
        if not np.isfinite(covmean).all():
            raise ValueError(f"the covariances' product has no finite square root, even with eps = {eps}")
    if np.iscomplexobj(covmean):
        # (S_a S_b)^{1/2} has real non-negative eigenvalues in exact arithmetic: a small imaginary part is
        # round-off and is dropped. The tolerance (FID's 1e-3) is taken relative to the embeddings' scale,
        # which depends on the recognizer.
        imag = float(np.abs(np.diagonal(covmean).imag).max())
        scale = max(1.0, float(np.abs(np.diagonal(covmean).real).max()))
        if imag > 1e-3 * scale:
            raise ValueError(f"the square root of the covariances' product has an imaginary part of {imag:.3g}")
        covmean = covmean.real
    value = float(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(covmean))
    return max(0.0, value)


def embedding_frechet(
    recognizer: Embedder,
    original: Sequences,
    anonymized: Sequences,
    by_view: bool = True,
) -> dict[int, tuple[float, int]]:
    """Fréchet distance between a recognizer's embeddings of original and anonymized sequences.

    A gait analogue of FID: each set is embedded with ``recognizer.embed`` (features flattened to
    ``(N, D)``), a Gaussian is fitted to each, and :func:`frechet_distance` compares them. The number lives
    in the recognizer's embedding space; its scale depends on the recognizer and checkpoint, so tables must
    name the recognizer. With few sequences per view (N < D) the covariances are singular and the distance
    is biased upwards; compare numbers computed on the same number of sequences.

    Parameters
    ----------
    recognizer : object with ``embed(Sequences) -> Embedding``
        A black box, e.g. a loaded recognizer checkpoint.
    original, anonymized : Sequences
        Prepared for the recognizer's input spec.
    by_view : bool
        One distance per view (and one over all views pooled, key -1), or only the pooled one.

    Returns
    -------
    dict of int to (float, int)
        View in degrees (-1 = all views pooled) -> (distance, number of anonymized sequences). Views with
        fewer than 2 sequences on either side have no distance and are left out.
    """
    emb_o, emb_a = recognizer.embed(original), recognizer.embed(anonymized)
    feat_o = np.asarray(emb_o.features, dtype=np.float64).reshape(len(emb_o), -1)  # (N, D)
    feat_a = np.asarray(emb_a.features, dtype=np.float64).reshape(len(emb_a), -1)  # (M, D)
    views_o, views_a = np.asarray(emb_o.views), np.asarray(emb_a.views)
    groups: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    if by_view:
        for v in sorted(set(views_a.tolist())):
            groups[int(v)] = (views_o == v, views_a == v)
    groups[-1] = (np.ones(len(feat_o), bool), np.ones(len(feat_a), bool))
    out = {}
    for view, (mo, ma) in groups.items():
        if mo.sum() >= 2 and ma.sum() >= 2:
            out[view] = (frechet_distance(feat_o[mo], feat_a[ma]), int(ma.sum()))
    return out


def frame_change(silhouettes: np.ndarray) -> np.ndarray:
    """``1 - IoU`` of each pair of consecutive frames.

    Parameters
    ----------
    silhouettes : ndarray, bool (T, H, W)

    Returns
    -------
    ndarray, float64 (T - 1,)
        In [0, 1]; a pair whose union is empty (both frames blank) counts as 0 (no change).
    """
    check_silhouettes(silhouettes)
    a, b = silhouettes[:-1], silhouettes[1:]
    inter = np.logical_and(a, b).sum(axis=(1, 2))  # (T-1,)
    union = np.logical_or(a, b).sum(axis=(1, 2))
    iou = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    return 1.0 - iou


def _check_pair(original_sil: np.ndarray, anonymized_sil: np.ndarray) -> None:
    """Both ``bool (T, H, W)`` of one shape; raises naming them."""
    check_silhouettes(original_sil, "original_sil")
    check_silhouettes(anonymized_sil, "anonymized_sil")
    if original_sil.shape != anonymized_sil.shape:
        raise ValueError(
            f"original_sil has shape {original_sil.shape}, anonymized_sil {anonymized_sil.shape}: they must agree"
        )


def temporal_consistency(original_sil: np.ndarray, anonymized_sil: np.ndarray) -> dict[str, float]:
    """Frame-to-frame silhouette change of an anonymized sequence against its original.

    Parameters
    ----------
    original_sil, anonymized_sil : ndarray, bool (T, H, W)
        The same sequence before and after anonymization; same shape, T >= 2.

    Returns
    -------
    dict
        ``original`` and ``anonymized``: mean of :func:`frame_change` (0 = still, 1 = no overlap between
        consecutive frames); ``ratio`` = anonymized / original (1 = as smooth as the original, > 1 = flickers
        more). When the original does not change at all the ratio is 1 if the anonymized one does not either,
        else ``inf``.
    """
    _check_pair(original_sil, anonymized_sil)
    if original_sil.shape[0] < 2:
        raise ValueError(f"temporal consistency needs at least 2 frames, got {original_sil.shape[0]}")
    orig = float(frame_change(original_sil).mean())
    anon = float(frame_change(anonymized_sil).mean())
    if orig > 0:
        ratio = anon / orig
    else:
        ratio = 1.0 if anon == 0 else float("inf")
    return {"original": orig, "anonymized": anon, "ratio": ratio}


def silhouette_difference(original_sil: np.ndarray, anonymized_sil: np.ndarray) -> float:
    """How much of the body anonymization changed: the mean over frames of ``|original XOR anonymized| /
    |original OR anonymized|`` (``1 - IoU`` of each frame with its original), the share of white pixels in the
    paper's XOR images (its Fig. 18).

    Parameters
    ----------
    original_sil, anonymized_sil : ndarray, bool (T, H, W)
        The same sequence before and after anonymization; same shape, T >= 1.

    Returns
    -------
    float
        In [0, 1]: 0 = every silhouette unchanged, 1 = no pixel in common. Frames blank in both count as 0.
    """
    _check_pair(original_sil, anonymized_sil)
    if original_sil.shape[0] < 1:
        raise ValueError("silhouette difference needs at least 1 frame, got 0")
    differ = np.logical_xor(original_sil, anonymized_sil).sum(axis=(1, 2))  # (T,)
    union = np.logical_or(original_sil, anonymized_sil).sum(axis=(1, 2))
    return float(np.where(union > 0, differ / np.maximum(union, 1), 0.0).mean())
