"""The survey definition ``survey.json``: which clips a study shows and what each one is.

Layout of a survey folder (written by ``gaitbench survey build``)::

    survey.json             this definition (format, seed, build settings, sources, stimuli)
    clips/<id>.mp4          one clip per stimulus (H.264 in MP4; ``.webm`` when VP9 was used)
    responses.sqlite        the answers (``gaitbench survey serve``; another path with --db)
    results-mos.csv         the analysis (``gaitbench survey analyze``)

Every stimulus has a ``role``:

=============  ========================================================================================
``test``       a clip of an anonymized dataset; its ``method`` and ``parameters`` come from the
               dataset's ``anonymization.json``
``reference``  a hidden reference: the original (clean) sequence, method ``original``
``anchor``     a deliberately bad clip made by the build (an original blurred and with its frames
               shuffled), method ``anchor``; raters who do not rate it below the references are screened
=============  ========================================================================================

Clip ids are opaque (a hash of role, method, parameters and sequence), so nothing a rater's browser sees tells
which method made a clip.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

FORMAT = "gaitbench-survey/1"
SURVEY_FILE = "survey.json"
CLIPS_DIR = "clips"
DEFAULT_DB = "responses.sqlite"
ROLES: tuple[str, ...] = ("test", "reference", "anchor")
REFERENCE_METHOD = "original"
ANCHOR_METHOD = "anchor"
#: the paper's five-point naturalness scale (value, label)
SCALE: tuple[tuple[int, str], ...] = ((1, "Bad"), (2, "Poor"), (3, "Fair"), (4, "Good"), (5, "Excellent"))
CLIP_ID_RE = re.compile(r"^[0-9a-f]{12}$")
CLIP_SUFFIXES: tuple[str, ...] = (".mp4", ".webm")


def clip_id(role: str, method: str, parameters: str, sequence: str) -> str:
    """The opaque id of a stimulus: 12 hex digits of sha256 over what it shows (stable across rebuilds)."""
    return hashlib.sha256(f"{role}|{method}|{parameters}|{sequence}".encode()).hexdigest()[:12]


@dataclasses.dataclass(frozen=True)
class Stimulus:
    """One clip of a survey.

    Attributes
    ----------
    id : str
        Opaque clip id (:func:`clip_id`), 12 hex digits.
    file : str
        Relative POSIX path of the clip inside the survey folder, ``clips/<id>.mp4`` (or ``.webm``).
    role : str
        ``test``, ``reference`` or ``anchor`` (see the module docstring).
    method, parameters : str
        As in the tidy results table (``stgan``, ``alpha=0.3``).
    view : int
        Camera view in degrees.
    condition : str
        The sequence's condition, e.g. ``nm-05``.
    sequence : str
        The sequence key ``subject-condition-view``.
    source : str
        The dataset folder the frames were read from.
    frames, fps, width, height, codec, sha256
        The encoded clip, as written.
    """

    id: str
    file: str
    role: str
    method: str
    parameters: str
    view: int
    condition: str
    sequence: str
    source: str
    frames: int
    fps: float
    width: int
    height: int
    codec: str
    sha256: str

    @property
    def duration(self) -> float:
        """Play time in seconds."""
        return self.frames / self.fps

    @property
    def filename(self) -> str:
        """The clip's file name (``<id>.mp4``)."""
        return PurePosixPath(self.file).name


_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "id": str, "file": str, "role": str, "method": str, "parameters": str, "view": int, "condition": str,
    "sequence": str, "source": str, "frames": int, "fps": (int, float), "width": int, "height": int, "codec": str,
    "sha256": str,
}


def stimulus_from_mapping(data: Mapping[str, Any], where: str) -> Stimulus:
    """Validate one entry of ``stimuli``; ``ValueError`` naming ``where`` and the field."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: expected an object, got {type(data).__name__}")
    missing = [k for k in _FIELD_TYPES if k not in data]
    if missing:
        raise ValueError(f"{where}: missing field(s) {missing}")
    for key, tp in _FIELD_TYPES.items():
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, tp):
            raise ValueError(f"{where}.{key}: expected {getattr(tp, '__name__', 'a number')}, got {value!r}")
    stim = Stimulus(**{k: data[k] for k in _FIELD_TYPES})
    stim = dataclasses.replace(stim, fps=float(stim.fps))
    if not CLIP_ID_RE.match(stim.id):
        raise ValueError(f"{where}.id: expected 12 hex digits, got {stim.id!r}")
    path = PurePosixPath(stim.file)
    if path.parts != (CLIPS_DIR, f"{stim.id}{path.suffix}") or path.suffix not in CLIP_SUFFIXES:
        raise ValueError(f"{where}.file: expected {CLIPS_DIR}/{stim.id}.mp4 or .webm, got {stim.file!r}")
    if stim.role not in ROLES:
        raise ValueError(f"{where}.role: expected one of {', '.join(ROLES)}, got {stim.role!r}")
    if stim.frames < 1 or not stim.fps > 0:
        raise ValueError(f"{where}: a clip needs frames >= 1 and fps > 0, got {stim.frames} at {stim.fps}")
    return stim


@dataclasses.dataclass(frozen=True)
class Survey:
    """A loaded ``survey.json``.

    Attributes
    ----------
    root : Path
        The survey folder.
    seed : int
        The build's seed; rater orders are seeded by it and the rater's token.
    stimuli : tuple of Stimulus
        In build order (test clips by method and view, then references, then anchors).
    record : dict
        The whole JSON document (build settings, sources, versions).
    """

    root: Path
    seed: int
    stimuli: tuple[Stimulus, ...]
    record: Mapping[str, Any]

    @property
    def survey_id(self) -> str:
        """16 hex digits over the seed and the clip ids: a response database belongs to exactly one survey."""
        text = json.dumps([self.seed, sorted(s.id for s in self.stimuli)])
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def by_id(self) -> dict[str, Stimulus]:
        return {s.id: s for s in self.stimuli}

    def clip_path(self, stimulus: Stimulus) -> Path:
        return self.root / CLIPS_DIR / stimulus.filename


def load_survey(root: str | Path) -> Survey:
    """Read and validate ``root/survey.json``; ``FileNotFoundError``/``ValueError`` naming the file and field."""
    root = Path(root)
    path = root / SURVEY_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: build the survey first (gaitbench survey build ... --out "
                                f"{root})")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a JSON object")
    if data.get("format") != FORMAT:
        raise ValueError(f"{path}: format is {data.get('format')!r}, this gaitbench reads {FORMAT!r}")
    seed = data.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"{path}: seed must be an integer, got {seed!r}")
    entries = data.get("stimuli")
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{path}: stimuli must be a non-empty list")
    stimuli = tuple(stimulus_from_mapping(e, f"{path}: stimuli[{i}]") for i, e in enumerate(entries))
    seen: set[str] = set()
    for s in stimuli:
        if s.id in seen:
            raise ValueError(f"{path}: clip id {s.id} appears twice")
        seen.add(s.id)
    return Survey(root=root, seed=seed, stimuli=stimuli, record=data)
