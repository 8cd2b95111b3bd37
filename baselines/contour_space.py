"""The contour vectors the anonymization networks read and write, and loading them from a dataset.

The paper's Step 1 gives each frame a 4000-d contour vector: up to 2000 (x, y) pixels, zero-padded. Fed to a
network as they are, coordinate ``i`` would mean a different body part in every frame (contours have different
lengths) and the padded tail would pull generated points to the image origin. **Our choice** (the paper is silent
on how its networks see the vectors): before the networks, every contour is

1. resampled to exactly ``POINTS = 2000`` points spaced evenly along its arc length, starting at the contour's
   first point (its top-most, then left-most pixel; the order goes down the left side), so point ``i`` is the
   same fraction of the way round in every frame and no padding remains; and
2. expressed relative to its frame: minus the centre of its bounding box, divided by the box height (``scale``),
   so that a person's position and distance to the camera are not part of the shape.

The networks see ``float32 (T, 2, 2000)`` (x row and y row, i.e. the 4000 numbers of the vector as two channels);
after them, :func:`from_network` maps each frame back with that frame's own centre and scale, giving a 4000-d
vector with all 2000 points in use. Frames without a contour (empty silhouettes) are ``valid = False`` and stay
empty.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from benchmark.contours import MAX_POINTS, decode, encode

POINTS = MAX_POINTS


def resample_closed(points: np.ndarray, n: int = POINTS) -> np.ndarray:
    """``n`` points evenly spaced by arc length along the closed polygon ``points`` ``(m, 2)``, from ``points[0]``.

    A polygon of one point (or zero length) gives ``n`` copies of it. Returns ``float64 (n, 2)``.
    """
    pts = np.asarray(points, np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) == 0:
        raise ValueError(f"points must have shape (m, 2) with m >= 1, got {pts.shape}")
    closed = np.vstack([pts, pts[:1]])
    arc = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(closed, axis=0).T))])
    if arc[-1] == 0:
        return np.repeat(pts[:1], n, axis=0)
    targets = np.arange(n) * (arc[-1] / n)
    return np.stack([np.interp(targets, arc, closed[:, 0]), np.interp(targets, arc, closed[:, 1])], axis=1)


def to_network(vectors: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Contour vectors to the networks' form (see the module docstring).

    Parameters
    ----------
    vectors : ndarray, float32 (T, 4000)
    counts : ndarray, int (T,)

    Returns
    -------
    shapes : ndarray, float32 (T, 2, 2000)
        Resampled points relative to the frame's box (zeros for invalid frames).
    frame : ndarray, float32 (T, 3)
        ``(centre x, centre y, scale)`` of each frame's bounding box (scale = box height, at least 1 pixel).
    valid : ndarray, bool (T,)
        Frames with a contour.
    """
    vectors = np.asarray(vectors)
    counts = np.asarray(counts)
    if vectors.ndim != 2 or vectors.shape[1] != 2 * POINTS or counts.shape != (len(vectors),):
        raise ValueError(f"vectors must be (T, {2 * POINTS}) with counts (T,), got {vectors.shape}, {counts.shape}")
    t = len(vectors)
    shapes = np.zeros((t, 2, POINTS), np.float32)
    frame = np.zeros((t, 3), np.float32)
    valid = counts > 0
    for i in np.flatnonzero(valid):
        pts = vectors[i, : 2 * counts[i]].reshape(-1, 2).astype(np.float64)
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        centre = (lo + hi) / 2
        scale = max(1.0, hi[1] - lo[1])
        shapes[i] = ((resample_closed(pts) - centre) / scale).T
        frame[i] = (centre[0], centre[1], scale)
    return shapes, frame, valid


def from_network(shapes: np.ndarray, frame: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The networks' form back to contour vectors ``float32 (T, 4000)`` and counts ``int64 (T,)``.

    Each frame is scaled and moved with its own ``frame`` row; invalid frames get count 0.
    """
    shapes = np.asarray(shapes, np.float32)
    if shapes.ndim != 3 or shapes.shape[1:] != (2, POINTS):
        raise ValueError(f"shapes must be (T, 2, {POINTS}), got {shapes.shape}")
    pts = shapes * frame[:, 2, None, None] + frame[:, :2, None]  # (T, 2, P) in pixels
    vectors = np.ascontiguousarray(pts.transpose(0, 2, 1)).reshape(len(shapes), 2 * POINTS)
    counts = np.where(valid, POINTS, 0).astype(np.int64)
    return vectors.astype(np.float32), counts


def silhouettes_to_network(silhouettes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`benchmark.contours.encode` then :func:`to_network`."""
    return to_network(*encode(silhouettes))


def network_to_silhouettes(
    shapes: np.ndarray, frame: np.ndarray, valid: np.ndarray, size: tuple[int, int]
) -> np.ndarray:
    """:func:`from_network` then :func:`benchmark.contours.decode`: valid, hole-free ``bool (T, H, W)``."""
    return decode(*from_network(shapes, frame, valid), size)


@dataclasses.dataclass(frozen=True)
class ContourSet:
    """Contours of many sequences in the networks' form, concatenated frame-wise.

    ``shapes`` float16 (N, 2, 2000) (half precision: 1e-3 of the body height, a fraction of a pixel);
    ``valid`` bool (N,); ``offsets`` int64 (S + 1,): sequence ``s`` is frames ``offsets[s]:offsets[s+1]``;
    ``subjects``, ``conditions``, ``views`` (S,).
    """

    shapes: np.ndarray
    valid: np.ndarray
    offsets: np.ndarray
    subjects: np.ndarray
    conditions: np.ndarray
    views: np.ndarray

    def __len__(self) -> int:
        return len(self.subjects)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def frames(self, s: int) -> slice:
        return slice(int(self.offsets[s]), int(self.offsets[s + 1]))

    def key(self, s: int) -> str:
        return f"{self.subjects[s]}-{self.conditions[s]}-{int(self.views[s]):03d}"


def _read_one(item: tuple[Path, object]) -> tuple[np.ndarray, np.ndarray]:
    from benchmark.data.casia import CasiaB

    root, ref = item
    shapes, _, valid = silhouettes_to_network(CasiaB(root).load_silhouettes(ref))  # type: ignore[arg-type]
    return shapes.astype(np.float16), valid


def load_contours(
    root: str | os.PathLike[str],
    subjects: Iterable[str],
    *,
    conditions: Sequence[str] | None = None,
    views: Sequence[int] | None = None,
    workers: int | None = None,
) -> ContourSet:
    """Read the silhouettes of ``subjects`` from a CASIA-B tree (or world) into a :class:`ContourSet`.

    Sequences are decoded on ``workers`` processes (default every CPU); ``ValueError`` when nothing is selected.
    """
    from benchmark.data.casia import CasiaB
    from benchmark.silhouettes import map_sequences

    subjects = sorted(set(subjects))
    refs = CasiaB(Path(root)).index(subjects=subjects, conditions=conditions, views=views)
    if not refs:
        raise ValueError(f"no sequences of subjects {subjects[:5]} in {root} (conditions {conditions}, views {views})")
    parts = map_sequences(_read_one, [(Path(root), r) for r in refs], workers=workers)
    lengths = [len(v) for _, v in parts]
    return ContourSet(
        shapes=np.concatenate([s for s, _ in parts]),
        valid=np.concatenate([v for _, v in parts]),
        offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        subjects=np.array([r.subject for r in refs]),
        conditions=np.array([r.condition for r in refs]),
        views=np.array([r.view for r in refs], np.int64),
    )


def carry_holes(original: np.ndarray, decoded: np.ndarray, shapes: np.ndarray, fake: np.ndarray,
                frame: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """The original silhouettes' holes carried into the decoded ones, moved with the contour.

    The contour form keeps the outer boundary only, so a decoded silhouette has no holes (the gap between an arm
    and the body, between the legs above the crotch). Each hole pixel of ``original`` ``bool (T, H, W)`` moves by
    the displacement of its nearest contour point (point ``i`` of ``shapes`` to point ``i`` of ``fake``, both
    ``(T, 2, P)`` in the networks' form, framed by ``frame``) and is cleared in ``decoded``. Returns a new array.
    """
    from scipy.ndimage import binary_fill_holes
    from scipy.spatial import cKDTree

    out = decoded.copy()
    h, w = out.shape[1:]
    for t in np.flatnonzero(valid):
        holes = binary_fill_holes(original[t]) & ~original[t]
        ys, xs = np.nonzero(holes)
        if not len(ys):
            continue
        scale, centre = float(frame[t, 2]), frame[t, :2].astype(np.float64)
        src = shapes[t].T.astype(np.float64) * scale + centre  # (P, 2) as (x, y) pixels
        dst = fake[t].T.astype(np.float64) * scale + centre
        _, nearest = cKDTree(src).query(np.stack([xs, ys], 1))
        moved = np.rint(np.stack([xs, ys], 1) + (dst - src)[nearest]).astype(np.int64)
        inside = (moved[:, 0] >= 0) & (moved[:, 0] < w) & (moved[:, 1] >= 0) & (moved[:, 1] < h)
        out[t, moved[inside, 1], moved[inside, 0]] = False
    return out
