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


def label_lines(label: str, width: int = LABEL_WIDTH - 8, scale: float = 0.45) -> list[str]:
    """``label`` broken into lines that fit ``width`` pixels in OpenCV's simplex font at ``scale``: after ``;``,
    ``,``, ``=`` and spaces, before ``[``; a word wider than a line is cut where it must be."""
    def fits(text: str) -> bool:
        return cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] <= width

    words, word = [], ""
    for ch in label:
        if ch == "[" and word:
            words.append(word)
            word = ""
        word += ch
        if ch in ";, =":
            words.append(word)
            word = ""
    if word:
        words.append(word)
    lines: list[str] = []
    line = ""
    for word in words:
        if fits((line + word).rstrip()):
            line += word
            continue
        if line:
            lines.append(line.rstrip())
        line = ""
        for ch in word:  # a word too long for a line of its own
            if line and not fits(line + ch):
                lines.append(line)
                line = ""
            line += ch
    if line.strip() or not lines:
        lines.append(line.rstrip())
    return lines


def label_margin(label: str, height: int) -> np.ndarray:
    """A black ``uint8 (height, LABEL_WIDTH, 3)`` margin with ``label`` in white, wrapped to fit
    (:func:`label_lines`), its lines centred vertically."""
    margin = np.zeros((height, LABEL_WIDTH, 3), np.uint8)
    lines = label_lines(label)
    step = 16
    top = height // 2 + 5 - step * (len(lines) - 1) // 2
    for i, line in enumerate(lines):
        cv2.putText(margin, line, (4, top + i * step), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1,
                    cv2.LINE_AA)
    return margin


def spaced_frames(num_frames: int, n: int) -> list[int]:
    """``n`` frame indices spread evenly over ``0..num_frames-1``, first and last included (repeats if n > T)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    return [int(i) for i in np.linspace(0, num_frames - 1, n).round()]


def person_box(masks: Sequence[np.ndarray], margin: float = 0.1) -> tuple[int, int, int, int] | None:
    """``(y0, y1, x0, x1)``: a box of aspect 1:2 (width:height) around the union of ``masks`` ``bool (H, W)``.

    The union's bounding box grows by ``margin`` of its height on every side and widens (or heightens) to 1:2
    about its centre, then is shifted (and at worst cut) to lie inside the frame. None when all masks are empty.
    """
    union = np.logical_or.reduce([np.asarray(m, bool) for m in masks])
    rows, cols = np.flatnonzero(union.any(axis=1)), np.flatnonzero(union.any(axis=0))
    if not len(rows):
        return None
    h_img, w_img = union.shape
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    pad = margin * (y1 - y0)
    height = max(y1 - y0 + 2 * pad, 2 * (x1 - x0 + 2 * pad))
    cy, cx = (y0 + y1) / 2, (x0 + x1) / 2
    box_h, box_w = min(h_img, int(round(height))), min(w_img, int(round(height / 2)))
    top = int(np.clip(round(cy - box_h / 2), 0, h_img - box_h))
    left = int(np.clip(round(cx - box_w / 2), 0, w_img - box_w))
    return top, top + box_h, left, left + box_w


def _image(seq: GaitSequence, i: int, colour: bool) -> np.ndarray:
    if colour:
        return seq.frames[i]  # type: ignore[index]
    return np.repeat(seq.silhouettes[i][..., None], 3, axis=2) * np.uint8(255)


def _crop(image: np.ndarray, box: tuple[int, int, int, int] | None, size: tuple[int, int]) -> np.ndarray:
    """``image`` cut to ``box`` and resized to ``size`` ``(H, W)``; the whole frame when ``box`` is None."""
    if box is not None:
        image = image[box[0] : box[1], box[2] : box[3]]
    return cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_AREA)


def _tiles(
    seqs: Sequence[GaitSequence], picks: Sequence[int], colour: bool, crop: bool
) -> list[np.ndarray]:
    """Per sequence, its frames ``picks`` side by side; with ``crop``, each column cut around the person in
    every row at that frame (the same box for all rows, so rows compare pixel for pixel)."""
    for seq in seqs:
        bad = [i for i in picks if not 0 <= i < seq.num_frames]
        if bad:
            raise ValueError(f"frame {bad[0]} is out of range for {seq.key}, which has {seq.num_frames} frames")
    h, w = seqs[0].shape
    size = (h, max(1, h // 2)) if crop else (h, w)
    rows: list[list[np.ndarray]] = [[] for _ in seqs]
    for i in picks:
        box = person_box([s.silhouettes[i] for s in seqs]) if crop else None
        for r, seq in enumerate(seqs):
            image = _image(seq, i, colour)
            rows[r].append(_crop(image, box, size) if crop else image)
    return [np.concatenate(r, axis=1) for r in rows]


def frame_strips(
    rows: Sequence[tuple[str, GaitSequence]], frames: Sequence[int] | None = None, n: int = 8, *, crop: bool = True
) -> np.ndarray:
    """One labelled row of frames per sequence, e.g. ``[("original", a), ("stgan", b)]`` (Figs. 8 and 17).

    Parameters
    ----------
    rows : list of (label, GaitSequence)
        All of the same frame size ``(H, W)``.
    frames : list of int, optional
        0-based frame indices shown in every row; default ``n`` evenly spaced ones per row.
    n : int
        Frames per row when ``frames`` is None (spread over the shortest row).
    crop : bool
        Cut each column around the person (:func:`person_box` over all rows at that frame) to ``H x H // 2``
        tiles, as the paper's figures do; False shows whole frames (tiles ``H x W``).

    Returns
    -------
    ndarray, uint8 (len(rows) * H, LABEL_WIDTH + k * tile width, 3)
        RGB; colour frames when every row has them, else silhouettes white on black; labels in the left margin.
    """
    if not rows:
        raise ValueError("frame_strips needs at least one row")
    size = rows[0][1].shape
    for label, seq in rows:
        if seq.shape != size:
            raise ValueError(f"row {label!r} ({seq.key}) has frames of {seq.shape}, the first row {size}")
    colour = all(seq.frames is not None for _, seq in rows)
    picks = spaced_frames(min(seq.num_frames for _, seq in rows), n) if frames is None else list(frames)
    out = []
    for (label, _), strip in zip(rows, _tiles([seq for _, seq in rows], picks, colour, crop), strict=True):
        out.append(np.concatenate([label_margin(label, size[0]), strip], axis=1))
    return np.concatenate(out, axis=0)


def xor_strip(original: GaitSequence, anonymized: GaitSequence, n: int = 8, *, crop: bool = True) -> np.ndarray:
    """Where the anonymized silhouette differs from the original (Fig. 18), ``n`` evenly spaced frames.

    Colour key (RGB, :data:`XOR_COLOURS`): white ``(255, 255, 255)`` = person in both, red ``(255, 0, 0)``
    = only in the original, light blue ``(0, 160, 255)`` = only in the anonymized, black = in neither.

    ``crop`` cuts each frame around both silhouettes as :func:`frame_strips` does (resized with area
    averaging, so a tile pixel is "in" a silhouette when more than half of what it covers is).

    Returns
    -------
    ndarray, uint8 (H, n * tile width, 3)
    """
    if original.silhouettes.shape != anonymized.silhouettes.shape:
        raise ValueError(f"silhouettes of {original.key} {original.silhouettes.shape} and of the anonymized "
                         f"{anonymized.key} {anonymized.silhouettes.shape} differ in shape")
    picks = spaced_frames(original.num_frames, n)
    a, b = (t[..., 0] > 127 for t in _tiles([original, anonymized], picks, False, crop))
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
