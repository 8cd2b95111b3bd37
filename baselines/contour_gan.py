"""What the contour-based anonymizers (ST-GAN, its ablation, the noise-gait baseline) share.

- The generator G of both papers: two 1-D convolutional encoders (original contour, noise contour) merged by an
  element-wise sum, then a decoder (paper Section 3.4: "the same ... architecture used by Tieu et al.").
- The spatial discriminator DS (paper Fig. 5a): conv1d -> sigmoid -> pool -> conv1d -> sigmoid -> pool -> FC ->
  sigmoid on one contour.
- The losses of Eqs. 2-8 as pure functions of discriminator logits (``sigmoid(logit) = D(.)``).
- Clip sampling for training, and the anonymization pipeline: silhouettes -> contours (Step 1) -> G (Step 2)
  -> silhouettes -> Eq. 9 colour (Step 3).

Layer sizes, kernels, optimizer and learning rates are not given in the paper; ours are in each method's config.
Contours enter the networks as ``float32 (B, 2, 2000)`` (see :mod:`baselines.contour_space`); convolutions wrap
around (circular padding) because a contour is closed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from baselines.contour_space import (
    POINTS,
    ContourSet,
    carry_holes,
    network_to_silhouettes,
    silhouettes_to_network,
)
from benchmark.api import Anonymizer, FitOptions, GaitSequence, TrainSettings, select_device

GAN_LOSSES = ("paper", "non-saturating")


# ---------------------------------------------------------------------------------------------- networks


def _encoder(channels: Sequence[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    prev = 2
    for i, c in enumerate(channels):
        k = 7 if i == 0 else 5
        layers += [nn.Conv1d(prev, c, k, stride=2, padding=k // 2, padding_mode="circular"), nn.ReLU()]
        prev = c
    return nn.Sequential(*layers)


def low_pass(x: torch.Tensor, harmonics: int) -> torch.Tensor:
    """Keep the lowest ``harmonics`` Fourier components of closed curves ``(..., P)`` (0 = unchanged).

    A contour is periodic in its point index; truncating its spectrum gives a smooth closed curve through the
    same overall shape (harmonic 0 is the mean point).
    """
    if harmonics <= 0:
        return x
    spec = torch.fft.rfft(x, dim=-1)
    spec[..., harmonics + 1 :] = 0
    return torch.fft.irfft(spec, n=x.shape[-1], dim=-1)


class CircularUpsample(nn.Module):
    """A transposed convolution (kernel 4, stride 2) that wraps around: ``(B, C, L)`` -> ``(B, C', 2L)``.

    ``ConvTranspose1d(k=4, s=2, padding=1)`` drops what its first and last inputs spill over the ends; a contour is
    closed, so here the input is padded circularly by one point on each side, transposed-convolved without padding
    (length ``2L + 6``) and the ``2L`` outputs aligned with the unpadded layer's are kept: point 0 (the head top)
    gets the same contributions as every other point.
    """

    def __init__(self, a: int, b: int) -> None:
        super().__init__()
        self.conv = nn.ConvTranspose1d(a, b, 4, stride=2, padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[-1]
        padded = torch.cat([x[..., -1:], x, x[..., :1]], dim=-1)  # (B, C, L + 2)
        return self.conv(padded)[..., 3 : 3 + 2 * length]  # (B, C', 2L)


class Generator(nn.Module):
    """G(Y, Z_hat): ``(B, 2, P)`` original and noise contours -> ``(B, 2, P)`` anonymized contour.

    Each encoder halves the length ``len(channels)`` times (P = 2000 -> 250 with three layers); the sum of the two
    codes is decoded by transposed convolutions back to P points. ReLU activations, a linear output. **Our
    choices:** the output keeps its lowest ``harmonics`` Fourier components (:func:`low_pass`), so a generated
    contour is a smooth closed curve rather than 2000 independently jittering points; ``circular`` decodes with
    :class:`CircularUpsample` (the contour wraps around); ``residual`` makes G predict a change of ``Y``
    (``Y_hat = Y + dec(h)``, the last layer starting at zero, so an untrained G returns its input).
    """

    def __init__(self, channels: Sequence[int] = (16, 32, 64), harmonics: int = 0, *, circular: bool = False,
                 residual: bool = False) -> None:
        super().__init__()
        self.harmonics, self.residual = harmonics, residual
        self.enc_y = _encoder(channels)
        self.enc_z = _encoder(channels)
        layers: list[nn.Module] = []
        rev = list(channels)[::-1] + [2]
        for i, (a, b) in enumerate(zip(rev[:-1], rev[1:], strict=True)):
            layers.append(CircularUpsample(a, b) if circular else nn.ConvTranspose1d(a, b, 4, stride=2, padding=1))
            if i < len(rev) - 2:
                layers.append(nn.ReLU())
        self.dec = nn.Sequential(*layers)
        if residual:
            last = layers[-1]
            conv = last.conv if isinstance(last, CircularUpsample) else last
            assert isinstance(conv, nn.ConvTranspose1d) and conv.bias is not None
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)

    def forward(self, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        h = self.enc_y(y) + self.enc_z(z)  # (B, C, P / 2^k): the merge by sum
        out = self.dec(h)  # (B, 2, P)
        return low_pass(y + out if self.residual else out, self.harmonics)  # (B, 2, P)


class SpatialDiscriminator(nn.Module):
    """DS: one contour ``(B, 2, P)`` -> logit ``(B,)``; paper Fig. 5a with the final sigmoid left to the loss."""

    def __init__(self, channels: Sequence[int] = (16, 32), kernel: int = 9, pool: int = 4,
                 activation: str = "sigmoid") -> None:
        super().__init__()
        c1, c2 = channels

        def act() -> nn.Module:  # the paper's sigmoid, or LeakyReLU (ours: a sigmoid critic saturates, see docs)
            return nn.Sigmoid() if activation == "sigmoid" else nn.LeakyReLU(0.2)

        self.body = nn.Sequential(
            nn.Conv1d(2, c1, kernel, padding=kernel // 2, padding_mode="circular"), act(), nn.MaxPool1d(pool),
            nn.Conv1d(c1, c2, kernel, padding=kernel // 2, padding_mode="circular"), act(), nn.MaxPool1d(pool),
        )
        self.fc = nn.Linear(c2 * (POINTS // pool // pool), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.body(x).flatten(1)).squeeze(1)


# ---------------------------------------------------------------------------------------------- losses


def _log_d(logits: torch.Tensor) -> torch.Tensor:
    return -F.softplus(-logits)  # log sigmoid(l), stable


def _log_one_minus_d(logits: torch.Tensor) -> torch.Tensor:
    return -F.softplus(logits)  # log(1 - sigmoid(l)), stable


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Minus Eq. 2 (or 3): ``-(mean log D(real) + mean log(1 - D(fake)))``; minimising it maximises Eq. 2."""
    return -(_log_d(real_logits).mean() + _log_one_minus_d(fake_logits).mean())


def generator_adversarial_loss(fake_logits: torch.Tensor, kind: str = "paper") -> torch.Tensor:
    """Eq. 4 (or 5), ``mean log(1 - D(G))`` (``paper``), or the non-saturating ``-mean log D(G)``."""
    if kind == "paper":
        return _log_one_minus_d(fake_logits).mean()
    if kind == "non-saturating":
        return -_log_d(fake_logits).mean()
    raise ValueError(f"gan_loss must be one of {GAN_LOSSES}, got {kind!r}")


def l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference (Eqs. 6-7, the norm averaged over coordinates)."""
    return (a - b).abs().mean()


# ---------------------------------------------------------------------------------------------- training data


def clip_starts(data: ContourSet, clip: int) -> list[np.ndarray]:
    """Per sequence, the first frames of windows of ``clip`` frames that all have a contour (may be empty)."""
    out = []
    for s in range(len(data)):
        valid = data.valid[data.frames(s)].astype(np.int64)
        if len(valid) < clip:
            out.append(np.zeros(0, np.int64))
            continue
        runs = np.convolve(valid, np.ones(clip, np.int64), mode="valid")
        out.append(np.flatnonzero(runs == clip))
    return out


def sample_clips(
    starts: list[np.ndarray], batch: int, rng: np.random.Generator
) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """One epoch: a random window of every usable sequence, shuffled, cut into batches.

    Returns ``(sequence indices, start frames, noise seed)`` per batch.
    """
    usable = np.array([s for s, st in enumerate(starts) if len(st)], np.int64)
    if not len(usable):
        raise ValueError("no training sequence has enough consecutive frames with a contour for one clip")
    order = rng.permutation(usable)
    first = np.array([starts[s][rng.integers(len(starts[s]))] for s in order], np.int64)
    return [
        (order[i : i + batch], first[i : i + batch], int(rng.integers(2**31)))
        for i in range(0, len(order), batch)
    ]


def gather_clips(
    data: ContourSet, seqs: np.ndarray, firsts: np.ndarray, clip: int, device: torch.device
) -> torch.Tensor:
    """``float32 (B, clip, 2, P)`` clips of ``data`` starting at ``firsts`` of sequences ``seqs``."""
    index = (data.offsets[seqs] + firsts)[:, None] + np.arange(clip)
    return torch.from_numpy(data.shapes[index].astype(np.float32)).to(device)


# ---------------------------------------------------------------------------------------------- anonymizer base


def adam(module: nn.Module, lr: float) -> torch.optim.Optimizer:
    """The optimiser of every contour GAN's networks: Adam with the DCGAN betas (0.5, 0.999)."""
    return torch.optim.Adam(module.parameters(), lr=lr, betas=(0.5, 0.999))


def data_signature(name: str, stage: str, config: Any, data: ContourSet) -> dict[str, Any]:
    """What a training stage's resume state must match: the method, the stage, its config and the data's keys."""
    keys = "\n".join(data.key(s) for s in range(len(data)))
    return {
        "anonymizer": name,
        "stage": stage,
        "config": json.loads(json.dumps(dataclasses.asdict(config), default=str)),
        "data": hashlib.sha256(keys.encode()).hexdigest()[:16],
    }


def stage_settings(config: Any, options: FitOptions, epochs: int, suffix: str, name: str) -> TrainSettings:
    """The shared loop's settings for one training stage; its resume state is ``<state>.<suffix>.state.pt``."""
    state = None
    if options.state_path is not None:
        state = Path(options.state_path)
        state = state.with_name(state.name.replace(".state.pt", "") + f".{suffix}.state.pt")
    return TrainSettings(epochs=epochs, seed=config.seed, device=options.device, state_path=state,
                         progress=options.progress, stop_after=options.stop_after, name=name)


class ContourAnonymizer(Anonymizer):
    """An anonymizer whose generator G rewrites contour vectors; subclasses give the noise per frame.

    Colour output follows Eq. 9 (:func:`benchmark.colorize.colorize`) with the sequence's background image; a
    sequence with frames but no background gets the temporal median of its frames as background.
    """

    trainable = True
    input = "contours"
    generator: Generator | None = None

    def _noise(self, seq: GaitSequence, shapes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The noise contours ``float32 (T, 2, P)`` for this sequence."""
        raise NotImplementedError

    def generate(self, shapes: np.ndarray, noise: np.ndarray) -> np.ndarray:
        """G over frames: ``(T, 2, P)`` originals and noises -> ``(T, 2, P)``, in batches, without gradients."""
        if self.generator is None:
            raise RuntimeError(f"{self.name} is not trained: call fit() or load a checkpoint first")
        device = select_device(self.device)
        g = self.generator.to(device).eval()
        out = np.empty_like(shapes, dtype=np.float32)
        size = int(self.config.anonymize_batch)
        with torch.no_grad():
            for a in range(0, len(shapes), size):
                y = torch.from_numpy(np.ascontiguousarray(shapes[a : a + size], np.float32)).to(device)
                z = torch.from_numpy(np.ascontiguousarray(noise[a : a + size], np.float32)).to(device)
                out[a : a + size] = g(y, z).cpu().numpy()
        return out

    def _anonymize(self, seq: GaitSequence, rng: np.random.Generator) -> GaitSequence:
        from benchmark.colorize import colorize
        from benchmark.silhouettes import median_background

        shapes, frame, valid = silhouettes_to_network(seq.silhouettes)
        fake = self.generate(shapes, self._noise(seq, shapes, rng))
        sil = network_to_silhouettes(fake, frame, valid, seq.shape)
        if getattr(self.config, "keep_holes", False):
            sil = carry_holes(seq.silhouettes, sil, shapes, fake, frame, valid)
        frames = None
        if seq.frames is not None:
            bg = seq.background if seq.background is not None else median_background(seq.frames)
            frames = colorize(seq.frames, bg, seq.silhouettes, sil)
        return seq.replace(silhouettes=sil, frames=frames)

    def _check_config(self, keys: Mapping[str, Any]) -> None:
        """Shared config checks (``gan_loss``), raised as ``ValueError`` naming the value."""
        if keys.get("gan_loss") not in GAN_LOSSES:
            raise ValueError(f"gan_loss must be one of {GAN_LOSSES}, got {keys.get('gan_loss')!r}")
