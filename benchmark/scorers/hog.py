"""``frame-hog``: OpenCV's pretrained Dalal-Triggs HOG pedestrian detector as an offline frame scorer.

The detector (``cv2.HOGDescriptor_getDefaultPeopleDetector()``, shipped inside OpenCV 4.x) is a linear SVM over
HOG features of a 64x128 window in which the person is about 96 px tall. Per frame this scorer:

1. takes the person box: the bounding box of the frame's silhouette (``roi = "silhouette"``; a frame with an
   empty silhouette falls back to the whole frame) or the whole frame (``roi = "frame"``, for videos already
   cropped to the walker). Looking only around the walker keeps background clutter (which can score as high as
   a person) out of the answer;
2. cuts a window around the box, scaled so that the box is ``person_height`` px tall (default 120, 1.25x the
   detector's 96 px persons, so a box that is somewhat too large or too small is still met by a pyramid level),
   with ``pad`` px of margin on every side (``cv2.BORDER_REPLICATE`` where the window leaves the frame: it adds
   no edges of its own, a constant border would) and at least half the box height of width;
3. runs ``detectMultiScale`` with ``hitThreshold = floor`` and no grouping, and keeps the largest SVM margin
   ``m`` (the signed decision value ``w . x + b``; 0 is the detector's own threshold). A frame with no window
   above ``floor`` gets ``m = floor``;
4. maps ``m`` to ``1 / (1 + exp(-(m - m0) / s))``.

The sequence's value is the mean over the scored frames (every ``stride``-th). ``m0 = 0`` (the detector's
decision threshold scores 0.5), ``s = 0.5`` (margins -1 and +1 score 0.12 and 0.88) and ``floor = -2``
(0.018) are our choices, not published values. Measured margins: a blank frame scores exactly the SVM bias
(-6.67), pixel-shuffled noise about -0.7, a clearly drawn stick-figure person about +3.

HOG takes, per pixel, the gradient of the colour channel with the largest magnitude, so RGB and BGR give
the same margins.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import ClassVar

import cv2
import numpy as np
from scipy.special import expit

from benchmark.scorers.base import Scorer
from benchmark.types import check_frames, check_silhouettes

#: the detector's window (width, height) and the height of the people it was trained on
WINDOW = (64, 128)
PERSON_IN_WINDOW = 96
ROIS: tuple[str, ...] = ("silhouette", "frame")


@dataclasses.dataclass(frozen=True)
class Config:
    """Settings of ``frame-hog`` (see the module docstring for what each does; all defaults are ours)."""

    #: margin that scores 0.5, and the logistic's scale
    m0: float = 0.0
    s: float = 0.5
    #: ``hitThreshold``: the lowest margin reported; frames without a window above it score from it
    floor: float = -2.0
    #: where the person is looked for: ``"silhouette"`` (its bounding box) or ``"frame"`` (the whole frame)
    roi: str = "silhouette"
    #: height in px the person box is scaled to, and the margin in px around it
    person_height: int = 120
    pad: int = 32
    #: score every ``stride``-th frame
    stride: int = 1
    #: detector window stride (px, a multiple of the 8 px block stride) and pyramid step
    win_stride: int = 8
    pyramid_scale: float = 1.05

    def __post_init__(self) -> None:
        if not self.s > 0:
            raise ValueError(f"s must be positive, got {self.s}")
        if self.roi not in ROIS:
            raise ValueError(f"roi must be one of {', '.join(ROIS)}, got {self.roi!r}")
        if self.person_height < PERSON_IN_WINDOW:
            raise ValueError(
                f"person_height must be >= {PERSON_IN_WINDOW} (the detector's person), got {self.person_height}"
            )
        if self.pad < 0:
            raise ValueError(f"pad must be >= 0, got {self.pad}")
        if self.stride < 1:
            raise ValueError(f"stride must be >= 1, got {self.stride}")
        if self.win_stride < 8 or self.win_stride % 8:
            raise ValueError(f"win_stride must be a positive multiple of 8, got {self.win_stride}")
        if not self.pyramid_scale > 1.0:
            raise ValueError(f"pyramid_scale must be > 1, got {self.pyramid_scale}")


def logistic(margin: float | np.ndarray, m0: float = 0.0, s: float = 0.5) -> np.ndarray:
    """``1 / (1 + exp(-(margin - m0) / s))``, elementwise, as float64 (overflow-free)."""
    if not s > 0:
        raise ValueError(f"s must be positive, got {s}")
    return np.asarray(expit((np.asarray(margin, dtype=np.float64) - m0) / s), dtype=np.float64)


def person_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """Bounding box ``(top, left, bottom, right)`` (bottom/right exclusive) of a ``bool (H, W)`` mask; None if empty."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def detector_view(
    frame: np.ndarray, box: tuple[int, int, int, int], person_height: int = 120, pad: int = 32
) -> np.ndarray:
    """The image the detector scans: ``box`` of ``frame`` scaled to ``person_height`` px tall, with margins.

    Parameters
    ----------
    frame : ndarray, uint8 (H, W, 3)
    box : (top, left, bottom, right)
        The person, bottom/right exclusive, in frame pixels.
    person_height, pad : int
        Height of the box after scaling, and the margin around it, in output pixels.

    Returns
    -------
    ndarray, uint8 (person_height + 2 pad, max(box width, person_height / 2) scaled + 2 pad, 3)
        Centred on the box; the frame's border pixels replicated where the window leaves the frame.
    """
    top, left, bottom, right = box
    box_h, box_w = bottom - top, right - left
    if box_h < 1 or box_w < 1:
        raise ValueError(f"box must have positive size, got {box}")
    f = person_height / box_h
    out_h = person_height + 2 * pad
    out_w = int(round(max(box_w * f, person_height / 2))) + 2 * pad
    src_h, src_w = max(1, int(round(out_h / f))), max(1, int(round(out_w / f)))
    y0 = int(round((top + bottom - src_h) / 2))
    x0 = int(round((left + right - src_w) / 2))
    h, w = frame.shape[:2]
    # Cut what lies inside the frame, then replicate its border out to the full source window.
    cy0, cx0 = max(0, y0), max(0, x0)
    cy1, cx1 = min(h, y0 + src_h), min(w, x0 + src_w)
    if cy1 <= cy0 or cx1 <= cx0:
        raise ValueError(f"box {box} lies outside the {h}x{w} frame")
    crop = frame[cy0:cy1, cx0:cx1]
    crop = cv2.copyMakeBorder(
        crop, cy0 - y0, y0 + src_h - cy1, cx0 - x0, x0 + src_w - cx1, cv2.BORDER_REPLICATE
    )  # (src_h, src_w, 3)
    interp = cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR
    return cv2.resize(crop, (out_w, out_h), interpolation=interp)  # (out_h, out_w, 3)


@functools.cache
def people_detector() -> cv2.HOGDescriptor:
    """OpenCV's default HOG descriptor with its pretrained people SVM (one per process)."""
    if not hasattr(cv2, "HOGDescriptor_getDefaultPeopleDetector"):
        raise ImportError(
            f"OpenCV {cv2.__version__} has no HOG people detector (removed in OpenCV 5): install opencv-python>=4.10,<5"
        )
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    return hog


def best_margin(image: np.ndarray, floor: float = -2.0, win_stride: int = 8, pyramid_scale: float = 1.05) -> float:
    """Largest HOG-SVM margin over all windows and pyramid levels of ``image`` (uint8 (H, W, 3)), at least ``floor``.

    An image smaller than the 64x128 window has no window and gives ``floor``.
    """
    h, w = image.shape[:2]
    if h < WINDOW[1] or w < WINDOW[0]:
        return float(floor)
    _, found = people_detector().detectMultiScale(
        image,
        hitThreshold=floor,
        winStride=(win_stride, win_stride),
        padding=(0, 0),
        scale=pyramid_scale,
        groupThreshold=0,  # no grouping: the raw per-window SVM margins
    )
    weights = np.asarray(found, dtype=np.float64).reshape(-1)
    return float(max(floor, weights.max())) if weights.size else float(floor)


class HOGScorer(Scorer):
    """Frame scorer: does each frame's walker look like a pedestrian to the Dalal-Triggs HOG detector?"""

    name: ClassVar[str] = "frame-hog"
    level: ClassVar[str] = "frame"
    Config: ClassVar[type] = Config

    @property
    def label(self) -> str:
        c = self.config
        where = "silhouette box" if c.roi == "silhouette" else "whole frame"
        return (
            f"OpenCV {cv2.__version__} HOG pedestrian SVM (Dalal-Triggs 64x128), best window margin m on the {where} "
            f"scaled to {c.person_height}px, 1/(1+exp(-(m-{c.m0:g})/{c.s:g})), floor {c.floor:g}"
        )

    def margins(self, frames: np.ndarray, silhouettes: np.ndarray | None = None) -> np.ndarray:
        """Best SVM margin ``float64 (n,)`` of every ``stride``-th frame of ``frames`` (uint8 (T, H, W, 3)).

        ``silhouettes`` (bool (T, H, W)) is required when ``roi = "silhouette"``.
        """
        c = self.config
        check_frames(frames)
        if c.roi == "silhouette":
            if silhouettes is None:
                raise ValueError("frame-hog with roi='silhouette' needs the silhouettes; pass them or set roi='frame'")
            check_silhouettes(silhouettes)
            if silhouettes.shape != frames.shape[:3]:
                raise ValueError(f"silhouettes {silhouettes.shape} and frames {frames.shape} differ in (T, H, W)")
        t, h, w = frames.shape[:3]
        out = []
        for i in range(0, t, c.stride):
            box = person_box(silhouettes[i]) if c.roi == "silhouette" and silhouettes is not None else None
            view = detector_view(frames[i], box or (0, 0, h, w), c.person_height, c.pad)
            out.append(best_margin(view, c.floor, c.win_stride, c.pyramid_scale))
        return np.asarray(out, dtype=np.float64)

    def score_frames(self, frames: np.ndarray, silhouettes: np.ndarray | None = None) -> np.ndarray:
        """Per-frame scores ``float64 (n,)`` in [0, 1]: :func:`logistic` of :meth:`margins`."""
        return logistic(self.margins(frames, silhouettes), self.config.m0, self.config.s)
