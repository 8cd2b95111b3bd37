"""Contour vectors (paper Step 1 / Step 3): literal cases, independent references and properties."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.path import Path as MplPath
from scipy import ndimage

from benchmark.contours import MAX_POINTS, VECTOR_LENGTH, decode, decode_many, encode, encode_many
from benchmark.sample import walker

EIGHT = np.ones((3, 3), bool)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def representable(frame: np.ndarray) -> np.ndarray:
    """Independent reference (scipy): the largest 8-connected component, holes filled."""
    labels, n = ndimage.label(frame, structure=EIGHT)
    if n == 0:
        return np.zeros_like(frame)
    filled = [ndimage.binary_fill_holes(labels == k) for k in range(1, n + 1)]
    return max(filled, key=lambda m: m.sum())


# --- literal cases (written out by hand) ---------------------------------------------------------------------

def test_literal_rectangle_with_notch() -> None:
    # . . . . . .
    # . # # # # .
    # . # # # # .
    # . . # # # .      <- (row 3, col 1) is background
    # . . . . . .
    sil = np.zeros((1, 5, 6), bool)
    sil[0, 1:4, 1:5] = True
    sil[0, 3, 1] = False
    vectors, counts = encode(sil)
    # Start at the top-most, left-most pixel (x=1, y=1), down the left side, along the bottom, up the right.
    expected = [(1, 1), (1, 2), (2, 3), (3, 3), (4, 3), (4, 2), (4, 1), (3, 1), (2, 1)]
    assert counts.tolist() == [9]
    assert vectors.dtype == np.float32 and vectors.shape == (1, VECTOR_LENGTH)
    assert vectors[0, :18].reshape(-1, 2).tolist() == [list(p) for p in expected]
    assert not vectors[0, 18:].any()
    assert np.array_equal(decode(vectors, counts, (5, 6)), sil)


def test_literal_one_pixel_line_and_diagonal_pair() -> None:
    line = np.zeros((1, 3, 12), bool)
    line[0, 1, 2:9] = True
    vectors, counts = encode(line)
    # A 1-pixel-wide line is traced out and back: 7 + 5 points.
    xs = [2, 3, 4, 5, 6, 7, 8, 7, 6, 5, 4, 3]
    assert counts.tolist() == [12]
    assert vectors[0, :24].reshape(-1, 2).tolist() == [[x, 1] for x in xs]
    assert np.array_equal(decode(vectors, counts, (3, 12)), line)

    diag = np.zeros((1, 4, 5), bool)
    diag[0, 1, 1] = diag[0, 2, 2] = True  # 8-connected: one component
    vectors, counts = encode(diag)
    assert counts.tolist() == [2]
    assert vectors[0, :4].tolist() == [1, 1, 2, 2]
    assert np.array_equal(decode(vectors, counts, (4, 5)), diag)


def test_empty_and_single_pixel_frames() -> None:
    sil = np.zeros((2, 6, 7), bool)
    sil[1, 4, 5] = True
    vectors, counts = encode(sil)
    assert counts.tolist() == [0, 1]
    assert not vectors[0].any()
    assert vectors[1, :2].tolist() == [5, 4] and not vectors[1, 2:].any()
    assert np.array_equal(decode(vectors, counts, (6, 7)), sil)


# --- what is lost, documented in benchmark.contours ---------------------------------------------------------

def test_holes_are_filled_and_detached_blobs_dropped() -> None:
    sil = np.zeros((1, 40, 50), bool)
    cv2.circle(sil[0].view(np.uint8), (20, 20), 12, 1, -1)
    cv2.circle(sil[0].view(np.uint8), (20, 20), 5, 0, -1)  # a hole
    sil[0, 30:33, 42:45] = True  # a detached 3x3 blob
    out = decode(*encode(sil), (40, 50))[0]
    assert out[20, 20], "the hole must be filled"
    assert not out[31, 43], "the detached blob must be dropped"
    assert np.array_equal(out, representable(sil[0]))
    hole = ndimage.binary_fill_holes(sil[0]) & ~sil[0]
    assert np.array_equal(sil[0] & ~out, np.pad(np.ones((3, 3), bool), ((30, 7), (42, 5))))  # lost: the blob
    assert np.array_equal(out & ~sil[0], hole)  # gained: the hole


def test_largest_component_wins() -> None:
    sil = np.zeros((1, 30, 30), bool)
    sil[0, 2:6, 2:6] = True  # 16 px
    sil[0, 10:20, 10:25] = True  # 150 px
    out = decode(*encode(sil), (30, 30))[0]
    assert out.sum() == 150 and out[15, 15] and not out[3, 3]


def test_long_contours_are_resampled_uniformly() -> None:
    # A one-pixel line of length L has a contour of n = 2L - 2 points: x0..x0+L-1, then back down to x0+1.
    length = 1500
    sil = np.zeros((1, 3, length + 4), bool)
    sil[0, 1, 2 : 2 + length] = True
    full_x = list(range(2, 2 + length)) + list(range(2 + length - 2, 2, -1))
    n = len(full_x)
    assert n == 2 * length - 2 > MAX_POINTS
    vectors, counts = encode(sil)
    assert counts.tolist() == [MAX_POINTS]
    expected_x = [full_x[(i * n) // MAX_POINTS] for i in range(MAX_POINTS)]
    assert vectors[0, 0::2].tolist() == expected_x
    assert set(vectors[0, 1::2].tolist()) == {1.0}
    # Straight segments between samples restore the line exactly.
    assert np.array_equal(decode(vectors, counts, sil.shape[1:]), sil)


# --- round trip on walkers ------------------------------------------------------------------------------------

def test_walker_round_trip_equals_representable_part_and_iou() -> None:
    seq = walker(60, seed=5)
    sil = seq.silhouettes
    out = decode(*encode(sil), seq.shape)
    ious = np.array([iou(a, b) for a, b in zip(sil, out, strict=True)])
    for t in range(len(sil)):
        assert np.array_equal(out[t], representable(sil[t])), f"frame {t}"
    # Frames without holes or extra blobs survive exactly; the others lose only their holes.
    simple = np.array([np.array_equal(representable(f), f) for f in sil])
    assert simple.sum() >= 20
    assert np.all(ious[simple] == 1.0)
    assert np.all(ious >= 0.85)


# --- decoding modified vectors ---------------------------------------------------------------------------------

def _vec(points: list[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    v = np.zeros((1, VECTOR_LENGTH), np.float32)
    flat = np.asarray(points, np.float32).reshape(-1)
    v[0, : flat.size] = flat
    return v, np.array([len(points)])


def test_decode_polygon_matches_point_in_polygon_reference() -> None:
    poly = [(5.0, 4.0), (40.0, 8.0), (33.0, 30.0), (12.0, 26.0)]
    out = decode(*_vec(poly), (36, 48))[0]
    ys, xs = np.mgrid[0:36, 0:48]
    centres = np.stack([xs.ravel(), ys.ravel()], 1)
    inside = MplPath(poly).contains_points(centres, radius=-1e-9).reshape(36, 48)
    assert np.all(out[inside]), "every pixel centre inside the polygon must be foreground"
    extra = out & ~inside
    # What is added is the 8-connected boundary line: at most one pixel per step of each edge.
    steps = sum(max(abs(b[0] - a[0]), abs(b[1] - a[1])) for a, b in zip(poly, poly[1:] + poly[:1], strict=True))
    assert 0 < extra.sum() <= steps
    dist_to_inside = ndimage.distance_transform_edt(~inside)
    assert dist_to_inside[extra].max() <= 1.5


def test_decode_self_intersecting_and_reversed() -> None:
    # A bow tie: the two triangles are both filled, never left as holes.
    bow = [(2, 2), (20, 14), (20, 2), (2, 14)]
    out = decode(*_vec(bow), (18, 24))[0]
    assert out[8, 5] and out[8, 18] and not out[2, 11]
    # A pentagram drawn in one stroke: even-odd filling would leave the centre empty; ours fills it.
    angles = np.pi / 2 + np.arange(5) * 4 * np.pi / 5
    star = [(30 + 25 * np.cos(a), 30 - 25 * np.sin(a)) for a in angles]
    out = decode(*_vec(star), (60, 60))[0]
    assert out[30, 30]
    assert np.array_equal(out, ndimage.binary_fill_holes(out))
    assert np.array_equal(decode(*_vec(star[::-1]), (60, 60))[0], out)


def test_decode_points_outside_frame_and_wild_values() -> None:
    square = [(-10, -10), (10, -10), (10, 10), (-10, 10)]
    out = decode(*_vec(square), (20, 20))[0]
    expected = np.zeros((20, 20), bool)
    expected[:11, :11] = True
    assert np.array_equal(out, expected)
    wild = [(-1e9, 5), (1e9, 5), (1e9, 7), (-1e9, 7)]
    out = decode(*_vec(wild), (20, 20))[0]
    assert out[5:8].all() and out.sum() == 60
    nowhere = [(500, 500), (600, 500), (600, 600)]
    assert not decode(*_vec(nowhere), (20, 20)).any()


def test_decode_uses_only_counted_points() -> None:
    v, c = _vec([(1, 1), (5, 1), (5, 5), (1, 5)])
    v[0, 8:] = 77.0  # garbage in the padding, as a generator may produce
    out = decode(v, c, (10, 10))[0]
    assert out.sum() == 25 and out[1:6, 1:6].all()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(-50, 90), st.floats(-50, 90)), min_size=1, max_size=40))
def test_decode_always_gives_valid_hole_free_silhouettes(points: list[tuple[float, float]]) -> None:
    out = decode(*_vec(points), (40, 50))
    assert out.dtype == np.bool_ and out.shape == (1, 40, 50)
    assert np.array_equal(out[0], ndimage.binary_fill_holes(out[0]))


@st.composite
def connected_blobs(draw: st.DrawFn) -> np.ndarray:
    """Unions of ellipses that all contain one centre point: one component, possibly with holes."""
    h, w = draw(st.integers(20, 90)), draw(st.integers(20, 90))
    cy, cx = draw(st.integers(5, h - 6)), draw(st.integers(5, w - 6))
    frame = np.zeros((h, w), np.uint8)
    for _ in range(draw(st.integers(1, 5))):
        ax = (draw(st.integers(1, 30)), draw(st.integers(1, 30)))
        angle = draw(st.integers(0, 179))
        cv2.ellipse(frame, (cx, cy), ax, angle, 0, 360, 1, -1)
    return frame.astype(bool)


@settings(max_examples=80, deadline=None)
@given(connected_blobs())
def test_round_trip_equals_filled_component(blob: np.ndarray) -> None:
    sil = blob[None]
    out = decode(*encode(sil), blob.shape)[0]
    assert np.array_equal(out, ndimage.binary_fill_holes(blob))


def test_many_variants_match_single_calls() -> None:
    seqs = [walker(12, seed=s).silhouettes for s in range(3)]
    enc = encode_many(seqs, workers=2)
    dec = decode_many(enc, (240, 320), workers=2)
    for s, (v, c), d in zip(seqs, enc, dec, strict=True):
        v1, c1 = encode(s)
        assert np.array_equal(v, v1) and np.array_equal(c, c1)
        assert np.array_equal(d, decode(v1, c1, (240, 320)))


# --- errors ---------------------------------------------------------------------------------------------------

def test_encode_errors() -> None:
    with pytest.raises(TypeError, match="dtype bool, got uint8"):
        encode(np.zeros((2, 4, 4), np.uint8))
    with pytest.raises(ValueError, match=r"shape \(T, H, W\), got shape \(4, 4\)"):
        encode(np.zeros((4, 4), bool))
    with pytest.raises(ValueError, match="at least one frame"):
        encode(np.zeros((0, 4, 4), bool))
    with pytest.raises(TypeError, match="numpy array, got list"):
        encode([[[True]]])  # type: ignore[arg-type]


def test_decode_errors() -> None:
    v, c = _vec([(1, 1), (3, 3)])
    with pytest.raises(ValueError, match=r"vectors must have shape \(T, 4000\), got \(1, 3999\)"):
        decode(v[:, :-1], c, (5, 5))
    with pytest.raises(ValueError, match=r"counts must have shape \(1,\)"):
        decode(v, np.array([2, 2]), (5, 5))
    with pytest.raises(ValueError, match="0..2000, got 2001"):
        decode(v, np.array([2001]), (5, 5))
    with pytest.raises(TypeError, match="counts must be integers"):
        decode(v, np.array([2.0]), (5, 5))
    with pytest.raises(ValueError, match=r"shape must be \(H, W\) with positive sizes"):
        decode(v, c, (0, 5))
    bad = v.copy()
    bad[0, 1] = np.nan
    with pytest.raises(ValueError, match="frame 0 has non-finite"):
        decode(bad, c, (5, 5))
    with pytest.raises(ValueError, match="workers must be >= 1, got 0"):
        encode_many([np.zeros((1, 3, 3), bool)], workers=0)
