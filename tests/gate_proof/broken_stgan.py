"""Two broken ST-GANs that the regression gate must catch (``tests/test_gate_proof.py``).

Both are trained like ST-GAN in the paper's form and report its parameters (``alpha=...``), so their rows line up
with the golden file's ``stgan-paper`` rows once relabelled (a plug-in may not take a bundled name):

- ``ReturnsInput``: anonymizes nothing; every sequence comes back as it went in.
- ``NoiseOff``: trained with the noise term switched off (Eq. 8 with ``alpha = 0``): G learns to reproduce its
  input and ignores GN's noise.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from baselines.stgan import STGANPaper
from benchmark.training import FitOptions, TrainSource
from benchmark.types import GaitSequence


class ReturnsInput(STGANPaper):

    def _anonymize(self, seq: GaitSequence, rng: np.random.Generator) -> GaitSequence:
        return seq


class NoiseOff(STGANPaper):
    """Trains with ``alpha = 0`` and keeps the configured alpha everywhere else (its checkpoint, its rows): alpha
    is read only by the training objective."""

    def _fit(self, source: TrainSource, options: FitOptions) -> dict[str, Any]:
        reported = self.config
        self.config = dataclasses.replace(reported, alpha=0.0)
        try:
            return super()._fit(source, options)
        finally:
            self.config = reported
