"""``frame-pose``: does the frame show a plausible human body, by BlazePose (a model trained on real people)?

Per frame, :class:`benchmark.pose.BlazePose` (each frame on its own) looks for one person and its 33 landmarks.
The frame's score is ``seen x plausible``, in [0, 1]:

- **seen**: 0 when no person is detected (detection confidence below ``min_detection``); else the mean, over the
  nose and the six limb-joint pairs (shoulders, elbows, wrists, hips, knees, ankles), of the model's visibility of
  the joint, the better-seen side of each pair (a walker seen from the side hides one side behind the other).
- **plausible**: the product, over the anatomical checks of :data:`CHECKS`, of ``exp(-d / tolerance)``, where
  ``d`` is how far the measured value lies outside the human range (0 inside). A check whose landmarks are not
  seen (visibility below ``min_visibility``) is skipped: it cannot be judged.

The ranges are 2D (image-plane) versions of the anthropometric and joint-range facts named in each check, widened
for perspective: a limb pointing at the camera is foreshortened, so length ratios get wide bands and angles only
exclude what no projection of a human joint gives. A skeleton torn apart (a blob on which BlazePose still fits
landmarks, a mirrored or upside-down body) fails them; a person walking passes at every view.
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import numpy as np

from benchmark.pose import INDEX, VISIBILITY, BlazePose, X, Y, model_identity
from benchmark.scorers.base import Scorer
from benchmark.types import check_frames

PAIRS: tuple[tuple[str, str], ...] = tuple((f"left_{j}", f"right_{j}") for j in
                                           ("shoulder", "elbow", "wrist", "hip", "knee", "ankle"))


@dataclasses.dataclass(frozen=True)
class Check:
    """One anatomical check: a measured value (see :func:`measure`) and the range a human body gives."""

    name: str
    low: float
    high: float
    #: ``log`` (a ratio: distance is |log(value / nearest bound)|) or ``deg`` (an angle: distance in degrees / 30)
    scale: str
    source: str


#: Segment lengths as fractions of body height H (Winter 2009, Biomechanics and Motor Control of Human Movement,
#: 4th ed., Fig. 4.1): upper arm 0.186, forearm 0.146, thigh 0.245, shank 0.246, shoulder height 0.818, hip height
#: 0.530, ankle height 0.039. Joint ranges: knee flexion 0-135 degrees, elbow flexion 0-150 degrees (normal ranges
#: of motion, AAOS, Greene & Heckman 1994). Trunk: within a few degrees of vertical in normal walking (Perry &
#: Burnfield 2010, Gait Analysis, ch. 9: about 5 degrees of forward lean or less).
CHECKS: tuple[Check, ...] = (
    Check("thigh / shank", 1 / 2.2, 2.2, "log", "Winter: 0.245 H / 0.246 H = 1.0, widened for foreshortening"),
    Check("upper arm / forearm", 1 / 1.8, 3.0, "log", "Winter: 0.186 H / 0.146 H = 1.27, widened"),
    Check("torso / leg", 0.3, 1.1, "log", "Winter: shoulder-hip 0.288 H over hip-ankle 0.491 H = 0.59, widened"),
    Check("left leg / right leg", 1 / 2.0, 2.0, "log", "bilateral symmetry (1.0), widened for foreshortening"),
    Check("knee angle", 35.0, 180.0, "deg", "knee flexion at most 135 degrees: the hip-knee-ankle angle >= 45, "
          "less 10 for projection"),
    Check("elbow angle", 20.0, 180.0, "deg", "elbow flexion at most 150 degrees: the shoulder-elbow-wrist angle >= "
          "30, less 10 for projection"),
    Check("trunk lean", 0.0, 35.0, "deg", "upright walking: the hip-to-shoulder axis within 35 degrees of vertical "
          "(normal walking: about 5)"),
    Check("head above hips", 0.0, 0.0, "log", "upright: the nose above the hips' midpoint (1 = above, else 0)"),
)


def _angle(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> float:
    """The angle at ``b`` of the 2D points a-b-c, in degrees."""
    u, v = a - b, c - b
    nu, nv = float(np.hypot(*u)), float(np.hypot(*v))
    if nu == 0.0 or nv == 0.0:
        return 180.0
    return math.degrees(math.acos(float(np.clip(np.dot(u, v) / (nu * nv), -1.0, 1.0))))


def measure(landmarks: np.ndarray, min_visibility: float = 0.5) -> dict[str, float]:
    """The measured value of every check that can be judged on one frame's landmarks ``(33, 4)``; a check whose
    landmarks are seen worse than ``min_visibility`` is absent. Single-side checks use the better-seen side."""
    p = {name: landmarks[i, [X, Y]].astype(np.float64) for name, i in INDEX.items()}
    seen = {name: bool(landmarks[i, VISIBILITY] >= min_visibility) for name, i in INDEX.items()}

    def length(a: str, b: str) -> float:
        return float(np.hypot(*(p[a] - p[b])))

    def side(*joints: str) -> str | None:
        """The better-seen side whose joints are all seen, or None."""
        sides = [s for s in ("left", "right") if all(seen[f"{s}_{j}"] for j in joints)]
        if not sides:
            return None
        return max(sides, key=lambda s: sum(float(landmarks[INDEX[f"{s}_{j}"], VISIBILITY]) for j in joints))

    out: dict[str, float] = {}
    tiny = 1e-6
    s = side("hip", "knee", "ankle")
    if s is not None:
        thigh, shank = length(f"{s}_hip", f"{s}_knee"), length(f"{s}_knee", f"{s}_ankle")
        out["thigh / shank"] = max(thigh, tiny) / max(shank, tiny)
        out["knee angle"] = _angle(p[f"{s}_hip"], p[f"{s}_knee"], p[f"{s}_ankle"])
    s = side("shoulder", "elbow", "wrist")
    if s is not None:
        upper, fore = length(f"{s}_shoulder", f"{s}_elbow"), length(f"{s}_elbow", f"{s}_wrist")
        out["upper arm / forearm"] = max(upper, tiny) / max(fore, tiny)
        out["elbow angle"] = _angle(p[f"{s}_shoulder"], p[f"{s}_elbow"], p[f"{s}_wrist"])
    core = ("left_shoulder", "right_shoulder", "left_hip", "right_hip")
    if all(seen[j] for j in core):
        shoulders = (p["left_shoulder"] + p["right_shoulder"]) / 2
        hips = (p["left_hip"] + p["right_hip"]) / 2
        axis = shoulders - hips  # image y grows downwards: upright means axis[1] < 0
        out["trunk lean"] = math.degrees(math.atan2(abs(axis[0]), -axis[1])) if np.any(axis) else 0.0
        legs = [s for s in ("left", "right") if seen[f"{s}_ankle"]]
        if legs:
            ankles = np.mean([p[f"{s}_ankle"] for s in legs], axis=0)
            out["torso / leg"] = max(float(np.hypot(*axis)), tiny) / max(float(np.hypot(*(hips - ankles))), tiny)
        if seen["nose"]:
            out["head above hips"] = 1.0 if p["nose"][1] < hips[1] else 0.0
    if all(seen[f"{s}_{j}"] for s in ("left", "right") for j in ("hip", "knee", "ankle")):
        left = length("left_hip", "left_knee") + length("left_knee", "left_ankle")
        right = length("right_hip", "right_knee") + length("right_knee", "right_ankle")
        out["left leg / right leg"] = max(left, tiny) / max(right, tiny)
    return out


def plausibility(values: dict[str, float], tolerance: float = 0.25) -> float:
    """The product over :data:`CHECKS` present in ``values`` of ``exp(-d / tolerance)`` (``d``: distance outside
    the check's range: |log| of the ratio to the nearest bound, or degrees / 30); 1.0 when every value is inside."""
    factor = 1.0
    for check in CHECKS:
        if check.name not in values:
            continue
        v = values[check.name]
        if check.name == "head above hips":
            factor *= v
            continue
        if check.low <= v <= check.high:
            continue
        bound = check.low if v < check.low else check.high
        d = abs(math.log(v / bound)) if check.scale == "log" else abs(v - bound) / 30.0
        factor *= math.exp(-d / tolerance)
    return factor


def seen_score(landmarks: np.ndarray) -> float:
    """The mean visibility over the nose and the better-seen joint of each pair of :data:`PAIRS`."""
    vis = landmarks[:, VISIBILITY].astype(np.float64)
    parts = [vis[INDEX["nose"]]] + [max(vis[INDEX[a]], vis[INDEX[b]]) for a, b in PAIRS]
    return float(np.clip(np.mean(parts), 0.0, 1.0))


def frame_score(landmarks: np.ndarray, *, min_visibility: float = 0.5, tolerance: float = 0.25) -> float:
    """``seen x plausible`` of one frame's landmarks ``(33, 4)``; 0 for a frame without a person (NaN row)."""
    if np.isnan(landmarks).any():
        return 0.0
    return seen_score(landmarks) * plausibility(measure(landmarks, min_visibility), tolerance)


@dataclasses.dataclass(frozen=True)
class Config:
    """Settings of ``frame-pose``.

    ``stride``: score every ``stride``-th frame; ``min_detection``: BlazePose's person-detection threshold;
    ``min_visibility``: the visibility from which a landmark counts as seen for the anatomical checks;
    ``tolerance``: how fast a value outside its human range lowers the score (see :func:`plausibility`).
    """

    stride: int = 1
    min_detection: float = 0.5
    min_visibility: float = 0.5
    tolerance: float = 0.25

    def __post_init__(self) -> None:
        if self.stride < 1:
            raise ValueError(f"stride must be >= 1, got {self.stride}")
        for name in ("min_detection", "min_visibility"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {value}")
        if not self.tolerance > 0.0 or not math.isfinite(self.tolerance):
            raise ValueError(f"tolerance must be a positive number, got {self.tolerance}")


class PoseScorer(Scorer):
    """Frame scorer: BlazePose's landmark visibility times the anatomical plausibility of the skeleton it finds."""

    name: ClassVar[str] = "frame-pose"
    level: ClassVar[str] = "frame"
    Config: ClassVar[type] = Config

    def __init__(self, config: object = None) -> None:
        super().__init__(config)
        self._pose: BlazePose | None = None

    @property
    def label(self) -> str:
        c = self.config
        return (f"{model_identity()}, each frame on its own: mean landmark visibility x anatomical plausibility "
                f"(checks: {', '.join(x.name for x in CHECKS)}; tolerance {c.tolerance:g}, landmarks seen from "
                f"visibility {c.min_visibility:g}); 0 without a person (detection < {c.min_detection:g})")

    def landmarks(self, frames: np.ndarray) -> np.ndarray:
        """BlazePose landmarks ``float32 (n, 33, 4)`` of every ``stride``-th frame of ``frames``."""
        check_frames(frames)
        if self._pose is None:
            self._pose = BlazePose(min_detection=self.config.min_detection)
        return self._pose(frames[::self.config.stride])

    def score_frames(self, frames: np.ndarray, silhouettes: np.ndarray | None = None) -> np.ndarray:
        """Per-frame scores ``float64 (n,)`` in [0, 1] of every ``stride``-th frame (silhouettes unused)."""
        c = self.config
        return np.asarray([frame_score(lm, min_visibility=c.min_visibility, tolerance=c.tolerance)
                           for lm in self.landmarks(frames)], dtype=np.float64)
