"""The synthetic action clips, the ``video-synth`` model and scorer, and ``gaitbench action-model``.

Needs the ``synth`` extra (anny, torch). Clips are rendered small and short; the model is trained a few steps on
a handful of clips. The whole file runs in well under a minute on one core once anny's cache exists.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("anny")

import torch  # noqa: E402

from benchmark.cli import main  # noqa: E402
from benchmark.registry import SCORERS  # noqa: E402
from benchmark.scorers.action import (  # noqa: E402
    ACTIONS,
    MEAN_RGB,
    STD_RGB,
    ActionNet,
    Config,
    SynthActionScorer,
    TrainConfig,
    clip_probabilities,
    crop,
    heldout_report,
    load_action_model,
    preprocess_clip,
    resize_shorter,
    save_action_model,
    train_action_model,
)
from benchmark.scorers.base import MissingWeightsError  # noqa: E402
from benchmark.synth import actions as A  # noqa: E402
from benchmark.synth.body import REGIONS  # noqa: E402
from benchmark.synth.gait import WalkVariation  # noqa: E402
from benchmark.synth.walker import WalkSpec, simulate_walk  # noqa: E402
from benchmark.types import GaitSequence  # noqa: E402

# Half of CASIA-B's camera: focal 240 px at about 8 m, so 1 m is about 30 px.
PX_PER_M = 240.0 / 8.0


def _bottom(masks: np.ndarray) -> np.ndarray:
    """Lowest silhouette row per frame."""
    return np.array([np.nonzero(m)[0].max() for m in masks])


def _step_frequency(masks: np.ndarray, fps: float = 25.0) -> float:
    """Dominant frequency (Hz) of the silhouette's width: the legs are widest apart once per step."""
    w = np.array([np.ptp(np.nonzero(m)[1]) for m in masks], float)
    spectrum = np.abs(np.fft.rfft((w - w.mean()) * np.hanning(len(w)), 1024))
    freq = np.fft.rfftfreq(1024, 1 / fps)
    spectrum[freq < 0.8] = 0.0
    return float(freq[spectrum.argmax()])


# ---------------------------------------------------------------------------------------------- rendering


def test_same_seeds_give_identical_frames_and_other_seeds_others() -> None:
    a = A.render_action_clip("run", 1, 54, frames=6, size=(60, 80), seed=5)
    b = A.render_action_clip("run", 1, 54, frames=6, size=(60, 80), seed=5)
    c = A.render_action_clip("run", 1, 54, frames=6, size=(60, 80), seed=6)
    assert a.dtype == np.uint8 and a.shape == (6, 60, 80, 3)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a.astype(int) - c.astype(int)).mean() > 1.0


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown action 'swim'; known: walk, run, stand, jump, turn"):
        A.render_action_clip("swim", 0, 90)
    with pytest.raises(ValueError, match="view must be in 0..180 degrees, got 200"):
        A.render_action_clip("walk", 0, 200)
    with pytest.raises(ValueError, match="clips_per_class must be >= 1, got 0"):
        A.ActionDataConfig(0, 2)


def test_walk_is_the_world_walk_up_to_where_it_is_placed() -> None:
    # The clip's walk must be simulate_walk's (same person, variation, clothes), only placed elsewhere.
    body, subject = A._body(), A.action_subject(2)
    frames = 6
    sim = A.simulate_action(body, subject, "walk", np.random.default_rng(11), frames)
    rng = np.random.default_rng(11)  # replay the clip's first draws
    kind = str(rng.choice(["nm", "bg", "cl"], p=[0.6, 0.2, 0.2]))
    bag = subject.bag.varied(rng) if kind == "bg" else None
    coat = subject.coat if kind == "cl" else None
    spec = WalkSpec(f"{kind}-01", WalkVariation.sample(rng), 0.0, 0.0, bag, coat)
    ref = simulate_walk(body, subject, spec, 25.0, frame_range=(frames, frames))
    assert sim.walk.speed == pytest.approx(ref.speed)
    back = A._yaw_matrices(np.array(-sim.info["heading"]))  # (3, 3)
    ours = sim.walk.vertices @ back.T.astype(np.float32)
    ours -= ours.mean(axis=1, keepdims=True)
    theirs = ref.vertices - ref.vertices.mean(axis=1, keepdims=True)
    np.testing.assert_allclose(ours, theirs, atol=1e-4)
    np.testing.assert_array_equal(sim.walk.faces, ref.faces)


def test_jump_leaves_the_floor_in_the_middle_of_the_clip() -> None:
    clip = A.render_action("jump", 0, 90, frames=16, seed=3)
    lift = clip.info["lift_max"]
    assert 0.12 <= lift <= 0.4
    bottom = _bottom(clip.silhouettes)
    rise = bottom.max() - bottom[6:10].min()  # the apex is drawn within 2 frames of the middle
    # The feet rise by about the flight height; 0.6 allows for the frames around the apex and pixel rounding.
    assert rise >= 0.6 * lift * PX_PER_M
    walk = _bottom(A.render_action("walk", 0, 90, frames=16, seed=3).silhouettes)
    assert np.ptp(walk) <= 3  # a walker's lowest point stays on the floor (perspective moves it a little)


def test_run_steps_faster_and_travels_faster_than_walk_and_stand_barely_changes() -> None:
    walk = A.render_action("walk", 0, 90, frames=40, seed=0)
    run = A.render_action("run", 0, 90, frames=40, seed=0)
    stand = A.render_action("stand", 0, 90, frames=40, seed=0)
    # The silhouette's width oscillates once per step: its frequency is the cadence (steps/min) / 60.
    f_walk, f_run = _step_frequency(walk.silhouettes), _step_frequency(run.silhouettes)
    assert f_walk == pytest.approx(walk.info["cadence"] / 60, rel=0.1)
    assert f_run == pytest.approx(run.info["cadence"] / 60, rel=0.1)
    assert f_run > 1.25 * f_walk
    # Seen from the side, the walker's centre moves at its speed.
    x = {k: np.array([np.nonzero(m)[1].mean() for m in c.silhouettes]) for k, c in (("walk", walk), ("run", run))}
    v_walk, v_run = (abs(x[k][-1] - x[k][0]) / 39 * 25 / PX_PER_M for k in ("walk", "run"))
    assert v_walk == pytest.approx(walk.info["speed"], rel=0.2) and v_run == pytest.approx(run.info["speed"], rel=0.2)
    assert v_run > 1.3 * v_walk

    def change(m: np.ndarray) -> float:  # changed pixels between frames, relative to the silhouette's area
        return float(np.mean([(a ^ b).sum() / a.sum() for a, b in zip(m[:-1], m[1:], strict=True)]))

    assert change(stand.silhouettes) < 0.1 * change(walk.silhouettes)
    assert stand.info["speed"] == 0.0 and np.ptp(_bottom(stand.silhouettes)) <= 1


def test_turn_rotates_the_trunk_at_the_drawn_rate() -> None:
    body, subject = A._body(), A.action_subject(1)
    rest = body.rest(subject.phenotype)[0]
    torso = body.region == REGIONS.index("torso")
    for seed in (0, 1):
        sim = A.simulate_action(body, subject, "turn", np.random.default_rng(seed), 12)
        v = sim.walk.vertices[:, : len(rest)]
        across = v[:, torso & (rest[:, 0] > 0)].mean(1) - v[:, torso & (rest[:, 0] < 0)].mean(1)  # right -> left
        angle = np.degrees(np.unwrap(np.arctan2(across[:, 1], across[:, 0])))  # (T,)
        # A line through the angles: the trunk's own counter-rotation against the pelvis oscillates about it.
        rate = np.polyfit(np.arange(12) / 25.0, angle, 1)[0]
        assert rate == pytest.approx(sim.info["yaw_rate"], rel=0.15)
        assert abs(rate) > 50.0 and sim.info["speed"] == 0.0


# ---------------------------------------------------------------------------------------------- preprocessing


def test_preprocessing_scales_crops_and_normalises_as_documented() -> None:
    frames = np.zeros((16, 8, 12, 3), np.uint8)
    frames[..., 0], frames[..., 2] = 255, 128
    frames[..., 1] = np.arange(12, dtype=np.uint8)[None, None, :] * 20  # green encodes the column
    x = preprocess_clip(frames, 8)
    assert x.dtype == np.float32 and x.shape == (3, 16, 8, 8)
    # Hand-computed: red (1 - 0.43216) / 0.22803 = 0.56784 / 0.22803 = 2.490198;
    # blue (128 / 255 - 0.37645) / 0.216989 = 0.12551078 / 0.216989 = 0.578420.
    np.testing.assert_allclose(x[0], 2.490198, atol=1e-5)
    np.testing.assert_allclose(x[2], 0.578420, atol=1e-5)
    # Centre crop of 12 columns to 8 keeps columns 2..9: green 40..180.
    green = (np.arange(2, 10) * 20 / 255 - MEAN_RGB[1]) / STD_RGB[1]
    np.testing.assert_allclose(x[1, 3, 5], green, atol=1e-5)
    # Shorter side 24 -> 8, longer 32 -> int(8 * 32 / 24) = 10; a window starting at column 1.
    big = np.zeros((2, 24, 32, 3), np.uint8)
    assert resize_shorter(big, 8).shape == (2, 8, 10, 3)
    assert crop(np.arange(40).reshape(1, 4, 10, 1).repeat(3, -1), 4, x0=1)[0, 0, :, 0].tolist() == [1, 2, 3, 4]


def test_network_forward_and_probabilities() -> None:
    torch.manual_seed(0)
    net = ActionNet(5, width=4)
    clips = torch.randn(2, 3, 16, 16, 16)
    assert net.eval()(clips).shape == (2, 5)
    p = clip_probabilities(net, clips)
    assert p.shape == (2, 5) and bool(((p >= 0) & (p <= 1)).all())
    np.testing.assert_allclose(p.sum(1).numpy(), 1.0, atol=1e-6)
    with pytest.raises(ValueError, match=r"clips must have shape \(N, 3, T, S, S\)"):
        clip_probabilities(net, clips[0])


def test_heldout_report_on_a_hand_made_case() -> None:
    probs = np.array([[0.7, 0.3], [0.4, 0.6], [0.2, 0.8], [0.9, 0.1]])  # classes walk, run
    report = heldout_report(probs, np.array([0, 0, 1, 1]), ("walk", "run"), views=np.array([0, 45, 90, 180]))
    assert report["confusion"] == [[1, 1], [1, 1]] and report["accuracy"] == 0.5
    assert report["per_class"] == {"walk": 0.5, "run": 0.5}
    assert report["mean_p_walk"] == pytest.approx({"walk": 0.55, "run": 0.55})  # (0.7 + 0.4) / 2, (0.2 + 0.9) / 2
    assert report["per_view"] == {"0-29": 1.0, "30-59": 0.0, "90-119": 1.0, "150-180": 0.0}


# ---------------------------------------------------------------------------------------------- training and scoring


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("actions")
    A.generate_actions(out, 4, subjects=2, size=(36, 48), actions=("walk", "stand"), log=None)
    return out


def test_dataset_is_written_resumable_and_refuses_another(dataset: Path, tmp_path: Path) -> None:
    manifest = json.loads((dataset / "manifest.json").read_text())
    assert len(manifest["clips"]) == 8 and {c["subject"] for c in manifest["clips"]} == {0, 1}
    first = dataset / manifest["clips"][0]["file"]
    with np.load(first) as z:
        frames = z["frames"]
    assert frames.shape == (16, 36, 48, 3) and frames.dtype == np.uint8
    c = manifest["clips"][0]
    np.testing.assert_array_equal(
        frames, A.render_action_clip(c["action"], c["subject"], c["view"], 16, (36, 48), c["seed"])
    )
    with pytest.raises(ValueError, match="holds another action dataset"):
        A.generate_actions(dataset, 5, subjects=2, size=(36, 48), actions=("walk", "stand"), log=None)
    lines: list[str] = []
    A.generate_actions(dataset, 4, subjects=2, size=(36, 48), actions=("walk", "stand"), log=lines.append)
    assert lines[0].startswith("actions: 0 of 8 clips to render")


def test_training_lowers_the_loss_and_the_checkpoint_scores(dataset: Path, tmp_path: Path) -> None:
    config = TrainConfig(epochs=8, batch_size=4, lr=3e-3, width=4, crop=16, dropout=0.0, label_smoothing=0.0,
                         holdout=0.5)
    meta = train_action_model(dataset, tmp_path / "m.npz", config, device="cpu", progress=False)
    losses = [h["loss"] for h in meta["history"]]
    assert len(losses) == 8 and losses[-1] < 0.8 * losses[0]
    held = meta["heldout"]
    assert meta["train_clips"] == 4 and held["n"] == 4 and len(held["confusion"]) == 2
    assert "not on anonymized data" in meta["label"] and "(walk/stand)" in meta["label"]
    scorer = SynthActionScorer(Config(weights=tmp_path / "m.npz"))
    frames = A.render_action_clip("walk", 5, 90, frames=40, size=(36, 48), seed=1)
    p = scorer.score_frames(frames)
    assert p.dtype == np.float64 and p.shape == (2,) and bool(((p >= 0) & (p <= 1)).all())  # 40 frames: 2 clips
    assert "held-out accuracy" in scorer.label and "m.npz" in scorer.label


def test_checkpoint_round_trip_gives_the_same_probabilities(tmp_path: Path) -> None:
    torch.manual_seed(1)
    net = ActionNet(3, width=4).eval()
    meta = {"classes": ["run", "walk", "stand"], "crop": 16, "width": 4}
    save_action_model(tmp_path / "r.npz", net, meta)
    loaded, got = load_action_model(tmp_path / "r.npz")
    assert got == meta
    frames = np.random.default_rng(0).integers(0, 256, (16, 24, 32, 3), dtype=np.uint8)
    x = torch.from_numpy(preprocess_clip(frames, 16)[None])
    expected = torch.softmax(net(x), 1)[0, 1].item()  # 'walk' is the second class here
    scorer = SynthActionScorer(Config(weights=tmp_path / "r.npz"))
    assert scorer.score_frames(frames)[0] == pytest.approx(expected, abs=1e-6)
    assert scorer.score(_seq(frames)).n == 1


def _seq(frames: np.ndarray) -> GaitSequence:
    return GaitSequence("001", "nm-01", 90, np.zeros(frames.shape[:3], bool), frames=frames)


def test_missing_weights_name_the_file_and_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAITBENCH_CACHE", str(tmp_path))
    monkeypatch.delenv("GAITBENCH_ACTION_WEIGHTS", raising=False)
    monkeypatch.setattr("benchmark.scorers.action.BUNDLED_WEIGHTS", tmp_path / "not-shipped.npz")
    frames = np.zeros((16, 24, 32, 3), np.uint8)
    with pytest.raises(MissingWeightsError) as info:
        SynthActionScorer().score_frames(frames)
    assert "synth-action.npz not found" in str(info.value)
    assert f"gaitbench action-model --out {tmp_path / 'weights' / 'synth-action.npz'}" in str(info.value)
    monkeypatch.setenv("GAITBENCH_ACTION_WEIGHTS", str(tmp_path / "elsewhere.npz"))
    with pytest.raises(MissingWeightsError, match=r"elsewhere\.npz does not exist: make it with `gaitbench action"):
        SynthActionScorer().score_frames(frames)
    monkeypatch.delenv("GAITBENCH_ACTION_WEIGHTS")
    monkeypatch.setattr("benchmark.scorers.action.BUNDLED_WEIGHTS", tmp_path / "not-shipped.npz")
    with pytest.raises(MissingWeightsError, match="synth-action.npz not found"):
        SynthActionScorer().score_frames(frames)
    (tmp_path / "junk.npz").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=r"junk\.npz is not a gaitbench checkpoint"):
        SynthActionScorer(Config(weights=tmp_path / "junk.npz")).score_frames(frames)
    with pytest.raises(ValueError, match="target 'dance' is not an action"):
        Config(target="dance")


def test_the_bundled_model_is_the_documented_one_and_tells_walking_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With nothing configured or cached, video-synth reads the shipped model, whose provenance file matches it;
    on a person it never saw (subject seed 5000; training used 0-99) walks score high and other actions low."""
    monkeypatch.setenv("GAITBENCH_CACHE", str(tmp_path))
    monkeypatch.delenv("GAITBENCH_ACTION_WEIGHTS", raising=False)
    bundled = Path(A.__file__).resolve().parents[1] / "scorers" / "models"
    record = json.loads((bundled / "synth-action.json").read_text())
    assert hashlib.sha256((bundled / "synth-action.npz").read_bytes()).hexdigest() == record["sha256"]
    scorer = SynthActionScorer()
    walk = [scorer.score_frames(A.render_action_clip("walk", 5000, view, seed=7))[0] for view in (36, 90, 144)]
    assert scorer.weights_path == bundled / "synth-action.npz"
    _, meta = load_action_model(bundled / "synth-action.npz")
    assert meta["heldout"] == record["heldout"] and meta["heldout"]["accuracy"] >= 0.9
    others = [scorer.score_frames(A.render_action_clip(a, 5000, 90, seed=7))[0] for a in ("stand", "jump", "run")]
    assert min(walk) > 0.8 and max(others) < 0.1, (walk, others)


def test_registry_entry_and_a_scorer_that_needs_torch_only() -> None:
    assert SCORERS.entry("video-synth").meta == {"level": "video", "offline": True}
    assert SCORERS.get("video-synth") is SynthActionScorer and SynthActionScorer.level == "video"
    assert ACTIONS == A.ACTIONS
    code = "import sys, benchmark.scorers.action; print(sorted({'numba', 'anny'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_command_renders_trains_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["action-model", "--out", str(tmp_path / "a.npz"), "--clips-per-class", "2", "--subjects", "2",
            "--epochs", "1", "--data-dir", str(tmp_path / "data"), "--size", "32x32", "--width", "2",
            "--holdout", "0.5", "--device", "cpu", "--quiet"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "held-out people: 5 clips" in out and "trained on rendered actions, not on anonymized data" in out
    for action in A.ACTIONS:
        assert f"\n{action} " in out
    record = json.loads((tmp_path / "a.run.json").read_text())
    assert record["meta"]["classes"] == list(A.ACTIONS) and "git" in record
    _, meta = load_action_model(tmp_path / "a.npz")
    assert dataclasses.asdict(TrainConfig(epochs=1, width=2, holdout=0.5)) == meta["config"]
