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

from collections.abc import Callable, Sequence

import cv2
import numpy as np

from benchmark.parallel import resolve_workers, run_ranges
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


def _frame_box(pts: np.ndarray, h: int, w: int) -> tuple[int, int, int, int]:
    """``(y0, x0, y1, x1)``: the part of a polyline's fill canvas that lies in an (h, w) frame (may be empty)."""
    x, y, bw, bh = cv2.boundingRect(pts)
    return max(y - 1, 0), max(x - 1, 0), min(y + bh + 1, h), min(x + bw + 1, w)


def _fill_closed_polyline(pts: np.ndarray, box: tuple[int, int, int, int], dst: np.ndarray) -> None:
    """Write into ``dst`` (bool, the frame region ``box`` of :func:`_frame_box`) the pixels on or inside ``pts``."""
    x, y, bw, bh = cv2.boundingRect(pts)
    # A one-pixel empty border lets the flood fill from the corner reach every outside pixel.
    cx0, cy0 = x - 1, y - 1
    canvas = np.zeros((bh + 2, bw + 2), np.uint8)
    cv2.polylines(canvas, [pts - np.array([cx0, cy0], np.int32)], True, 1, lineType=cv2.LINE_8)
    cv2.floodFill(canvas, None, (0, 0), 2)
    fy0, fx0, fy1, fx1 = box
    if fy0 < fy1 and fx0 < fx1:
        np.not_equal(canvas[fy0 - cy0 : fy1 - cy0, fx0 - cx0 : fx1 - cx0], 2, out=dst)


def _decode_range(points: np.ndarray, counts: np.ndarray, out: np.ndarray, start: int, stop: int) -> None:
    h, w = out.shape[1:]
    for t in range(start, stop):
        n = int(counts[t])
        if n:
            box = _frame_box(points[t, :n], h, w)
            _fill_closed_polyline(points[t, :n], box, out[t, box[0] : box[2], box[1] : box[3]])


def _prepare_points(vectors: np.ndarray, counts: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Validate decode's inputs; return rounded, clamped ``int32 (T, m, 2)`` points and the counts."""
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
    bad_values = used & ~np.isfinite(head)
    if bad_values.any():
        frame = int(np.flatnonzero(bad_values.any(axis=1))[0])
        raise ValueError(f"contour vector of frame {frame} has non-finite coordinates (NaN or inf)")
    margin = max(h, w)
    pts = np.rint(np.where(used, head, 0)).reshape(len(counts), m, 2)
    np.clip(pts[..., 0], -margin, w - 1 + margin, out=pts[..., 0])
    np.clip(pts[..., 1], -margin, h - 1 + margin, out=pts[..., 1])
    return pts.astype(np.int32), counts


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
    points, counts = _prepare_points(np.asarray(vectors), np.asarray(counts), shape)
    out = np.zeros((len(counts), int(shape[0]), int(shape[1])), bool)
    _decode_range(points, counts, out, 0, len(counts))
    return out


def _frame_index(sizes: list[int]) -> np.ndarray:
    """Start offset of each sequence in the concatenated frame order, plus the total at the end."""
    return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)


def _for_frames(starts: np.ndarray, lo: int, hi: int, fn: Callable[[int, int, int, int], None]) -> None:
    """Call ``fn(seq, t0, t1, g0)`` for the part of each sequence that global frames ``lo..hi`` cover."""
    for k in range(len(starts) - 1):
        a, b = max(lo, int(starts[k])), min(hi, int(starts[k + 1]))
        if a < b:
            fn(k, a - int(starts[k]), b - int(starts[k]), a)


def encode_many(
    sequences: Sequence[np.ndarray], *, workers: int | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """:func:`encode` over many silhouette stacks, frames split over ``workers`` processes (default: all cores).

    Results are identical to calling :func:`encode` on each stack.
    """
    stacks = [np.ascontiguousarray(check_silhouettes(s, f"sequences[{i}]")) for i, s in enumerate(sequences)]
    for i, s in enumerate(stacks):
        if 0 in s.shape:
            raise ValueError(f"sequences[{i}] must have at least one frame of non-zero size, got shape {s.shape}")
    starts = _frame_index([len(s) for s in stacks])
    total = int(starts[-1])

    def work(lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        # Compact result: the counts and the concatenated points, as int16 (frames are far below 32768 px).
        counts = np.zeros(hi - lo, np.int64)
        chunks: list[np.ndarray] = []

        def one(k: int, t0: int, t1: int, g0: int) -> None:
            for t in range(t0, t1):
                pts = _outer_contour(stacks[k][t].view(np.uint8))
                if len(pts) > MAX_POINTS:
                    pts = pts[(np.arange(MAX_POINTS) * len(pts)) // MAX_POINTS]
                counts[g0 + t - t0 - lo] = len(pts)
                chunks.append(pts.astype(np.int16))

        _for_frames(starts, lo, hi, one)
        return counts, np.concatenate(chunks) if chunks else np.zeros((0, 2), np.int16)

    parts = run_ranges(total, resolve_workers(workers, total), work)
    counts = np.concatenate([c for c, _ in parts])
    points = np.concatenate([p for _, p in parts])
    vectors = np.zeros((total, VECTOR_LENGTH), np.float32)
    # Scatter the concatenated points into the zero-padded rows.
    row = np.repeat(np.arange(total), counts)
    col = np.arange(len(points)) - np.repeat(np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    vectors[row, 2 * col] = points[:, 0]
    vectors[row, 2 * col + 1] = points[:, 1]
    return [(vectors[a:b], counts[a:b]) for a, b in zip(starts[:-1], starts[1:], strict=True)]


def decode_many(
    encoded: Sequence[tuple[np.ndarray, np.ndarray]], shape: tuple[int, int], *, workers: int | None = None
) -> list[np.ndarray]:
    """:func:`decode` over many ``(vectors, counts)`` pairs, frames split over processes (default: all cores).

    Inputs are validated here, so the errors are those of :func:`decode`. Workers send back each frame's
    filled bounding box, bit-packed, and the frames are assembled here.
    """
    prepared = [_prepare_points(np.asarray(v), np.asarray(c), shape) for v, c in encoded]
    h, w = int(shape[0]), int(shape[1])
    starts = _frame_index([len(c) for _, c in prepared])
    total = int(starts[-1])

    def work(lo: int, hi: int) -> list[tuple[int, tuple[int, int, int, int], np.ndarray]]:
        crops: list[tuple[int, tuple[int, int, int, int], np.ndarray]] = []

        def one(k: int, t0: int, t1: int, g0: int) -> None:
            points, counts = prepared[k]
            for t in range(t0, t1):
                n = int(counts[t])
                if not n:
                    continue
                box = _frame_box(points[t, :n], h, w)
                if box[0] < box[2] and box[1] < box[3]:
                    crop = np.empty((box[2] - box[0], box[3] - box[1]), bool)
                    _fill_closed_polyline(points[t, :n], box, crop)
                    crops.append((g0 + t - t0, box, np.packbits(crop)))

        _for_frames(starts, lo, hi, one)
        return crops

    out = np.zeros((total, h, w), bool)
    for part in run_ranges(total, resolve_workers(workers, total), work):
        for g, (y0, x0, y1, x1), packed in part:
            size = (y1 - y0) * (x1 - x0)
            out[g, y0:y1, x0:x1] = np.unpackbits(packed, count=size).reshape(y1 - y0, x1 - x0)
    return [out[a:b] for a, b in zip(starts[:-1], starts[1:], strict=True)]
