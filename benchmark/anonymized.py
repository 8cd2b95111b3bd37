"""Anonymize a dataset: every selected sequence of a CASIA-B tree (or synthetic world), written as a new world.

The output has the synthetic world's layout (:mod:`benchmark.synth.world`), so ``CasiaB(out)`` reads it back
with colour frames and backgrounds, and ``gaitbench evaluate --probes OUT`` scores it::

    out/silhouettes/001/nm-05/090/001-nm-05-090-001.png   anonymized silhouettes, frames renumbered from 001
    out/videos/001-nm-05-090.avi                          anonymized colour frames (when the method made them)
    out/videos/001-bkgrd-090.avi                          the source's background video (hard link or copy)
    out/anonymization.json                                method, parameters, checkpoint, seed, timings

Runs resume: a sequence folder only appears by an atomic rename, so a sequence whose folder (and video, when
colour is made) exists is skipped. ``anonymization.partial.json`` records who is writing; outputs of another
method, config, checkpoint or seed are refused rather than mixed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmark.io import atomic_path, write_json

if TYPE_CHECKING:
    from benchmark.anonymizer import Anonymizer
    from benchmark.data.casia import SequenceRef

RECORD = "anonymization.json"
PARTIAL = "anonymization.partial.json"
IDENTITY_FIELDS = ("method", "parameters", "config", "checkpoint_sha256", "seed")


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_identity(out: Path, identity: dict[str, Any]) -> None:
    for name in (RECORD, PARTIAL):
        path = out / name
        if not path.is_file():
            continue
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read {path} ({exc}); delete it, or choose another --out") from None
        for field in IDENTITY_FIELDS:
            if old.get(field) != identity[field]:
                raise ValueError(
                    f"{out} already holds output of another anonymization ({path.name}: {field} = "
                    f"{old.get(field)!r}, this run: {identity[field]!r}); use another output folder"
                )


def _link_or_copy(src: Path, dst: Path) -> None:
    with atomic_path(dst, suffix=dst.suffix) as tmp:
        tmp.unlink()
        try:
            os.link(src, tmp)  # backgrounds are large and never change: share the bytes when we can
        except OSError:
            shutil.copyfile(src, tmp)


def anonymize_dataset(
    anonymizer: Anonymizer,
    data_root: str | os.PathLike[str],
    out_root: str | os.PathLike[str],
    *,
    refs: Sequence[SequenceRef] | None = None,
    subjects: Iterable[str | int] | None = None,
    conditions: Iterable[str] | None = None,
    views: Iterable[int] | None = None,
    seed: int = 0,
    videos: str | bool = "auto",
    checkpoint: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Anonymize the selected sequences of ``data_root`` into ``out_root`` (layout in the module docstring).

    Parameters
    ----------
    anonymizer : Anonymizer
        A ready (trained or untrained-by-design) method; called as ``anonymize(seq, seed)`` per sequence.
    data_root, out_root : path
        Source tree or world folder (what :class:`~benchmark.data.casia.CasiaB` reads); output folder.
    refs : list of SequenceRef, optional
        The sequences of ``data_root`` to take; otherwise ``subjects``/``conditions``/``views`` select them
        (None = all), as in :meth:`CasiaB.index`.
    seed : int
        Passed to every ``anonymize`` call (each sequence derives its own stream from it and its key).
    videos : "auto", True or False
        Read colour frames (and the background, when present) and write colour output: "auto" for sequences
        whose colour video exists, True for all (a missing video raises ``FileNotFoundError``), False never.
    checkpoint : path, optional
        The checkpoint ``anonymizer`` was loaded from; its sha256 goes into the record and the identity check.

    Returns
    -------
    dict
        The record written to ``anonymization.json``: identity, source, selection, ``sequences``, ``frames``
        (all selected), ``written_sequences``/``written_frames`` (this run), ``seconds``, ``frames_per_second``.
        Raises ``ValueError`` when ``out_root`` holds another anonymization, or naming the sequence and file
        that could not be read.
    """
    from benchmark.data.casia import CasiaB, write_silhouettes
    from benchmark.record import run_record
    from benchmark.synth.world import background_path, sequence_dir, silhouette_root, video_path, write_video

    if videos not in ("auto", True, False):
        raise ValueError(f"videos must be 'auto', True or False, got {videos!r}")
    data, out = CasiaB(data_root), Path(out_root)
    if out.resolve() == data.root.resolve():
        raise ValueError(f"output folder {out} is the source folder; choose another")
    if refs is not None and not (subjects is None and conditions is None and views is None):
        raise ValueError("give either refs or subjects/conditions/views, not both")
    selection: Any = [r.key for r in refs] if refs is not None else {
        "subjects": None if subjects is None else sorted(map(str, subjects)),
        "conditions": None if conditions is None else list(conditions),
        "views": None if views is None else sorted(int(v) for v in views)}
    if refs is None:
        refs = data.index(subjects, conditions, views)
    if not refs:
        raise ValueError(f"no sequences in {data.root} for the selection {selection}")
    identity = {
        "method": anonymizer.name,
        "parameters": anonymizer.parameters(),
        "config": json.loads(json.dumps(dataclasses.asdict(anonymizer.config), default=str)),
        "checkpoint_sha256": None if checkpoint is None else file_sha256(checkpoint),
        "seed": int(seed),
    }
    _check_identity(out, identity)
    write_json(out / PARTIAL, {**identity, "source": str(data.root), "started": time.strftime("%Y-%m-%dT%H:%M:%S")})

    began, last_report = time.perf_counter(), 0.0
    written = written_frames = 0
    for i, ref in enumerate(refs):
        has_video = videos is True or (videos == "auto" and _exists(data.video_path, ref))
        has_bg = has_video and _exists(data.background_path, ref)
        if has_bg and not background_path(out, ref.subject, ref.view).exists():
            _link_or_copy(data.background_path(ref), background_path(out, ref.subject, ref.view))
        folder = sequence_dir(out, ref.subject, ref.condition, ref.view)
        video = video_path(out, ref.subject, ref.condition, ref.view)
        if not (folder.is_dir() and (not has_video or video.exists())):
            try:
                seq = data.load(ref, frames=has_video, background=has_bg)
            except (ValueError, OSError) as exc:
                raise type(exc)(f"cannot read sequence {ref.key} of {data.root}: {exc}") from exc
            anon = anonymizer.anonymize(seq, seed)
            if anon.frames is not None:
                write_video(video, anon.frames, fps=seq.fps)
            # last: the folder marks the sequence done
            write_silhouettes(silhouette_root(out), ref.subject, ref.condition, ref.view, anon.silhouettes)
            written, written_frames = written + 1, written_frames + seq.num_frames
        now = time.perf_counter() - began
        if progress and (now - last_report >= 1.0 or i + 1 == len(refs)):
            last_report = now
            print(f"[anonymize] {anonymizer.name}: {i + 1}/{len(refs)} sequences ({written} anonymized now), "
                  f"{written_frames / max(now, 1e-9):.1f} frames/s", file=sys.stderr)
    seconds = time.perf_counter() - began
    record = run_record(
        **identity,
        checkpoint=None if checkpoint is None else str(checkpoint),
        source=str(data.root),
        selection=selection,
        videos=videos,
        sequences=len(refs),
        frames=sum(r.num_frames for r in refs),
        written_sequences=written,
        written_frames=written_frames,
        seconds=round(seconds, 3),
        frames_per_second=round(written_frames / seconds, 3) if written_frames else None,
    )
    write_json(out / RECORD, record)
    (out / PARTIAL).unlink(missing_ok=True)
    return record


def _exists(find: Any, ref: SequenceRef) -> bool:
    try:
        find(ref)
    except FileNotFoundError:
        return False
    return True
