"""Build a survey: choose stimuli from anonymized datasets, encode browser-playable clips, write ``survey.json``.

Inputs are dataset folders in CASIA-B's layout (what :class:`~benchmark.data.casia.CasiaB` reads) with colour
videos. A folder holding ``anonymization.json`` is a test dataset; its method and parameters come from that record.
At most one folder without it is the original: the source of hidden references and of the anchor.

How stimuli are chosen (:func:`plan_stimuli`, all draws from one ``numpy`` generator seeded with ``seed``):

1. Views: the given ones, else every view at which all test datasets have a sequence with a colour video.
2. Test clips: ``clips`` split equally over the test datasets (it must divide evenly), then over the views as
   evenly as possible; the views that get one more are drawn at random, the same views for every method.
3. Sequences: per view, the keys that every test dataset has, in a seeded random order; every method takes the
   first ones, so at each view all methods show the same walks (a paired design: differences between methods are
   not differences between walkers).
4. Hidden references (the originals, method ``original``): spread over the views like step 2, preferring the walks
   the test clips show. Anchors (method ``anchor``): an original (or, without one, the first test dataset's clip)
   with its frame order shuffled and a strong Gaussian blur (:func:`make_anchor`), spread the same way.

Clips are encoded with PyAV (:func:`encode_clip`): H.264 (libx264, ``yuv420p``, MP4 with the index at the front)
or VP9 in WebM, which headless and desktop Chromium, Firefox and Safari play; frames are cropped to even sizes, as
4:2:0 chroma needs. Encoding is deterministic: the same inputs give the same clip bytes whether the survey is
built in one go or resumed, in one process or several. Each clip is written atomically; a rerun removes the
unfinished temporary files a killed build left and encodes only the missing clips; a folder holding another
survey (other inputs, seed or settings) is refused.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from benchmark.io import atomic_path, write_json
from benchmark.survey.definition import (
    ANCHOR_METHOD,
    CLIPS_DIR,
    FORMAT,
    REFERENCE_METHOD,
    SURVEY_FILE,
    clip_id,
)

if TYPE_CHECKING:
    from benchmark.data.casia import CasiaB, SequenceRef

PARTIAL = "survey.partial.json"
#: codec name -> (PyAV encoder, container format, file suffix)
CODECS: dict[str, tuple[str, str, str]] = {
    "h264": ("libx264", "mp4", ".mp4"),
    "vp9": ("libvpx-vp9", "webm", ".webm"),
}


@dataclasses.dataclass(frozen=True)
class BuildConfig:
    """What ``gaitbench survey build`` makes (TOML keys of the same names; unknown keys are errors).

    Attributes
    ----------
    clips : int
        Test clips in all, split equally over the test datasets (the paper: 60, half per method).
    references : int or None
        Hidden reference clips (originals); None = one per view when an original dataset is given, else 0.
    anchors : int
        Anchor clips (a deliberately bad version of a walk), spread over the views.
    views : tuple of int or None
        Views in degrees; None = every view all test datasets have.
    conditions : tuple of str or None
        Conditions to draw from (``nm-05`` or a type ``nm``); None = all.
    seed : int
        Seeds the choice of stimuli and the anchors' frame shuffles.
    codec : str
        ``auto`` (H.264 when PyAV has libx264, else VP9), ``h264`` or ``vp9``.
    crf : int
        Constant-quality setting of the encoder (0..51; lower is better; 18-23 looks clean at CASIA-B's size).
    anchor_blur : float
        Gaussian blur of the anchor, sigma as a fraction of the frame's shorter side (0.05: 12 px at 240x320).
    """

    clips: int = 60
    references: int | None = None
    anchors: int = 4
    views: tuple[int, ...] | None = None
    conditions: tuple[str, ...] | None = None
    seed: int = 0
    codec: str = "auto"
    crf: int = 20
    anchor_blur: float = 0.05

    def __post_init__(self) -> None:
        if self.clips < 1:
            raise ValueError(f"clips must be >= 1, got {self.clips}")
        if self.references is not None and self.references < 0:
            raise ValueError(f"references must be >= 0, got {self.references}")
        if self.anchors < 0:
            raise ValueError(f"anchors must be >= 0, got {self.anchors}")
        if self.codec not in ("auto", *CODECS):
            raise ValueError(f"codec must be auto, {' or '.join(CODECS)}, got {self.codec!r}")
        if not 0 <= self.crf <= 51:
            raise ValueError(f"crf must lie in 0..51, got {self.crf}")
        if not 0 < self.anchor_blur <= 1:
            raise ValueError(f"anchor_blur must lie in (0, 1], got {self.anchor_blur}")
        if self.views is not None and len(set(self.views)) != len(self.views):
            raise ValueError(f"views repeat a view: {self.views}")


@dataclasses.dataclass(frozen=True)
class Source:
    """One input dataset: ``role`` is ``test`` (anonymized) or ``reference`` (the original)."""

    path: Path
    role: str
    method: str
    parameters: str

    def describe(self) -> dict[str, str]:
        return {"path": str(self.path), "role": self.role, "method": self.method, "parameters": self.parameters}


@dataclasses.dataclass(frozen=True)
class PlannedClip:
    """A chosen stimulus before encoding."""

    role: str
    method: str
    parameters: str
    view: int
    sequence: str
    source: Source

    @property
    def id(self) -> str:
        return clip_id(self.role, self.method, self.parameters, self.sequence)

    @property
    def condition(self) -> str:
        # keys are subject-cc-nn-view (e.g. 001-nm-05-090)
        return "-".join(self.sequence.split("-")[1:3])


def classify_sources(dirs: Sequence[str | Path]) -> list[Source]:
    """Test datasets (with ``anonymization.json``) and at most one original (without), in the given order."""
    from benchmark.anonymized import RECORD
    from benchmark.results import format_parameters

    if not dirs:
        raise ValueError("give at least one anonymized dataset folder")
    sources: list[Source] = []
    for d in dirs:
        path = Path(d)
        if not path.is_dir():
            raise FileNotFoundError(f"dataset folder {path} does not exist")
        record_path = path / RECORD
        if not record_path.is_file():
            sources.append(Source(path.resolve(), "reference", REFERENCE_METHOD, ""))
            continue
        try:
            record = json.loads(record_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read {record_path} ({exc})") from None
        if not isinstance(record, dict) or not record.get("method"):
            raise ValueError(f"{record_path} does not name a method")
        params = record.get("parameters") or ""
        params = format_parameters(params) if isinstance(params, dict) else str(params)
        sources.append(Source(path.resolve(), "test", str(record["method"]), params))
    refs = [s for s in sources if s.role == "reference"]
    if len(refs) > 1:
        raise ValueError(
            f"{len(refs)} folders have no anonymization.json ({', '.join(str(s.path) for s in refs)}); only the "
            "original may lack one, as the source of hidden references: anonymize into folders of their own"
        )
    tests = [s for s in sources if s.role == "test"]
    if not tests:
        raise ValueError("no anonymized dataset among the folders (none holds anonymization.json)")
    names = [(s.method, s.parameters) for s in tests]
    for name in names:
        if names.count(name) > 1:
            raise ValueError(f"two datasets are both {name[0]} ({name[1] or 'no parameters'}): their clips "
                             "could not be told apart")
    return sources


def spread(n: int, views: Sequence[int], rng: np.random.Generator) -> dict[int, int]:
    """``n`` items over ``views`` as evenly as possible; which views get one more is drawn from ``rng``.

    >>> spread(7, [0, 90, 180], np.random.default_rng(0))  # doctest: +SKIP
    {0: 2, 90: 3, 180: 2}
    """
    base, extra = divmod(n, len(views))
    order = rng.permutation(len(views))  # drawn even when extra == 0, so later draws do not depend on n
    lucky = {views[i] for i in order[:extra]}
    return {v: base + (v in lucky) for v in views}


def _shuffled(keys: Sequence[str], rng: np.random.Generator) -> list[str]:
    keys = sorted(keys)
    return [keys[i] for i in rng.permutation(len(keys))]


def plan_stimuli(
    available: Mapping[Source, Mapping[int, Sequence[str]]],
    config: BuildConfig,
) -> list[PlannedClip]:
    """Choose the stimuli (steps 1-4 of the module docstring); pure in its inputs.

    Parameters
    ----------
    available : {Source: {view: [sequence key, ...]}}
        The sequences with a colour video of each source (test datasets in order, and the original if any).
    config : BuildConfig

    Returns
    -------
    list of PlannedClip
        Test clips by method then view, then references, then anchors. ``ValueError`` names the view and the
        counts when a dataset has too few sequences.
    """
    tests = [s for s in available if s.role == "test"]
    reference = next((s for s in available if s.role == "reference"), None)
    if not tests:
        raise ValueError("no test dataset to draw clips from")
    rng = np.random.default_rng(config.seed)
    with_views = [{v for v, keys in available[s].items() if keys} for s in tests]
    views = sorted(config.views) if config.views is not None else sorted(set.intersection(*with_views))
    if not views:
        raise ValueError("the test datasets share no view with colour videos; check them with gaitbench data check")
    if config.clips % len(tests):
        raise ValueError(f"{config.clips} clips do not split evenly over {len(tests)} methods; use a multiple of "
                         f"{len(tests)} so that every method has as many clips")
    counts = spread(config.clips // len(tests), views, rng)
    pools: dict[int, list[str]] = {}
    for v in views:
        common = set.intersection(*[set(available[s].get(v, ())) for s in tests])
        pools[v] = _shuffled(list(common), rng)
        if counts[v] > len(pools[v]):
            raise ValueError(
                f"view {v}: {counts[v]} clips per method are needed but only {len(pools[v])} sequences with colour "
                f"video are common to all {len(tests)} test datasets; lower --clips or choose other --views"
            )
    plan = [PlannedClip("test", s.method, s.parameters, v, key, s)
            for s in tests for v in views for key in pools[v][: counts[v]]]

    n_ref = config.references if config.references is not None else (len(views) if reference else 0)
    if n_ref and reference is None:
        raise ValueError("hidden references are the originals: also pass the original dataset (a folder without "
                         "anonymization.json), or set references to 0")
    used: dict[int, set[str]] = {v: set() for v in views}
    if reference is not None:
        ref_counts = spread(n_ref, views, rng)
        for v in views:
            have = set(available[reference].get(v, ()))
            ordered = [k for k in pools[v] if k in have]
            ordered += _shuffled(sorted(have - set(ordered)), rng)
            if ref_counts[v] > len(ordered):
                raise ValueError(f"view {v}: {ref_counts[v]} hidden references are needed, the original dataset "
                                 f"{reference.path} has {len(ordered)} sequences with colour video there")
            for key in ordered[: ref_counts[v]]:
                plan.append(PlannedClip("reference", REFERENCE_METHOD, "", v, key, reference))
                used[v].add(key)

    if config.anchors:
        from benchmark.results import format_parameters

        anchor_source = reference or tests[0]
        params = format_parameters({"blur": config.anchor_blur, "order": "shuffled"})
        anchor_counts = spread(config.anchors, views, rng)
        for v in views:
            have = set(available[anchor_source].get(v, ()))
            ordered = [k for k in pools[v] if k in have]
            ordered += _shuffled(sorted(have - set(ordered)), rng)
            ordered = [k for k in ordered if k not in used[v]] + [k for k in ordered if k in used[v]]
            if anchor_counts[v] > len(ordered):
                raise ValueError(f"view {v}: {anchor_counts[v]} anchors are needed, {anchor_source.path} has "
                                 f"{len(ordered)} sequences with colour video there")
            plan += [PlannedClip("anchor", ANCHOR_METHOD, params, v, key, anchor_source)
                     for key in ordered[: anchor_counts[v]]]
    ids = [p.id for p in plan]
    if len(set(ids)) != len(ids):  # 48-bit hashes of distinct strings: never seen, but ids must be unique
        raise ValueError("two stimuli got the same clip id; change the seed")
    return plan


# ----------------------------------------------------------------------------------------------------------
# clips


def make_anchor(frames: np.ndarray, rng: np.random.Generator, blur: float = 0.05) -> np.ndarray:
    """A deliberately unnatural version of a walk: frames in a random order, each strongly blurred.

    Parameters
    ----------
    frames : ndarray, uint8 (T, H, W, 3)
        RGB frames.
    rng : numpy Generator
        Draws the frame order (``rng.permutation(T)``).
    blur : float
        Gaussian sigma as a fraction of ``min(H, W)``.

    Returns
    -------
    ndarray, uint8 (T, H, W, 3)
        ``out[i] = GaussianBlur(frames[perm[i]])``.
    """
    import cv2

    from benchmark.types import check_frames

    check_frames(frames)
    sigma = blur * min(frames.shape[1:3])
    order = rng.permutation(len(frames))
    return np.stack([cv2.GaussianBlur(frames[i], (0, 0), sigmaX=sigma, sigmaY=sigma) for i in order])


def even_crop(frames: np.ndarray) -> np.ndarray:
    """Drop the last row and/or column of ``uint8 (T, H, W, 3)`` frames so H and W are even (4:2:0 chroma)."""
    h, w = frames.shape[1:3]
    if h < 2 or w < 2:
        raise ValueError(f"frames of {w}x{h} pixels are too small for a video clip")
    return frames[:, : h - h % 2, : w - w % 2]


def resolve_codec(codec: str) -> str:
    """``auto`` -> ``h264`` when PyAV has libx264, else ``vp9``; ``ImportError`` explains a missing PyAV."""
    av = _import_av()
    if codec != "auto":
        if CODECS[codec][0] not in av.codecs_available:
            raise ValueError(f"this PyAV build has no {CODECS[codec][0]} encoder; use codec auto")
        return codec
    for name, (encoder, _, _) in CODECS.items():
        if encoder in av.codecs_available:
            return name
    raise ValueError("this PyAV build has neither libx264 nor libvpx-vp9; install the PyAV wheel (pip install av)")


def _import_av() -> Any:
    try:
        import av
    except ImportError as exc:
        raise ImportError("encoding survey clips needs PyAV: pip install 'av>=14' (or the 'survey' extra)") from exc
    return av


def encode_clip(path: str | Path, frames: np.ndarray, fps: float, codec: str = "h264", crf: int = 20) -> None:
    """Write RGB frames ``uint8 (T, H, W, 3)`` as a browser-playable clip, atomically.

    ``codec`` is ``h264`` (libx264, ``yuv420p``, MP4 with ``+faststart`` so playback starts before the whole file
    has arrived) or ``vp9`` (libvpx-vp9 in WebM, constant quality). Odd sizes are cropped by one pixel
    (:func:`even_crop`); ``path`` must end in the codec's suffix. The same frames give the same bytes on every
    call, in any process (``survey.json`` records each clip's sha256, and a resumed build must match a whole one).
    """
    from benchmark.types import check_frames

    av = _import_av()
    check_frames(frames)
    encoder, fmt, suffix = CODECS[codec]
    path = Path(path)
    if path.suffix != suffix:
        raise ValueError(f"a {codec} clip must be named *{suffix}, got {path}")
    frames = even_crop(frames)
    h, w = frames.shape[1:3]
    # Settings that make the bytes a function of the frames alone:
    # - mbtree 0: x264's AVX-512 macroblock-tree code reads memory it never initialised, so with it the bytes
    #   depended on what the process's heap held before (a resumed build's clips differed from a whole build's,
    #   decoded frames equal). Turning mbtree off, or x264's assembly off or below AVX-512, ends that; mbtree is
    #   a rate-control refinement worth little on short clips at constant quality.
    # - threads 1: x264's output depends on its thread count (libvpx's can, with row-mt), which by default follows
    #   the CPU count, so a build resumed on another machine or CPU quota would differ. Clips are small: 0.25 s for
    #   100 frames of 320x240 on one thread.
    # - fflags +bitexact: the WebM muxer otherwise writes random segment and track UIDs (and both muxers the
    #   libavformat version).
    if codec == "h264":
        options = {"crf": str(crf), "preset": "medium", "mbtree": "0", "threads": "1"}
    else:
        options = {"crf": str(crf), "b": "0", "threads": "1"}
    muxer = {"fflags": "+bitexact", **({"movflags": "+faststart"} if fmt == "mp4" else {})}
    with atomic_path(path, suffix=suffix) as tmp:
        container = av.open(str(tmp), "w", format=fmt, options=muxer)
        try:
            stream = container.add_stream(encoder, rate=Fraction(fps).limit_denominator(1001), options=options)
            stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
            for frame in frames:
                container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")))
            container.mux(stream.encode(None))
        finally:
            container.close()


def probe_clip(path: str | Path) -> dict[str, Any]:
    """What a clip holds: ``frames`` (packets counted), ``fps``, ``width``, ``height``, ``codec`` (decoder name)."""
    av = _import_av()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        rate = stream.average_rate or stream.guessed_rate
        info = {"fps": float(rate) if rate else 0.0, "width": int(ctx.width), "height": int(ctx.height),
                "codec": str(ctx.name), "pix_fmt": str(ctx.pix_fmt)}
        info["frames"] = sum(1 for packet in container.demux(stream) if packet.size)
    return info


# ----------------------------------------------------------------------------------------------------------
# the build


def _index(source: Source, config: BuildConfig) -> tuple[CasiaB, dict[int, dict[str, SequenceRef]]]:
    from benchmark.data.casia import CasiaB

    data = CasiaB(source.path)
    by_view: dict[int, dict[str, SequenceRef]] = {}
    missing = 0
    for ref in data.index(conditions=config.conditions, views=config.views):
        try:
            data.video_path(ref)
        except FileNotFoundError:
            missing += 1
            continue
        by_view.setdefault(ref.view, {})[ref.key] = ref
    if not by_view:
        raise ValueError(f"{source.path} has no selected sequence with a colour video ({missing} without one); "
                         "a survey shows colour clips: anonymize with a method that writes colour frames")
    return data, by_view


def _remove_stale_temps(out: Path, ids: Collection[str]) -> list[Path]:
    """Delete the temporary files a killed build left in ``out``; return them.

    :func:`~benchmark.io.atomic_path` writes ``NAME`` through ``.NAME.<random><suffix>`` beside it and removes that
    file itself on any error, but a SIGKILL (or power loss) leaves it behind, often empty. Only the names this
    build writes are matched: clips of ``ids`` (``clips/.<id>.mp4.<random>.mp4``, likewise ``.webm``) and the
    ``survey.json`` / ``survey.partial.json`` temporaries (``.survey.json.<random>.tmp``). Two builds must not run
    in one folder at once (each would take the other's unfinished files for stale ones).
    """
    suffixes = "|".join(re.escape(suffix) for _, _, suffix in CODECS.values())
    clip_temp = re.compile(rf"\.(?P<id>[0-9a-f]{{12}})(?P<suffix>{suffixes})\.[a-z0-9_]+(?P=suffix)")
    json_temp = re.compile(rf"\.(?:{re.escape(SURVEY_FILE)}|{re.escape(PARTIAL)})\.[a-z0-9_]+\.tmp")
    stale = []
    for folder, pattern in ((out / CLIPS_DIR, clip_temp), (out, json_temp)):
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            found = pattern.fullmatch(path.name)
            if found and path.is_file() and ("id" not in pattern.groupindex or found["id"] in ids):
                path.unlink(missing_ok=True)
                stale.append(path)
    return stale


def _check_identity(out: Path, identity: dict[str, Any]) -> None:
    for name in (SURVEY_FILE, PARTIAL):
        path = out / name
        if not path.is_file():
            continue
        try:
            old = json.loads(path.read_text(encoding="utf-8")).get("identity")
        except (OSError, ValueError, AttributeError) as exc:
            raise ValueError(f"cannot read {path} ({exc}); delete it, or choose another --out") from None
        if old != identity:
            raise ValueError(f"{out} already holds another survey ({path.name} was built from other folders, seed "
                             "or settings); its answers would not match: choose another --out")


def build_survey(
    dirs: Sequence[str | Path],
    out: str | Path,
    config: BuildConfig = BuildConfig(),
    *,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Choose stimuli from ``dirs``, encode them into ``out/clips`` and write ``out/survey.json``.

    Parameters
    ----------
    dirs : list of path
        Anonymized datasets (with ``anonymization.json``) and at most one original (without).
    out : path
        The survey folder; a rerun with the same inputs encodes only the clips still missing.
    config : BuildConfig
    progress : callable, optional
        Called with one-line progress messages (default: print to stderr).

    Returns
    -------
    dict
        The document written to ``survey.json`` (see :mod:`benchmark.survey.definition`); ``encoded`` counts the
        clips this call wrote.
    """
    from benchmark.anonymized import file_sha256
    from benchmark.record import run_record

    say = progress or (lambda msg: print(msg, file=sys.stderr))
    out = Path(out)
    sources = classify_sources(dirs)
    codec = resolve_codec(config.codec)
    indexed = {s: _index(s, config) for s in sources}
    plan = plan_stimuli({s: {v: sorted(keys) for v, keys in by_view.items()} for s, (_, by_view) in indexed.items()},
                        config)
    identity = {"format": FORMAT, "seed": config.seed, "config": _jsonable(config),
                "sources": [s.describe() for s in sources]}
    _check_identity(out, identity)
    stale = _remove_stale_temps(out, {clip.id for clip in plan})
    if stale:
        say(f"[survey] removed {len(stale)} unfinished file(s) an interrupted build left: "
            f"{', '.join(p.name for p in stale)}")
    write_json(out / PARTIAL, {"identity": identity, "started": time.strftime("%Y-%m-%dT%H:%M:%S")})

    began, encoded = time.perf_counter(), 0
    stimuli = []
    for i, clip in enumerate(plan):
        data, by_view = indexed[clip.source]
        existing = [out / CLIPS_DIR / f"{clip.id}{CODECS[c][2]}" for c in CODECS]
        path = next((p for p in existing if p.is_file()), out / CLIPS_DIR / f"{clip.id}{CODECS[codec][2]}")
        if not path.is_file():
            ref = by_view[clip.view][clip.sequence]
            try:
                seq = data.load(ref, frames=True)
            except (ValueError, OSError) as exc:
                raise type(exc)(f"cannot read sequence {ref.key} of {data.root}: {exc}") from exc
            if seq.frames is None:
                raise ValueError(f"sequence {ref.key} of {data.root} has no colour frames")
            frames = seq.frames
            if clip.role == "anchor":
                frames = make_anchor(frames, np.random.default_rng([config.seed, int(clip.id, 16)]),
                                     config.anchor_blur)
            encode_clip(path, frames, seq.fps, codec, config.crf)
            encoded += 1
            say(f"[survey] {i + 1}/{len(plan)} clips ({encoded} encoded now, "
                f"{time.perf_counter() - began:.1f} s)")
        info = probe_clip(path)
        stimuli.append({
            "id": clip.id, "file": f"{CLIPS_DIR}/{path.name}", "role": clip.role, "method": clip.method,
            "parameters": clip.parameters, "view": clip.view, "condition": clip.condition, "sequence": clip.sequence,
            "source": str(clip.source.path), "frames": info["frames"], "fps": info["fps"], "width": info["width"],
            "height": info["height"], "codec": info["codec"], "sha256": file_sha256(path),
        })
    counts: dict[str, int] = {}
    for s in stimuli:
        counts[s["role"]] = counts.get(s["role"], 0) + 1
    document = run_record(format=FORMAT, seed=config.seed, identity=identity, config=_jsonable(config),
                          sources=[s.describe() for s in sources], counts=counts, codec=codec, stimuli=stimuli)
    write_json(out / SURVEY_FILE, document)
    (out / PARTIAL).unlink(missing_ok=True)
    say(f"[survey] {len(stimuli)} clips ({', '.join(f'{n} {r}' for r, n in counts.items())}) in {out}; "
        f"{encoded} encoded now")
    return {**document, "encoded": encoded}


def _jsonable(config: BuildConfig) -> dict[str, Any]:
    return json.loads(json.dumps(dataclasses.asdict(config)))
