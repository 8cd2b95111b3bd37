"""The interface every recognizer implements, and its checkpoint files.

A recognizer is trained on labelled sequences (:meth:`Recognizer.fit`), turns sequences into embeddings
(:meth:`Recognizer.embed`) and compares two sets of embeddings into a probe x gallery distance matrix
(:meth:`Recognizer.compare`; smaller = more alike). Embedding once and comparing blocks keeps evaluation cheap:
the per-view blocks of the protocol reuse one embedding of the gallery.

**Checkpoints** are ``.npz`` files read with ``allow_pickle=False`` (loading one never runs code). They hold the
recognizer's arrays plus a JSON record ``__meta__``: format version, recognizer name, its config, input size,
the training-data fingerprint (:func:`benchmark.sequences.training_fingerprint`), the gaitbench version and the
training figures. :meth:`Recognizer.load` refuses, with the reason and what to do, a file of another recognizer,
format or gaitbench version (same major.minor required), input size or fingerprint, and arrays whose shapes
do not fit the model its config builds.
"""

from __future__ import annotations

import abc
import dataclasses
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from benchmark import __version__
from benchmark.checkpoints import CHECKPOINT_FORMATS, CheckpointError, write_checkpoint
from benchmark.checkpoints import read_checkpoint as read_npz_checkpoint
from benchmark.config import ConfigError, from_mapping
from benchmark.sequences import Embedding, InputSpec, Sequences
from benchmark.training import FitOptions

CHECKPOINT_FORMAT = CHECKPOINT_FORMATS["recognizer"]


class Recognizer(abc.ABC):
    """Base class of gait recognizers; subclasses set ``name``, ``Config`` and implement the abstract methods.

    Parameters
    ----------
    config : Config dataclass, optional
        The recognizer's frozen config (defaults when None).
    """

    name: ClassVar[str]
    Config: ClassVar[type]
    #: what :attr:`spec` reads: ``"gei"`` (one GEI per sequence) or ``"frames"`` (the normalised silhouettes)
    input_kind: ClassVar[str]

    def __init__(self, config: Any = None) -> None:
        if config is None:
            config = self.Config()
        if not isinstance(config, self.Config):
            raise TypeError(f"{self.name} needs a {self.Config.__name__}, got {type(config).__name__}")
        self.config: Any = config
        self.device = "cpu"
        #: filled by fit: training-data fingerprint, epochs, timings (saved in the checkpoint)
        self.training: dict[str, Any] | None = None

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

    def to(self, device: str) -> Recognizer:
        """Run embedding and comparison on ``device`` (torch recognizers; numpy ones stay on the CPU)."""
        self.device = device
        return self

    def _check_fitted(self) -> None:
        if self.training is None:
            raise RuntimeError(f"{self.name} is not trained: call fit() or load a checkpoint first")

    # ------------------------------------------------------------------ checkpoints

    def meta(self) -> dict[str, Any]:
        return {
            "format": "gaitbench-recognizer",
            "format_version": CHECKPOINT_FORMAT,
            "recognizer": self.name,
            "gaitbench_version": __version__,
            "config": json.loads(json.dumps(dataclasses.asdict(self.config), default=str)),
            "input": dataclasses.asdict(self.spec),
            "training": self.training,
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the checkpoint atomically (``.npz``); returns its path."""
        self._check_fitted()
        arrays, extra = self.state()
        return write_checkpoint(path, {**self.meta(), "extra": extra}, arrays)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        input_size: tuple[int, int] | None = None,
        fingerprint: Mapping[str, Any] | None = None,
    ) -> Recognizer:
        """Read a checkpoint written by :meth:`save`.

        Parameters
        ----------
        path : path
        input_size : (height, width), optional
            Refuse a checkpoint whose model reads another size.
        fingerprint : mapping, optional
            Refuse a checkpoint trained on other data (compared by the fingerprint's ``sha256``).

        Raises
        ------
        CheckpointError
            With the reason: not a checkpoint, other format or gaitbench version, other recognizer,
            a config this version rejects, other input size or fingerprint, arrays that do not fit.
        """
        path = Path(path)
        meta, arrays = read_checkpoint(path)
        if cls is not Recognizer and meta["recognizer"] != cls.name:
            raise CheckpointError(
                f"{path} holds recognizer {meta['recognizer']!r}, not {cls.name!r}; "
                f"load it with recognizers.load_recognizer() or pass the right name"
            )
        if cls is Recognizer:
            from benchmark.registry import RECOGNIZERS, load_plugin_declarations

            load_plugin_declarations()
            try:
                target = RECOGNIZERS.get(meta["recognizer"])
            except KeyError as exc:
                raise CheckpointError(f"{path}: {exc.args[0]}") from None
            loaded: Recognizer = target.load(path, input_size=input_size, fingerprint=fingerprint)
            return loaded
        try:
            config: Any = from_mapping(cls.Config, meta["config"], f"{path} config")
        except ConfigError as exc:
            raise CheckpointError(f"{exc}; the checkpoint does not fit this gaitbench version, retrain it") from None
        rec = cls(config)
        stored = InputSpec(**meta["input"])
        if stored != rec.spec:
            raise CheckpointError(f"{path}: its record says input {stored}, its config builds {rec.spec}")
        if input_size is not None and tuple(input_size) != (stored.height, stored.width):
            raise CheckpointError(
                f"{path}: {cls.name} reads {stored.height}x{stored.width} inputs, "
                f"{input_size[0]}x{input_size[1]} were asked for"
            )
        training = meta.get("training") or {}
        if fingerprint is not None:
            have = (training.get("fingerprint") or {}).get("sha256")
            if have != fingerprint.get("sha256"):
                raise CheckpointError(
                    f"{path} was trained on other data (fingerprint {have}, expected {fingerprint.get('sha256')}); "
                    "retrain it on this data"
                )
        rec.set_state(arrays, meta.get("extra") or {})
        rec.training = training
        return rec


def read_checkpoint(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The meta record and arrays of a recognizer checkpoint, with format and version checked."""
    return read_npz_checkpoint(path, "recognizer", "gaitbench train recognizer")


def load_recognizer(
    path: str | os.PathLike[str],
    *,
    input_size: tuple[int, int] | None = None,
    fingerprint: Mapping[str, Any] | None = None,
) -> Recognizer:
    """Load any recognizer's checkpoint: the class is looked up in the registry by the name it records."""
    return Recognizer.load(path, input_size=input_size, fingerprint=fingerprint)
