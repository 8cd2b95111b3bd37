"""``video-synth``: gaitbench's own action classifier, trained on rendered actions; the score is P(walk) per clip.

The paper's video score is a pretrained action model's probability of "walking". Pretrained weights cannot be
fetched offline, so the suite renders its own small action dataset (:mod:`benchmark.synth.actions`: the
synthetic world's people walking, running, standing, jumping and turning) and trains the small 3D CNN below on
it (``gaitbench action-model``). It never sees anonymized output. Its held-out accuracy (people not trained
on) is stored in the checkpoint and printed by the command: that is the honest figure of what it knows.

Network (:class:`ActionNet`, ours): four Conv3d(3x3x3)-BatchNorm-ReLU blocks of ``w, 2w, 4w, 8w`` channels
(``w = 32`` by default, 1.2 M parameters), the first striding only in space (1, 2, 2), the others in time and
space (2, 2, 2); global average pooling, dropout 0.3, one linear layer.

Preprocessing (:func:`preprocess_clip`): the sequence is cut into non-overlapping 16-frame clips as
``video-resnext101`` does (:func:`benchmark.scorers.resnext.clip_indices`: the last partial clip dropped, a
shorter sequence looped); each frame is resized so its shorter side is ``crop`` px (default 64; the longer side
``int(crop * long / short)``, ``cv2.INTER_AREA`` when shrinking, bilinear when enlarging), centre-cropped to
``crop x crop`` (offsets ``round((size - crop) / 2)``), scaled to [0, 1] and normalised per channel with the
Kinetics-400 mean (0.43216, 0.394666, 0.37645) and std (0.22803, 0.22145, 0.216989) that torchvision's video
models use. Training crops the same resized frames at a random horizontal offset, flips half of the clips
left-right and scales their brightness by 0.8-1.2; scoring uses the centre crop only.

Weights come from the config key ``weights``, the environment variable ``GAITBENCH_ACTION_WEIGHTS``,
``$GAITBENCH_CACHE/weights/synth-action.npz`` or, when none of these is set or present, the model shipped with the
package (:data:`BUNDLED_WEIGHTS`, 1.2 MB: ``gaitbench action-model --clips-per-class 400 --subjects 100 --epochs
20 --width 16 --crop 96``, held-out accuracy 0.95; its provenance is in ``models/synth-action.json`` beside it).
A path that is configured but missing raises :class:`MissingWeightsError` naming the command that makes the file.
Checkpoints are the suite's one format (:mod:`benchmark.checkpoints`): a ``video-synth`` scorer checkpoint whose
arrays are the network's weights and whose ``extra`` record is the model's meta (classes, crop, width, held-out
figures).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
import torch
from torch import nn

from benchmark import __version__
from benchmark.checkpoints import CheckpointError, load_module_arrays, module_arrays, read_checkpoint
from benchmark.io import cache_root
from benchmark.scorers.base import MissingWeightsError, Scorer, check_batch_size, find_weights
from benchmark.scorers.resnext import clip_indices
from benchmark.training import TrainSettings, select_device, train
from benchmark.types import check_frames

CLIP_LENGTH = 16
CROP_SIZE = 64
#: Kinetics-400 statistics on the [0, 1] scale, as torchvision's video classification models normalise
MEAN_RGB: tuple[float, float, float] = (0.43216, 0.394666, 0.37645)
STD_RGB: tuple[float, float, float] = (0.22803, 0.22145, 0.216989)
WEIGHTS_FILE = "synth-action.npz"
WEIGHTS_ENV = "GAITBENCH_ACTION_WEIGHTS"
#: the model shipped inside the package, used when no other checkpoint is configured or cached
BUNDLED_WEIGHTS = Path(__file__).resolve().parent / "models" / WEIGHTS_FILE
MODEL_NAME = "gaitbench synthetic-action 3D CNN"
#: the classes ``gaitbench action-model`` trains on: :data:`benchmark.synth.actions.ACTIONS`, repeated here so
#: that scoring needs torch only (the rendering modules need anny and numba); a test keeps the two equal
ACTIONS: tuple[str, ...] = ("walk", "run", "stand", "jump", "turn")


# ---------------------------------------------------------------------------------------------- preprocessing


def resize_shorter(frames: np.ndarray, size: int) -> np.ndarray:
    """Frames ``uint8 (T, H, W, 3)`` resized so the shorter side is ``size``: ``uint8 (T, h, w, 3)``.

    The longer side becomes ``int(size * long / short)``; ``cv2.INTER_AREA`` when shrinking, bilinear when
    enlarging (Hara et al.'s rule, as ``video-resnext101``).
    """
    check_frames(frames)
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    t, h, w = frames.shape[:3]
    oh, ow = (int(size * h / w), size) if h > w else (size, int(size * w / h))
    if (oh, ow) == (h, w):
        return frames
    interp = cv2.INTER_AREA if min(h, w) > size else cv2.INTER_LINEAR
    return np.stack([cv2.resize(f, (ow, oh), interpolation=interp) for f in frames])


def crop(frames: np.ndarray, size: int, x0: int | None = None) -> np.ndarray:
    """A ``size x size`` window of frames ``(..., h, w, 3)``: centred, or starting at column ``x0``."""
    h, w = frames.shape[-3:-1]
    if min(h, w) < size:
        raise ValueError(f"frames of {h}x{w} are smaller than the crop {size}x{size}")
    y0 = int(round((h - size) / 2))
    x0 = int(round((w - size) / 2)) if x0 is None else x0
    return frames[..., y0 : y0 + size, x0 : x0 + size, :]


def normalise(clips: np.ndarray, mean: Sequence[float] = MEAN_RGB, std: Sequence[float] = STD_RGB) -> np.ndarray:
    """Clips ``(..., T, S, S, 3)`` of 0..255 values -> ``float32 (..., 3, T, S, S)``: ``(x / 255 - mean) / std``."""
    x = (clips.astype(np.float32) / 255.0 - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(np.moveaxis(x, -1, -4))


def preprocess_clip(frames: np.ndarray, size: int = CROP_SIZE) -> np.ndarray:
    """One clip as the network reads it: ``float32 (3, T, size, size)`` from RGB ``uint8 (T, H, W, 3)``."""
    return normalise(crop(resize_shorter(frames, size), size))


# ---------------------------------------------------------------------------------------------- the network


def _block(cin: int, cout: int, stride: tuple[int, int, int]) -> nn.Sequential:
    return nn.Sequential(nn.Conv3d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm3d(cout),
                         nn.ReLU(inplace=True))


class ActionNet(nn.Module):
    """Four Conv3d blocks, pooling and a linear classifier.

    Parameters
    ----------
    num_classes : int
    width : int
        Channels of the first block (doubled by each next one).
    dropout : float

    Input ``float32 (N, 3, T, S, S)``; output logits ``(N, num_classes)``.
    """

    def __init__(self, num_classes: int, width: int = 32, dropout: float = 0.3) -> None:
        super().__init__()
        if num_classes < 2 or width < 1 or not 0.0 <= dropout < 1.0:
            raise ValueError(f"need num_classes >= 2, width >= 1, 0 <= dropout < 1; got {num_classes}, {width}, "
                             f"{dropout}")
        w = width
        self.features = nn.Sequential(
            _block(3, w, (1, 2, 2)),
            _block(w, 2 * w, (2, 2, 2)),
            _block(2 * w, 4 * w, (2, 2, 2)),
            _block(4 * w, 8 * w, (2, 2, 2)),
        )
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(8 * w, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (N, 3, 16, 64, 64) -> (N, w, 16, 32, 32) -> (N, 2w, 8, 16, 16) -> (N, 4w, 4, 8, 8) -> (N, 8w, 2, 4, 4)
        x = self.features(x)
        x = self.pool(x).flatten(1)  # (N, 8w)
        return self.fc(self.drop(x))  # (N, num_classes)


@torch.no_grad()
def clip_probabilities(model: nn.Module, clips: torch.Tensor) -> torch.Tensor:
    """Softmax class probabilities ``(N, C)`` of clips ``(N, 3, T, S, S)`` (model in eval mode), in the clips' dtype."""
    if clips.ndim != 5 or clips.shape[1] != 3:
        raise ValueError(f"clips must have shape (N, 3, T, S, S), got {tuple(clips.shape)}")
    was_training = model.training
    model.eval()
    try:
        return torch.softmax(model(clips), dim=1)
    finally:
        model.train(was_training)


# ---------------------------------------------------------------------------------------------- checkpoints


def save_action_model(path: str | os.PathLike[str], model: ActionNet, meta: Mapping[str, Any]) -> Path:
    """Write ``model``'s weights and the JSON-ready ``meta`` (needs ``classes``, ``crop``, ``width``) atomically, as
    a ``video-synth`` scorer checkpoint (:mod:`benchmark.checkpoints`)."""
    missing = {"classes", "crop", "width"} - set(meta)
    if missing:
        raise ValueError(f"meta lacks {sorted(missing)}")
    scorer = SynthActionScorer()
    scorer._model, scorer.meta = model, json.loads(json.dumps(dict(meta)))
    scorer.training = {k: scorer.meta[k] for k in ("data", "train_clips", "epochs", "heldout") if k in scorer.meta}
    return scorer.save(path)


def load_action_model(path: str | os.PathLike[str]) -> tuple[ActionNet, dict[str, Any]]:
    """The network (eval mode, CPU) and meta of a checkpoint written by :func:`save_action_model`.

    Read with ``allow_pickle=False``; a file of another kind raises :class:`CheckpointError` (a ``ValueError``)
    saying what it is and how to remake it.
    """
    path = Path(path)
    meta, arrays = read_checkpoint(path, "scorer")
    if meta.get("name") != SynthActionScorer.name:
        raise CheckpointError(f"{path} holds scorer {meta.get('name')!r}, not the {SynthActionScorer.name} action "
                              "model; remake it with gaitbench action-model")
    scorer = SynthActionScorer()
    scorer.set_state(arrays, meta.get("extra") or {})
    assert scorer._model is not None and scorer.meta is not None  # set by set_state
    return scorer._model, scorer.meta


def resolve_weights(configured: Path | None) -> Path:
    """The checkpoint: ``configured``, else ``$GAITBENCH_ACTION_WEIGHTS``, else ``$GAITBENCH_CACHE/weights/``,
    else the bundled model (:data:`BUNDLED_WEIGHTS`)."""
    default_dir = cache_root() / "weights"
    try:
        return find_weights(configured, filename=WEIGHTS_FILE, env_var=WEIGHTS_ENV, default_dir=default_dir)
    except MissingWeightsError as exc:  # the same search; only the advice differs (the file is made, not fetched)
        if exc.tried is None and BUNDLED_WEIGHTS.is_file():
            return BUNDLED_WEIGHTS
        path = exc.tried or (default_dir / WEIGHTS_FILE).expanduser()
        raise MissingActionWeightsError(path, default_dir, tried=exc.tried is not None) from None


class MissingActionWeightsError(MissingWeightsError):
    """The action model's checkpoint is missing; unlike downloaded weights, the message says how to make it."""

    def __init__(self, path: Path, default_dir: Path, tried: bool) -> None:
        super().__init__(WEIGHTS_FILE, config_key="weights", env_var=WEIGHTS_ENV, default_dir=default_dir,
                         tried=path if tried else None)
        head = f"weights file {path} does not exist" if tried else f"weights file {WEIGHTS_FILE} not found"
        message = (
            f"{head}: make it with `gaitbench action-model --out {path}` (renders the synthetic action dataset "
            f"and trains the model; a GPU makes it quick), or point the config key 'weights' or the environment "
            f"variable {WEIGHTS_ENV} at an existing one (default place: {default_dir}/{WEIGHTS_FILE})"
        )
        self.args = (message,)
        self.message = message


# ---------------------------------------------------------------------------------------------- training


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """How :func:`train_action_model` trains (all values ours). ``holdout``: fraction of the people kept out
    of training and used for the held-out figures (the last subject numbers)."""

    epochs: int = 30
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 1e-4
    width: int = 32
    crop: int = CROP_SIZE
    dropout: float = 0.3
    label_smoothing: float = 0.05
    holdout: float = 0.2
    seed: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 0 or self.batch_size < 1 or self.width < 1 or self.crop < 16:
            raise ValueError(f"need epochs >= 0, batch_size >= 1, width >= 1 and crop >= 16; got {self}")
        if not 0.0 <= self.holdout < 1.0:
            raise ValueError(f"holdout must lie in [0, 1), got {self.holdout}")


@dataclasses.dataclass
class ClipData:
    """An action dataset in memory: ``clips`` uint8 (N, T, crop, w, 3) resized frames, ``labels`` int64 (N,),
    ``subjects`` int64 (N,), ``views`` int64 (N,) degrees, ``classes`` (label -> action) and the manifest's
    ``fingerprint``."""

    clips: np.ndarray
    labels: np.ndarray
    subjects: np.ndarray
    views: np.ndarray
    classes: tuple[str, ...]
    fingerprint: str

    def split(self, holdout: float) -> tuple[np.ndarray, np.ndarray]:
        """Indices of training and held-out clips: the last ``round(holdout * people)`` people are held out."""
        people = np.unique(self.subjects)
        n = min(len(people) - 1, max(1, int(round(holdout * len(people))))) if holdout > 0 else 0
        held = np.isin(self.subjects, people[len(people) - n :]) if n else np.zeros(len(self.subjects), bool)
        return np.flatnonzero(~held), np.flatnonzero(held)


def load_clips(data_dir: str | os.PathLike[str], size: int = CROP_SIZE) -> ClipData:
    """Read the clips of an action dataset, resized to shorter side ``size`` (see :func:`resize_shorter`)."""
    from benchmark.synth.actions import read_manifest

    root = Path(data_dir)
    manifest = read_manifest(root)
    missing = [c["file"] for c in manifest["clips"] if not (root / c["file"]).is_file()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} clips of {root} are missing (e.g. {missing[0]}): rerun the "
                                "command to finish rendering them")
    clips = []
    for c in manifest["clips"]:
        with np.load(root / c["file"], allow_pickle=False) as z:
            clips.append(resize_shorter(z["frames"], size))
    fingerprint = hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()[:16]
    return ClipData(np.stack(clips), np.array([c["label"] for c in manifest["clips"]], np.int64),
                    np.array([c["subject"] for c in manifest["clips"]], np.int64),
                    np.array([c["view"] for c in manifest["clips"]], np.int64),
                    tuple(manifest["config"]["actions"]), fingerprint)


class _Task:
    """Adapts the action model to :class:`benchmark.training.Task`."""

    def __init__(self, net: ActionNet, data: ClipData, index: np.ndarray, config: TrainConfig) -> None:
        self.net, self.data, self.index, self.config = net, data, index, config
        self.loss = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)

    def modules(self) -> dict[str, nn.Module]:
        return {"net": self.net}

    def optimizers(self, modules: Mapping[str, nn.Module]) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        self._opt = torch.optim.AdamW(modules["net"].parameters(), lr=c.lr, weight_decay=c.weight_decay)
        return {"net": self._opt}

    def schedulers(self, optimizers: Mapping[str, torch.optim.Optimizer]) -> dict[str, Any]:
        return {"net": torch.optim.lr_scheduler.CosineAnnealingLR(optimizers["net"], max(1, self.config.epochs))}

    def plan(self, epoch: int, rng: np.random.Generator) -> Sequence[Any]:
        # Each batch carries its augmentation draws, so that the plan alone decides the epoch.
        order = rng.permutation(self.index)
        spare = self.data.clips.shape[3] - self.config.crop  # free columns for a horizontal shift
        out = []
        for s in range(0, len(order), self.config.batch_size):
            idx = order[s : s + self.config.batch_size]
            out.append({"index": idx, "flip": rng.random(len(idx)) < 0.5,
                        "x0": rng.integers(0, spare + 1, len(idx)), "gain": rng.uniform(0.8, 1.2, len(idx))})
        return out

    def step(self, models: Mapping[str, nn.Module], batch: Any, device: torch.device) -> Mapping[str, float]:
        x = augmented_batch(self.data.clips, batch, self.config.crop)  # (B, 3, T, S, S)
        y = torch.from_numpy(self.data.labels[batch["index"]]).to(device)
        self._opt.zero_grad(set_to_none=True)
        logits = models["net"](torch.from_numpy(x).to(device))
        loss = self.loss(logits, y)
        loss.backward()
        self._opt.step()
        return {"loss": float(loss.detach()), "acc": float((logits.argmax(1) == y).float().mean())}

    def signature(self) -> Mapping[str, Any]:
        return {"model": "gaitbench-synth-action", "config": dataclasses.asdict(self.config),
                "data": self.data.fingerprint,
                "train": hashlib.sha256(np.asarray(self.index, np.int64).tobytes()).hexdigest()[:16]}

    _opt: torch.optim.Optimizer


def augmented_batch(clips: np.ndarray, batch: Mapping[str, np.ndarray], size: int) -> np.ndarray:
    """The network input ``float32 (B, 3, T, size, size)`` of a planned batch: crop at ``x0``, flip, gain."""
    out = []
    for i, flip, x0, gain in zip(batch["index"], batch["flip"], batch["x0"], batch["gain"], strict=True):
        c = crop(clips[i], size, int(x0))  # (T, S, S, 3)
        if flip:
            c = c[:, :, ::-1]
        out.append(np.clip(c.astype(np.float32) * gain, 0, 255).astype(np.uint8))
    return normalise(np.stack(out))


def predict(model: nn.Module, clips: np.ndarray, size: int, device: torch.device | str = "cpu",
            batch_size: int = 32) -> np.ndarray:
    """Class probabilities ``float64 (N, C)`` of resized clips ``uint8 (N, T, size, w, 3)``, centre-cropped."""
    out = []
    for s in range(0, len(clips), batch_size):
        x = torch.from_numpy(normalise(crop(clips[s : s + batch_size], size))).to(device)
        out.append(clip_probabilities(model, x).double().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0))


VIEW_BINS: tuple[int, ...] = (0, 30, 60, 90, 120, 150, 181)


def heldout_report(probs: np.ndarray, labels: np.ndarray, classes: Sequence[str],
                   views: np.ndarray | None = None) -> dict[str, Any]:
    """Held-out figures of class probabilities ``(N, C)`` against ``labels`` ``(N,)``.

    Accuracy overall and per class, the confusion matrix (rows: true class), mean P(walk) per true class, and
    with ``views`` (degrees, ``(N,)``) the accuracy per 30-degree range of views (``"0-29"``, ..., ``"150-180"``).
    """
    if len(labels) == 0:
        return {"n": 0, "accuracy": None, "per_class": dict.fromkeys(classes), "confusion": [],
                "mean_p_walk": dict.fromkeys(classes), "per_view": {}}
    pred = probs.argmax(1)
    conf = np.zeros((len(classes), len(classes)), np.int64)
    np.add.at(conf, (labels, pred), 1)
    per_class = {c: (float(conf[i, i] / conf[i].sum()) if conf[i].sum() else None) for i, c in enumerate(classes)}
    walk = list(classes).index("walk") if "walk" in classes else None
    p_walk = {c: (float(probs[labels == i, walk].mean()) if walk is not None and (labels == i).any() else None)
              for i, c in enumerate(classes)}
    per_view: dict[str, float] = {}
    if views is not None:
        for lo, hi in zip(VIEW_BINS[:-1], VIEW_BINS[1:], strict=True):
            sel = (views >= lo) & (views < hi)
            if sel.any():
                per_view[f"{lo}-{min(hi - 1, 180)}"] = float((pred[sel] == labels[sel]).mean())
    return {"n": int(len(labels)), "accuracy": float((pred == labels).mean()), "per_class": per_class,
            "confusion": conf.tolist(), "mean_p_walk": p_walk, "per_view": per_view}


def train_action_model(
    data_dir: str | os.PathLike[str],
    out_ckpt: str | os.PathLike[str],
    config: TrainConfig | None = None,
    device: str = "auto",
    progress: bool = True,
    stop_after: int | None = None,
) -> dict[str, Any]:
    """Train :class:`ActionNet` on an action dataset through :func:`benchmark.training.train`; write ``out_ckpt``.

    The per-epoch state goes to ``OUT.state.pt`` (a rerun resumes). The people held out (``config.holdout``)
    are scored after training; their figures are returned and stored in the checkpoint's meta.

    Returns
    -------
    dict
        The checkpoint's meta: ``classes``, ``crop``, ``width``, ``heldout`` (see :func:`heldout_report`),
        ``history`` (loss and accuracy per epoch), ``train_clips``, ``label``.
    """
    config = config or TrainConfig()
    data = load_clips(data_dir, config.crop)
    if "walk" not in data.classes:
        raise ValueError(f"the action dataset has no 'walk' class ({list(data.classes)}); the scorer needs it")
    train_idx, held_idx = data.split(config.holdout)
    torch.manual_seed(config.seed)  # the initial weights
    net = ActionNet(len(data.classes), config.width, config.dropout)
    out = Path(out_ckpt)
    state = out.with_name(out.stem + ".state.pt")
    result = train(_Task(net, data, train_idx, config),
                   TrainSettings(epochs=config.epochs, seed=config.seed, device=device, state_path=state,
                                 progress=progress, stop_after=stop_after, name="action-model"))
    dev = select_device(device)
    held = heldout_report(predict(net, data.clips[held_idx], config.crop, dev), data.labels[held_idx],
                          data.classes, data.views[held_idx])
    net.to("cpu")
    meta: dict[str, Any] = {
        "classes": list(data.classes), "crop": config.crop, "width": config.width, "clip_length": CLIP_LENGTH,
        "mean": list(MEAN_RGB), "std": list(STD_RGB), "config": dataclasses.asdict(config),
        "data": {"dir": str(data_dir), "fingerprint": data.fingerprint, "clips": int(len(data.labels)),
                 "people": int(len(np.unique(data.subjects)))},
        "train_clips": int(len(train_idx)), "heldout": held, "epochs": result.epochs,
        "history": [{"epoch": h["epoch"], **h["losses"]} for h in result.history],
        "gaitbench_version": __version__,
    }
    meta["label"] = model_label(data.classes, held["accuracy"])
    save_action_model(out, net, meta)
    return meta


def model_label(classes: Sequence[str], accuracy: float | None = None) -> str:
    """What the model is, for tables: classes, what it was trained on, and its held-out accuracy when known."""
    acc = f", held-out accuracy {accuracy:.2f}" if accuracy is not None else ""
    return f"{MODEL_NAME} ({'/'.join(classes)}), trained on rendered actions, not on anonymized data{acc}"


# ---------------------------------------------------------------------------------------------- the scorer


@dataclasses.dataclass(frozen=True)
class Config:
    """Settings of ``video-synth``: ``weights`` (else ``$GAITBENCH_ACTION_WEIGHTS``, else
    ``$GAITBENCH_CACHE/weights/synth-action.npz``), ``target`` (the class scored), ``batch_size`` (clips per pass)."""

    weights: Path | None = None
    target: str = "walk"
    batch_size: int = 8

    def __post_init__(self) -> None:
        check_batch_size(self.batch_size)
        if self.target not in ACTIONS:
            raise ValueError(f"target {self.target!r} is not an action of the model; known: {', '.join(ACTIONS)}")


class SynthActionScorer(Scorer):
    """Video scorer: the probability that gaitbench's synthetic-action 3D CNN sees ``walk`` in each 16-frame clip."""

    name: ClassVar[str] = "video-synth"
    level: ClassVar[str] = "video"
    Config: ClassVar[type] = Config
    trainer: ClassVar[str | None] = "action_model"

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self._model: ActionNet | None = None
        self.meta: dict[str, Any] | None = None
        self.weights_path: Path | None = None

    def weights_file(self) -> Path:
        return resolve_weights(self.config.weights)

    def state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        if self._model is None or self.meta is None:
            raise RuntimeError("video-synth has no model to save: train one with gaitbench action-model")
        return module_arrays({"": self._model}), dict(self.meta)

    def set_state(self, arrays: Mapping[str, np.ndarray], extra: Mapping[str, Any]) -> None:
        try:
            model = ActionNet(len(extra["classes"]), int(extra["width"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{self.name}: the checkpoint's record does not describe a network: {exc}") from None
        load_module_arrays(self.name, {"": model}, arrays)
        self._model, self.meta = model.float().eval(), dict(extra)

    @property
    def model(self) -> ActionNet:
        """The network with its weights (loaded on first use), in eval mode on :attr:`device`."""
        if self._model is None:
            path = self.weights_file()
            model, meta = load_action_model(path)
            if self.config.target not in meta["classes"]:
                raise ValueError(f"{path} was trained on {meta['classes']}, which lack the target "
                                 f"{self.config.target!r}")
            # Scored in float64: float32 convolutions round differently with each CPU's kernels (oneDNN picks
            # AVX-512 or AVX2 code), float64 makes the scores the same to ~1e-12 on every machine; the network is
            # small enough that this costs little.
            model = model.to(device=self.device, dtype=torch.float64)
            self._model, self.meta, self.weights_path = model, meta, path
        return self._model

    @property
    def label(self) -> str:
        meta: dict[str, Any] = self.meta or {}
        held = (meta.get("heldout") or {}).get("accuracy")
        name = (self.weights_path or self.config.weights or Path(WEIGHTS_FILE)).name
        return (f"{model_label(meta.get('classes', ACTIONS), held)}; P({self.config.target!r}) per "
                f"{CLIP_LENGTH}-frame clip ({name})")

    def score_frames(self, frames: np.ndarray, silhouettes: np.ndarray | None = None) -> np.ndarray:
        """P(target) ``float64 (n_clips,)`` of the 16-frame clips of ``frames`` (uint8 (T, H, W, 3), RGB)."""
        check_frames(frames)
        model = self.model
        assert self.meta is not None  # set with the model
        size, target = int(self.meta["crop"]), list(self.meta["classes"]).index(self.config.target)
        index = clip_indices(len(frames), CLIP_LENGTH)  # (n_clips, 16)
        out = []
        for s in range(0, len(index), self.config.batch_size):
            x = np.stack([preprocess_clip(frames[i], size) for i in index[s : s + self.config.batch_size]])
            probs = clip_probabilities(model, torch.from_numpy(x).to(self.device, torch.float64))  # (B, C)
            out.append(probs[:, target].double().cpu().numpy())
        return np.clip(np.concatenate(out), 0.0, 1.0)


def print_report(meta: Mapping[str, Any], file: Any = None) -> None:
    """Print the held-out figures of a trained model (per class accuracy, mean P(walk), confusion matrix)."""
    file = file or sys.stdout
    held = meta["heldout"]
    classes = meta["classes"]
    print(meta["label"], file=file)
    if not held["n"]:
        print("no held-out people (holdout 0): no honest accuracy figure", file=file)
        return
    print(f"held-out people: {held['n']} clips, accuracy {held['accuracy']:.3f}", file=file)
    print(f"{'class':<8}{'accuracy':>10}{'P(walk)':>10}   confusion (predicted: {' '.join(classes)})", file=file)
    for c, row in zip(classes, held["confusion"], strict=True):
        acc, pw = held["per_class"][c], held["mean_p_walk"][c]
        acc_s = f"{acc:.3f}" if acc is not None else "-"
        pw_s = f"{pw:.3f}" if pw is not None else "-"
        print(f"{c:<8}{acc_s:>10}{pw_s:>10}   {' '.join(f'{v:4d}' for v in row)}", file=file)
    if held.get("per_view"):
        print("accuracy by view: " + ", ".join(f"{k}: {v:.3f}" for k, v in held["per_view"].items()), file=file)
