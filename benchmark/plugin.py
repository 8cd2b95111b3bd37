"""What every plug-in is: a named, configurable, checkpointable object (anonymizers, recognizers, scorers).

:class:`Plugin` holds what the three kinds share, written once: a frozen ``Config`` dataclass checked at
construction, :meth:`Plugin.make_config` (defaults, then a TOML file, then overrides; unknown keys and wrong types
raise naming the key), the device, the training record, and checkpoints in the one format of
:mod:`benchmark.checkpoints` (:meth:`Plugin.save`, :meth:`Plugin.load`: the class is looked up in its kind's
registry by the name the file records). A kind's base (:class:`benchmark.anonymizer.Anonymizer`,
:class:`benchmark.recognizer.Recognizer`, :class:`benchmark.scorers.base.Scorer`) adds what it does with data.

The registry checks a class when it is registered or first loaded (:func:`check_plugin_class`): it must extend its
kind's base, implement every abstract method, and have a dataclass ``Config`` with the fields its kind requires
(``required_config``; a recognizer's ``height`` and ``width``), so that a plug-in missing one fails at
registration with the field's name rather than later with an ``AttributeError``.
"""

from __future__ import annotations

import abc
import dataclasses
import inspect
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np

from benchmark.checkpoints import CheckpointError, read_checkpoint, write_checkpoint
from benchmark.config import ConfigError, from_mapping, load_toml

P = TypeVar("P", bound="Plugin")


class Plugin(abc.ABC):
    """Base of every plug-in kind; a concrete plug-in sets ``name`` and ``Config``.

    Parameters
    ----------
    config : Config dataclass, optional
        The plug-in's frozen config (defaults when None).
    """

    #: the registry kind (``anonymizer``, ``recognizer``, ``scorer``); set by each kind's base
    kind: ClassVar[str]
    name: ClassVar[str]
    Config: ClassVar[type]
    #: whether :attr:`training` must be filled (by fitting or loading) before use
    trainable: ClassVar[bool] = False
    #: True on a kind's base class only: loading a checkpoint through it looks the class up in the registry
    kind_base: ClassVar[bool] = False
    #: config fields, and class attributes, every plug-in of this kind must have (checked at registration)
    required_config: ClassVar[tuple[str, ...]] = ()
    required_attributes: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: Any = None) -> None:
        if config is None:
            config = self.Config()
        if not isinstance(config, self.Config):
            raise TypeError(f"{self.name} needs a {self.Config.__name__}, got {type(config).__name__}")
        self.check_config(config)
        self.config: Any = config
        self.device = "cpu"
        #: what it learned from and how (saved in the checkpoint); None until trained, {} for untrained plug-ins
        self.training: dict[str, Any] | None = None if self.trainable else {}

    # ------------------------------------------------------------------ configs

    @classmethod
    def make_config(cls, path: str | os.PathLike[str] | None = None, **overrides: Any) -> Any:
        """Defaults, then the TOML file ``path`` (unknown keys raise), then ``overrides`` (None values skipped)."""
        config = load_toml(cls.Config, Path(path)) if path is not None else cls.Config()
        changes = {k: v for k, v in overrides.items() if v is not None}
        if changes:
            config = from_mapping(cls.Config, {**dataclasses.asdict(config), **changes}, f"{cls.name} config")
        return config

    @classmethod
    def check_config(cls, config: Any) -> None:
        """``ValueError`` naming the key and value for settings no plug-in can mean, by the conventions every
        config follows: every number finite; ``epochs`` and ``*_epochs`` >= 0; ``lr`` and ``*_lr`` > 0; ``batch``,
        ``*_batch`` and ``batch_size`` >= 1; ``rank`` >= 1; ``seed`` >= 0. A kind or a plug-in adds its own rules
        (override and call this one) or checks in its Config's ``__post_init__``."""
        for f in dataclasses.fields(config):
            value = getattr(config, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            name = f.name
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{cls.name} config: {name} must be a finite number, got {value}")
            rule = None
            if name == "epochs" or name.endswith("_epochs") or name == "seed":
                rule = (value >= 0, ">= 0")
            elif name == "lr" or name.endswith("_lr"):
                rule = (value > 0, "> 0")
            elif name in ("batch", "batch_size", "rank") or name.endswith("_batch"):
                rule = (value >= 1, ">= 1")
            if rule is not None and not rule[0]:
                raise ValueError(f"{cls.name} config: {name} must be {rule[1]}, got {value}")

    def config_record(self) -> dict[str, Any]:
        """The config as JSON-ready values (paths as strings)."""
        return dict(json.loads(json.dumps(dataclasses.asdict(self.config), default=str)))

    def to(self: P, device: str) -> P:
        """Run on ``device`` (``auto``, ``cpu``, ``cuda``...); plug-ins without networks ignore it."""
        self.device = device
        return self

    # ------------------------------------------------------------------ checkpoints

    def state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Learned arrays and JSON-ready extras for the checkpoint; none for plug-ins that learn nothing."""
        return {}, {}

    def set_state(self, arrays: Mapping[str, np.ndarray], extra: Mapping[str, Any]) -> None:
        """Restore from :meth:`state`'s output; raise :class:`CheckpointError` for arrays that do not fit."""
        if arrays:
            raise CheckpointError(f"{self.name} has no learned arrays, the checkpoint holds {sorted(arrays)[:5]}")

    def checkpoint_record(self) -> dict[str, Any]:
        """The JSON record of a checkpoint besides format, kind, name and version (a kind may add keys)."""
        return {"config": self.config_record(), "training": self.training}

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the checkpoint atomically (``.npz``); returns its path."""
        if self.training is None:
            raise RuntimeError(f"{self.name} is not trained: call fit() before save()")
        arrays, extra = self.state()
        return write_checkpoint(path, self.kind, self.name, {**self.checkpoint_record(), "extra": extra}, arrays)

    @classmethod
    def load(cls: type[P], path: str | os.PathLike[str], **checks: Any) -> P:
        """Read a checkpoint written by :meth:`save`; on a kind's base class, any plug-in of that kind.

        ``checks`` go to :meth:`check_checkpoint` (e.g. a recognizer's ``input_size``). Raises
        :class:`CheckpointError` saying why a file cannot be used: another format, kind or plug-in, a config this
        version rejects, arrays that do not fit.
        """
        path = Path(path)
        meta, arrays = read_checkpoint(path, cls.kind)
        target = cls._checkpoint_class(path, str(meta.get("name")))
        try:
            config: Any = from_mapping(target.Config, meta.get("config") or {}, f"{path} config")
        except ConfigError as exc:
            raise CheckpointError(f"{exc}; the checkpoint does not fit this gaitbench version, retrain it") from None
        plugin = target(config)
        plugin.check_checkpoint(path, meta, **checks)
        plugin.set_state(arrays, meta.get("extra") or {})
        plugin.training = meta.get("training") or {}
        return plugin

    @classmethod
    def _checkpoint_class(cls: type[P], path: Path, name: str) -> type[P]:
        if not (inspect.isabstract(cls) or vars(cls).get("kind_base", False)):
            if name != cls.name:
                raise CheckpointError(f"{path} holds {cls.kind} {name!r}, not {cls.name!r}; load it with the "
                                      f"{cls.kind} base class, or pass the right name")
            return cls
        from benchmark.registry import load_plugin_declarations, registry_of

        load_plugin_declarations()
        try:
            target: type[P] = registry_of(cls.kind).get(name)
        except KeyError as exc:
            raise CheckpointError(f"{path}: {exc.args[0]}") from None
        if not issubclass(target, cls):
            raise CheckpointError(f"{path} holds {cls.kind} {name!r}, which is not a {cls.__name__}")
        return target

    def check_checkpoint(self, path: Path, meta: Mapping[str, Any], **checks: Any) -> None:
        """Refuse a checkpoint whose record does not fit what the caller asked for; kinds with checks override."""
        if checks:
            raise TypeError(f"{self.kind} checkpoints take no checks, got {sorted(checks)}")


def check_plugin_class(cls: Any, base: type[Plugin], what: str) -> None:
    """``TypeError`` naming ``what`` (a registry entry or file) unless ``cls`` is a usable plug-in of ``base``'s kind.

    Usable: a subclass of ``base`` implementing every abstract method, with a dataclass ``Config`` that has the
    fields ``base.required_config`` names, and the class attributes ``base.required_attributes`` names.
    """
    if not (inspect.isclass(cls) and issubclass(cls, base)):
        raise TypeError(f"{what} is not a subclass of {base.__module__}.{base.__name__} (every {base.kind} is)")
    if inspect.isabstract(cls):
        missing = ", ".join(sorted(getattr(cls, "__abstractmethods__", ())))
        raise TypeError(f"{what} does not implement {missing}")
    absent = [a for a in base.required_attributes if not hasattr(cls, a)]
    if absent:
        raise TypeError(f"{what} does not set {', '.join(absent)} (every {base.kind} declares it)")
    config = getattr(cls, "Config", None)
    if not dataclasses.is_dataclass(config):
        raise TypeError(f"{what} needs a nested dataclass Config (its settings; an empty one is fine)")
    fields = {f.name for f in dataclasses.fields(config)}
    lacking = [f for f in cls.required_config if f not in fields]
    if lacking:
        raise TypeError(f"{what}: its Config lacks {', '.join(repr(f) for f in lacking)}, which every "
                        f"{base.kind} needs (has: {', '.join(sorted(fields)) or 'none'})")
