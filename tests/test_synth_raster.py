"""The synthetic world's rasterizer against literal cases and a brute-force reference."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("numba")

from benchmark.synth.appearance import rounded_box  # noqa: E402
from benchmark.synth.raster import project_points, rasterize_colour, rasterize_masks  # noqa: E402


def brute_force_masks(xy: np.ndarray, faces: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Independent reference: barycentric coordinates of every pixel centre, inside when all are > 0.

    Only valid when no pixel centre lies exactly on an edge (the tests use non-integer vertices there).
    """
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    out = np.zeros(shape, dtype=bool)
    for a, b, c in xy[faces].astype(np.float64):
        m = np.array([[b[0] - a[0], c[0] - a[0]], [b[1] - a[1], c[1] - a[1]]])
        if abs(np.linalg.det(m)) < 1e-12:
            continue
        inv = np.linalg.inv(m)
        u = inv[0, 0] * (xs - a[0]) + inv[0, 1] * (ys - a[1])
        v = inv[1, 0] * (xs - a[0]) + inv[1, 1] * (ys - a[1])
        out |= (u > 0) & (v > 0) & (u + v < 1)
    return out


def test_square_of_two_triangles_follows_the_top_left_rule() -> None:
    # A 3x3-pixel square with corners on pixel centres (1,1)-(4,4): the top-left rule takes the top and
    # left edges and leaves the bottom and right ones to the neighbours, so exactly x, y in 1..3 are set,
    # and the shared diagonal leaves no gap.
    xy = np.array([[1, 1], [4, 1], [4, 4], [1, 4]], dtype=np.float32)
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    expected = np.zeros((6, 6), dtype=bool)
    expected[1:4, 1:4] = True
    np.testing.assert_array_equal(rasterize_masks(xy, faces, (6, 6)), expected)
    # Either winding gives the same coverage.
    np.testing.assert_array_equal(rasterize_masks(xy, faces[:, ::-1], (6, 6)), expected)


def test_overlapping_triangles_give_their_union_without_holes() -> None:
    # Two triangles that overlap in a band: one fillPoly call over both (even-odd) would leave the band empty.
    xy = np.array([[1.3, 1.2], [14.7, 1.4], [1.1, 12.6], [2.2, 2.1], [14.6, 12.8], [13.9, 2.3]], np.float32)
    faces = np.array([[0, 1, 2], [3, 4, 5]])
    got = rasterize_masks(xy, faces, (16, 16))
    ref = brute_force_masks(xy, faces, (16, 16))
    np.testing.assert_array_equal(got, ref)
    both = brute_force_masks(xy, faces[:1], (16, 16)) & brute_force_masks(xy, faces[1:], (16, 16))
    assert both.sum() > 10 and got[both].all()


def test_random_meshes_match_the_brute_force_reference() -> None:
    rng = np.random.default_rng(7)
    for _ in range(20):
        xy = (rng.random((30, 2)) * [40, 30] - 3).astype(np.float32)  # some vertices off the image
        faces = rng.integers(0, 30, (25, 3))
        np.testing.assert_array_equal(rasterize_masks(xy, faces, (30, 40)), brute_force_masks(xy, faces, (30, 40)))


def test_back_face_culling_keeps_a_closed_mesh_silhouette() -> None:
    verts, faces = rounded_box((1.0, 0.6, 1.4))
    rot = np.array([[0.8, -0.6, 0.0], [0.36, 0.48, -0.8], [0.48, 0.64, 0.6]])  # orthonormal
    xy = (verts @ rot.T)[:, :2] * 20 + [30, 25]
    full = rasterize_masks(xy, faces, (50, 60))
    assert full.sum() > 300
    # Exactly one facing direction covers the whole outline of a closed surface.
    culled = [rasterize_masks(xy, faces, (50, 60), cull=c) for c in (1, -1)]
    assert any(np.array_equal(c, full) for c in culled)
    assert all(c.sum() < full.sum() + 1 for c in culled)


def test_batches_equal_single_frames() -> None:
    rng = np.random.default_rng(1)
    xy = (rng.random((3, 12, 2)) * 20).astype(np.float32)
    faces = rng.integers(0, 12, (8, 3))
    batch = rasterize_masks(xy, faces, (20, 20))
    for t in range(3):
        np.testing.assert_array_equal(batch[t], rasterize_masks(xy[t], faces, (20, 20)))


def test_colour_z_buffer_draws_the_nearer_triangle_whatever_the_order() -> None:
    # Two identical squares at depths 2 (red) and 1 (green): green must win in both drawing orders.
    sq = np.array([[0.5, 0.5], [5.5, 0.5], [5.5, 5.5], [0.5, 5.5]], np.float32)
    xy = np.concatenate([sq, sq])[None]
    depth = np.array([[2, 2, 2, 2, 1, 1, 1, 1]], np.float32)
    verts = np.zeros((1, 8, 3), np.float32)  # zero normals: shading is the ambient term only
    albedo = np.array([[200, 0, 0]] * 4 + [[0, 200, 0]] * 4, np.float32)
    bg = np.zeros((7, 7, 3), np.uint8)
    light = np.array([0.0, 0.0, 1.0])
    for faces in (np.array([[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7]]),
                  np.array([[4, 5, 6], [4, 6, 7], [0, 1, 2], [0, 2, 3]])):
        frames, masks = rasterize_colour(xy, depth, verts, faces, albedo, bg, light, light, ambient=0.5)
        assert masks[0, 1:6, 1:6].all() and masks[0].sum() == 25
        np.testing.assert_array_equal(frames[0, 3, 3], [0, 100, 0])  # 200 * ambient 0.5
        np.testing.assert_array_equal(frames[0, 0, 0], [0, 0, 0])  # background


def test_colour_masks_equal_silhouette_masks() -> None:
    rng = np.random.default_rng(3)
    xy = (rng.random((2, 20, 2)) * 30).astype(np.float32)
    faces = rng.integers(0, 20, (15, 3))
    verts = rng.random((2, 20, 3)).astype(np.float32)
    _, masks = rasterize_colour(xy, np.ones((2, 20), np.float32), verts, faces, np.full((20, 3), 100.0),
                                np.zeros((30, 30, 3), np.uint8), np.array([0, 0, 1.0]), np.array([0, 0, 1.0]))
    np.testing.assert_array_equal(masks, rasterize_masks(xy, faces, (30, 30)))


def test_project_points_matches_the_pinhole_formula() -> None:
    rng = np.random.default_rng(0)
    pts = rng.normal(0, 1, (2, 50, 3)) + [0, 0, 6]
    rot = np.eye(3)
    xy, depth = project_points(pts, rot, np.zeros(3), 100.0, (10.0, 20.0))
    np.testing.assert_allclose(depth, pts[..., 2], rtol=1e-6)
    np.testing.assert_allclose(xy[..., 0], 100 * pts[..., 0] / pts[..., 2] + 10, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(xy[..., 1], 100 * pts[..., 1] / pts[..., 2] + 20, rtol=1e-5, atol=1e-4)
    behind, _ = project_points(np.array([[0.0, 0.0, -1.0]]), rot, np.zeros(3), 100.0, (0.0, 0.0))
    assert np.isnan(behind).all()


def test_bad_arguments_raise_clear_errors() -> None:
    xy = np.zeros((3, 2), np.float32)
    with pytest.raises(ValueError, match="faces index vertices 0..2"):
        rasterize_masks(xy, np.array([[0, 1, 3]]), (4, 4))
    with pytest.raises(ValueError, match="cull must be 0, 1 or -1"):
        rasterize_masks(xy, np.array([[0, 1, 2]]), (4, 4), cull=2)
    with pytest.raises(ValueError, match=r"xy must have shape \(..., V, 2\)"):
        rasterize_masks(np.zeros((3, 3)), np.array([[0, 1, 2]]), (4, 4))
    with pytest.raises(TypeError, match="faces must be integer"):
        rasterize_masks(xy, np.array([[0.0, 1.0, 2.0]]), (4, 4))
    with pytest.raises(ValueError, match="shape must be positive"):
        rasterize_masks(xy, np.array([[0, 1, 2]]), (0, 4))
