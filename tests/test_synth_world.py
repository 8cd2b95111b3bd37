"""World settings, people and gait curves of the synthetic world (no body model needed)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytest.importorskip("numba")

from benchmark.cli import main  # noqa: E402
from benchmark.synth.gait import NORMATIVE, Carry, GaitStyle, WalkVariation, fourier_eval, joint_angles  # noqa: E402
from benchmark.synth.noise import apply_noise  # noqa: E402
from benchmark.synth.scene import casia_camera  # noqa: E402
from benchmark.synth.world import PRESETS, WorldConfig, preset, sample_subject, walk_spec  # noqa: E402


def test_presets_match_the_issue() -> None:
    assert PRESETS["quick"].subjects == 40 and len(PRESETS["quick"].views) == 11
    assert len(PRESETS["quick"].conditions) == 10
    full = PRESETS["full"]
    assert full.subjects * len(full.views) * len(full.conditions) == 124 * 110


def test_preset_overrides_and_their_errors() -> None:
    assert preset("ci", subjects=3, seed=5).subjects == 3
    with pytest.raises(ValueError, match="unknown preset 'tiny'"):
        preset("tiny")
    with pytest.raises(ValueError, match=r"unknown world settings \['colour'\]"):
        preset("ci", colour=True)
    with pytest.raises(ValueError, match="subjects must be in 1..999, got 0"):
        preset("ci", subjects=0)
    with pytest.raises(ValueError, match="views must be a non-empty subset"):
        WorldConfig("x", 2, (0, 45), ("nm-01",))
    with pytest.raises(ValueError, match=r"conditions must be .* got \['nm-07'\]"):
        WorldConfig("x", 2, (0,), ("nm-07",))
    with pytest.raises(ValueError, match="unknown noise model 'heavy'"):
        WorldConfig("x", 2, (0,), ("nm-01",), noise="heavy")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["synth", "--preset", "big", "--out", "x"], "invalid choice: 'big'"),
        (["synth", "--preset", "ci", "--out", "x", "--subjects", "0"], "expected a positive integer, got 0"),
        (["synth", "--preset", "ci", "--out", "x", "--views", "0,45"], "views must be among"),
        (["synth", "--preset", "ci", "--out", "x", "--seed", "-1"], "expected an integer >= 0, got -1"),
    ],
)
def test_command_line_rejects_bad_arguments(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(argv)
    assert message in capsys.readouterr().err


def test_command_line_reports_a_bad_condition(capsys: pytest.CaptureFixture[str], tmp_path: object) -> None:
    assert main(["synth", "--preset", "ci", "--out", str(tmp_path), "--conditions", "nm-09"]) == 2
    assert "conditions must be a non-empty subset" in capsys.readouterr().err


def test_subjects_are_a_pure_function_of_seed_and_number() -> None:
    a, b = sample_subject(0, 3), sample_subject(0, 3)
    assert dataclasses.asdict(a) == dataclasses.asdict(b)
    assert dataclasses.asdict(sample_subject(1, 3)) != dataclasses.asdict(a)
    assert walk_spec(0, a, "nm-01") == walk_spec(0, b, "nm-01")
    assert walk_spec(0, a, "nm-01") != walk_spec(0, a, "nm-02")
    assert walk_spec(0, a, "bg-01").bag is not None and walk_spec(0, a, "nm-01").bag is None
    assert walk_spec(0, a, "cl-02").coat is not None


def test_people_vary_like_adults() -> None:
    people = [sample_subject(0, i) for i in range(200)]
    stature = np.array([p.phenotype["height"] for p in people])  # metres before calibration
    female = np.array([p.phenotype["gender"] > 0.5 for p in people])
    assert 1.72 < stature[~female].mean() < 1.78 and 1.59 < stature[female].mean() < 1.65
    assert 0.15 < female.mean() < 0.35  # CASIA-B: 31 of 124
    cadence = np.array([p.style.cadence for p in people])
    assert 105 < cadence.mean() < 115 and 4 < cadence.std() < 10


def test_normative_curves_have_the_textbook_shape() -> None:
    phase = np.linspace(0, 1, 200, endpoint=False)
    hip, knee, ankle = (fourier_eval(NORMATIVE[k], phase) for k in ("hip", "knee", "ankle"))
    # Perry & Burnfield: hip ~30 flexion at heel strike, ~-10 at terminal stance; knee ~18 at loading
    # response, ~60 in swing; ankle ~-18 plantarflexion at toe-off.
    assert 28 <= hip[0] <= 32 and -12 <= hip.min() <= -7
    assert 14 <= knee[(phase > 0.08) & (phase < 0.25)].max() <= 21 and 56 <= knee.max() <= 64
    assert 0.65 <= phase[knee.argmax()] <= 0.78
    assert -20 <= ankle.min() <= -14 and 0.55 <= phase[ankle.argmin()] <= 0.68


def test_joint_angles_follow_the_cadence() -> None:
    rng = np.random.default_rng(0)
    style = dataclasses.replace(GaitStyle.sample(rng), cadence=120.0)  # one cycle per second
    walk = dataclasses.replace(WalkVariation.sample(rng), cadence_factor=1.0, phase0=0.0)
    a = joint_angles(style, walk, Carry(), 51, 25.0)
    np.testing.assert_allclose(a["phase"][[0, 25, 50]], [0.0, 1.0, 2.0])
    np.testing.assert_allclose(a["hip.R"][0], a["hip.R"][25], atol=1e-9)
    # The left leg is half a cycle behind the right (plus this person's small asymmetry).
    assert np.corrcoef(a["hip.R"][:25], a["hip.L"][:25])[0, 1] < -0.5
    # The arm swings against the same-side leg.
    assert np.corrcoef(a["hip.R"], a["shoulder.R"])[0, 1] < -0.5
    with pytest.raises(ValueError, match="need num_frames >= 1"):
        joint_angles(style, walk, Carry(), 0, 25.0)


def test_cameras_stand_on_a_half_circle() -> None:
    front, side, back = casia_camera(0), casia_camera(90), casia_camera(180)
    np.testing.assert_allclose(front.position[:2], [0, -8.0], atol=1e-9)  # ahead of a walker going -y
    np.testing.assert_allclose(side.position[:2], [8.0, 0], atol=1e-9)
    np.testing.assert_allclose(back.position[:2], [0, 8.0], atol=1e-9)
    xy, depth = side.project(np.array([[0.0, 0.0, 0.9]]))
    np.testing.assert_allclose(xy[0], [159.5, 119.5], atol=1e-3)  # it looks at the middle of the walk
    with pytest.raises(ValueError, match="view must be in 0..180"):
        casia_camera(200)


def test_noise_model_is_seeded_and_changes_boundaries() -> None:
    masks = np.zeros((20, 60, 40), bool)
    masks[:, 10:50, 15:25] = True
    a = apply_noise(masks, "casia", np.random.default_rng(1))
    b = apply_noise(masks, "casia", np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)
    assert (a != masks).any()
    np.testing.assert_array_equal(apply_noise(masks, "none", np.random.default_rng(1)), masks)
    with pytest.raises(ValueError, match="unknown noise model"):
        apply_noise(masks, "heavy", np.random.default_rng(1))
