"""Anonymizing a dataset (benchmark.anonymized), its commands (benchmark.cli.anonymize), strips (benchmark.strips)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np
import pytest

from benchmark.anonymized import anonymize_dataset
from benchmark.anonymizer import Anonymizer
from benchmark.cli import main
from benchmark.data.casia import CasiaB
from benchmark.registry import ANONYMIZERS, Entry
from benchmark.strips import XOR_COLOURS, frame_strips, person_box, xor_strip
from benchmark.synth.world import write_video
from benchmark.types import GaitSequence

SUBJECTS = ("001", "002", "003", "004", "005")
SHAPE = (48, 64)
FRAMES = 6


@dataclasses.dataclass(frozen=True)
class ShiftConfig:
    shift: int = 2


class Shift(Anonymizer):
    """Moves the silhouette ``shift`` px to the right and inverts the colours; records every call."""

    name = "test-shift"
    Config = ShiftConfig
    calls: ClassVar[list[str]] = []

    def parameters(self) -> str:
        return f"shift={self.config.shift}"

    def _anonymize(self, seq: GaitSequence, rng: np.random.Generator) -> GaitSequence:
        Shift.calls.append(seq.key)
        frames = None if seq.frames is None else 255 - seq.frames
        return seq.replace(silhouettes=np.roll(seq.silhouettes, self.config.shift, axis=2), frames=frames)


class TrainedShift(Shift):
    """The same method, declared as trained (so it needs a checkpoint)."""

    name = "test-trained"
    trainable = True


@pytest.fixture(autouse=True)
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    # The registry is global: entries are added for this test only.
    for name, cls in (("test-shift", "Shift"), ("test-trained", "TrainedShift")):
        trainable = cls == "TrainedShift"
        entry = Entry(name, f"{__name__}:{cls}", "test method", {"trainable": trainable})
        monkeypatch.setitem(ANONYMIZERS._entries, name, entry)
    Shift.calls.clear()


def test_declared_metadata_must_agree_with_the_class(monkeypatch: pytest.MonkeyPatch) -> None:
    """A declaration (read without importing, e.g. by ``gaitbench ls``) that contradicts its class is refused
    when the class is first loaded, naming both values."""
    entry = Entry("test-liar", f"{__name__}:Shift", "test method", {"trainable": True})
    monkeypatch.setitem(ANONYMIZERS._entries, "test-liar", entry)
    with pytest.raises(TypeError, match=r"'test-liar' .* is declared with trainable=True but its class says False"):
        ANONYMIZERS.get("test-liar")


@pytest.fixture
def source(make_casia_tree) -> Path:
    """5 subjects x (nm-05, nm-06) x (0, 90) x 6 frames of 48x64, with colour and background videos."""
    tree = make_casia_tree("casia", subjects=SUBJECTS, conditions=("nm-05", "nm-06"), views=(0, 90),
                            frames=FRAMES, shape=SHAPE)
    for view in (0, 90):
        scene = np.zeros((*SHAPE, 3), np.uint8)
        scene[..., 1] = np.linspace(40, 200, SHAPE[1], dtype=np.uint8)[None, :]
        scene[..., 2] = view
        for subject in SUBJECTS:
            write_video(tree.root / "videos" / f"{subject}-bkgrd-{view:03d}.avi", np.repeat(scene[None], 3, axis=0))
        for key, masks in tree.truth.items():
            if key.endswith(f"{view:03d}"):
                frames = np.repeat(scene[None], FRAMES, axis=0)
                frames[masks] = (200, 60, 60)
                write_video(tree.root / "videos" / f"{key}.avi", frames)
    return tree.root


def test_output_reads_back_as_a_dataset_with_frames_and_background(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "anon"
    record = anonymize_dataset(Shift(), source, out, subjects=["001", "002"], seed=3, progress=False)
    assert (record["method"], record["parameters"], record["seed"]) == ("test-shift", "shift=2", 3)
    assert (record["sequences"], record["frames"], record["written_sequences"]) == (8, 48, 8)
    assert json.loads((out / "anonymization.json").read_text())["frames"] == 48
    assert not (out / "anonymization.partial.json").exists()
    src, dst = CasiaB(source), CasiaB(out)
    keys = [r.key for r in dst.index()]
    assert keys == [r.key for r in src.index(subjects=["001", "002"])]
    for key in keys:
        a = src.load(src.ref(key), frames=True, background=True)
        b = dst.load(dst.ref(key), frames=True, background=True)
        assert b.num_frames == FRAMES
        np.testing.assert_array_equal(b.silhouettes, np.roll(a.silhouettes, 2, axis=2))  # PNG is lossless
        # Colour went through Motion-JPEG twice: inverted up to compression error.
        assert np.abs(b.frames.astype(int) - (255 - a.frames.astype(int))).mean() < 4  # type: ignore[union-attr]
        np.testing.assert_array_equal(b.background, a.background)  # the same file, linked or copied


def test_rerun_skips_finished_sequences(source: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "anon"
    anonymize_dataset(Shift(), source, out, subjects=["001"], progress=False)
    assert len(Shift.calls) == 4
    Shift.calls.clear()
    assert anonymize_dataset(Shift(), source, out, subjects=["001"])["written_sequences"] == 0
    assert Shift.calls == []
    assert "[anonymize] test-shift: 4/4 sequences (0 anonymized now)" in capsys.readouterr().err
    shutil.rmtree(out / "silhouettes" / "001" / "nm-06" / "090")
    (out / "videos" / "001-nm-05-000.avi").unlink()
    anonymize_dataset(Shift(), source, out, subjects=["001"], progress=False)
    assert Shift.calls == ["001-nm-05-000", "001-nm-06-090"]


def test_output_of_another_anonymization_is_refused(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "anon"
    anonymize_dataset(Shift(), source, out, subjects=["001"], views=[0], progress=False)
    with pytest.raises(ValueError, match=r"anonymization.json: seed = 0, this run: 1"):
        anonymize_dataset(Shift(), source, out, subjects=["001"], seed=1, progress=False)
    with pytest.raises(ValueError, match=r"parameters = 'shift=2', this run: 'shift=3'"):
        anonymize_dataset(Shift(ShiftConfig(3)), source, out, subjects=["001"], progress=False)
    assert len(Shift.calls) == 2


def test_a_corrupt_frame_names_the_sequence_and_file(source: Path, tmp_path: Path) -> None:
    bad = source / "002" / "nm-06" / "000" / "002-nm-06-000-004.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(ValueError, match=r"sequence 002-nm-06-000 .*002-nm-06-000-004.png.*corrupt"):
        anonymize_dataset(Shift(), source, tmp_path / "anon", subjects=["002"], progress=False)
    # The interrupted run left its identity behind: another seed may not continue it.
    with pytest.raises(ValueError, match=r"anonymization.partial.json: seed = 0, this run: 7"):
        anonymize_dataset(Shift(), source, tmp_path / "anon", subjects=["002"], seed=7, progress=False)


def test_cli_anonymizes_the_protocol_test_group(source: Path, tmp_path: Path, capsys) -> None:
    config = tmp_path / "shift.toml"
    config.write_text("shift = 5\n")
    out = tmp_path / "anon"
    assert main(["anonymize", "test-shift", "--data", str(source), "--out", str(out), "--config", str(config),
                 "--quiet", "--device", "cpu"]) == 0
    # paper protocol on 5 subjects: one per group, the last one (005) is the test group; probes nm-05/06.
    assert [r.key for r in CasiaB(out).index()] == ["005-nm-05-000", "005-nm-05-090", "005-nm-06-000",
                                                    "005-nm-06-090"]
    seq = CasiaB(out).load(CasiaB(out).ref("005-nm-06-090"))
    truth = CasiaB(source).load(CasiaB(source).ref("005-nm-06-090"))
    np.testing.assert_array_equal(seq.silhouettes, np.roll(truth.silhouettes, 5, axis=2))
    assert "anonymized 4 sequences (24 frames; 4 written now" in capsys.readouterr().out


def test_cli_checkpoints(source: Path, tmp_path: Path, capsys) -> None:
    assert main(["anonymize", "test-trained", "--data", str(source), "--out", str(tmp_path / "a")]) == 2
    assert "test-trained is trainable: pass a checkpoint from `gaitbench train anonymizer test-trained`" in (
        capsys.readouterr().err)
    ckpt = Shift(ShiftConfig(1)).save(tmp_path / "shift.npz")
    assert main(["anonymize", "test-trained", "--ckpt", str(ckpt), "--data", str(source), "--out",
                 str(tmp_path / "a")]) == 2
    assert "holds anonymizer 'test-shift', not 'test-trained'" in capsys.readouterr().err
    assert main(["anonymize", "test-shift", "--ckpt", str(ckpt), "--data", str(source), "--out",
                 str(tmp_path / "a"), "--subjects", "003", "--conditions", "nm-05", "--views", "90", "--quiet"]) == 0
    record = json.loads((tmp_path / "a" / "anonymization.json").read_text())
    assert record["checkpoint_sha256"] == hashlib.sha256(ckpt.read_bytes()).hexdigest()
    assert (record["sequences"], record["parameters"], Shift.calls) == (1, "shift=1", ["003-nm-05-090"])


def test_cli_train_anonymizer_passes_the_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys) -> None:
    seen: dict[str, object] = {}

    def train_anonymizer(name, data, out, **kwargs):
        seen.update(name=name, data=data, out=out, **kwargs)
        anon = Shift(kwargs["config"])
        anon.training = {"epochs": 7, "seconds": 1.25}
        return anon

    monkeypatch.setattr("benchmark.steps.train_anonymizer", train_anonymizer)  # the real one trains for real
    argv = ["train", "anonymizer", "test-shift", "--data", "d", "--out", "c.npz", "--workers", "2", "--quiet"]
    assert main([*argv, "--set", "alpha=0.3"]) == 2
    assert "unknown key 'alpha'" in capsys.readouterr().err
    assert main([*argv, "--set", "shift=7"]) == 0
    assert seen["config"] == ShiftConfig(shift=7)
    assert main([*argv, "--set", "shift=7", "--set", "shift=8"]) == 2
    assert "--set shift is given twice" in capsys.readouterr().err
    assert main(argv) == 0
    assert seen == {"name": "test-shift", "data": "d", "out": "c.npz", "protocol": "paper", "config": ShiftConfig(),
                    "device": "auto", "workers": 2, "progress": False}
    assert "trained test-shift: 7 epochs, training 1.2 s" in capsys.readouterr().out


def test_xor_strip_colours() -> None:
    # Hand-made 1-frame 4x4 case: rows are (both, original only, anonymized only, neither).
    a = np.array([[1, 1, 0, 0]] * 2 + [[0, 0, 0, 0]] * 2, bool)[None]
    b = np.array([[1, 0, 1, 0]] * 2 + [[0, 0, 0, 0]] * 2, bool)[None]
    img = xor_strip(GaitSequence("001", "nm-05", 90, a), GaitSequence("001", "nm-05", 90, b), n=1, crop=False)
    w, r, u, k = (255, 255, 255), (255, 0, 0), (0, 160, 255), (0, 0, 0)
    expected = np.array([[w, r, u, k], [w, r, u, k], [k, k, k, k], [k, k, k, k]], np.uint8)
    np.testing.assert_array_equal(img, expected)
    assert XOR_COLOURS["anonymized"] == u


def test_person_box_by_hand() -> None:
    mask = np.zeros((100, 80), bool)
    mask[20:60, 30:40] = True  # rows 20..59, cols 30..39: height 40 -> pad 4 -> 48 high, 24 wide about (40, 35)
    assert person_box([mask]) == (16, 64, 23, 47)
    wide = np.zeros((100, 80), bool)
    wide[50:60, 0:60] = True  # 10 x 60: width 60 + 2 * 1 -> height 124, cut to the frame: 100 x 62, shifted inside
    assert person_box([wide]) == (0, 100, 0, 62)
    assert person_box([np.zeros((5, 5), bool)]) is None


def test_frame_strips_size_and_content(source: Path) -> None:
    data = CasiaB(source)
    colour = data.load(data.ref("001-nm-05-090"), frames=True)
    plain = data.load(data.ref("002-nm-05-090"))
    img = frame_strips([("original", colour), ("b", colour), ("c", colour)], n=5, crop=False)
    assert img.shape == (3 * 48, 120 + 5 * 64, 3) and img.dtype == np.uint8
    np.testing.assert_array_equal(img[48:96, 120 + 4 * 64 :], colour.frames[5])  # type: ignore[index]
    img = frame_strips([("original", colour), ("silhouettes", plain)], frames=[1, 3], crop=False)
    assert img.shape == (96, 120 + 2 * 64, 3)
    np.testing.assert_array_equal(img[48:, 120 + 64 :, 0], plain.silhouettes[3] * np.uint8(255))
    assert (img[:48, :120] > 128).sum() > 30 and img[48:, :120].max() > 128  # both labels were drawn


def test_cli_strips(source: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "anon"
    anonymize_dataset(Shift(), source, out, subjects=["005"], views=[90], progress=False)
    png, xor = tmp_path / "fig" / "strips.png", tmp_path / "xor.png"
    argv = ["strips", "--original", str(source), "--anonymized", f"shift={out}", "--key", "005-nm-05-090",
            "--out", str(png), "--xor", str(xor), "--frames", "3"]
    assert main(argv) == 0
    assert np.asarray(cv2.imread(str(png))).shape == (2 * 48, 120 + 3 * 24, 3)  # cropped tiles: H x H/2
    bgr = np.asarray(cv2.imread(str(xor)))
    assert bgr.shape == (48, 3 * 24, 3)
    red, blue = np.all(bgr == (0, 0, 255), axis=2), np.all(bgr == (255, 160, 0), axis=2)
    assert red.any() and blue.any()  # the silhouettes moved 2 px: a red and a blue edge
    argv[argv.index("005-nm-05-090")] = "005-nm-05-000"
    assert main(argv) == 2
    assert f"dataset {out} has no sequence 005-nm-05-000" in capsys.readouterr().err


def test_cli_refuses_an_anonymizer_trained_on_test_subjects(source: Path, tmp_path: Path, capsys) -> None:
    # paper protocol on 5 subjects: 005 is the test group. A checkpoint that records training on 004 is fine,
    # one that records 005 is refused before anything is written.
    for trained_on, status in ((["004"], 0), (["003", "005"], 2)):
        anon = Shift(ShiftConfig(1))
        anon.training = {"root": str(source), "subjects": trained_on}
        ckpt = anon.save(tmp_path / f"shift-{status}.npz")
        out = tmp_path / f"out-{status}"
        assert main(["anonymize", "test-shift", "--ckpt", str(ckpt), "--data", str(source), "--out", str(out),
                     "--quiet"]) == status
    err = capsys.readouterr().err
    assert f"anonymizer test-shift ({tmp_path / 'shift-2.npz'}) was trained on test subjects ['005']" in err
    assert not (tmp_path / "out-2").exists()


def test_strip_labels_wrap_to_the_margin() -> None:
    from benchmark.strips import LABEL_WIDTH, label_lines, label_margin

    def width(text: str) -> int:
        return cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1)[0][0]

    assert label_lines("original") == ["original"]
    assert label_lines("noise-gait beta=0.3") == ["noise-gait", "beta=0.3"]  # too wide on one line, broken at the space
    for label in ("alpha=0;noise_motion=donor", "noise-gait[beta=0.3;seed=0]", "x" * 40):
        lines = label_lines(label)
        assert len(lines) > 1 and all(width(line) <= LABEL_WIDTH - 8 for line in lines)
        assert "".join(lines).replace(" ", "") == label.replace(" ", "")  # nothing lost, nothing added
    assert label_lines("noise-gait[beta=0.3;seed=0]")[0] == "noise-gait"  # broken before "["
    margin = label_margin("alpha=0;noise_motion=donor", 128)
    assert margin.shape == (128, LABEL_WIDTH, 3)
    lit = np.flatnonzero(margin.any(axis=(1, 2)))
    # three lines 16 px apart, centred: text from about 64 - 16 - 10 to 64 + 16 + 5
    assert 30 <= lit.min() and lit.max() <= 90 and lit.max() - lit.min() > 32
    assert not margin[:, LABEL_WIDTH - 3:].any()  # nothing runs off the margin
