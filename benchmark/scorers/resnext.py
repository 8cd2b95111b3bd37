"""``video-resnext101``: Hara et al.'s 3D ResNeXt-101 action classifier; the score is P(target class) per clip.

Architecture (Hara, Kataoka, Satoh, "Can spatiotemporal 3D CNNs retrace the history of 2D CNNs and ImageNet?",
CVPR 2018; the "3D-ResNets-PyTorch" repository, MIT licence), written here from its description: a 7x7x7 stem
convolution with stride (1, 2, 2) and 64 channels, a 3x3x3 max pool with stride 2, four stages of
[3, 4, 23, 3] bottleneck blocks (1x1x1 reduce, grouped 3x3x3 with cardinality 32, 1x1x1 expand by 2;
the stride on the grouped convolution), projection shortcuts ("type B": 1x1x1 convolution + batch norm) where
the shape changes, average pooling and one linear layer. Stage widths (grouped convolution / output) are
128/256, 256/512, 512/1024, 1024/2048. Hara pools with a fixed (1, 4, 4) kernel, which is what adaptive
pooling does for 16x112x112 input.

Weights are never downloaded: the scorer reads ``resnext-101-kinetics-hmdb51_split1.pth`` (Kinetics-400
pretrained, fine-tuned on HMDB-51 split 1) from the config key ``weights``, the environment variable
``GAITBENCH_RESNEXT_WEIGHTS`` or ``$GAITBENCH_CACHE/weights/`` (default ``~/.cache/gaitbench/weights/``), in
that order, else raises :class:`~benchmark.scorers.base.MissingWeightsError`. Those checkpoints are dicts with
``'state_dict'`` saved from ``nn.DataParallel`` (keys start with ``module.``); they are read with
``weights_only=True`` (loading never runs code).

Preprocessing, as in Hara's test-time pipeline: the sequence is cut into non-overlapping 16-frame clips
(the last partial clip dropped; a sequence shorter than 16 frames is looped, 0, 1, .., T-1, 0, 1, ..,
to make one clip); each frame is resized so its shorter side is 112 px (the longer side truncated to an
integer, ``cv2.INTER_AREA`` when shrinking, bilinear when enlarging) and centre-cropped to 112x112; RGB values
stay in 0..255 and the ActivityNet mean [114.7748, 107.7354, 99.4750] is subtracted (std 1). A clip's score is
the softmax probability of the target class; the sequence's value is the mean over clips.

Labels: HMDB-51's 51 classes in the alphabetical order of the repository's class index (target ``walk``,
index 49) are built in. Other label sets (e.g. Kinetics-400, which has no plain walking class) come from a text
file with one class per line in the checkpoint's output order, with ``target`` naming the class to score.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
import torch
from torch import nn

from benchmark.io import cache_root
from benchmark.scorers.base import Scorer, check_batch_size, find_weights
from benchmark.types import check_frames

CLIP_LENGTH = 16
CROP_SIZE = 112
#: ActivityNet RGB mean on the 0..255 scale, as Hara's ``get_mean(norm_value=1)``; std is 1
MEAN_RGB: tuple[float, float, float] = (114.7748, 107.7354, 99.4750)
WEIGHTS_FILE = "resnext-101-kinetics-hmdb51_split1.pth"
WEIGHTS_ENV = "GAITBENCH_RESNEXT_WEIGHTS"
WEIGHTS_SOURCE = "https://github.com/kenshohara/3D-ResNets-PyTorch (pretrained models, ResNeXt-101)"

HMDB51_CLASSES: tuple[str, ...] = (
    "brush_hair", "cartwheel", "catch", "chew", "clap", "climb", "climb_stairs", "dive", "draw_sword", "dribble",
    "drink", "eat", "fall_floor", "fencing", "flic_flac", "golf", "handstand", "hit", "hug", "jump", "kick",
    "kick_ball", "kiss", "laugh", "pick", "pour", "pullup", "punch", "push", "pushup", "ride_bike", "ride_horse",
    "run", "shake_hands", "shoot_ball", "shoot_bow", "shoot_gun", "sit", "situp", "smile", "smoke", "somersault",
    "stand", "swing_baseball", "sword", "sword_exercise", "talk", "throw", "turn", "walk", "wave",
)  # fmt: skip
if len(HMDB51_CLASSES) != 51 or list(HMDB51_CLASSES) != sorted(HMDB51_CLASSES):
    raise ImportError("HMDB51_CLASSES must hold the 51 HMDB-51 classes in alphabetical order")


# ---------------------------------------------------------------------------------------------- the network


class Bottleneck(nn.Module):
    """ResNeXt bottleneck: 1x1x1 to ``mid``, grouped 3x3x3 (``stride``), 1x1x1 to ``2 * mid``, plus the shortcut."""

    expansion = 2

    def __init__(self, in_channels: int, mid: int, cardinality: int, stride: int = 1) -> None:
        super().__init__()
        out = mid * self.expansion
        self.conv1 = nn.Conv3d(in_channels, mid, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm3d(mid)
        self.conv2 = nn.Conv3d(mid, mid, kernel_size=3, stride=stride, padding=1, groups=cardinality, bias=False)
        self.bn2 = nn.BatchNorm3d(mid)
        self.conv3 = nn.Conv3d(mid, out, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm3d(out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_channels != out:  # shortcut type B: projection only where the shape changes
            self.downsample = nn.Sequential(
                nn.Conv3d(in_channels, out, kernel_size=1, stride=stride, bias=False), nn.BatchNorm3d(out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))  # (N, mid, T', H', W'), strided here
        y = self.bn3(self.conv3(y))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(y + shortcut)


class ResNeXt3D(nn.Module):
    """Hara et al.'s 3D ResNeXt; the defaults are ResNeXt-101 (32 groups of 4 channels in stage 1).

    Parameters
    ----------
    layers : sequence of 4 ints
        Blocks per stage; ``(3, 4, 23, 3)`` is ResNeXt-101, ``(3, 4, 6, 3)`` ResNeXt-50.
    num_classes : int
        Outputs of ``fc`` (51 for HMDB-51, 400 for Kinetics-400).
    cardinality : int
        Groups of the 3x3x3 convolutions.
    group_width : int
        Channels per group in stage 1 (doubled each stage): stage ``i`` has ``cardinality * group_width * 2**i``
        channels in its grouped convolution and twice that at its output.
    stem_channels : int
        Output channels of the 7x7x7 stem convolution.

    Input ``float32 (N, 3, T, H, W)``; output logits ``(N, num_classes)``.
    """

    def __init__(
        self,
        layers: Sequence[int] = (3, 4, 23, 3),
        num_classes: int = 51,
        cardinality: int = 32,
        group_width: int = 4,
        stem_channels: int = 64,
    ) -> None:
        super().__init__()
        if len(layers) != 4 or min(layers) < 1:
            raise ValueError(f"layers must be 4 positive block counts, got {list(layers)}")
        if min(num_classes, cardinality, group_width, stem_channels) < 1:
            raise ValueError(
                f"num_classes, cardinality, group_width and stem_channels must be positive, got "
                f"{num_classes}, {cardinality}, {group_width}, {stem_channels}"
            )
        self.conv1 = nn.Conv3d(3, stem_channels, kernel_size=7, stride=(1, 2, 2), padding=3, bias=False)
        self.bn1 = nn.BatchNorm3d(stem_channels)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool3d(kernel_size=3, stride=2, padding=1)
        channels = stem_channels
        stages = []
        for i, blocks in enumerate(layers):
            mid = cardinality * group_width * 2**i
            stride = 1 if i == 0 else 2
            stage = [Bottleneck(channels, mid, cardinality, stride)]
            channels = mid * Bottleneck.expansion
            stage += [Bottleneck(channels, mid, cardinality) for _ in range(blocks - 1)]
            stages.append(nn.Sequential(*stage))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool3d(1)
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))  # (N, 64, 16, 56, 56) for 16x112x112 input
        x = self.maxpool(x)  # (N, 64, 8, 28, 28)
        x = self.layer1(x)  # (N, 256, 8, 28, 28)
        x = self.layer2(x)  # (N, 512, 4, 14, 14)
        x = self.layer3(x)  # (N, 1024, 2, 7, 7)
        x = self.layer4(x)  # (N, 2048, 1, 4, 4)
        x = self.avgpool(x).flatten(1)  # (N, 2048)
        return self.fc(x)  # (N, num_classes)


# ---------------------------------------------------------------------------------------------- checkpoints


class CheckpointMismatchError(ValueError):
    """A checkpoint's tensors do not fit the network built for it; the message names keys."""


def _names(keys: Sequence[str], n: int = 5) -> str:
    more = f" and {len(keys) - n} more" if len(keys) > n else ""
    return ", ".join(repr(k) for k in keys[:n]) + more


def strip_module_prefix(state: Mapping[str, Any]) -> dict[str, Any]:
    """``state`` with the ``module.`` prefix of ``nn.DataParallel`` removed from every key that has it."""
    return {(k[len("module.") :] if k.startswith("module.") else k): v for k, v in state.items()}


def load_checkpoint(model: nn.Module, path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a 3D-ResNets checkpoint (``{'state_dict': {'module.<key>': tensor}, ...}``) into ``model``.

    Read with ``torch.load(..., map_location="cpu", weights_only=True)``. Batch-norm ``num_batches_tracked``
    counters, which older checkpoints lack, are taken from the model. Returns the checkpoint's other entries
    (e.g. ``epoch``, ``arch``).

    Raises
    ------
    CheckpointMismatchError
        When the file holds no ``state_dict``, or keys are missing, unexpected or of another shape (named).
    """
    path = Path(path)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:
        raise CheckpointMismatchError(f"{path} is not a readable torch checkpoint: {exc}") from exc
    if not isinstance(checkpoint, Mapping) or not isinstance(checkpoint.get("state_dict"), Mapping):
        found = sorted(checkpoint)[:5] if isinstance(checkpoint, Mapping) else type(checkpoint).__name__
        raise CheckpointMismatchError(f"{path} has no 'state_dict' dict (3D-ResNets format); found {found}")
    state = strip_module_prefix(checkpoint["state_dict"])
    own = model.state_dict()
    missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        raise CheckpointMismatchError(
            f"{path} does not fit the network: missing {_names(missing) or 'none'}; "
            f"unexpected {_names(unexpected) or 'none'} (is it a ResNeXt-101 3D-ResNets checkpoint?)"
        )
    wrong = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if wrong:
        detail = ", ".join(f"{k!r} {tuple(state[k].shape)} vs {tuple(own[k].shape)}" for k in wrong[:3])
        raise CheckpointMismatchError(
            f"{path} has tensors of other shapes than the network (checkpoint vs network): {detail}"
            + (f" and {len(wrong) - 3} more" if len(wrong) > 3 else "")
            + ("; fc's rows are the classes: pass the matching label file" if wrong[0].startswith("fc.") else "")
        )
    for k in own:
        state.setdefault(k, own[k])
    model.load_state_dict(state, strict=True)
    return {k: v for k, v in checkpoint.items() if k != "state_dict"}


def resolve_weights(configured: Path | None) -> Path:
    """The weights file: ``configured``, else ``$GAITBENCH_RESNEXT_WEIGHTS``, else the cache's copy.

    Raises :class:`~benchmark.scorers.base.MissingWeightsError` when the chosen file does not exist.
    """
    return find_weights(
        configured, filename=WEIGHTS_FILE, env_var=WEIGHTS_ENV, default_dir=cache_root() / "weights",
        source=WEIGHTS_SOURCE,
    )


def read_labels(path: str | os.PathLike[str]) -> tuple[str, ...]:
    """Class names from a text file, one per line (blank lines and surrounding spaces ignored)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"label file {path} does not exist")
    labels = tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    if not labels:
        raise ValueError(f"label file {path} holds no class names")
    dup = sorted({c for c in labels if labels.count(c) > 1})
    if dup:
        raise ValueError(f"label file {path} lists classes more than once: {dup[:5]}")
    return labels


# ---------------------------------------------------------------------------------------------- preprocessing


def clip_indices(num_frames: int, length: int = CLIP_LENGTH) -> np.ndarray:
    """Frame indices ``int64 (n_clips, length)``: consecutive non-overlapping clips; short sequences looped.

    The last partial clip is dropped; a sequence shorter than ``length`` gives one clip ``0, 1, .., T-1, 0, ..``.
    """
    if num_frames < 1:
        raise ValueError(f"need at least one frame, got {num_frames}")
    if num_frames < length:
        return (np.arange(length) % num_frames)[None]
    n = num_frames // length
    return np.arange(n * length).reshape(n, length)


def _resize_shorter(frame: np.ndarray, size: int) -> np.ndarray:
    h, w = frame.shape[:2]
    # Hara's Scale: the shorter side becomes ``size``, the longer int(size * long / short).
    if h > w:
        oh, ow = int(size * h / w), size
    else:
        oh, ow = size, int(size * w / h)
    interp = cv2.INTER_AREA if min(h, w) > size else cv2.INTER_LINEAR
    return cv2.resize(frame, (ow, oh), interpolation=interp)


def preprocess_clip(frames: np.ndarray) -> torch.Tensor:
    """One clip as the network's input: ``float32 (1, 3, 16, 112, 112)``.

    Parameters
    ----------
    frames : ndarray, uint8 (16, H, W, 3)
        RGB frames.

    Returns
    -------
    torch.Tensor, float32 (1, 3, 16, 112, 112)
        Each frame resized to shorter side 112, centre-cropped (offsets ``round((size - 112) / 2)``), as
        0..255 values minus :data:`MEAN_RGB` per channel.
    """
    check_frames(frames)
    if frames.shape[0] != CLIP_LENGTH:
        raise ValueError(f"a clip must have {CLIP_LENGTH} frames, got {frames.shape[0]} (shape {frames.shape})")
    out = np.empty((CLIP_LENGTH, CROP_SIZE, CROP_SIZE, 3), np.float32)
    for i, frame in enumerate(frames):
        r = _resize_shorter(frame, CROP_SIZE)  # (>=112, >=112, 3)
        y0 = int(round((r.shape[0] - CROP_SIZE) / 2))
        x0 = int(round((r.shape[1] - CROP_SIZE) / 2))
        out[i] = r[y0 : y0 + CROP_SIZE, x0 : x0 + CROP_SIZE]
    out -= np.asarray(MEAN_RGB, np.float32)
    return torch.from_numpy(out).permute(3, 0, 1, 2).unsqueeze(0).contiguous()  # (1, 3, 16, 112, 112)


@torch.no_grad()
def clip_probabilities(model: nn.Module, clips: torch.Tensor) -> torch.Tensor:
    """Softmax class probabilities ``float32 (N, num_classes)`` of clips ``(N, 3, 16, H, W)``."""
    if clips.ndim != 5 or clips.shape[1] != 3 or clips.shape[2] != CLIP_LENGTH:
        raise ValueError(
            f"clips must have shape (N, 3, {CLIP_LENGTH}, H, W), got {tuple(clips.shape)}: "
            f"the network was trained on {CLIP_LENGTH}-frame clips"
        )
    was_training = model.training
    model.eval()
    try:
        return torch.softmax(model(clips).float(), dim=1)
    finally:
        model.train(was_training)


# ---------------------------------------------------------------------------------------------- the scorer


@dataclasses.dataclass(frozen=True)
class Config:
    """Settings of ``video-resnext101``.

    ``weights``: the checkpoint (else ``$GAITBENCH_RESNEXT_WEIGHTS``, else ``$GAITBENCH_CACHE/weights/``);
    ``labels``: a class-per-line file in the checkpoint's output order (None: HMDB-51); ``target``: the class
    scored; ``batch_size``: clips per forward pass. ``layers``, ``cardinality``, ``group_width`` and
    ``stem_channels`` describe the network (defaults: ResNeXt-101 32x4d); change them only for other checkpoints.
    """

    weights: Path | None = None
    labels: Path | None = None
    target: str = "walk"
    batch_size: int = 4
    layers: tuple[int, ...] = (3, 4, 23, 3)
    cardinality: int = 32
    group_width: int = 4
    stem_channels: int = 64

    def __post_init__(self) -> None:
        check_batch_size(self.batch_size)
        if self.labels is None and self.target not in HMDB51_CLASSES:
            raise ValueError(f"target {self.target!r} is not an HMDB-51 class; pass a label file for other sets")


class ResNeXtScorer(Scorer):
    """Video scorer: the probability that a 3D ResNeXt-101 sees the target action (``walk``) in each clip."""

    name: ClassVar[str] = "video-resnext101"
    level: ClassVar[str] = "video"
    offline: ClassVar[bool] = False
    Config: ClassVar[type] = Config

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        c = self.config
        self.classes: tuple[str, ...] = HMDB51_CLASSES if c.labels is None else read_labels(c.labels)
        if c.target not in self.classes:
            raise ValueError(f"target {c.target!r} is not among the {len(self.classes)} classes of {c.labels}")
        self.target_index = self.classes.index(c.target)
        self._model: ResNeXt3D | None = None
        self.weights_path: Path | None = None

    def build(self) -> ResNeXt3D:
        """The untrained network this config describes (``num_classes`` = number of labels)."""
        c = self.config
        return ResNeXt3D(c.layers, len(self.classes), c.cardinality, c.group_width, c.stem_channels)

    def weights_file(self) -> Path:
        return resolve_weights(self.config.weights)

    @property
    def model(self) -> ResNeXt3D:
        """The network with its weights loaded (on first use), in eval mode on :attr:`device`."""
        if self._model is None:
            path = self.weights_file()
            model = self.build()
            load_checkpoint(model, path)
            self._model, self.weights_path = model.eval().to(self.device), path
        return self._model

    @property
    def label(self) -> str:
        c = self.config
        weights = (self.weights_path or c.weights or Path(os.environ.get(WEIGHTS_ENV) or WEIGHTS_FILE)).name
        depth = 2 + 3 * sum(c.layers)
        return f"3D ResNeXt-{depth} P({c.target!r}) over {len(self.classes)} classes, 16-frame clips ({weights})"

    def score_frames(self, frames: np.ndarray, silhouettes: np.ndarray | None = None) -> np.ndarray:
        """P(target) ``float64 (n_clips,)`` of the 16-frame clips of ``frames`` (uint8 (T, H, W, 3), RGB)."""
        check_frames(frames)
        model = self.model
        index = clip_indices(len(frames))  # (n_clips, 16)
        out = []
        for start in range(0, len(index), self.config.batch_size):
            batch = torch.cat([preprocess_clip(frames[i]) for i in index[start : start + self.config.batch_size]])
            probs = clip_probabilities(model, batch.to(self.device))  # (B, num_classes)
            out.append(probs[:, self.target_index].double().cpu().numpy())
        return np.clip(np.concatenate(out), 0.0, 1.0)


@functools.cache
def count_parameters(layers: tuple[int, ...] = (3, 4, 23, 3), num_classes: int = 51) -> int:
    """Learnable parameters of :class:`ResNeXt3D` with these layers (built on the meta device: no memory)."""
    with torch.device("meta"):
        model = ResNeXt3D(layers, num_classes)
    return sum(p.numel() for p in model.parameters())
