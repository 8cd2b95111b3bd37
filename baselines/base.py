"""The interface every anonymizer implements, what trainable ones learn from, and their checkpoint files.

An anonymizer maps one :class:`~benchmark.types.GaitSequence` to another of the same length and frame size
(:meth:`Anonymizer.anonymize`): valid silhouettes always, colour frames too when the input has them. Trainable
methods learn from a :class:`TrainSource` (a dataset root and the protocol's subject groups) in
:meth:`Anonymizer.fit`, through the shared loop of :mod:`benchmark.training`.

**Checkpoints** (:meth:`Anonymizer.save` / :func:`load_anonymizer`) use the ``.npz`` + JSON record format of
:mod:`benchmark.checkpoints` (``format = "gaitbench-anonymizer"``): the anonymizer's name and config, the
training record, and its arrays. Methods without learned state save their config only, so every method can be
passed to ``gaitbench anonymize --ckpt``.
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
from benchmark.checkpoints import CHECKPOINT_FORMATS, CheckpointError, read_checkpoint, write_checkpoint
from benchmark.config import ConfigError, from_mapping
from benchmark.training import FitOptions, TrainSource, derive_seed
from benchmark.types import GaitSequence


def sequence_seed(seed: int, seq: GaitSequence) -> int:
    """The seed a sequence is anonymized with: stable across runs, different for every sequence and ``seed``."""
    return derive_seed(seed, *(ord(c) for c in seq.key))


class Anonymizer(abc.ABC):
    """Base class of anonymization methods; subclasses set ``name`` and ``Config`` and implement :meth:`_anonymize`.

    Parameters
    ----------
    config : Config dataclass, optional
        The method's frozen config (defaults when None).
    """

    name: ClassVar[str]
    Config: ClassVar[type]
    #: whether :meth:`fit` learns anything (False: usable as constructed)
    trainable: ClassVar[bool] = False

    def __init__(self, config: Any = None) -> None:
        if config is None:
            config = self.Config()
        if not isinstance(config, self.Config):
            raise TypeError(f"{self.name} needs a {self.Config.__name__}, got {type(config).__name__}")
        self.config: Any = config
        self.device = "cpu"
        #: filled by fit: data, epochs, timings (saved in the checkpoint); {} for untrained methods
        self.training: dict[str, Any] | None = None if self.trainable else {}

    # ------------------------------------------------------------------ what subclasses implement

    @abc.abstractmethod
    def _anonymize(self, seq: GaitSequence, rng: np.random.Generator) -> GaitSequence:
        """Anonymize one validated sequence; draw every random number from ``rng``."""

    def _fit(self, source: TrainSource, options: FitOptions) -> dict[str, Any]:
        """Learn from ``source``; return training figures for the checkpoint. Trainable methods override this."""
        return {}

    def parameters(self) -> str:
        """What distinguishes this method's results, as in the ``parameters`` column (e.g. ``alpha=0.3``)."""
        return ""

    def state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Learned arrays and JSON-ready extras for the checkpoint; none for untrained methods."""
        return {}, {}

    def set_state(self, arrays: Mapping[str, np.ndarray], extra: Mapping[str, Any]) -> None:
        """Restore from :meth:`state`'s output; raise :class:`CheckpointError` for arrays that do not fit."""
        if arrays:
            raise CheckpointError(f"{self.name} has no learned arrays, the checkpoint holds {sorted(arrays)[:5]}")

    # ------------------------------------------------------------------ shared behaviour

    def fit(self, source: TrainSource, options: FitOptions | None = None) -> Anonymizer:
        """Train on ``source`` (a no-op for untrained methods); returns self."""
        start = time.perf_counter()
        figures = self._fit(source, options or FitOptions())
        self.training = {"root": str(source.root), "seconds": round(time.perf_counter() - start, 3),
                         "subjects": source.trained_on() if self.trainable else [], **figures}
        return self

    def anonymize(self, seq: GaitSequence, seed: int = 0) -> GaitSequence:
        """The anonymized sequence: same subject, condition, view, length and frame size.

        Silhouettes are always returned; colour frames when ``seq`` has frames (methods that need the background
        image for Eq. 9 say so in their docstring). The same ``seed`` gives the same output.
        """
        if not isinstance(seq, GaitSequence):
            raise TypeError(f"{self.name}.anonymize needs a GaitSequence, got {type(seq).__name__}")
        if self.training is None:
            raise RuntimeError(f"{self.name} is not trained: call fit() or load a checkpoint first")
        out = self._anonymize(seq, np.random.default_rng(sequence_seed(seed, seq)))
        if out.silhouettes.shape != seq.silhouettes.shape:
            raise RuntimeError(f"{self.name} changed the silhouette shape {seq.silhouettes.shape} -> "
                               f"{out.silhouettes.shape}")
        return out

    def to(self, device: str) -> Anonymizer:
        """Run networks on ``device`` (``auto``, ``cpu``, ``cuda``...); methods without networks ignore it."""
        self.device = device
        return self

    # ------------------------------------------------------------------ checkpoints

    def meta(self) -> dict[str, Any]:
        return {
            "format": "gaitbench-anonymizer",
            "format_version": CHECKPOINT_FORMATS["anonymizer"],
            "anonymizer": self.name,
            "gaitbench_version": __version__,
            "config": json.loads(json.dumps(dataclasses.asdict(self.config), default=str)),
            "parameters": self.parameters(),
            "training": self.training,
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the checkpoint atomically (``.npz``); returns its path."""
        if self.training is None:
            raise RuntimeError(f"{self.name} is not trained: call fit() before save()")
        arrays, extra = self.state()
        return write_checkpoint(path, {**self.meta(), "extra": extra}, arrays)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Anonymizer:
        """Read a checkpoint written by :meth:`save` (any anonymizer when called on the base class)."""
        path = Path(path)
        meta, arrays = read_checkpoint(path, "anonymizer", "gaitbench train anonymizer")
        if cls is Anonymizer:
            try:
                target = anonymizer_class(meta["anonymizer"])
            except KeyError as exc:
                raise CheckpointError(f"{path}: {exc.args[0]}") from None
            return target.load(path)
        if meta["anonymizer"] != cls.name:
            raise CheckpointError(f"{path} holds anonymizer {meta['anonymizer']!r}, not {cls.name!r}")
        try:
            config: Any = from_mapping(cls.Config, meta["config"], f"{path} config")
        except ConfigError as exc:
            raise CheckpointError(f"{exc}; the checkpoint does not fit this gaitbench version, retrain it") from None
        anon = cls(config)
        anon.set_state(arrays, meta.get("extra") or {})
        anon.training = meta.get("training") or {}
        return anon


def anonymizer_class(name: str) -> type[Anonymizer]:
    """The registered class; unknown names raise ``KeyError`` with "did you mean"."""
    from benchmark.registry import ANONYMIZERS, load_plugin_declarations

    load_plugin_declarations()
    cls: type[Anonymizer] = ANONYMIZERS.get(name)
    return cls


def load_anonymizer(path: str | os.PathLike[str]) -> Anonymizer:
    """Load any anonymizer's checkpoint: the class is looked up in the registry by the name it records."""
    return Anonymizer.load(path)


def make_config(name: str, path: str | os.PathLike[str] | None = None, **overrides: Any) -> Any:
    """The method's config: defaults, then a TOML file (unknown keys raise), then ``overrides`` (None skipped)."""
    from benchmark.config import load_toml

    cls = anonymizer_class(name)
    config = load_toml(cls.Config, Path(path)) if path is not None else cls.Config()
    changes = {k: v for k, v in overrides.items() if v is not None}
    if changes:
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(cls.Config)})
        if unknown:
            raise ConfigError(f"{name} has no setting {unknown[0]!r} (it has: "
                              f"{', '.join(f.name for f in dataclasses.fields(cls.Config))})")
        config = from_mapping(cls.Config, {**dataclasses.asdict(config), **changes}, f"{name} config")
    return config
