"""What the torch recognizers share: training through :func:`benchmark.training.train`, checkpoint arrays from
``state_dict``, batched embedding, and small building blocks.

A model file subclasses :class:`TorchRecognizer` and writes only its architecture (:meth:`build`), its batch
plan (:meth:`plan`), its loss on one planned batch (:meth:`loss`) and its embedding (:meth:`features`).
The optimizer is Adam for all of them (our choice; the lr and weight decay are in each config).
"""

from __future__ import annotations

import abc
import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmark.api import (
    CheckpointError,
    Embedding,
    FitOptions,
    Recognizer,
    Sequences,
    TrainSettings,
    load_module_arrays,
    module_arrays,
    select_device,
    train,
)


def data_signature(data: Sequences) -> str:
    """A short hash of which sequences (keys) a model is trained on; part of the resume signature."""
    keys = "\n".join(data.key(i) for i in range(len(data)))
    return hashlib.sha256(keys.encode()).hexdigest()[:16]


def geis_tensor(data: Sequences, index: Sequence[int] | np.ndarray, device: torch.device) -> torch.Tensor:
    """GEIs of ``data[index]`` as ``float32 (B, 1, h, w)`` in [0, 1] on ``device``."""
    return torch.from_numpy(np.stack([data.items[int(i)] for i in index]))[:, None].to(device)


def batch_all_triplet_loss(features: torch.Tensor, labels: torch.Tensor, margin: float) -> torch.Tensor:
    """Batch-all triplet loss, per strip, averaged over the triplets that violate the margin.

    Parameters
    ----------
    features : Tensor, float (S, N, D)
        ``S`` strips (computed independently), ``N`` sequences.
    labels : Tensor, int (N,)
    margin : float

    Returns
    -------
    Tensor, scalar
        Mean of ``max(0, d(a, p) - d(a, n) + margin)`` over all valid (a, p, n) and strips with a positive value
        (GaitSet's choice: averaging over the hard triplets only keeps the gradient from vanishing); 0 if none.
    """
    dist = torch.cdist(features, features)  # (S, N, N)
    same = labels[:, None] == labels[None, :]  # (N, N)
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    valid = (same & ~eye)[:, :, None] & ~same[:, None, :]  # (N, N_pos, N_neg)
    tri = F.relu(dist[:, :, :, None] - dist[:, :, None, :] + margin)[:, valid]  # (S, triplets)
    hard = (tri > 0).sum()
    return tri.sum() / hard.clamp(min=1)


def triplet_and_ce(features: torch.Tensor, logits: torch.Tensor | None, labels: torch.Tensor, margin: float,
                   ce_weight: float) -> tuple[torch.Tensor, dict[str, float]]:
    """The metric-learning loss of GaitSet and pose-gait: :func:`batch_all_triplet_loss` on ``features`` (S, N, D),
    plus ``ce_weight`` x the cross-entropy of every strip's ``logits`` (S, N, C; None without a classifier)."""
    triplet = batch_all_triplet_loss(features, labels, margin)
    if logits is None:
        return triplet, {"triplet": float(triplet.detach())}
    ce = F.cross_entropy(logits.flatten(0, 1), labels.repeat(logits.shape[0]))  # every strip classifies
    return triplet + ce_weight * ce, {"triplet": float(triplet.detach()), "ce": float(ce.detach())}


class PKSampler:
    """P x K batches: ``p`` subjects drawn without replacement, ``k`` sequences of each (with replacement when a
    subject has fewer). ``usable`` (bool per sequence) leaves sequences out of the draw; subjects left with none
    are never drawn."""

    def __init__(self, subjects: np.ndarray, usable: np.ndarray | None = None) -> None:
        keep = np.ones(len(subjects), bool) if usable is None else np.asarray(usable, bool)
        by_subject = {s: np.flatnonzero((subjects == s) & keep) for s in sorted(set(subjects.tolist()))}
        self.pools = [idx for idx in by_subject.values() if len(idx)]

    def draw(self, p: int, k: int, rng: np.random.Generator) -> np.ndarray:
        """One batch's sequence indices, ``int (min(p, subjects) * k,)``, subject by subject."""
        seqs: list[int] = []
        for s in rng.choice(len(self.pools), min(p, len(self.pools)), replace=False):
            pool = self.pools[s]
            seqs += list(rng.choice(pool, k, replace=len(pool) < k))
        return np.asarray(seqs)


def subject_labels(extra: Mapping[str, Any], subjects: np.ndarray, device: torch.device) -> torch.Tensor:
    """Class indices (N,) of ``subjects`` among the training subjects ``extra["subjects"]``."""
    codes = {s: k for k, s in enumerate(extra["subjects"])}
    return torch.tensor([codes[s] for s in subjects], device=device)


class _Task:
    """Adapts a :class:`TorchRecognizer` to :class:`benchmark.training.Task`."""

    def __init__(self, rec: TorchRecognizer, data: Sequences) -> None:
        self.rec, self.data = rec, data

    def modules(self) -> dict[str, nn.Module]:
        assert self.rec.net is not None  # built by TorchRecognizer._fit before training
        return {"net": self.rec.net}

    def optimizers(self, modules: Mapping[str, nn.Module]) -> dict[str, torch.optim.Optimizer]:
        cfg = self.rec.config
        self._opt = torch.optim.Adam(modules["net"].parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        return {"net": self._opt}

    def plan(self, epoch: int, rng: np.random.Generator) -> Sequence[Any]:
        return self.rec.plan(self.data, epoch, rng)

    def step(self, models: Mapping[str, nn.Module], batch: Any, device: torch.device) -> Mapping[str, float]:
        self._opt.zero_grad(set_to_none=True)
        loss, logs = self.rec.loss(models["net"], self.data, batch, device)
        loss.backward()
        self._opt.step()
        return {"loss": float(loss.detach()), **logs}

    def signature(self) -> Mapping[str, Any]:
        rec = self.rec
        return {
            "recognizer": rec.name,
            "config": json.loads(json.dumps(dataclasses.asdict(rec.config), default=str)),
            "extra": rec.extra,
            "data": data_signature(self.data),
        }

    _opt: torch.optim.Optimizer


class TorchRecognizer(Recognizer):
    """A recognizer whose model is one ``nn.Module`` (``self.net``) trained by the shared loop."""

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        #: facts learned from the training data that the architecture needs (e.g. number of classes)
        self.extra: dict[str, Any] = {}
        self.net: nn.Module | None = None

    # ------------------------------------------------------------------ what a model file writes

    def setup(self, train: Sequences) -> dict[str, Any]:
        """Facts from the training data that :meth:`build` needs (saved in the checkpoint); default none."""
        return {}

    @abc.abstractmethod
    def build(self) -> nn.Module:
        """The network, from ``self.config`` and ``self.extra``."""

    @abc.abstractmethod
    def plan(self, data: Sequences, epoch: int, rng: np.random.Generator) -> list[Any]:
        """The epoch's batches (index arrays), drawn with ``rng``."""

    @abc.abstractmethod
    def loss(
        self, net: nn.Module, data: Sequences, batch: Any, device: torch.device
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Loss of one planned batch, and extra figures to log."""

    @abc.abstractmethod
    def features(self, net: nn.Module, data: Sequences, index: np.ndarray, device: torch.device) -> torch.Tensor:
        """Embeddings of ``data[index]`` (no gradient is taken)."""

    # ------------------------------------------------------------------ shared

    def _fit(self, train_data: Sequences, options: FitOptions) -> dict[str, Any]:
        self.extra = self.setup(train_data)
        torch.manual_seed(self.config.seed)  # the initial weights
        self.net = self.build()
        task = _Task(self, train_data)
        settings = TrainSettings(
            epochs=self.config.epochs,
            seed=self.config.seed,
            device=options.device,
            state_path=options.state_path,
            progress=options.progress,
            stop_after=options.stop_after,
            name=self.name,
        )
        result = train(task, settings)
        self.net.to("cpu")
        return {
            "epochs": result.epochs,
            "epoch_seconds": [round(h["seconds"], 3) for h in result.history],
            "final_losses": result.history[-1]["losses"] if result.history else {},
            "device": result.device,
            "resumed_from": result.resumed_from,
        }

    def embed(self, data: Sequences) -> Embedding:
        self._check_fitted()
        if data.spec != self.spec:
            raise ValueError(f"{self.name} reads {self.spec}, the data was prepared for {data.spec}")
        assert self.net is not None
        device = select_device(self.device)
        net = self.net.to(device).eval()
        out = []
        size = self.config.embed_batch
        with torch.no_grad():
            for start in range(0, len(data), size):
                index = np.arange(start, min(start + size, len(data)))
                out.append(self.features(net, data, index, device).float().cpu().numpy())
        net.to("cpu")
        shape = out[0].shape[1:] if out else (0,)
        feats = np.concatenate(out) if out else np.zeros((0, *shape), np.float32)
        return Embedding(feats, data.views.copy())

    def state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        assert self.net is not None
        return module_arrays({"": self.net}), dict(self.extra)

    def set_state(self, arrays: Mapping[str, np.ndarray], extra: Mapping[str, Any]) -> None:
        self.extra = dict(extra)
        try:
            net = self.build()
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{self.name}: cannot build the model from the checkpoint's record: {exc}") from None
        load_module_arrays(self.name, {"": net}, arrays)
        self.net = net.eval()
