"""Colourisation of anonymized silhouettes (paper Section 3.5, Eq. 9).

Each output pixel ``(i, j)`` of frame ``t`` falls in one of four regions of the original silhouette ``S_Or`` and
the anonymized silhouette ``S_An``:

====  ===========================  ================================================
 1    in neither                   background image ``I_Bg(i, j)``
 2    in both                      original frame ``I_Or(i, j)``
 3    only in ``S_Or``             background image ``I_Bg(i, j)``
 4    only in ``S_An``             original frame at ``(i', j')``, the pixel of ``S_Or`` nearest to ``(i, j)``
====  ===========================  ================================================

"Nearest" is the Euclidean distance between pixel centres. **Tie rule:** among equally near pixels of ``S_Or``
the one with the smallest row, then the smallest column, is taken. A frame whose original silhouette is empty
has no nearest pixel; its region-4 pixels take the background (the camera saw only background there).

Search: pixels within a few pixels of ``S_Or`` (nearly all of region 4) scan lattice offsets in order of
(distance, row, column), so the first hit obeys the tie rule by construction. Farther pixels search only the
4-boundary of ``S_Or`` (the nearest pixel of a set to an outside point always lies there: a step from an interior
pixel toward the point stays in the set and is strictly nearer) with a k-d tree, and where its two nearest
candidates tie, an exhaustive search over all candidates applies the tie rule.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
from scipy.spatial import cKDTree

from benchmark.types import check_frames, check_silhouettes

_CROSS = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], np.uint8)
_MIN_FRAMES_PER_WORKER = 32


def _disc_offsets(radius: int) -> np.ndarray:
    """int64 (N, 2) ``(dy, dx)`` with ``dy^2 + dx^2 <= radius^2``, sorted by (squared distance, dy, dx)."""
    dy, dx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    dy, dx = dy.ravel(), dx.ravel()
    d2 = dy**2 + dx**2
    keep = d2 <= radius**2
    order = np.lexsort((dx[keep], dy[keep], d2[keep]))
    return np.stack([dy[keep][order], dx[keep][order]], axis=1).astype(np.int64)


# Near queries are answered by scanning lattice offsets in order of (distance, row, column): the first offset
# that lands on the source is the nearest pixel under the tie rule, by construction. Chunks grow so that the
# common case (a query a few pixels from the source) touches few offsets; farther queries go to a k-d tree.
_SCAN_RADIUS = 12
_OFFSETS = _disc_offsets(_SCAN_RADIUS)
_CHUNKS = (0, 9, 49, 149, len(_OFFSETS))


def _nearest_by_tree(cand: np.ndarray, queries: np.ndarray) -> np.ndarray:
    if len(cand) == 1:
        return np.repeat(cand, len(queries), axis=0)
    _, idx = cKDTree(cand).query(queries, k=2)
    first, second = cand[idx[:, 0]], cand[idx[:, 1]]
    d1 = ((queries - first) ** 2).sum(axis=1)
    d2 = ((queries - second) ** 2).sum(axis=1)
    result = np.where((d1 <= d2)[:, None], first, second)
    tied = np.flatnonzero(d1 == d2)
    # Exhaustive search where the tree's two nearest tie: candidates are in row-major order, so argmin's first
    # minimum is the smallest (row, col). Chunked to bound the (chunk, n) distance matrix.
    for start in range(0, len(tied), 256):
        sel = tied[start : start + 256]
        diff = queries[sel, None, :] - cand[None, :, :]
        result[sel] = cand[np.argmin((diff**2).sum(axis=2), axis=1)]
    return result


def nearest_pixels(source: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Nearest pixel of ``source`` to each query pixel, with the module's tie rule.

    Parameters
    ----------
    source : ndarray, bool (H, W)
        The pixel set searched (non-empty).
    queries : ndarray, int (m, 2)
        ``(row, col)`` of the query pixels, inside the frame.

    Returns
    -------
    ndarray, int64 (m, 2)
        ``(row, col)`` of the nearest ``source`` pixel; ties go to the smallest row, then column.
    """
    if not source.any():
        raise ValueError("source has no foreground pixel, so no pixel is nearest")
    queries = np.asarray(queries, np.int64).reshape(-1, 2)
    result = np.empty_like(queries)
    if len(queries) == 0:
        return result
    r = _SCAN_RADIUS
    padded = np.zeros((source.shape[0] + 2 * r, source.shape[1] + 2 * r), bool)
    padded[r:-r, r:-r] = source
    stride = padded.shape[1]
    flat = padded.ravel()
    base = (queries[:, 0] + r) * stride + (queries[:, 1] + r)
    pending = np.arange(len(queries))
    for lo, hi in zip(_CHUNKS[:-1], _CHUNKS[1:], strict=True):
        offs = _OFFSETS[lo:hi]
        hits = flat[base[pending, None] + (offs[:, 0] * stride + offs[:, 1])[None, :]]  # (pending, chunk)
        found = hits.any(axis=1)
        first = np.argmax(hits[found], axis=1)
        done = pending[found]
        result[done] = queries[done] + offs[first]
        pending = pending[~found]
        if len(pending) == 0:
            return result
    # Farther than the scan radius: only 4-boundary pixels can be nearest (see the module docstring).
    u8 = source.view(np.uint8)
    eroded = cv2.erode(u8, _CROSS, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    cand = np.argwhere(u8 > eroded)  # row-major order
    result[pending] = _nearest_by_tree(cand, queries[pending])
    return result


def _colorize_range(
    frames: np.ndarray,
    sil_or: np.ndarray,
    sil_an: np.ndarray,
    out: np.ndarray,
    start: int,
    stop: int,
) -> None:
    for t in range(start, stop):
        union = sil_or[t] | sil_an[t]
        x, y, w, h = cv2.boundingRect(union.view(np.uint8))
        if w == 0:
            continue  # neither silhouette present: the frame is background
        crop = np.s_[y : y + h, x : x + w]
        o, a = sil_or[t][crop], sil_an[t][crop]
        dst, src = out[t][crop], frames[t][crop]
        both = o & a
        dst[both] = src[both]  # region 2
        r4 = np.argwhere(a & ~o)
        if len(r4) and o.any():
            near = nearest_pixels(o, r4)
            dst[r4[:, 0], r4[:, 1]] = src[near[:, 0], near[:, 1]]  # region 4


def colorize(
    frames: np.ndarray,
    background: np.ndarray,
    sil_original: np.ndarray,
    sil_anonymized: np.ndarray,
    *,
    workers: int | None = None,
) -> np.ndarray:
    """Colour frames of the anonymized gait by Eq. 9 (see the module docstring for the regions and tie rule).

    Parameters
    ----------
    frames : ndarray, uint8 (T, H, W, 3)
        Original RGB frames ``I_Or``.
    background : ndarray, uint8 (H, W, 3)
        RGB image of the empty scene ``I_Bg`` (static camera).
    sil_original, sil_anonymized : ndarray, bool (T, H, W)
        ``S_Or`` and ``S_An``.
    workers : int, optional
        Threads; by default one per core for long sequences.

    Returns
    -------
    ndarray, uint8 (T, H, W, 3)
        The colour anonymized frames ``I_An``.
    """
    check_frames(frames)
    check_silhouettes(sil_original, "sil_original")
    check_silhouettes(sil_anonymized, "sil_anonymized")
    if sil_original.shape != frames.shape[:3] or sil_anonymized.shape != frames.shape[:3]:
        raise ValueError(
            f"frames {frames.shape[:3]}, sil_original {sil_original.shape} and sil_anonymized "
            f"{sil_anonymized.shape} must agree in (T, H, W)"
        )
    if not isinstance(background, np.ndarray) or background.dtype != np.uint8:
        raise TypeError(f"background must be a uint8 array, got {getattr(background, 'dtype', type(background))}")
    if background.shape != frames.shape[1:]:
        raise ValueError(f"background must have shape {frames.shape[1:]} (H, W, 3), got {background.shape}")
    t = frames.shape[0]
    out = np.empty_like(frames)
    out[:] = background  # regions 1 and 3, and the start of everything else
    sil_or = np.ascontiguousarray(sil_original)
    sil_an = np.ascontiguousarray(sil_anonymized)
    if workers is None:
        workers = min(os.cpu_count() or 1, max(1, t // _MIN_FRAMES_PER_WORKER))
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if workers == 1:
        _colorize_range(frames, sil_or, sil_an, out, 0, t)
    else:
        bounds = np.linspace(0, t, workers + 1).astype(int)
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda a, b: _colorize_range(frames, sil_or, sil_an, out, a, b), bounds[:-1], bounds[1:]))
    return out
