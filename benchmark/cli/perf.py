"""``gaitbench perf``: speed figures of the pipeline kernels, as medians over repeats.

Figures, not tests: the machines are shared and noisy, so each case runs ``repeats`` times and the median rate
is printed beside its target and the ratio to it. Inputs are procedural walkers at 240x320
(:mod:`benchmark.sample`), or a CASIA-B-layout silhouette tree given with ``--tree``.

The naturalness scorers (case names ``scorer <name> ...``, about a minute on two cores) run only when asked for:
``--only scorer`` times every registered scorer's ``score_frames`` on a walker's colour frames (``--only
video-synth``, ``--only x3d_s``: one of them). Their rate is frames of 25 frames/s video scored per second, so
the target, 25, is real time. Video scorers read whole clips only (:func:`whole_clip_frames`). Speed does not
depend on the weights' values: a scorer whose trained weights are not on this machine is timed with the same
network freshly initialised, written to a temporary checkpoint in the format its loader reads, and its line
says "random weights, timing only". A scorer whose optional extra is not installed is skipped with a line
naming the extra.

``--only pose`` times BlazePose on a rendered walker (pose-gait's keypoint extraction, the frame-pose scorer);
``--only cores`` measures how much N one-thread processes at once gain over one alone on this machine (the most
``gaitbench run --jobs N`` can gain).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def median_rate(fn: Callable[[], object], items: int, repeats: int) -> tuple[float, float, float]:
    """Run ``fn`` ``repeats`` times (after one warm-up); return (median, min, max) items per second."""
    fn()
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        rates.append(items / (time.perf_counter() - start))
    return statistics.median(rates), min(rates), max(rates)


Row = tuple[str, float, float, float, str]


def run(frames: int, repeats: int, tree: Path | None, only: set[str] | None) -> list[Row]:
    from benchmark import contours
    from benchmark import silhouettes as silops
    from benchmark.colorize import colorize
    from benchmark.data import cache
    from benchmark.data.casia import write_silhouettes
    from benchmark.sample import walker

    rows: list[Row] = []

    def case(name: str, fn: Callable[[], object], items: int, target: float, note: str = "") -> None:
        if only and not any(key in name for key in only):
            return
        med, lo, hi = median_rate(fn, items, repeats)
        rows.append((name, med, lo, hi, f"{target:,.0f}" + (f" {note}" if note else "")))
        print(f"{name:<44} {med:>11,.0f} /s  (min {lo:,.0f}, max {hi:,.0f}; target {target:,.0f}: x{med / target:.2f})"
              + (f" {note}" if note else ""), flush=True)

    seqs = [walker(frames, seed=s) for s in range(4)]
    sil = seqs[0].silhouettes
    shape = seqs[0].shape
    vectors, counts = contours.encode(sil)
    case("contours encode+decode, 1 core", lambda: contours.decode(*contours.encode(sil), shape), frames, 10_000)
    sils = [s.silhouettes for s in seqs]
    case(
        "contours encode_many+decode_many (all cores)",
        lambda: contours.decode_many(contours.encode_many(sils), shape),
        frames * len(sils),
        10_000,
    )
    shifted = vectors.copy()
    shifted[:, 0::2] += 4.0
    anon = contours.decode(shifted, counts, shape)
    rgb, background = seqs[0].frames, seqs[0].background
    assert rgb is not None and background is not None
    case("colorize (Eq. 9), 1 core", lambda: colorize(rgb, background, sil, anon, workers=1), frames, 1_000)
    case("colorize (Eq. 9), all cores", lambda: colorize(rgb, background, sil, anon), frames, 2_000)
    case("normalise 64x64 + GEI, 1 core", lambda: silops.gei(silops.normalize(sil, 64, 64)), frames, 10_000)
    if not only or any(k in "anonymize stgan" for k in only):
        stgan = _stgan_with_random_weights()
        if stgan is not None:
            plain = seqs[0].replace(frames=None, background=None)
            case("anonymize stgan: silhouettes", lambda: stgan.anonymize(plain), frames, 200)
            case("anonymize stgan: silhouettes + Eq. 9 colour", lambda: stgan.anonymize(seqs[0]), frames, 200)
    if not only or any(k in "tree read cache reload" for k in only):
        with tempfile.TemporaryDirectory() as tmp:
            root = tree
            if root is None:
                root = Path(tmp) / "tree"
                for s in range(12):  # subjects 001 and 002, nm-01..06 each, at 90 degrees
                    masks = walker(frames, seed=s).silhouettes
                    write_silhouettes(root, f"{s // 6 + 1:03d}", f"nm-{s % 6 + 1:02d}", 90, masks)
            total = sum(1 for _ in root.rglob("*.png"))
            cache_dir = Path(tmp) / "cache"

            def cold() -> object:
                return cache.load_normalized(root, cache_dir=None)

            case("silhouette tree -> normalised arrays (PNG)", cold, total, 3_400, "(2x OpenGait's ~1,700)")
            cache.load_normalized(root, cache_dir=cache_dir)
            case("decoded cache reload", lambda: cache.load_normalized(root, cache_dir=cache_dir), total, 50_000)
    if only is None:
        print("naturalness scorers: not timed by default (about a minute on two cores): gaitbench perf --only scorer",
              flush=True)
        print("BlazePose (frame-pose, pose-gait's keypoints): gaitbench perf --only pose", flush=True)
        print("how much N processes at once gain on this machine (gaitbench run --jobs): gaitbench perf --only cores",
              flush=True)
    else:
        _time_scorers(case, only)
        if "cores" in only:
            n = os.cpu_count() or 1
            ratio, one = core_scaling(n, repeats)
            rows.append((f"cores: {n} processes at once", ratio, ratio, ratio, f"{n} (one per core)"))
            print(f"{f'cores: {n} one-thread processes at once':<44} {ratio:>11.2f} x one alone (ideal {n}; one "
                  f"alone takes {one:.2f} s, median of {repeats}): what --jobs {n} can gain at most", flush=True)
        if any(k in "pose keypoints scorer frame-pose" for k in only):
            _time_pose(case, frames)
    return rows


def _busy(seconds_unused: float = 0.0) -> float:
    """A fixed CPU-bound torch workload on one thread (a small 2D convolution net, forward and backward); returns
    its wall time. The unit of :func:`core_scaling`."""
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 16, 5, padding=2), torch.nn.ReLU(),
                              torch.nn.Conv2d(16, 16, 3, padding=1))
    x = torch.rand(16, 1, 64, 44)
    start = time.perf_counter()
    for _ in range(30):
        net(x).sum().backward()
    return time.perf_counter() - start


def core_scaling(processes: int, repeats: int) -> tuple[float, float]:
    """Throughput of ``processes`` one-thread workers running :func:`_busy` at once, over one worker alone (the
    medians of ``repeats``): 2.0 on two cores that are really two, about 1 where they share one core's time.
    Returns (ratio, median seconds of one worker alone)."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    alone, together = [], []
    with ctx.Pool(processes) as pool:
        pool.map(_busy, [0.0] * processes)  # warm-up: imports
        for _ in range(repeats):
            alone.append(pool.apply(_busy, (0.0,)))
            start = time.perf_counter()
            pool.map(_busy, [0.0] * processes, chunksize=1)
            together.append(time.perf_counter() - start)
    one, many = statistics.median(alone), statistics.median(together)
    return processes * one / many, one


def _rendered_walker(frames: int) -> Any:
    """One person of the synthetic world walking at 90 degrees (``frames`` frames, colour), or None without the
    synth extra. BlazePose's cost depends on finding a person: the procedural walkers are not people to it."""
    try:
        from benchmark.data.casia import CasiaB
        from benchmark.synth.world import WorldConfig, generate
    except ImportError:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        config = WorldConfig("ci", subjects=1, views=(90,), conditions=("nm-01",), frame_range=(frames, frames))
        generate(config, Path(tmp), workers=1, log=None)
        data = CasiaB(tmp)
        return data.load(data.index()[0], frames=True)


def _track_frames(frames: Any) -> int:
    """BlazePose's video-mode landmarks of ``frames`` (in a pool's process); the number of frames."""
    from benchmark.pose import BlazePose

    with BlazePose(video=True) as pose:
        return len(pose(frames))


def _time_pose(case: Case, frames: int) -> None:
    """BlazePose on a rendered walker: keypoints in video mode (pose-gait's extraction) and the frame-pose scorer
    (each frame detected on its own)."""
    from benchmark.pose import BlazePose, import_mediapipe

    try:
        import_mediapipe()
    except ImportError as exc:
        print(f"{'pose keypoints':<44} skipped: {exc}", flush=True)
        return
    seq = _rendered_walker(min(frames, 120))
    if seq is None:
        print(f"{'pose keypoints':<44} skipped: rendering a walker needs the 'synth' extra", flush=True)
        return
    n = len(seq.frames)

    def tracked() -> object:
        with BlazePose(video=True) as pose:
            return pose(seq.frames)

    case("pose keypoints (BlazePose, video mode), 1 core", tracked, n, REAL_TIME_FPS, "frames of a rendered walker")
    import multiprocessing

    cores = os.cpu_count() or 1
    # as pose-gait's extraction runs (benchmark.pose.dataset_keypoints): one video at a time in each of `cores`
    # spawned processes
    with multiprocessing.get_context("spawn").Pool(cores) as pool:
        pool.map(_track_frames, [seq.frames[:2]] * cores)  # warm-up: imports, model files
        case(f"pose keypoints (BlazePose, video mode), {cores} processes",
             lambda: pool.map(_track_frames, [seq.frames] * cores, chunksize=1), n * cores, REAL_TIME_FPS * cores,
             "frames of a rendered walker, one per process")
    from benchmark.scorers.pose import PoseScorer

    scorer = PoseScorer()
    case("scorer frame-pose (rendered walker)", lambda: scorer.score_frames(seq.frames), n, REAL_TIME_FPS,
         "frames of video, each detected on its own")


def _stgan_with_random_weights() -> Any:
    """ST-GAN with its default architecture and freshly initialised weights (the speed of a trained one); None
    without torch."""
    try:
        import torch
    except ImportError:
        return None
    from baselines.contour_gan import Generator
    from baselines.stgan import STGAN, NoiseGenerator

    torch.manual_seed(0)
    model = STGAN()
    c = model.config
    model.generator, model.gn = Generator(c.channels, c.harmonics), NoiseGenerator(c.latent, c.gn_hidden, c.harmonics)
    model.training = {}
    return model


# ---------------------------------------------------------------------------------------------- scorers

#: frames per second of real-time video (the walkers, like CASIA-B, are 25 frames/s): every scorer's target
REAL_TIME_FPS = 25.0
#: frames of walker video a scorer case reads (video scorers: rounded up to whole clips)
SCORER_FRAMES = 48
RANDOM_WEIGHTS = "random weights, timing only"
Case = Callable[[str, Callable[[], object], int, float, str], None]


def whole_clip_frames(window: int, at_least: int) -> int:
    """Frames in the fewest whole clips of ``window`` frames that cover ``at_least`` frames (one clip at least).

    Video scorers drop a last partial clip and loop a sequence shorter than one clip, so only a whole number
    of clips makes "frames per second" mean frames of video scored per second.
    """
    if window < 1 or at_least < 1:
        raise ValueError(f"window and at_least must be >= 1, got {window} and {at_least}")
    return window * max(1, math.ceil(at_least / window))


@dataclasses.dataclass(frozen=True)
class Timed:
    """A scorer with its network loaded, the number of walker frames it reads, and what its line says."""

    scorer: Any
    frames: int
    note: str


def _trained_weights(scorer: Any) -> str | None:
    """Load ``scorer``'s trained weights (its ``model`` property): ``"weights FILE"``, or None when absent."""
    from benchmark.scorers.base import MissingWeightsError

    try:
        _ = scorer.model
    except MissingWeightsError:
        return None
    return f"weights {scorer.weights_path.name}"


def _hog(tmp: Path) -> Timed:
    from benchmark.scorers.hog import HOGScorer

    return Timed(HOGScorer(), SCORER_FRAMES, "OpenCV's pretrained SVM")


def _yolo(tmp: Path) -> Timed:
    from benchmark.scorers import yolo

    scorer = yolo.YOLOScorer()
    weights = _trained_weights(scorer)
    if weights is None:
        import torch

        ultralytics = yolo.import_ultralytics()
        torch.manual_seed(0)
        model = ultralytics.YOLO(Path(scorer.config.filename).with_suffix(".yaml").name)  # built offline from its yaml
        # The yaml's classes are named "0", "1", ...; the scorer looks 'person' up by name (COCO's index 0).
        model.model.names = {i: f"class{i}" for i in range(len(model.names))} | {0: yolo.PERSON}
        path = tmp / scorer.config.filename
        model.save(str(path))
        scorer, weights = yolo.YOLOScorer(yolo.Config(weights=path)), RANDOM_WEIGHTS
        _ = scorer.model
    c = scorer.config
    return Timed(scorer, SCORER_FRAMES, f"{Path(c.filename).stem}, imgsz {c.imgsz}, batch {c.batch_size}; {weights}")


def _synth(tmp: Path) -> Timed:
    from benchmark.scorers import action

    scorer = action.SynthActionScorer()
    weights = _trained_weights(scorer)
    if weights is None:
        import torch

        c = action.TrainConfig()  # the network `gaitbench action-model` trains by default
        torch.manual_seed(0)
        net = action.ActionNet(len(action.ACTIONS), c.width, c.dropout)
        path = action.save_action_model(tmp / action.WEIGHTS_FILE, net,
                                        {"classes": list(action.ACTIONS), "crop": c.crop, "width": c.width})
        scorer, weights = action.SynthActionScorer(action.Config(weights=path)), RANDOM_WEIGHTS
        _ = scorer.model
    meta = scorer.meta
    assert meta is not None  # set with the model
    frames = whole_clip_frames(action.CLIP_LENGTH, SCORER_FRAMES)
    return Timed(scorer, frames, f"width {meta['width']}, {frames // action.CLIP_LENGTH} clips of "
                                 f"{action.CLIP_LENGTH}x{meta['crop']}x{meta['crop']}; {weights}")


def _resnext(tmp: Path) -> Timed:
    from benchmark.scorers import resnext

    scorer = resnext.ResNeXtScorer()
    weights = _trained_weights(scorer)
    if weights is None:
        import torch

        torch.manual_seed(0)
        path = tmp / resnext.WEIGHTS_FILE
        torch.save({"state_dict": scorer.build().state_dict()}, path)
        scorer, weights = resnext.ResNeXtScorer(resnext.Config(weights=path)), RANDOM_WEIGHTS
        _ = scorer.model
    frames, size = whole_clip_frames(resnext.CLIP_LENGTH, SCORER_FRAMES), resnext.CROP_SIZE
    return Timed(scorer, frames, f"{frames // resnext.CLIP_LENGTH} clips of {resnext.CLIP_LENGTH}x{size}x{size}; "
                                 f"{weights}")


def _pytorchvideo(model: str) -> Callable[[Path], Timed]:
    def build(tmp: Path) -> Timed:
        from benchmark.scorers import hub_video as hv

        scorer = hv.PyTorchVideoScorer(hv.Config(model=model))
        weights = _trained_weights(scorer)
        if weights is None:
            import torch

            torch.manual_seed(0)
            path = tmp / scorer.spec.checkpoint
            torch.save({"model_state": hv.build_model(model, len(scorer.classes)).state_dict()}, path)
            scorer, weights = hv.PyTorchVideoScorer(hv.Config(model=model, weights=path)), RANDOM_WEIGHTS
            _ = scorer.model
        s = scorer.spec
        window = hv.window_length(s, scorer.config.fps)
        frames = whole_clip_frames(window, SCORER_FRAMES)
        clips = frames // window
        return Timed(scorer, frames, f"{clips} clip{'s' * (clips != 1)} of {window} frames read as "
                                     f"{s.num_frames}x{s.crop_size}x{s.crop_size}; {weights}")

    return build


def _registered_default(name: str) -> Callable[[Path], Timed]:
    """A scorer this module has no recipe for: its default config, with whatever weights it finds itself."""

    def build(tmp: Path) -> Timed:
        from benchmark.registry import SCORERS

        return Timed(SCORERS.get(name)(), SCORER_FRAMES, "default config")

    return build


#: (case name, registry name, optional extra it needs, builder); registered scorers not listed get a default case
SCORER_CASES: tuple[tuple[str, str, str, Callable[[Path], Timed]], ...] = (
    ("scorer frame-hog", "frame-hog", "", _hog),
    ("scorer frame-yolo", "frame-yolo", "yolo", _yolo),
    ("scorer video-synth", "video-synth", "torch", _synth),
    ("scorer video-resnext101", "video-resnext101", "torch", _resnext),
    ("scorer video-pytorchvideo x3d_s", "video-pytorchvideo", "video", _pytorchvideo("x3d_s")),
    ("scorer video-pytorchvideo slow_r50", "video-pytorchvideo", "video", _pytorchvideo("slow_r50")),
)


def _torch_threads() -> int | None:
    torch = sys.modules.get("torch")
    return None if torch is None else int(torch.get_num_threads())


def _time_scorers(case: Case, only: set[str]) -> None:
    """Time the scorer cases whose name contains a word of ``only`` with ``case`` (see the module docstring)."""
    from benchmark.registry import SCORERS, load_plugin_declarations

    load_plugin_declarations()
    listed = {scorer for _, scorer, _, _ in SCORER_CASES} | {"frame-pose"}  # timed on a rendered walker instead
    cases = list(SCORER_CASES) + [(f"scorer {n}", n, "", _registered_default(n)) for n in SCORERS.names()
                                  if n not in listed]
    for name, _, extra, build in cases:
        if any(key in name for key in only):
            _time_scorer(case, name, extra, build)


def _time_scorer(case: Case, name: str, extra: str, build: Callable[[Path], Timed]) -> None:
    from benchmark.sample import walker
    from benchmark.scorers.base import TORCH_PAIR, MissingWeightsError

    try:
        with tempfile.TemporaryDirectory() as tmp:
            timed = build(Path(tmp))  # the network is loaded: its temporary checkpoint may go
    except ImportError as exc:
        if not extra:
            print(f"{name:<44} skipped: {exc}", flush=True)
            return
        pair = f"pip install {TORCH_PAIR} && " if extra != "torch" else ""
        print(f"{name:<44} skipped: needs the '{extra}' extra ({pair}pip install -e '.[{extra}]')", flush=True)
        return
    seq = walker(timed.frames, seed=0)
    assert seq.frames is not None  # walkers are drawn in colour
    score = functools.partial(timed.scorer.score_frames, seq.frames, seq.silhouettes)
    default = _torch_threads()
    changed: set[int] = set()

    def keep_threads() -> None:
        # ultralytics sets torch to cores - 1 threads on its first predict (the warm-up), for the whole process:
        # every run is timed with the process's default count, and the change is reported.
        now = _torch_threads()
        if default is not None and now is not None and now != default:
            changed.add(now)
            sys.modules["torch"].set_num_threads(default)

    def timed_run() -> object:
        keep_threads()
        return score()

    try:
        case(name, timed_run, timed.frames, REAL_TIME_FPS, f"frames of video; {timed.note}")
    except MissingWeightsError:
        print(f"{name:<44} skipped: its weights are not on this machine, and perf knows no random-weight build of it",
              flush=True)
    keep_threads()
    if changed:
        print(f"{'':<44} (the scorer's library set torch to {', '.join(map(str, sorted(changed)))} threads; "
              f"timed with the default {default}, as were the cases after it)", flush=True)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("perf", help="print speed figures (medians) of the pipeline kernels")
    p.add_argument("--frames", type=int, default=200, help="frames per sequence (default 200)")
    p.add_argument("--repeats", type=int, default=7, help="timed repeats per case (default 7)")
    p.add_argument("--tree", type=Path, help="a CASIA-B-layout silhouette tree to time reading (default: generated)")
    p.add_argument("--only", nargs="*",
                   help="run only cases whose name contains one of these words; the naturalness scorers run only "
                        "when named: --only scorer (all), --only video-synth, --only x3d_s, ...")
    p.set_defaults(func=cmd_perf)


def cmd_perf(args: argparse.Namespace) -> int:
    if args.frames < 1 or args.repeats < 1:
        raise ValueError(f"--frames and --repeats must be >= 1, got {args.frames} and {args.repeats}")
    if args.tree is not None and not args.tree.is_dir():
        raise FileNotFoundError(f"--tree {args.tree} is not a folder")
    try:
        import torch

        threads = f"torch {torch.get_num_threads()} threads"
    except ImportError:
        threads = "no torch"
    print(f"gaitbench perf: {os.cpu_count()} cores, {threads}, {args.frames} frames of 240x320 per sequence, "
          f"median of {args.repeats} repeats", flush=True)
    run(args.frames, args.repeats, args.tree, set(args.only) if args.only else None)
    return 0
