"""Checkpoint files shared by every trained model: an ``.npz`` of named arrays plus one JSON record.

Read with ``allow_pickle=False``, so loading a checkpoint never runs code. The JSON record (array ``__meta__``)
holds at least ``format`` (what kind of model: ``gaitbench-recognizer``, ``gaitbench-anonymizer``),
``format_version`` and ``gaitbench_version``; a file is refused when any of them does not fit this gaitbench
(same major.minor version required), with the reason and what to do.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from benchmark import __version__
from benchmark.io import atomic_path

META_KEY = "__meta__"
#: the current format version of each kind of checkpoint
CHECKPOINT_FORMATS = {"recognizer": 1, "anonymizer": 1}


class CheckpointError(ValueError):
    """A checkpoint cannot be used here; the message says why and what to do."""


def version_key(version: str) -> tuple[str, ...]:
    """``major.minor``: the part of a version that must match for checkpoints to be exchanged."""
    return tuple(version.split(".")[:2])


def write_checkpoint(path: str | os.PathLike[str], meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> Path:
    """Write ``arrays`` and the JSON record ``meta`` atomically to ``path`` (``.npz``); returns the path."""
    bad = [k for k in arrays if k == META_KEY or "/" in k]
    if bad:
        raise ValueError(f"array names {bad} are reserved or contain '/'")
    blob = np.frombuffer(json.dumps(dict(meta), sort_keys=True).encode(), dtype=np.uint8)
    path = Path(path)
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, **{META_KEY: blob}, **arrays)  # type: ignore[arg-type]
    return path


def read_checkpoint(
    path: str | os.PathLike[str], kind: str, retrain: str
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The JSON record and arrays of a checkpoint of ``kind`` (e.g. ``"recognizer"``), with format and version checked.

    ``retrain`` is the command to suggest when the file cannot be used (e.g. ``gaitbench train recognizer``).
    """
    path = Path(path)
    fmt = f"gaitbench-{kind}"
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as npz:
            if META_KEY not in npz.files:
                raise CheckpointError(f"{path} is not a gaitbench {kind} checkpoint (no {META_KEY} record)")
            meta = json.loads(npz[META_KEY].tobytes().decode())
            arrays = {k: npz[k] for k in npz.files if k != META_KEY}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        if isinstance(exc, CheckpointError):
            raise
        raise CheckpointError(f"{path} is not a gaitbench {kind} checkpoint: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != fmt:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise CheckpointError(f"{path} is not a gaitbench {kind} checkpoint (format {found!r})")
    if meta.get("format_version") != CHECKPOINT_FORMATS[kind]:
        raise CheckpointError(
            f"{path} has checkpoint format {meta.get('format_version')}, this gaitbench reads "
            f"{CHECKPOINT_FORMATS[kind]}; retrain it with `{retrain}`"
        )
    written_by = str(meta.get("gaitbench_version"))
    if version_key(written_by) != version_key(__version__):
        raise CheckpointError(
            f"{path} was written by gaitbench {written_by}, which is incompatible with this gaitbench {__version__} "
            f"(major.minor must match); retrain it or use gaitbench {'.'.join(version_key(written_by))}.x"
        )
    return meta, arrays

