"""The pipeline's steps, one function each, called alike by the commands (:mod:`benchmark.cli`) and the runner.

=====================  ==========================================================================================
step                   does
=====================  ==========================================================================================
:func:`train_recognizer`  train a registered recognizer on the protocol's ``recognizers`` group; write its checkpoint
:func:`train_anonymizer`  train a registered anonymizer on the protocol's groups except the test group; write it
:func:`anonymize`      anonymize a selection (default: the test group's probes), refusing a method that trained on
                       a test subject
:func:`evaluate`       one recognizer against the clean gallery and the (anonymized) probes: rows and view matrices
:func:`score`          naturalness rows of a dataset (:func:`benchmark.scoring.score_dataset`)
=====================  ==========================================================================================

Plug-ins are found by name in their registries; nothing here names one. The protocol's groups always come from
:func:`benchmark.protocol.protocol_groups` over the clean tree, so every step sees the same split.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmark.protocol import Protocol, check_training_subjects, load_protocol, protocol_groups
from benchmark.scoring import score_dataset as score
from benchmark.training import FitOptions, TrainSource, distributed_env

if TYPE_CHECKING:
    from benchmark.anonymizer import Anonymizer
    from benchmark.evaluate import EvalSets
    from benchmark.recognizer import Recognizer

__all__ = ["TRAIN_GROUP", "Evaluation", "anonymize", "evaluate", "prepare_anonymizer", "score", "train_anonymizer",
           "train_recognizer", "train_source", "write_view_matrix"]

#: the protocol group whose subjects train the recognizers (never the test group, never anonymized data)
TRAIN_GROUP = "recognizers"


def _protocol(protocol: str | Protocol) -> Protocol:
    return protocol if isinstance(protocol, Protocol) else load_protocol(protocol)


# ---------------------------------------------------------------------------------------------- train


def train_source(data: str | os.PathLike[str], protocol: str | Protocol = "paper",
                 workers: int | None = None) -> TrainSource:
    """The dataset ``data`` with the protocol's groups assigned to its subjects (the test group is left out)."""
    proto = _protocol(protocol)
    groups = {k: v for k, v in protocol_groups(data, proto).items() if k != proto.test_group}
    return TrainSource(root=Path(data), groups=groups, views=proto.views, workers=workers)


def train_anonymizer(
    name: str,
    data: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    protocol: str | Protocol = "paper",
    config: Any = None,
    device: str = "auto",
    workers: int | None = None,
    progress: bool = True,
    stop_after: int | None = None,
) -> Anonymizer:
    """Train anonymizer ``name`` on the protocol's groups of ``data`` and save the checkpoint ``out``.

    Per-epoch training states are kept beside ``out`` (``<out>.<stage>.state.pt``): rerunning the same command
    after a kill resumes from the last finished epoch. Methods without training save their config only.
    """
    from benchmark.anonymizer import anonymizer_class

    proto = _protocol(protocol)
    anon = anonymizer_class(name)(config)
    source = train_source(data, proto, workers)
    out = Path(out)
    options = FitOptions(device=device, state_path=out.with_name(out.name + ".state.pt"), progress=progress,
                         stop_after=stop_after)
    anon.fit(source, options)
    assert anon.training is not None
    anon.training.update(protocol=proto.name)
    if anon.training.get("finished", True) and distributed_env()[0] == 0:
        anon.save(out)
    return anon


def train_recognizer(
    name: str,
    data: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    protocol: str | Protocol = "paper",
    config: Any = None,
    device: str = "auto",
    cache_dir: str | os.PathLike[str] | None = None,
    workers: int | None = None,
    progress: bool = True,
    stop_after: int | None = None,
    split_root: str | os.PathLike[str] | None = None,
) -> Recognizer:
    """Train recognizer ``name`` on the protocol's ``recognizers`` group of the tree ``data``; save ``out``.

    The group is the protocol's split of the clean tree ``split_root`` (default ``data``): a tree anonymized for
    a semi-informed attacker holds that group only.

    The per-epoch training state is kept beside ``out`` (``<out>.state.pt``): rerunning the same command after a
    kill resumes from the last finished epoch. ``cache_dir`` defaults to
    :func:`benchmark.sequences.default_cache_dir`. Returns the recognizer, trained; ``.training`` holds the
    fingerprint, the epochs and their seconds.
    """
    from benchmark.recognizer import recognizer_class
    from benchmark.sequences import default_cache_dir, load_sequences, training_fingerprint

    rec = recognizer_class(name)(config)
    proto = _protocol(protocol)
    if TRAIN_GROUP not in proto.groups:
        raise ValueError(f"protocol {proto.name!r} has no {TRAIN_GROUP!r} group (groups: {list(proto.groups)})")
    group = protocol_groups(data if split_root is None else split_root, proto)[TRAIN_GROUP]
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
    options = FitOptions(device=device, state_path=out.with_name(out.name + ".state.pt"), progress=progress,
                         stop_after=stop_after)
    rec.fit(train, fingerprint=training_fingerprint(data, train), options=options)
    assert rec.training is not None
    rec.training.update(protocol=proto.name, group=TRAIN_GROUP, load_seconds=round(load_seconds, 3))
    finished = stop_after is None or rec.training.get("epochs", 0) >= getattr(rec.config, "epochs", 0)
    if finished and distributed_env()[0] == 0:  # under torchrun every rank holds the same weights; one writes
        rec.save(out)
    return rec


# ---------------------------------------------------------------------------------------------- anonymize


def prepare_anonymizer(
    name: str, *, checkpoint: str | os.PathLike[str] | None = None, config: Any = None
) -> Anonymizer:
    """The anonymizer ``name``: loaded from ``checkpoint``, or built from ``config`` (defaults when None).

    ``ValueError`` for a trainable method without a checkpoint, a checkpoint of another method, or a config given
    beside a checkpoint (the checkpoint holds its own).
    """
    from benchmark.anonymizer import anonymizer_class, load_anonymizer

    cls = anonymizer_class(name)
    if checkpoint is None:
        if cls.trainable:
            raise ValueError(f"{name} is trainable: pass a checkpoint from `gaitbench train anonymizer {name}`")
        return cls(config)
    if config is not None:
        raise ValueError("a config applies to untrained methods only; the checkpoint holds its config")
    anon = load_anonymizer(checkpoint)
    if anon.name != name:
        raise ValueError(f"checkpoint {checkpoint} holds anonymizer {anon.name!r}, not {name!r}")
    return anon


def anonymize(
    anon: Anonymizer,
    data: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    protocol: str | Protocol = "paper",
    group: str | None = None,
    subjects: Sequence[str] | None = None,
    conditions: Sequence[str] | None = None,
    views: Sequence[int] | None = None,
    seed: int = 0,
    videos: str | bool = "auto",
    checkpoint: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Anonymize a selection of the clean tree ``data`` into ``out``; returns the record of
    :func:`benchmark.anonymized.anonymize_dataset`.

    Default selection: the protocol's test group (or ``group``; or the explicit ``subjects``), its probe
    conditions and its views. Refuses (``ValueError``) an anonymizer whose recorded training subjects meet the
    test group.
    """
    from benchmark.anonymized import anonymize_dataset

    proto = _protocol(protocol)
    groups = protocol_groups(data, proto)
    where = f"anonymizer {anon.name}" + (f" ({checkpoint})" if checkpoint is not None else "")
    check_training_subjects(where, (anon.training or {}).get("subjects"), groups.get(proto.test_group, []))
    if subjects is None:
        chosen = group or proto.test_group
        if chosen not in groups:
            raise ValueError(f"protocol {proto.name!r} has no group {chosen!r} (groups: {', '.join(groups)})")
        subjects = groups[chosen]
    return anonymize_dataset(
        anon, data, out, subjects=subjects,
        conditions=conditions or [c for conds in proto.probes.values() for c in conds],
        views=views or proto.views, seed=seed, videos=videos, checkpoint=checkpoint, progress=progress,
    )


# ---------------------------------------------------------------------------------------------- evaluate


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """What :func:`evaluate` computed: results rows, view-matrix records, the sets read, and whether the
    cross-view matrix was computed."""

    rows: list[Any]
    matrices: list[dict[str, Any]]
    sets: EvalSets
    cross_view: bool

    def summary(self) -> dict[str, Any]:
        """Counts for a run record: rows, probes per condition, gallery size, unusable probes per view."""
        from benchmark.evaluate import unusable_counts

        return {"rows": len(self.rows), "probes": {c: len(p) for c, p in self.sets.probes.items()},
                "gallery": len(self.sets.gallery), "cross_view": self.cross_view,
                "unusable_probes": {c: {str(v): n for v, n in views.items()}
                                    for c, views in unusable_counts(self.sets).items()}}


def evaluate(
    rec: Recognizer,
    gallery: str | os.PathLike[str],
    probes: str | os.PathLike[str],
    protocol: str | Protocol,
    *,
    method: str = "identity",
    parameters: str = "",
    ks: Sequence[int] = (1, 3),
    cross_view: str = "auto",
    cache_dir: str | os.PathLike[str] | None = None,
    workers: int | None = None,
    sets: EvalSets | None = None,
    clean: str | os.PathLike[str] | None = None,
    evaluator: str | None = None,
    attack: str | None = None,
) -> Evaluation:
    """Identify the probes of ``probes`` against the gallery of ``gallery`` (the clean tree; or, for an informed
    attack, that method's anonymized gallery with the clean tree as ``clean``) with the loaded ``rec``.

    The recognizer is refused when it trained on a test subject or on another synthetic world. ``cross_view``:
    ``yes``, ``no``, or ``auto`` (the 11x11 view matrix except for pairwise recognizers on a CPU). ``sets``
    (from :func:`benchmark.evaluate.load_eval_sets` for ``rec.spec``) skips reading the data again.
    """
    from benchmark.evaluate import check_recognizer_data, evaluate_recognizer, load_eval_sets
    from benchmark.sequences import default_cache_dir
    from benchmark.training import select_device

    proto = _protocol(protocol)
    if sets is None:
        sets = load_eval_sets(gallery, probes, proto, rec.spec,
                              cache_dir=default_cache_dir() if cache_dir is None else cache_dir, workers=workers,
                              split_root=clean)
    check_recognizer_data(rec, sets.test_subjects, gallery if clean is None else clean)
    cross = cross_view == "yes" or (
        cross_view == "auto" and not (rec.pairwise and select_device(rec.device).type == "cpu"))
    rows, matrices = evaluate_recognizer(rec, sets, evaluator=evaluator, method=method, parameters=parameters,
                                         views=proto.views, ks=tuple(ks), cross_view=cross, attack=attack)
    return Evaluation(rows, matrices, sets, cross)


def write_view_matrix(path: str | os.PathLike[str], matrices: Sequence[dict[str, Any]]) -> Path:
    """The cross-view records of :func:`evaluate` as a CSV (atomically); returns the path."""
    import pandas as pd

    from benchmark.evaluate import MATRIX_COLUMNS
    from benchmark.io import atomic_path

    path = Path(path)
    with atomic_path(path, suffix=".csv") as tmp:
        pd.DataFrame(list(matrices), columns=list(MATRIX_COLUMNS)).to_csv(tmp, index=False, float_format="%.6g")
    return path
