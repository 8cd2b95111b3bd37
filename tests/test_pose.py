"""BlazePose (benchmark.pose) and the ``frame-pose`` scorer: the anatomical checks against hand-computed values,
and the scorer on rendered walkers against their blurred, pixelated, masked and scrambled versions."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from benchmark.pose import INDEX, LANDMARKS, VISIBILITY
from benchmark.scorers.pose import CHECKS, Config, frame_score, measure, plausibility, seen_score

# A standing person 1000 px tall (y grows downwards, feet at y = 1000), from Winter's segment fractions of the
# height H: shoulders at 0.818 H, hips at 0.530 H, knees 0.245 H below the hips, ankles at 0.039 H; upper arm
# 0.186 H, forearm 0.146 H hanging straight down; shoulders 0.259 H apart, hips 0.191 H apart; heels and toes on
# the floor.
H = 1000.0
JOINTS = {
    "nose": (0.0, 0.93), "shoulder": (0.1295, 0.818), "elbow": (0.1295, 0.818 - 0.186),
    "wrist": (0.1295, 0.818 - 0.186 - 0.146), "hip": (0.0955, 0.530), "knee": (0.0955, 0.530 - 0.245),
    "ankle": (0.0955, 0.039), "heel": (0.0955, 0.0), "foot_index": (0.0955, 0.0),
}


def standing(visibility: float = 0.99) -> np.ndarray:
    """Landmarks (33, 4) of the standing person: x, y in px, z 0, every landmark seen with ``visibility``."""
    out = np.zeros((len(LANDMARKS), 4), np.float32)
    out[:, VISIBILITY] = visibility
    for joint, (dx, height) in JOINTS.items():
        for side, sign in (("left", 1.0), ("right", -1.0)):
            name = joint if joint == "nose" else f"{side}_{joint}"
            out[INDEX[name], :2] = (500.0 + sign * dx * H if joint != "nose" else 500.0, H - height * H)
    return out


def test_a_standing_person_meets_every_check_and_scores_its_visibility() -> None:
    values = measure(standing())
    assert set(values) == {c.name for c in CHECKS}
    assert values["thigh / shank"] == pytest.approx(0.245 / (0.530 - 0.245 - 0.039))
    assert values["upper arm / forearm"] == pytest.approx(0.186 / 0.146)
    assert values["torso / leg"] == pytest.approx((0.818 - 0.530) / (0.530 - 0.039))
    assert values["knee angle"] == pytest.approx(180.0) and values["trunk lean"] == pytest.approx(0.0)
    assert plausibility(values) == 1.0
    assert frame_score(standing(0.8)) == pytest.approx(0.8, abs=1e-6)


def test_a_limb_outside_the_human_range_lowers_the_score_as_computed_by_hand() -> None:
    lm = standing()
    knee, ankle = INDEX["left_knee"], INDEX["right_knee"]
    # both shanks shortened to a quarter: thigh / shank = 4 x 0.996, outside [1/2.2, 2.2]
    for side in ("left", "right"):
        k, a = INDEX[f"{side}_knee"], INDEX[f"{side}_ankle"]
        lm[a, 1] = lm[k, 1] + (lm[a, 1] - lm[k, 1]) / 4
    values = measure(lm)
    ratio = 0.245 / ((0.530 - 0.245 - 0.039) / 4)
    assert values["thigh / shank"] == pytest.approx(ratio)
    torso_leg = (0.818 - 0.530) / (0.245 + (0.530 - 0.245 - 0.039) / 4)
    assert values["torso / leg"] == pytest.approx(torso_leg)
    assert torso_leg < 1.1  # only the thigh / shank check is outside
    expected = math.exp(-math.log(ratio / 2.2) / 0.25)
    assert plausibility(values) == pytest.approx(expected)
    assert frame_score(lm) == pytest.approx(0.99 * expected, rel=1e-6)
    assert knee != ankle


def test_an_upside_down_person_and_no_person_score_zero() -> None:
    lm = standing()
    lm[:, 1] = H - lm[:, 1]  # mirrored vertically: head at the bottom
    assert measure(lm)["head above hips"] == 0.0 and frame_score(lm) == 0.0
    assert frame_score(np.full((len(LANDMARKS), 4), np.nan, np.float32)) == 0.0


def test_a_folded_knee_and_an_unseen_leg() -> None:
    lm = standing()
    # the left ankle put back up beside the hip: the knee angle closes to about 0 degrees
    lm[INDEX["left_ankle"], :2] = lm[INDEX["left_hip"], :2] + (5.0, 0.0)
    lm[INDEX["right_knee"], VISIBILITY] = 0.1  # the right leg hidden: the left one is judged
    values = measure(lm)
    assert values["knee angle"] < 5.0 and "left leg / right leg" not in values
    assert plausibility(values) < math.exp(-30 / 30 / 0.25) * 1.001
    # the seen score takes the better-seen side of each pair
    assert seen_score(lm) == pytest.approx(0.99)


@pytest.mark.parametrize("bad", [{"stride": 0}, {"min_detection": 1.5}, {"tolerance": 0.0},
                                 {"tolerance": float("nan")}])
def test_config_refuses_bad_values(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        Config(**bad)


def test_a_missing_mediapipe_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    import benchmark.pose as pose

    real = importlib.import_module

    def fail(name: str, *args: object) -> object:
        if name == "mediapipe":
            raise ImportError("No module named 'mediapipe'")
        return real(name, *args)

    monkeypatch.setattr(pose.importlib, "import_module", fail)
    with pytest.raises(ImportError, match=r"pip install --no-deps mediapipe==0\.10\.14 && pip install -e '\.\[pose\]'"):
        pose.import_mediapipe()


# ------------------------------------------------------------------------------------------ on rendered walkers


@pytest.fixture(scope="module")
def walker(tmp_path_factory: pytest.TempPathFactory) -> list:
    """One rendered person walking (12 frames) at 0, 90 and 180 degrees, with colour frames and background."""
    pytest.importorskip("anny")
    pytest.importorskip("mediapipe")
    from benchmark.data.casia import CasiaB
    from benchmark.synth.world import WorldConfig, generate

    out = tmp_path_factory.mktemp("walker")
    generate(WorldConfig("ci", subjects=1, views=(0, 90, 180), conditions=("nm-01",), frame_range=(12, 12)), out,
             workers=1, log=None)
    data = CasiaB(out)
    return [data.load(ref, frames=True, background=True) for ref in data.index(None, None, None)]


def bands_reversed(frames: np.ndarray, silhouettes: np.ndarray, k: int = 4) -> np.ndarray:
    """The walker's box cut into ``k`` horizontal bands stacked in reverse order (feet on top, head below)."""
    out = frames.copy()
    for t in range(len(frames)):
        ys, xs = np.nonzero(silhouettes[t])
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        edges = np.linspace(0, y1 - y0, k + 1).astype(int)
        box = frames[t, y0:y1, x0:x1]
        parts = [box[a:b] for a, b in zip(edges[:-1], edges[1:], strict=True)]
        out[t, y0:y1, x0:x1] = np.concatenate(parts[::-1], axis=0)
    return out


def test_frame_pose_sees_the_rendered_walker_and_not_its_destroyed_versions(walker: list) -> None:
    from benchmark.registry import SCORERS
    from benchmark.steps import prepare_anonymizer

    scorer = SCORERS.get("frame-pose")()
    assert "mediapipe 0.10.14" in scorer.label
    for seq in walker:
        original = scorer.score(seq)
        assert original.n == len(seq.frames) and original.value > 0.85, seq.key
        assert scorer.score_frames(bands_reversed(seq.frames, seq.silhouettes)).mean() < 0.05, seq.key
        assert scorer.score_frames(np.zeros_like(seq.frames)).mean() == 0.0
        noise = np.random.default_rng(0).integers(0, 256, seq.frames.shape, dtype=np.uint8)
        assert scorer.score_frames(noise).mean() == 0.0
        for method in ("blur", "pixelate", "mask"):
            destroyed = scorer.score(prepare_anonymizer(method).anonymize(seq, 0)).value
            assert destroyed < original.value - 0.5, (seq.key, method, destroyed)


def test_stride_scores_every_kth_frame(walker: list) -> None:
    from benchmark.scorers.pose import PoseScorer

    seq = walker[1]
    every = PoseScorer().score_frames(seq.frames)
    third = PoseScorer(Config(stride=3)).score_frames(seq.frames)
    np.testing.assert_array_equal(third, every[::3])  # each frame is detected on its own: same numbers


# ------------------------------------------------------------------------------------------ the pose-gait attacker


def test_normalize_centres_on_the_hips_and_scales_by_body_height() -> None:
    from recognizers.posegait import JOINTS, normalize

    lm = np.stack([standing(), standing(), np.full((len(LANDMARKS), 4), np.nan, np.float32)])
    lm[1, :, 0] += 10.0  # the second frame 10 px to the right: positions unchanged, velocity 0 after scaling
    out = normalize(lm)
    assert out.shape == (2, len(JOINTS), 5)  # the frame without a person is dropped
    ankle, nose = JOINTS.index("left_ankle"), JOINTS.index("nose")
    extent = 0.93 * H  # the 17 joints span the nose to the heels
    np.testing.assert_allclose(out[0, ankle, :2], [0.0955 * H / extent, (0.530 - 0.039) * H / extent], rtol=1e-5)
    np.testing.assert_allclose(out[0, nose, :2], [0.0, -(0.93 - 0.530) * H / extent], rtol=1e-5)
    np.testing.assert_allclose(out[:, :, 2:4], 0.0, atol=1e-6)  # a translation is no motion
    np.testing.assert_allclose(out[:, :, 4], 0.99)
    assert normalize(np.full((3, len(LANDMARKS), 4), np.nan, np.float32)).shape == (0, len(JOINTS), 5)


@pytest.fixture(scope="module")
def six_walkers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six rendered people, four normal walks each, at 90 degrees (30 frames, colour videos)."""
    pytest.importorskip("anny")
    pytest.importorskip("mediapipe")
    from benchmark.synth.world import WorldConfig, generate

    out = tmp_path_factory.mktemp("six")
    generate(WorldConfig("ci", subjects=6, views=(90,), conditions=("nm-01", "nm-02", "nm-03", "nm-04"),
                         frame_range=(30, 30)), out, workers=1, log=None)
    return out


def test_pose_gait_learns_to_identify_walkers_from_their_keypoints(six_walkers: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import benchmark.pose as pose
    import recognizers  # noqa: F401  (the declarations)
    from benchmark.recognizer import load_recognizer, recognizer_class
    from benchmark.sequences import load_sequences
    from benchmark.training import FitOptions

    cls = recognizer_class("pose-gait")
    rec = cls(cls.Config(epochs=15, batches_per_epoch=10, subjects_per_batch=6, sequences_per_subject=3, clip=24))
    cache = tmp_path / "cache"
    train = load_sequences(six_walkers, rec.spec, conditions=["nm-01", "nm-02", "nm-03"], cache_dir=cache, workers=1)
    probes = load_sequences(six_walkers, rec.spec, conditions=["nm-04"], cache_dir=cache, workers=1)
    assert len(train) == 18 and len(probes) == 6 and train.items[0].shape == (30, 33, 4)
    assert len(list((cache / pose.CACHE_FOLDER).glob("*.npy"))) == 24

    # read again: from the cache, BlazePose not run
    def no_model(path: Path) -> np.ndarray:
        raise AssertionError(f"BlazePose ran again on {path}")

    monkeypatch.setattr(pose, "video_keypoints", no_model)
    again = load_sequences(six_walkers, rec.spec, conditions=["nm-04"], cache_dir=cache, workers=1)
    assert all(np.array_equal(a, b, equal_nan=True) for a, b in zip(again.items, probes.items, strict=True))

    rec.fit(train, options=FitOptions(device="cpu", progress=False))
    gallery = train.subset(train.conditions == "nm-01")
    distances = rec.distance(gallery, probes)  # (6 probes, 6 gallery)
    top1 = float(np.mean(gallery.subjects[distances.argmin(1)] == probes.subjects))
    assert top1 >= 0.5, top1  # chance: 1/6
    rec.save(tmp_path / "pose.npz")
    np.testing.assert_allclose(load_recognizer(tmp_path / "pose.npz").distance(gallery, probes), distances,
                               rtol=1e-5, atol=1e-6)


def test_a_sequence_without_a_colour_video_is_named(six_walkers: Path, tmp_path: Path) -> None:
    import shutil

    from benchmark.data.casia import CasiaB
    from benchmark.pose import dataset_keypoints

    copy = tmp_path / "world"
    shutil.copytree(six_walkers, copy)
    (copy / "videos" / "003-nm-02-090.avi").unlink()
    refs = CasiaB(copy).index(["003"], ["nm-02"], [90])
    with pytest.raises(FileNotFoundError, match=r"003-nm-02-090\.avi not found.*colour frames"):
        dataset_keypoints(copy, refs, cache_dir=tmp_path / "cache", workers=1)


def test_step_reads_every_kth_frame_and_caches_it_apart(six_walkers: Path, tmp_path: Path) -> None:
    from benchmark.data.casia import CasiaB, read_video
    from benchmark.pose import BlazePose, dataset_keypoints

    refs = CasiaB(six_walkers).index(["002"], ["nm-01"], [90])
    cache = tmp_path / "cache"
    every = dataset_keypoints(six_walkers, refs, cache_dir=cache, workers=1)["002-nm-01-090"]
    third = dataset_keypoints(six_walkers, refs, cache_dir=cache, workers=1, step=3)["002-nm-01-090"]
    assert every.shape == (30, 33, 4) and third.shape == (10, 33, 4)
    names = sorted(p.name.split(".")[1] for p in (cache / "blazepose-full-0.10.14").glob("*.npy"))
    assert len(names) == 2 and "step3" in names
    # the same as BlazePose tracking over frames 0, 3, 6, ... by hand
    frames, _ = read_video(six_walkers / "videos" / "002-nm-01-090.avi")
    with BlazePose(video=True) as pose:
        by_hand = pose(frames[[0, 3, 6, 9, 12, 15, 18, 21, 24, 27]])
    np.testing.assert_array_equal(third, by_hand)
    with pytest.raises(ValueError, match="step must be >= 1, got 0"):
        dataset_keypoints(six_walkers, refs, cache_dir=cache, workers=1, step=0)


def test_input_spec_step_is_for_pose_inputs_only() -> None:
    from benchmark.sequences import InputSpec

    assert InputSpec(33, 4, "pose", step=2).step == 2
    with pytest.raises(ValueError, match="step 2 is for pose inputs only"):
        InputSpec(64, 44, "gei", step=2)
    with pytest.raises(ValueError, match="step must be a whole number >= 1, got 0"):
        InputSpec(33, 4, "pose", step=0)


def test_mediapipes_native_start_notices_are_dropped_and_other_lines_kept(capfd: pytest.CaptureFixture[str]) -> None:
    import os

    from benchmark.pose import native_stderr_filtered

    with native_stderr_filtered():
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
        os.write(2, b"W0000 00:00:1.0 31 inference_feedback_manager.cc:114] Feedback manager requires ...\n")
        os.write(2, b"E0000 00:00:1.0 31 calculator_graph.cc:887] a real failure\n")
    assert capfd.readouterr().err == "E0000 00:00:1.0 31 calculator_graph.cc:887] a real failure\n"


POSE_PROTOCOL = """
name = "six"
description = "6 rendered walkers at 90 degrees: recognizers 3 / test 3"
reference_subjects = 6
views = [90]
gallery = ["nm-01", "nm-02"]
[groups]
recognizers = 3
test = 3
[probes]
nm = ["nm-04"]
"""

POSE_RUN = """
name = "pose"
seed = 0
device = "cpu"
workers = 1
threads = 1
protocol = "protocol.toml"

[world]
path = "{world}"

[evaluate]
ks = [1]
attacks = ["ignorant", "lazy-informed", "semi-informed"]

[recognizers.pose-gait]
frame_step = 2
clip = 8
epochs = 4
batches_per_epoch = 4
subjects_per_batch = 3
sequences_per_subject = 2

[anonymizers.identity]

[anonymizers.pixelate]

[scorers.frame-pose]
stride = 5

[realism]
enabled = false

[pictures]
enabled = false
"""


def test_a_run_with_pose_gait_and_frame_pose_under_every_attack(six_walkers: Path, tmp_path: Path) -> None:
    """``gaitbench run`` with the pose attacker under the three attack models and the frame-pose scorer: the
    informed attackers' anonymized data keep their colour video (BlazePose reads it), identity's figures are the
    same under every attack, and the original looks more like a person than its pixelated version."""
    from benchmark.results import read_csv
    from benchmark.runner import execute, load_run_config, plan_run

    (tmp_path / "protocol.toml").write_text(POSE_PROTOCOL, encoding="utf-8")
    (tmp_path / "run.toml").write_text(POSE_RUN.format(world=six_walkers.as_posix()), encoding="utf-8")
    plan = plan_run(load_run_config(tmp_path / "run.toml"), tmp_path / "out", progress=False)
    result = execute(plan, log=lambda line: None)
    assert result.finished
    names = {s.name for s in plan.stages}
    assert {"recognizer pose-gait semi-informed pixelate[block=12;margin=4]",
            "evaluate pixelate[block=12;margin=4] pose-gait lazy-informed"} <= names
    for stage in ("anonymize-gallery pixelate[block=12;margin=4]", "anonymize-training pixelate[block=12;margin=4]"):
        assert list((plan.builder.folder(stage) / "data" / "videos").glob("*.avi")), stage
    frame = read_csv(tmp_path / "out" / "results.csv")
    top1 = frame[(frame["metric"] == "success_rate") & (frame["k"] == 1) & (frame["view"] == -1)
                 & (frame["condition"] == "nm")]
    ident = top1[top1["method"] == "identity"].set_index("attack")["value"]
    assert set(ident.index) == {"ignorant", "lazy-informed", "semi-informed"}
    assert ident.nunique() == 1, ident
    # BlazePose finds nobody in the pixelated videos (12-px blocks over a walker about 110 px tall): the probes and the
    # informed attacker's gallery are unusable (every probe a miss), and the semi-informed attacker, with nothing to
    # retrain on, keeps its clean model
    pixelated = top1[top1["method"] == "pixelate"].set_index("attack")["value"]
    assert set(pixelated.index) == {"ignorant", "lazy-informed", "semi-informed"} and (pixelated == 1.0).all()
    informed = "recognizer pose-gait semi-informed pixelate[block=12;margin=4]"
    report = {s.name: s.report for s in result.stages}[informed]
    assert report["kept_clean_model"].startswith("nothing to retrain on (no sequences with a person found"), report
    assert (plan.builder.folder(informed) / "model.npz").read_bytes() == \
        (plan.builder.folder("recognizer pose-gait") / "model.npz").read_bytes()
    scores = frame[(frame["evaluator"] == "frame-pose") & (frame["view"] == -1) & (frame["condition"] == "all")]
    score = scores.set_index("method")["value"]
    assert score["identity"] > 0.8 and score["pixelate"] < score["identity"] - 0.3, score


def test_keypoints_in_two_processes_after_blazepose_ran_here_equal_those_of_one(six_walkers: Path,
                                                                                 tmp_path: Path) -> None:
    """A run scores frames with BlazePose (frame-pose) before it extracts keypoints in worker processes: forked
    children of a process that has run a mediapipe graph abort, so the workers are spawned."""
    from benchmark.data.casia import CasiaB
    from benchmark.pose import BlazePose, dataset_keypoints

    with BlazePose() as pose:
        pose(np.zeros((1, 64, 64, 3), np.uint8))
    refs = CasiaB(six_walkers).index(["001", "002", "003"], ["nm-02"], [90])
    two = dataset_keypoints(six_walkers, refs, cache_dir=tmp_path / "cache", workers=2)
    one = dataset_keypoints(six_walkers, refs, cache_dir=None, workers=1)
    assert sorted(two) == sorted(one) == ["001-nm-02-090", "002-nm-02-090", "003-nm-02-090"]
    assert all(np.array_equal(two[k], one[k], equal_nan=True) for k in one)
