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
