"""Your own videos: a folder of static-camera walking videos read into GaitSequences.

Every video file under the folder (recursively, any of ``.avi .mp4 .mov .mkv .m4v .mpg .mpeg .wmv .webm``)
is one sequence. Its subject, condition and view come from the file name when it follows CASIA-B's
``001-nm-01-090.avi``; otherwise the subject is the file stem, the condition ``nm-01`` and the view the
reader's ``view`` argument (default 90, a side view). Files named like ``001-bkgrd-090.avi`` are not
sequences: they are the empty scene for that subject and view.

Silhouettes come from background subtraction, then cleanup (:func:`extract_silhouettes`):

1. foreground: pixels that differ from the background image by more than ``threshold`` grey levels in any
   channel (``method="median"``; the background is the matching ``bkgrd`` video's temporal median when there
   is one, else the video's own temporal median, so the person must keep moving), or OpenCV's MOG2
   Gaussian-mixture model trained on that background image and updated through the video
   (``method="mog2"``; adapts to slow lighting changes, leaves shadows out);
2. a morphological opening of radius ``opening`` (removes specks), then the largest 8-connected component,
   then its holes filled (:func:`benchmark.silhouettes.clean`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from benchmark.data.casia import (
    BACKGROUND_NAME_RE,
    SEQUENCE_NAME_RE,
    VIDEO_EXTENSIONS,
    Selection,
    check_root,
    read_video,
)
from benchmark.silhouettes import clean, median_background, mog2_silhouettes, subtract_background
from benchmark.types import GaitSequence, check_frames

METHODS: tuple[str, ...] = ("median", "mog2")


def extract_silhouettes(
    frames: np.ndarray,
    *,
    method: str = "median",
    background: np.ndarray | None = None,
    threshold: int = 30,
    opening: int = 1,
) -> np.ndarray:
    """Silhouettes of the one moving person in a static-camera video.

    Parameters
    ----------
    frames : ndarray, uint8 (T, H, W, 3)
        RGB video.
    method : {"median", "mog2"}
        Difference to a background image, or OpenCV's MOG2 model trained on it (``threshold`` unused).
    background : ndarray, uint8 (H, W, 3), optional
        The empty scene; default: the temporal median of ``frames``.
    threshold : int
        Grey-level difference (any channel) above which a pixel is foreground, for ``method="median"``.
    opening : int
        Radius of the morphological opening applied before keeping the largest component; 0 = none.

    Returns
    -------
    ndarray, bool (T, H, W)
        One component per frame at most, holes filled; frames without a person are empty.
    """
    check_frames(frames)
    if method not in METHODS:
        raise ValueError(f"unknown background-subtraction method {method!r}: use one of {', '.join(METHODS)}")
    if len(frames) == 0:
        raise ValueError("cannot extract silhouettes from a video of 0 frames")
    if method == "median":
        bg = median_background(frames) if background is None else background
        raw = subtract_background(frames, bg, threshold=threshold)
    else:
        raw = mog2_silhouettes(frames, background=background)
    return clean(raw, opening=opening)


@dataclasses.dataclass(frozen=True)
class VideoRef:
    """One user video; ``background_path`` is the matching ``<subject>-bkgrd-<view>`` video, if any."""

    subject: str
    condition: str
    view: int
    path: Path
    background_path: Path | None = None

    @property
    def key(self) -> str:
        return f"{self.subject}-{self.condition}-{self.view:03d}"


class UserVideos:
    """A folder (or a single file) of static-camera walking videos.

    Parameters
    ----------
    root : path
        Folder searched recursively for video files, or one video file.
    view : int
        View in degrees given to videos whose names do not carry one (0 = toward the camera, 90 = side).
    method : {"median", "mog2"}
        Background subtraction, see :func:`extract_silhouettes`.
    threshold, opening : int
        Passed to :func:`extract_silhouettes`.
    """

    name = "videos"

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        view: int = 90,
        method: str = "median",
        threshold: int = 30,
        opening: int = 1,
    ) -> None:
        path = Path(root).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"video folder {path} does not exist")
        self.root = path if path.is_file() else check_root(path, "video folder")
        if method not in METHODS:
            raise ValueError(f"unknown background-subtraction method {method!r}: use one of {', '.join(METHODS)}")
        if isinstance(view, bool) or not isinstance(view, int) or not 0 <= view < 360:
            raise ValueError(f"view must be an int in 0..359 degrees, got {view!r}")
        self.view, self.method, self.threshold, self.opening = view, method, threshold, opening

    def __repr__(self) -> str:
        return f"UserVideos(root={str(self.root)!r}, view={self.view}, method={self.method!r})"

    def _files(self) -> list[Path]:
        if self.root.is_file():
            return [self.root]
        files = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            files += [
                Path(dirpath) / f
                for f in sorted(filenames)
                if not f.startswith(".") and os.path.splitext(f)[1].lower() in VIDEO_EXTENSIONS
            ]
        return files

    def index(
        self,
        subjects: Iterable[str | int] | str | int | None = None,
        conditions: Iterable[str] | str | None = None,
        views: Iterable[int | str] | int | str | None = None,
    ) -> list[VideoRef]:
        """List the videos (no decoding), sorted by key; ``ValueError`` when the folder holds none.

        Two files that would give the same ``subject-condition-view`` key raise ``ValueError`` naming both.
        """
        selection = Selection.make(subjects, conditions, views)
        files = self._files()
        backgrounds: dict[tuple[str, int], Path] = {}
        named: list[tuple[str, str, int, Path]] = []
        for path in files:
            stem = path.stem
            if m := BACKGROUND_NAME_RE.match(stem):
                backgrounds.setdefault((m["subject"], int(m["view"])), path)
            elif m := SEQUENCE_NAME_RE.match(stem):
                named.append((m["subject"], m["condition"], int(m["view"]), path))
            else:
                named.append((stem, "nm-01", self.view, path))
        if not named:
            raise ValueError(f"no videos ({', '.join(VIDEO_EXTENSIONS)}) found in {self.root}")
        refs: dict[str, VideoRef] = {}
        for subject, condition, view, path in named:
            ref = VideoRef(subject, condition, view, path, backgrounds.get((subject, view)))
            if ref.key in refs:
                raise ValueError(f"videos {refs[ref.key].path} and {path} both give {ref.key}; rename one of them")
            refs[ref.key] = ref
        return [r for k, r in sorted(refs.items()) if selection.matches(r.subject, r.condition, r.view)]

    def load(self, ref: VideoRef, *, frames: bool = False, background: bool = False) -> GaitSequence:
        """Decode one video and extract its silhouettes.

        Returns
        -------
        GaitSequence
            ``silhouettes`` bool (T, H, W); ``frames`` uint8 (T, H, W, 3) RGB and ``background`` uint8 (H, W, 3)
            RGB (the ``bkgrd`` video's temporal median, else this video's) when asked; ``fps`` from the file.
            Unreadable files raise ``ValueError`` naming the file.
        """
        video, fps = read_video(ref.path)
        if ref.background_path is not None:
            bg_video, _ = read_video(ref.background_path)
            if bg_video.shape[1:] != video.shape[1:]:
                raise ValueError(
                    f"background video {ref.background_path} is {bg_video.shape[2]}x{bg_video.shape[1]}, "
                    f"video {ref.path} is {video.shape[2]}x{video.shape[1]}"
                )
            bg = median_background(bg_video)
        else:
            bg = median_background(video)
        silhouettes = extract_silhouettes(
            video, method=self.method, background=bg, threshold=self.threshold, opening=self.opening
        )
        return GaitSequence(
            subject=ref.subject,
            condition=ref.condition,
            view=ref.view,
            silhouettes=silhouettes,
            frames=video if frames else None,
            background=bg if background else None,
            fps=fps,
            source=ref.path,
        )


def read_user_video(
    path: str | os.PathLike[str],
    *,
    view: int = 90,
    method: str = "median",
    threshold: int = 30,
    opening: int = 1,
) -> GaitSequence:
    """One video file as a GaitSequence with frames and background; see :class:`UserVideos`."""
    reader = UserVideos(path, view=view, method=method, threshold=threshold, opening=opening)
    return reader.load(reader.index()[0], frames=True, background=True)
