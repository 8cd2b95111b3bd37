"""Silhouette operations: cleanup, the field's size normalisation, gait energy images, background subtraction.

Normalisation follows OpenGait's CASIA-B pretreatment (``datasets/pretreatment.py``), which produced the
published numbers: per frame, crop the rows that hold foreground, resize that full-width strip to ``height``
rows with bicubic interpolation (width ``int(height * W / rows)``, so the aspect ratio is kept), centre
horizontally on the median foreground column of the resized strip (the first column where the cumulative
column sum exceeds half the total) and cut a window of ``width`` columns around it, zero-padded where it
runs off the strip. ``64x64`` is OpenGait's stored size; its models cut ``64x44`` from the middle, which is
the same window as ``width=44`` here; ``128x88`` (GEINet) is ``height=128, width=88``.

Empty frames are kept, as all-zero output frames, so that outputs stay aligned with their inputs;
:func:`gei` leaves them out of the mean. The field's extra filter (drop frames with fewer than
:data:`MIN_FOREGROUND_PIXELS` foreground pixels) is the ``min_pixels`` argument of :func:`normalize`.

Batch versions (:func:`normalize_many`, :func:`gei_many`, :func:`clean_many`) spread sequences over
worker processes with :func:`map_sequences`.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

import cv2
import numpy as np

from benchmark.types import check_frames, check_silhouettes

# OpenGait's pretreatment drops frames whose uint8 pixel sum is <= 10000, i.e. frames with <= 39 pixels at 255.
MIN_FOREGROUND_PIXELS = 40

T_in = TypeVar("T_in")
T_out = TypeVar("T_out")


# ----------------------------------------------------------------------------------------------------------
# normalisation and GEI


def _check_size(height: int, width: int) -> tuple[int, int]:
    for name, value in (("height", height), ("width", width)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    return int(height), int(width)


def _check_min_pixels(min_pixels: int) -> int:
    if isinstance(min_pixels, bool) or not isinstance(min_pixels, int | np.integer) or min_pixels < 0:
        raise ValueError(f"min_pixels must be an int >= 0, got {min_pixels!r}")
    return int(min_pixels)


def _check_nonempty(silhouettes: np.ndarray, name: str) -> None:
    t, h, w = silhouettes.shape
    if t == 0:
        raise ValueError(f"{name} has no frames (shape {silhouettes.shape}); nothing to normalise")
    if h == 0 or w == 0:
        raise ValueError(f"{name} has frames of size {h}x{w}; frames must be at least 1x1")


def normalize_frame_into(frame: np.ndarray, out: np.ndarray, *, ones: bool) -> bool:
    """Normalise one frame into ``out`` (``uint8 (height, width)``, zero on entry); False if it stays empty.

    ``frame`` is ``uint8 (H, W)`` holding 0 and 255, or 0 and 1 when ``ones`` is True (a bool frame viewed
    as uint8). This is the per-frame kernel of :func:`normalize` and of the decoded cache.
    """
    height, width = out.shape
    x, y, w, h = cv2.boundingRect(frame)
    if w == 0:
        return False
    strip = frame[y : y + h]
    if ones:
        strip = np.negative(strip)  # 0/1 -> 0/255 in uint8, on the foreground rows only
    # OpenGait's rounding of the width: int(size * ratio) with the ratio computed first.
    new_width = int(height * (frame.shape[1] / h))
    if new_width < 1:
        return False
    resized = cv2.resize(strip, (new_width, height), interpolation=cv2.INTER_CUBIC)
    csum = np.cumsum(cv2.reduce(resized, 0, cv2.REDUCE_SUM, dtype=cv2.CV_32S)[0])
    total = int(csum[-1])
    if total == 0:
        return False
    x_center = int(np.searchsorted(csum, total / 2, side="right"))
    left = x_center - width // 2
    a, b = max(left, 0), min(left + width, new_width)
    out[:, a - left : b - left] = resized[:, a:b]
    return True


def normalize_uint8(silhouettes: np.ndarray, height: int = 64, width: int = 64, *, min_pixels: int = 1) -> np.ndarray:
    """:func:`normalize` with ``uint8`` output, 0..255: exactly the values OpenGait's pretreatment stores.

    Returns
    -------
    ndarray, uint8 (T, height, width)
        Bicubic resampling of 0/255 frames, saturated to uint8; :func:`normalize` divides it by 255.
    """
    check_silhouettes(silhouettes)
    _check_nonempty(silhouettes, "silhouettes")
    height, width = _check_size(height, width)
    min_pixels = _check_min_pixels(min_pixels)
    ones = np.ascontiguousarray(silhouettes).view(np.uint8)
    out = np.zeros((silhouettes.shape[0], height, width), np.uint8)
    for t in range(ones.shape[0]):
        if min_pixels > 1 and cv2.countNonZero(ones[t]) < min_pixels:
            continue
        normalize_frame_into(ones[t], out[t], ones=True)
    return out


def normalize(silhouettes: np.ndarray, height: int = 64, width: int = 64, *, min_pixels: int = 1) -> np.ndarray:
    """Size-normalise silhouettes the way the field does (OpenGait's CASIA-B pretreatment).

    Parameters
    ----------
    silhouettes : ndarray, bool (T, H, W)
        Binary masks, True on the person; any frame size.
    height, width : int
        Output size: ``64, 64`` (OpenGait's stored size), ``64, 44`` (its models' input), ``128, 88`` (GEINet).
    min_pixels : int
        Frames with fewer foreground pixels come out all zero; 1 blanks only empty frames,
        :data:`MIN_FOREGROUND_PIXELS` (40) applies the field's filter of noisy frames.

    Returns
    -------
    ndarray, float32 (T, height, width)
        In [0, 1] (bicubic interpolation of 0/255, rounded to uint8, divided by 255). Output frame ``t``
        belongs to input frame ``t``; blanked frames are all zero.
    """
    return np.divide(normalize_uint8(silhouettes, height, width, min_pixels=min_pixels), 255, dtype=np.float32)


def gei(normalized: np.ndarray, *, skip_empty: bool = True) -> np.ndarray:
    """Gait energy image: the mean of size-normalised silhouettes.

    Parameters
    ----------
    normalized : ndarray, float32 (T, h, w) in [0, 1], or uint8 (T, h, w) in 0..255
        Output of :func:`normalize` (float) or of the decoded cache (uint8, scaled by 1/255 here).
    skip_empty : bool
        Leave all-zero frames (those :func:`normalize` blanked) out of the mean.

    Returns
    -------
    ndarray, float32 (h, w)
        In [0, 1].
    """
    if not isinstance(normalized, np.ndarray):
        raise TypeError(f"normalized must be a numpy array, got {type(normalized).__name__}")
    if normalized.dtype != np.uint8 and not np.issubdtype(normalized.dtype, np.floating):
        raise TypeError(
            f"normalized must be float (0..1) or uint8 (0..255), got {normalized.dtype}; "
            "pass bool silhouettes through normalize() first"
        )
    if normalized.ndim != 3:
        raise ValueError(f"normalized must have shape (T, h, w), got shape {normalized.shape}")
    frames = normalized
    if skip_empty and len(normalized):
        frames = normalized[normalized.any(axis=(1, 2))]
    if len(frames) == 0:
        raise ValueError(
            f"cannot compute a GEI from {len(normalized)} frames: "
            + ("none has any foreground" if len(normalized) else "the input is empty")
        )
    if frames.dtype == np.uint8:
        total = frames.sum(axis=0, dtype=np.uint32 if len(frames) < 2**24 else np.uint64)
        return np.divide(total, 255.0 * len(frames), dtype=np.float32)
    return frames.mean(axis=0, dtype=np.float32)


# ----------------------------------------------------------------------------------------------------------
# cleanup


def _clean_frame(mask: np.ndarray, kernel: np.ndarray | None) -> np.ndarray:
    u8: np.ndarray = mask.view(np.uint8)
    if kernel is not None:
        u8 = cv2.morphologyEx(u8, cv2.MORPH_OPEN, kernel)
    out = np.zeros(mask.shape, bool)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(u8, connectivity=8)
    if n <= 1:
        return out
    areas = stats[1:, cv2.CC_STAT_AREA]
    best = 1 + int(np.argmax(areas))
    tied = 1 + np.flatnonzero(areas == areas[best - 1])
    if len(tied) > 1:  # OpenCV's label order is not raster order: take the tie that starts first in raster order
        best = int(min(tied, key=lambda k: (stats[k, 1], int(np.argmax(labels[stats[k, 1]] == k)))))
    x, y, w, h = (int(v) for v in stats[best, :4])
    # Fill holes on the component's bounding box with a 1-pixel margin: background pixels that a 4-connected
    # flood from the margin cannot reach are holes (4-connected background pairs with 8-connected foreground).
    box = np.zeros((h + 2, w + 2), np.uint8)
    box[1:-1, 1:-1] = labels[y : y + h, x : x + w] == best
    cv2.floodFill(box, None, (0, 0), 2, flags=4)
    out[y : y + h, x : x + w] = box[1:-1, 1:-1] != 2
    return out


def clean(silhouettes: np.ndarray, *, opening: int = 0) -> np.ndarray:
    """Keep the largest 8-connected foreground component of each frame and fill its holes.

    Parameters
    ----------
    silhouettes : ndarray, bool (T, H, W) or bool (H, W)
        One frame or a stack.
    opening : int
        Radius in pixels of a morphological opening (elliptic kernel ``2r+1``) applied first to remove
        specks and thin bridges; 0 = none.

    Returns
    -------
    ndarray, bool, same shape as the input
        Empty frames stay empty. A hole is background not 4-connected to the frame's outside. Among
        equally large components the one whose first pixel comes first in raster order is kept.
    """
    if not isinstance(silhouettes, np.ndarray):
        raise TypeError(f"silhouettes must be a numpy array, got {type(silhouettes).__name__}")
    if silhouettes.dtype != np.bool_:
        raise TypeError(f"silhouettes must have dtype bool, got {silhouettes.dtype}")
    if silhouettes.ndim not in (2, 3):
        raise ValueError(f"silhouettes must have shape (T, H, W) or (H, W), got shape {silhouettes.shape}")
    if isinstance(opening, bool) or not isinstance(opening, int | np.integer) or opening < 0:
        raise ValueError(f"opening must be an int >= 0, got {opening!r}")
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * opening + 1,) * 2) if opening else None
    stack = np.ascontiguousarray(silhouettes if silhouettes.ndim == 3 else silhouettes[None])
    out = np.stack([_clean_frame(m, kernel) for m in stack]) if len(stack) else stack.copy()
    return out if silhouettes.ndim == 3 else out[0]


# ----------------------------------------------------------------------------------------------------------
# background subtraction (static camera)


def median_background(frames: np.ndarray) -> np.ndarray:
    """The empty scene of a static camera: the per-pixel temporal median of a video.

    Parameters
    ----------
    frames : ndarray, uint8 (T, H, W, 3)
        RGB frames; the person must not stand still on any pixel for half of them.

    Returns
    -------
    ndarray, uint8 (H, W, 3)
        RGB; with an even T the mean of the two middle values, rounded half to even.
    """
    check_frames(frames)
    if len(frames) == 0:
        raise ValueError("cannot take the temporal median of 0 frames")
    return np.rint(np.median(frames, axis=0)).astype(np.uint8)


def subtract_background(frames: np.ndarray, background: np.ndarray, *, threshold: int = 30) -> np.ndarray:
    """Foreground where a frame differs from the background image by more than ``threshold`` in any channel.

    Parameters
    ----------
    frames : ndarray, uint8 (T, H, W, 3)
    background : ndarray, uint8 (H, W, 3)
    threshold : int
        Grey levels, 0..254.

    Returns
    -------
    ndarray, bool (T, H, W)
        Raw masks; pass them through :func:`clean`.
    """
    check_frames(frames)
    if not isinstance(background, np.ndarray) or background.dtype != np.uint8 or background.shape != frames.shape[1:]:
        got = f"{background.dtype} {background.shape}" if isinstance(background, np.ndarray) else type(background)
        raise ValueError(f"background must be uint8 {frames.shape[1:]} like one frame, got {got}")
    if not 0 <= threshold < 255:
        raise ValueError(f"threshold must be in 0..254, got {threshold}")
    out = np.empty(frames.shape[:3], bool)
    for t, frame in enumerate(frames):
        out[t] = cv2.absdiff(frame, background).max(axis=2) > threshold
    return out


def mog2_silhouettes(
    frames: np.ndarray, *, background: np.ndarray | None = None, var_threshold: float = 16.0
) -> np.ndarray:
    """Foreground masks from OpenCV's Gaussian-mixture background model (MOG2), shadows excluded.

    The model is first trained on the background image alone (50 updates), then run online through the
    video, so it labels the first frames as well as the last and adapts to slow lighting changes. Trained
    on the video itself, it would take a slow walker for background.

    Parameters
    ----------
    frames : ndarray, uint8 (T, H, W, 3)
    background : ndarray, uint8 (H, W, 3), optional
        The empty scene; default: :func:`median_background` of ``frames``.
    var_threshold : float
        MOG2's squared Mahalanobis distance threshold (OpenCV's default 16).

    Returns
    -------
    ndarray, bool (T, H, W)
    """
    check_frames(frames)
    bg = median_background(frames) if background is None else background
    model = cv2.createBackgroundSubtractorMOG2(varThreshold=var_threshold, detectShadows=True)
    for _ in range(50):
        model.apply(bg)
    out = np.empty(frames.shape[:3], bool)
    for t, frame in enumerate(frames):
        out[t] = model.apply(frame) == 255  # 127 marks shadows
    return out


# ----------------------------------------------------------------------------------------------------------
# batch versions over worker processes

_SHARED: tuple[Callable[[Any], Any], Sequence[Any]] | None = None


def _call_shared(index: int) -> Any:
    assert _SHARED is not None  # set in the parent before the fork
    func, items = _SHARED
    return func(items[index])


def default_workers() -> int:
    """The number of CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def map_sequences(func: Callable[[T_in], T_out], items: Sequence[T_in], *, workers: int | None = None) -> list[T_out]:
    """``[func(x) for x in items]`` spread over worker processes, in order.

    With the ``fork`` start method (Linux) the workers inherit ``items`` and receive only indices, so large
    arrays are never pickled on the way in; results are pickled on the way back. Elsewhere ``func`` and the
    items must pickle. ``workers=None`` uses every CPU this process may run on; 1 runs in-process.
    OpenCV's thread settings are left alone in the workers: calling ``cv2.setNumThreads`` in a forked child
    of a parent that used OpenCV's thread pool hangs.
    """
    global _SHARED
    workers = default_workers() if workers is None else int(workers)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    items = list(items)
    workers = min(workers, len(items))
    if workers <= 1:
        return [func(x) for x in items]
    # One task per item (chunksize 1): an item is a whole sequence, milliseconds of work, and bigger chunks
    # leave a worker idle at the end.
    if "fork" in multiprocessing.get_all_start_methods():
        _SHARED = (func, items)
        try:
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
                return list(pool.map(_call_shared, range(len(items))))
        finally:
            _SHARED = None
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(func, items))


class _Normalizer:
    def __init__(self, height: int, width: int, min_pixels: int) -> None:
        self.height, self.width, self.min_pixels = height, width, min_pixels

    def __call__(self, silhouettes: np.ndarray) -> np.ndarray:
        return normalize_uint8(silhouettes, self.height, self.width, min_pixels=self.min_pixels)


class _Gei(_Normalizer):
    def __call__(self, silhouettes: np.ndarray) -> np.ndarray:
        return gei(super().__call__(silhouettes))


class _Cleaner:
    def __init__(self, opening: int) -> None:
        self.opening = opening

    def __call__(self, silhouettes: np.ndarray) -> np.ndarray:
        return clean(silhouettes, opening=self.opening)


def normalize_many(
    sequences: Sequence[np.ndarray],
    height: int = 64,
    width: int = 64,
    *,
    min_pixels: int = 1,
    workers: int | None = None,
) -> list[np.ndarray]:
    """:func:`normalize` over many ``bool (T_i, H_i, W_i)`` stacks in worker processes.

    Returns
    -------
    list of ndarray, float32 (T_i, height, width)
        In input order.
    """
    height, width = _check_size(height, width)
    for i, s in enumerate(sequences):
        check_silhouettes(s, f"sequences[{i}]")
    out = map_sequences(_Normalizer(height, width, min_pixels), sequences, workers=workers)
    return [np.divide(u8, 255, dtype=np.float32) for u8 in out]


def gei_many(
    sequences: Sequence[np.ndarray],
    height: int = 64,
    width: int = 64,
    *,
    min_pixels: int = 1,
    workers: int | None = None,
) -> np.ndarray:
    """``gei(normalize(s))`` for many ``bool (T_i, H_i, W_i)`` stacks in worker processes.

    Returns
    -------
    ndarray, float32 (N, height, width)
        One GEI per sequence, in input order.
    """
    height, width = _check_size(height, width)
    for i, s in enumerate(sequences):
        check_silhouettes(s, f"sequences[{i}]")
    out = map_sequences(_Gei(height, width, min_pixels), sequences, workers=workers)
    return np.stack(out) if out else np.zeros((0, height, width), np.float32)


def clean_many(sequences: Sequence[np.ndarray], *, opening: int = 0, workers: int | None = None) -> list[np.ndarray]:
    """:func:`clean` over many ``bool (T_i, H_i, W_i)`` stacks in worker processes, in input order."""
    for i, s in enumerate(sequences):
        check_silhouettes(s, f"sequences[{i}]")
    return map_sequences(_Cleaner(opening), sequences, workers=workers)
