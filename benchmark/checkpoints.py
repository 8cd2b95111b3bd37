"""The one checkpoint format of every trained model: an ``.npz`` of named arrays plus one JSON record.

Anonymizers, recognizers and the ``video-synth`` scorer's action model all write this format
(:meth:`benchmark.plugin.Plugin.save`). Files are read with ``allow_pickle=False``, so loading a checkpoint never
runs code. The JSON record (array ``__meta__``) holds:

=====================  ==========================================================================================
``format``             ``"gaitbench-checkpoint"``
``format_version``     :data:`FORMAT_VERSION`; another version is refused with the command that remakes the file
``kind``               ``anonymizer``, ``recognizer`` or ``scorer``: the registry the plug-in is looked up in
``name``               the plug-in's registered name (``stgan``, ``gaitset``, ``video-synth``...)
``gaitbench_version``  the writer's version; the same major.minor is required
``config``             the plug-in's config (its frozen dataclass as JSON)
``training``           what it was trained on and how (subjects, epochs, seconds...); ``{}`` for untrained ones
``extra``              JSON-ready model facts its arrays need (class lists, widths...)
=====================  ==========================================================================================

A plug-in may add keys of its own (a recognizer stores its ``input``).
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
FORMAT = "gaitbench-checkpoint"
#: 2: one format for every kind (1 had ``gaitbench-recognizer`` / ``gaitbench-anonymizer`` and a torch file)
FORMAT_VERSION = 2
KINDS: tuple[str, ...] = ("anonymizer", "recognizer", "scorer")
#: the command that remakes a checkpoint of each kind
REMAKE = {"anonymizer": "gaitbench train anonymizer", "recognizer": "gaitbench train recognizer",
          "scorer": "gaitbench action-model"}


class CheckpointError(ValueError):
    """A checkpoint cannot be used here; the message says why and what to do."""


def version_key(version: str) -> tuple[str, ...]:
    """``major.minor``: the part of a version that must match for checkpoints to be exchanged."""
    return tuple(version.split(".")[:2])


def write_checkpoint(
    path: str | os.PathLike[str], kind: str, name: str, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]
) -> Path:
    """Write ``arrays`` and the JSON record (``meta`` plus format, kind, name, version) atomically; returns the path.

    ``meta`` must be JSON-ready; ``config``, ``training`` and ``extra`` default to empty tables.
    """
    if kind not in KINDS:
        raise ValueError(f"checkpoint kind {kind!r} is not one of {', '.join(KINDS)}")
    bad = [k for k in arrays if k == META_KEY or "/" in k]
    if bad:
        raise ValueError(f"array names {bad} are reserved or contain '/'")
    record = {"config": {}, "training": {}, "extra": {}, **dict(meta), "format": FORMAT,
              "format_version": FORMAT_VERSION, "kind": kind, "name": name, "gaitbench_version": __version__}
    blob = np.frombuffer(json.dumps(record, sort_keys=True).encode(), dtype=np.uint8)
    path = Path(path)
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, **{META_KEY: blob}, **arrays)  # type: ignore[arg-type]
    return path


def read_checkpoint(path: str | os.PathLike[str], kind: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The JSON record and arrays of a checkpoint of ``kind``, with format, kind and version checked.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    CheckpointError
        Not a gaitbench checkpoint, another format version, kind or gaitbench major.minor; the message names the
        file and the command that remakes it.
    """
    path = Path(path)
    remake = REMAKE.get(kind, "gaitbench")
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as npz:
            if META_KEY not in npz.files:
                raise CheckpointError(f"{path} is not a gaitbench checkpoint (no {META_KEY} record)")
            meta = json.loads(npz[META_KEY].tobytes().decode())
            arrays = {k: npz[k] for k in npz.files if k != META_KEY}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        if isinstance(exc, CheckpointError):
            raise
        raise CheckpointError(f"{path} is not a gaitbench checkpoint: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise CheckpointError(f"{path} is not a gaitbench checkpoint (format {found!r}, expected {FORMAT!r})")
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format {meta.get('format_version')}, this gaitbench reads "
            f"{FORMAT_VERSION}; remake it with `{remake}`"
        )
    if meta.get("kind") != kind:
        raise CheckpointError(f"{path} holds {meta.get('kind')} {meta.get('name')!r}, not a {kind}")
    written_by = str(meta.get("gaitbench_version"))
    if version_key(written_by) != version_key(__version__):
        raise CheckpointError(
            f"{path} was written by gaitbench {written_by}, which is incompatible with this gaitbench {__version__} "
            f"(major.minor must match); remake it with `{remake}` or use gaitbench "
            f"{'.'.join(version_key(written_by))}.x"
        )
    return meta, arrays


def module_arrays(modules: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """``{"<module>.<param>": array}`` of torch modules (``""`` as a name: no prefix), for a checkpoint."""
    return {_prefix(name) + k: v.detach().cpu().numpy() for name, m in modules.items()
            for k, v in m.state_dict().items()}


def load_module_arrays(owner: str, modules: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
    """Restore :func:`module_arrays` output into ``modules`` (left in eval mode).

    :class:`CheckpointError` naming ``owner`` and the first arrays that are missing, unexpected or of another
    shape than the modules (built from the checkpoint's config) expect.
    """
    import torch

    want = {_prefix(name) + k: v for name, m in modules.items() for k, v in m.state_dict().items()}
    missing = sorted(set(want) - set(arrays))
    unexpected = sorted(set(arrays) - set(want))
    if missing or unexpected:
        raise CheckpointError(f"{owner} checkpoint does not fit the model its config builds: missing arrays "
                              f"{missing[:5]}, unexpected {unexpected[:5]}")
    for key, tensor in want.items():
        if tuple(arrays[key].shape) != tuple(tensor.shape):
            raise CheckpointError(
                f"{owner} checkpoint array {key!r} has shape {tuple(arrays[key].shape)}, the model its config "
                f"builds expects {tuple(tensor.shape)} (another input size or layer width?)"
            )
    for name, m in modules.items():
        prefix = _prefix(name)
        m.load_state_dict({k[len(prefix):]: torch.from_numpy(np.array(v)) for k, v in arrays.items()
                           if k.startswith(prefix)})
        m.eval()


def _prefix(name: str) -> str:
    return f"{name}." if name else ""
