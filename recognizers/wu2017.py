"""Wu et al., "A comprehensive study on cross-view gait based human identification with deep CNNs", TPAMI 39(2)
2017: a similarity network on GEI pairs, model MT (matching of mid-level features at the top).

Published: LB stacks the two GEIs as two channels; MT instead runs each GEI through its own lower conv layers
and combines the two mid-level feature maps before the top layers; layer pattern conv 7x7 (16), ReLU, LRN,
pool 2; conv 7x7 (64), ReLU, LRN, pool 2; conv 7x7 (256); dropout 0.5; FC -> 1; sigmoid; binary cross-entropy
on balanced same/different pairs; Adam 1e-4, batch 128 (from a public LB re-implementation; input 126x126
in [-1, 1]).

Our choices: input GEI 64x44 (the field's normalisation), scaled to [-1, 1], with "same" padding in the two
lower convs so the mid-level maps stay 16x11; the two streams share weights (the pair is unordered); batch
normalisation instead of LRN (``norm = "lrn"`` restores it; with LRN the network stays at chance for the first
epochs of a CPU budget). The mid-level maps are combined by a learned 1x1 convolution over their concatenation
(2 x 64 -> 128 channels: the per-channel weighted sums that LB's first layer applies to the two GEIs),
initialised to the signed differences a - b and b - a; the top conv 7x7 (256) is valid, giving 10x5 maps.
Pairs: for every training sequence one positive (same subject, another sequence) and one negative (another
subject) per epoch, at the same view with probability ``same_view`` (0.8) and at a random view otherwise;
Adam lr 3e-4, batch 64, 6 epochs. The distance of a pair is ``-logit``: ordered like ``1 - P(same)`` but without
the ties that a saturated sigmoid would make.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmark.api import Embedding, Sequences
from recognizers.nn import TorchRecognizer, geis_tensor


@dataclasses.dataclass(frozen=True)
class Wu2017Config:
    height: int = 64
    width: int = 44
    conv1: int = 16
    conv2: int = 64
    conv3: int = 256
    norm: str = "batch"  # "lrn" as published, or "batch" (batch normalisation)
    dropout: float = 0.5
    same_view: float = 0.8
    epochs: int = 6
    batch_size: int = 64
    lr: float = 3e-4
    weight_decay: float = 0.0
    seed: int = 0
    embed_batch: int = 256
    compare_batch: int = 2048

    def __post_init__(self) -> None:
        if self.norm not in ("lrn", "batch"):
            raise ValueError(f"norm must be 'lrn' or 'batch', got {self.norm!r}")


class MTModel(nn.Module):
    def __init__(self, cfg: Wu2017Config) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, cfg.conv1, 7, padding=3)
        self.conv2 = nn.Conv2d(cfg.conv1, cfg.conv2, 7, padding=3)
        batch = cfg.norm == "batch"
        self.norm1 = nn.BatchNorm2d(cfg.conv1) if batch else nn.LocalResponseNorm(5)
        self.norm2 = nn.BatchNorm2d(cfg.conv2) if batch else nn.LocalResponseNorm(5)
        c = cfg.conv2
        self.fuse = nn.Conv2d(2 * c, 2 * c, 1)
        with torch.no_grad():
            # Start from the two signed differences a - b and b - a per channel (ReLU then gives |a - b|), which
            # a pair of 1x1 filters can express; from random weights the sum a + b dominates and learning stalls.
            eye = torch.eye(c)
            signed = torch.cat([torch.cat([eye, -eye], 1), torch.cat([-eye, eye], 1)], 0)  # (2c, 2c)
            self.fuse.weight.copy_(signed[..., None, None])
            assert self.fuse.bias is not None
            nn.init.zeros_(self.fuse.bias)
        self.conv3 = nn.Conv2d(2 * c, cfg.conv3, 7)
        self.dropout = nn.Dropout(cfg.dropout)
        h, w = cfg.height // 4 - 6, cfg.width // 4 - 6
        if h < 1 or w < 1:
            raise ValueError(f"wu2017-mt needs inputs of at least 28x28, got {cfg.height}x{cfg.width}")
        self.fc = nn.Linear(cfg.conv3 * h * w, 1)

    def stream(self, x: torch.Tensor) -> torch.Tensor:
        x = 2.0 * x - 1.0  # GEIs in [-1, 1], as the published network reads them
        x = F.max_pool2d(self.norm1(F.relu(self.conv1(x))), 2)  # (B, 16, 32, 22) for 64x44
        return F.max_pool2d(self.norm2(F.relu(self.conv2(x))), 2)  # (B, 64, 16, 11): mid-level features

    def top(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.fuse(torch.cat([a, b], 1)))  # (B, 128, 16, 11)
        x = F.relu(self.conv3(x))  # (B, 256, 10, 5)
        return self.fc(self.dropout(x.flatten(1)))[:, 0]  # (B,) logit of "same subject"

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.top(self.stream(a), self.stream(b))


class Wu2017MT(TorchRecognizer):
    """GEI-pair similarity CNN, Wu et al.'s model MT (see the module docstring)."""

    name = "wu2017-mt"
    pairwise = True
    Config = Wu2017Config
    input_kind = "gei"
    config: Wu2017Config


    def build(self) -> nn.Module:
        return MTModel(self.config)

    def plan(self, data: Sequences, epoch: int, rng: np.random.Generator) -> list[Any]:
        n = len(data)
        pairs = []
        for i in rng.permutation(n):
            same_subject = data.subjects == data.subjects[i]
            for positive in (True, False):
                pool = same_subject if positive else ~same_subject
                pool = pool & (np.arange(n) != i)
                if rng.random() < self.config.same_view and (pool & (data.views == data.views[i])).any():
                    pool = pool & (data.views == data.views[i])
                choices = np.flatnonzero(pool)
                if len(choices):
                    pairs.append((i, int(rng.choice(choices)), float(positive)))
        order = np.asarray(pairs, dtype=np.float64)[rng.permutation(len(pairs))]
        size = self.config.batch_size
        return [order[s : s + size] for s in range(0, len(order), size)]

    def loss(
        self, net: nn.Module, data: Sequences, batch: Any, device: torch.device
    ) -> tuple[torch.Tensor, dict[str, float]]:
        a = geis_tensor(data, batch[:, 0].astype(int), device)  # (B, 1, h, w)
        b = geis_tensor(data, batch[:, 1].astype(int), device)
        target = torch.as_tensor(batch[:, 2], dtype=torch.float32, device=device)  # (B,) 1 = same subject
        logits = net(a, b)
        accuracy = float(((logits > 0).float() == target).float().mean())
        return F.binary_cross_entropy_with_logits(logits, target), {"accuracy": accuracy}

    def features(self, net: nn.Module, data: Sequences, index: np.ndarray, device: torch.device) -> torch.Tensor:
        return net.stream(geis_tensor(data, index, device))  # type: ignore[operator]

    def compare(self, gallery: Embedding, probes: Embedding) -> np.ndarray:
        """``-logit(same)`` for every probe x gallery pair, ``float64 (P, G)``: one top-layer pass per pair."""
        self._check_fitted()
        from benchmark.training import select_device

        assert self.net is not None
        device = select_device(self.device)
        net = self.net.to(device).eval()
        out = np.zeros((len(probes), len(gallery)))
        g = torch.from_numpy(gallery.features).to(device)  # (G, 64, 16, 11)
        per = max(1, self.config.compare_batch // max(1, len(gallery)))
        with torch.no_grad():
            for s in range(0, len(probes), per):
                p = torch.from_numpy(probes.features[s : s + per]).to(device)  # (p, 64, 16, 11)
                a = p[:, None].expand(-1, len(gallery), *p.shape[1:]).flatten(0, 1)  # (p*G, 64, 16, 11)
                b = g[None].expand(len(p), *g.shape).flatten(0, 1)
                logits = net.top(a, b).view(len(p), len(gallery))  # type: ignore[operator]
                out[s : s + len(p)] = -logits.double().cpu().numpy()
        net.to("cpu")
        return out
