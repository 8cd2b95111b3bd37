"""The data model of gaitbench and its array conventions, fixed here once.

Array conventions (every module follows these; convert only at file I/O):

========================  =======================  ==========================================
what                      dtype, shape             meaning
========================  =======================  ==========================================
silhouettes               ``bool (T, H, W)``       True = person (foreground)
colour frames             ``uint8 (T, H, W, 3)``   RGB, not OpenCV's BGR
background image          ``uint8 (H, W, 3)``      RGB, the empty scene of a static camera
contour vectors           ``float32 (T, 4000)``    ``[x0, y0, x1, y1, ...]`` in pixels, zero-padded
contour point counts      ``int64 (T,)``           true number of (x, y) points per frame
normalised silhouettes    ``float32 (T, h, w)``    in [0, 1], e.g. 64x64, 64x44, 128x88
gait energy image (GEI)   ``float32 (h, w)``       mean of normalised silhouettes, in [0, 1]
========================  =======================  ==========================================

Coordinates: ``x`` is the column, ``y`` the row, origin at the top-left pixel centre.
Views are in degrees as in CASIA-B: 0 = walking toward the camera, 90 = side view, 180 = walking away.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np

CONDITION_RE = re.compile(r"^(nm|bg|cl)-(\d{2})$")
CASIA_VIEWS: tuple[int, ...] = tuple(range(0, 181, 18))


def check_silhouettes(silhouettes: np.ndarray, name: str = "silhouettes") -> np.ndarray:
    """Validate a silhouette stack: ``bool (T, H, W)``; raises ``TypeError``/``ValueError`` naming ``name``."""
    if not isinstance(silhouettes, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(silhouettes).__name__}")
    if silhouettes.dtype != np.bool_:
        raise TypeError(f"{name} must have dtype bool, got {silhouettes.dtype}")
    if silhouettes.ndim != 3:
        raise ValueError(f"{name} must have shape (T, H, W), got shape {silhouettes.shape}")
    return silhouettes


def check_frames(frames: np.ndarray, name: str = "frames") -> np.ndarray:
    """Validate a colour video: ``uint8 (T, H, W, 3)``; raises naming ``name``."""
    if not isinstance(frames, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(frames).__name__}")
    if frames.dtype != np.uint8:
        raise TypeError(f"{name} must have dtype uint8, got {frames.dtype}")
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"{name} must have shape (T, H, W, 3), got shape {frames.shape}")
    return frames


@dataclasses.dataclass(frozen=True, eq=False)
class GaitSequence:
    """One walking sequence of one subject, seen from one view.

    Parameters
    ----------
    subject : str
        Subject identifier, e.g. ``"001"``.
    condition : str
        Walking condition and repetition, ``nm-01..06``, ``bg-01..02`` or ``cl-01..02``.
    view : int
        Camera view in degrees (0..180 for CASIA-B).
    silhouettes : ndarray, bool (T, H, W)
        Binary masks, True on the person.
    frames : ndarray, uint8 (T, H, W, 3), optional
        RGB colour frames aligned with ``silhouettes``.
    background : ndarray, uint8 (H, W, 3), optional
        RGB image of the empty scene (static camera), used by colourisation (paper Eq. 9).
    fps : float
        Frame rate; CASIA-B and the synthetic world use 25.
    source : Path, optional
        Where the sequence was read from.
    """

    subject: str
    condition: str
    view: int
    silhouettes: np.ndarray
    frames: np.ndarray | None = None
    background: np.ndarray | None = None
    fps: float = 25.0
    source: Path | None = None

    def __post_init__(self) -> None:
        check_silhouettes(self.silhouettes, f"silhouettes of {self.key}")
        t, h, w = self.silhouettes.shape
        if self.frames is not None:
            check_frames(self.frames, f"frames of {self.key}")
            if self.frames.shape[:3] != (t, h, w):
                raise ValueError(
                    f"frames of {self.key} have shape {self.frames.shape}, "
                    f"silhouettes have {self.silhouettes.shape}: they must agree in (T, H, W)"
                )
        if self.background is not None:
            bg = self.background
            if bg.dtype != np.uint8 or bg.shape != (h, w, 3):
                raise ValueError(
                    f"background of {self.key} must be uint8 ({h}, {w}, 3), got {bg.dtype} {bg.shape}"
                )
        if not self.fps > 0:
            raise ValueError(f"fps of {self.key} must be positive, got {self.fps}")

    @property
    def key(self) -> str:
        """``subject-condition-view`` as in CASIA-B file names, e.g. ``001-nm-01-090``."""
        return f"{self.subject}-{self.condition}-{int(self.view):03d}"

    @property
    def num_frames(self) -> int:
        return int(self.silhouettes.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        """Frame size ``(H, W)``."""
        return int(self.silhouettes.shape[1]), int(self.silhouettes.shape[2])

    @property
    def condition_type(self) -> str:
        """``nm``, ``bg`` or ``cl`` (the part of ``condition`` before the dash)."""
        return self.condition.split("-", 1)[0]

    def replace(self, **changes: object) -> GaitSequence:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]
