"""``gaitbench data check``: a tiny tree with deliberately broken files, counted by hand."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from benchmark.cli import main
from benchmark.data.check import check_tree, png_problem

SELECT = ["--conditions", "nm-01,nm-02", "--views", "0,90"]


@pytest.fixture
def broken_tree(make_casia_tree, broken_png):
    """2 subjects x (nm-01, nm-02) x (000, 090) x 3 frames, broken as listed in ``EXPECTED``."""
    tree = make_casia_tree(conditions=("nm-01", "nm-02"), views=(0, 90), frames=3)
    tree.frame("001-nm-01-000", 2).write_bytes(broken_png("truncated"))
    tree.frame("001-nm-01-090", 1).write_bytes(broken_png("empty"))
    for n in (1, 2, 3):
        cv2.imwrite(str(tree.frame("001-nm-02-000", n)), np.zeros((32, 24), np.uint8))
    cv2.imwrite(str(tree.frame("001-nm-02-090", 3)), np.full((10, 10), 255, np.uint8))
    shutil.rmtree(tree.folder("002-nm-01-000"))
    tree.frame("002-nm-01-090", 3).write_bytes(broken_png("junk"))
    few = np.zeros((32, 24), np.uint8)
    few[10:15, 10:17] = 255  # 35 foreground pixels: an empty frame
    cv2.imwrite(str(tree.frame("002-nm-02-000", 1)), few)
    tree.frame("002-nm-02-000", 3).rename(tree.frame("002-nm-02-000", 4))  # frame 3 missing
    tree.frame("002-nm-02-090", 2).write_bytes(broken_png("crc"))
    return tree


# key: (status, frames, empty_frames, corrupt_frames, missing_frames, problem contains)
EXPECTED = {
    "001-nm-01-000": ("corrupt", 3, 0, 1, 0, "001-nm-01-000-002.png: truncated in chunk"),
    "001-nm-01-090": ("corrupt", 3, 0, 1, 0, "001-nm-01-090-001.png: zero-byte file"),
    "001-nm-02-000": ("empty", 3, 3, 0, 0, "all 3 frames have < 40 foreground pixels"),
    "001-nm-02-090": ("corrupt", 3, 0, 1, 0, "001-nm-02-090-003.png: size 10x10, the sequence's frames are 24x32"),
    "002-nm-01-000": ("missing", 0, 0, 0, 0, "no folder"),
    "002-nm-01-090": ("corrupt", 3, 0, 1, 0, "002-nm-01-090-003.png: not a PNG file (starts with b'this is "),
    "002-nm-02-000": ("present", 3, 1, 0, 1, ""),
    "002-nm-02-090": ("corrupt", 3, 0, 1, 0, "002-nm-02-090-002.png: CRC error in chunk IDAT"),
}


def read_csv(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return {f"{r['subject']}-{r['condition']}-{r['view']}": r for r in csv.DictReader(fh)}


def test_check_counts_every_kind_of_damage(broken_tree, tmp_path, capsys) -> None:
    out_csv = tmp_path / "check.csv"
    code = main(["data", "check", str(broken_tree.root), *SELECT, "--csv", str(out_csv), "--workers", "2"])
    text = capsys.readouterr().out
    assert code == 1
    rows = read_csv(out_csv)
    assert set(rows) == set(EXPECTED)
    for key, (status, frames, empty, corrupt, missing, problem) in EXPECTED.items():
        row = rows[key]
        assert (row["status"], int(row["frames"]), int(row["empty_frames"])) == (status, frames, empty), key
        assert (int(row["corrupt_frames"]), int(row["missing_frames"])) == (corrupt, missing), key
        assert problem in row["problem"], (key, row["problem"])
    lines = text.splitlines()
    by_subject = lines[lines.index("by subject:") + 1 : lines.index("by subject:") + 5]
    assert by_subject[0].split() == [
        "subject", "sequences", "present", "missing", "empty", "corrupt",
        "frames", "empty_frames", "corrupt_frames", "missing_frames",
    ]  # fmt: skip
    assert by_subject[1].split() == ["001", "4", "0", "0", "1", "3", "12", "3", "3", "0"]
    assert by_subject[2].split() == ["002", "4", "1", "1", "0", "2", "9", "1", "2", "1"]
    assert by_subject[3].split() == ["total", "8", "1", "1", "1", "5", "21", "4", "5", "1"]
    by_view = lines[lines.index("by view:") + 1 : lines.index("by view:") + 4]
    assert by_view[1].split()[:6] == ["000", "4", "1", "1", "1", "1"]
    assert "NOT usable: 87.5% of 8 sequences missing, empty or corrupt, more than the 10% allowed" in text
    assert "problems (7 of 7 shown):" in text


def test_check_exit_status_follows_the_allowed_fraction(broken_tree, capsys) -> None:
    assert main(["data", "check", str(broken_tree.root), *SELECT, "--max-bad", "0.9"]) == 0
    assert "usable: 87.5% of 8 sequences" in capsys.readouterr().out


def test_a_clean_tree_is_usable_and_the_default_grid_is_casia_b(tiny_casia, capsys) -> None:
    assert main(["data", "check", str(tiny_casia.root), "--conditions", "nm-01,bg-01", "--views", "0,90"]) == 0
    assert "usable: 0.0% of 8 sequences" in capsys.readouterr().out
    report = check_tree(tiny_casia.root, workers=1)
    assert len(report.sequences) == 2 * 10 * 11
    assert report.count("present") == 8 and report.count("missing") == 212
    assert not report.usable
    assert [r["condition"] for r in report.summary("condition")][:3] == ["nm-01", "nm-02", "nm-03"]
    assert [r["view"] for r in report.summary("view")][:3] == ["000", "018", "036"]


def test_subjects_named_but_absent_are_missing(tiny_casia) -> None:
    report = check_tree(tiny_casia.root, subjects=["002", "003"], conditions=["nm-01"], views=[0], workers=1)
    assert [(s.key, s.status) for s in report.sequences] == [("002-nm-01-000", "present"), ("003-nm-01-000", "missing")]


def test_sequences_outside_the_grid_are_reported(make_casia_tree) -> None:
    tree = make_casia_tree(subjects=("001",), conditions=("nm-07",), views=(45,), frames=1)
    report = check_tree(tree.root, workers=1)
    assert "001-nm-07-045" in {s.key for s in report.sequences}
    assert len(report.sequences) == 111


def test_unreadable_folders_are_corrupt_not_fatal(make_casia_tree, monkeypatch) -> None:
    tree = make_casia_tree(conditions=("nm-01",), views=(0, 90), frames=1)
    locked = {tree.root / "002", tree.folder("001-nm-01-090")}
    real = os.scandir

    def scandir(path):  # chmod cannot lock out root, so the error is simulated
        if Path(path) in locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    report = check_tree(tree.root, conditions=["nm-01"], views=[0, 90], workers=1)
    status = {s.key: (s.status, s.problem) for s in report.sequences}
    assert status["001-nm-01-000"] == ("present", "")
    assert status["001-nm-01-090"][0] == "corrupt" and "Permission denied" in status["001-nm-01-090"][1]
    assert status["002-nm-01-000"][0] == "corrupt" and "cannot list" in status["002-nm-01-000"][1]


def test_missing_root_exits_2_with_a_message(tmp_path, capsys) -> None:
    assert main(["data", "check", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert "error: CASIA-B root" in err and "nope does not exist" in err


def test_a_root_without_sequences_exits_1(tmp_path, capsys) -> None:
    (tmp_path / "random").mkdir()
    assert main(["data", "check", str(tmp_path)]) == 1
    assert "NOT usable: no CASIA-B sequences" in capsys.readouterr().out


def test_all_empty_tree_is_not_usable(make_casia_tree, capsys) -> None:
    tree = make_casia_tree(subjects=("001",), conditions=("nm-01",), views=(0,), frames=2)
    for n in (1, 2):
        cv2.imwrite(str(tree.frame("001-nm-01-000", n)), np.zeros((32, 24), np.uint8))
    assert main(["data", "check", str(tree.root), "--conditions", "nm-01", "--views", "0"]) == 1
    assert "NOT usable: no sequence is readable" in capsys.readouterr().out


def test_bad_options_exit_2(tiny_casia, capsys) -> None:
    assert main(["data", "check", str(tiny_casia.root), "--conditions", "zz-01"]) == 2
    assert "unknown condition 'zz-01'" in capsys.readouterr().err
    assert main(["data", "check", str(tiny_casia.root), "--max-bad", "1.5"]) == 2
    assert "max_bad_fraction must be in [0, 1], got 1.5" in capsys.readouterr().err


def test_png_problem_literals(broken_png) -> None:
    ok, buf = cv2.imencode(".png", np.zeros((4, 4), np.uint8))
    good = buf.tobytes()
    assert png_problem(good) is None
    assert png_problem(b"") == "zero-byte file"
    assert png_problem(b"GIF89a\x01\x00") == "not a PNG file (starts with b'GIF89a\\x01\\x00')"
    assert png_problem(good[:-12]) == f"truncated: no IEND chunk ({len(good) - 12} bytes)"
    assert png_problem(good[:-3]).startswith("truncated in chunk IEND")
    assert png_problem(broken_png("crc")).startswith("CRC error in chunk IDAT")


def test_a_stray_empty_subject_folder_is_reported_not_counted_as_missing(tiny_casia, capsys) -> None:
    """An empty folder named like a subject (``010/``) used to add 110 "missing" sequences and flip a clean tree to
    NOT usable; it is now named in the report and left out of the grid (issue 18)."""
    (tiny_casia.root / "010").mkdir()
    report = check_tree(tiny_casia.root, conditions=["nm-01", "bg-01"], views=[0, 90], workers=1)
    assert report.usable and report.count("missing") == 0
    assert "subject folder 010 holds no condition folder (left out of the grid)" in report.format()
