"""Segmentation noise like CASIA-B's background-subtracted silhouettes (optional; off by default).

CASIA-B's masks come from background subtraction, and they show its usual faults: boundaries that grow or
shrink by a pixel from frame to frame, holes where clothing matches the background, and the shadow at the
feet joined to the body. ``"casia"`` imitates these three; ``"none"`` keeps the exact masks.
"""

from __future__ import annotations

import cv2
import numpy as np

from benchmark.synth import NOISE_MODELS

_DISK = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))


def apply_noise(masks: np.ndarray, model: str, rng: np.random.Generator) -> np.ndarray:
    """Degrade exact silhouettes with a noise model.

    Parameters
    ----------
    masks : ndarray, bool (T, H, W)
    model : {"none", "casia"}
    rng : numpy.random.Generator
        The only source of randomness (the result is a pure function of the inputs).

    Returns
    -------
    ndarray, bool (T, H, W)
    """
    if model not in NOISE_MODELS:
        raise ValueError(f"unknown noise model {model!r}; known: {list(NOISE_MODELS)}")
    if masks.dtype != np.bool_ or masks.ndim != 3:
        raise ValueError(f"masks must be bool (T, H, W), got {masks.dtype} {masks.shape}")
    if model == "none":
        return masks.copy()
    out = masks.astype(np.uint8)
    shadow = rng.random() < 0.4  # whether this walk's lighting casts a shadow the subtraction keeps
    shadow_h = int(rng.integers(2, 6))
    for t in range(len(out)):
        m = out[t]
        ys, xs = np.nonzero(m)
        if len(ys) == 0:
            continue
        op = rng.random()
        if op < 0.25:
            m = cv2.erode(m, _DISK)
        elif op < 0.5:
            m = cv2.dilate(m, _DISK)
        if rng.random() < 0.2:
            for _ in range(int(rng.integers(1, 3))):
                i = int(rng.integers(len(ys)))
                axes = (int(rng.integers(2, 7)), int(rng.integers(2, 9)))
                cv2.ellipse(m, (int(xs[i]), int(ys[i])), axes, float(rng.uniform(0, 180)), 0, 360, 0, -1)
        if shadow:
            bottom = int(ys.max())
            feet = xs[ys > bottom - 6]
            cx, half = int(np.median(feet)), int((np.ptp(feet) + 6) * 0.7)
            cv2.ellipse(m, (cx, bottom - 1), (max(half, 4), shadow_h), 0.0, 0, 360, 1, -1)
        out[t] = m
    return out.astype(bool)
