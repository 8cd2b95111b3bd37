"""GEINet (Shiraga et al., "GEINet: View-invariant gait recognition using a convolutional neural network",
ICB 2016): a GEI classifier whose penultimate layer matches subjects it was not trained on.

Published: input GEI 128x88; conv 18@7x7, ReLU, max-pool 2/2, LRN; conv 45@5x5, ReLU, max-pool 3/2, LRN;
dropout; FC 1024 ReLU; FC (training subjects) softmax, trained with cross-entropy.
Our choices: LRN size 5 (AlexNet's), dropout 0.5, Adam (lr 3e-4), batch 32, 10 epochs; unseen subjects are
matched by the Euclidean distance between their FC-1024 outputs (after ReLU).
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
from recognizers.nn import TorchRecognizer, geis_tensor


@dataclasses.dataclass(frozen=True)
class GEINetConfig:
    height: int = 128
    width: int = 88
    conv1: int = 18
    conv2: int = 45
    fc: int = 1024
    dropout: float = 0.5
    epochs: int = 10
    batch_size: int = 32
    lr: float = 3e-4
    weight_decay: float = 0.0
    seed: int = 0
    embed_batch: int = 256


class GEINetModel(nn.Module):
    def __init__(self, cfg: GEINetConfig, classes: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, cfg.conv1, 7)
        self.conv2 = nn.Conv2d(cfg.conv1, cfg.conv2, 5)
        self.lrn = nn.LocalResponseNorm(5)
        self.dropout = nn.Dropout(cfg.dropout)
        h, w = (cfg.height - 6) // 2, (cfg.width - 6) // 2  # after conv 7x7 (valid) and pool 2/2
        h, w = (h - 4 - 3) // 2 + 1, (w - 4 - 3) // 2 + 1  # after conv 5x5 (valid) and pool 3/2
        if h < 1 or w < 1:
            raise ValueError(f"GEINet needs inputs of at least 17x17, got {cfg.height}x{cfg.width}")
        self.fc = nn.Linear(cfg.conv2 * h * w, cfg.fc)
        self.out = nn.Linear(cfg.fc, classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        x = self.lrn(F.max_pool2d(F.relu(self.conv1(x)), 2, 2))  # (B, 18, 61, 41) for 128x88
        x = self.lrn(F.max_pool2d(F.relu(self.conv2(x)), 3, 2))  # (B, 45, 28, 18)
        return F.relu(self.fc(self.dropout(x.flatten(1))))  # (B, 1024)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.embed(x))  # (B, classes) logits


class GEINet(TorchRecognizer):
    """GEI classification CNN; features of its FC-1024 layer match unseen subjects (see the module docstring)."""

    name = "geinet"
    Config = GEINetConfig
    input_kind = "gei"
    config: GEINetConfig


    def setup(self, train: Sequences) -> dict[str, Any]:
        return {"subjects": sorted(set(train.subjects.tolist()))}

    def build(self) -> nn.Module:
        return GEINetModel(self.config, len(self.extra["subjects"]))

    def plan(self, data: Sequences, epoch: int, rng: np.random.Generator) -> list[Any]:
        order = rng.permutation(len(data))
        return [order[i : i + self.config.batch_size] for i in range(0, len(order), self.config.batch_size)]

    def loss(
        self, net: nn.Module, data: Sequences, batch: Any, device: torch.device
    ) -> tuple[torch.Tensor, dict[str, float]]:
        classes = {s: i for i, s in enumerate(self.extra["subjects"])}
        labels = torch.tensor([classes[s] for s in data.subjects[batch]], device=device)  # (B,)
        logits = net(geis_tensor(data, batch, device))  # (B, classes)
        accuracy = float((logits.argmax(1) == labels).float().mean())
        return F.cross_entropy(logits, labels), {"accuracy": accuracy}

    def features(self, net: nn.Module, data: Sequences, index: np.ndarray, device: torch.device) -> torch.Tensor:
        return net.embed(geis_tensor(data, index, device))  # type: ignore[operator]

    def compare(self, gallery: Embedding, probes: Embedding) -> np.ndarray:
        return pairwise_euclidean(gallery.features, probes.features)
