"""BlazePose body landmarks: a human pose model trained on real people that runs offline.

mediapipe 0.10.14 ships BlazePose GHUM 3D "full" (``pose_landmark_full.tflite``, with its person detector
``pose_detection.tflite``) inside its wheel and runs it through the legacy ``mp.solutions.pose`` API
(Bazarevsky et al. 2020, "BlazePose: On-device Real-time Body Pose tracking", arXiv:2006.10204). Only
``model_complexity=1`` is bundled: 0 ("lite") and 2 ("heavy") are downloaded on first use, so they are not offered
here. Later mediapipe versions ship no model files (and 0.10.21 requires numpy < 2), so the version is pinned.

Install (mediapipe's declared dependencies pull jax and opencv-contrib-python, a second ``cv2`` beside
opencv-python, which BlazePose does not need)::

    pip install --no-deps mediapipe==0.10.14 && pip install -e '.[pose]'

:class:`BlazePose` turns RGB frames into 33 landmarks per frame: ``x, y`` in pixels of the frame, ``z`` (depth
relative to the hips, in the scale of ``x``) and the model's visibility in [0, 1] (the likelihood that the point is
in the image and not occluded). A frame in which no person is found gives a row of NaN.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.types import check_frames

MEDIAPIPE_VERSION = "0.10.14"
INSTALL = f"pip install --no-deps mediapipe=={MEDIAPIPE_VERSION} && pip install -e '.[pose]'"
#: the bundled model files, relative to the mediapipe package
MODEL_FILES = ("modules/pose_landmark/pose_landmark_full.tflite", "modules/pose_detection/pose_detection.tflite")
#: BlazePose's 33 landmarks, in the model's order
LANDMARKS: tuple[str, ...] = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)
INDEX = {name: i for i, name in enumerate(LANDMARKS)}
#: columns of a landmark row
X, Y, Z, VISIBILITY = 0, 1, 2, 3
#: what mediapipe's native code writes to stderr at every graph start, in every process (TFLite's delegate notice,
#: absl's notice that logging is not initialised, a warning about feedback tensors the model does not use): not
#: the user's concern, so dropped; any other line its native code writes is passed on
NATIVE_NOISE = re.compile(r"Created TensorFlow Lite XNNPACK delegate|before absl::InitializeLog\(\)"
                          r"|inference_feedback_manager\.cc")


def import_mediapipe() -> Any:
    """The ``mediapipe`` package with BlazePose's bundled model files; ``ImportError`` saying what to install."""
    os.environ.setdefault("GLOG_minloglevel", "2")  # mediapipe's C++ log lines on stderr: errors only
    try:
        mp = importlib.import_module("mediapipe")
    except ImportError as exc:
        raise ImportError(f"BlazePose needs mediapipe {MEDIAPIPE_VERSION}, which cannot be imported "
                          f"({type(exc).__name__}: {exc}); install it with: {INSTALL}") from exc
    root = Path(str(mp.__file__)).parent
    missing = [f for f in MODEL_FILES if not (root / f).is_file()]
    if missing:
        raise ImportError(f"mediapipe {getattr(mp, '__version__', '?')} at {root} ships no BlazePose model "
                          f"({', '.join(missing)} missing; only {MEDIAPIPE_VERSION} bundles them with numpy 2, later "
                          f"versions download them, which gaitbench never does); install: {INSTALL}")
    return mp


def model_identity() -> str:
    """What produced the landmarks, for labels: the mediapipe version and the landmark model file."""
    mp = import_mediapipe()
    return f"BlazePose GHUM full (mediapipe {mp.__version__}, pose_landmark_full.tflite)"


class BlazePose:
    """BlazePose on RGB frames.

    Parameters
    ----------
    video : bool
        False: every frame is detected on its own (a frame's result does not depend on its neighbours, as a
        frame score must not). True: the person found in one frame is tracked into the next (faster, smoother
        landmarks over a clip).
    min_detection : float
        Lowest person-detection confidence in [0, 1] that counts as a person.
    min_tracking : float
        (``video``) Lowest landmark-tracking confidence before detecting again.
    """

    def __init__(self, *, video: bool = False, min_detection: float = 0.5, min_tracking: float = 0.5) -> None:
        for name, value in (("min_detection", min_detection), ("min_tracking", min_tracking)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {value}")
        self.video, self.min_detection, self.min_tracking = video, min_detection, min_tracking
        self._pose: Any = None

    def _model(self) -> Any:
        if self._pose is None:
            mp = import_mediapipe()
            self._pose = mp.solutions.pose.Pose(static_image_mode=not self.video, model_complexity=1,
                                                smooth_landmarks=self.video, enable_segmentation=False,
                                                min_detection_confidence=self.min_detection,
                                                min_tracking_confidence=self.min_tracking)
        return self._pose

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        """Landmarks ``float32 (T, 33, 4)`` (x px, y px, z, visibility) of RGB frames ``uint8 (T, H, W, 3)``; NaN
        rows where no person is found."""
        check_frames(frames)
        t, h, w = frames.shape[:3]
        out = np.full((t, len(LANDMARKS), 4), np.nan, np.float32)
        with warnings.catch_warnings(), native_stderr_filtered():
            # protobuf's deprecation notice about mediapipe's own message code
            warnings.filterwarnings("ignore", message=".*GetPrototype", category=UserWarning)
            pose = self._model()
            for i in range(t):
                found = pose.process(np.ascontiguousarray(frames[i])).pose_landmarks
                if found is not None:
                    out[i] = [(p.x * w, p.y * h, p.z * w, p.visibility) for p in found.landmark]
        return out

    def close(self) -> None:
        if self._pose is not None:
            self._pose.close()
            self._pose = None

    def __enter__(self) -> BlazePose:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def native_stderr_filtered() -> Iterator[None]:
    """Run the block with file descriptor 2 going to a temporary file, then write what it received back to stderr
    less the lines :data:`NATIVE_NOISE` matches (native code writes to the descriptor, not to ``sys.stderr``)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (AttributeError, OSError, ValueError):  # no stderr descriptor: nothing to filter
        yield
        return
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(AttributeError, OSError, ValueError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            kept = [line for line in tmp.read().decode(errors="replace").splitlines(keepends=True)
                    if not NATIVE_NOISE.search(line)]
            if kept:
                os.write(2, "".join(kept).encode())


# ------------------------------------------------------------------------------------ keypoints of a whole dataset

#: the folder, under a decoded cache, of the keypoints of every video BlazePose has read
CACHE_FOLDER = f"blazepose-full-{MEDIAPIPE_VERSION}"


def video_digest(path: Path) -> str:
    """The sha256 of a video file's bytes (keypoints are cached by content: a replaced video is read again)."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def video_keypoints(path: Path, step: int = 1) -> np.ndarray:
    """Landmarks ``float32 (T, 33, 4)`` of every ``step``-th frame of a colour video (frames 0, step, 2 step, ...),
    BlazePose tracking the person from one of those frames to the next (video mode); NaN rows where no person is
    found."""
    from benchmark.data.casia import read_video

    if step < 1:
        raise ValueError(f"step must be >= 1, got {step}")
    frames, _ = read_video(path)
    with BlazePose(video=True) as pose:
        return pose(np.ascontiguousarray(frames[::step]))


def _extract(jobs: list[tuple[str, str, str | None]], step: int) -> dict[str, np.ndarray]:
    """BlazePose landmarks of each ``(key, video, cache file or None)`` of ``jobs``: written to the cache file
    (atomically) when there is one, else returned by key."""
    from benchmark.io import atomic_path

    done = {}
    for key, video, target in jobs:
        points = video_keypoints(Path(video), step)
        if target is None:
            done[key] = points
            continue
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(target, suffix=".npy") as tmp:
            np.save(tmp, points)
    return done


def dataset_keypoints(root: str | os.PathLike[str], refs: list[Any], *, cache_dir: str | os.PathLike[str] | None,
                      workers: int | None = None, step: int = 1) -> dict[str, np.ndarray]:
    """BlazePose landmarks ``float32 (T, 33, 4)`` of every ``step``-th frame of the colour video of each of
    ``refs`` (sequences of the CASIA-B tree at ``root``), by sequence key; read from ``cache_dir/``
    :data:`CACHE_FOLDER` when a video of the same bytes was read before at the same step, else computed (in
    ``workers`` processes) and written there atomically.
    ``FileNotFoundError`` naming the sequence when a video is missing (anonymize with colour frames)."""
    from benchmark.data.casia import CasiaB
    from benchmark.parallel import resolve_workers

    import_mediapipe()  # the install hint before any work
    data = CasiaB(root)
    videos = {}
    for ref in refs:
        try:
            videos[ref.key] = data.video_path(ref)
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"{exc}: pose attackers read the colour video (anonymize with a method that "
                                    "writes colour frames, or drop the pose recognizer)") from None
    folder = Path(cache_dir) / CACHE_FOLDER if cache_dir is not None else None
    if step < 1:
        raise ValueError(f"step must be >= 1, got {step}")
    at = "" if step == 1 else f".step{step}"
    files = {key: (folder / f"{key}{at}.{video_digest(path)[:20]}.npy") if folder is not None else None
             for key, path in videos.items()}
    todo = [(key, str(videos[key]), None if files[key] is None else str(files[key]))
            for key, f in files.items() if f is None or not f.is_file()]
    computed: dict[str, np.ndarray] = {}
    processes = resolve_workers(workers, len(todo)) if todo else 1
    if processes == 1:
        computed = _extract(todo, step)
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # Spawned, not forked: the forked child of a process in which mediapipe has run a graph aborts (SIGABRT).
        with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool:
            for part in pool.map(_extract, [todo[i::processes] for i in range(processes)], [step] * processes):
                computed.update(part)
    out = {}
    for key, target in files.items():
        out[key] = computed[key] if target is None else np.load(target)
    return out
