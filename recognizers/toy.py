"""A procedural toy world for tests and examples: identity is encoded in silhouette shape and walking rhythm.

Each subject has its own torso width, head size, leg length, stride and cadence; the view squashes the body
horizontally (``|cos|`` of the angle from the side view) and shrinks the visible stride; ``bg`` adds a bag,
``cl`` a wider coat; every sequence has its own gait phase and a little jitter. It is far easier than CASIA-B
(recognizers should beat chance by a wide margin in seconds), and it is not the synthetic world of
:mod:`benchmark.synth`, which renders real bodies.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from benchmark.api import InputSpec, Sequences
from benchmark.data.casia import write_silhouettes


def _subject_traits(subject: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, subject, 7])
    # torso half-width, head radius, leg fraction, stride, cadence (rad/frame), arm swing
    return rng.uniform([0.10, 0.06, 0.42, 0.10, 0.35, 0.04], [0.20, 0.10, 0.55, 0.25, 0.65, 0.14])


def toy_frames(
    subject: int, condition: str, view: int, *, frames: int = 12, size: tuple[int, int] = (64, 44), seed: int = 0
) -> np.ndarray:
    """One toy sequence: ``uint8 (frames, H, W)`` silhouettes (0/255), the person filling the height."""
    h, w = size
    torso, head, leg, stride, cadence, arm = _subject_traits(subject, seed)
    rng = np.random.default_rng([seed, subject, int(view), sum(map(ord, condition))])
    phase = rng.uniform(0, 2 * np.pi)
    side = abs(np.sin(np.radians(view)))  # 1 at the side view (90), 0 walking toward / away from the camera
    squash = 0.55 + 0.45 * abs(np.cos(np.radians(view - 90)))
    kind = condition[:2]
    out = np.zeros((frames, h, w), np.uint8)
    for t in range(frames):
        img = out[t]
        a = phase + cadence * t
        cx = w / 2 + rng.normal(0, 0.3)
        top, bottom = 1.0, h - 1.0
        tall = bottom - top
        head_r = head * tall
        hip_y = top + (1 - leg) * tall
        shoulder_y = top + 2.2 * head_r
        half = torso * tall * squash * (1.35 if kind == "cl" else 1.0)
        cv2.circle(img, (int(cx), int(top + head_r)), max(1, int(head_r)), 255, -1)
        cv2.rectangle(img, (int(cx - half), int(shoulder_y)), (int(cx + half), int(hip_y)), 255, -1)
        for s in (-1, 1):
            foot = cx + s * np.sin(a) * stride * tall * (0.3 + 0.7 * side)
            cv2.line(img, (int(cx + s * half / 2), int(hip_y)), (int(foot), int(bottom)), 255, max(1, int(w / 12)))
            hand = cx - s * np.sin(a) * arm * tall * (0.3 + 0.7 * side)
            cv2.line(img, (int(cx), int(shoulder_y)), (int(hand), int(hip_y)), 255, max(1, int(w / 20)))
        if kind == "bg":
            cv2.rectangle(img, (int(cx + half), int(shoulder_y + 2)), (int(cx + half + w / 8), int(hip_y)), 255, -1)
    return out


def toy_sequences(
    subjects: Sequence[int] = tuple(range(8)),
    conditions: Sequence[str] = ("nm-01", "nm-02", "nm-03", "nm-04", "bg-01", "cl-01"),
    views: Sequence[int] = (0, 90, 180),
    *,
    spec: InputSpec | None = None,
    frames: int = 12,
    seed: int = 0,
) -> Sequences:
    """Toy sequences drawn straight at the spec's size (no normalisation), subjects named ``001``, ``002``, ...

    ``spec`` defaults to 64x44 GEIs.
    """
    spec = spec or InputSpec(64, 44, "gei")
    items, names, conds, vws = [], [], [], []
    for s in subjects:
        for c in conditions:
            for v in views:
                raw = toy_frames(s, c, v, frames=frames, size=(spec.height, spec.width), seed=seed)
                items.append(spec.prepare(raw))
                names.append(f"{s + 1:03d}")
                conds.append(c)
                vws.append(v)
    return Sequences.make(items, names, conds, vws, spec)


def write_toy_tree(
    root: str | Path,
    subjects: Sequence[int] = tuple(range(8)),
    conditions: Sequence[str] = ("nm-01", "nm-02", "nm-03", "nm-04", "nm-05", "nm-06", "bg-01", "cl-01"),
    views: Sequence[int] = (0, 90),
    *,
    frames: int = 10,
    size: tuple[int, int] = (80, 60),
    seed: int = 0,
) -> Path:
    """Write toy sequences as a CASIA-B silhouette tree (``<root>/001/nm-01/090/001-nm-01-090-001.png``)."""
    root = Path(root)
    for s in subjects:
        for c in conditions:
            for v in views:
                # Drawn smaller than the frame, with margins, as a camera would see the person.
                body = toy_frames(s, c, v, frames=frames, size=(size[0] - 8, size[1] // 2), seed=seed)
                masks = np.zeros((frames, *size), bool)
                masks[:, 4 : 4 + body.shape[1], size[1] // 4 : size[1] // 4 + body.shape[2]] = body > 0
                write_silhouettes(root, f"{s + 1:03d}", c, v, masks)
    return root
