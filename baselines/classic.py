"""Classic pixel-space anonymization baselines: identity, Gaussian blur, pixelation (mosaic) and masking.

Each method acts on the **person region** of every frame: the silhouette dilated by ``margin`` pixels with an
elliptical ``(2 margin + 1)``-pixel kernel. Frames with an empty silhouette are left unchanged; pixels outside the
region (for :class:`Pixelate`: outside the region rounded out to whole cells) are never touched.

Colour frames (when the sequence has them) are changed inside the region. The output **silhouettes** are what an
attacker would segment from the anonymized video, computed by applying the same operation to the silhouette:

=========  ========================================  ===================================================
method     colour frames                             output silhouettes
=========  ========================================  ===================================================
identity   unchanged (copies)                        unchanged (copies)
blur       Gaussian blur (``sigma``) pasted in the   the 0/1 silhouette blurred with the same Gaussian,
           region                                    ``>= 0.5``, within the region
pixelate   ``block`` x ``block`` cell means (grid    per cell: on iff at least half the cell's pixels are
           at the top-left pixel) in every cell      silhouette (block majority)
           that touches the region
mask       the shape (``box``: bounding box of the   the filled shape
           region, ``dilate``: the region) filled
           with ``color``
=========  ========================================  ===================================================

The blurred silhouette is cut to the region because pixels outside it keep the original (background) colour, so
an attacker would not segment them (a gap between the legs narrower than the blur would otherwise fill in). The
methods are deterministic: ``rng`` is ignored. Image borders use OpenCV's default reflection (``BORDER_REFLECT_101``;
scipy's ``mode="mirror"``); partial cells at the right and bottom borders average the pixels they have.
"""

from __future__ import annotations

import dataclasses
import math
from numbers import Real

import cv2
import numpy as np

from benchmark.api import Anonymizer, GaitSequence

COLORS: dict[str, tuple[int, int, int]] = {"gray": (128, 128, 128), "black": (0, 0, 0), "white": (255, 255, 255)}
SHAPES = ("box", "dilate")


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")


def _params(**values: object) -> str:
    """``key=value;...`` with sorted keys, as in the results table's ``parameters`` column."""
    text = {k: f"{v:g}" if isinstance(v, float) else str(v) for k, v in values.items()}
    return ";".join(f"{k}={text[k]}" for k in sorted(text))


def person_region(silhouettes: np.ndarray, margin: int) -> np.ndarray:
    """The silhouettes ``bool (T, H, W)`` dilated by ``margin`` px (elliptical kernel); same shape, bool."""
    if margin == 0:
        return silhouettes.copy()
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
    out = np.empty_like(silhouettes)
    for t, sil in enumerate(silhouettes):
        out[t] = cv2.dilate(sil.view(np.uint8), kernel).view(bool)
    return out


def gaussian_ksize(sigma: float) -> int:
    """The odd kernel size used for ``sigma``: ``2 ceil(3 sigma) + 1`` (the kernel reaches 3 sigma each side)."""
    return 2 * math.ceil(3 * sigma) + 1


def cell_sums(image: np.ndarray, block: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sums of ``image`` (``(H, W)`` or ``(H, W, C)``, uint8 or bool) over ``block`` x ``block`` grid cells.

    Returns ``int32 (ceil(H/block), ceil(W/block)[, C])`` sums and the cell heights and widths (``int (nh,)``,
    ``int (nw,)``; the last row/column of cells is smaller when ``block`` does not divide H or W).
    """
    h, w = image.shape[:2]
    ys, xs = np.append(np.arange(0, h, block), h), np.append(np.arange(0, w, block), w)
    table = cv2.integral(image.view(np.uint8), sdepth=cv2.CV_32S)[ys][:, xs]  # (nh + 1, nw + 1[, C])
    sums = table[1:, 1:] - table[:-1, 1:] - table[1:, :-1] + table[:-1, :-1]
    return sums, np.diff(ys), np.diff(xs)


def _expand(cells: np.ndarray, heights: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """Cell values ``(nh, nw, ...)`` painted back onto the pixel grid ``(H, W, ...)``."""
    return np.repeat(np.repeat(cells, heights, axis=0), widths, axis=1)


def _span(flags: np.ndarray) -> np.ndarray:
    """``bool (T, N)``: True from the first to the last True of each row (all False for rows without one)."""
    forward: np.ndarray = np.logical_or.accumulate(flags, axis=1)
    backward: np.ndarray = np.logical_or.accumulate(flags[:, ::-1], axis=1)[:, ::-1]
    return forward & backward


def _person_frames(seq: GaitSequence, margin: int) -> tuple[np.ndarray, list[int]]:
    """The person region ``bool (T, H, W)`` and the indices of frames with a non-empty silhouette."""
    return person_region(seq.silhouettes, margin), [int(t) for t in np.flatnonzero(seq.silhouettes.any(axis=(1, 2)))]


class Identity(Anonymizer):
    """No change: silhouettes and frames are returned as copies (the reference point of the benchmark)."""

    @dataclasses.dataclass(frozen=True)
    class Config:
        pass

    name = "identity"
    passthrough = True

    def _anonymize(self, seq: GaitSequence, rng: np.random.Generator) -> GaitSequence:
        frames = None if seq.frames is None else seq.frames.copy()
        return seq.replace(silhouettes=seq.silhouettes.copy(), frames=frames)


class Blur(Anonymizer):
    """Gaussian blur (standard deviation ``sigma`` px, kernel :func:`gaussian_ksize`) of the person region.

    Frames: the whole frame blurred, pasted inside the region. Silhouettes: the 0/1 silhouette blurred with the same
    Gaussian, ``>= 0.5``, and cut to the region.
    """

    @dataclasses.dataclass(frozen=True)
    class Config:
        sigma: float = 8.0
        margin: int = 4

        def __post_init__(self) -> None:
            if isinstance(self.sigma, bool) or not isinstance(self.sigma, Real):
                raise TypeError(f"sigma must be a number, got {type(self.sigma).__name__} {self.sigma!r}")
            if not (math.isfinite(self.sigma) and self.sigma > 0):
                raise ValueError(f"sigma must be a positive number of pixels, got {self.sigma}")
            object.__setattr__(self, "sigma", float(self.sigma))  # 3 and 3.0 are one setting
            _check_int("margin", self.margin, 0)

    name = "blur"

    def parameters(self) -> str:
        return _params(sigma=self.config.sigma, margin=self.config.margin)

    def _anonymize(self, seq: GaitSequence, rng: np.random.Generator) -> GaitSequence:
        sigma = float(self.config.sigma)
        k = gaussian_ksize(sigma)
        region, busy = _person_frames(seq, self.config.margin)
        sils = np.zeros_like(seq.silhouettes)
        frames = None if seq.frames is None else seq.frames.copy()
        for t in busy:
            blurred = cv2.GaussianBlur(seq.silhouettes[t].astype(np.float32), (k, k), sigma)
            sils[t] = (blurred >= 0.5) & region[t]
            if frames is not None:
                np.copyto(frames[t], cv2.GaussianBlur(frames[t], (k, k), sigma), where=region[t, :, :, None])
        return seq.replace(silhouettes=sils, frames=frames)


class Pixelate(Anonymizer):
    """Mosaic: ``block`` x ``block`` cells on the image grid, each painted with its mean colour (rounded half up).

    Frames: every cell that touches the person region is replaced by its mean over all its pixels (the region is
    rounded out to whole cells, so the mosaic has clean block edges). Silhouettes: a cell is on iff at least half its
    pixels are silhouette (block majority).
    """

    @dataclasses.dataclass(frozen=True)
    class Config:
        block: int = 12
        margin: int = 4

        def __post_init__(self) -> None:
            _check_int("block", self.block, 2)
            _check_int("margin", self.margin, 0)

    name = "pixelate"

    def parameters(self) -> str:
        return _params(block=self.config.block, margin=self.config.margin)

    def _anonymize(self, seq: GaitSequence, rng: np.random.Generator) -> GaitSequence:
        block = self.config.block
        region, busy = _person_frames(seq, self.config.margin)
        sils = np.zeros_like(seq.silhouettes)
        frames = None if seq.frames is None else seq.frames.copy()
        for t in busy:
            on, hs, ws = cell_sums(seq.silhouettes[t], block)  # (nh, nw) silhouette pixels per cell
            count = np.outer(hs, ws)  # (nh, nw) pixels per cell
            sils[t] = _expand(2 * on >= count, hs, ws)
            if frames is not None:
                touched = _expand(cell_sums(region[t], block)[0] > 0, hs, ws)  # (H, W) region in whole cells
                sums = cell_sums(frames[t], block)[0]  # (nh, nw, 3), still the input frame
                means = (2 * sums + count[..., None]) // (2 * count[..., None])  # exact mean, rounded half up
                np.copyto(frames[t], _expand(means.astype(np.uint8), hs, ws), where=touched[:, :, None])
        return seq.replace(silhouettes=sils, frames=frames)


class Mask(Anonymizer):
    """The person covered by a solid shape: ``box`` (bounding box of the region) or ``dilate`` (the region itself).

    ``color`` is ``gray`` (128, 128, 128), ``black``, ``white`` or ``background`` (the sequence's background image,
    which must then be present when the sequence has frames: ``ValueError`` naming the sequence otherwise).
    Silhouettes: the filled shape.
    """

    @dataclasses.dataclass(frozen=True)
    class Config:
        shape: str = "box"
        color: str = "gray"
        margin: int = 4

        def __post_init__(self) -> None:
            if self.shape not in SHAPES:
                raise ValueError(f"shape must be one of {', '.join(SHAPES)}, got {self.shape!r}")
            if self.color not in (*COLORS, "background"):
                raise ValueError(f"color must be one of {', '.join(COLORS)}, background; got {self.color!r}")
            _check_int("margin", self.margin, 0)

    name = "mask"

    def parameters(self) -> str:
        return _params(shape=self.config.shape, color=self.config.color, margin=self.config.margin)

    def _anonymize(self, seq: GaitSequence, rng: np.random.Generator) -> GaitSequence:
        cfg = self.config
        if cfg.color == "background" and seq.frames is not None and seq.background is None:
            raise ValueError(f"mask with color='background' needs the background image of {seq.key}, which has none")
        shape = person_region(seq.silhouettes, cfg.margin)  # (T, H, W)
        if cfg.shape == "box":
            rows, cols = _span(np.logical_or.reduce(shape, axis=2)), _span(np.logical_or.reduce(shape, axis=1))
            shape = rows[:, :, None] & cols[:, None, :]
        frames = None
        if seq.frames is not None:
            fill = np.array(COLORS.get(cfg.color, (0, 0, 0)), np.uint8)  # (3,), or (H, W, 3) for the background
            if cfg.color == "background" and seq.background is not None:
                fill = seq.background
            frames = np.where(shape[..., None], fill, seq.frames)
        return seq.replace(silhouettes=shape, frames=frames)
