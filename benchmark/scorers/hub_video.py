"""``video-pytorchvideo``: pytorchvideo's Kinetics-400 action models; the score is P(walking-like classes) per clip.

Models (:data:`MODELS`): the torch-hub builders of pytorchvideo 0.1.5 (``x3d_xs``, ``x3d_s``, ``x3d_m``,
``slow_r50``) with their model-zoo checkpoints (Kinetics-400 top-1 69.1, 73.3, 75.9, 74.6). Weights are never
downloaded: the checkpoint comes from the config key ``weights``, the environment variable
``GAITBENCH_PYTORCHVIDEO_WEIGHTS`` or the torch hub cache (``$TORCH_HOME/hub/checkpoints/``, default
``~/.cache/torch/hub/checkpoints/``, where ``torch.hub`` puts the official file, e.g. ``X3D_S.pyth``), in that
order, else :class:`~benchmark.scorers.base.MissingWeightsError`. The model zoo's files are dicts whose
``'model_state'`` is the network's state dict (pytorchvideo's own hub loader reads exactly that); they are read
with ``weights_only=True`` (loading never runs code).

Two changes to the networks, neither touching a weight: (1) the head's fixed ``AvgPool3d`` (sized for the
training crop: 160 px for X3D-XS/S, 224 for X3D-M and Slow) becomes global adaptive average pooling, so any
crop gives one prediction per clip; at the training crop it is the same operation. At the documented test crops
(182 and 256) pytorchvideo's fixed kernel would instead slide over a 2x2 grid of positions and average their
outputs; global pooling reads the whole crop at once. (2) X3D's head ends with a softmax and Slow's with raw
logits; the head's activation is removed and the scorer applies one softmax to every model.

Preprocessing, as pytorchvideo's torch-hub examples for these models (all trained on 30 fps Kinetics):

- a clip spans ``num_frames * sampling_rate`` frames at 30 fps; at ``fps`` frames/s that is
  ``round(num_frames * sampling_rate * fps / 30)`` frames (the *window*). The sequence is cut into consecutive
  non-overlapping windows (the last partial one dropped; a sequence shorter than one window is looped,
  as :func:`benchmark.scorers.resnext.clip_indices` does), and each window is subsampled to ``num_frames`` frames
  at ``long(linspace(0, window - 1, num_frames))`` (pytorchvideo's ``UniformTemporalSubsample``);
- each frame is resized so that its shorter side is ``side_size`` (the longer side ``floor(long / short *
  side_size)``, bilinear, ``align_corners=False``: pytorchvideo's ``ShortSideScale``), centre-cropped to
  ``crop_size`` (offsets ``round((size - crop) / 2)``) and normalised as ``(x / 255 - 0.45) / 0.225`` per channel.
  pytorchvideo normalises before resizing; bilinear weights sum to one, so the order changes nothing but rounding.

=========  ==========  =============  =========  =========  ====================
model      num_frames  sampling_rate  side_size  crop_size  checkpoint
=========  ==========  =============  =========  =========  ====================
x3d_xs     4           12             182        182        X3D_XS.pyth
x3d_s      13          6              182        182        X3D_S.pyth
x3d_m      16          5              256        256        X3D_M.pyth
slow_r50   8           8              256        256        SLOW_8x8_R50.pyth
=========  ==========  =============  =========  =========  ====================

Target classes: Kinetics-400 has no plain walking class. The score is the summed softmax probability of
``targets``, by default the three classes whose clips show people walking or jogging on foot:
``walking the dog``, ``marching`` and ``jogging`` (the probability that the model's answer is one of them).
It measures "looks like on-foot locomotion", a weaker and differently calibrated statement than the paper's
P("walk") of an HMDB-51 model (``video-resnext101``): compare its numbers only with themselves. Set
``targets = ["walking the dog"]`` for the single closest class. The label list (``kinetics400.txt``, the 400
classes in alphabetical order, the order of pytorchvideo's and torchvision's Kinetics-400 outputs) ships with
the package; ``labels`` points to another one for other checkpoints.

pytorchvideo 0.1.5 imports ``torchvision.transforms.functional_tensor``, which torchvision 0.17 renamed
``_functional_tensor``; the old name is aliased in ``sys.modules`` before pytorchvideo is imported.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import math
import os
import sys
import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from benchmark.scorers.action import clip_probabilities as _softmax_probabilities
from benchmark.scorers.action import crop, normalise
from benchmark.scorers.base import Scorer, SequenceScore, check_batch_size, find_weights, import_extra, require_frames
from benchmark.scorers.resnext import CheckpointMismatchError, clip_indices, read_labels
from benchmark.types import GaitSequence, check_frames

#: frame rate of the Kinetics videos the models were trained on, in frames/s
MODEL_FPS = 30.0
#: pytorchvideo's Kinetics normalisation on the [0, 1] scale
MEAN_RGB: tuple[float, float, float] = (0.45, 0.45, 0.45)
STD_RGB: tuple[float, float, float] = (0.225, 0.225, 0.225)
LABELS_FILE = Path(__file__).with_name("kinetics400.txt")
DEFAULT_TARGETS: tuple[str, ...] = ("walking the dog", "marching", "jogging")
WEIGHTS_ENV = "GAITBENCH_PYTORCHVIDEO_WEIGHTS"
WEIGHTS_SOURCE = "https://dl.fbaipublicfiles.com/pytorchvideo/model_zoo/kinetics/"


@dataclasses.dataclass(frozen=True)
class HubModel:
    """A pytorchvideo hub model: its checkpoint file, clip sampling and test-time crop (torch-hub examples)."""

    checkpoint: str
    num_frames: int
    sampling_rate: int
    side_size: int
    crop_size: int
    #: Kinetics-400 top-1 accuracy (%) of the checkpoint, as pytorchvideo's hub docstrings state
    top1: float


MODELS: dict[str, HubModel] = {
    "x3d_xs": HubModel("X3D_XS.pyth", 4, 12, 182, 182, 69.12),
    "x3d_s": HubModel("X3D_S.pyth", 13, 6, 182, 182, 73.33),
    "x3d_m": HubModel("X3D_M.pyth", 16, 5, 256, 256, 75.94),
    "slow_r50": HubModel("SLOW_8x8_R50.pyth", 8, 8, 256, 256, 74.58),
}


# ---------------------------------------------------------------------------------------------- preprocessing


def temporal_subsample(length: int, num_samples: int) -> np.ndarray:
    """Positions ``int64 (num_samples,)`` in a window of ``length`` frames: pytorchvideo's uniform subsample.

    ``long(linspace(0, length - 1, num_samples))`` computed in torch's float32, as ``UniformTemporalSubsample``;
    a window shorter than ``num_samples`` repeats frames.
    """
    if length < 1 or num_samples < 1:
        raise ValueError(f"length and num_samples must be >= 1, got {length} and {num_samples}")
    positions = torch.linspace(0, length - 1, num_samples).clamp(0, length - 1).long()
    return positions.numpy().astype(np.int64)


def window_length(spec: HubModel, fps: float) -> int:
    """Frames at ``fps`` that span the model's clip (``num_frames * sampling_rate`` frames at 30 fps)."""
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    return max(1, int(round(spec.num_frames * spec.sampling_rate * fps / MODEL_FPS)))


def clip_frame_indices(num_frames: int, spec: HubModel, fps: float) -> np.ndarray:
    """Frame indices ``int64 (n_clips, spec.num_frames)`` of a sequence of ``num_frames`` frames at ``fps``.

    Consecutive non-overlapping windows of :func:`window_length` frames (last partial window dropped, a short
    sequence looped: :func:`~benchmark.scorers.resnext.clip_indices`), each subsampled by
    :func:`temporal_subsample`.
    """
    window = window_length(spec, fps)
    return clip_indices(num_frames, window)[:, temporal_subsample(window, spec.num_frames)]


def short_side_scale(frames: np.ndarray, size: int) -> np.ndarray:
    """Frames ``uint8 (T, H, W, 3)`` resized so the shorter side is ``size``: ``float32 (T, h, w, 3)``, 0..255.

    As pytorchvideo's ``ShortSideScale``: the longer side becomes ``floor(long / short * size)``; bilinear
    interpolation with ``align_corners=False`` and no antialiasing (``torch.nn.functional.interpolate``).
    """
    check_frames(frames)
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    h, w = frames.shape[1:3]
    oh, ow = (int(math.floor(float(h) / w * size)), size) if w < h else (size, int(math.floor(float(w) / h * size)))
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()  # (T, 3, H, W)
    if (oh, ow) != (h, w):
        x = torch.nn.functional.interpolate(x, size=(oh, ow), mode="bilinear", align_corners=False)  # (T, 3, h, w)
    return x.permute(0, 2, 3, 1).contiguous().numpy()


def preprocess_clip(frames: np.ndarray, side_size: int, crop_size: int) -> np.ndarray:
    """One clip as the network reads it: ``float32 (3, T, crop_size, crop_size)`` from RGB ``uint8 (T, H, W, 3)``.

    Shorter side to ``side_size`` (:func:`short_side_scale`), centre crop (:func:`benchmark.scorers.action.crop`),
    then ``(x / 255 - 0.45) / 0.225`` per channel (:func:`benchmark.scorers.action.normalise`).
    """
    if crop_size > side_size:
        raise ValueError(f"crop_size {crop_size} exceeds side_size {side_size}: the crop would leave the frame")
    return normalise(crop(short_side_scale(frames, side_size), crop_size), MEAN_RGB, STD_RGB)


def clip_probabilities(model: nn.Module, clips: torch.Tensor, num_frames: int) -> torch.Tensor:
    """Softmax class probabilities ``float32 (N, C)`` of clips ``(N, 3, num_frames, S, S)`` (model in eval mode)."""
    if clips.ndim != 5 or clips.shape[1] != 3 or clips.shape[2] != num_frames:
        raise ValueError(f"clips must have shape (N, 3, {num_frames}, S, S) for this model, got {tuple(clips.shape)}: "
                         f"it was trained on {num_frames}-frame clips")
    return _softmax_probabilities(model, clips)


# ---------------------------------------------------------------------------------------------- models


def import_hub() -> Any:
    """``pytorchvideo.models.hub``, importable with current torchvision (``functional_tensor`` aliased)."""
    import_extra("torchvision.transforms", scorer=PyTorchVideoScorer.name, extra="video")
    if "torchvision.transforms.functional_tensor" not in sys.modules:
        try:
            importlib.import_module("torchvision.transforms.functional_tensor")  # torchvision < 0.17
        except ImportError:
            sys.modules["torchvision.transforms.functional_tensor"] = importlib.import_module(
                "torchvision.transforms._functional_tensor"
            )
    with warnings.catch_warnings():  # pytorchvideo 0.1.5 still uses torch.jit.script (deprecated in torch 2.9+)
        warnings.simplefilter("ignore", FutureWarning)
        return import_extra("pytorchvideo.models.hub", scorer=PyTorchVideoScorer.name, extra="video")


def adapt_head(model: nn.Module) -> nn.Module:
    """Make a pytorchvideo classification net take any crop and return logits (in place; returns ``model``).

    The head's fixed ``AvgPool3d`` (X3D: inside its projected pool) becomes ``AdaptiveAvgPool3d(1)`` and its
    activation (X3D's softmax) is removed. No weights change.
    """
    head: Any = model.blocks[-1]  # type: ignore[index]
    owner: Any = head.pool if hasattr(head.pool, "pool") else head
    if not isinstance(owner.pool, nn.AvgPool3d | nn.AdaptiveAvgPool3d):
        raise TypeError(f"unexpected head pool {type(owner.pool).__name__} in {type(head).__name__}")
    owner.pool = nn.AdaptiveAvgPool3d(1)
    head.activation = None
    return model


def build_model(name: str, num_classes: int = 400) -> nn.Module:
    """The untrained hub network ``name`` (see :data:`MODELS`) with :func:`adapt_head` applied, in eval mode."""
    if name not in MODELS:
        raise ValueError(f"unknown pytorchvideo model {name!r}; known: {', '.join(MODELS)}")
    hub = import_hub()
    return adapt_head(getattr(hub, name)(pretrained=False, model_num_class=num_classes)).eval()


def load_hub_checkpoint(model: nn.Module, path: str | os.PathLike[str]) -> None:
    """Load a pytorchvideo model-zoo checkpoint (``{'model_state': state_dict, ...}``) into ``model``.

    Raises :class:`~benchmark.scorers.resnext.CheckpointMismatchError` when the file is unreadable, has no
    ``model_state`` or its tensors do not fit (torch's message names the keys).
    """
    path = Path(path)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointMismatchError(f"{path} is not a readable torch checkpoint (weights only): {exc}") from exc
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("model_state"), dict):
        found = sorted(checkpoint)[:5] if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise CheckpointMismatchError(f"{path} has no 'model_state' dict (pytorchvideo model-zoo format); "
                                      f"found {found}")
    try:
        model.load_state_dict(checkpoint["model_state"], strict=True)
    except RuntimeError as exc:
        detail = " ".join(str(exc).split())  # torch's message spans lines
        raise CheckpointMismatchError(f"{path} does not fit the {type(model).__name__} network: {detail}") from None


def hub_checkpoint_dir() -> Path:
    """Where ``torch.hub`` keeps downloaded checkpoints: ``$TORCH_HOME/hub/checkpoints`` (``torch.hub.get_dir()``)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


# ---------------------------------------------------------------------------------------------- the scorer


@dataclasses.dataclass(frozen=True)
class Config:
    """Settings of ``video-pytorchvideo``.

    ``model``: a key of :data:`MODELS`; ``weights``: the checkpoint (else ``$GAITBENCH_PYTORCHVIDEO_WEIGHTS``,
    else the torch hub cache's copy of the official file); ``targets``: the classes whose probabilities are
    summed; ``labels``: a class-per-line file in the checkpoint's output order (None: Kinetics-400);
    ``fps``: frame rate of frames scored with :meth:`~PyTorchVideoScorer.score_frames` (``score`` uses the
    sequence's own); ``side_size``/``crop_size``: override the model's (None: as in the table above);
    ``batch_size``: clips per forward pass.
    """

    model: str = "x3d_s"
    weights: Path | None = None
    targets: tuple[str, ...] = DEFAULT_TARGETS
    labels: Path | None = None
    fps: float = 25.0
    side_size: int | None = None
    crop_size: int | None = None
    batch_size: int = 4

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            close = difflib.get_close_matches(self.model, list(MODELS), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"unknown model {self.model!r}{hint} (known: {', '.join(MODELS)})")
        if not self.targets or len(set(self.targets)) != len(self.targets):
            raise ValueError(f"targets must name at least one class, each once, got {list(self.targets)}")
        if not self.fps > 0:
            raise ValueError(f"fps must be positive, got {self.fps}")
        check_batch_size(self.batch_size)
        for key in ("side_size", "crop_size"):
            value = getattr(self, key)
            if value is not None and value < 32:
                raise ValueError(f"{key} must be >= 32 (the networks stride 32 in space), got {value}")
        spec = MODELS[self.model]
        if (self.crop_size or spec.crop_size) > (self.side_size or spec.side_size):
            raise ValueError(f"crop_size {self.crop_size or spec.crop_size} exceeds side_size "
                             f"{self.side_size or spec.side_size}")


class PyTorchVideoScorer(Scorer):
    """Video scorer: a pytorchvideo Kinetics-400 model's summed probability of the target classes per clip."""

    name: ClassVar[str] = "video-pytorchvideo"
    level: ClassVar[str] = "video"
    offline: ClassVar[bool] = False
    Config: ClassVar[type] = Config

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        c = self.config
        labels = c.labels if c.labels is not None else LABELS_FILE
        self.classes: tuple[str, ...] = read_labels(labels)
        unknown = [t for t in c.targets if t not in self.classes]
        if unknown:
            hints = {t: difflib.get_close_matches(t, self.classes, n=2) for t in unknown}
            raise ValueError(f"targets {unknown} are not among the {len(self.classes)} classes of {labels} "
                             f"(close: {hints})")
        self.target_indices: tuple[int, ...] = tuple(self.classes.index(t) for t in c.targets)
        base = MODELS[c.model]
        self.spec = dataclasses.replace(base, side_size=c.side_size or base.side_size,
                                        crop_size=c.crop_size or base.crop_size)
        self._model: nn.Module | None = None
        self.weights_path: Path | None = None

    def weights_file(self) -> Path:
        return find_weights(self.config.weights, filename=self.spec.checkpoint, env_var=WEIGHTS_ENV,
                            default_dir=hub_checkpoint_dir(), source=WEIGHTS_SOURCE + self.spec.checkpoint)

    @property
    def model(self) -> nn.Module:
        """The network with its weights (loaded on first use), in eval mode on :attr:`device`."""
        if self._model is None:
            path = self.weights_file()
            model = build_model(self.config.model, len(self.classes))
            load_hub_checkpoint(model, path)
            self._model, self.weights_path = model.eval().to(self.device), path
        return self._model

    @property
    def label(self) -> str:
        c, s = self.config, self.spec
        name = (self.weights_path or c.weights or Path(os.environ.get(WEIGHTS_ENV) or s.checkpoint)).name
        target = " + ".join(f"{t!r}" for t in c.targets)
        span = s.num_frames * s.sampling_rate / MODEL_FPS
        return (f"pytorchvideo {c.model} ({name}) P({target}) over {len(self.classes)} classes, "
                f"{s.num_frames}x{s.crop_size}x{s.crop_size} clips of {span:.2f} s")

    def score_frames(self, frames: np.ndarray, silhouettes: np.ndarray | None = None,
                     fps: float | None = None) -> np.ndarray:
        """Summed P(targets) ``float64 (n_clips,)`` of the clips of RGB ``uint8 (T, H, W, 3)`` at ``fps``.

        ``fps`` defaults to the config's; the clips are those of :func:`clip_frame_indices`.
        """
        check_frames(frames)
        model, s = self.model, self.spec
        index = clip_frame_indices(len(frames), s, fps or self.config.fps)  # (n_clips, num_frames)
        targets = list(self.target_indices)
        out = []
        for start in range(0, len(index), self.config.batch_size):
            x = np.stack([preprocess_clip(frames[i], s.side_size, s.crop_size)
                          for i in index[start : start + self.config.batch_size]])  # (B, 3, T, S, S)
            probs = clip_probabilities(model, torch.from_numpy(x).to(self.device), s.num_frames)  # (B, C)
            out.append(probs[:, targets].sum(dim=1).double().cpu().numpy())
        return np.clip(np.concatenate(out), 0.0, 1.0)

    def score(self, seq: GaitSequence) -> SequenceScore:
        """Score a sequence's colour frames at the sequence's own frame rate."""
        frames = require_frames(seq, self.name)
        return SequenceScore.of(self.score_frames(frames, seq.silhouettes, fps=seq.fps))
