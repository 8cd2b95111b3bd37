"""The interface every anonymizer implements, and what trainable ones learn from.

An anonymizer maps one :class:`~benchmark.types.GaitSequence` to another of the same length and frame size
(:meth:`Anonymizer.anonymize`): valid silhouettes always, colour frames too when the input has them. Trainable
methods learn from a :class:`~benchmark.training.TrainSource` (a dataset root and the protocol's subject groups) in
:meth:`Anonymizer.fit`, through the shared loop of :mod:`benchmark.training`. Config, device and checkpoints come
from :class:`benchmark.plugin.Plugin`: methods without learned state save their config only, so every method can
be passed to ``gaitbench anonymize --ckpt``.
"""

from __future__ import annotations

import abc
import dataclasses
import os
import time
from typing import Any, ClassVar

import numpy as np

from benchmark.plugin import Plugin
from benchmark.training import FitOptions, TrainSource, derive_seed
from benchmark.types import GaitSequence


def sequence_seed(seed: int, seq: GaitSequence) -> int:
    """The seed a sequence is anonymized with: stable across runs, different for every sequence and ``seed``."""
    return derive_seed(seed, *(ord(c) for c in seq.key))


class Anonymizer(Plugin):
    """Base class of anonymization methods; subclasses set ``name`` and ``Config`` and implement :meth:`_anonymize`."""

    kind: ClassVar[str] = "anonymizer"
    kind_base: ClassVar[bool] = True
    #: whether :meth:`fit` learns anything (False: usable as constructed)
    trainable: ClassVar[bool] = False
    #: what the method changes: ``contours`` (silhouettes via contour vectors, then Eq. 9 colour) or ``pixels``
    input: ClassVar[str] = "pixels"
    #: True for a method whose output is its input (``identity``): a run reads the clean probes instead
    passthrough: ClassVar[bool] = False
    #: the method's name in figures (default: ``name``)
    title: ClassVar[str] = ""
    #: config fields read when anonymizing and never in training (ST-GAN's ``noise_off`` control): one trained
    #: model serves every value of them (:meth:`training_config`, :meth:`with_inference_options`)
    inference_only: ClassVar[tuple[str, ...]] = ()

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

    # ------------------------------------------------------------------ shared behaviour

    @classmethod
    def training_config(cls, config: Any) -> Any:
        """``config`` with its :attr:`inference_only` fields at their defaults: what training sees, so that
        variants differing only in those fields share one trained model (and one cache key)."""
        defaults = cls.Config()
        return dataclasses.replace(config, **{f: getattr(defaults, f) for f in cls.inference_only})

    def with_inference_options(self, config: Any) -> Anonymizer:
        """Take the :attr:`inference_only` fields of ``config`` (a config of this method) over the loaded ones,
        leaving what was trained as it is; returns self. ``ValueError`` when ``config`` differs from this model's
        in any other field (its training would not be this model's)."""
        if not isinstance(config, self.Config):
            raise TypeError(f"{self.name} needs a {self.Config.__name__}, got {type(config).__name__}")
        trained, wanted = self.training_config(self.config), self.training_config(config)
        if trained != wanted:
            diff = sorted(f.name for f in dataclasses.fields(wanted)
                          if getattr(wanted, f.name) != getattr(trained, f.name))
            raise ValueError(f"{self.name}: the config differs from the trained model's in {diff}, not only in the "
                             f"inference options {list(self.inference_only)}")
        config = dataclasses.replace(self.config, **{f: getattr(config, f) for f in self.inference_only})
        self.check_config(config)
        self.config = config
        return self

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

    def checkpoint_record(self) -> dict[str, Any]:
        return {**super().checkpoint_record(), "parameters": self.parameters()}


def anonymizer_class(name: str) -> type[Anonymizer]:
    """The registered class; unknown names raise ``KeyError`` with "did you mean"."""
    from benchmark.registry import ANONYMIZERS, load_plugin_declarations

    load_plugin_declarations()
    cls: type[Anonymizer] = ANONYMIZERS.get(name)
    return cls


def load_anonymizer(path: str | os.PathLike[str]) -> Anonymizer:
    """Load any anonymizer's checkpoint: the class is looked up in the registry by the name it records."""
    return Anonymizer.load(path)
