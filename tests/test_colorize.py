"""Colourisation (paper Eq. 9): a literal case, a brute-force reference with ties, and errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmark.colorize import colorize, nearest_pixels
from benchmark.contours import decode, encode
from benchmark.sample import walker


def brute_force(frames: np.ndarray, bg: np.ndarray, s_or: np.ndarray, s_an: np.ndarray) -> np.ndarray:
    """Eq. 9 pixel by pixel: nearest over ALL original pixels, ties to the smallest (row, col)."""
    out = np.empty_like(frames)
    for t in range(frames.shape[0]):
        pts = [tuple(p) for p in np.argwhere(s_or[t])]
        for i in range(frames.shape[1]):
            for j in range(frames.shape[2]):
                o, a = s_or[t, i, j], s_an[t, i, j]
                if o and a:
                    out[t, i, j] = frames[t, i, j]
                elif a and pts:
                    ni, nj = min(pts, key=lambda p: ((p[0] - i) ** 2 + (p[1] - j) ** 2, p[0], p[1]))
                    out[t, i, j] = frames[t, ni, nj]
                else:
                    out[t, i, j] = bg[i, j]
    return out


def test_literal_four_regions_and_tie() -> None:
    # One 3x5 frame. Original silhouette O, anonymized A (grid shows O/A membership):
    #   row 0:  O   OA  .   .   A
    #   row 1:  .   .   A   .   .
    #   row 2:  O   .   .   .   .
    frames = np.arange(15 * 3, dtype=np.uint8).reshape(1, 3, 5, 3)
    bg = np.full((3, 5, 3), 200, np.uint8)
    s_or = np.zeros((1, 3, 5), bool)
    s_an = np.zeros((1, 3, 5), bool)
    s_or[0, 0, 0] = s_or[0, 0, 1] = s_or[0, 2, 0] = True
    s_an[0, 0, 1] = s_an[0, 0, 4] = s_an[0, 1, 2] = True
    out = colorize(frames, bg, s_or, s_an)
    expected = np.full((1, 3, 5, 3), 200, np.uint8)  # regions 1 and 3: background, incl. (0,0) and (2,0)
    expected[0, 0, 1] = frames[0, 0, 1]  # region 2: original pixel
    # (0,4): nearest original pixel is (0,1) at distance 3.
    expected[0, 0, 4] = frames[0, 0, 1]
    # (1,2): (0,1) at distance^2 = 1 + 1 = 2 is nearest; (2,0) is at 1 + 4 = 5.
    expected[0, 1, 2] = frames[0, 0, 1]
    assert np.array_equal(out, expected)

    # A tie: (1, 1) is at distance 1 from both (0, 1) and (2, 1); the smaller row wins.
    s_or2 = np.zeros((1, 3, 3), bool)
    s_or2[0, 0, 1] = s_or2[0, 2, 1] = True
    s_an2 = np.zeros((1, 3, 3), bool)
    s_an2[0, 1, 1] = True
    f2 = np.arange(27, dtype=np.uint8).reshape(1, 3, 3, 3)
    out2 = colorize(f2, np.zeros((3, 3, 3), np.uint8), s_or2, s_an2)
    assert out2[0, 1, 1].tolist() == f2[0, 0, 1].tolist()
    # A tie between columns of one row: (1, 1) from (1, 0) and (1, 2) -> the smaller column.
    s_or3 = np.zeros((1, 3, 3), bool)
    s_or3[0, 1, 0] = s_or3[0, 1, 2] = True
    out3 = colorize(f2, np.zeros((3, 3, 3), np.uint8), s_or3, s_an2)
    assert out3[0, 1, 1].tolist() == f2[0, 1, 0].tolist()


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.0, 0.9), st.floats(0.0, 0.9))
def test_matches_brute_force(seed: int, p_or: float, p_an: float) -> None:
    rng = np.random.default_rng(seed)
    t, h, w = 2, int(rng.integers(1, 12)), int(rng.integers(1, 12))
    s_or = rng.random((t, h, w)) < p_or
    s_an = rng.random((t, h, w)) < p_an
    frames = rng.integers(0, 256, (t, h, w, 3), dtype=np.uint8)
    bg = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    assert np.array_equal(colorize(frames, bg, s_or, s_an), brute_force(frames, bg, s_or, s_an))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_nearest_pixels_ties_on_symmetric_shapes(seed: int) -> None:
    # Rings and crosses centred on pixel centres give many exact ties.
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 25))
    yy, xx = np.mgrid[0:n, 0:n]
    c = n // 2
    r2 = (yy - c) ** 2 + (xx - c) ** 2
    source = (r2 >= rng.integers(1, 10)) & (r2 <= rng.integers(10, 40))
    if not source.any():
        source[0, 0] = True
    queries = np.argwhere(~source)
    got = nearest_pixels(source, queries)
    pts = np.argwhere(source)
    for q, g in zip(queries, got, strict=True):
        d = ((pts - q) ** 2).sum(1)
        best = pts[d == d.min()]
        assert tuple(g) == tuple(min(map(tuple, best)))


def test_walker_identity_and_threads() -> None:
    seq = walker(24, seed=2)
    assert seq.frames is not None and seq.background is not None
    same = colorize(seq.frames, seq.background, seq.silhouettes, seq.silhouettes)
    expected = np.where(seq.silhouettes[..., None], seq.frames, seq.background)
    assert np.array_equal(same, expected)
    # A perturbed contour: one thread and two threads agree exactly; region 4 takes original colours only.
    vectors, counts = encode(seq.silhouettes)
    vectors[:, 0::2] += 3.0
    anon = decode(vectors, counts, seq.shape)
    one = colorize(seq.frames, seq.background, seq.silhouettes, anon, workers=1)
    two = colorize(seq.frames, seq.background, seq.silhouettes, anon, workers=2)
    assert np.array_equal(one, two)
    r4 = anon & ~seq.silhouettes
    assert r4.sum() > 100
    for t in (0, 11, 23):
        body_colours = {tuple(p) for p in seq.frames[t][seq.silhouettes[t]]}
        assert {tuple(p) for p in one[t][r4[t]]} <= body_colours


def test_empty_original_frame_gives_background() -> None:
    frames = np.full((1, 4, 4, 3), 9, np.uint8)
    bg = np.full((4, 4, 3), 50, np.uint8)
    s_an = np.ones((1, 4, 4), bool)
    assert np.array_equal(colorize(frames, bg, np.zeros((1, 4, 4), bool), s_an), bg[None])


def test_errors() -> None:
    f = np.zeros((2, 4, 5, 3), np.uint8)
    s = np.zeros((2, 4, 5), bool)
    bg = np.zeros((4, 5, 3), np.uint8)
    with pytest.raises(TypeError, match="frames must have dtype uint8, got float32"):
        colorize(f.astype(np.float32), bg, s, s)
    with pytest.raises(ValueError, match=r"must agree in \(T, H, W\)"):
        colorize(f, bg, s[:1], s)
    with pytest.raises(TypeError, match="sil_anonymized must have dtype bool"):
        colorize(f, bg, s, s.astype(np.uint8))
    with pytest.raises(ValueError, match=r"background must have shape \(4, 5, 3\)"):
        colorize(f, bg[:3], s, s)
    with pytest.raises(TypeError, match="background must be a uint8 array"):
        colorize(f, bg.astype(float), s, s)
    with pytest.raises(ValueError, match="workers must be >= 1"):
        colorize(f, bg, s, s, workers=0)
    with pytest.raises(ValueError, match="no foreground pixel"):
        nearest_pixels(np.zeros((3, 3), bool), np.array([[0, 0]]))


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.0005, 0.02))
def test_nearest_pixels_far_queries_match_brute_force(seed: int, density: float) -> None:
    # Sparse sources leave most queries beyond the offset scan, so the k-d tree path and its tie
    # resolution are exercised as well as the scan.
    rng = np.random.default_rng(seed)
    source = rng.random((70, 90)) < density
    source[int(rng.integers(0, 70)), int(rng.integers(0, 90))] = True
    queries = np.argwhere(~source)
    pts = np.argwhere(source)  # row-major: argmin's first minimum is the smallest (row, col)
    d = ((queries[:, None, :] - pts[None, :, :]) ** 2).sum(axis=2)
    expected = pts[np.argmin(d, axis=1)]
    assert np.array_equal(nearest_pixels(source, queries), expected)


def test_nearest_pixels_far_tie() -> None:
    source = np.zeros((5, 61), bool)
    source[2, 0] = source[2, 60] = True
    got = nearest_pixels(source, np.array([[2, 30], [0, 30], [2, 29]]))
    assert got.tolist() == [[2, 0], [2, 0], [2, 0]]
    source2 = np.zeros((61, 5), bool)
    source2[0, 2] = source2[60, 2] = True
    assert nearest_pixels(source2, np.array([[30, 2]])).tolist() == [[0, 2]]
