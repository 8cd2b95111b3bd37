"""pose-gait: a skeleton gait recognizer on BlazePose keypoints read from the colour video, the attacker that
reads the body's motion an anonymizer publishes rather than its silhouette.

Published (GaitGraph, Teepe et al. 2021, "GaitGraph: Graph Convolutional Network for Skeleton-Based Gait
Recognition", ICIP): 17 COCO keypoints per frame from HRNet, a ResGCN over the skeleton graph with joint
positions, velocities and bones as inputs, 60-frame clips, supervised contrastive loss; CASIA-B rank-1 averaged
over the cross-view pairs (identical views excluded) 87.7 / 74.8 / 66.3 % (NM / BG / CL).

Ours, for a CPU budget: BlazePose's landmarks (:mod:`benchmark.pose`, extracted once per dataset and cached) for
17 joints (nose, shoulders, elbows, wrists, hips, knees, ankles, heels, toes); per frame the joints' positions
relative to the hips' midpoint, divided by the body's height in the image (the median over the sequence of the
joints' vertical extent), their velocities (frame differences) and BlazePose's visibility; frames without a
person dropped. A temporal convolution network (not a graph convolution: every joint's channels enter one 1D
convolution over time) with three residual stages, temporal max + mean pooling and a 128-d embedding, trained
like our GaitSet (batch-all triplet loss on P x K batches plus cross-entropy over the training subjects on a
batch-normalised neck) on random clips of ``clip`` frames; a sequence is embedded from all its frames and matched
by Euclidean distance. ``frame_step`` > 1 reads every ``frame_step``-th frame only (BlazePose's cost is nearly all
of this recognizer's; the keypoints of each step are cached apart).

Measured on the quick world (16 training subjects, 1,760 sequences; test group of 13, same-view nm-05/06 against
nm-01..04, 11 views): with ``frame_step = 2``, ``clip = 40``, 150 epochs, clean top-1 0.776 / 0.738 / 0.804 for
seeds 0 / 1 / 2 (GaitGraph's 87.7 % above is cross-view on real people, not comparable figure for figure).
"""

from __future__ import annotations

import dataclasses
import weakref
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmark.api import Embedding, InputSpec, Sequences
from benchmark.pose import INDEX, LANDMARKS, VISIBILITY, X, Y
from recognizers.linear import pairwise_euclidean
from recognizers.nn import PKSampler, TorchRecognizer, subject_labels, triplet_and_ce

JOINTS: tuple[str, ...] = (
    "nose", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel", "right_heel",
    "left_foot_index", "right_foot_index",
)
#: channels per joint and frame: x, y (body heights from the hips), their velocities, visibility
CHANNELS = 5


def normalize(points: np.ndarray) -> np.ndarray:
    """BlazePose landmarks ``(T, 33, 4)`` -> ``float32 (T', 17, 5)``: the frames with a person (T' of them), the
    17 joints of :data:`JOINTS` as (x, y) relative to the hips' midpoint in units of body height, their velocities
    and visibility. ``(0, 17, 5)`` when no frame has a person."""
    points = np.asarray(points, dtype=np.float32)
    if points.ndim != 3 or points.shape[1:] != (len(LANDMARKS), 4):
        raise ValueError(f"landmarks must be (T, {len(LANDMARKS)}, 4), got {points.shape}")
    found = ~np.isnan(points[:, 0, X])
    p = points[found][:, [INDEX[j] for j in JOINTS]]  # (T', 17, 4)
    if not len(p):
        return np.zeros((0, len(JOINTS), CHANNELS), np.float32)
    hips = (p[:, JOINTS.index("left_hip"), :2] + p[:, JOINTS.index("right_hip"), :2]) / 2  # (T', 2)
    extent = p[:, :, Y].max(1) - p[:, :, Y].min(1)  # (T',) the skeleton's height in px
    height = max(float(np.median(extent)), 1e-3)
    xy = (p[:, :, [X, Y]] - hips[:, None]) / height  # (T', 17, 2)
    velocity = np.diff(xy, axis=0, prepend=xy[:1])  # (T', 17, 2), 0 at the first frame
    return np.concatenate([xy, velocity, p[:, :, VISIBILITY:VISIBILITY + 1]], axis=2).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class PoseGaitConfig:
    clip: int = 40
    #: BlazePose reads every frame_step-th frame of the video (2: 12.5 of CASIA-B's 25 frames/s, half the cost)
    frame_step: int = 1
    channels: tuple[int, ...] = (64, 128, 256)
    features: int = 128
    margin: float = 0.2
    ce_weight: float = 1.0
    subjects_per_batch: int = 8
    sequences_per_subject: int = 4
    batches_per_epoch: int = 20
    epochs: int = 150
    lr: float = 1e-3
    weight_decay: float = 0.0
    seed: int = 0
    embed_batch: int = 32

    def __post_init__(self) -> None:
        if len(self.channels) != 3 or min(self.channels) < 1:
            raise ValueError(f"channels must list 3 positive widths, got {self.channels}")
        if isinstance(self.frame_step, bool) or not isinstance(self.frame_step, int) or self.frame_step < 1:
            raise ValueError(f"frame_step must be a whole number >= 1, got {self.frame_step!r}")
        if self.clip < 4:
            raise ValueError(f"clip must be at least 4 frames, got {self.clip}")
        for name in ("features", "subjects_per_batch", "sequences_per_subject", "batches_per_epoch", "epochs",
                     "embed_batch"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


class Block(nn.Module):
    """Two 1D convolutions over time (kernel 5) with batch norm and a residual connection."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.a = nn.Conv1d(cin, cout, 5, stride=stride, padding=2)
        self.bn_a = nn.BatchNorm1d(cout)
        self.b = nn.Conv1d(cout, cout, 5, padding=2)
        self.bn_b = nn.BatchNorm1d(cout)
        self.skip = nn.Conv1d(cin, cout, 1, stride=stride) if (cin != cout or stride != 1) else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn_a(self.a(x)))
        return F.relu(self.bn_b(self.b(y)) + self.skip(x))


class PoseGaitModel(nn.Module):
    def __init__(self, cfg: PoseGaitConfig, classes: int) -> None:
        super().__init__()
        c1, c2, c3 = cfg.channels
        self.blocks = nn.Sequential(Block(len(JOINTS) * CHANNELS, c1, 1), Block(c1, c2, 2), Block(c2, c3, 2))
        self.fc = nn.Linear(2 * c3, cfg.features)
        self.neck = nn.BatchNorm1d(cfg.features) if classes else None
        self.classifier = nn.Linear(cfg.features, classes, bias=False) if classes else None

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 85, T)`` joint channels over time -> ``(N, D)`` embeddings (temporal max + mean pooling)."""
        z = self.blocks(x)
        return self.fc(torch.cat([z.max(2)[0], z.mean(2)], 1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        feats = self.embed(x)
        if self.neck is None or self.classifier is None:
            return feats, None
        return feats, self.classifier(self.neck(feats))


def clip_of(seq: np.ndarray, length: int, start: int) -> np.ndarray:
    """``length`` frames of a normalised sequence ``(T, 17, 5)`` from ``start``, wrapping around when shorter."""
    index = (start + np.arange(length)) % len(seq)
    return seq[index]


def channels_first(batch: np.ndarray) -> torch.Tensor:
    """``(N, T, 17, 5)`` -> ``float32 (N, 85, T)``."""
    n, t = batch.shape[:2]
    return torch.from_numpy(np.ascontiguousarray(batch.reshape(n, t, -1).transpose(0, 2, 1)))


class PoseGait(TorchRecognizer):
    """Temporal-convolution skeleton recognizer on BlazePose keypoints (see the module docstring)."""

    name = "pose-gait"
    Config = PoseGaitConfig
    input_kind = "pose"
    config: PoseGaitConfig
    required_config: ClassVar[tuple[str, ...]] = ()  # no image size: the input is BlazePose's landmarks

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        #: normalised keypoints of each data set seen, computed once (the training loop reads them every batch)
        self._norm: weakref.WeakKeyDictionary[Sequences, list[np.ndarray]] = weakref.WeakKeyDictionary()

    @property
    def spec(self) -> InputSpec:
        return InputSpec(len(LANDMARKS), 4, "pose", step=self.config.frame_step)

    def _normalized(self, data: Sequences) -> list[np.ndarray]:
        cached = self._norm.get(data)
        if cached is None:
            cached = self._norm[data] = [normalize(item) for item in data.items]
        return cached

    def setup(self, train: Sequences) -> dict[str, Any]:
        return {"subjects": sorted(set(train.subjects.tolist()))}

    def build(self) -> nn.Module:
        return PoseGaitModel(self.config, len(self.extra["subjects"]) if self.config.ce_weight > 0 else 0)

    def plan(self, data: Sequences, epoch: int, rng: np.random.Generator) -> list[Any]:
        cfg = self.config
        norm = self._normalized(data)
        sampler = PKSampler(data.subjects, usable=np.asarray([len(s) > 0 for s in norm]))
        batches = []
        for _ in range(cfg.batches_per_epoch):
            seqs = sampler.draw(cfg.subjects_per_batch, cfg.sequences_per_subject, rng)
            starts = np.asarray([int(rng.integers(0, len(norm[i]))) for i in seqs])
            batches.append((seqs, starts))
        return batches

    def loss(
        self, net: nn.Module, data: Sequences, batch: Any, device: torch.device
    ) -> tuple[torch.Tensor, dict[str, float]]:
        seqs, starts = batch
        norm = self._normalized(data)
        clips = np.stack([clip_of(norm[i], self.config.clip, s) for i, s in zip(seqs, starts, strict=True)])
        feats, logits = net(channels_first(clips).to(device))  # (N, D), (N, C)
        labels = subject_labels(self.extra, data.subjects[seqs], device)
        return triplet_and_ce(feats[None], None if logits is None else logits[None], labels, self.config.margin,
                              self.config.ce_weight)

    def features(self, net: nn.Module, data: Sequences, index: np.ndarray, device: torch.device) -> torch.Tensor:
        model: Any = net
        norm = self._normalized(data)
        out = []
        for i in index:
            seq = norm[int(i)]
            if len(seq) < 4:  # no person, or too few frames for the network: the clip wraps around
                seq = clip_of(seq, 4, 0) if len(seq) else np.zeros((4, len(JOINTS), CHANNELS), np.float32)
            out.append(model.embed(channels_first(seq[None]).to(device))[0])
        return torch.stack(out)

    def compare(self, gallery: Embedding, probes: Embedding) -> np.ndarray:
        return pairwise_euclidean(gallery.features, probes.features)
