"""``gaitbench score`` (benchmark.cli.score): scorer rows per view, realism rows against an original, errors."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from benchmark.cli import main
from benchmark.data.casia import write_silhouettes
from benchmark.recognizer import FitOptions, Recognizer
from benchmark.registry import RECOGNIZERS, SCORERS, Entry
from benchmark.results import read_csv
from benchmark.scorers.base import Scorer
from benchmark.scorers.realism import frechet_distance
from benchmark.sequences import Embedding, Sequences, load_sequences
from benchmark.stats import t_interval
from benchmark.synth.world import silhouette_root
from recognizers.linear import pairwise_euclidean

SUBJECTS = ("001", "002", "003")
# Student-t quantiles t_{0.975, df} (any t table: 12.706, 4.303, 3.182, 2.571 for df = 1, 2, 3, 5).
T975 = {1: 12.706204736174698, 2: 4.302652729749464, 3: 3.182446305284263, 5: 2.570581835636314}


# ------------------------------------------------------------------------------------------------- test plug-ins


@dataclasses.dataclass(frozen=True)
class BrightConfig:
    scale: float = 1.0


class Bright(Scorer):
    """Frame scorer: each frame's mean brightness / 255 (times ``scale``)."""

    name = "test-bright"
    level = "frame"
    Config = BrightConfig

    @property
    def label(self) -> str:
        return f"mean brightness / 255 x {self.config.scale}"

    def score_frames(self, frames: np.ndarray, silhouettes: np.ndarray | None = None) -> np.ndarray:
        return frames.mean(axis=(1, 2, 3)) / 255 * self.config.scale


class Clip(Bright):
    """Video scorer: one score per clip, half its mean brightness / 255."""

    name = "test-clip"
    level = "video"

    def score_frames(self, frames: np.ndarray, silhouettes: np.ndarray | None = None) -> np.ndarray:
        return np.array([frames.mean() / 510])


@dataclasses.dataclass(frozen=True)
class MeanConfig:
    height: int = 32
    width: int = 22


class MeanGEI(Recognizer):
    """Embeds a GEI as (mean of its pixels, mean of its upper half): a 2-D embedding."""

    name = "test-mean"
    Config = MeanConfig
    input_kind = "gei"

    def _fit(self, train: Sequences, options: FitOptions) -> dict[str, Any]:
        return {}

    def embed(self, data: Sequences) -> Embedding:
        geis = data.geis()
        return Embedding(np.stack([geis.mean(axis=(1, 2)), geis[:, :16].mean(axis=(1, 2))], axis=1),
                         data.views.copy())

    def compare(self, gallery: Embedding, probes: Embedding) -> np.ndarray:
        return pairwise_euclidean(gallery.features, probes.features)

    def state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return {}, {}

    def set_state(self, arrays: Mapping[str, np.ndarray], extra: Mapping[str, Any]) -> None:
        pass


@pytest.fixture(autouse=True)
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    # The registries are global: entries are added for this test only.
    for cls in (Bright, Clip):
        entry = Entry(cls.name, f"{__name__}:{cls.__name__}", "test scorer", {"level": cls.level, "offline": True})
        monkeypatch.setitem(SCORERS._entries, cls.name, entry)
    monkeypatch.setitem(RECOGNIZERS._entries, "test-mean", Entry("test-mean", f"{__name__}:MeanGEI", "test", {}))


# ------------------------------------------------------------------------------------------------- trees


def grey(key: str) -> int:
    """The constant grey level of a sequence's colour video: 100 + 10 x subject + 30 at view 90 + 60 for bg."""
    subject, kind, _, view = key.split("-")
    return 100 + 10 * SUBJECTS.index(subject) + 30 * (view == "090") + 60 * (kind == "bg")


@pytest.fixture
def coloured(make_casia_tree, video_writer) -> Path:
    """3 subjects x (nm-05, bg-01) x (0, 90) x 3 frames of 48x32, each with a lossless constant-grey video."""
    tree = make_casia_tree("casia", subjects=SUBJECTS, conditions=("nm-05", "bg-01"), views=(0, 90), frames=3,
                           shape=(48, 32))
    for key in tree.truth:
        video_writer(tree.root / "videos" / f"{key}.avi", np.full((3, 48, 32, 3), grey(key), np.uint8))
    return tree.root


def test_t_interval_by_hand() -> None:
    # (1, 2, 3): mean 2, s = 1, so 2 +- t_{.975, 2} / sqrt(3).
    half = T975[2] / math.sqrt(3)
    assert t_interval([1.0, 2.0, 3.0]) == pytest.approx((2 - half, 2 + half), rel=1e-12)
    assert t_interval([1.0, 2.0, 3.0], bounds=(0.0, 1.0)) == pytest.approx((0.0, 1.0))
    assert t_interval([0.4, 0.4]) == (0.4, 0.4)
    assert all(math.isnan(x) for x in t_interval([0.5])) and all(math.isnan(x) for x in t_interval([]))
    with pytest.raises(ValueError, match="finite"):
        t_interval([1.0, math.inf])


# ------------------------------------------------------------------------------------------------- scorers


def test_cli_writes_scorer_rows_per_condition_and_view(coloured: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "res" / "scores.csv"
    assert main(["score", "--data", str(coloured), "--scorer", "test-bright", "--scorer", "test-clip",
                 "--subjects", "001-003", "--conditions", "nm-05,bg", "--views", "0,90", "--out", str(out),
                 "--device", "cpu", "--quiet"]) == 0
    frame = read_csv(out)
    assert set(frame["method"]) == {"identity"} and set(frame["parameters"]) == {""} and set(frame["k"]) == {0}
    assert len(frame) == 2 * (2 * 3 + 1)  # scorers x (conditions x (0, 90, all views) + every sequence)
    bright = frame[frame["evaluator"] == "test-bright"].set_index(["condition", "view"])
    assert set(bright["metric"]) == {"frame_score"}
    assert set(frame.loc[frame["evaluator"] == "test-clip", "metric"]) == {"video_score"}
    for kind, condition in (("nm", "nm-05"), ("bg", "bg-01")):
        for view in (0, 90, -1):
            views = (0, 90) if view == -1 else (view,)
            values = [grey(f"{s}-{condition}-{v:03d}") / 255 for s in SUBJECTS for v in views]
            row = bright.loc[(kind, view)]
            half = T975[len(values) - 1] * float(np.std(values, ddof=1)) / math.sqrt(len(values))
            assert row["n"] == len(values)
            assert row["value"] == pytest.approx(np.mean(values), abs=1e-6)  # the CSV keeps 6 digits
            assert (row["ci_low"], row["ci_high"]) == pytest.approx((np.mean(values) - half, np.mean(values) + half),
                                                                    abs=1e-5)
    # Every sequence (3 subjects x 2 conditions x 2 views): their plain mean.
    values = [grey(f"{s}-{c}-{v:03d}") / 255 for s in SUBJECTS for c in ("nm-05", "bg-01") for v in (0, 90)]
    assert bright.loc[("all", -1), "n"] == 12
    assert bright.loc[("all", -1), "value"] == pytest.approx(np.mean(values), abs=1e-6)
    # nm at view 0: greys 100, 110, 120 -> 110 / 255; the clip scorer gives half of it.
    clip = frame[frame["evaluator"] == "test-clip"].set_index(["condition", "view"])
    assert clip.loc[("nm", 0), "value"] == pytest.approx(55 / 255, abs=1e-6) and clip.loc[("nm", 0), "n"] == 3
    record = json.loads((tmp_path / "res" / "scores.run.json").read_text())
    assert record["method"] == "identity" and record["sequences"] == 12
    assert [s["label"] for s in record["scorers"]] == ["mean brightness / 255 x 1.0"] * 2
    printed = capsys.readouterr().out
    assert "scores by view, data: identity" in printed and "frame_score" in printed and "0.4314" in printed


def test_cli_scorer_config_and_method_override(coloured: Path, tmp_path: Path) -> None:
    config = tmp_path / "bright.toml"
    config.write_text("scale = 0.5\n")
    out = tmp_path / "scores.csv"
    assert main(["score", "--data", str(coloured), "--scorer", "test-bright", "--scorer-config",
                 f"test-bright={config}", "--subjects", "002", "--conditions", "nm", "--views", "90",
                 "--method", "blur", "--parameters", "sigma=2", "--out", str(out), "--device", "cpu",
                 "--quiet"]) == 0
    frame = read_csv(out).set_index("view")
    assert frame.loc[90, "value"] == pytest.approx(140 / 255 / 2, abs=1e-6)  # grey 100 + 10 + 30, scale 0.5
    assert frame.loc[90, "n"] == 1 and math.isnan(frame.loc[90, "ci_low"])  # one sequence: no interval
    assert (frame.loc[90, "method"], frame.loc[90, "parameters"]) == ("blur", "sigma=2")


def test_cli_errors_before_scoring(coloured: Path, make_casia_tree, tmp_path: Path, capsys) -> None:
    out = str(tmp_path / "s.csv")
    assert main(["score", "--data", str(coloured), "--scorer", "test-brigth", "--out", out]) == 2
    assert "unknown scorer 'test-brigth'; did you mean 'test-bright'" in capsys.readouterr().err
    plain = make_casia_tree("plain", subjects=SUBJECTS)  # silhouettes only
    assert main(["score", "--data", str(plain.root), "--scorer", "test-bright", "--subjects", "001-003",
                 "--views", "0", "--conditions", "nm", "--out", out]) == 2
    err = capsys.readouterr().err
    assert f"dataset {plain.root} has no colour video for 3 of the 3 selected sequences" in err
    assert "test-bright need colour frames" in err
    assert main(["score", "--data", str(coloured), "--out", out]) == 2
    assert "nothing to score" in capsys.readouterr().err
    assert not Path(out).exists()


# ------------------------------------------------------------------------------------------------- realism

# 4x4 masks: A = columns 0-1, B = columns 1-2, C = columns 0-2. IoU(A, C) = 2/3, IoU(A, B) = 1/3.
A = np.array([[1, 1, 0, 0]] * 4, bool)
B = np.array([[0, 1, 1, 0]] * 4, bool)
C = np.array([[1, 1, 1, 0]] * 4, bool)


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    """An original tree (every sequence A, A, C: mean change 1/6) and an anonymized one in the world layout."""
    original, anonymized = tmp_path / "orig", tmp_path / "anon"
    # Anonymized changes: A, C, A -> 1/3 (ratio 2); A, B, A -> 2/3 (ratio 4).
    anon = {"001-nm-05-000": [A, C, A], "002-nm-05-000": [A, B, A], "001-nm-05-090": [A, C, A],
            "002-nm-05-090": [A, C, A]}
    for key, masks in anon.items():
        subject, view = key[:3], int(key[-3:])
        write_silhouettes(original, subject, "nm-05", view, np.stack([A, A, C]))
        write_silhouettes(silhouette_root(anonymized), subject, "nm-05", view, np.stack(masks))
    record = {"method": "test-shift", "parameters": "shift=2", "source": str(original)}
    (anonymized / "anonymization.json").write_text(json.dumps(record))
    return original, anonymized


def test_cli_temporal_change_ratio_by_hand(pair: tuple[Path, Path], tmp_path: Path, capsys) -> None:
    original, anonymized = pair
    out = tmp_path / "t.csv"
    assert main(["score", "--data", str(anonymized), "--original", str(original), "--subjects", "001,002",
                 "--conditions", "nm", "--views", "0,90", "--out", str(out), "--quiet"]) == 0
    frame = read_csv(out)
    assert set(frame["method"]) == {"test-shift"} and set(frame["parameters"]) == {"shift=2"}
    assert set(frame["metric"]) == {"temporal_change_ratio", "silhouette_difference"}
    assert set(frame["evaluator"]) == {"silhouettes"}
    # silhouette difference, 1 - IoU of each frame with its original A, A, C: A, C, A -> 0, 1/3, 1/3 (2/9);
    # A, B, A -> 0, 2/3 (XOR 8 of 12 pixels), 1/3 (1/3)
    differ = frame[(frame["metric"] == "silhouette_difference") & (frame["condition"] == "nm")].set_index("view")
    assert differ["value"].to_dict() == pytest.approx({0: 5 / 18, 90: 2 / 9, -1: 1 / 4}, rel=1e-6)
    assert differ["n"].to_dict() == {0: 2, 90: 2, -1: 4}
    frame = frame[frame["metric"] == "temporal_change_ratio"]
    everything = frame[frame["condition"] == "all"]
    assert everything["view"].tolist() == [-1] and everything["value"].item() == pytest.approx(2.5)  # one condition
    rows = frame[frame["condition"] == "nm"].set_index("view")
    # view 0: ratios 2 and 4 -> 3, s = sqrt 2, se = 1 -> 3 +- 12.706, clipped at 0 (a ratio is never negative)
    assert (rows.loc[0, "value"], rows.loc[0, "n"]) == (pytest.approx(3.0), 2)
    assert (rows.loc[0, "ci_low"], rows.loc[0, "ci_high"]) == pytest.approx((0.0, 3 + T975[1]), rel=1e-5)
    assert (rows.loc[90, "value"], rows.loc[90, "ci_low"], rows.loc[90, "ci_high"]) == pytest.approx((2, 2, 2))
    # all views: 2, 4, 2, 2 -> 2.5, s = 1, se = 0.5
    assert (rows.loc[-1, "value"], rows.loc[-1, "n"]) == (pytest.approx(2.5), 4)
    assert (rows.loc[-1, "ci_low"], rows.loc[-1, "ci_high"]) == pytest.approx((2.5 - T975[3] / 2,
                                                                               2.5 + T975[3] / 2), rel=1e-5)
    assert "temporal_change_ratio" in capsys.readouterr().out


def test_cli_missing_original_sequence_is_named(pair: tuple[Path, Path], tmp_path: Path, capsys) -> None:
    original, anonymized = pair
    shutil.rmtree(original / "002" / "nm-05" / "090")
    assert main(["score", "--data", str(anonymized), "--original", str(original), "--subjects", "001,002",
                 "--conditions", "nm", "--views", "0,90", "--out", str(tmp_path / "t.csv")]) == 2
    assert f"sequence 002-nm-05-090 of {anonymized} has no original in {original}" in \
        capsys.readouterr().err


def test_cli_frechet_rows_per_view(make_casia_tree, tmp_path: Path, capsys) -> None:
    original = make_casia_tree("orig", subjects=SUBJECTS, conditions=("nm-05",), views=(0, 90), frames=4,
                               shape=(64, 44)).root
    copy = tmp_path / "copy"
    shutil.copytree(original, copy)
    other = tmp_path / "other"  # the same walkers, thickened by 1, 2, 3 px for subjects 001, 002, 003
    shutil.copytree(original, other)
    for png in other.rglob("*.png"):
        mask = cv2.imread(str(png), cv2.IMREAD_GRAYSCALE)
        cv2.imwrite(str(png), cv2.dilate(mask, np.ones((3, 3), np.uint8), iterations=int(png.name[:3])))
    rec = MeanGEI()
    rec.training = {"subjects": []}
    ckpt = rec.save(tmp_path / "mean.npz")
    common = ["--original", str(original), "--recognizer", str(ckpt), "--subjects", "001-003", "--conditions",
              "nm", "--views", "0,90", "--cache", str(tmp_path / "cache"), "--workers", "1", "--device", "cpu",
              "--quiet"]
    out = tmp_path / "f.csv"
    assert main(["score", "--data", str(copy), "--method", "copy", *common, "--out", str(out)]) == 0
    frame = read_csv(out)
    frechet = frame[frame["metric"] == "frechet"].set_index("view")
    assert set(frechet["evaluator"]) == {"test-mean"} and set(frechet["condition"]) == {"nm"}
    assert frechet["value"].abs().max() < 1e-9  # identical data
    assert frechet.loc[0, "n"] == 3 and frechet.loc[-1, "n"] == 6 and np.isnan(frechet["ci_low"]).all()
    assert set(frame["metric"]) == {"frechet", "temporal_change_ratio", "silhouette_difference"}
    capsys.readouterr()

    assert main(["score", "--data", str(other), *common, "--out", str(out)]) == 0
    frechet = read_csv(out).query("metric == 'frechet'").set_index("view")
    assert set(frame["method"]) == {"copy"} and set(read_csv(out)["method"]) == {"other"}  # unknown origin
    seqs = {root: load_sequences(root, rec.spec, views=[0, 90]) for root in (original, other)}
    for view in (0, 90, -1):
        feats = [MeanGEI().embed(s.subset(s.views == view) if view != -1 else s).features for s in seqs.values()]
        assert frechet.loc[view, "value"] == pytest.approx(frechet_distance(*feats), rel=1e-5)
    assert frechet.loc[0, "value"] > 0
