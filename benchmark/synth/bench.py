"""Speed of the synthetic world's rasterizer on a real walker (``gaitbench synth-bench``).

Prints medians over repeats, on one core, for a posed anny body (27,420 triangles) at 320x240:
silhouette frames/s (all triangles, and front faces only), colour frames/s (z-buffer, shading), a
per-triangle ``cv2.fillConvexPoly`` loop for comparison, and how far each differs from the exact mask.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable

import cv2
import numpy as np


def _median_seconds(fn: Callable[[], object], repeats: int) -> float:
    fn()  # compile / warm caches outside the timing
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def fill_convex_poly_masks(xy: np.ndarray, faces: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Reference: one ``cv2.fillConvexPoly`` call per triangle (slow, about 65 frames/s): ``bool (T, H, W)``.

    OpenCV fills pixels touched by the polygon outline as well, so its masks are slightly fatter than the
    pixel-centre rule's.
    """
    out = np.zeros((len(xy), *shape), dtype=np.uint8)
    shift = 4
    for t in range(len(xy)):
        tris = np.round(xy[t] * (1 << shift)).astype(np.int32)[faces]  # (F, 3, 2)
        for tri in tris:
            cv2.fillConvexPoly(out[t], tri, 1, lineType=cv2.LINE_8, shift=shift)
    return out.astype(bool)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boolean arrays (1.0 when both are empty)."""
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def main(repeats: int = 5, frames: int = 64, view: int = 90) -> dict[str, float]:
    """Time the rasterizers on ``frames`` frames of a walk; print and return the figures."""
    from benchmark.synth.raster import rasterize_colour, rasterize_masks
    from benchmark.synth.scene import casia_camera
    from benchmark.synth.walker import LIGHT, render_walk, simulate_walk
    from benchmark.synth.world import _body, background, calibrate_height, sample_subject, walk_spec

    body = _body()
    subject = sample_subject(0, 0)
    subject = dataclasses.replace(subject, phenotype=calibrate_height(body, subject.phenotype))
    walk = simulate_walk(body, subject, walk_spec(0, subject, "nm-01"), frame_range=(frames, frames))
    cam = casia_camera(view)
    xy, depth = cam.project(walk.vertices)
    bg = background(0, view)
    faces = walk.faces
    shape = cam.size
    n = len(xy)

    exact = rasterize_masks(xy, faces, shape)
    figures: dict[str, float] = {}
    figures["silhouette_fps"] = n / _median_seconds(lambda: rasterize_masks(xy, faces, shape), repeats)
    best_cull, best_iou = 0, 0.0
    for cull in (1, -1):
        score = min(iou(a, b) for a, b in zip(rasterize_masks(xy, faces, shape, cull=cull), exact, strict=True))
        if score > best_iou:
            best_cull, best_iou = cull, score
    figures["silhouette_culled_fps"] = n / _median_seconds(
        lambda: rasterize_masks(xy, faces, shape, cull=best_cull), repeats
    )
    figures["culled_min_iou"] = best_iou
    figures["colour_fps"] = n / _median_seconds(
        lambda: rasterize_colour(xy, depth, walk.vertices, faces, walk.albedo, bg, LIGHT, cam.forward), repeats
    )
    figures["render_walk_fps"] = n / _median_seconds(lambda: render_walk(walk, cam, bg), repeats)
    sub = slice(0, min(n, 8))
    t0 = time.perf_counter()
    ref = fill_convex_poly_masks(xy[sub], faces, shape)
    figures["fillconvexpoly_fps"] = len(ref) / (time.perf_counter() - t0)
    figures["fillconvexpoly_min_iou"] = min(iou(a, b) for a, b in zip(ref, exact[sub], strict=True))
    colour_masks = rasterize_colour(xy, depth, walk.vertices, faces, walk.albedo, bg, LIGHT, cam.forward)[1]
    figures["colour_mask_equal"] = float(np.array_equal(colour_masks, exact))

    print(f"rasterizer, one core, {n} frames of a walker at view {view} ({len(faces)} triangles, 320x240), "
          f"median of {repeats}:")
    print(f"  silhouette, all triangles     {figures['silhouette_fps']:8.0f} frames/s")
    print(f"  silhouette, front faces only  {figures['silhouette_culled_fps']:8.0f} frames/s "
          f"(IoU with all >= {best_iou:.4f})")
    print(f"  colour (z-buffer, shading)    {figures['colour_fps']:8.0f} frames/s "
          f"(its masks equal the silhouettes: {bool(figures['colour_mask_equal'])})")
    print(f"  colour + contact shadow       {figures['render_walk_fps']:8.0f} frames/s (what generation runs)")
    print(f"  cv2.fillConvexPoly per face   {figures['fillconvexpoly_fps']:8.0f} frames/s "
          f"(IoU with pixel-centre rule >= {figures['fillconvexpoly_min_iou']:.3f})")
    return figures


if __name__ == "__main__":
    main()
