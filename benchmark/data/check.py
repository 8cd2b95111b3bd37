"""``gaitbench data check``: is a CASIA-B silhouette tree complete and readable?

Every expected sequence is classified (the first that applies):

=========  ===============================================================================================
missing    no folder, or a folder without PNG files
corrupt    the folder cannot be listed, or a frame cannot be decoded: zero bytes, not a PNG, truncated,
           failed CRC, undecodable, or of another size than most frames of its sequence
empty      every frame has fewer than ``min_pixels`` foreground pixels (grey > 127); default 40, the
           field's filter (OpenGait drops frames whose pixel sum is <= 10000, i.e. < 40 pixels at 255)
present    otherwise (empty frames inside a usable sequence are counted, not fatal)
=========  ===============================================================================================

Expected sequences: the subjects found in the tree (or named with ``subjects``) x the conditions nm-01..06,
bg-01..02, cl-01..02 x the views 000..180 step 18 (or those selected); sequences found outside that grid
(e.g. ``nm-07``) are reported too. Frame numbers skipped inside a sequence count as missing frames.

The tree is *usable* when at least one sequence is present and at most ``max_bad_fraction`` (default 10%) of
the sequences are missing, empty or corrupt.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import zlib
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from benchmark.data.casia import (
    SUBJECT_RE,
    Selection,
    check_root,
    condition_order,
    frame_number,
    subject_dirs,
    walk_tree,
)
from benchmark.io import atomic_open
from benchmark.silhouettes import MIN_FOREGROUND_PIXELS, map_sequences
from benchmark.types import CONDITION_RE

DEFAULT_MAX_BAD_FRACTION = 0.10
STATUSES: tuple[str, ...] = ("present", "missing", "empty", "corrupt")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_problem(data: bytes) -> str | None:
    """Why ``data`` is not a complete PNG file (signature, chunk lengths, CRCs, IEND), or None if it is.

    Checking the structure first gives precise reasons and keeps libpng from printing errors for bad files.
    """
    if not data:
        return "zero-byte file"
    if data[:8] != PNG_SIGNATURE:
        return f"not a PNG file (starts with {data[:8]!r})"
    view = memoryview(data)
    pos = 8
    while pos + 8 <= len(data):
        length = int.from_bytes(view[pos : pos + 4], "big")
        kind = bytes(view[pos + 4 : pos + 8]).decode("latin-1")
        end = pos + 12 + length
        if end > len(data):
            return f"truncated in chunk {kind} ({len(data)} bytes, the chunk ends at byte {end})"
        if zlib.crc32(view[pos + 4 : end - 4]) != int.from_bytes(view[end - 4 : end], "big"):
            return f"CRC error in chunk {kind} at byte {pos}"
        if kind == "IEND":
            return None
        pos = end
    return f"truncated: no IEND chunk ({len(data)} bytes)"


def inspect_frame(path: Path, min_pixels: int = MIN_FOREGROUND_PIXELS) -> tuple[tuple[int, int] | None, int, str]:
    """Read one frame: ``(size (H, W) or None, foreground pixels, problem or "")``; never raises."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, 0, f"cannot read: {exc.strerror or exc}"
    problem = png_problem(data)
    if problem:
        return None, 0, problem
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    if img is None:
        return None, 0, "PNG data cannot be decoded"
    return (int(img.shape[0]), int(img.shape[1])), int(np.count_nonzero(img > 127)), ""


@dataclasses.dataclass(frozen=True)
class SequenceCheck:
    """The verdict on one sequence; ``frames`` counts the PNG files found."""

    subject: str
    condition: str
    view: int
    status: str
    frames: int = 0
    empty_frames: int = 0
    corrupt_frames: int = 0
    missing_frames: int = 0
    problem: str = ""

    @property
    def key(self) -> str:
        return f"{self.subject}-{self.condition}-{self.view:03d}"


@dataclasses.dataclass(frozen=True)
class _Inspector:
    min_pixels: int

    def __call__(self, task: tuple[str, str, int, Path | str]) -> SequenceCheck:
        subject, condition, view, folder = task
        if isinstance(folder, str):  # not found; the text says why
            status = "corrupt" if folder.startswith("cannot list") else "missing"
            return SequenceCheck(subject, condition, view, status, problem=folder)
        try:
            with os.scandir(folder) as it:
                files = sorted(Path(e.path) for e in it if e.name.lower().endswith(".png") and e.is_file())
        except OSError as exc:
            return SequenceCheck(subject, condition, view, "corrupt", problem=f"cannot list {folder}: {exc.strerror}")
        if not files:
            return SequenceCheck(subject, condition, view, "missing", problem=f"no PNG files in {folder}")
        frames = [(p, *inspect_frame(p, self.min_pixels)) for p in files]
        sizes = [size for _, size, _, _ in frames if size is not None]
        usual = max(set(sizes), key=sizes.count) if sizes else None
        problems = []
        empty = 0
        for path, size, pixels, problem in frames:
            if not problem and size is not None and usual is not None and size != usual:
                problem = f"size {size[1]}x{size[0]}, the sequence's frames are {usual[1]}x{usual[0]}"
            if problem:
                problems.append(f"{path.name}: {problem}")
            elif pixels < self.min_pixels:
                empty += 1
        numbers = sorted({n for n in (frame_number(p.name) for p in files) if n is not None})
        gaps = numbers[-1] - numbers[0] + 1 - len(numbers) if numbers else 0
        good = len(files) - len(problems)
        if problems:
            status = "corrupt"
        elif empty == good:
            status = "empty"
        else:
            status = "present"
        problem = ""
        if problems:
            problem = problems[0] + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else "")
        elif status == "empty":
            problem = f"all {len(files)} frames have < {self.min_pixels} foreground pixels"
        return SequenceCheck(subject, condition, view, status, len(files), empty, len(problems), gaps, problem)


@dataclasses.dataclass(frozen=True)
class CheckReport:
    """The result of :func:`check_tree`: one :class:`SequenceCheck` per sequence plus the verdict."""

    root: Path
    sequences: tuple[SequenceCheck, ...]
    min_pixels: int
    max_bad_fraction: float
    problems: tuple[str, ...] = ()

    def count(self, status: str) -> int:
        return sum(s.status == status for s in self.sequences)

    @property
    def bad_fraction(self) -> float:
        """Share of sequences that are missing, empty or corrupt (1.0 when there are none at all)."""
        if not self.sequences:
            return 1.0
        return 1.0 - self.count("present") / len(self.sequences)

    @property
    def usable(self) -> bool:
        return self.count("present") > 0 and self.bad_fraction <= self.max_bad_fraction

    @property
    def verdict(self) -> str:
        if not self.sequences:
            return f"NOT usable: no CASIA-B sequences in {self.root} (expected <root>/001/nm-01/090/*.png)"
        bad = f"{self.bad_fraction:.1%} of {len(self.sequences)} sequences missing, empty or corrupt"
        if self.count("present") == 0:
            return f"NOT usable: no sequence is readable ({bad})"
        if not self.usable:
            return f"NOT usable: {bad}, more than the {self.max_bad_fraction:.0%} allowed"
        return f"usable: {bad} (at most {self.max_bad_fraction:.0%} allowed)"

    def summary(self, by: str) -> list[dict[str, object]]:
        """Counts grouped by ``"subject"``, ``"condition"`` or ``"view"``, plus a final ``total`` row."""
        if by not in ("subject", "condition", "view"):
            raise ValueError(f"by must be 'subject', 'condition' or 'view', got {by!r}")
        groups: dict[str | int, list[SequenceCheck]] = {}
        for s in self.sequences:
            groups.setdefault(getattr(s, by), []).append(s)

        def order(k: str | int) -> tuple[int, str]:
            if by == "view":
                return int(k), ""
            return condition_order(str(k)) if by == "condition" else (0, str(k))

        rows = [self._row(by, f"{k:03d}" if by == "view" else k, groups[k]) for k in sorted(groups, key=order)]
        return [*rows, self._row(by, "total", list(self.sequences))]

    @staticmethod
    def _row(by: str, name: object, seqs: list[SequenceCheck]) -> dict[str, object]:
        row: dict[str, object] = {by: name, "sequences": len(seqs)}
        row.update({status: sum(s.status == status for s in seqs) for status in STATUSES})
        for field in ("frames", "empty_frames", "corrupt_frames", "missing_frames"):
            row[field] = sum(getattr(s, field) for s in seqs)
        return row

    def format(self, max_problems: int = 20) -> str:
        """The report as text: three tables, the first problems and the verdict."""
        lines = [f"CASIA-B check of {self.root} (empty frame: < {self.min_pixels} foreground pixels)"]
        for by in ("subject", "condition", "view"):
            rows = self.summary(by)
            header = list(rows[0])
            widths = [max(len(h), *(len(str(r[h])) for r in rows)) for h in header]
            for cells in [header, *([str(r[h]) for h in header] for r in rows)]:
                if cells is header:
                    lines += ["", f"by {by}:"]
                first = cells[0].ljust(widths[0])
                lines.append("  ".join([first, *(c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))]))
        bad = [s for s in self.sequences if s.status != "present"]
        notes = [*self.problems, *(f"{s.key}  {s.status}: {s.problem}" for s in bad)]
        if notes:
            lines += ["", f"problems ({min(len(notes), max_problems)} of {len(notes)} shown):"]
            lines += [f"  {n}" for n in notes[:max_problems]]
        lines += ["", self.verdict]
        return "\n".join(lines)

    def write_csv(self, path: str | os.PathLike[str]) -> None:
        """One row per sequence: subject, condition, view, status, frame counts, problem (atomic write)."""
        fields = [f.name for f in dataclasses.fields(SequenceCheck)]
        with atomic_open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields)
            writer.writeheader()
            for s in self.sequences:
                writer.writerow({**dataclasses.asdict(s), "view": f"{s.view:03d}"})


def _listing(folder: Path) -> list[tuple[str, Path]]:
    try:
        return [(p.name, p) for p in folder.iterdir() if p.is_dir()]
    except OSError:
        return []


def check_tree(
    root: str | os.PathLike[str],
    *,
    subjects: Iterable[str | int] | str | int | None = None,
    conditions: Iterable[str] | str | None = None,
    views: Iterable[int | str] | int | str | None = None,
    min_pixels: int = MIN_FOREGROUND_PIXELS,
    max_bad_fraction: float = DEFAULT_MAX_BAD_FRACTION,
    workers: int | None = None,
) -> CheckReport:
    """Decode every frame of a CASIA-B silhouette tree and classify each sequence; never raises on bad files.

    Parameters
    ----------
    root : path
        The silhouette tree; ``FileNotFoundError`` when it does not exist.
    subjects, conditions, views : optional
        Restrict the check (and the expected grid) as for :meth:`CasiaB.index`.
    min_pixels : int
        A frame with fewer foreground pixels is empty.
    max_bad_fraction : float
        Largest share of missing/empty/corrupt sequences for which the tree still counts as usable.
    workers : int, optional
        Worker processes; default every CPU this process may use.

    Returns
    -------
    CheckReport
    """
    root = check_root(root)
    if not 0.0 <= max_bad_fraction <= 1.0:
        raise ValueError(f"max_bad_fraction must be in [0, 1], got {max_bad_fraction}")
    selection = Selection.make(subjects, conditions, views).check_casia()
    listing_problems: list[str] = []
    unreadable: dict[tuple[str, str], str] = {}  # (subject, condition or "") -> problem

    def note(path: Path, exc: OSError) -> None:
        message = f"cannot list {path}: {exc.strerror or exc}"
        parts = path.relative_to(root).parts if path != root else ()
        subject = next((p for p in parts if SUBJECT_RE.match(p)), None)
        condition = next((p for p in parts if CONDITION_RE.match(p)), "")
        if subject is None:
            listing_problems.append(message)
        else:
            unreadable.setdefault((subject, condition), message)

    found: dict[tuple[str, str, int], Path] = {}
    for subject, condition, view, folder in walk_tree(root, selection, note):
        found.setdefault((subject, condition, view), folder)
    subjects_found = set()
    for s, folders in subject_dirs(root, note).items():
        if not selection.matches_subject(s):
            continue
        if selection.subjects is None and not any(key[0] == s for key in found) and not any(
                CONDITION_RE.match(name) for folder in folders for name, _ in _listing(folder)):
            # a stray empty subject folder: reported, not counted as 110 missing sequences
            listing_problems.append(f"subject folder {s} holds no condition folder (left out of the grid)")
            continue
        subjects_found.add(s)
    if selection.subjects is not None:
        subjects_found |= {s.zfill(3) if s.isdigit() else s for s in selection.subjects}
    expected = {
        (s, c, v) for s in subjects_found for c in selection.expected_conditions() for v in selection.expected_views()
    }
    keys = sorted(expected | set(found), key=lambda k: (k[0], condition_order(k[1]), k[2]))
    tasks = [
        (s, c, v, found.get((s, c, v)) or unreadable.get((s, c)) or unreadable.get((s, ""), "no folder"))
        for s, c, v in keys
    ]
    checks = map_sequences(_Inspector(min_pixels), tasks, workers=workers)
    return CheckReport(root, tuple(checks), min_pixels, max_bad_fraction, tuple(dict.fromkeys(listing_problems)))
