"""The interface every recognizer implements.

A recognizer is trained on labelled sequences (:meth:`Recognizer.fit`), turns sequences into embeddings
(:meth:`Recognizer.embed`) and compares two sets of embeddings into a probe x gallery distance matrix
(:meth:`Recognizer.compare`; smaller = more alike). Embedding once and comparing blocks keeps evaluation cheap:
the per-view blocks of the protocol reuse one embedding of the gallery.

Config, device and checkpoints come from :class:`benchmark.plugin.Plugin`. A recognizer's checkpoint also records
its input size, and its training record the training-data fingerprint
(:func:`benchmark.sequences.training_fingerprint`): :meth:`Recognizer.load` refuses, with the reason and what to
do, a file whose input size or fingerprint is not the one asked for.
"""

from __future__ import annotations

import abc
import dataclasses
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from benchmark.checkpoints import CheckpointError
from benchmark.plugin import Plugin
from benchmark.sequences import Embedding, InputSpec, Sequences
from benchmark.training import FitOptions


class Recognizer(Plugin):
    """Base class of gait recognizers; subclasses set ``name``, ``Config`` and implement the abstract methods."""

    kind: ClassVar[str] = "recognizer"
    kind_base: ClassVar[bool] = True
    trainable: ClassVar[bool] = True
    required_config: ClassVar[tuple[str, ...]] = ("height", "width")
    required_attributes: ClassVar[tuple[str, ...]] = ("input_kind",)
    #: True for a recognizer that compares pairs of sequences (slow on a CPU: a run skips its cross-view matrix)
    pairwise: ClassVar[bool] = False
    #: what :attr:`spec` reads: ``"gei"`` (one GEI per sequence) or ``"frames"`` (the normalised silhouettes)
    input_kind: ClassVar[str]

    #: the smallest input height and width a recognizer may read (a GEI of fewer pixels a side holds no gait)
    min_size: ClassVar[int] = 8

    @classmethod
    def check_config(cls, config: Any) -> None:
        super().check_config(config)
        for key in ("height", "width"):
            if key not in cls.required_config:  # a recognizer that reads no image (pose-gait: keypoints)
                continue
            value = getattr(config, key)
            if not isinstance(value, int) or value < cls.min_size:
                raise ValueError(f"{cls.name} config: {key} must be a whole number >= {cls.min_size}, got {value!r}")

    # ------------------------------------------------------------------ what subclasses implement

    @property
    def spec(self) -> InputSpec:
        """The input this recognizer reads: ``input_kind`` at the config's ``height`` x ``width``."""
        return InputSpec(self.config.height, self.config.width, self.input_kind)

    @abc.abstractmethod
    def _fit(self, train: Sequences, options: FitOptions) -> dict[str, Any]:
        """Learn from ``train``; return training figures (epochs, seconds, losses) for the checkpoint."""

    @abc.abstractmethod
    def embed(self, data: Sequences) -> Embedding:
        """Embed sequences prepared for :attr:`spec`."""

    @abc.abstractmethod
    def compare(self, gallery: Embedding, probes: Embedding) -> np.ndarray:
        """Distances ``float64 (P, G)``, probes as rows; smaller = more alike."""

    @abc.abstractmethod
    def state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """What a checkpoint holds: named arrays and JSON-ready extras (e.g. the number of training classes)."""

    @abc.abstractmethod
    def set_state(self, arrays: Mapping[str, np.ndarray], extra: Mapping[str, Any]) -> None:
        """Restore from :meth:`state`'s output; raise :class:`CheckpointError` for arrays that do not fit."""

    # ------------------------------------------------------------------ shared behaviour

    def fit(
        self, train: Sequences, *, fingerprint: dict[str, Any] | None = None, options: FitOptions | None = None
    ) -> Recognizer:
        """Train on labelled sequences (prepared for :attr:`spec`); returns self.

        ``fingerprint`` (see :func:`benchmark.sequences.training_fingerprint`) is stored in the checkpoint.
        """
        if train.spec != self.spec:
            raise ValueError(f"{self.name} reads {self.spec}, the training data was prepared for {train.spec}")
        if len(set(train.subjects.tolist())) < 2:
            raise ValueError(f"{self.name} needs at least 2 training subjects, got {sorted(set(train.subjects))}")
        start = time.perf_counter()
        figures = self._fit(train, options or FitOptions())
        self.training = {
            "fingerprint": fingerprint,
            "subjects": sorted(set(train.subjects.tolist())),
            "sequences": len(train),
            "seconds": round(time.perf_counter() - start, 3),
            **figures,
        }
        return self

    def distance(self, gallery: Sequences, probes: Sequences) -> np.ndarray:
        """``compare(embed(gallery), embed(probes))``: ``float64 (P, G)``."""
        return self.compare(self.embed(gallery), self.embed(probes))

    def _check_fitted(self) -> None:
        if self.training is None:
            raise RuntimeError(f"{self.name} is not trained: call fit() or load a checkpoint first")

    # ------------------------------------------------------------------ checkpoints

    def checkpoint_record(self) -> dict[str, Any]:
        spec = dataclasses.asdict(self.spec)
        if spec["step"] == 1:  # recorded only where it matters (pose inputs read at a lower frame rate)
            del spec["step"]
        return {**super().checkpoint_record(), "input": spec}

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the checkpoint atomically (``.npz``); returns its path."""
        self._check_fitted()
        return super().save(path)

    def check_checkpoint(  # type: ignore[override]  # a kind's checks are its own keyword arguments
        self,
        path: Path,
        meta: Mapping[str, Any],
        *,
        input_size: tuple[int, int] | None = None,
        fingerprint: Mapping[str, Any] | None = None,
    ) -> None:
        """Refuse a checkpoint whose input is not what its config builds or ``input_size`` asks for, or whose
        training fingerprint is not ``fingerprint``'s (compared by ``sha256``)."""
        stored = InputSpec(**meta["input"])
        if stored != self.spec:
            raise CheckpointError(f"{path}: its record says input {stored}, its config builds {self.spec}")
        if input_size is not None and tuple(input_size) != (stored.height, stored.width):
            raise CheckpointError(
                f"{path}: {self.name} reads {stored.height}x{stored.width} inputs, "
                f"{input_size[0]}x{input_size[1]} were asked for"
            )
        if fingerprint is not None:
            have = ((meta.get("training") or {}).get("fingerprint") or {}).get("sha256")
            if have != fingerprint.get("sha256"):
                raise CheckpointError(
                    f"{path} was trained on other data (fingerprint {have}, expected {fingerprint.get('sha256')}); "
                    "retrain it on this data"
                )


def load_recognizer(
    path: str | os.PathLike[str],
    *,
    input_size: tuple[int, int] | None = None,
    fingerprint: Mapping[str, Any] | None = None,
) -> Recognizer:
    """Load any recognizer's checkpoint: the class is looked up in the registry by the name it records.

    ``input_size`` (height, width) refuses a checkpoint whose model reads another size; ``fingerprint`` one
    trained on other data. Raises :class:`CheckpointError` with the reason.
    """
    return Recognizer.load(path, input_size=input_size, fingerprint=fingerprint)


def recognizer_class(name: str) -> type[Recognizer]:
    """The registered class; unknown names raise ``KeyError`` with "did you mean"."""
    from benchmark.registry import RECOGNIZERS, load_plugin_declarations

    load_plugin_declarations()
    cls: type[Recognizer] = RECOGNIZERS.get(name)
    return cls
