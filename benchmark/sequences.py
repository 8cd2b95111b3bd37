"""What recognizers consume: size-normalised sequences with their labels, loaded from a CASIA-B tree.

A recognizer declares an :class:`InputSpec` (size, and whether it wants one GEI per sequence or the frames);
:func:`load_sequences` reads a tree through the decoded cache (:func:`benchmark.data.cache.load_normalized`)
a few subjects at a time and keeps only what the spec asks for, so a GEI model never holds every frame in memory.
:func:`training_fingerprint` names the data a model was trained on (subjects and, for a synthetic world, its
manifest), so that checkpoints can be checked against the data they are evaluated on.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.data.casia import SEQUENCE_NAME_RE, CasiaB, condition_order
from benchmark.io import cache_root
from benchmark.silhouettes import MIN_FOREGROUND_PIXELS, gei, normalize_uint8
from benchmark.types import GaitSequence

KINDS = ("gei", "frames", "pose")
#: a pose input's item: BlazePose's 33 landmarks x (x px, y px, z, visibility) per frame (benchmark.pose)
POSE_SHAPE = (33, 4)


class NoUsableSequences(ValueError):
    """A selection of which no sequence has a usable frame (no foreground pixel, or no person BlazePose finds)."""


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """What a recognizer reads: ``height x width`` normalised silhouettes, as one GEI or as frames; or BlazePose
    landmarks of every ``step``-th frame of the colour video (kind ``pose``)."""

    height: int
    width: int
    kind: str = "gei"
    step: int = 1

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"input kind must be one of {KINDS}, got {self.kind!r}")
        if isinstance(self.step, bool) or not isinstance(self.step, int) or self.step < 1:
            raise ValueError(f"step must be a whole number >= 1, got {self.step!r}")
        if self.step != 1 and self.kind != "pose":
            raise ValueError(f"step {self.step} is for pose inputs only (silhouette inputs read every frame)")
        if self.kind == "pose":
            if (self.height, self.width) != POSE_SHAPE:
                raise ValueError(f"a pose input is {POSE_SHAPE} per frame (landmarks x values), got "
                                 f"{self.height}x{self.width}")
        elif self.height < 8 or self.width < 8:
            raise ValueError(f"input size must be at least 8x8, got {self.height}x{self.width}")

    def prepare(self, normalized: np.ndarray) -> np.ndarray:
        """``uint8 (T, h, w)`` normalised frames -> ``float32 (h, w)`` GEI, or the frames unchanged."""
        if normalized.shape[1:] != (self.height, self.width):
            raise ValueError(f"frames are {normalized.shape[1:]}, this input spec needs ({self.height}, {self.width})")
        if self.kind == "gei":
            return gei(normalized)
        return normalized


@dataclasses.dataclass(frozen=True, eq=False)
class Sequences:
    """N labelled sequences prepared for one :class:`InputSpec`.

    Parameters
    ----------
    items : tuple of ndarray
        ``float32 (h, w)`` GEIs in [0, 1] when ``spec.kind == "gei"``, else ``uint8 (T_i, h, w)`` frames (0..255).
    subjects, conditions : ndarray, str (N,)
    views : ndarray, int64 (N,)
    spec : InputSpec
    """

    items: tuple[np.ndarray, ...]
    subjects: np.ndarray
    conditions: np.ndarray
    views: np.ndarray
    spec: InputSpec

    def __post_init__(self) -> None:
        n = len(self.items)
        for name in ("subjects", "conditions", "views"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} has {len(getattr(self, name))} entries, items has {n}")
        want = (self.spec.height, self.spec.width)
        for i, item in enumerate(self.items):
            ok = item.shape == want if self.spec.kind == "gei" else (item.ndim == 3 and item.shape[1:] == want)
            if not ok or len(item) == 0:
                raise ValueError(f"item {i} ({self.key(i)}) has shape {item.shape}, the spec needs {self.spec}")

    @classmethod
    def from_normalized(cls, arrays: Mapping[str, np.ndarray], spec: InputSpec) -> Sequences:
        """From ``{"001-nm-01-090": uint8 (T, h, w)}`` as :func:`load_normalized` returns them."""
        subjects, conditions, views, items = [], [], [], []
        for key, frames in arrays.items():
            m = SEQUENCE_NAME_RE.match(key)
            if not m:
                raise ValueError(f"sequence name {key!r} is not like '001-nm-01-090'")
            subjects.append(m["subject"])
            conditions.append(m["condition"])
            views.append(int(m["view"]))
            items.append(spec.prepare(frames))
        return cls.make(items, subjects, conditions, views, spec)

    @classmethod
    def from_gait_sequences(cls, sequences: Iterable[GaitSequence], spec: InputSpec) -> Sequences:
        """Normalise raw :class:`GaitSequence` silhouettes (any frame size) the way the field does."""
        subjects, conditions, views, items = [], [], [], []
        for seq in sequences:
            frames = normalize_uint8(seq.silhouettes, spec.height, spec.width, min_pixels=MIN_FOREGROUND_PIXELS)
            frames = frames[frames.any(axis=(1, 2))]
            if len(frames) == 0:
                raise ValueError(f"sequence {seq.key} has no frame with {MIN_FOREGROUND_PIXELS}+ foreground pixels")
            subjects.append(seq.subject)
            conditions.append(seq.condition)
            views.append(seq.view)
            items.append(spec.prepare(frames))
        return cls.make(items, subjects, conditions, views, spec)

    @classmethod
    def make(
        cls,
        items: Sequence[np.ndarray],
        subjects: Sequence[str],
        conditions: Sequence[str],
        views: Sequence[int],
        spec: InputSpec,
    ) -> Sequences:
        return cls(
            tuple(items),
            np.asarray(subjects, dtype=str),
            np.asarray(conditions, dtype=str),
            np.asarray(views, dtype=np.int64),
            spec,
        )

    @classmethod
    def concat(cls, parts: Sequence[Sequences]) -> Sequences:
        if not parts:
            raise ValueError("nothing to concatenate")
        spec = parts[0].spec
        if any(p.spec != spec for p in parts):
            raise ValueError("cannot concatenate sequences prepared for different input specs")
        return cls.make(
            [it for p in parts for it in p.items],
            [s for p in parts for s in p.subjects],
            [c for p in parts for c in p.conditions],
            [int(v) for p in parts for v in p.views],
            spec,
        )

    def __len__(self) -> int:
        return len(self.items)

    def key(self, i: int) -> str:
        return f"{self.subjects[i]}-{self.conditions[i]}-{int(self.views[i]):03d}"

    @property
    def condition_types(self) -> np.ndarray:
        """``nm``/``bg``/``cl`` per item, str (N,)."""
        return np.asarray([c.split("-", 1)[0] for c in self.conditions], dtype=str)

    def subset(self, index: np.ndarray | Sequence[int]) -> Sequences:
        """The items at ``index`` (int positions or a bool mask of length N)."""
        index = np.asarray(index)
        if index.dtype == np.bool_:
            if index.shape != (len(self),):
                raise ValueError(f"mask has shape {index.shape}, expected ({len(self)},)")
            index = np.flatnonzero(index)
        return Sequences(
            tuple(self.items[int(i)] for i in index),
            self.subjects[index],
            self.conditions[index],
            self.views[index],
            self.spec,
        )

    def geis(self) -> np.ndarray:
        """All GEIs stacked, ``float32 (N, h, w)``; only for ``kind == "gei"``."""
        if self.spec.kind != "gei":
            raise ValueError("these sequences hold frames, not GEIs")
        if not self.items:
            return np.zeros((0, self.spec.height, self.spec.width), np.float32)
        return np.stack(self.items).astype(np.float32, copy=False)


@dataclasses.dataclass(frozen=True)
class Embedding:
    """Embedded sequences: ``features`` (N, ...) in the recognizer's own form, with each sequence's view (N,)."""

    features: np.ndarray
    views: np.ndarray

    def __post_init__(self) -> None:
        if len(self.features) != len(self.views):
            raise ValueError(f"{len(self.features)} features but {len(self.views)} views")

    def __len__(self) -> int:
        return len(self.features)

    def subset(self, index: np.ndarray) -> Embedding:
        return Embedding(self.features[index], self.views[index])


def default_cache_dir() -> Path:
    """Where decoded silhouettes are kept: ``$GAITBENCH_CACHE/normalized`` (default ``~/.cache/gaitbench``)."""
    return cache_root() / "normalized"


def load_sequences(
    root: str | os.PathLike[str],
    spec: InputSpec,
    *,
    subjects: Iterable[str] | None = None,
    conditions: Iterable[str] | None = None,
    views: Iterable[int] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    workers: int | None = None,
    chunk: int = 4,
    allow_empty: bool = False,
) -> Sequences:
    """Read the sequences of a CASIA-B tree that a selection takes, prepared for ``spec``.

    Parameters
    ----------
    root : path
        A CASIA-B silhouette tree (or a synthetic world's folder, whose ``silhouettes/`` is found).
    spec : InputSpec
    subjects, conditions, views : optional
        Selection as for :meth:`benchmark.data.casia.CasiaB.index`; None takes all.
    cache_dir : path, optional
        Decoded-silhouette cache (see :mod:`benchmark.data.cache`); None reads without one.
    workers : int, optional
        Decoding processes (default: every CPU).
    chunk : int
        Subjects decoded at a time; only the prepared items of earlier chunks stay in memory.
    allow_empty : bool
        Return no sequences, instead of raising ``ValueError``, when none of the selection has a usable frame.

    Returns
    -------
    Sequences
        In subject, condition, view order; sequences without a usable frame are left out.
    """
    from benchmark.data.cache import load_normalized

    if spec.kind == "pose":
        refs = CasiaB(root).index(None if subjects is None else sorted(set(subjects)), conditions, views)
        data = _pose_sequences(root, spec, refs, cache_dir, workers)
        if not len(data) and not allow_empty:
            raise NoUsableSequences(f"no sequences with a person found by BlazePose in {root} for subjects "
                             f"{_short(subjects)}, conditions {_short(conditions)}, views {_short(views)}")
        return data
    wanted = sorted(set(subjects)) if subjects is not None else None
    if wanted is None:
        wanted = sorted({r.subject for r in CasiaB(root).index(conditions=conditions, views=views)})
    parts = []
    for start in range(0, len(wanted), max(1, chunk)):
        arrays = load_normalized(
            root,
            height=spec.height,
            width=spec.width,
            workers=workers,
            cache_dir=cache_dir,
            subjects=wanted[start : start + chunk],
            conditions=conditions,
            views=views,
        )
        parts.append(Sequences.from_normalized(arrays, spec))
    if not parts or not sum(len(p) for p in parts):
        if allow_empty:
            return Sequences.make([], [], [], [], spec)
        raise NoUsableSequences(
            f"no sequences in {root} for subjects {_short(wanted)}, conditions {_short(conditions)}, "
            f"views {_short(views)}"
        )
    out = Sequences.concat(parts)
    def key(i: int) -> tuple[str, tuple[int, str], int]:
        return str(out.subjects[i]), condition_order(str(out.conditions[i])), int(out.views[i])

    order = sorted(range(len(out)), key=key)
    return out.subset(order)


def _pose_sequences(root: str | os.PathLike[str], spec: InputSpec, refs: list[Any],
                    cache_dir: str | os.PathLike[str] | None, workers: int | None) -> Sequences:
    """:func:`load_sequences` for ``spec.kind == "pose"``: BlazePose landmarks ``float32 (T, 33, 4)`` of each of
    ``refs``' colour videos, every ``spec.step``-th frame (:func:`benchmark.pose.dataset_keypoints`, cached under
    ``cache_dir``). Sequences in
    which no frame shows a person are left out, as silhouette sequences without a usable frame are."""
    from benchmark.pose import dataset_keypoints

    points = dataset_keypoints(root, refs, cache_dir=cache_dir, workers=workers, step=spec.step) if refs else {}
    kept = sorted((r for r in refs if not np.isnan(points[r.key][:, 0, 0]).all()),
                  key=lambda r: (r.subject, condition_order(r.condition), r.view))
    return Sequences.make([points[r.key] for r in kept], [r.subject for r in kept], [r.condition for r in kept],
                          [r.view for r in kept], spec)


def _short(values: Iterable[Any] | None) -> str:
    if values is None:
        return "all"
    values = list(values)
    text = ", ".join(str(v) for v in values[:6])
    return f"[{text}{', ...' if len(values) > 6 else ''}] ({len(values)})"


def find_manifest(root: str | os.PathLike[str]) -> Path | None:
    """A synthetic world's ``manifest.json`` in ``root`` or its parent (``root`` may be ``<world>/silhouettes``)."""
    root = Path(root)
    for folder in (root, root.parent):
        if (folder / "manifest.json").is_file():
            return folder / "manifest.json"
    return None


def world_identity(root: str | os.PathLike[str]) -> dict[str, Any] | None:
    """Who generated the data under ``root``: generator, version, seed, preset and the manifest's hash.

    None for data without a manifest (e.g. the real CASIA-B).
    """
    path = find_manifest(root)
    if path is None:
        return None
    raw = path.read_bytes()
    try:
        manifest = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from exc
    return {
        "generator": manifest.get("generator"),
        "generator_version": manifest.get("generator_version"),
        "seed": manifest.get("seed"),
        "preset": manifest.get("preset"),
        # Subjects' parameters are in the manifest, so its hash changes when the people change.
        "manifest_sha256": hashlib.sha256(raw).hexdigest(),
    }


def training_fingerprint(root: str | os.PathLike[str] | None, data: Sequences) -> dict[str, Any]:
    """What a model was trained on: subjects, sequence count, the world's identity, and a hash of them all."""
    body = {
        "subjects": sorted(set(data.subjects.tolist())),
        "sequences": len(data),
        "world": None if root is None else world_identity(root),
    }
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]
    return {**body, "sha256": digest}
