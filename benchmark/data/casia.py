"""CASIA-B reader: the silhouette tree, colour videos and background videos (Yu et al., ICPR 2006).

Layout on disk::

    <root>/001/nm-01/090/001-nm-01-090-001.png     silhouettes, one PNG per frame, 0/255 grey
    <root>/113/113/nm-06/180/...                    some archives nest the subject folder once more
    <root>/GaitDatasetB-silh/001/...                a single wrapper folder above the subjects is fine too
    <video_root>/.../001-nm-01-090.avi              colour video of that sequence
    <video_root>/.../001-bkgrd-090.avi              the empty scene for subject 001 at view 90

Videos are found by file name (any of :data:`VIDEO_EXTENSIONS`), on first use: recursively under
``video_root`` when it is given; otherwise recursively under ``root``, skipping subject folders (three-digit
names), so ``<root>/video/``, ``<root>/DatasetB-1/video/`` or files beside the subject folders are found
without walking the silhouette tree.

Reading is lazy: :meth:`CasiaB.index` lists folders and file names only; :meth:`CasiaB.load` reads the
pixels of one sequence. Grey PNG values > 127 are foreground. Silhouette frame ``NNN`` is taken to be
frame ``NNN - 1`` (0-based) of the colour video [an assumption: CASIA-B does not document it].

:func:`write_silhouettes` is the one writer of this layout: the synthetic world, anonymized datasets, the toy
world and the test trees all write their sequences with it.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np

from benchmark.silhouettes import median_background
from benchmark.types import CASIA_VIEWS, CONDITION_RE, GaitSequence, check_silhouettes

CASIA_CONDITIONS: tuple[str, ...] = (
    *(f"nm-{i:02d}" for i in range(1, 7)),
    "bg-01",
    "bg-02",
    "cl-01",
    "cl-02",
)
CONDITION_TYPES: tuple[str, ...] = ("nm", "bg", "cl")
SUBJECT_RE = re.compile(r"^\d{3}$")
VIEW_RE = re.compile(r"^\d{3}$")
SEQUENCE_NAME_RE = re.compile(r"^(?P<subject>\d{3})-(?P<condition>(?:nm|bg|cl)-\d{2})-(?P<view>\d{3})$")
BACKGROUND_NAME_RE = re.compile(r"^(?P<subject>\d{3})-bkgrd-(?P<view>\d{3})$")
VIDEO_EXTENSIONS: tuple[str, ...] = (".avi", ".mp4", ".mov", ".mkv", ".m4v", ".mpg", ".mpeg", ".wmv", ".webm")


# ----------------------------------------------------------------------------------------------------------
# selection by subject, condition and view


def condition_order(condition: str) -> tuple[int, str]:
    """Sort key: CASIA-B's order nm-01..06, bg-01..02, cl-01..02, then any other name alphabetically."""
    try:
        return CASIA_CONDITIONS.index(condition), ""
    except ValueError:
        return len(CASIA_CONDITIONS), condition


def _subject_key(subject: str) -> str:
    # "1", "01" and "001" name the same CASIA-B subject; other names (user videos) compare as they are.
    return str(int(subject)) if subject.isdigit() else subject


def _as_list(value: object, name: str) -> list[object]:
    if isinstance(value, str | int):
        return [value]
    if isinstance(value, Iterable):
        return list(value)
    raise TypeError(f"{name} must be a list (or one value), got {type(value).__name__}")


@dataclasses.dataclass(frozen=True)
class Selection:
    """Which sequences to take; ``None`` in a field takes all.

    Build it with :meth:`make`, which validates. ``conditions`` holds full names (``nm-01``) or types
    (``nm`` = every ``nm-*``).
    """

    subjects: frozenset[str] | None = None
    conditions: frozenset[str] | None = None
    views: frozenset[int] | None = None

    @classmethod
    def make(
        cls,
        subjects: Iterable[str | int] | str | int | None = None,
        conditions: Iterable[str] | str | None = None,
        views: Iterable[int | str] | int | str | None = None,
    ) -> Selection:
        """Validate user input: subjects as ``"001"``/``1``, conditions as ``"nm-01"``/``"nm"``, views in degrees."""
        subj = None
        if subjects is not None:
            subj = set()
            for s in _as_list(subjects, "subjects"):
                if isinstance(s, bool) or not isinstance(s, str | int) or str(s).strip() == "":
                    raise ValueError(f"subject must be a name like '001' or a number, got {s!r}")
                subj.add(_subject_key(str(s).strip()))
        conds = None
        if conditions is not None:
            conds = set()
            for c in _as_list(conditions, "conditions"):
                c = str(c).strip().lower()
                if not (CONDITION_RE.match(c) or c in CONDITION_TYPES):
                    raise ValueError(
                        f"unknown condition {c!r}: use nm-01..06, bg-01..02, cl-01..02 or a type nm, bg, cl"
                    )
                conds.add(c)
        vws = None
        if views is not None:
            vws = set()
            for v in _as_list(views, "views"):
                try:
                    if isinstance(v, bool) or isinstance(v, float):
                        raise ValueError
                    angle = int(v)  # type: ignore[call-overload]
                except (TypeError, ValueError):
                    raise ValueError(f"view must be an integer number of degrees, got {v!r}") from None
                if not 0 <= angle < 360:
                    raise ValueError(f"view must be in 0..359 degrees, got {angle}")
                vws.add(angle)
        return cls(
            None if subj is None else frozenset(subj),
            None if conds is None else frozenset(conds),
            None if vws is None else frozenset(vws),
        )

    def matches_subject(self, subject: str) -> bool:
        return self.subjects is None or _subject_key(subject) in self.subjects

    def matches_condition(self, condition: str) -> bool:
        return self.conditions is None or condition in self.conditions or condition[:2] in self.conditions

    def matches_view(self, view: int) -> bool:
        return self.views is None or view in self.views

    def matches(self, subject: str, condition: str, view: int) -> bool:
        return self.matches_subject(subject) and self.matches_condition(condition) and self.matches_view(view)

    def check_casia(self) -> Selection:
        """Raise ``ValueError`` for conditions or views that CASIA-B does not have."""
        for c in sorted(self.conditions or ()):
            if c not in CASIA_CONDITIONS and c not in CONDITION_TYPES:
                raise ValueError(f"unknown condition {c!r}: CASIA-B has nm-01..06, bg-01..02, cl-01..02")
        for v in sorted(self.views or ()):
            if v not in CASIA_VIEWS:
                raise ValueError(f"view {v} is not a CASIA-B view (0, 18, ..., 180)")
        return self

    def expected_conditions(self) -> list[str]:
        """The CASIA-B conditions this selection takes, in CASIA-B order."""
        return [c for c in CASIA_CONDITIONS if self.matches_condition(c)]

    def expected_views(self) -> list[int]:
        return [v for v in CASIA_VIEWS if self.matches_view(v)]


# ----------------------------------------------------------------------------------------------------------
# the silhouette tree

OnError = Callable[[Path, OSError], None]


def _raise(path: Path, exc: OSError) -> None:
    raise exc


def _subdirs(path: Path, on_error: OnError) -> list[tuple[str, Path]]:
    try:
        with os.scandir(path) as it:
            return sorted((e.name, Path(e.path)) for e in it if e.is_dir() and not e.name.startswith("."))
    except OSError as exc:
        on_error(path, exc)
        return []


def check_root(root: str | os.PathLike[str], what: str = "CASIA-B root") -> Path:
    """``root`` as a Path; ``FileNotFoundError`` naming it when it is missing or not a folder."""
    path = Path(root).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"{what} {path} does not exist")
    if not path.is_dir():
        raise FileNotFoundError(f"{what} {path} is not a folder")
    return path


def subject_dirs(root: Path, on_error: OnError = _raise) -> dict[str, list[Path]]:
    """Subject name -> the folders that hold its condition folders (``<root>/001`` and/or ``<root>/001/001``)."""
    found = [(name, p) for name, p in _subdirs(root, on_error) if SUBJECT_RE.match(name)]
    if not found:  # one wrapper folder, e.g. <root>/GaitDatasetB-silh/001
        for _, wrapper in _subdirs(root, on_error):
            found += [(name, p) for name, p in _subdirs(wrapper, on_error) if SUBJECT_RE.match(name)]
    out: dict[str, list[Path]] = {}
    for name, path in found:
        folders = out.setdefault(name, [])
        folders.append(path)
        nested = path / name
        # <root>/001/001 (a layout some copies of CASIA-B have); a link back to its own folder is not a second one
        if nested.is_dir() and nested.resolve() != path.resolve():
            folders.append(nested)
    return out


def walk_tree(root: Path, selection: Selection, on_error: OnError = _raise) -> Iterator[tuple[str, str, int, Path]]:
    """Yield ``(subject, condition, view, folder)`` for every view folder of the tree that ``selection`` takes."""
    for subject, folders in sorted(subject_dirs(root, on_error).items()):
        if not selection.matches_subject(subject):
            continue
        for folder in folders:
            for condition, cond_dir in _subdirs(folder, on_error):
                if not CONDITION_RE.match(condition) or not selection.matches_condition(condition):
                    continue
                for view_name, view_dir in _subdirs(cond_dir, on_error):
                    if VIEW_RE.match(view_name) and selection.matches_view(int(view_name)):
                        yield subject, condition, int(view_name), view_dir


def frame_number(name: str | Path) -> int | None:
    """The frame number at the end of a file name (``001-nm-01-090-017.png`` -> 17), or None."""
    stem = os.path.splitext(os.path.basename(name))[0]
    digits = len(stem) - len(stem.rstrip("0123456789"))
    return int(stem[-digits:]) if digits else None


def _frame_order(name: str) -> tuple[int, int, str]:
    stem = name[:-4]  # every name here ends with .png; indexing a full tree calls this a million times
    digits = len(stem) - len(stem.rstrip("0123456789"))
    return (0, int(stem[-digits:]), name) if digits else (1, 0, name)


def list_frames(folder: Path) -> tuple[str, ...]:
    """Names of the ``*.png`` files of a sequence folder, by frame number (unnumbered names last, by name)."""
    with os.scandir(folder) as it:
        names = [e.name for e in it if e.name.lower().endswith(".png") and e.is_file()]
    return tuple(sorted(names, key=_frame_order))


def read_silhouette(path: Path) -> np.ndarray:
    """One silhouette PNG as ``bool (H, W)`` (grey value > 127 = person); ``ValueError`` naming a bad file."""
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        if not path.exists():
            raise FileNotFoundError(f"silhouette frame {path} does not exist")
        size = path.stat().st_size
        reason = "it is empty (0 bytes)" if size == 0 else "corrupt, truncated or not an image"
        raise ValueError(f"cannot read silhouette frame {path}: {reason}; run `gaitbench data check` on the tree")
    return silhouette_mask(img)


def silhouette_mask(img: np.ndarray) -> np.ndarray:
    """A decoded silhouette image as ``bool (H, W)``: foreground where any colour channel exceeds 127 (a mask saved
    in colour, e.g. red on black, is still a mask; the grey value of such a pixel may lie below 127), and where an
    alpha channel, when present, is opaque; 16-bit images are scaled to 8 bits first."""
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    if img.ndim == 2:
        return img > 127
    colour = img[..., :3].max(axis=2) > 127
    return colour & (img[..., 3] > 127) if img.shape[2] == 4 else colour


def sequence_folder(root: str | os.PathLike[str], subject: str, condition: str, view: int) -> Path:
    """Where a sequence's silhouettes lie in a tree: ``<root>/<subject>/<condition>/<view:03d>``."""
    return Path(root) / subject / condition / f"{int(view):03d}"


def write_silhouettes(
    root: str | os.PathLike[str], subject: str, condition: str, view: int, masks: np.ndarray
) -> Path:
    """Write one sequence's silhouettes into the CASIA-B tree under ``root``; return its folder.

    The frames become ``<root>/001/nm-01/090/001-nm-01-090-001.png``, ``...-002.png``, ... (0/255 grey). They
    are written into a hidden folder beside the sequence's (which readers skip) that is then renamed, so the
    sequence folder appears complete or not at all and a folder left by an interrupted run is replaced.

    Parameters
    ----------
    root : path
        The tree's root: the folder that holds the subject folders.
    subject, condition : str
        E.g. ``"001"`` and ``"nm-01"``.
    view : int
        Degrees; the folder name has three digits.
    masks : ndarray, bool (T, H, W)
    """
    check_silhouettes(masks, "masks")
    folder = sequence_folder(root, subject, condition, view)
    key = f"{subject}-{condition}-{int(view):03d}"
    tmp = folder.parent / f".{folder.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    for i, m in enumerate(masks):
        if not cv2.imwrite(str(tmp / f"{key}-{i + 1:03d}.png"), m.astype(np.uint8) * 255):
            raise OSError(f"could not write a PNG into {tmp}")
    if folder.exists():  # an earlier, interrupted run left a complete copy being replaced
        shutil.rmtree(folder)
    os.replace(tmp, folder)
    return folder


@dataclasses.dataclass(frozen=True)
class SequenceRef:
    """Where one CASIA-B sequence lies; no pixels. ``names`` are its PNG frames' file names in frame order."""

    subject: str
    condition: str
    view: int
    directory: Path
    names: tuple[str, ...]

    @property
    def files(self) -> tuple[Path, ...]:
        """The PNG frames, in frame order."""
        return tuple(self.directory / n for n in self.names)

    @property
    def key(self) -> str:
        """``subject-condition-view``, e.g. ``001-nm-01-090``."""
        return f"{self.subject}-{self.condition}-{self.view:03d}"

    @property
    def num_frames(self) -> int:
        return len(self.names)


# ----------------------------------------------------------------------------------------------------------
# videos


def read_video(path: Path) -> tuple[np.ndarray, float]:
    """All frames of a video file.

    Returns
    -------
    frames : ndarray, uint8 (T, H, W, 3)
        RGB (converted from OpenCV's BGR here).
    fps : float
        As the file declares it; 25.0 when it declares none.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"video {path} does not exist")
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise ValueError(f"cannot read video {path}: OpenCV cannot open it (not a video, or an unknown codec)")
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        frames = []
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    finally:
        cap.release()
    if not frames:
        raise ValueError(f"cannot read video {path}: no frame could be decoded")
    return np.stack(frames), (fps if fps > 0 else 25.0)


def read_background(path: Path) -> np.ndarray:
    """The background image of a static camera: temporal median of a video, ``uint8 (H, W, 3)`` RGB."""
    return median_background(read_video(path)[0])


def index_videos(folders: Iterable[Path], skip_dir: Callable[[str], bool] | None = None) -> dict[str, Path]:
    """File stem -> path of every video file under ``folders``, recursively; the first one found wins.

    Hidden folders and folders whose name ``skip_dir`` accepts are not entered.
    """
    found: dict[str, Path] = {}
    for folder in folders:
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = sorted(
                d for d in dirnames if not d.startswith(".") and not (skip_dir is not None and skip_dir(d))
            )
            for name in sorted(filenames):
                stem, ext = os.path.splitext(name)
                if ext.lower() in VIDEO_EXTENSIONS:
                    found.setdefault(stem, Path(dirpath) / name)
    return found


# ----------------------------------------------------------------------------------------------------------
# the reader


class CasiaB:
    """The CASIA-B dataset on disk: index the silhouette tree, then load sequences one at a time.

    Parameters
    ----------
    root : path
        The silhouette tree (``<root>/001/nm-01/090/*.png``); see the module docstring for accepted layouts.
    video_root : path, optional
        Where the colour and background videos are (searched recursively). Without it they are looked for
        under ``root`` outside the subject folders.

    Examples
    --------
    >>> data = CasiaB("/data/CASIA-B/silhouettes", video_root="/data/CASIA-B/videos")  # doctest: +SKIP
    >>> refs = data.index(subjects=range(75, 125), conditions=["nm"], views=[90])  # doctest: +SKIP
    >>> seq = data.load(refs[0], frames=True, background=True)  # doctest: +SKIP
    """

    name = "casia-b"

    def __init__(self, root: str | os.PathLike[str], video_root: str | os.PathLike[str] | None = None) -> None:
        self.root = check_root(root)
        self.video_root = None if video_root is None else check_root(video_root, "CASIA-B video folder")
        self._videos: dict[str, Path] | None = None

    def __repr__(self) -> str:
        video_root = None if self.video_root is None else str(self.video_root)
        return f"CasiaB(root={str(self.root)!r}, video_root={video_root!r})"

    def index(
        self,
        subjects: Iterable[str | int] | str | int | None = None,
        conditions: Iterable[str] | str | None = None,
        views: Iterable[int | str] | int | str | None = None,
    ) -> list[SequenceRef]:
        """List the sequences of the tree (file names only, no pixels), in subject, condition, view order.

        Parameters
        ----------
        subjects : list of str or int, optional
            ``"001"`` or ``1``; all when None.
        conditions : list of str, optional
            ``"nm-01"`` or a type ``"nm"``; all when None.
        views : list of int, optional
            Degrees, 0..180 step 18; all when None.

        Returns
        -------
        list of SequenceRef
            Sequences whose folder holds at least one PNG file. Raises ``ValueError`` when the tree has no
            subject folders or a filter names something CASIA-B does not have, ``OSError`` for an unreadable folder.
        """
        selection = Selection.make(subjects, conditions, views).check_casia()
        if not subject_dirs(self.root):
            raise ValueError(
                f"no CASIA-B subject folders (001, 002, ...) in {self.root}; expected <root>/001/nm-01/090/*.png"
            )
        refs = []
        for subject, condition, view, folder in walk_tree(self.root, selection):
            names = list_frames(folder)
            if names:
                refs.append(SequenceRef(subject, condition, view, folder, names))
        refs.sort(key=lambda r: (r.subject, condition_order(r.condition), r.view))
        return refs

    def empty_folders(
        self,
        subjects: Iterable[str | int] | str | int | None = None,
        conditions: Iterable[str] | str | None = None,
        views: Iterable[int | str] | int | str | None = None,
    ) -> list[tuple[str, str, int]]:
        """``(subject, condition, view)`` of the selected sequence folders that hold no PNG file (which
        :meth:`index` leaves out): a sequence that was there and is gone, to be counted, not silently skipped."""
        selection = Selection.make(subjects, conditions, views).check_casia()
        return sorted({(s, c, v) for s, c, v, folder in walk_tree(self.root, selection) if not list_frames(folder)},
                      key=lambda t: (t[0], condition_order(t[1]), t[2]))

    def ref(self, key: str) -> SequenceRef:
        """The sequence named ``subject-condition-view`` (e.g. ``"001-nm-01-090"``); ``KeyError`` if absent."""
        m = SEQUENCE_NAME_RE.match(key)
        if not m:
            raise ValueError(f"sequence name {key!r} is not like '001-nm-01-090'")
        refs = self.index([m["subject"]], [m["condition"]], [int(m["view"])])
        if not refs:
            raise KeyError(f"sequence {key} is not in {self.root} (missing folder or no PNG frames)")
        return refs[0]

    def _video_index(self) -> dict[str, Path]:
        if self._videos is None:
            if self.video_root is not None:
                self._videos = index_videos([self.video_root])
            else:
                # Videos never sit inside subject folders; skipping them avoids walking the silhouette tree.
                self._videos = index_videos([self.root], skip_dir=lambda name: bool(SUBJECT_RE.match(name)))
        return self._videos

    def _searched(self) -> str:
        if self.video_root is not None:
            return str(self.video_root)
        return f"{self.root} and its non-subject folders"

    def video_path(self, ref: SequenceRef) -> Path:
        """The colour video ``<key>.avi`` of a sequence; ``FileNotFoundError`` naming where it was looked for."""
        path = self._video_index().get(ref.key)
        if path is None:
            raise FileNotFoundError(f"colour video {ref.key}.avi not found in {self._searched()}; pass video_root")
        return path

    def background_path(self, ref: SequenceRef) -> Path:
        """The background video ``<subject>-bkgrd-<view>.avi`` of a sequence's camera."""
        name = f"{ref.subject}-bkgrd-{ref.view:03d}"
        path = self._video_index().get(name)
        if path is None:
            raise FileNotFoundError(f"background video {name}.avi not found in {self._searched()}; pass video_root")
        return path

    def load_silhouettes(self, ref: SequenceRef) -> np.ndarray:
        """The silhouettes of one sequence, ``bool (T, H, W)``; frames of another size than the first raise."""
        masks = [read_silhouette(p) for p in ref.files]
        if not masks:
            raise ValueError(f"sequence {ref.key} in {ref.directory} has no frames")
        first = masks[0].shape
        for path, m in zip(ref.files, masks, strict=True):
            if m.shape != first:
                raise ValueError(
                    f"silhouette frame {path} is {m.shape[1]}x{m.shape[0]}, the sequence's first frame is "
                    f"{first[1]}x{first[0]}; run `gaitbench data check` on the tree"
                )
        return np.stack(masks)

    def load(self, ref: SequenceRef, *, frames: bool = False, background: bool = False) -> GaitSequence:
        """Read one sequence.

        Parameters
        ----------
        ref : SequenceRef
            From :meth:`index`.
        frames : bool
            Also read the colour frames aligned with the silhouettes (frame ``NNN`` = video frame ``NNN-1``).
        background : bool
            Also compute the background image (temporal median of the ``bkgrd`` video).

        Returns
        -------
        GaitSequence
            ``silhouettes`` bool (T, H, W); ``frames`` uint8 (T, H, W, 3) RGB and ``background`` uint8 (H, W, 3)
            RGB when asked; ``fps`` from the colour video when read, else 25.
        """
        silhouettes = self.load_silhouettes(ref)
        h, w = silhouettes.shape[1:]
        rgb = bg = None
        fps = 25.0
        if frames:
            path = self.video_path(ref)
            video, fps = read_video(path)
            numbers = [frame_number(n) for n in ref.names]
            if any(n is None for n in numbers):
                picks = np.arange(len(ref.names))
            else:
                picks = np.asarray(numbers) - 1
            if picks.min() < 0 or picks.max() >= len(video):
                raise ValueError(
                    f"colour video {path} has {len(video)} frames; silhouettes of {ref.key} need frames "
                    f"{picks.min() + 1}..{picks.max() + 1}"
                )
            if video.shape[1:3] != (h, w):
                raise ValueError(f"colour video {path} is {video.shape[2]}x{video.shape[1]}, silhouettes are {w}x{h}")
            rgb = video[picks]
        if background:
            path = self.background_path(ref)
            bg = read_background(path)
            if bg.shape[:2] != (h, w):
                raise ValueError(f"background video {path} is {bg.shape[1]}x{bg.shape[0]}, silhouettes are {w}x{h}")
        return GaitSequence(
            subject=ref.subject,
            condition=ref.condition,
            view=ref.view,
            silhouettes=silhouettes,
            frames=rgb,
            background=bg,
            fps=fps,
            source=ref.directory,
        )

    def __iter__(self) -> Iterator[GaitSequence]:
        """Every sequence's silhouettes, loaded one at a time."""
        for ref in self.index():
            yield self.load(ref)
