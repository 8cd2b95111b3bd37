"""Training a registered recognizer on a protocol's recognizer group: what ``gaitbench train recognizer`` runs."""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from pathlib import Path
from typing import Any

from benchmark.config import from_mapping, load_toml
from benchmark.protocol import load_protocol, protocol_groups
from benchmark.registry import RECOGNIZERS, load_plugin_declarations
from benchmark.sequences import default_cache_dir, load_sequences, training_fingerprint
from benchmark.training import distributed_env
from recognizers.base import FitOptions, Recognizer

#: the protocol group whose subjects train the recognizers (never the test group, never anonymized data)
TRAIN_GROUP = "recognizers"


def recognizer_class(name: str) -> type[Recognizer]:
    """The registered class; unknown names raise ``KeyError`` with "did you mean"."""
    load_plugin_declarations()
    cls: type[Recognizer] = RECOGNIZERS.get(name)
    return cls


def make_config(name: str, path: str | os.PathLike[str] | None = None, **overrides: Any) -> Any:
    """The recognizer's config: defaults, then a TOML file (unknown keys raise), then ``overrides`` (None skipped)."""
    cls = recognizer_class(name)
    config = load_toml(cls.Config, Path(path)) if path is not None else cls.Config()
    changes = {k: v for k, v in overrides.items() if v is not None}
    if changes:
        config = from_mapping(cls.Config, {**dataclasses.asdict(config), **changes}, f"{name} config")
    return config


def train_recognizer(
    name: str,
    data: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    protocol: str = "paper",
    config: Any = None,
    device: str = "auto",
    cache_dir: str | os.PathLike[str] | None = None,
    workers: int | None = None,
    progress: bool = True,
    stop_after: int | None = None,
) -> Recognizer:
    """Train ``name`` on the protocol's ``recognizers`` group of the tree ``data``; save the checkpoint ``out``.

    The per-epoch training state is kept beside ``out`` (``<out>.state.pt``): rerunning the same command after a
    kill resumes from the last finished epoch. ``cache_dir`` defaults to :func:`default_cache_dir`.

    Returns
    -------
    Recognizer
        Trained; ``.training`` holds the fingerprint, the epochs and their seconds.
    """
    cls = recognizer_class(name)
    rec = cls(config)
    proto = load_protocol(protocol)
    if TRAIN_GROUP not in proto.groups:
        raise ValueError(f"protocol {proto.name!r} has no {TRAIN_GROUP!r} group (groups: {list(proto.groups)})")
    group = protocol_groups(data, proto)[TRAIN_GROUP]
    began = time.perf_counter()
    train = load_sequences(
        data, rec.spec, subjects=group, views=proto.views,
        cache_dir=default_cache_dir() if cache_dir is None else cache_dir, workers=workers,
    )
    load_seconds = time.perf_counter() - began
    if progress and distributed_env()[0] == 0:
        print(
            f"[{name}] {len(train)} training sequences of {len(group)} subjects ({proto.name} protocol, group "
            f"{TRAIN_GROUP!r}) read in {load_seconds:.1f} s",
            file=sys.stderr,
        )
    out = Path(out)
    state = out.with_name(out.name + ".state.pt")
    options = FitOptions(device=device, state_path=state, progress=progress, stop_after=stop_after)
    rec.fit(train, fingerprint=training_fingerprint(data, train), options=options)
    assert rec.training is not None
    rec.training.update(protocol=proto.name, group=TRAIN_GROUP, load_seconds=round(load_seconds, 3))
    finished = stop_after is None or rec.training.get("epochs", 0) >= getattr(rec.config, "epochs", 0)
    if finished and distributed_env()[0] == 0:  # under torchrun every rank holds the same weights; one writes
        rec.save(out)
    return rec
