"""Classic baselines (baselines.classic): literal cases, scipy as the independent blur reference, errors, registry."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy import ndimage

from baselines.classic import Blur, Identity, Mask, Pixelate
from benchmark.anonymizer import load_anonymizer
from benchmark.config import ConfigError
from benchmark.registry import ANONYMIZERS, load_plugin_declarations
from benchmark.types import GaitSequence

KEY = "001-nm-01-090"
METHODS = [Identity(), Blur(Blur.Config(sigma=2, margin=3)), Pixelate(Pixelate.Config(block=5, margin=2)),
           Mask(), Mask(Mask.Config(shape="dilate", color="background", margin=0))]


def seq_of(sil: np.ndarray, frames: np.ndarray | None = None, background: np.ndarray | None = None) -> GaitSequence:
    return GaitSequence("001", "nm-01", 90, sil, frames, background)


def blobs(t: int = 3, shape: tuple[int, int] = (40, 48), empty: tuple[int, ...] = (1,)) -> GaitSequence:
    """Ellipse 'people' moving right, random colour frames and background; frames in ``empty`` have no person."""
    rng = np.random.default_rng(7)
    sil = np.zeros((t, *shape), np.uint8)
    for i in range(t):
        if i not in empty:
            cv2.ellipse(sil[i], (14 + 3 * i, 20), (6, 13), 0, 0, 360, 1, -1)
            cv2.rectangle(sil[i], (24 + 3 * i, 30), (26 + 3 * i, 36), 1, -1)  # a thin "leg"
    frames = rng.integers(0, 256, (t, *shape, 3), dtype=np.uint8)
    return seq_of(sil.astype(bool), frames, rng.integers(0, 256, (*shape, 3), dtype=np.uint8))


# ---------------------------------------------------------------------------------------------- literal cases


def test_pixelate_literal_8x8_block4() -> None:
    # Cells (4x4): top-left 8/16 silhouette (rows 0-1) -> on (>= half); top-right 7/16 -> off;
    # bottom-left 0 -> off and untouched (no region pixel); bottom-right 16/16 -> on. margin=0: region = silhouette.
    sil = np.zeros((1, 8, 8), bool)
    sil[0, 0:2, 0:4] = True
    sil[0, 0, 4:8] = True
    sil[0, 1, 4:7] = True
    sil[0, 4:8, 4:8] = True
    r = 10 * np.arange(8)[:, None] + np.arange(8)[None, :]  # R = 10 row + col
    frames = np.zeros((1, 8, 8, 3), np.uint8)
    frames[0, :, :, 0] = r
    frames[0, :, :, 1] = 7
    frames[0, 2, 5, 2] = 100  # B: one pixel of the top-right cell
    out = Pixelate(Pixelate.Config(block=4, margin=0)).anonymize(seq_of(sil, frames))
    expected_sil = np.array([[1, 1, 1, 1, 0, 0, 0, 0]] * 4 + [[0, 0, 0, 0, 1, 1, 1, 1]] * 4, bool)
    np.testing.assert_array_equal(out.silhouettes[0], expected_sil)
    # Cell means, rounded half up: TL 15 + 1.5 = 16.5 -> 17, TR 15 + 5.5 = 20.5 -> 21, BR 55 + 5.5 = 60.5 -> 61.
    expected_r = np.array([
        [17, 17, 17, 17, 21, 21, 21, 21],
        [17, 17, 17, 17, 21, 21, 21, 21],
        [17, 17, 17, 17, 21, 21, 21, 21],
        [17, 17, 17, 17, 21, 21, 21, 21],
        [40, 41, 42, 43, 61, 61, 61, 61],
        [50, 51, 52, 53, 61, 61, 61, 61],
        [60, 61, 62, 63, 61, 61, 61, 61],
        [70, 71, 72, 73, 61, 61, 61, 61],
    ])
    expected_b = np.zeros((8, 8), int)
    expected_b[0:4, 4:8] = 6  # 100 / 16 = 6.25 -> 6
    np.testing.assert_array_equal(out.frames[0, :, :, 0], expected_r)
    np.testing.assert_array_equal(out.frames[0, :, :, 1], np.full((8, 8), 7))
    np.testing.assert_array_equal(out.frames[0, :, :, 2], expected_b)


def test_pixelate_partial_border_cell() -> None:
    # 5x6 frame, block 4: the bottom-right cell is 1x2 pixels, (4, 4) and (4, 5); one of them is silhouette,
    # which is half the cell -> on. Its R mean (10 + 21) / 2 = 15.5 -> 16; every other cell is untouched.
    sil = np.zeros((1, 5, 6), bool)
    sil[0, 4, 5] = True
    frames = np.zeros((1, 5, 6, 3), np.uint8)
    frames[0, :, :, 0] = 3
    frames[0, 4, 4, 0], frames[0, 4, 5, 0] = 10, 21
    out = Pixelate(Pixelate.Config(block=4, margin=0)).anonymize(seq_of(sil, frames))
    expected_sil = np.zeros((5, 6), bool)
    expected_sil[4, 4:6] = True
    np.testing.assert_array_equal(out.silhouettes[0], expected_sil)
    expected_r = np.full((5, 6), 3)
    expected_r[4, 4:6] = 16
    np.testing.assert_array_equal(out.frames[0, :, :, 0], expected_r)


def test_blur_square_loses_three_pixels_per_corner() -> None:
    # The blur is separable and the square a product of 1-d steps, so the blurred value is f(a) f(b), with f(d) the
    # 1-d step blurred at d px inside the edge: sigma=2 gives f(0) = 0.5 + w0/2 = 0.600, f(1) = 0.776, f(2) = 0.897
    # (w0 = 0.199, w1 = 0.176 the normalised kernel weights); just outside the edge 1 - f(0) = 0.400 < 0.5.
    # f(0)^2 = 0.36 and f(0) f(1) = 0.465 fall below 0.5, f(0) f(2) = 0.538 and f(1)^2 = 0.60 do not: each corner
    # loses exactly its corner pixel and its two neighbours along the edges. The square is 6 px (3 sigma) from the
    # image border, so no border handling enters.
    sil = np.zeros((1, 40, 40), bool)
    sil[0, 10:30, 10:30] = True
    out = Blur(Blur.Config(sigma=2, margin=3)).anonymize(seq_of(sil))
    expected = sil[0].copy()
    for r, c in ((10, 10), (10, 29), (29, 10), (29, 29)):
        dr, dc = (1 if r == 10 else -1), (1 if c == 10 else -1)
        expected[r, c] = expected[r + dr, c] = expected[r, c + dc] = False
    np.testing.assert_array_equal(out.silhouettes[0], expected)
    assert out.silhouettes[0].sum() == 400 - 12


def test_blur_silhouette_is_cut_to_the_region() -> None:
    # Two full-height 6-px bars (columns 5-10, 13-18) with a 2-px gap; sigma=2, so each row is the 1-d case.
    # A gap column (e.g. 11) sees bar pixels at offsets -6..-1 (0.5 - w0/2 = 0.400) and +2..+6 (0.400 - w1 = 0.224):
    # 0.62 >= 0.5, so the blur closes the gap; outside the outer edges 1 - f(0) = 0.400 stays off. With margin 0 the
    # region is the silhouette and the gap (background pixels an attacker would see) is cut; margin 1 covers it.
    sil = np.zeros((1, 10, 24), bool)
    sil[0, :, 5:11] = sil[0, :, 13:19] = True
    cut = Blur(Blur.Config(sigma=2, margin=0)).anonymize(seq_of(sil)).silhouettes[0]
    np.testing.assert_array_equal(cut, sil[0])
    closed = Blur(Blur.Config(sigma=2, margin=1)).anonymize(seq_of(sil)).silhouettes[0]
    expected = np.zeros((10, 24), bool)
    expected[:, 5:19] = True
    np.testing.assert_array_equal(closed, expected)


def test_blur_matches_scipy_gaussian_filter() -> None:
    # Reference: scipy.ndimage.gaussian_filter with the same radius (kernel 2 ceil(3 sigma) + 1 -> radius 5 for
    # sigma=1.5, truncate = 5 / 1.5) and cv2's default border (reflect-101 = scipy "mirror").
    seq = blobs()
    sigma, margin = 1.5, 3
    out = Blur(Blur.Config(sigma=sigma, margin=margin)).anonymize(seq)
    kw = {"sigma": sigma, "mode": "mirror", "truncate": 5 / sigma}
    outside = ndimage.distance_transform_cdt(~seq.silhouettes[0], metric="chessboard") > margin
    ref = ndimage.gaussian_filter(seq.silhouettes[0].astype(float), **kw)
    assert np.abs(ref - 0.5).min() > 1e-3  # no pixel so close to the threshold that float32 rounding could flip it
    np.testing.assert_array_equal(out.silhouettes[0], (ref >= 0.5) & ~outside)
    assert out.silhouettes[0].sum() > 0
    ref_rgb = np.stack([ndimage.gaussian_filter(seq.frames[0, :, :, c].astype(float), **kw) for c in range(3)], -1)
    changed = out.frames[0] != seq.frames[0]
    assert changed.any() and not changed[outside].any()
    inside = seq.silhouettes[0]  # surely within the region, whatever the kernel's exact shape
    # cv2 blurs uint8 in fixed point: within 1 of the exact float result after rounding.
    np.testing.assert_allclose(out.frames[0][inside], ref_rgb[inside], atol=1.0)


def test_mask_box_and_dilate_literal() -> None:
    # Silhouette pixels (2, 2) and (3, 4); margin 1 -> the 3x3 elliptical kernel is a cross (4-neighbours).
    sil = np.zeros((1, 6, 7), bool)
    sil[0, 2, 2] = sil[0, 3, 4] = True
    frames = np.full((1, 6, 7, 3), 9, np.uint8)
    box = Mask(Mask.Config(shape="box", margin=1)).anonymize(seq_of(sil, frames))
    expected_box = np.array([
        [0, 0, 0, 0, 0, 0, 0],
        [0, 1, 1, 1, 1, 1, 0],
        [0, 1, 1, 1, 1, 1, 0],
        [0, 1, 1, 1, 1, 1, 0],
        [0, 1, 1, 1, 1, 1, 0],
        [0, 0, 0, 0, 0, 0, 0],
    ], bool)
    np.testing.assert_array_equal(box.silhouettes[0], expected_box)
    np.testing.assert_array_equal(box.frames[0], np.where(expected_box[..., None], 128, np.full(3, 9)))
    dil = Mask(Mask.Config(shape="dilate", color="white", margin=1)).anonymize(seq_of(sil, frames))
    expected_dil = np.array([
        [0, 0, 0, 0, 0, 0, 0],
        [0, 0, 1, 0, 0, 0, 0],
        [0, 1, 1, 1, 1, 0, 0],
        [0, 0, 1, 1, 1, 1, 0],
        [0, 0, 0, 0, 1, 0, 0],
        [0, 0, 0, 0, 0, 0, 0],
    ], bool)
    np.testing.assert_array_equal(dil.silhouettes[0], expected_dil)
    np.testing.assert_array_equal(dil.frames[0], np.where(expected_dil[..., None], 255, np.full(3, 9)))


def test_mask_background_colour() -> None:
    seq = blobs()
    out = Mask(Mask.Config(color="background", margin=0)).anonymize(seq)
    box = out.silhouettes[..., None]
    np.testing.assert_array_equal(out.frames, np.where(box, seq.background, seq.frames))
    assert out.silhouettes[0].sum() > seq.silhouettes[0].sum()  # the box covers more than the person


def test_identity_returns_equal_copies() -> None:
    seq = blobs()
    out = Identity().anonymize(seq)
    np.testing.assert_array_equal(out.silhouettes, seq.silhouettes)
    np.testing.assert_array_equal(out.frames, seq.frames)
    assert out.silhouettes is not seq.silhouettes and not np.shares_memory(out.silhouettes, seq.silhouettes)
    assert not np.shares_memory(out.frames, seq.frames)
    assert (out.key, out.fps, out.background is seq.background) == (KEY, 25.0, True)


# ---------------------------------------------------------------------------------------------- shared behaviour


@pytest.mark.parametrize(
    "anon", [*METHODS[1:3], Mask(Mask.Config(shape="dilate", margin=2)), Mask(Mask.Config(margin=1))],
    ids=lambda a: f"{a.name}-{a.parameters()}",
)
def test_outside_region_unchanged(anon) -> None:  # noqa: ANN001
    seq = blobs(empty=())
    out = anon.anonymize(seq)
    margin = anon.config.margin
    block = getattr(anon.config, "block", 1)
    for t in range(seq.num_frames):
        # Pixels within the kernel's bounding square of the silhouette (the elliptical kernel lies inside it).
        near = ndimage.distance_transform_cdt(~seq.silhouettes[t], metric="chessboard") <= margin
        h, w = near.shape
        if block > 1:  # whole cells that hold a near pixel
            cells = np.add.reduceat(np.add.reduceat(near, np.arange(0, h, block), 0), np.arange(0, w, block), 1) > 0
            near = np.repeat(np.repeat(cells, block, 0), block, 1)[:h, :w]
        if getattr(anon.config, "shape", "") == "box":  # the bounding box of the near pixels
            rows, cols = np.flatnonzero(near.any(1)), np.flatnonzero(near.any(0))
            near = np.zeros_like(near)
            near[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1] = True
        changed = (out.frames[t] != seq.frames[t]).any(-1)
        assert changed.sum() > 0.5 * seq.silhouettes[t].sum()
        assert not changed[~near].any()
        assert not out.silhouettes[t][~near].any()


@pytest.mark.parametrize("anon", METHODS, ids=lambda a: f"{a.name}-{a.parameters()}")
def test_output_types_and_empty_frames(anon) -> None:  # noqa: ANN001
    seq = blobs()  # frame 1 is empty
    out = anon.anonymize(seq)
    assert out.silhouettes.dtype == np.bool_ and out.silhouettes.shape == seq.silhouettes.shape
    assert out.frames.dtype == np.uint8 and out.frames.shape == seq.frames.shape
    assert (out.key, out.background is seq.background) == (KEY, True)
    np.testing.assert_array_equal(out.frames[1], seq.frames[1])
    assert not out.silhouettes[1].any()
    assert out.silhouettes[0].any()
    np.testing.assert_array_equal(anon.anonymize(seq, seed=5).frames, out.frames)  # deterministic


@pytest.mark.parametrize("anon", METHODS, ids=lambda a: f"{a.name}-{a.parameters()}")
def test_silhouettes_only(anon) -> None:  # noqa: ANN001
    seq = blobs()
    with_frames = anon.anonymize(seq)
    out = anon.anonymize(seq.replace(frames=None, background=None))
    assert out.frames is None
    np.testing.assert_array_equal(out.silhouettes, with_frames.silhouettes)


def test_mask_background_missing_names_the_sequence() -> None:
    seq = blobs().replace(background=None)
    with pytest.raises(ValueError, match=KEY):
        Mask(Mask.Config(color="background")).anonymize(seq)


@pytest.mark.parametrize(
    ("cls", "kwargs", "error", "match"),
    [
        (Blur, {"sigma": 0}, ValueError, "sigma.*0"),
        (Blur, {"sigma": -2.5}, ValueError, "sigma.*-2.5"),
        (Blur, {"sigma": float("nan")}, ValueError, "sigma.*nan"),
        (Blur, {"sigma": "8"}, TypeError, "sigma"),
        (Blur, {"margin": -1}, ValueError, "margin.*-1"),
        (Pixelate, {"block": 1}, ValueError, "block.*1"),
        (Pixelate, {"block": 4.0}, TypeError, "block.*4.0"),
        (Pixelate, {"margin": True}, TypeError, "margin"),
        (Mask, {"shape": "circle"}, ValueError, "circle"),
        (Mask, {"color": "red"}, ValueError, "red"),
    ],
)
def test_bad_config(cls, kwargs, error, match) -> None:  # noqa: ANN001
    with pytest.raises(error, match=match):
        cls.Config(**kwargs)


def test_parameters_strings() -> None:
    assert Identity().parameters() == ""
    assert Blur().parameters() == "margin=4;sigma=8"
    assert Blur(Blur.Config(sigma=2.5)).parameters() == "margin=4;sigma=2.5"
    assert Pixelate().parameters() == "block=12;margin=4"
    assert Mask().parameters() == "color=gray;margin=4;shape=box"


# ---------------------------------------------------------------------------------------------- registry, checkpoints


def test_registry_and_checkpoint_round_trip(tmp_path: Path) -> None:
    load_plugin_declarations()
    for cls in (Identity, Blur, Pixelate, Mask):
        assert ANONYMIZERS.get(cls.name) is cls
    loaded = load_anonymizer(Blur(Blur.Config(sigma=3)).save(tmp_path / "b.npz"))
    assert type(loaded) is Blur and loaded.config == Blur.Config(sigma=3.0, margin=4)
    mask = load_anonymizer(Mask(Mask.Config(shape="dilate", color="black", margin=0)).save(tmp_path / "m.npz"))
    assert mask.config == Mask.Config(shape="dilate", color="black", margin=0)
    assert Pixelate.make_config(block=6) == Pixelate.Config(block=6)
    with pytest.raises(ConfigError, match="block"):
        Pixelate.make_config(block=1)
    with pytest.raises(ConfigError, match=r"unknown key 'blok'; did you mean 'block'"):
        Pixelate.make_config(blok=6)
