"""The synthetic CASIA-B-like world: presets, people, and writing it to disk in CASIA-B's layout.

Layout under ``out`` (what ``benchmark.data.casia`` reads)::

    silhouettes/001/nm-01/090/001-nm-01-090-001.png   0/255 8-bit grayscale, 320x240
    videos/001-nm-01-090.avi                          colour, Motion-JPEG, 25 fps
    videos/001-bkgrd-090.avi                          the empty scene of that camera
    manifest.json                                     generator version, seed, preset, every subject

Everything is a pure function of ``(GENERATOR_VERSION, seed, subject number, condition)``, so a world is
reproducible byte for byte (silhouettes) and a killed run can be resumed: a finished sequence directory only
appears by an atomic rename, and videos are written through :func:`benchmark.io.atomic_path`.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from benchmark.data.casia import sequence_folder, write_silhouettes
from benchmark.io import atomic_path, write_json
from benchmark.synth import GENERATOR_VERSION, NOISE_MODELS, PRESET_NAMES
from benchmark.synth.appearance import Bag, Coat, Outfit
from benchmark.synth.gait import GaitStyle, WalkVariation
from benchmark.synth.noise import apply_noise
from benchmark.synth.scene import casia_camera, render_background
from benchmark.synth.walker import Subject, WalkSpec, render_walk, simulate_walk
from benchmark.types import CASIA_VIEWS, CONDITION_RE

ALL_CONDITIONS: tuple[str, ...] = tuple(
    [f"nm-{i:02d}" for i in range(1, 7)] + [f"bg-{i:02d}" for i in range(1, 3)] + [f"cl-{i:02d}" for i in range(1, 3)]
)
FPS = 25.0
BACKGROUND_FRAMES = 25
MJPEG_QUALITY = 92


@dataclasses.dataclass(frozen=True)
class WorldConfig:
    """What to generate. ``views`` in degrees (subset of CASIA-B's), ``conditions`` like ``nm-01``."""

    preset: str
    subjects: int
    views: tuple[int, ...]
    conditions: tuple[str, ...]
    seed: int = 0
    frame_range: tuple[int, int] = (75, 110)
    noise: str = "none"
    videos: bool = True

    def __post_init__(self) -> None:
        if self.subjects < 1 or self.subjects > 999:
            raise ValueError(f"subjects must be in 1..999, got {self.subjects}")
        bad = [v for v in self.views if v not in CASIA_VIEWS]
        if bad or not self.views:
            raise ValueError(f"views must be a non-empty subset of {list(CASIA_VIEWS)}, got {list(self.views)}")
        bad_c = [c for c in self.conditions if not CONDITION_RE.match(c) or c not in ALL_CONDITIONS]
        if bad_c or not self.conditions:
            raise ValueError(f"conditions must be a non-empty subset of {list(ALL_CONDITIONS)}, got {bad_c}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")
        lo, hi = self.frame_range
        if not 1 <= lo <= hi:
            raise ValueError(f"frame_range must satisfy 1 <= min <= max, got {self.frame_range}")
        if self.noise not in NOISE_MODELS:
            raise ValueError(f"unknown noise model {self.noise!r}; known: {sorted(NOISE_MODELS)}")


PRESETS: dict[str, WorldConfig] = {
    # Small enough for CI: 6 people, 5 views; the gallery nm-01..04 and one probe of each kind.
    "ci": WorldConfig(
        "ci", 6, (0, 54, 90, 126, 180), ("nm-01", "nm-02", "nm-03", "nm-04", "nm-05", "bg-01", "cl-01")
    ),
    # The paper's group split scaled down: 40 people, every view and condition.
    "quick": WorldConfig("quick", 40, CASIA_VIEWS, ALL_CONDITIONS),
    # CASIA-B-sized: 124 people x 110 sequences.
    "full": WorldConfig("full", 124, CASIA_VIEWS, ALL_CONDITIONS),
}

if tuple(PRESETS) != PRESET_NAMES:
    raise ImportError("benchmark.synth.PRESET_NAMES must list the presets of benchmark.synth.world")


def preset(name: str, **overrides: Any) -> WorldConfig:
    """A preset's config with some fields replaced (e.g. ``subjects=10``, ``seed=3``); unknown keys raise."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    fields = {f.name for f in dataclasses.fields(WorldConfig)}
    unknown = set(overrides) - fields
    if unknown:
        raise ValueError(f"unknown world settings {sorted(unknown)}; known: {sorted(fields)}")
    return dataclasses.replace(PRESETS[name], **{k: v for k, v in overrides.items() if v is not None})


def subject_id(index: int) -> str:
    return f"{index + 1:03d}"


def _rng(seed: int, *keys: int | str) -> np.random.Generator:
    # Independent streams per (seed, subject, condition, ...): results never depend on task order.
    ints = [int.from_bytes(k.encode(), "little") if isinstance(k, str) else int(k) for k in keys]
    return np.random.default_rng([int(GENERATOR_VERSION), seed, *ints])


def sample_subject(seed: int, index: int) -> Subject:
    """Subject ``index`` (0-based) of the world with ``seed``: phenotype, gait style, outfit, bag and coat.

    Phenotypes follow CASIA-B's make-up (about three men to one woman, young adults). Stature is drawn in
    metres from adult distributions and turned into anny's ``height`` by :func:`calibrate_height` later,
    when the body model is at hand.
    """
    rng = _rng(seed, index, "subject")
    female = rng.random() < 0.25
    gender = float(rng.uniform(0.85, 1.0) if female else rng.uniform(0.0, 0.15))  # anny: 0 male, 1 female
    stature = float(np.clip(rng.normal(1.62, 0.065) if female else rng.normal(1.75, 0.07), 1.45, 1.98))
    phenotype = {
        "gender": gender,
        "age": float(rng.uniform(0.6, 0.8)),  # anny: 2/3 is a young adult, 1 is old
        "muscle": float(np.clip(rng.normal(0.5, 0.15), 0.1, 0.9)),
        "weight": float(np.clip(rng.normal(0.5, 0.17), 0.1, 0.95)),
        "height": stature,  # metres until calibrated
        "proportions": float(np.clip(rng.normal(0.5, 0.15), 0.1, 0.9)),
    }
    style = GaitStyle.sample(rng, phenotype["weight"])
    outfit = Outfit.sample(rng, 1.0 - gender)
    # Body fat beyond what anny's weight shows, tied to it (BMI spreads like this in young adults).
    girth = float(np.clip(0.05 * (phenotype["weight"] - 0.5) + rng.normal(0.0, 0.008), -0.02, 0.045))
    return Subject(subject_id(index), phenotype, style, outfit, Bag.sample(rng), Coat.sample(rng), girth)


def walk_spec(seed: int, subject: Subject, condition: str) -> WalkSpec:
    """The walk ``condition`` (e.g. ``bg-02``) of ``subject``: its variation and what is carried or worn."""
    rng = _rng(seed, int(subject.id), condition)
    kind = condition[:2]
    bag = coat = None
    if kind == "bg":
        # Most people bring the same bag both times, packed a little differently; some switch bags.
        bag = subject.bag.varied(rng) if rng.random() < 0.8 else Bag.sample(rng)
    elif kind == "cl":
        coat = subject.coat if condition == "cl-01" or rng.random() < 0.7 else Coat.sample(rng)
    return WalkSpec(
        condition=condition,
        variation=WalkVariation.sample(rng),
        # Nobody walks the same line twice: a few decimetres aside, a few degrees off.
        lateral=float(np.clip(rng.normal(0.0, 0.2), -0.5, 0.5)),
        heading=float(np.clip(rng.normal(0.0, 4.0), -10.0, 10.0)),
        bag=bag,
        coat=coat,
    )


def manifest(config: WorldConfig, subjects: Sequence[Subject]) -> dict[str, Any]:
    """The manifest: generator version, config and every subject's parameters (JSON-ready)."""
    return {
        "generator": "gaitbench.synth",
        "generator_version": GENERATOR_VERSION,
        "seed": config.seed,
        "preset": config.preset,
        "config": dataclasses.asdict(config),
        "fps": FPS,
        "frame_size": [240, 320],
        "subjects": [dataclasses.asdict(s) for s in subjects],
    }


# --------------------------------------------------------------------------------------------- workers

_BODY: Any = None


def _body() -> Any:
    global _BODY
    if _BODY is None:
        from benchmark.synth.body import BodyModel

        _BODY = BodyModel()
    return _BODY


_BACKGROUNDS: dict[tuple[int, int], np.ndarray] = {}


def background(seed: int, view: int) -> np.ndarray:
    """The empty scene of camera ``view`` in the world ``seed``: ``uint8 (240, 320, 3)`` RGB (cached)."""
    key = (seed, view)
    if key not in _BACKGROUNDS:
        _BACKGROUNDS[key] = render_background(casia_camera(view), _rng(seed, view, "background"))
    return _BACKGROUNDS[key]


def silhouette_root(out: Path) -> Path:
    """The world's CASIA-B silhouette tree, ``out/silhouettes``."""
    return out / "silhouettes"


def sequence_dir(out: Path, subject: str, condition: str, view: int) -> Path:
    return sequence_folder(silhouette_root(out), subject, condition, view)


def video_path(out: Path, subject: str, condition: str, view: int) -> Path:
    return out / "videos" / f"{subject}-{condition}-{view:03d}.avi"


def background_path(out: Path, subject: str, view: int) -> Path:
    return out / "videos" / f"{subject}-bkgrd-{view:03d}.avi"


def write_video(path: Path, frames: np.ndarray, fps: float = FPS) -> None:
    """Write RGB frames ``uint8 (T, H, W, 3)`` as a Motion-JPEG ``.avi`` atomically."""
    h, w = frames.shape[1:3]
    with atomic_path(path, suffix=".avi") as tmp:
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter.fourcc(*"MJPG"), fps, (w, h))
        if not writer.isOpened():
            raise RuntimeError(f"OpenCV could not open an MJPG video writer for {path}")
        writer.set(cv2.VIDEOWRITER_PROP_QUALITY, MJPEG_QUALITY)
        for f in frames:
            writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
        writer.release()


def _done(config: WorldConfig, out: Path, subject: str, condition: str, view: int) -> bool:
    if not sequence_dir(out, subject, condition, view).is_dir():
        return False
    return not config.videos or video_path(out, subject, condition, view).exists()


def generate_walk(config: WorldConfig, out: Path, subject: Subject, condition: str) -> int:
    """Simulate one walk and write every missing view of it; returns the number of frames written."""
    views = [v for v in config.views if not _done(config, out, subject.id, condition, v)]
    if config.videos and condition == config.conditions[0]:
        for v in config.views:
            p = background_path(out, subject.id, v)
            if not p.exists():
                write_video(p, np.repeat(background(config.seed, v)[None], BACKGROUND_FRAMES, axis=0))
    if not views:
        return 0
    spec = walk_spec(config.seed, subject, condition)
    walk = simulate_walk(_body(), subject, spec, FPS, frame_range=config.frame_range)
    written = 0
    for v in views:
        frames, masks = render_walk(walk, casia_camera(v), background(config.seed, v))
        if config.noise != "none":
            masks = apply_noise(masks, config.noise, _rng(config.seed, int(subject.id), condition, v, "noise"))
        # The video first: a sequence directory therefore means that everything of this view is there.
        if config.videos:
            write_video(video_path(out, subject.id, condition, v), frames)
        write_silhouettes(silhouette_root(out), subject.id, condition, v, masks)
        written += len(masks)
    return written


def _task(config: WorldConfig, out: str, subject: Subject, condition: str) -> tuple[str, str, int]:
    return subject.id, condition, generate_walk(config, Path(out), subject, condition)


def calibrate_height(body: Any, phenotype: dict[str, float]) -> dict[str, float]:
    """Replace ``phenotype['height']`` (a stature in metres) by anny's height parameter giving that stature.

    Bisection on the rest pose's stature, which grows monotonically with the parameter.
    """
    target = phenotype["height"]
    lo, hi = 0.0, 1.0
    for _ in range(14):
        mid = (lo + hi) / 2
        rest, _ = body.rest({**phenotype, "height": mid})
        if float(np.ptp(rest[:, 2])) < target:
            lo = mid
        else:
            hi = mid
    return {**phenotype, "height": round((lo + hi) / 2, 6)}


def build_subjects(config: WorldConfig) -> list[Subject]:
    """Every subject of the world, with anny height parameters calibrated to their statures."""
    body = _body()
    out = []
    for i in range(config.subjects):
        s = sample_subject(config.seed, i)
        out.append(dataclasses.replace(s, phenotype=calibrate_height(body, s.phenotype)))
    return out


def _worker_init() -> None:
    _body()


def generate(
    config: WorldConfig,
    out: str | os.PathLike[str],
    workers: int | None = None,
    log: Callable[[str], None] | None = print,
) -> dict[str, Any]:
    """Write the world ``config`` under ``out`` (resuming an interrupted run); returns a summary.

    Parameters
    ----------
    config : WorldConfig
    out : path
        Output folder; it may hold a partial run of the same world, never another world.
    workers : int, optional
        Processes (default: all cores). Each builds the body model once.
    log : callable, optional
        Receives progress lines.

    Returns
    -------
    dict
        ``sequences``, ``frames`` written now, ``seconds``.
    """
    out = Path(out)
    workers = workers or os.cpu_count() or 1
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    start = time.perf_counter()
    # Build (on a fresh machine: download-free, about a minute) anny's cache here, once, before any worker
    # starts, so that workers only read it.
    subjects = build_subjects(config)
    info = manifest(config, subjects)
    mpath = out / "manifest.json"
    if mpath.exists():
        old = json.loads(mpath.read_text(encoding="utf-8"))
        if json.loads(json.dumps(info, default=str)) != old:
            raise ValueError(
                f"{out} holds another synthetic world (seed {old.get('seed')}, preset {old.get('preset')}, "
                f"version {old.get('generator_version')}); choose another --out or delete that folder"
            )
    else:
        out.mkdir(parents=True, exist_ok=True)
        write_json(mpath, info)
    tasks = [(s, c) for s in subjects for c in config.conditions]
    total_frames = 0
    done = 0
    if log:
        log(f"synth: {len(tasks)} walks x {len(config.views)} views -> {out} ({workers} workers)")
    if workers == 1:
        for s, c in tasks:
            total_frames += generate_walk(config, out, s, c)
            done += 1
            if log and done % max(1, len(tasks) // 20) == 0:
                log(f"  {done}/{len(tasks)} walks, {time.perf_counter() - start:.0f} s")
    else:
        ctx = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init) as ex:
            futures = [ex.submit(_task, config, str(out), s, c) for s, c in tasks]
            for fut in concurrent.futures.as_completed(futures):
                total_frames += fut.result()[2]
                done += 1
                if log and done % max(1, len(tasks) // 20) == 0:
                    log(f"  {done}/{len(tasks)} walks, {time.perf_counter() - start:.0f} s")
    seconds = time.perf_counter() - start
    if log:
        log(f"synth: wrote {total_frames} silhouette frames in {seconds:.1f} s")
        sys.stdout.flush()
    return {"sequences": len(tasks) * len(config.views), "frames": total_frames, "seconds": seconds}
