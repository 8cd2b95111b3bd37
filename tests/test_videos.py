"""User videos: names -> subject/condition/view, silhouettes by background subtraction, errors."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.data.videos import UserVideos, extract_silhouettes, read_user_video
from benchmark.sample import walker
from benchmark.silhouettes import clean, median_background, subtract_background
from benchmark.types import GaitSequence

SHAPE = (48, 64)  # H, W


def walk(frames: int = 16) -> GaitSequence:
    """:func:`benchmark.sample.walker` without anti-aliasing: each frame differs from the scene exactly inside the
    silhouette, at seed 0 by at least 38 grey levels in some channel (above the threshold, 30; seeds 2 and 3 have
    pixels below it)."""
    return walker(frames, SHAPE, seed=0, antialias=False)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def test_median_subtraction_recovers_the_walker_exactly() -> None:
    seq = walk()
    video, truth = seq.frames, seq.silhouettes
    np.testing.assert_array_equal(median_background(video), seq.background)  # no pixel is covered in 8 of 16 frames
    np.testing.assert_array_equal(subtract_background(video, seq.background), truth)
    sil = extract_silhouettes(video, opening=0)
    # Where the legs cross they enclose some background, which the cleanup fills as a hole.
    np.testing.assert_array_equal(sil, clean(truth))


@pytest.mark.parametrize("method", ["median", "mog2"])
def test_cleanup_removes_noise_and_fills_holes(method: str) -> None:
    seq = walk()
    video, truth = seq.frames.copy(), seq.silhouettes
    assert not truth[:, 2].any() and truth[5, 29:32, 24:27].all()  # row 2 is above the head; (30, 25) in the torso
    video[:, 2, 60] = 0  # a flickering speck away from the walker
    video[5, 30, 25] = seq.background[30, 25]  # a pixel of the scene's colour inside the body: a hole
    sil = extract_silhouettes(video, method=method, opening=1)
    assert not sil[:, 2, 60].any()
    assert sil[5, 30, 25]
    assert min(iou(s, t) for s, t in zip(sil, truth, strict=True)) > 0.85


def test_folder_names_and_backgrounds(tmp_path, video_writer) -> None:
    seq = walk()
    video, truth, scene = seq.frames, seq.silhouettes, seq.background
    video_writer(tmp_path / "alice.avi", video)
    video_writer(tmp_path / "casia" / "001-bg-02-036.avi", video)
    empty = np.repeat(scene[None], 3, axis=0)
    video_writer(tmp_path / "casia" / "001-bkgrd-036.avi", empty)
    data = UserVideos(tmp_path, view=0)
    refs = data.index()
    assert [r.key for r in refs] == ["001-bg-02-036", "alice-nm-01-000"]
    assert refs[0].background_path == tmp_path / "casia" / "001-bkgrd-036.avi"
    assert refs[1].background_path is None
    seq = data.load(refs[0], frames=True, background=True)
    assert (seq.subject, seq.condition, seq.view) == ("001", "bg-02", 36)
    np.testing.assert_array_equal(seq.background, scene)
    np.testing.assert_array_equal(seq.frames, video)
    assert seq.fps == 25.0 and seq.source == refs[0].path
    np.testing.assert_array_equal(seq.silhouettes, extract_silhouettes(video, background=scene))
    assert [r.key for r in data.index(subjects=["alice"])] == ["alice-nm-01-000"]
    assert [r.key for r in data.index(conditions=["bg"], views=[36])] == ["001-bg-02-036"]
    bare = data.load(refs[1])
    assert bare.frames is None and bare.background is None
    assert min(iou(s, t) for s, t in zip(bare.silhouettes, truth, strict=True)) > 0.9


def test_single_file_and_default_view(tmp_path, video_writer) -> None:
    walking = walk()
    path = video_writer(tmp_path / "bob walking.avi", walking.frames)
    seq = read_user_video(path)
    assert seq.key == "bob walking-nm-01-090"
    assert seq.frames is not None and seq.frames.shape == (16, *SHAPE, 3)
    np.testing.assert_array_equal(seq.background, walking.background)


def test_errors_name_the_file(tmp_path, video_writer) -> None:
    with pytest.raises(FileNotFoundError, match=r"video folder .*absent does not exist"):
        UserVideos(tmp_path / "absent")
    (tmp_path / "notes.txt").write_text("no videos here")
    with pytest.raises(ValueError, match=r"no videos \(\.avi, \.mp4.*\) found in"):
        UserVideos(tmp_path).index()
    (tmp_path / "broken.mp4").write_bytes(b"\x00" * 100)
    data = UserVideos(tmp_path)
    with pytest.raises(ValueError, match=r"cannot read video .*broken\.mp4"):
        data.load(data.index()[0])
    video = walk(4).frames
    video_writer(tmp_path / "sub" / "broken.avi", video)
    with pytest.raises(
        ValueError, match=r"videos .*broken\.(avi|mp4) and .*broken\.(avi|mp4) both give broken-nm-01-090"
    ):
        UserVideos(tmp_path).index()
    with pytest.raises(ValueError, match="unknown background-subtraction method 'knn': use one of median, mog2"):
        UserVideos(tmp_path, method="knn")
    with pytest.raises(ValueError, match="view must be an int in 0..359 degrees, got 400"):
        UserVideos(tmp_path, view=400)
    with pytest.raises(ValueError, match="unknown background-subtraction method 'x'"):
        extract_silhouettes(video, method="x")
    with pytest.raises(TypeError, match="frames must have dtype uint8, got float64"):
        extract_silhouettes(video.astype(float))
    with pytest.raises(ValueError, match="0 frames"):
        extract_silhouettes(video[:0])


def test_background_of_another_size_is_an_error(tmp_path, video_writer) -> None:
    video = walk(4).frames
    video_writer(tmp_path / "002-nm-01-090.avi", video)
    video_writer(tmp_path / "002-bkgrd-090.avi", np.zeros((2, 16, 16, 3), np.uint8))
    data = UserVideos(tmp_path)
    with pytest.raises(ValueError, match=r"background video .*002-bkgrd-090\.avi is 16x16, video .* is 64x48"):
        data.load(data.index()[0])
