"""Content-addressed stage artifacts: a stage's key is the hash of what produced it, its folder is named by it.

``key = sha256(kind, STAGE_VERSIONS[kind], spec, {input stage name: input key})``: the stage's own config
section (``spec``, JSON-ready), the keys of the stages it reads, and a per-kind code version. Two stages
with equal keys produce the same artifact, so runs may share one cache; a changed setting changes the key of
its stage and of every stage downstream, and nothing else.

Layout under the cache root::

    <kind>/<key>/            what the stage writes (checkpoints, an anonymized tree, rows.csv, ...)
    <kind>/<key>/stage.json  written last, atomically: the stage is complete (its record: name, spec, inputs,
                             seconds, and what the stage reported)
    <kind>/<key>/.lock       held while the stage runs, so two runs on one cache never write one folder
    <kind>/<key>/dropped.json  the stage's output was deleted once every stage reading it was done (``gaitbench
                             run --drop-anonymized``); its marker stays, and a run that needs the output again
                             recomputes it

A stage killed part-way leaves its folder without ``stage.json``; rerunning it continues with the resumable
library functions (per-epoch training states, anonymization skipping finished sequences) and writes the
marker at the end.

**Bump a kind's version in** :data:`STAGE_VERSIONS` **whenever its code changes what it writes**: keys hash
configs, not code, so without a bump a cache keeps serving artifacts of the old code.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from benchmark.io import write_json

#: code version of each stage kind; part of every key of that kind
STAGE_VERSIONS: dict[str, int] = {
    "world": 1,
    "action-model": 2,  # 2: the one checkpoint format (model.npz)
    "recognizer": 3,  # 3: the one checkpoint format
    "train": 2,  # 2: the one checkpoint format
    "anonymize": 1,
    "evaluate": 4,  # 3: eer and rank rows, the chance column; 4: the attack column
    "score": 2,
    "realism": 2,  # 2: silhouette_difference rows
    "pictures": 3,  # 2: rows of one method titled by the parameters in which they differ; 3: labels wrapped
}
MARKER = "stage.json"
DROPPED = "dropped.json"
KEY_LENGTH = 20


def _canonical(obj: Any) -> Any:
    """JSON-ready form used for hashing: dataclasses as dicts, tuples as lists, paths as strings."""
    return json.loads(json.dumps(obj, sort_keys=True, default=lambda o: dataclasses.asdict(o)
                                 if dataclasses.is_dataclass(o) and not isinstance(o, type) else str(o)))


def stage_key(kind: str, spec: Mapping[str, Any], inputs: Mapping[str, str]) -> str:
    """The content key of a stage: hex sha256 (first :data:`KEY_LENGTH` digits) of kind, version, spec and inputs.

    Parameters
    ----------
    kind : str
        One of :data:`STAGE_VERSIONS`.
    spec : mapping
        What the stage's output depends on besides its inputs (JSON-ready after :func:`_canonical`).
    inputs : mapping of str to str
        Input stage name -> its key.
    """
    if kind not in STAGE_VERSIONS:
        raise ValueError(f"unknown stage kind {kind!r}; known: {', '.join(STAGE_VERSIONS)}")
    payload = {"kind": kind, "version": STAGE_VERSIONS[kind], "spec": _canonical(dict(spec)),
               "inputs": dict(sorted(inputs.items()))}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:KEY_LENGTH]


@dataclasses.dataclass
class Stage:
    """One unit of work of a run.

    ``run(folder)`` does the work into ``folder`` (resuming what an earlier, killed call left there) and returns
    a JSON-ready record kept in the marker; ``key`` is set when the run is planned.
    """

    name: str
    kind: str
    spec: dict[str, Any]
    inputs: tuple[str, ...]
    run: Callable[[Path], dict[str, Any]]
    key: str = ""


class Store:
    """The cache root: folders, completion markers and locks of stages (module docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def folder(self, stage: Stage) -> Path:
        if not stage.key:
            raise ValueError(f"stage {stage.name!r} has no key yet; plan the run first")
        return self.root / stage.kind / stage.key

    def record(self, stage: Stage) -> dict[str, Any] | None:
        """The marker's record when the stage is complete; None otherwise (also for an unreadable marker)."""
        path = self.folder(stage) / MARKER
        try:
            record: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return record if record.get("key") == stage.key else None

    def status(self, stage: Stage) -> str:
        """``cached`` (complete), ``dropped`` (complete, its output since deleted: :meth:`drop`), ``partial`` (a
        killed run left work) or ``new``."""
        if self.record(stage) is not None:
            return "dropped" if (self.folder(stage) / DROPPED).exists() else "cached"
        folder = self.folder(stage)
        return "partial" if folder.is_dir() and any(p.name != ".lock" for p in folder.iterdir()) else "new"

    @contextlib.contextmanager
    def lock(self, stage: Stage) -> Iterator[Path]:
        """Hold the stage's lock (blocking while another process runs it); yields its folder."""
        folder = self.folder(stage)
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / ".lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield folder
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def finish(self, stage: Stage, inputs: Mapping[str, str], seconds: float, report: Mapping[str, Any]) -> dict:
        """Write the completion marker; returns its record."""
        record = {
            "name": stage.name,
            "kind": stage.kind,
            "key": stage.key,
            "version": STAGE_VERSIONS[stage.kind],
            "spec": _canonical(stage.spec),
            "inputs": dict(inputs),
            "seconds": round(seconds, 3),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "report": _canonical(dict(report)),
        }
        write_json(self.folder(stage) / MARKER, record)
        return record

    def drop(self, stage: Stage) -> int:
        """Delete a complete stage's output, keeping its marker; returns the bytes freed. The drop is recorded
        first (``dropped.json``), so a drop killed half-way still reads as ``dropped``, never as complete."""
        folder = self.folder(stage)
        kept = {MARKER, DROPPED, ".lock"}
        entries = [p for p in folder.iterdir() if p.name not in kept]
        size = sum(f.stat().st_size for p in entries for f in ([p] if p.is_file() else p.rglob("*")) if f.is_file())
        write_json(folder / DROPPED, {"dropped": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "bytes": size})
        for p in entries:
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
        return size

    def clear(self, stage: Stage) -> None:
        """Empty a stage's folder but for its lock (before computing a dropped stage again); the marker goes
        first, so the stage never reads as complete while it is being emptied."""
        folder = self.folder(stage)
        (folder / MARKER).unlink(missing_ok=True)
        for p in folder.iterdir():
            if p.name != ".lock":
                shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
