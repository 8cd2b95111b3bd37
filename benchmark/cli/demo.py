"""``gaitbench demo``: the paper's pipeline on a generated walker, end to end, in a second.

Silhouettes -> contour vectors (Step 1) -> a demonstration perturbation of the vectors -> silhouettes (Step 3)
-> colour frames by Eq. 9, plus the gait energy images of both. The perturbation is a smooth displacement of
each contour point, a stand-in that shows the data flow; it is not an anonymization method.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from benchmark.cli.args import add_seed, positive_int
from benchmark.io import atomic_path, write_json


def perturb(vectors: np.ndarray, counts: np.ndarray, amplitude: float, seed: int) -> np.ndarray:
    """Displace each contour point by a smooth function of its position along the contour (float32 (T, 4000))."""
    rng = np.random.default_rng(seed)
    out = vectors.copy()
    phase = rng.uniform(0, 2 * np.pi, 4)
    for t, n in enumerate(counts):
        s = np.linspace(0, 2 * np.pi, int(n), endpoint=False)
        out[t, 0 : 2 * n : 2] += amplitude * np.sin(3 * s + phase[0]) * np.cos(s + phase[1])
        out[t, 1 : 2 * n : 2] += amplitude * np.sin(2 * s + phase[2]) * np.cos(s + phase[3])
    return out


def _write_png(path: Path, rgb: np.ndarray) -> None:
    import cv2

    with atomic_path(path, suffix=".png") as tmp:
        if not cv2.imwrite(str(tmp), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
            raise OSError(f"could not write {path}")


def run(out_dir: Path, seed: int, frames: int, amplitude: float) -> dict[str, object]:
    # Imported here so that building the command line stays light.
    from benchmark import contours
    from benchmark import silhouettes as silops
    from benchmark.colorize import colorize
    from benchmark.sample import walker

    seq = walker(frames, seed=seed)
    assert seq.frames is not None and seq.background is not None
    vectors, counts = contours.encode(seq.silhouettes)
    restored = contours.decode(vectors, counts, seq.shape)
    inter = (restored & seq.silhouettes).sum(axis=(1, 2))
    union = (restored | seq.silhouettes).sum(axis=(1, 2))
    iou = inter / np.maximum(union, 1)
    anon = contours.decode(perturb(vectors, counts, amplitude, seed), counts, seq.shape)
    coloured = colorize(seq.frames, seq.background, seq.silhouettes, anon)
    gei_or = silops.gei(silops.normalize(seq.silhouettes, 64, 44))
    gei_an = silops.gei(silops.normalize(anon, 64, 44))

    picks = np.linspace(0, frames - 1, 5).astype(int)
    xor = (seq.silhouettes ^ anon)[..., None].repeat(3, axis=3).astype(np.uint8) * 255
    rows = [np.concatenate(list(a[picks]), axis=1) for a in (seq.frames, coloured, xor)]
    _write_png(out_dir / "frames.png", np.concatenate(rows, axis=0))
    geis = np.concatenate([gei_or, gei_an], axis=1)
    _write_png(out_dir / "gei.png", np.repeat((geis * 255).astype(np.uint8)[..., None], 3, axis=2))
    summary: dict[str, object] = {
        "frames": frames,
        "seed": seed,
        "contour_points_mean": float(counts.mean()),
        "contour_points_max": int(counts.max()),
        "round_trip_iou_min": float(iou.min()),
        "round_trip_iou_mean": float(iou.mean()),
        "round_trip_exact_frames": int((iou == 1.0).sum()),
        "perturbation_amplitude_px": amplitude,
        "changed_pixels_per_frame": float((seq.silhouettes ^ anon).sum() / frames),
        "gei_l1_distance": float(np.abs(gei_or - gei_an).mean()),
    }
    write_json(out_dir / "summary.json", summary)
    return summary


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the contour / colourisation pipeline on a generated walker")
    p.add_argument("--out", type=Path, default=Path("demo-out"), help="output folder (default demo-out)")
    add_seed(p, 0, "walker and perturbation seed")
    p.add_argument("--frames", type=positive_int, default=60, help="frames of the walk (default 60)")
    p.add_argument("--amplitude", type=float, default=4.0, help="perturbation amplitude in pixels (default 4)")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    summary = run(args.out, args.seed, args.frames, args.amplitude)
    for key, value in summary.items():
        print(f"{key:<28} {value:.4g}" if isinstance(value, float) else f"{key:<28} {value}")
    print(f"wrote {args.out / 'frames.png'} (original / colourised / XOR), {args.out / 'gei.png'}, "
          f"{args.out / 'summary.json'}")
    return 0
