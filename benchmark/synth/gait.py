"""A procedural human walking cycle shaped like normative gait curves, with per-subject style.

Sagittal joint angles over the gait cycle (0 = right heel strike) follow the textbook adult curves (Perry &
Burnfield, *Gait Analysis*, 2010; Winter, *Biomechanics and Motor Control of Human Movement*, 2009): the hip
flexes about 30 degrees at heel strike and extends to about -10 at terminal stance; the knee has a loading
peak of about 18 degrees and a swing peak of about 60; the ankle plantarflexes at loading, dorsiflexes
through stance and plantarflexes about 18 degrees at toe-off. The key points below are read off those curves,
interpolated periodically and kept to their first :data:`HARMONICS` Fourier harmonics, which keeps them
smooth; each subject then scales and perturbs them (a personal curve shape), and each sequence varies a
little again (speed, start phase, swing amplitudes), as repeated walks of one person do.

Angles are in degrees in this module and converted to bone rotations in :func:`bone_rotations`.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.interpolate import CubicSpline

from benchmark.synth.body import rotation_xyz

HARMONICS = 6

# (percent of the gait cycle from right heel strike, angle in degrees) for the right leg.
_KEYPOINTS: dict[str, list[tuple[float, float]]] = {
    # flexion positive
    "hip": [(0, 30), (10, 27), (30, 9), (50, -9), (58, -6), (70, 12), (85, 32), (92, 33), (100, 30)],
    # flexion positive
    "knee": [(0, 4), (15, 18), (30, 10), (42, 5), (55, 14), (62, 36), (72, 60), (82, 45), (92, 12),
             (100, 4)],
    # dorsiflexion positive
    "ankle": [(0, 0), (7, -6), (20, 3), (45, 10), (55, 2), (62, -17), (70, -10), (80, 0), (90, 2),
              (100, 0)],
    # pelvic obliquity, right side up positive
    "obliquity": [(0, 0), (15, 4), (35, 1), (50, 0), (65, -4), (85, -1), (100, 0)],
}


def _fourier(points: list[tuple[float, float]], harmonics: int = HARMONICS) -> np.ndarray:
    """Fourier coefficients ``[a0, a1, b1, a2, b2, ...]`` of a periodic spline through key points."""
    p = np.array(points, dtype=float)
    spline = CubicSpline(p[:, 0] / 100.0, p[:, 1], bc_type="periodic")
    phase = np.arange(256) / 256.0
    spec = np.fft.rfft(spline(phase)) / 256.0
    coef = [spec[0].real]
    for k in range(1, harmonics + 1):
        coef += [2.0 * spec[k].real, -2.0 * spec[k].imag]
    return np.array(coef)


# Elbow angle between upper arm and forearm (degrees) -> rotation of ``lowerarm01`` about x (radians),
# measured on anny with the arm hanging down; 11 degrees is its fully extended carrying angle.
_ELBOW_TABLE = (
    np.array([11.3, 12.0, 17.5, 25.2, 33.6, 42.1, 50.5, 58.9, 67.0]),
    np.array([0.9, 0.8, 0.6, 0.4, 0.2, 0.0, -0.2, -0.4, -0.6]),
)

NORMATIVE: dict[str, np.ndarray] = {name: _fourier(pts) for name, pts in _KEYPOINTS.items()}


def fourier_eval(coef: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """Evaluate ``[a0, a1, b1, ...]`` at ``phase`` (cycles, float (T,)): ``float64 (T,)``."""
    out = np.full(np.shape(phase), coef[0], dtype=float)
    for k in range(1, (len(coef) - 1) // 2 + 1):
        arg = 2.0 * np.pi * k * phase
        out += coef[2 * k - 1] * np.cos(arg) + coef[2 * k] * np.sin(arg)
    return out


@dataclasses.dataclass(frozen=True)
class GaitStyle:
    """A person's way of walking (angles in degrees). Ranges in :meth:`sample` follow adult gait studies."""

    cadence: float  # steps per minute
    hip_scale: float  # scales the hip flexion range, hence stride length
    hip_offset: float
    knee_swing: float  # peak swing knee flexion
    knee_loading: float  # loading-response knee flexion peak
    ankle_scale: float
    arm_swing: float  # shoulder flexion range, peak to peak
    arm_offset: float  # mean shoulder flexion
    arm_abduction: float
    elbow_flex: float  # mean elbow flexion
    elbow_swing: float
    trunk_lean: float  # forward
    head_pitch: float
    pelvis_rotation: float  # amplitude about the vertical
    pelvis_obliquity: float  # scale of the normative obliquity
    lateral_sway: float  # metres, amplitude of the side-to-side shift
    hip_abduction: float  # mean hip abduction; negative (adduction) brings the feet under the body
    toe_out: float
    asym_amplitude: float  # left/right amplitude ratio - 1
    asym_phase: float  # left leg phase offset, cycles
    personal: tuple[tuple[float, ...], ...]  # per-curve harmonic perturbations: hip, knee, ankle, arm

    @staticmethod
    def sample(rng: np.random.Generator, weight: float = 0.5) -> GaitStyle:
        """Draw a style; ``weight`` (anny's phenotype, 0..1) widens the arm abduction as bodies do."""

        def n(mu: float, sd: float, lo: float, hi: float) -> float:
            return float(np.clip(rng.normal(mu, sd), lo, hi))

        def harmonics(sd: float) -> tuple[float, ...]:
            # Falling with the harmonic order, as measured gait curves' spectra do.
            return tuple(float(rng.normal(0.0, sd / k)) for k in (1, 1, 2, 2, 3, 3))

        return GaitStyle(
            cadence=n(110, 7, 92, 128),
            hip_scale=n(1.0, 0.07, 0.82, 1.18),
            hip_offset=n(0, 3, -6, 6),
            knee_swing=n(60, 4.5, 50, 70),
            knee_loading=n(16, 3, 9, 23),
            ankle_scale=n(1.0, 0.18, 0.6, 1.4),
            arm_swing=n(32, 10, 10, 55),
            arm_offset=n(-2, 5, -12, 10),
            arm_abduction=n(7, 2.5, 2, 13) + 10.0 * weight,
            elbow_flex=n(22, 7, 13, 42),
            elbow_swing=n(12, 5, 2, 25),
            trunk_lean=n(4, 2.5, -2, 11),
            head_pitch=n(0, 5, -12, 12),
            pelvis_rotation=n(5, 2, 1, 10),
            pelvis_obliquity=n(1.0, 0.3, 0.3, 1.8),
            lateral_sway=n(0.025, 0.008, 0.008, 0.045),
            # The hip joints are about 20 cm apart and the feet land about 8-15 cm apart (step width), so
            # the legs converge by a few degrees.
            hip_abduction=n(-2.5, 1.2, -5.5, 1.0),
            toe_out=n(8, 4, -2, 18),
            asym_amplitude=n(0, 0.05, -0.12, 0.12),
            asym_phase=n(0, 0.012, -0.03, 0.03),
            personal=tuple(harmonics(sd) for sd in (2.5, 3.0, 2.0, 3.0)),
        )


@dataclasses.dataclass(frozen=True)
class WalkVariation:
    """How one walk of a person differs from another: speed, start phase, and small amplitude changes."""

    cadence_factor: float
    hip_factor: float
    arm_factor: float
    phase0: float  # gait phase at the first frame, cycles
    lean_delta: float  # degrees
    arm_delta: float  # degrees added to the mean shoulder flexion
    personal: tuple[tuple[float, ...], ...]

    @staticmethod
    def sample(rng: np.random.Generator) -> WalkVariation:
        def harmonics(sd: float) -> tuple[float, ...]:
            return tuple(float(rng.normal(0.0, sd / k)) for k in (1, 1, 2, 2, 3, 3))

        # Stride-to-stride and walk-to-walk variability of healthy adults: speed varies by about 5%, arm
        # swing far more than leg motion (it is the least constrained part of the gait).
        return WalkVariation(
            cadence_factor=float(np.clip(rng.normal(1.0, 0.05), 0.85, 1.15)),
            hip_factor=float(np.clip(rng.normal(1.0, 0.05), 0.85, 1.15)),
            arm_factor=float(np.clip(rng.normal(1.0, 0.2), 0.5, 1.5)),
            phase0=float(rng.random()),
            lean_delta=float(rng.normal(0.0, 1.5)),
            arm_delta=float(rng.normal(0.0, 4.0)),
            personal=tuple(harmonics(sd) for sd in (2.0, 2.5, 1.5, 4.0)),
        )


@dataclasses.dataclass(frozen=True)
class Carry:
    """How a load changes the walk: arm swing scales per side, a fixed elbow, extra lean."""

    arm_scale_left: float = 1.0
    arm_scale_right: float = 1.0
    elbow_left: float | None = None  # fixed elbow flexion (degrees) when the hand holds something
    elbow_right: float | None = None
    extra_abduction: float = 0.0
    extra_lean: float = 0.0


def _curve(name: str, phase: np.ndarray, personal: tuple[float, ...], extra: tuple[float, ...]) -> np.ndarray:
    coef = NORMATIVE[name].copy()
    coef[1:7] += np.asarray(personal) + np.asarray(extra)
    return fourier_eval(coef, phase)


def joint_angles(
    style: GaitStyle, walk: WalkVariation, carry: Carry, num_frames: int, fps: float
) -> dict[str, np.ndarray]:
    """Per-frame joint angles in degrees, each ``float64 (T,)``, and the gait phase.

    Keys: ``phase`` (cycles of the right leg), ``hip.R/L``, ``abd.R/L``, ``knee.R/L``, ``ankle.R/L``,
    ``shoulder.R/L``, ``elbow.R/L``, ``pelvis_yaw``, ``pelvis_obliquity``, ``trunk_lean``, ``head_pitch``,
    ``sway`` (metres, +x = the body's left).
    """
    if num_frames < 1 or fps <= 0:
        raise ValueError(f"need num_frames >= 1 and fps > 0, got {num_frames}, {fps}")
    t = np.arange(num_frames) / fps
    cycles_per_s = style.cadence * walk.cadence_factor / 120.0
    phase_r = walk.phase0 + cycles_per_s * t
    out: dict[str, np.ndarray] = {"phase": phase_r}
    hip_mean = NORMATIVE["hip"][0]
    for side, phase, amp in (("R", phase_r, 1.0 + style.asym_amplitude / 2),
                             ("L", phase_r + 0.5 + style.asym_phase, 1.0 - style.asym_amplitude / 2)):
        hip = _curve("hip", phase, style.personal[0], walk.personal[0])
        hip = hip_mean + (hip - hip_mean) * style.hip_scale * walk.hip_factor * amp + style.hip_offset
        knee = _curve("knee", phase, style.personal[1], walk.personal[1])
        # Stretch the two knee peaks towards this person's loading and swing flexion.
        swing_w = np.clip((knee - 20.0) / 40.0, 0.0, None)
        knee = knee + swing_w * (style.knee_swing - 60.0) * amp
        load_w = np.exp(-(((phase % 1.0) - 0.15) / 0.08) ** 2)
        knee = knee + load_w * (style.knee_loading - 18.0)
        ankle = _curve("ankle", phase, style.personal[2], walk.personal[2]) * style.ankle_scale
        arm_scale = carry.arm_scale_right if side == "R" else carry.arm_scale_left
        swing = 0.5 * style.arm_swing * walk.arm_factor * amp * arm_scale
        # The arm swings against the same-side leg, lagging it a little.
        shoulder = style.arm_offset + walk.arm_delta - swing * np.cos(2 * np.pi * (phase - 0.04))
        personal_arm = np.asarray(style.personal[3]) + np.asarray(walk.personal[3])
        shoulder = shoulder + fourier_eval(np.concatenate([[0.0], personal_arm]), phase) * arm_scale
        fixed = carry.elbow_right if side == "R" else carry.elbow_left
        if fixed is None:
            rel = shoulder - style.arm_offset - walk.arm_delta
            elbow = style.elbow_flex + style.elbow_swing * arm_scale * rel / max(swing, 1.0)
            elbow = np.maximum(elbow, 12.0)
        else:
            elbow = np.full_like(phase, fixed)
        out[f"hip.{side}"] = hip
        out[f"knee.{side}"] = np.maximum(knee, 0.0)
        out[f"ankle.{side}"] = ankle
        out[f"shoulder.{side}"] = shoulder
        out[f"elbow.{side}"] = elbow
    out["pelvis_yaw"] = style.pelvis_rotation * np.cos(2 * np.pi * phase_r)
    out["pelvis_obliquity"] = style.pelvis_obliquity * fourier_eval(NORMATIVE["obliquity"], phase_r)
    lean = style.trunk_lean + walk.lean_delta + carry.extra_lean
    # The trunk dips forward slightly at each loading response, twice per cycle.
    out["trunk_lean"] = lean + 1.0 * np.cos(4 * np.pi * (phase_r - 0.1))
    out["head_pitch"] = np.full_like(phase_r, style.head_pitch)
    out["sway"] = -style.lateral_sway * np.sin(2 * np.pi * (phase_r - 0.05))
    return out


def bone_rotations(style: GaitStyle, angles: dict[str, np.ndarray], carry: Carry) -> dict[str, np.ndarray]:
    """Bone rotation deltas for anny ('local-ref', world-aligned axes): bone -> ``float64 (T, 3, 3)``.

    Axis conventions of anny's frame: hip flexion is a rotation about -x, knee flexion about +x, ankle
    dorsiflexion about -x, forward trunk lean about +x, arm swing forward about -x; +y rotates a
    downward limb towards -x (adducts the left arm, abducts the right leg); +z turns the toes towards +x.
    """
    rad = np.deg2rad
    zero = np.zeros_like(angles["phase"])
    rot: dict[str, np.ndarray] = {}
    # The pelvis leads: rotation about the vertical, obliquity about the walking axis.
    rot["root"] = rotation_xyz(zero, rad(angles["pelvis_obliquity"]), rad(angles["pelvis_yaw"]))
    for side, sgn in (("L", 1.0), ("R", -1.0)):
        abd = rad(style.hip_abduction) * sgn  # outwards: -y for the left leg, +y for the right
        toe = rad(style.toe_out) * sgn
        # Rotations apply right to left: turn the leg out, abduct it, then flex it.
        hip = (
            rotation_xyz(rad(-angles[f"hip.{side}"]), zero, zero)
            @ rotation_xyz(zero, -abd + zero, zero)
            @ rotation_xyz(zero, zero, toe + zero)
        )
        rot[f"upperleg01.{side}"] = hip
        rot[f"lowerleg01.{side}"] = rotation_xyz(rad(angles[f"knee.{side}"]), zero, zero)
        rot[f"foot.{side}"] = rotation_xyz(rad(-angles[f"ankle.{side}"]), zero, zero)
        # anny's rest pose holds the arms about 42 degrees out (an A-pose) with bent elbows.
        add = rad(42.0 - style.arm_abduction - carry.extra_abduction) * sgn
        rot[f"upperarm01.{side}"] = (
            rotation_xyz(rad(-angles[f"shoulder.{side}"]), zero, zero)
            @ rotation_xyz(zero, add + zero, zero)
        )
        elbow = np.interp(angles[f"elbow.{side}"], _ELBOW_TABLE[0], _ELBOW_TABLE[1])
        rot[f"lowerarm01.{side}"] = rotation_xyz(elbow, zero, zero)
    # The trunk counter-rotates against the pelvis and leans forward; the spine shares the bend.
    lean = rad(angles["trunk_lean"]) / 3.0
    counter = rad(-1.3 * angles["pelvis_yaw"]) / 3.0
    level = rad(-angles["pelvis_obliquity"]) / 3.0
    for bone in ("spine05", "spine04", "spine03"):
        rot[bone] = rotation_xyz(lean, level, counter)
    # The head stays level whatever the trunk does, as the vestibular reflexes keep it.
    rot["neck01"] = rotation_xyz(rad(angles["head_pitch"]) - rad(angles["trunk_lean"]) * 0.8, zero, zero)
    return rot
