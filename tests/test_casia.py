"""CASIA-B reader: tree layouts, selection, lazy loading, colour and background videos, errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

import benchmark.data.casia as casia
from benchmark.data.casia import CasiaB, Selection, read_video
from benchmark.registry import DATASETS


def test_index_lists_the_tree_in_casia_order(tiny_casia) -> None:
    refs = CasiaB(tiny_casia.root).index()
    assert [r.key for r in refs] == [
        "001-nm-01-000",
        "001-nm-01-090",
        "001-bg-01-000",
        "001-bg-01-090",
        "002-nm-01-000",
        "002-nm-01-090",
        "002-bg-01-000",
        "002-bg-01-090",
    ]
    ref = refs[1]
    assert (ref.subject, ref.condition, ref.view) == ("001", "nm-01", 90)
    assert ref.directory == tiny_casia.root / "001" / "nm-01" / "090"
    assert [p.name for p in ref.files] == [f"001-nm-01-090-00{i}.png" for i in (1, 2, 3)]


def test_index_selects_subjects_conditions_and_views(tiny_casia) -> None:
    data = CasiaB(tiny_casia.root)
    assert [r.key for r in data.index(subjects=[2], conditions=["bg"], views=["090"])] == ["002-bg-01-090"]
    assert [r.key for r in data.index(subjects="001", conditions="nm-01", views=0)] == ["001-nm-01-000"]
    assert data.index(subjects=["003"]) == []
    assert data.ref("002-bg-01-000").files[0].name == "002-bg-01-000-001.png"


def test_write_silhouettes_writes_the_layout_the_reader_reads(tmp_path: Path) -> None:
    masks = np.zeros((2, 4, 3), bool)
    masks[0, 1:3, 1] = masks[1, 0, :] = True
    folder = casia.write_silhouettes(tmp_path, "004", "cl-02", 36, masks)
    assert folder == casia.sequence_folder(tmp_path, "004", "cl-02", 36) == tmp_path / "004" / "cl-02" / "036"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["004", "004-cl-02-036-001.png", "004-cl-02-036-002.png",
                                                          "036", "cl-02"]  # no temporary folder left
    np.testing.assert_array_equal(cv2.imread(str(folder / "004-cl-02-036-002.png"), cv2.IMREAD_UNCHANGED),
                                  [[255, 255, 255], [0, 0, 0], [0, 0, 0], [0, 0, 0]])
    data = CasiaB(tmp_path)
    np.testing.assert_array_equal(data.load(data.ref("004-cl-02-036")).silhouettes, masks)
    # Writing again replaces the folder as a whole: no frame of the earlier sequence is left.
    casia.write_silhouettes(tmp_path, "004", "cl-02", 36, masks[:1])
    assert [p.name for p in data.ref("004-cl-02-036").files] == ["004-cl-02-036-001.png"]
    with pytest.raises(TypeError, match="masks must have dtype bool, got uint8"):
        casia.write_silhouettes(tmp_path, "004", "cl-02", 36, masks.astype(np.uint8))
    with pytest.raises(ValueError, match=r"masks must have shape \(T, H, W\), got shape \(4, 3\)"):
        casia.write_silhouettes(tmp_path, "004", "cl-02", 36, masks[0])


def test_nested_and_wrapped_layouts(make_casia_tree) -> None:
    tree = make_casia_tree("nested", subjects=("113", "114"), conditions=("nm-06",), views=(180,), nested=("113",))
    refs = CasiaB(tree.root).index()
    assert [r.key for r in refs] == ["113-nm-06-180", "114-nm-06-180"]
    assert refs[0].directory == tree.root / "113" / "113" / "nm-06" / "180"

    wrapped = make_casia_tree("wrapped/GaitDatasetB-silh", subjects=("005",), conditions=("cl-02",), views=(36,))
    refs = CasiaB(wrapped.root.parent).index()
    assert [r.key for r in refs] == ["005-cl-02-036"]


def test_frames_are_sorted_by_number_and_other_files_ignored(make_casia_tree) -> None:
    tree = make_casia_tree(subjects=("001",), conditions=("nm-01",), views=(90,), frames=3)
    folder = tree.folder("001-nm-01-090")
    (folder / "001-nm-01-090-002.png").rename(folder / "001-nm-01-090-010.png")
    (folder / "Thumbs.db").write_bytes(b"x")
    (folder / "sub.png").mkdir()
    ref = CasiaB(tree.root).index()[0]
    assert [p.name for p in ref.files] == ["001-nm-01-090-001.png", "001-nm-01-090-003.png", "001-nm-01-090-010.png"]


def test_indexing_reads_no_pixels_and_load_reads_each_frame_once(tiny_casia, monkeypatch) -> None:
    calls: list[str] = []
    real = cv2.imread

    def counting_imread(path: str, *args: int) -> np.ndarray | None:
        calls.append(path)
        return real(path, *args)

    monkeypatch.setattr(casia.cv2, "imread", counting_imread)
    data = CasiaB(tiny_casia.root)
    refs = data.index()
    assert calls == []
    seq = data.load(refs[2])
    assert calls == [str(p) for p in refs[2].files]
    np.testing.assert_array_equal(seq.silhouettes, tiny_casia.truth[refs[2].key])
    assert (seq.key, seq.num_frames, seq.shape) == ("001-bg-01-000", 3, (32, 24))
    assert seq.frames is None and seq.background is None
    assert seq.source == refs[2].directory


def test_grey_values_above_127_are_foreground(make_casia_tree) -> None:
    tree = make_casia_tree(subjects=("001",), conditions=("nm-01",), views=(0,), frames=1)
    grey = np.array([[0, 127, 128], [255, 200, 1]], np.uint8)
    cv2.imwrite(str(tree.frame("001-nm-01-000", 1)), grey)
    seq = CasiaB(tree.root).load(CasiaB(tree.root).index()[0])
    np.testing.assert_array_equal(seq.silhouettes[0], [[False, False, True], [True, True, False]])


def test_sequences_keep_their_own_frame_size(make_casia_tree) -> None:
    tree = make_casia_tree(subjects=("001",), conditions=("nm-01",), views=(0,))
    make_casia_tree(subjects=("002",), conditions=("nm-01",), views=(0,), shape=(20, 16))
    data = CasiaB(tree.root)
    shapes = [data.load(r).shape for r in data.index()]
    assert shapes == [(32, 24), (20, 16)]


def test_colour_frames_and_background_from_videos(make_casia_tree, video_writer, tmp_path) -> None:
    tree = make_casia_tree(subjects=("001",), conditions=("nm-01",), views=(90,), frames=3)
    rng = np.random.default_rng(1)
    video = rng.integers(0, 256, (5, 32, 24, 3), dtype=np.uint8)
    video[:, 0, 0] = (255, 0, 0)  # pure red in RGB: catches a missing BGR -> RGB conversion
    scene = rng.integers(0, 256, (32, 24, 3), dtype=np.uint8)
    empty = np.repeat(scene[None], 3, axis=0)
    empty[1] = 0  # one odd frame: the temporal median ignores it
    videos = tmp_path / "videos"
    video_writer(videos / "DatasetB-1" / "001-nm-01-090.avi", video)
    video_writer(videos / "001-bkgrd-090.avi", empty)
    # silhouette frames 001, 002, 004 -> video frames 0, 1, 3
    folder = tree.folder("001-nm-01-090")
    (folder / "001-nm-01-090-003.png").rename(folder / "001-nm-01-090-004.png")

    data = CasiaB(tree.root, video_root=videos)
    ref = data.index()[0]
    seq = data.load(ref, frames=True, background=True)
    np.testing.assert_array_equal(seq.frames, video[[0, 1, 3]])
    np.testing.assert_array_equal(seq.background, scene)
    assert seq.fps == 25.0

    # the same videos beside the subject folders are found without video_root
    video_writer(tree.root / "video" / "001-nm-01-090.avi", video)
    video_writer(tree.root / "001-bkgrd-090.avi", empty)
    seq = CasiaB(tree.root).load(ref, frames=True, background=True)
    np.testing.assert_array_equal(seq.frames[2], video[3])
    np.testing.assert_array_equal(seq.background, scene)


def test_video_errors(make_casia_tree, video_writer, tmp_path) -> None:
    tree = make_casia_tree(subjects=("001",), conditions=("nm-01",), views=(90,), frames=3)
    data = CasiaB(tree.root)
    ref = data.index()[0]
    with pytest.raises(FileNotFoundError, match=r"colour video 001-nm-01-090\.avi not found in .*casia"):
        data.load(ref, frames=True)
    with pytest.raises(FileNotFoundError, match=r"background video 001-bkgrd-090\.avi not found"):
        data.load(ref, background=True)
    short = np.zeros((2, 32, 24, 3), np.uint8)
    video_writer(tree.root / "video" / "001-nm-01-090.avi", short)
    with pytest.raises(ValueError, match=r"090\.avi has 2 frames; silhouettes of 001-nm-01-090 need frames 1\.\.3"):
        CasiaB(tree.root).load(ref, frames=True)
    video_writer(tree.root / "video" / "001-bkgrd-090.avi", np.zeros((3, 16, 16, 3), np.uint8))
    with pytest.raises(ValueError, match=r"001-bkgrd-090\.avi is 16x16, silhouettes are 24x32"):
        CasiaB(tree.root).load(ref, background=True)
    junk = tmp_path / "junk.avi"
    junk.write_bytes(b"not a video at all")
    with pytest.raises(ValueError, match=r"cannot read video .*junk\.avi"):
        read_video(junk)
    with pytest.raises(FileNotFoundError, match=r"video .*nothing\.avi does not exist"):
        read_video(tmp_path / "nothing.avi")


def test_bad_frames_raise_naming_the_file(make_casia_tree, broken_png) -> None:
    tree = make_casia_tree(subjects=("001",), conditions=("nm-01",), views=(0, 18, 36))
    tree.frame("001-nm-01-000", 2).write_bytes(broken_png("truncated"))
    tree.frame("001-nm-01-018", 1).write_bytes(broken_png("empty"))
    cv2.imwrite(str(tree.frame("001-nm-01-036", 3)), np.zeros((10, 10), np.uint8))
    data = CasiaB(tree.root)
    refs = {r.key: r for r in data.index()}
    with pytest.raises(ValueError, match=r"cannot read silhouette frame .*001-nm-01-000-002\.png: corrupt, truncated"):
        data.load(refs["001-nm-01-000"])
    with pytest.raises(ValueError, match=r"001-nm-01-018-001\.png: it is empty \(0 bytes\)"):
        data.load(refs["001-nm-01-018"])
    with pytest.raises(ValueError, match=r"001-nm-01-036-003\.png is 10x10, the sequence's first frame is 24x32"):
        data.load(refs["001-nm-01-036"])


def test_root_and_selection_errors(tiny_casia, tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match=r"CASIA-B root .*nowhere does not exist"):
        CasiaB(tmp_path / "nowhere")
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileNotFoundError, match=r"CASIA-B root .*file is not a folder"):
        CasiaB(tmp_path / "file")
    (tmp_path / "emptydir" / "misc").mkdir(parents=True)
    with pytest.raises(ValueError, match=r"no CASIA-B subject folders \(001, 002, \.\.\.\) in .*emptydir"):
        CasiaB(tmp_path / "emptydir").index()
    data = CasiaB(tiny_casia.root)
    with pytest.raises(ValueError, match="unknown condition 'xx-01'"):
        data.index(conditions=["xx-01"])
    with pytest.raises(ValueError, match="unknown condition 'nm-07': CASIA-B has nm-01..06"):
        data.index(conditions=["nm-07"])
    with pytest.raises(ValueError, match="view 45 is not a CASIA-B view"):
        data.index(views=[45])
    with pytest.raises(ValueError, match="view must be an integer number of degrees, got 'side'"):
        data.index(views=["side"])
    with pytest.raises(ValueError, match="view must be in 0..359 degrees, got 400"):
        Selection.make(views=[400])
    with pytest.raises(ValueError, match="subject must be a name like '001' or a number, got ''"):
        data.index(subjects=[""])
    with pytest.raises(KeyError, match="sequence 003-nm-01-000 is not in"):
        data.ref("003-nm-01-000")
    with pytest.raises(ValueError, match="sequence name 'nm-01' is not like '001-nm-01-090'"):
        data.ref("nm-01")


def test_selection_matches_by_subject_number_and_condition_type() -> None:
    sel = Selection.make(subjects=[1, "075"], conditions=["nm", "cl-02"], views=[0, "180"])
    assert sel.matches("001", "nm-04", 0) and sel.matches("075", "cl-02", 180)
    assert not sel.matches("002", "nm-01", 0)
    assert not sel.matches("001", "cl-01", 0)
    assert not sel.matches("001", "nm-01", 90)
    assert sel.expected_conditions() == ["nm-01", "nm-02", "nm-03", "nm-04", "nm-05", "nm-06", "cl-02"]
    assert sel.expected_views() == [0, 180]


def test_registered_and_light_to_import(tiny_casia) -> None:
    assert DATASETS.get("casia-b") is CasiaB
    assert DATASETS.get("videos").__name__ == "UserVideos"
    code = "import sys, benchmark.data; print('cv2' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_iterating_loads_every_sequence(tiny_casia) -> None:
    seqs = list(CasiaB(Path(tiny_casia.root)))
    assert len(seqs) == 8
    for seq in seqs:
        np.testing.assert_array_equal(seq.silhouettes, tiny_casia.truth[seq.key])


def test_a_subject_folder_linked_into_itself_is_read_once(make_casia_tree) -> None:
    """``009/009 -> ../009`` (a link back to its own folder) is not the nested ``<root>/009/009`` layout: each
    sequence is listed once (issue 18: score counted them twice)."""
    tree = make_casia_tree("linked", subjects=("008", "009"), conditions=("nm-01",), views=(90,), frames=3)
    (tree.root / "009" / "009").symlink_to(Path("..") / "009")
    assert [r.key for r in CasiaB(tree.root).index()] == ["008-nm-01-090", "009-nm-01-090"]


def test_a_mask_saved_in_colour_reads_as_its_mask(make_casia_tree) -> None:
    """A red-on-black RGB PNG (grey value 76, below the 127 threshold) and a mask with an alpha channel read as the
    masks they show, through the reader and through the decoding cache."""
    from benchmark.data.cache import normalize_files
    from benchmark.data.casia import read_silhouette

    tree = make_casia_tree("colour", subjects=("001",), conditions=("nm-01",), views=(90,), frames=2,
                           shape=(64, 48))
    ref = CasiaB(tree.root).ref("001-nm-01-090")
    truth = read_silhouette(ref.files[0])
    red = np.zeros((*truth.shape, 3), np.uint8)
    red[truth, 2] = 255  # BGR: red
    cv2.imwrite(str(ref.files[0]), red)
    rgba = np.zeros((*truth.shape, 4), np.uint8)
    rgba[..., :3] = 255
    rgba[truth, 3] = 255  # white everywhere, opaque only on the person
    cv2.imwrite(str(ref.files[1]), rgba)
    for path in ref.files:
        np.testing.assert_array_equal(read_silhouette(path), truth)
    decoded = normalize_files(ref.files, 32, 32)
    assert decoded.shape == (2, 32, 32) and decoded[0].any()
    np.testing.assert_array_equal(decoded[0], decoded[1])


def test_a_frame_of_another_size_is_refused_or_skipped_with_a_warning(make_casia_tree) -> None:
    """A 100x100 frame in a 48x64 sequence: ``data check`` flags it, and decoding for a recognizer refuses it
    naming the file (or skips it with a warning), instead of normalising it as if it belonged."""
    from benchmark.data.cache import normalize_files

    tree = make_casia_tree("sizes", subjects=("001",), conditions=("nm-01",), views=(90,), frames=3,
                           shape=(64, 48))
    files = CasiaB(tree.root).ref("001-nm-01-090").files
    odd = np.zeros((100, 100), np.uint8)
    odd[20:80, 40:60] = 255
    cv2.imwrite(str(files[1]), odd)
    with pytest.raises(ValueError, match=rf"{files[1].name} is 100x100, the sequence's first frame is 48x64"):
        normalize_files(files, 32, 32)
    with pytest.warns(UserWarning, match=r"is 100x100.*\(skipped\)"):
        assert len(normalize_files(files, 32, 32, errors="skip")) == 2
