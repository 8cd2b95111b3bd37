"""Silhouette operations: hand-computed cases, OpenGait's pretreatment and scipy as references, errors."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from benchmark.sample import walker
from benchmark.silhouettes import (
    MIN_FOREGROUND_PIXELS,
    clean,
    clean_many,
    gei,
    gei_many,
    median_background,
    mog2_silhouettes,
    normalize,
    normalize_many,
    normalize_uint8,
    subtract_background,
)

# A 6x5 (H x W) silhouette. Rows 1..4 hold foreground, so the crop is 4 rows; normalised to height 4 the
# resized width is int(4 * 5/4) = 5, i.e. the resize is the identity. Column sums 0,4,2,3,0 (x255): the
# cumulative sum 0,4,6,9,9 first exceeds 9/2 at column 2, the centre.
SIX_BY_FIVE = np.array(
    [
        [0, 0, 0, 0, 0],
        [0, 1, 1, 0, 0],
        [0, 1, 1, 1, 0],
        [0, 1, 0, 1, 0],
        [0, 1, 0, 1, 0],
        [0, 0, 0, 0, 0],
    ],
    bool,
)


def opengait_pretreatment(mask: np.ndarray, img_size: int = 64) -> np.ndarray | None:
    """OpenGait's datasets/pretreatment.py (CASIA-B branch) per frame, transcribed; None = frame dropped.

    Differences from the original, both deliberate: no ``sum <= 10000`` filter (that is ``min_pixels``), and
    ``x_center is None`` instead of ``not x_center`` (the original also drops frames centred on column 0).
    """
    img = mask.astype(np.uint8) * 255
    if img.sum() == 0:
        return None
    y_sum = img.sum(axis=1)
    y_top = (y_sum != 0).argmax(axis=0)
    y_btm = (y_sum != 0).cumsum(axis=0).argmax(axis=0)
    img = img[y_top : y_btm + 1, :]
    ratio = img.shape[1] / img.shape[0]
    img = cv2.resize(img, (int(img_size * ratio), img_size), interpolation=cv2.INTER_CUBIC)
    x_csum = img.sum(axis=0).cumsum()
    x_center = None
    for idx, csum in enumerate(x_csum):
        if csum > img.sum() / 2:
            x_center = idx
            break
    if x_center is None:
        return None
    half_width = img_size // 2
    left = x_center - half_width
    right = x_center + half_width
    if left <= 0 or right >= img.shape[1]:
        left += half_width
        right += half_width
        pad = np.zeros((img.shape[0], half_width))
        img = np.concatenate([pad, img, pad], axis=1)
    return img[:, left:right].astype("uint8")


def reference_normalize(masks: np.ndarray, height: int, width: int) -> np.ndarray:
    """OpenGait at ``height``, then the models' centre crop to ``width`` (64 -> 44 cuts 10 columns a side)."""
    out = np.zeros((len(masks), height, width), np.uint8)
    cut = (height - width) // 2
    for t, m in enumerate(masks):
        r = opengait_pretreatment(m, height)
        if r is not None:
            out[t] = r[:, cut : cut + width]
    return out


@st.composite
def blob_stacks(draw: st.DrawFn) -> np.ndarray:
    h = draw(st.integers(8, 60))
    w = draw(st.integers(8, 60))
    t = draw(st.integers(1, 3))
    out = np.zeros((t, h, w), np.uint8)
    for i in range(t):
        for _ in range(draw(st.integers(0, 3))):
            cx, cy = draw(st.integers(0, w - 1)), draw(st.integers(0, h - 1))
            ax, ay = draw(st.integers(0, w // 2)), draw(st.integers(0, h // 2))
            cv2.ellipse(out[i], (cx, cy), (ax, ay), draw(st.integers(0, 179)), 0, 360, 1, -1)
    return out.astype(bool)


# ----------------------------------------------------------------------------------------------------------
# normalize


def test_normalize_six_by_five_by_hand() -> None:
    out = normalize_uint8(SIX_BY_FIVE[None], height=4, width=4)
    # window = columns centre-2 .. centre+1 = 0..3
    expected = 255 * np.array([[0, 1, 1, 0], [0, 1, 1, 1], [0, 1, 0, 1], [0, 1, 0, 1]], np.uint8)
    np.testing.assert_array_equal(out[0], expected)


def test_normalize_six_by_five_padded_window_by_hand() -> None:
    out = normalize(SIX_BY_FIVE[None], height=4, width=6)
    # window = columns -1..4: one zero column of padding on the left, then the five columns
    expected = np.array([[0, 0, 1, 1, 0, 0], [0, 0, 1, 1, 1, 0], [0, 0, 1, 0, 1, 0], [0, 0, 1, 0, 1, 0]], np.float32)
    assert out.dtype == np.float32 and out.shape == (1, 4, 6)
    np.testing.assert_array_equal(out[0], expected)


def test_normalize_centre_is_the_first_column_past_half_by_hand() -> None:
    # 2x4, identity resize at height 2; column sums 0,2,2,0 -> cumulative 0,2,4,4, half of 4 is 2: the first
    # column whose cumulative sum EXCEEDS 2 is column 2 (OpenGait's `csum > img.sum() / 2`), not column 1.
    mask = np.array([[0, 1, 1, 0], [0, 1, 1, 0]], bool)
    out = normalize_uint8(mask[None], height=2, width=2)
    np.testing.assert_array_equal(out[0], [[255, 255], [255, 255]])  # columns 1..2


@pytest.mark.parametrize(("height", "width"), [(64, 64), (64, 44), (128, 88)])
def test_normalize_matches_opengait_on_walkers(height: int, width: int) -> None:
    masks = walker(12).silhouettes
    out = normalize_uint8(masks, height, width)
    np.testing.assert_array_equal(out, reference_normalize(masks, height, width))
    np.testing.assert_array_equal(normalize(masks, height, width), out.astype(np.float32) / 255)


@settings(max_examples=60, deadline=None)
@given(blob_stacks(), st.sampled_from([(64, 64), (64, 44), (16, 12)]))
def test_normalize_matches_opengait_on_random_blobs(masks: np.ndarray, size: tuple[int, int]) -> None:
    out = normalize_uint8(masks, *size)
    np.testing.assert_array_equal(out, reference_normalize(masks, *size))


def test_normalize_centres_the_median_column_and_fills_the_height() -> None:
    masks = walker(4).silhouettes
    out = normalize(masks, 64, 64)
    assert out.min() >= 0.0 and out.max() <= 1.0
    for frame in out:
        rows = np.flatnonzero(frame.any(axis=1))
        assert rows[0] == 0 and rows[-1] == 63
        csum = np.cumsum(frame.sum(axis=0))
        assert int(np.searchsorted(csum, csum[-1] / 2, side="right")) in (31, 32, 33)


def test_normalize_blanks_empty_and_small_frames() -> None:
    masks = np.zeros((3, 20, 20), bool)
    masks[1, 5:15, 8:12] = True  # 40 pixels
    masks[2, 5:7, 8:10] = True  # 4 pixels
    out = normalize(masks, 16, 16)
    assert [bool(f.any()) for f in out] == [False, True, True]
    out = normalize(masks, 16, 16, min_pixels=MIN_FOREGROUND_PIXELS)
    assert [bool(f.any()) for f in out] == [False, True, False]


def test_normalize_errors() -> None:
    with pytest.raises(TypeError, match="dtype bool, got uint8"):
        normalize(np.zeros((2, 8, 8), np.uint8))
    with pytest.raises(ValueError, match=r"shape \(T, H, W\), got shape \(8, 8\)"):
        normalize(np.zeros((8, 8), bool))
    with pytest.raises(TypeError, match="numpy array, got list"):
        normalize([[[True]]])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no frames"):
        normalize(np.zeros((0, 8, 8), bool))
    with pytest.raises(ValueError, match="size 0x8"):
        normalize(np.zeros((2, 0, 8), bool))
    with pytest.raises(ValueError, match="height must be >= 1, got 0"):
        normalize(np.zeros((1, 8, 8), bool), height=0)
    with pytest.raises(TypeError, match="width must be an int, got float 44.0"):
        normalize(np.zeros((1, 8, 8), bool), width=44.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="min_pixels must be an int >= 0, got -1"):
        normalize(np.zeros((1, 8, 8), bool), min_pixels=-1)


# ----------------------------------------------------------------------------------------------------------
# gei


def test_gei_by_hand() -> None:
    frames = np.array([[[0.0, 1.0], [0.5, 0.0]], [[1.0, 1.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]]], np.float32)
    # the all-zero frame is left out: mean of the first two
    np.testing.assert_array_equal(gei(frames), np.array([[0.5, 1.0], [0.25, 0.0]], np.float32))
    np.testing.assert_allclose(gei(frames, skip_empty=False), np.array([[1 / 3, 2 / 3], [1 / 6, 0.0]]), rtol=1e-6)


def test_gei_of_uint8_equals_gei_of_float() -> None:
    u8 = normalize_uint8(walker(6).silhouettes)
    g = gei(u8)
    assert g.dtype == np.float32 and g.shape == (64, 64)
    np.testing.assert_allclose(g, gei(u8.astype(np.float32) / 255), atol=1e-6)
    np.testing.assert_allclose(g, u8.astype(np.float64).mean(axis=0) / 255, atol=1e-6)


def test_gei_errors() -> None:
    with pytest.raises(TypeError, match="got bool; pass bool silhouettes through normalize"):
        gei(np.zeros((2, 4, 4), bool))
    with pytest.raises(ValueError, match=r"shape \(T, h, w\), got shape \(4, 4\)"):
        gei(np.zeros((4, 4), np.float32))
    with pytest.raises(ValueError, match="from 0 frames: the input is empty"):
        gei(np.zeros((0, 4, 4), np.float32))
    with pytest.raises(ValueError, match="from 2 frames: none has any foreground"):
        gei(np.zeros((2, 4, 4), np.float32))


# ----------------------------------------------------------------------------------------------------------
# clean


def test_clean_by_hand() -> None:
    mask = np.array(
        [
            [1, 0, 0, 0, 0, 0, 0],
            [0, 0, 1, 1, 1, 0, 0],
            [0, 0, 1, 0, 1, 0, 0],
            [0, 0, 1, 1, 1, 0, 1],
            [0, 0, 0, 0, 0, 0, 1],
        ],
        bool,
    )
    expected = np.array(
        [
            [0, 0, 0, 0, 0, 0, 0],
            [0, 0, 1, 1, 1, 0, 0],
            [0, 0, 1, 1, 1, 0, 0],  # the hole is filled
            [0, 0, 1, 1, 1, 0, 0],
            [0, 0, 0, 0, 0, 0, 0],  # the speck and the 2-pixel bar are gone
        ],
        bool,
    )
    np.testing.assert_array_equal(clean(mask), expected)
    np.testing.assert_array_equal(clean(np.stack([mask, np.zeros_like(mask)])), np.stack([expected, ~expected & False]))


def test_clean_diagonal_neighbours_are_one_component_and_a_diagonal_gap_is_not_a_hole() -> None:
    mask = np.zeros((5, 5), bool)
    mask[[1, 2, 3, 2], [2, 1, 2, 3]] = True  # a diamond of 4 pixels touching only at corners
    out = clean(mask)
    # 8-connected: one component; its centre is 4-connected only to the diamond, so it is a hole
    expected = mask.copy()
    expected[2, 2] = True
    np.testing.assert_array_equal(out, expected)


def scipy_clean(mask: np.ndarray) -> np.ndarray:
    labels, n = ndimage.label(mask, structure=np.ones((3, 3)))
    if n == 0:
        return np.zeros_like(mask)
    sizes = ndimage.sum_labels(mask, labels, index=np.arange(1, n + 1))
    return ndimage.binary_fill_holes(labels == 1 + int(np.argmax(sizes)))


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(3, 30), st.integers(3, 30), st.floats(0.2, 0.7))
def test_clean_matches_scipy(seed: int, h: int, w: int, density: float) -> None:
    mask = np.random.default_rng(seed).random((h, w)) < density
    np.testing.assert_array_equal(clean(mask), scipy_clean(mask))


def test_clean_opening_removes_thin_bridges() -> None:
    mask = np.zeros((20, 40), bool)
    mask[5:15, 2:12] = True
    mask[3:17, 25:38] = True
    mask[9, 12:25] = True  # a 1-pixel bridge joins the squares
    assert clean(mask).sum() == mask.sum()
    out = clean(mask, opening=1)
    assert not out[9, 15] and out[10, 30] and not out[10, 5]  # bridge cut, only the larger square kept


def test_clean_errors() -> None:
    with pytest.raises(TypeError, match="dtype bool, got float64"):
        clean(np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"\(T, H, W\) or \(H, W\), got shape \(3,\)"):
        clean(np.zeros(3, bool))
    with pytest.raises(ValueError, match="opening must be an int >= 0, got -2"):
        clean(np.zeros((3, 3), bool), opening=-2)


# ----------------------------------------------------------------------------------------------------------
# background subtraction


def test_median_background_by_hand() -> None:
    frames = np.zeros((3, 1, 2, 3), np.uint8)
    frames[:, 0, 0, 0] = [10, 200, 30]  # median 30
    frames[:, 0, 1, 2] = [255, 0, 7]  # median 7
    bg = median_background(frames)
    np.testing.assert_array_equal(bg, np.array([[[30, 0, 0], [0, 0, 7]]], np.uint8))
    with pytest.raises(ValueError, match="0 frames"):
        median_background(np.zeros((0, 2, 2, 3), np.uint8))


def test_subtract_background_by_hand() -> None:
    bg = np.full((2, 3, 3), 100, np.uint8)
    frames = np.repeat(bg[None], 2, axis=0)
    frames[0, 0, 0, 1] = 131  # +31 in green: foreground
    frames[0, 1, 2, 0] = 70  # -30: not above the threshold
    frames[1, 1, 1, 2] = 0  # -100 in blue
    out = subtract_background(frames, bg, threshold=30)
    expected = np.zeros((2, 2, 3), bool)
    expected[0, 0, 0] = expected[1, 1, 1] = True
    np.testing.assert_array_equal(out, expected)
    with pytest.raises(ValueError, match=r"background must be uint8 \(2, 3, 3\)"):
        subtract_background(frames, bg[:1])


def test_mog2_finds_a_moving_square() -> None:
    rng = np.random.default_rng(0)
    scene = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    frames = np.repeat(scene[None], 30, axis=0)
    truth = np.zeros((30, 40, 60), bool)
    for t in range(30):
        truth[t, 10:30, t + 5 : t + 15] = True
        frames[t][truth[t]] = 0
    out = mog2_silhouettes(frames)
    iou = (out & truth).sum() / (out | truth).sum()
    assert iou > 0.9


# ----------------------------------------------------------------------------------------------------------
# batch versions


def test_batch_versions_equal_the_serial_ones_with_two_workers() -> None:
    seqs = [walker(5).silhouettes, walker(3, (120, 160)).silhouettes, SIX_BY_FIVE[None]]
    many = normalize_many(seqs, 64, 44, workers=2)
    for s, m in zip(seqs, many, strict=True):
        np.testing.assert_array_equal(m, normalize(s, 64, 44))
    geis = gei_many(seqs[:2], workers=2)
    assert geis.shape == (2, 64, 64) and geis.dtype == np.float32
    np.testing.assert_allclose(geis[1], gei(normalize(seqs[1])), atol=1e-6)
    cleaned = clean_many(seqs, workers=2)
    np.testing.assert_array_equal(cleaned[0], clean(seqs[0]))
    with pytest.raises(TypeError, match=r"sequences\[1\] must have dtype bool"):
        normalize_many([seqs[0], seqs[1].astype(np.uint8)])
    with pytest.raises(ValueError, match="workers must be >= 1"):
        gei_many(seqs, workers=0)
