"""GaitSet (Chao et al., "GaitSet: Regarding gait as a set for cross-view gait recognition", AAAI 2019), the
modern set-based attacker: a gait is an unordered set of 64x44 silhouettes.

Published: a frame-level CNN (conv 5x5 / 3x3 pairs with 32, 64, 128 channels, LeakyReLU, two 2x2 max-pools),
set pooling by max over frames, horizontal pyramid pooling (HPP, scales 1, 2, 4, 8, 16: max + mean of each
strip), a separate FC per strip (256 outputs), batch-all triplet loss with margin 0.2 on P x K batches
(8 subjects x 16 sequences, 30 frames each), Adam 1e-4; CASIA-B rank-1 95.8/90.0/75.4 (NM/BG/CL, LT split,
OpenGait). The multilayer global pipeline (MGP) adds set-pooled features of the lower layers.

Our choices, for a CPU budget: channels 16, 32, 64; no MGP; FC outputs 128 per strip; batches of 8 subjects
x 4 sequences x 12 frames; Adam lr 1e-3; 20 epochs of 20 batches. With so few steps the triplet loss alone
collapses the features, so (as OpenGait's GaitBase does) a cross-entropy term over the training subjects is added
on batch-normalised strip features (a "BN neck", one linear classifier per strip; weight ``ce_weight``, 0 turns it
off). Sequences are matched by the Euclidean distance between their concatenated strip features (before the BN
neck), each sequence embedded from all its frames.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmark.api import Embedding, Sequences
from recognizers.linear import pairwise_euclidean
from recognizers.nn import PKSampler, TorchRecognizer, batch_all_triplet_loss, subject_labels, triplet_and_ce

__all__ = ["GaitSet", "GaitSetConfig", "GaitSetModel", "batch_all_triplet_loss"]


@dataclasses.dataclass(frozen=True)
class GaitSetConfig:
    height: int = 64
    width: int = 44
    channels: tuple[int, ...] = (16, 32, 64)
    scales: tuple[int, ...] = (1, 2, 4, 8, 16)
    features: int = 128
    margin: float = 0.2
    ce_weight: float = 1.0
    subjects_per_batch: int = 8
    sequences_per_subject: int = 4
    frames: int = 12
    batches_per_epoch: int = 20
    epochs: int = 20
    lr: float = 1e-3
    weight_decay: float = 0.0
    seed: int = 0
    embed_batch: int = 16
    max_frames: int = 0  # frames of a sequence used for its embedding; 0 = all

    def __post_init__(self) -> None:
        if len(self.channels) != 3:
            raise ValueError(f"channels must list 3 widths, got {self.channels}")
        if self.height % 4 or self.height // 4 < max(self.scales):
            raise ValueError(f"height must be a multiple of 4 with height/4 >= the largest scale, got {self.height}")


class GaitSetModel(nn.Module):
    def __init__(self, cfg: GaitSetConfig, classes: int) -> None:
        super().__init__()
        c1, c2, c3 = cfg.channels
        self.convs = nn.ModuleList(
            [
                nn.Conv2d(1, c1, 5, padding=2),
                nn.Conv2d(c1, c1, 3, padding=1),
                nn.Conv2d(c1, c2, 3, padding=1),
                nn.Conv2d(c2, c2, 3, padding=1),
                nn.Conv2d(c2, c3, 3, padding=1),
                nn.Conv2d(c3, c3, 3, padding=1),
            ]
        )
        self.scales = cfg.scales
        bins = sum(cfg.scales)
        self.fc = nn.Parameter(torch.empty(bins, c3, cfg.features))  # one FC per strip
        nn.init.xavier_uniform_(self.fc)
        self.neck = nn.BatchNorm1d(bins * cfg.features) if classes else None
        self.classifier = nn.Parameter(torch.empty(bins, cfg.features, classes)) if classes else None
        if self.classifier is not None:
            nn.init.normal_(self.classifier, std=0.001)

    def frame_features(self, x: torch.Tensor) -> torch.Tensor:
        """``(F, 1, h, w)`` silhouettes -> ``(F, c3, h/4, w/4)`` frame-level maps."""
        for i, conv in enumerate(self.convs):
            x = F.leaky_relu(conv(x), 0.01)
            if i in (1, 3):
                x = F.max_pool2d(x, 2)
        return x

    def head(self, pooled: torch.Tensor) -> torch.Tensor:
        """Set-pooled maps ``(N, c3, h', w')`` -> strip features ``(S, N, D)`` through HPP and the strip FCs."""
        n, c, h, _ = pooled.shape
        strips = []
        for s in self.scales:
            z = pooled.view(n, c, s, -1)  # (N, c3, s, h'/s * w')
            strips.append(z.max(-1)[0] + z.mean(-1))  # (N, c3, s)
        z = torch.cat(strips, 2).permute(2, 0, 1)  # (S, N, c3)
        return z.bmm(self.fc)  # (S, N, D)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(N, F, h, w)`` sets of F frames -> strip features ``(S, N, D)`` and class logits ``(S, N, C)``."""
        n, f, h, w = x.shape
        maps = self.frame_features(x.reshape(n * f, 1, h, w))  # (N*F, c3, h/4, w/4)
        pooled = maps.view(n, f, *maps.shape[1:]).max(1)[0]  # (N, c3, h/4, w/4): set pooling
        feats = self.head(pooled)  # (S, N, D)
        if self.neck is None or self.classifier is None:
            return feats, None
        s, _, d = feats.shape
        normed = self.neck(feats.permute(1, 0, 2).reshape(n, s * d)).view(n, s, d).permute(1, 0, 2)  # (S, N, D)
        return feats, normed.bmm(self.classifier)  # (S, N, C)


class GaitSet(TorchRecognizer):
    """Set-based recognizer with HPP and a triplet loss (see the module docstring)."""

    name = "gaitset"
    Config = GaitSetConfig
    input_kind = "frames"
    config: GaitSetConfig


    def setup(self, train: Sequences) -> dict[str, Any]:
        return {"subjects": sorted(set(train.subjects.tolist()))}

    def build(self) -> nn.Module:
        return GaitSetModel(self.config, len(self.extra["subjects"]) if self.config.ce_weight > 0 else 0)

    def plan(self, data: Sequences, epoch: int, rng: np.random.Generator) -> list[Any]:
        cfg = self.config
        sampler = PKSampler(data.subjects)
        batches = []
        for _ in range(cfg.batches_per_epoch):
            seqs = sampler.draw(cfg.subjects_per_batch, cfg.sequences_per_subject, rng)
            frames = [rng.integers(0, len(data.items[i]), cfg.frames) for i in seqs]
            batches.append((seqs, np.stack(frames)))
        return batches

    def loss(
        self, net: nn.Module, data: Sequences, batch: Any, device: torch.device
    ) -> tuple[torch.Tensor, dict[str, float]]:
        seqs, frames = batch
        sets = np.stack([data.items[i][f] for i, f in zip(seqs, frames, strict=True)])  # uint8 (N, F, h, w)
        x = torch.from_numpy(sets).to(device).float().div_(255)
        feats, logits = net(x)  # (S, N, D), (S, N, C)
        labels = subject_labels(self.extra, data.subjects[seqs], device)  # (N,)
        return triplet_and_ce(feats, logits, labels, self.config.margin, self.config.ce_weight)

    def features(self, net: nn.Module, data: Sequences, index: np.ndarray, device: torch.device) -> torch.Tensor:
        model: Any = net
        pooled = []
        for i in index:
            frames = data.items[int(i)]
            if self.config.max_frames and len(frames) > self.config.max_frames:
                frames = frames[:: int(np.ceil(len(frames) / self.config.max_frames))]
            x = torch.from_numpy(frames).to(device).float().div_(255)[:, None]  # (T, 1, h, w)
            pooled.append(model.frame_features(x).max(0)[0])  # (c3, h/4, w/4): set pooling over all frames
        feats = model.head(torch.stack(pooled))  # (S, B, D)
        return feats.permute(1, 0, 2).flatten(1)  # (B, S*D)

    def compare(self, gallery: Embedding, probes: Embedding) -> np.ndarray:
        return pairwise_euclidean(gallery.features, probes.features)
