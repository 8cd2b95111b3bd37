"""Contour vectors: the paper's Step 1 (silhouette -> contour vector) and Step 3 (contour vector -> silhouette).

A contour vector holds the outer contour of one frame's silhouette as ordered pixel coordinates
``[x0, y0, x1, y1, ...]`` (``x`` = column, ``y`` = row), at most :data:`MAX_POINTS` points, zero-padded to
:data:`VECTOR_LENGTH` floats. The true number of points of each frame travels beside the vectors as ``counts``,
because zero padding alone cannot be told apart from a genuine point at (0, 0).

Rules (each is tested):

* **Which contour.** The outer boundary of the largest connected foreground component (8-connectivity), largest
  by enclosed area, ties broken by contour length and then by the first found. Other components ("detached
  blobs") and holes inside the component are not represented, so :func:`decode` returns the component with its
  holes filled and without the detached blobs: that is what the paper's representation can hold.
* **Order.** As OpenCV's border following returns it (``cv2.findContours``, ``RETR_EXTERNAL``,
  ``CHAIN_APPROX_NONE``): every 8-connected boundary pixel, starting at the top-most, then left-most pixel of the
  component, first step down its left side (counter-clockwise as seen on screen, where y points down).
* **Long contours.** A contour of ``n > MAX_POINTS`` pixels is resampled to exactly ``MAX_POINTS`` points with
  indices ``floor(i * n / MAX_POINTS)``, ``i = 0..MAX_POINTS-1``: uniform along the contour, first point kept.
  Decoding joins consecutive points with straight 8-connected lines, so only detail between samples is lost.
* **Empty frames.** A frame with no foreground has count 0 and an all-zero vector; it decodes to an empty frame.
* **Decoding modified vectors.** Only the first ``counts[t]`` points of frame ``t`` are used. Coordinates are
  rounded to the nearest pixel (``numpy.rint``), then clamped to at most one frame size outside the frame (which
  bounds the work for wild values; edges that leave the frame by more than a frame size shift slightly).
  The points are joined into a closed 8-connected polyline, and the silhouette is every pixel on the polyline or
  not reachable from outside it through 4-connected non-polyline pixels. Self-intersections, reversed order and
  points outside the frame therefore always give a valid, hole-free silhouette; non-finite values raise.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

import cv2
import numpy as np

from benchmark.types import check_silhouettes

MAX_POINTS = 2000
VECTOR_LENGTH = 2 * MAX_POINTS



def _outer_contour(frame_u8: np.ndarray) -> np.ndarray:
    """``int32 (n, 2)`` outer contour (x, y) of the largest component of one uint8 0/1 frame; (0, 2) if empty."""
    found, _ = cv2.findContours(frame_u8, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not found:
        return np.zeros((0, 2), np.int32)
    if len(found) == 1:
        best = found[0]
    else:
        best = max(found, key=lambda c: (abs(cv2.contourArea(c)), len(c)))
    return best.reshape(-1, 2)


def _encode_range(u8: np.ndarray, vectors: np.ndarray, counts: np.ndarray, start: int, stop: int) -> None:
    for t in range(start, stop):
        pts = _outer_contour(u8[t])
        n = len(pts)
        if n > MAX_POINTS:
            pts = pts[(np.arange(MAX_POINTS) * n) // MAX_POINTS]
            n = MAX_POINTS
        vectors[t, : 2 * n] = pts.reshape(-1)
        counts[t] = n


def encode(silhouettes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Silhouettes to contour vectors (paper Step 1).

    Parameters
    ----------
    silhouettes : ndarray, bool (T, H, W)
        Binary masks, True on the person; ``T >= 1``.

    Returns
    -------
    vectors : ndarray, float32 (T, 4000)
        ``[x0, y0, x1, y1, ...]`` of the outer contour, zero-padded (see the module rules).
    counts : ndarray, int64 (T,)
        Number of (x, y) points per frame, ``0 <= counts <= 2000``.
    """
    check_silhouettes(silhouettes)
    t, h, w = silhouettes.shape
    if t == 0 or h == 0 or w == 0:
        raise ValueError(f"silhouettes must have at least one frame of non-zero size, got shape {silhouettes.shape}")
    u8 = np.ascontiguousarray(silhouettes).view(np.uint8)
    vectors = np.zeros((t, VECTOR_LENGTH), np.float32)
    counts = np.zeros(t, np.int64)
    _encode_range(u8, vectors, counts, 0, t)
    return vectors, counts


def _fill_closed_polyline(pts: np.ndarray, out: np.ndarray) -> None:
    """Set ``out`` (bool (H, W)) True on and inside the closed polyline ``pts`` (int32 (n, 2), x/y)."""
    h, w = out.shape
    x, y, bw, bh = cv2.boundingRect(pts)
    # A one-pixel empty border lets the flood fill from the corner reach every outside pixel.
    cx0, cy0 = x - 1, y - 1
    canvas = np.zeros((bh + 2, bw + 2), np.uint8)
    cv2.polylines(canvas, [pts - np.array([cx0, cy0], np.int32)], True, 1, lineType=cv2.LINE_8)
    cv2.floodFill(canvas, None, (0, 0), 2)
    # Paste the part of the canvas that lies inside the frame.
    fy0, fx0 = max(cy0, 0), max(cx0, 0)
    fy1, fx1 = min(cy0 + bh + 2, h), min(cx0 + bw + 2, w)
    if fy0 < fy1 and fx0 < fx1:
        out[fy0:fy1, fx0:fx1] = canvas[fy0 - cy0 : fy1 - cy0, fx0 - cx0 : fx1 - cx0] != 2


def _decode_range(points: np.ndarray, counts: np.ndarray, out: np.ndarray, start: int, stop: int) -> None:
    for t in range(start, stop):
        n = int(counts[t])
        if n:
            _fill_closed_polyline(points[t, :n], out[t])


def decode(vectors: np.ndarray, counts: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Contour vectors back to silhouettes (paper Step 3, first half).

    Parameters
    ----------
    vectors : ndarray, float (T, 4000)
        Contour vectors, original or modified (e.g. a generator's output); any real dtype.
    counts : ndarray, int (T,)
        Points to use per frame, in ``0..2000``.
    shape : (int, int)
        Frame size ``(H, W)``.

    Returns
    -------
    ndarray, bool (T, H, W)
        One hole-free silhouette per frame (see the module rules for modified vectors).
    """
    vectors = np.asarray(vectors)
    counts = np.asarray(counts)
    if vectors.ndim != 2 or vectors.shape[1] != VECTOR_LENGTH:
        raise ValueError(f"vectors must have shape (T, {VECTOR_LENGTH}), got {vectors.shape}")
    if not (np.issubdtype(vectors.dtype, np.floating) or np.issubdtype(vectors.dtype, np.integer)):
        raise TypeError(f"vectors must be a real-valued array, got dtype {vectors.dtype}")
    if counts.shape != (vectors.shape[0],):
        raise ValueError(f"counts must have shape ({vectors.shape[0]},) to match vectors, got {counts.shape}")
    if not np.issubdtype(counts.dtype, np.integer):
        raise TypeError(f"counts must be integers, got dtype {counts.dtype}")
    if counts.size and (counts.min() < 0 or counts.max() > MAX_POINTS):
        bad = int(counts[(counts < 0) | (counts > MAX_POINTS)][0])
        raise ValueError(f"counts must lie in 0..{MAX_POINTS}, got {bad}")
    if len(shape) != 2 or min(int(shape[0]), int(shape[1])) <= 0:
        raise ValueError(f"shape must be (H, W) with positive sizes, got {shape}")
    h, w = int(shape[0]), int(shape[1])
    # Rounding and clamping for all frames at once, over the columns that some frame uses; unused entries are
    # zeroed so that garbage there can neither raise nor overflow.
    m = int(counts.max()) if counts.size else 0
    head = vectors[:, : 2 * m]
    used = np.arange(2 * m) < 2 * counts[:, None]
    bad = used & ~np.isfinite(head)
    if bad.any():
        frame = int(np.flatnonzero(bad.any(axis=1))[0])
        raise ValueError(f"contour vector of frame {frame} has non-finite coordinates (NaN or inf)")
    margin = max(h, w)
    pts = np.rint(np.where(used, head, 0)).reshape(len(counts), m, 2)
    np.clip(pts[..., 0], -margin, w - 1 + margin, out=pts[..., 0])
    np.clip(pts[..., 1], -margin, h - 1 + margin, out=pts[..., 1])
    points = pts.astype(np.int32)
    out = np.zeros((vectors.shape[0], h, w), bool)
    _decode_range(points, counts, out, 0, len(counts))
    return out


def _pool(workers: int | None, jobs: int) -> int:
    workers = os.cpu_count() or 1 if workers is None else workers
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    return min(workers, max(jobs, 1))


def encode_many(
    sequences: Sequence[np.ndarray], *, workers: int | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """:func:`encode` over many silhouette stacks, one process per core (``workers``; default all cores)."""
    workers = _pool(workers, len(sequences))
    if workers == 1:
        return [encode(s) for s in sequences]
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(encode, sequences, chunksize=max(1, len(sequences) // (4 * workers))))


def decode_many(
    encoded: Sequence[tuple[np.ndarray, np.ndarray]], shape: tuple[int, int], *, workers: int | None = None
) -> list[np.ndarray]:
    """:func:`decode` over many ``(vectors, counts)`` pairs, one process per core (default all cores)."""
    workers = _pool(workers, len(encoded))
    vectors = [v for v, _ in encoded]
    counts = [c for _, c in encoded]
    shapes = [shape] * len(encoded)
    if workers == 1:
        return [decode(v, c, shape) for v, c in zip(vectors, counts, strict=True)]
    with ProcessPoolExecutor(workers) as pool:
        chunk = max(1, len(encoded) // (4 * workers))
        return list(pool.map(decode, vectors, counts, shapes, chunksize=chunk))
