"""The decoded cache: same arrays as the reader + normalize, reuse, staleness, errors."""

from __future__ import annotations

import json
import os

import cv2
import numpy as np
import pytest

import benchmark.data.cache as cache
from benchmark.data.cache import load_normalized, normalize_files
from benchmark.data.casia import CasiaB
from benchmark.silhouettes import MIN_FOREGROUND_PIXELS, normalize_uint8


def expected_arrays(root, height=64, width=64) -> dict[str, np.ndarray]:
    """Independent path: the reader's bool silhouettes, normalize, then OpenGait's filter of small frames."""
    data = CasiaB(root)
    out = {}
    for ref in data.index():
        sil = data.load(ref).silhouettes
        keep = sil.sum(axis=(1, 2)) >= MIN_FOREGROUND_PIXELS
        if keep.any():
            out[ref.key] = normalize_uint8(sil[keep], height, width)
    return out


@pytest.fixture
def counted_imread(monkeypatch):
    calls: list[str] = []
    real = cv2.imread

    def imread(path: str, *args: int) -> np.ndarray | None:
        calls.append(path)
        return real(path, *args)

    monkeypatch.setattr(cache.cv2, "imread", imread)
    return calls


@pytest.mark.parametrize("workers", [1, 2])
def test_load_normalized_equals_reader_plus_normalize(tiny_casia, workers: int) -> None:
    got = load_normalized(tiny_casia.root, height=64, width=44, workers=workers)
    want = expected_arrays(tiny_casia.root, 64, 44)
    assert list(got) == list(want) and len(got) == 8
    for key in want:
        assert got[key].dtype == np.uint8 and got[key].shape == (3, 64, 44)
        np.testing.assert_array_equal(got[key], want[key])


def test_small_frames_are_dropped_and_empty_sequences_omitted(make_casia_tree) -> None:
    tree = make_casia_tree(subjects=("001",), conditions=("nm-01",), views=(0, 18), frames=3)
    few = np.zeros((32, 24), np.uint8)
    few[5:10, 5:12] = 255  # 35 pixels
    cv2.imwrite(str(tree.frame("001-nm-01-000", 2)), few)
    for n in (1, 2, 3):
        cv2.imwrite(str(tree.frame("001-nm-01-018", n)), few)
    got = load_normalized(tree.root, workers=1)
    assert list(got) == ["001-nm-01-000"]
    np.testing.assert_array_equal(got["001-nm-01-000"], normalize_uint8(tree.truth["001-nm-01-000"][[0, 2]]))
    assert len(load_normalized(tree.root, workers=1, min_pixels=1)["001-nm-01-018"]) == 3


def test_selection_is_passed_on(tiny_casia) -> None:
    got = load_normalized(tiny_casia.root, subjects=["002"], conditions=["bg"], views=[90], workers=1)
    assert list(got) == ["002-bg-01-090"]


def test_cache_is_reused_then_rebuilt_when_a_frame_changes(tiny_casia, tmp_path, counted_imread) -> None:
    cache_dir = tmp_path / "cache"
    first = load_normalized(tiny_casia.root, cache_dir=cache_dir, workers=1)
    assert len(counted_imread) == 24
    folder = cache_dir / "casia-b-64x64-min40"
    index = json.loads((folder / "index.json").read_text())
    assert index["format"] == 2 and index["params"]["height"] == 64
    entry = index["sequences"]["001-nm-01-090"]
    assert entry["frames"] == 3 and entry["source_frames"] == 3
    assert (folder / entry["file"]).is_file() and len(list(folder.glob("*.npy"))) == 8

    counted_imread.clear()
    again = load_normalized(tiny_casia.root, cache_dir=cache_dir, workers=1)
    assert counted_imread == []
    for key in first:
        np.testing.assert_array_equal(again[key], first[key])

    # rewrite one frame (new content, new mtime): only that sequence is decoded again
    path = tiny_casia.frame("001-nm-01-090", 2)
    cv2.imwrite(str(path), np.pad(np.ones((20, 10), np.uint8) * 255, ((6, 6), (7, 7))))
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    counted_imread.clear()
    third = load_normalized(tiny_casia.root, cache_dir=cache_dir, workers=1)
    assert sorted(counted_imread) == sorted(str(p) for p in CasiaB(tiny_casia.root).ref("001-nm-01-090").files)
    assert not np.array_equal(third["001-nm-01-090"], first["001-nm-01-090"])
    np.testing.assert_array_equal(third["001-nm-01-090"], expected_arrays(tiny_casia.root)["001-nm-01-090"])
    new_entry = json.loads((folder / "index.json").read_text())["sequences"]["001-nm-01-090"]
    assert new_entry["fingerprint"] != entry["fingerprint"]
    assert not (folder / entry["file"]).exists() and len(list(folder.glob("*.npy"))) == 8

    # other normalisation parameters live beside, without touching the first
    load_normalized(tiny_casia.root, cache_dir=cache_dir, height=128, width=88, workers=1)
    assert (cache_dir / "casia-b-128x88-min40" / "index.json").is_file()
    assert len(list(folder.glob("*.npy"))) == 8


def test_damaged_cache_files_are_rebuilt(tiny_casia, tmp_path, counted_imread) -> None:
    cache_dir = tmp_path / "cache"
    first = load_normalized(tiny_casia.root, cache_dir=cache_dir, workers=1)
    folder = cache_dir / "casia-b-64x64-min40"
    entry = json.loads((folder / "index.json").read_text())["sequences"]["002-bg-01-000"]
    (folder / entry["file"]).write_bytes(b"garbage")
    (folder / "index.json").write_text("{not json")
    counted_imread.clear()
    again = load_normalized(tiny_casia.root, cache_dir=cache_dir, workers=1)
    assert len(counted_imread) == 3
    np.testing.assert_array_equal(again["002-bg-01-000"], first["002-bg-01-000"])
    assert len(json.loads((folder / "index.json").read_text())["sequences"]) == 8


def test_corrupt_frames_raise_or_are_skipped(make_casia_tree, broken_png) -> None:
    tree = make_casia_tree(subjects=("001",), conditions=("nm-01",), views=(0,), frames=3)
    tree.frame("001-nm-01-000", 2).write_bytes(broken_png("truncated"))
    with pytest.raises(ValueError, match=r"cannot read silhouette frame .*001-nm-01-000-002\.png: corrupt"):
        load_normalized(tree.root, workers=1)
    with pytest.warns(UserWarning, match=r"001-nm-01-000-002\.png.*\(skipped\)"):
        got = load_normalized(tree.root, workers=1, errors="skip")
    np.testing.assert_array_equal(got["001-nm-01-000"], normalize_uint8(tree.truth["001-nm-01-000"][[0, 2]]))


def test_errors(tiny_casia, tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match=r"CASIA-B root .*absent does not exist"):
        load_normalized(tmp_path / "absent")
    with pytest.raises(ValueError, match="errors must be 'raise' or 'skip', got 'ignore'"):
        load_normalized(tiny_casia.root, errors="ignore")
    with pytest.raises(ValueError, match="width must be an int >= 1, got 0"):
        load_normalized(tiny_casia.root, width=0)
    with pytest.raises(ValueError, match="unknown condition 'walk'"):
        load_normalized(tiny_casia.root, conditions=["walk"])
    with pytest.raises(ValueError, match=r"cannot read silhouette frame .*nothing\.png: missing"):
        normalize_files([tmp_path / "nothing.png"])
