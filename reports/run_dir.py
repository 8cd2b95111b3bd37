"""Reading a run directory for the report: the tidy tables, the run record and the runner's pictures.

A run directory (written by ``gaitbench run``) holds ``results.csv`` and possibly more tidy tables
``results-*.csv`` with the same columns (e.g. ``results-mos.csv`` from the survey), ``run.json`` (config,
versions, git hash, time per stage and ``labels``: evaluator name -> the model that produced its numbers) and
``pictures/index.json`` listing strip images (``[{"file", "figure", "view", "caption"}]``).

Nothing here runs a model: a report is a pure function of these files.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd

from benchmark.results import read_results

RECORD = "run.json"
PICTURES = "pictures"
PICTURE_INDEX = "index.json"
#: image types a picture may have, with the MIME type the HTML page embeds it as
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


@dataclasses.dataclass(frozen=True)
class Picture:
    """One image of ``pictures/index.json``: ``path`` is the file, ``figure`` the paper's figure (``fig8``)."""

    path: Path
    figure: str
    view: int | None
    caption: str


@dataclasses.dataclass(frozen=True)
class RunData:
    """Everything a report reads from one run directory.

    Attributes
    ----------
    root : Path
        The run directory.
    frame : DataFrame
        ``results.csv`` and every ``results-*.csv`` concatenated (:data:`benchmark.results.COLUMNS`).
    sources : tuple of Path
        The CSV files ``frame`` was read from, in order.
    record : dict
        ``run.json`` (empty when the run directory has none).
    labels : dict
        Evaluator name -> human label of the model behind it (``record["labels"]``).
    pictures : tuple of Picture
        The images of ``pictures/index.json`` that exist.
    problems : tuple of str
        What could not be read (a missing run record, a picture listed but absent, ...), stated in the report.
    """

    root: Path
    frame: pd.DataFrame
    sources: tuple[Path, ...]
    record: dict[str, Any]
    labels: dict[str, str]
    pictures: tuple[Picture, ...]
    problems: tuple[str, ...]

    def label(self, evaluator: str) -> str:
        """``"name (label)"``, or the bare name when the run record gives no label for it."""
        return evaluator_label(evaluator, self.labels)


def evaluator_label(evaluator: str, labels: Mapping[str, str]) -> str:
    """``"frame-hog (OpenCV HOG ...)"`` from ``labels``; the bare evaluator name when it has no label."""
    text = labels.get(evaluator)
    return f"{evaluator} ({text})" if text else evaluator


def read_record(run_dir: str | os.PathLike[str]) -> tuple[dict[str, Any], list[str]]:
    """``RUN_DIR/run.json`` as a dict (empty when absent or unreadable) and the problems met reading it."""
    path = Path(run_dir) / RECORD
    if not path.is_file():
        return {}, [f"{RECORD} is missing: the run's config, versions and git hash are unknown"]
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return {}, [f"{RECORD} cannot be read ({exc})"]
    if not isinstance(record, dict):
        return {}, [f"{RECORD} is not a JSON object"]
    return record, []


def record_labels(record: Mapping[str, Any]) -> dict[str, str]:
    """The run record's ``labels`` (evaluator -> model label), keeping only string pairs."""
    labels = record.get("labels")
    if not isinstance(labels, Mapping):
        return {}
    return {str(k): str(v) for k, v in labels.items() if isinstance(v, str | int | float)}


def read_pictures(run_dir: str | os.PathLike[str]) -> tuple[list[Picture], list[str]]:
    """The pictures listed in ``RUN_DIR/pictures/index.json`` that exist, and the problems met.

    An entry must name a file inside ``pictures/`` (no absolute path, no ``..``) of a type in
    :data:`IMAGE_TYPES`; other entries are skipped and reported as problems, never read.
    """
    folder = Path(run_dir) / PICTURES
    index = folder / PICTURE_INDEX
    if not index.is_file():
        return [], []
    try:
        entries = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [], [f"{PICTURES}/{PICTURE_INDEX} cannot be read ({exc})"]
    if not isinstance(entries, list):
        return [], [f"{PICTURES}/{PICTURE_INDEX} is not a JSON list"]
    pictures, problems = [], []
    for i, entry in enumerate(entries):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("file"), str):
            problems.append(f"{PICTURES}/{PICTURE_INDEX} entry {i} has no 'file' string")
            continue
        name = PurePosixPath(entry["file"])
        if name.is_absolute() or ".." in name.parts or not name.parts:
            problems.append(f"{PICTURES}/{PICTURE_INDEX} entry {i} names {entry['file']!r}, outside {PICTURES}/")
            continue
        if name.suffix.lower() not in IMAGE_TYPES:
            problems.append(f"{PICTURES}/{entry['file']} is not a PNG or JPEG image")
            continue
        path = folder.joinpath(*name.parts)
        if not path.is_file():
            problems.append(f"{PICTURES}/{entry['file']} is listed in {PICTURE_INDEX} but missing")
            continue
        view = entry.get("view")
        pictures.append(Picture(
            path=path,
            figure=str(entry.get("figure") or "other"),
            view=int(view) if isinstance(view, int | float) and not isinstance(view, bool) else None,
            caption=str(entry.get("caption") or ""),
        ))
    return pictures, problems


def load_run(run_dir: str | os.PathLike[str]) -> RunData:
    """Read a run directory: results tables, run record, labels and pictures (see :class:`RunData`)."""
    root = Path(run_dir)
    frame, sources = read_results(root)
    record, problems = read_record(root)
    pictures, picture_problems = read_pictures(root)
    return RunData(root=root, frame=frame, sources=sources, record=record, labels=record_labels(record),
                   pictures=tuple(pictures), problems=tuple(problems + picture_problems))
