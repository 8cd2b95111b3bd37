"""Mirror the walker left-right: an example anonymizer that lives in one file outside gaitbench.

Declare it in a run config and compare it with the bundled methods (``examples/mirror.toml``)::

    [plugins]
    anonymizers = { mirror = "mirror_anonymizer.py:Mirror" }

    [anonymizers.mirror]
    axis = "box"

or use it from the command line::

    GAITBENCH_PLUGINS="anonymizers.mirror=examples/mirror_anonymizer.py:Mirror" \
        gaitbench anonymize mirror --data worlds/ci-run --out runs/mirrored --protocol configs/protocols/ci.toml

What it does, per frame with a non-empty silhouette, for the columns ``x0..x1`` of the mirror box (``axis =
"box"``: the silhouette's bounding box, so the walker stays where it is but faces the other way and seems to walk
backwards; ``axis = "frame"``: the whole frame width, so the walker is seen walking the mirrored path):

- silhouette: column ``x`` of the box takes column ``x0 + x1 - x`` of the input silhouette;
- colour frame: the pixels of the mirrored silhouette take the input frame's pixels at the mirrored position
  (the walker's colours, mirrored); pixels of the input silhouette that the mirrored one leaves uncovered take
  the background image when the sequence has one, else the input frame at the mirrored position (the scene on
  the other side of the walker, since that position is outside the input silhouette). All other pixels are kept.

Rows are never changed, so the silhouette's height, area and every row's width are kept exactly; what changes is
which way the body (and any asymmetry: a bag, an arm swing) faces. The method is deterministic (``rng`` unused)
and needs no training.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from benchmark.api import Anonymizer, GaitSequence

AXES = ("box", "frame")


class Mirror(Anonymizer):
    """Left-right mirror of the walker inside its bounding box (or about the frame's centre line)."""

    @dataclasses.dataclass(frozen=True)
    class Config:
        axis: str = "box"

        def __post_init__(self) -> None:
            if self.axis not in AXES:
                raise ValueError(f"axis must be one of {', '.join(AXES)}, got {self.axis!r}")

    # Class metadata the registry reads: no training, and it changes pixels (frames and what an attacker segments).
    trainable = False
    input = "pixels"

    def parameters(self) -> str:
        return f"axis={self.config.axis}"

    def _anonymize(self, seq: GaitSequence, rng: np.random.Generator) -> GaitSequence:
        sils = np.zeros_like(seq.silhouettes)  # (T, H, W) bool
        frames = None if seq.frames is None else seq.frames.copy()  # (T, H, W, 3) uint8
        width = seq.shape[1]
        for t in np.flatnonzero(seq.silhouettes.any(axis=(1, 2))):
            sil = seq.silhouettes[t]  # (H, W)
            if self.config.axis == "box":
                cols = np.flatnonzero(sil.any(axis=0))
                x0, x1 = int(cols[0]), int(cols[-1])
            else:
                x0, x1 = 0, width - 1
            sils[t, :, x0:x1 + 1] = sil[:, x0:x1 + 1][:, ::-1]  # outside the box both are empty
            if frames is not None:
                frame = frames[t]  # (H, W, 3) view, still the input frame here
                mirrored = frame.copy()
                mirrored[:, x0:x1 + 1] = frame[:, x0:x1 + 1][:, ::-1]
                uncovered = sil & ~sils[t]  # (H, W): was the walker, is not any more
                fill = seq.background if seq.background is not None else mirrored
                frame[uncovered] = fill[uncovered]
                frame[sils[t]] = mirrored[sils[t]]
        return seq.replace(silhouettes=sils, frames=frames)
