"""A small procedural walker for demos, tests and speed figures.

Not the synthetic world (that one renders 3D bodies): a 2D side-view figure of filled capsules whose hip, knee,
shoulder and elbow angles follow sinusoidal gait curves, drawn over a textured background. It gives realistic
silhouette sizes and contour lengths at CASIA-B's 240x320 with no dependency beyond OpenCV.
"""

from __future__ import annotations

import cv2
import numpy as np

from benchmark.types import GaitSequence


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """uint8 (H, W, 3): a wall with smooth texture above a darker floor."""
    noise = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 6)
    noise = 18 * noise / (np.abs(noise).max() + 1e-6)
    bg = np.empty((h, w, 3), np.float32)
    bg[:] = (150, 155, 160)
    floor = int(0.8 * h)
    bg[floor:] = (95, 90, 85)
    bg += noise[..., None]
    return np.clip(bg, 0, 255).astype(np.uint8)


def walker(
    num_frames: int = 80,
    shape: tuple[int, int] = (240, 320),
    seed: int = 0,
    subject: str = "001",
    condition: str = "nm-01",
    *,
    antialias: bool = True,
) -> GaitSequence:
    """One side-view (90 degree) walking sequence crossing the frame from left to right.

    Parameters
    ----------
    num_frames : int
        Number of frames T.
    shape : (int, int)
        Frame size (H, W).
    seed : int
        Body proportions, stride, cadence, colours and background texture derive from it.
    subject, condition : str
        The labels of the returned sequence.
    antialias : bool
        Smooth the figure's edges in the colour frames. False draws them with exactly the silhouettes' pixels,
        so that a frame differs from the background precisely inside its silhouette.

    Returns
    -------
    GaitSequence
        With silhouettes ``bool (T, H, W)``, RGB frames ``uint8 (T, H, W, 3)`` and the background image.
    """
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    h, w = shape
    rng = np.random.default_rng(seed)
    scale = h / 240 * rng.uniform(0.9, 1.1)
    thigh, shin, upper_arm, forearm = (scale * v * rng.uniform(0.92, 1.08) for v in (46, 44, 30, 28))
    torso, head_r, width = scale * 62, scale * 11, scale * rng.uniform(13, 17)
    hip_amp, knee_amp, arm_amp = np.radians([rng.uniform(18, 26), rng.uniform(50, 65), rng.uniform(15, 30)])
    period = rng.uniform(24, 30)  # frames per gait cycle at 25 fps
    phase0 = rng.uniform(0, 2 * np.pi)
    shirt = tuple(int(c) for c in rng.integers(30, 220, 3))
    trousers = tuple(int(c) for c in rng.integers(20, 120, 3))
    skin = (224, 172, 140)
    background = _background(rng, h, w)
    frames = np.empty((num_frames, h, w, 3), np.uint8)
    sils = np.zeros((num_frames, h, w), bool)
    ground = 0.92 * h
    line = cv2.LINE_AA if antialias else cv2.LINE_8
    for t in range(num_frames):
        phase = phase0 + 2 * np.pi * t / period
        cx = (0.15 + 0.7 * t / max(num_frames - 1, 1)) * w
        hip_y = ground - (thigh + shin) * 0.97 - scale * 2 * abs(np.cos(phase))
        hip = np.array([cx, hip_y])
        shoulder = hip + [scale * 3, -torso]
        img = background.copy()
        mask = np.zeros((h, w), np.uint8)

        def limb(
            a: np.ndarray, b: np.ndarray, thick: float, colour: tuple[int, ...], img: np.ndarray = img,
            mask: np.ndarray = mask,
        ) -> None:
            pa, pb = tuple(np.round(a).astype(int)), tuple(np.round(b).astype(int))
            cv2.line(img, pa, pb, colour, max(int(thick), 1), line)
            cv2.line(mask, pa, pb, 1, max(int(thick), 1), cv2.LINE_8)

        for side, colour_shift in ((1.0, 0), (-1.0, 25)):
            p = phase + (0 if side > 0 else np.pi)
            hip_a = hip_amp * np.sin(p)
            knee_a = knee_amp * max(0.0, np.sin(p - 1.2)) ** 2 + np.radians(5)
            knee = hip + thigh * np.array([np.sin(hip_a), np.cos(hip_a)])
            foot = knee + shin * np.array([np.sin(hip_a - knee_a), np.cos(hip_a - knee_a)])
            leg_col = tuple(max(c - colour_shift, 0) for c in trousers)
            limb(hip, knee, width * 0.9, leg_col)
            limb(knee, foot, width * 0.75, leg_col)
            limb(foot, foot + [scale * 12, 0], scale * 5, (40, 40, 40))
            arm_a = -arm_amp * np.sin(p)
            elbow = shoulder + upper_arm * np.array([np.sin(arm_a), np.cos(arm_a)])
            hand = elbow + forearm * np.array([np.sin(arm_a + 0.4), np.cos(arm_a + 0.4)])
            arm_col = tuple(max(c - colour_shift, 0) for c in shirt)
            limb(shoulder, elbow, width * 0.55, arm_col)
            limb(elbow, hand, width * 0.45, skin)
        limb(hip, shoulder, width * 1.7, shirt)
        head = shoulder + [scale * 4, -head_r * 1.5]
        cv2.circle(img, tuple(np.round(head).astype(int)), int(head_r), skin, -1, line)
        cv2.circle(mask, tuple(np.round(head).astype(int)), int(head_r), 1, -1, cv2.LINE_8)
        limb(shoulder, head, width * 0.6, skin)
        frames[t] = img
        sils[t] = mask.astype(bool)
    return GaitSequence(subject, condition, 90, sils, frames=frames, background=background, fps=25.0)
