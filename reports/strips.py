"""Frame strips of original and anonymized sequences (the paper's Figs. 8, 17 and 18), drawn from data on disk.

Pure functions of :class:`~benchmark.types.GaitSequence` objects: no model runs here. Images are RGB
``uint8 (H, W, 3)``; :func:`write_png` converts to OpenCV's BGR only when writing.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from benchmark.io import atomic_path
from benchmark.types import GaitSequence

LABEL_WIDTH = 120
#: Fig. 18's colour key (RGB): in both, only in the original, only in the anonymized, in neither
XOR_COLOURS = {"both": (255, 255, 255), "original": (255, 0, 0), "anonymized": (0, 160, 255), "none": (0, 0, 0)}


def spaced_frames(num_frames: int, n: int) -> list[int]:
    """``n`` frame indices spread evenly over ``0..num_frames-1``, first and last included (repeats if n > T)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    return [int(i) for i in np.linspace(0, num_frames - 1, n).round()]


def _tiles(seq: GaitSequence, picks: Sequence[int], colour: bool) -> np.ndarray:
    bad = [i for i in picks if not 0 <= i < seq.num_frames]
    if bad:
        raise ValueError(f"frame {bad[0]} is out of range for {seq.key}, which has {seq.num_frames} frames")
    if colour:
        return np.concatenate([seq.frames[i] for i in picks], axis=1)  # type: ignore[index]
    return np.repeat(np.concatenate([seq.silhouettes[i] for i in picks], axis=1)[..., None], 3, axis=2) * np.uint8(
        255
    )


def frame_strips(
    rows: Sequence[tuple[str, GaitSequence]], frames: Sequence[int] | None = None, n: int = 8
) -> np.ndarray:
    """One labelled row of frames per sequence, e.g. ``[("original", a), ("stgan", b)]`` (Figs. 8 and 17).

    Parameters
    ----------
    rows : list of (label, GaitSequence)
        All of the same frame size ``(H, W)``.
    frames : list of int, optional
        0-based frame indices shown in every row; default ``n`` evenly spaced ones per row.
    n : int
        Frames per row when ``frames`` is None.

    Returns
    -------
    ndarray, uint8 (len(rows) * H, LABEL_WIDTH + k * W, 3)
        RGB; colour frames when every row has them, else silhouettes white on black; labels in the left margin.
    """
    if not rows:
        raise ValueError("frame_strips needs at least one row")
    size = rows[0][1].shape
    for label, seq in rows:
        if seq.shape != size:
            raise ValueError(f"row {label!r} ({seq.key}) has frames of {seq.shape}, the first row {size}")
    colour = all(seq.frames is not None for _, seq in rows)
    out = []
    for label, seq in rows:
        strip = _tiles(seq, spaced_frames(seq.num_frames, n) if frames is None else list(frames), colour)
        margin = np.zeros((size[0], LABEL_WIDTH, 3), np.uint8)
        cv2.putText(margin, label, (4, size[0] // 2 + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1,
                    cv2.LINE_AA)
        out.append(np.concatenate([margin, strip], axis=1))
    return np.concatenate(out, axis=0)


def xor_strip(original: GaitSequence, anonymized: GaitSequence, n: int = 8) -> np.ndarray:
    """Where the anonymized silhouette differs from the original (Fig. 18), ``n`` evenly spaced frames.

    Colour key (RGB, :data:`XOR_COLOURS`): white ``(255, 255, 255)`` = person in both, red ``(255, 0, 0)``
    = only in the original, light blue ``(0, 160, 255)`` = only in the anonymized, black = in neither.

    Returns
    -------
    ndarray, uint8 (H, n * W, 3)
    """
    if original.silhouettes.shape != anonymized.silhouettes.shape:
        raise ValueError(f"silhouettes of {original.key} {original.silhouettes.shape} and of the anonymized "
                         f"{anonymized.key} {anonymized.silhouettes.shape} differ in shape")
    picks = spaced_frames(original.num_frames, n)
    a = np.concatenate([original.silhouettes[i] for i in picks], axis=1)
    b = np.concatenate([anonymized.silhouettes[i] for i in picks], axis=1)
    image = np.zeros((*a.shape, 3), np.uint8)
    for mask, key in ((a & b, "both"), (a & ~b, "original"), (~a & b, "anonymized")):
        image[mask] = XOR_COLOURS[key]
    return image


def write_png(path: str | os.PathLike[str], image: np.ndarray) -> Path:
    """Write an RGB ``uint8 (H, W, 3)`` image as PNG atomically; returns the path."""
    path = Path(path)
    with atomic_path(path, suffix=".png") as tmp:
        if not cv2.imwrite(str(tmp), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
            raise OSError(f"OpenCV could not write {path}")
    return path
