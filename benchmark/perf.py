"""``gaitbench perf``: speed figures of the pipeline kernels, as medians over repeats.

Figures, not tests: the machines are shared and noisy, so each case runs ``repeats`` times and the median rate
is printed beside its target and the ratio to it. Inputs are procedural walkers at 240x320
(:mod:`benchmark.sample`), or a CASIA-B-layout silhouette tree given with ``--tree``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def median_rate(fn: Callable[[], object], items: int, repeats: int) -> tuple[float, float, float]:
    """Run ``fn`` ``repeats`` times (after one warm-up); return (median, min, max) items per second."""
    fn()
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        rates.append(items / (time.perf_counter() - start))
    return statistics.median(rates), min(rates), max(rates)


def _write_tree(root: Path, sequences: list[np.ndarray]) -> None:
    import cv2

    for k, sil in enumerate(sequences):
        subject, cond, view = f"{k // 10 + 1:03d}", f"nm-{k % 6 + 1:02d}", 90
        folder = root / subject / cond / f"{view:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        for t, frame in enumerate(sil):
            cv2.imwrite(str(folder / f"{subject}-{cond}-{view:03d}-{t + 1:03d}.png"), frame.astype(np.uint8) * 255)


Row = tuple[str, float, float, float, str]


def run(frames: int, repeats: int, tree: Path | None, only: set[str] | None) -> list[Row]:
    from benchmark import contours
    from benchmark import silhouettes as silops
    from benchmark.colorize import colorize
    from benchmark.data import cache
    from benchmark.sample import walker

    rows: list[Row] = []

    def case(name: str, fn: Callable[[], object], items: int, target: float, note: str = "") -> None:
        if only and not any(key in name for key in only):
            return
        med, lo, hi = median_rate(fn, items, repeats)
        rows.append((name, med, lo, hi, f"{target:,.0f}" + (f" {note}" if note else "")))
        print(f"{name:<44} {med:>11,.0f} /s  (min {lo:,.0f}, max {hi:,.0f}; target {target:,.0f}: x{med / target:.2f})",
              flush=True)

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
                _write_tree(root, [walker(frames, seed=s).silhouettes for s in range(12)])
            total = sum(1 for _ in root.rglob("*.png"))
            cache_dir = Path(tmp) / "cache"

            def cold() -> object:
                return cache.load_normalized(root, cache_dir=None)

            case("silhouette tree -> normalised arrays (PNG)", cold, total, 3_400, "(2x OpenGait's ~1,700)")
            cache.load_normalized(root, cache_dir=cache_dir)
            case("decoded cache reload", lambda: cache.load_normalized(root, cache_dir=cache_dir), total, 50_000)
    return rows


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


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("perf", help="print speed figures (medians) of the pipeline kernels")
    p.add_argument("--frames", type=int, default=200, help="frames per sequence (default 200)")
    p.add_argument("--repeats", type=int, default=7, help="timed repeats per case (default 7)")
    p.add_argument("--tree", type=Path, help="a CASIA-B-layout silhouette tree to time reading (default: generated)")
    p.add_argument("--only", nargs="*", help="run only cases whose name contains one of these words")
    p.set_defaults(func=cmd_perf)


def cmd_perf(args: argparse.Namespace) -> int:
    if args.frames < 1 or args.repeats < 1:
        raise ValueError(f"--frames and --repeats must be >= 1, got {args.frames} and {args.repeats}")
    if args.tree is not None and not args.tree.is_dir():
        raise FileNotFoundError(f"--tree {args.tree} is not a folder")
    print(f"gaitbench perf: {os.cpu_count()} cores, {args.frames} frames of 240x320 per sequence, "
          f"median of {args.repeats} repeats", flush=True)
    run(args.frames, args.repeats, args.tree, set(args.only) if args.only else None)
    return 0
