"""Data model, registries, atomic writes and the general CLI commands."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from benchmark import __version__
from benchmark.cli import main
from benchmark.io import atomic_open, write_json
from benchmark.registry import Registry
from benchmark.types import GaitSequence


def test_gait_sequence_validates_and_names() -> None:
    sil = np.zeros((3, 4, 5), bool)
    seq = GaitSequence("001", "nm-01", 90, sil, frames=np.zeros((3, 4, 5, 3), np.uint8))
    assert seq.key == "001-nm-01-090" and seq.num_frames == 3 and seq.shape == (4, 5)
    assert seq.condition_type == "nm"
    assert seq.replace(view=18).key == "001-nm-01-018"
    with pytest.raises(TypeError, match="silhouettes of 001-nm-01-090 must have dtype bool, got uint8"):
        GaitSequence("001", "nm-01", 90, sil.astype(np.uint8))
    with pytest.raises(ValueError, match=r"frames of 001-nm-01-090 have shape \(2, 4, 5, 3\)"):
        GaitSequence("001", "nm-01", 90, sil, frames=np.zeros((2, 4, 5, 3), np.uint8))
    with pytest.raises(ValueError, match=r"background of 001-nm-01-090 must be uint8 \(4, 5, 3\)"):
        GaitSequence("001", "nm-01", 90, sil, background=np.zeros((4, 5), np.uint8))
    with pytest.raises(ValueError, match="fps of 001-nm-01-090 must be positive, got 0"):
        GaitSequence("001", "nm-01", 90, sil, fps=0)


def test_registry_lazy_load_and_did_you_mean() -> None:
    reg = Registry("widget")
    reg.add("gaussian-blur", "os.path:join", "joins paths")
    reg.add("pixelate", "os.path:nope", "broken target")
    assert reg.names() == ["gaussian-blur", "pixelate"] and "pixelate" in reg and len(reg) == 2
    import os.path

    assert reg.get("gaussian-blur") is os.path.join
    with pytest.raises(KeyError, match="unknown widget 'gausian-blur'; did you mean 'gaussian-blur'"):
        reg.get("gausian-blur")
    with pytest.raises(ImportError, match="points to 'os.path:nope', which does not exist"):
        reg.get("pixelate")
    with pytest.raises(ValueError, match="registered twice"):
        reg.add("pixelate", "os:sep", "again")
    with pytest.raises(ValueError, match="must be 'module:attribute'"):
        reg.add("x", "os.sep", "no colon")


def test_atomic_write_leaves_nothing_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    write_json(target, {"x": 1})
    with pytest.raises(RuntimeError), atomic_open(target) as fh:
        fh.write("half")
        raise RuntimeError("killed")
    assert json.loads(target.read_text()) == {"x": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_cli_version_ls_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    assert __version__ in capsys.readouterr().out
    assert main(["ls"]) == 0
    out = capsys.readouterr().out
    for kind in ("anonymizers:", "datasets:", "recognizers:", "scorers:"):
        assert kind in out
    assert "casia-b" in out
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "demo" in capsys.readouterr().out


def test_ls_imports_no_torch() -> None:
    code = (
        "import sys; from benchmark.cli import main; main(['ls']); "
        "print('torch' in sys.modules, 'cv2' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "False False"


def test_demo_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--out", str(tmp_path), "--frames", "20", "--seed", "1"]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["frames"] == 20
    assert 0.85 <= summary["round_trip_iou_min"] <= summary["round_trip_iou_mean"] <= 1.0
    assert summary["round_trip_exact_frames"] >= 5
    assert summary["changed_pixels_per_frame"] > 100 and summary["gei_l1_distance"] > 0.005
    strip = cv2.imread(str(tmp_path / "frames.png"))
    assert strip.shape == (3 * 240, 5 * 320, 3)
    with pytest.raises(SystemExit) as exit_:
        main(["demo", "--out", str(tmp_path), "--frames", "0"])
    assert exit_.value.code == 2
    assert "argument --frames: expected a positive integer, got 0" in capsys.readouterr().err


def test_atomic_files_get_the_mode_of_a_plain_write(tmp_path: Path) -> None:
    """Not mkstemp's 0600: a clip or table written atomically is as readable as one written with open()."""
    from benchmark.io import atomic_open

    with atomic_open(tmp_path / "a.txt") as fh:
        fh.write("x")
    with open(tmp_path / "b.txt", "w") as fh:
        fh.write("x")
    assert (tmp_path / "a.txt").read_text() == "x"
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == (tmp_path / "b.txt").stat().st_mode & 0o777
