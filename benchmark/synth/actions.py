"""Short rendered clips of the synthetic world's people doing one of a few actions, to train an action model.

The ``video-synth`` scorer (:mod:`benchmark.scorers.action`) needs a classifier that tells walking from other
things people do; it is trained on these clips, never on anonymized output. Actions (:data:`ACTIONS`):

``walk``   the world's own walk (:func:`benchmark.synth.gait.joint_angles` with the person's style).
``run``    the same machinery with a runner's style (:func:`run_style`) plus a flight phase: the body leaves
           the floor twice per cycle.
``stand``  neutral angles with postural sway, breathing and a weight shift onto one leg.
``jump``   repeated vertical jumps: squat (hip, knee and ankle flex together), push off, a ballistic flight
           whose apex falls near the middle of the clip, land.
``turn``   turning on the spot while stepping in place (the walk with small hip amplitude); the heading
           changes by 60-150 degrees per second.

A clip is one person (a world subject numbered 1000 + ``subject_seed``: no world holds more than 999 people,
so none of these people is in any world), dressed as in ``nm``, ``bg`` or ``cl`` walks, seen by a camera
placed like one of CASIA-B's (any view 0..180 degrees, a few decimetres of jitter), in front of a random room,
at a random place on the walking line. Frames are rendered at ``size`` (default 120x160: CASIA-B's
camera at half resolution). Everything is a pure function of ``(ACTIONS_VERSION, seed, subject_seed, action,
view)``.

Posing, dressing and placing follow :func:`benchmark.synth.walker.simulate_walk` step by step (its dressing is
mirrored in :func:`_dress`, and a test checks that a ``walk`` here equals ``simulate_walk``'s up to where it
is placed); the motions other than ``walk`` are the only new code.

Dataset layout written by :func:`generate_actions`::

    DIR/manifest.json                     version, config and every clip (action, subject, view, seed)
    DIR/clips/walk/walk-00000.npz         ``frames`` uint8 (T, H, W, 3) RGB
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import json
import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.io import atomic_path, write_json
from benchmark.synth import GENERATOR_VERSION
from benchmark.synth.appearance import body_girth, clothing_offsets, coat_skirt, vertex_albedo
from benchmark.synth.body import REGIONS, BodyModel
from benchmark.synth.gait import Carry, GaitStyle, WalkVariation, bone_rotations, joint_angles
from benchmark.synth.raster import _vertex_normals
from benchmark.synth.scene import casia_camera, render_background
from benchmark.synth.walker import Subject, Walk, _bag_vertices, _carry, render_walk
from benchmark.synth.world import FPS, calibrate_height, sample_subject

ACTIONS: tuple[str, ...] = ("walk", "run", "stand", "jump", "turn")
#: part of every random stream of this module; a new version gives new clips
ACTIONS_VERSION = 1
#: action people are world subjects from this index on (worlds hold at most 999)
SUBJECT_INDEX = 1000
DEFAULT_SIZE = (120, 160)
CLIP_FRAMES = 16
G = 9.81  # m/s^2


def _rng(*keys: int) -> np.random.Generator:
    return np.random.default_rng([int(GENERATOR_VERSION), ACTIONS_VERSION, *[int(k) for k in keys]])


def _check_action(action: str) -> int:
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; known: {', '.join(ACTIONS)}")
    return ACTIONS.index(action)


# --------------------------------------------------------------------------------------------- motions


@dataclasses.dataclass
class Motion:
    """Joint angles in :func:`~benchmark.synth.gait.joint_angles`' form and how the body moves in the room.

    ``speed`` is metres per second along the facing direction (None: measured from the stance foot, clipped
    to ``speed_range``, as the world's walks do); ``yaw_rate`` turns the body (degrees/s, +: to its left);
    ``lift`` (metres, ``(T,)``) raises it off the floor (flight); ``pin_feet`` keeps the midpoint of the ankles
    in place over the clip, so that a squat moves the pelvis back instead of sliding the feet; ``cadence`` is
    in steps per minute (0 when the feet do not step).
    """

    angles: dict[str, np.ndarray]
    style: GaitStyle
    speed: float | None = 0.0
    speed_range: tuple[float, float] = (0.0, 0.0)
    yaw_rate: float = 0.0
    lift: np.ndarray | None = None
    pin_feet: bool = False
    cadence: float = 0.0


def _arms(carry: Carry, side: str, shoulder: np.ndarray, elbow: np.ndarray, rest: float) -> tuple[np.ndarray, ...]:
    # A hand holding a bag swings less about its rest angle and keeps its elbow, as in the world's walks.
    scale = carry.arm_scale_right if side == "R" else carry.arm_scale_left
    fixed = carry.elbow_right if side == "R" else carry.elbow_left
    shoulder = rest + (shoulder - rest) * scale
    return shoulder, (np.full_like(elbow, fixed) if fixed is not None else elbow)


def run_style(style: GaitStyle, rng: np.random.Generator) -> GaitStyle:
    """A person's walking style turned into running (Novacheck, "The biomechanics of running", 1998).

    Running has a cadence of 160-185 steps/min, 1.55-1.85x the hip range of walking with more mean flexion,
    a stance knee flexion near 40 degrees and a swing peak near 100, a stronger arm swing with the elbows
    bent (anny's elbow table ends at 67 degrees) and more forward lean.
    """
    return dataclasses.replace(
        style,
        cadence=float(rng.uniform(160, 185)),
        hip_scale=style.hip_scale * float(rng.uniform(1.55, 1.85)),
        hip_offset=style.hip_offset + float(rng.uniform(3, 8)),
        knee_swing=float(rng.uniform(90, 110)),
        knee_loading=float(rng.uniform(32, 45)),
        ankle_scale=style.ankle_scale * 1.3,
        arm_swing=float(rng.uniform(45, 80)),
        elbow_flex=float(rng.uniform(55, 67)),
        elbow_swing=float(rng.uniform(3, 8)),
        trunk_lean=style.trunk_lean + float(rng.uniform(4, 10)),
        lateral_sway=style.lateral_sway * 0.6,
    )


def _walk(style: GaitStyle, var: WalkVariation, carry: Carry, n: int, rng: np.random.Generator) -> Motion:
    return Motion(joint_angles(style, var, carry, n, FPS), style, speed=None, speed_range=(0.5, 2.2),
                  cadence=style.cadence * var.cadence_factor)


def _run(style: GaitStyle, var: WalkVariation, carry: Carry, n: int, rng: np.random.Generator) -> Motion:
    run = run_style(style, rng)
    angles = joint_angles(run, var, carry, n, FPS)
    # Flight twice per cycle, centred just before each heel strike (phase 0 right, 0.5 left); the body is on
    # the floor for the other half of the time (a duty factor of 0.25 per foot).
    height = float(rng.uniform(0.04, 0.09))
    lift = height * np.clip(np.cos(4 * np.pi * (angles["phase"] - 0.4)), 0.0, None)
    return Motion(angles, run, speed=None, speed_range=(1.5, 5.0), lift=lift, cadence=run.cadence * var.cadence_factor)


def _osc(rng: np.random.Generator, t: np.ndarray, amplitude: float, f_lo: float, f_hi: float) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * (rng.uniform(f_lo, f_hi) * t + rng.random()))


def _stand(style: GaitStyle, var: WalkVariation, carry: Carry, n: int, rng: np.random.Generator) -> Motion:
    t = np.arange(n) / FPS
    weight = int(rng.integers(-1, 2))  # the leg carrying the weight: +1 right, -1 left, 0 both
    angles: dict[str, np.ndarray] = {"phase": np.zeros(n)}
    rest = style.arm_offset + var.arm_delta
    for side, sgn in (("R", 1), ("L", -1)):
        # Foot flat: knee flexion = hip flexion + ankle dorsiflexion; the unloaded leg bends its knee.
        hip = rng.uniform(-1, 4) + _osc(rng, t, 1.0, 0.1, 0.4)
        ankle = rng.uniform(0, 3) + _osc(rng, t, 0.7, 0.1, 0.4)
        relaxed = rng.uniform(6, 14) if weight == -sgn else 0.0
        shoulder = rest + _osc(rng, t, 2.5, 0.2, 0.6)
        elbow = style.elbow_flex + _osc(rng, t, 3.0, 0.2, 0.6)
        angles[f"hip.{side}"] = hip
        angles[f"knee.{side}"] = hip + ankle + relaxed
        angles[f"ankle.{side}"] = ankle
        angles[f"shoulder.{side}"], angles[f"elbow.{side}"] = _arms(carry, side, shoulder, elbow, rest)
    angles["pelvis_obliquity"] = 3.0 * weight + _osc(rng, t, 0.5, 0.1, 0.4)  # right side up when on the right
    angles["pelvis_yaw"] = _osc(rng, t, 1.5, 0.1, 0.3)
    # Breathing (12-20 per minute) bends the trunk a little; the head looks about.
    angles["trunk_lean"] = style.trunk_lean * 0.5 + carry.extra_lean + _osc(rng, t, 0.7, 0.2, 0.33)
    angles["head_pitch"] = style.head_pitch + _osc(rng, t, 3.0, 0.1, 0.5)
    angles["sway"] = _osc(rng, t, 0.01, 0.1, 0.5)  # postural sway, about a centimetre
    return Motion(angles, style, pin_feet=True)


def _jump(style: GaitStyle, var: WalkVariation, carry: Carry, n: int, rng: np.random.Generator) -> Motion:
    t = np.arange(n) / FPS
    height = float(rng.uniform(0.12, 0.4))  # apex of the feet above the floor, m
    flight = 2.0 * np.sqrt(2.0 * height / G)  # 0.31-0.57 s
    ground = float(rng.uniform(0.3, 0.55))  # landing to take-off: absorb, then push
    period = flight + ground
    depth = float(rng.uniform(0.6, 1.0))
    apex = ((n - 1) / 2 + rng.uniform(-2, 2)) / FPS  # one flight's apex near the middle of the clip
    tau = (t - apex) % period  # time since the last apex
    s = np.where(tau < period / 2, tau, tau - period)  # signed time from the nearest apex
    airborne = np.abs(s) < flight / 2
    lift = np.where(airborne, np.clip(height - G / 2 * s**2, 0.0, None), 0.0)
    u = np.clip((tau - flight / 2) / ground, 0.0, 1.0)
    squat = np.where(airborne, 0.0, np.sin(np.pi * u))  # 0 at landing and take-off, 1 at the deepest point
    toes = np.where(airborne, np.cos(np.pi * s / flight), 0.0)  # pointed in the air
    hip = 3.0 + depth * 70.0 * squat
    ankle = 2.0 + depth * 30.0 * squat - 20.0 * toes
    knee = hip + np.maximum(ankle, 2.0) + 8.0 * toes  # feet flat on the floor, knees a little bent in the air
    rest = style.arm_offset + var.arm_delta
    # Arms back in the squat, swung forward and up through take-off to the apex.
    up = float(rng.uniform(30, 150))
    shoulder = rest + up * np.cos(np.pi * s / period) ** 2 - depth * 45.0 * squat
    elbow = style.elbow_flex + 15.0 * squat
    angles: dict[str, np.ndarray] = {"phase": tau / period}
    for side in "RL":
        angles[f"hip.{side}"], angles[f"knee.{side}"], angles[f"ankle.{side}"] = hip, knee, ankle
        angles[f"shoulder.{side}"], angles[f"elbow.{side}"] = _arms(carry, side, shoulder, elbow, rest)
    zero = np.zeros(n)
    angles.update(pelvis_obliquity=zero, pelvis_yaw=zero, sway=zero,
                  trunk_lean=style.trunk_lean + carry.extra_lean + depth * 35.0 * squat,
                  head_pitch=np.full(n, style.head_pitch))
    return Motion(angles, style, lift=lift, pin_feet=True)


def _turn(style: GaitStyle, var: WalkVariation, carry: Carry, n: int, rng: np.random.Generator) -> Motion:
    # Turning on the spot, stepping in place: the walk with a small hip range, the knees still lifting the feet.
    # (Walking a tight arc was tried as a second kind of turn: held-out walks were then taken for turns half of
    # the time, since a 16-frame arc is a walk; a straight walk's P(walk) is what the scorer must get right.)
    rate = float(rng.uniform(60, 150) * rng.choice([-1, 1]))
    step = dataclasses.replace(
        style,
        cadence=float(rng.uniform(90, 120)),
        hip_scale=style.hip_scale * float(rng.uniform(0.25, 0.4)),
        hip_offset=style.hip_offset - 4.0,
        knee_swing=float(rng.uniform(35, 50)),
        arm_swing=style.arm_swing * 0.3,
        pelvis_rotation=style.pelvis_rotation * 0.5,
    )
    return Motion(joint_angles(step, var, carry, n, FPS), step, yaw_rate=rate, pin_feet=True,
                  cadence=step.cadence * var.cadence_factor)


_MOTIONS: dict[str, Callable[[GaitStyle, WalkVariation, Carry, int, np.random.Generator], Motion]] = {
    "walk": _walk, "run": _run, "stand": _stand, "jump": _jump, "turn": _turn,
}


# --------------------------------------------------------------------------------------------- simulation


def _ankles(body: BodyModel, transforms: np.ndarray, heads: np.ndarray) -> np.ndarray:
    """Ankle positions ``(2, T, 3)`` (left, right) in the model frame."""
    out = []
    for side in "LR":
        j = body.bone_index(f"foot.{side}")
        m = transforms[:, j]
        out.append(m[:, :3, :3] @ heads[j] + m[:, :3, 3])
    return np.stack(out)


def stance_speed(ankles: np.ndarray, fps: float) -> float:
    """Median backward (+y) speed of the lower ankle while it stays the lower one: the walking speed, m/s.

    As :func:`benchmark.synth.walker.simulate_walk` measures it (the foot on the floor does not slide).
    """
    stance = ankles[..., 2].argmin(axis=0)  # (T,)
    same = stance[1:] == stance[:-1]
    vy = np.diff(ankles[..., 1], axis=1)[stance[:-1], np.arange(ankles.shape[1] - 1)] * fps
    return float(np.median(vy[same])) if same.any() else 1.2


def _dress(body: BodyModel, subject: Subject, posed: Any, heads: np.ndarray, bag: Any, coat: Any
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Clothes, hair, coat skirt and bag on a posed body, as in ``simulate_walk``.

    Returns all vertices ``float32 (T, V', 3)`` (model frame), faces ``int32``, albedo ``float32 (V', 3)`` and
    the body's own vertices' lowest point per frame ``(T,)`` (what stands on the floor).
    """
    rest = posed.rest_vertices
    verts = posed.vertices.copy()
    normals = np.empty_like(verts[0])
    offsets = clothing_offsets(body, rest, heads, subject.outfit, coat) + body_girth(body, subject.girth)
    for i in range(len(verts)):
        _vertex_normals(verts[i], body.faces, normals)
        verts[i] += normals * offsets[:, None]
    faces, parts = [body.faces], [verts]
    colours = [vertex_albedo(body, rest, heads, subject.outfit, coat)]
    n = verts.shape[1]
    if coat is not None:
        legs = np.isin(body.region, [REGIONS.index(r) for r in ("hips", "upperleg", "lowerleg")])
        hip_j = body.bone_index("upperleg01.L")
        m = posed.bone_transforms[:, hip_j]
        hip_z = (m[:, :3, :3] @ heads[hip_j] + m[:, :3, 3])[:, 2] + 0.06
        sv, sf = coat_skirt(verts, legs, hip_z, coat)
        parts.append(sv)
        faces.append(sf + n)
        colours.append(np.tile(np.asarray(coat.colour, np.float32) * 0.92, (sv.shape[1], 1)))
        n += sv.shape[1]
    if bag is not None:
        bv, bf = _bag_vertices(body, bag, rest, heads, posed.bone_transforms)
        parts.append(bv)
        faces.append(bf + n)
        colours.append(np.tile(np.asarray(bag.colour, np.float32), (bv.shape[1], 1)))
    allv = np.concatenate(parts, axis=1)
    return (allv, np.concatenate(faces).astype(np.int32), np.concatenate(colours).astype(np.float32),
            verts[..., 2].min(axis=1))


def _yaw_matrices(degrees: np.ndarray) -> np.ndarray:
    h = np.deg2rad(degrees)
    c, s, z, o = np.cos(h), np.sin(h), np.zeros_like(h), np.ones_like(h)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


@dataclasses.dataclass
class ActionSim:
    """A simulated clip: the mesh sequence (a :class:`~benchmark.synth.walker.Walk`) and what was drawn.

    ``info`` (JSON-ready): ``action``, ``condition`` (``nm``/``bg``/``cl``), ``speed`` (m/s), ``heading``
    (degrees), ``yaw_rate`` (degrees/s), ``cadence`` (steps/min), ``lift_max`` (m), ``position`` (metres,
    mid-clip, x and y).
    """

    walk: Walk
    info: dict[str, Any]


def simulate_action(body: BodyModel, subject: Subject, action: str, rng: np.random.Generator,
                    frames: int = CLIP_FRAMES) -> ActionSim:
    """Pose, dress and place ``subject`` doing ``action`` for ``frames`` frames at 25 fps.

    Parameters
    ----------
    body : BodyModel
    subject : Subject
        With a calibrated phenotype (see :func:`benchmark.synth.world.calibrate_height`).
    action : str
        One of :data:`ACTIONS`.
    rng : numpy Generator
        Every random choice of the clip (clothes condition, variation, motion, place, heading).
    frames : int

    Returns
    -------
    ActionSim
        Vertices in the world frame, the feet on the floor ``z = 0`` unless airborne.
    """
    _check_action(action)
    if frames < 2:
        raise ValueError(f"a clip needs at least 2 frames, got {frames}")
    # Dressed as in the world's conditions: most clips in everyday clothes, some with a bag or a coat.
    kind = str(rng.choice(["nm", "bg", "cl"], p=[0.6, 0.2, 0.2]))
    bag = subject.bag.varied(rng) if kind == "bg" else None
    coat = subject.coat if kind == "cl" else None
    carry = _carry(bag, coat)
    motion = _MOTIONS[action](subject.style, WalkVariation.sample(rng), carry, frames, rng)
    posed = body.pose(subject.phenotype, bone_rotations(motion.style, motion.angles, carry))
    heads = body.rest(subject.phenotype)[1]
    ankles = _ankles(body, posed.bone_transforms, heads)
    speed = motion.speed
    if speed is None:
        speed = float(np.clip(stance_speed(ankles, FPS), *motion.speed_range))
    allv, faces, albedo, ground = _dress(body, subject, posed, heads, bag, coat)

    lift = np.zeros(frames) if motion.lift is None else motion.lift
    allv[..., 0] += motion.angles["sway"][:, None]
    allv[..., 2] += (lift - ground)[:, None]
    if motion.pin_feet:
        allv[..., :2] -= (ankles[..., :2].mean(axis=0) - ankles[:, :1, :2].mean(axis=0))[:, None]
    # Walks and runs go either way along the walking line (a few degrees off it); other actions face anywhere.
    if action in ("walk", "run"):
        heading = float(np.clip(rng.normal(0.0, 4.0), -10.0, 10.0) + 180.0 * rng.integers(0, 2))
    else:
        heading = float(rng.uniform(0.0, 360.0))
    yaw = heading + motion.yaw_rate * np.arange(frames) / FPS  # (T,)
    rot = _yaw_matrices(yaw).astype(np.float32)  # (T, 3, 3)
    allv = np.einsum("tij,tvj->tvi", rot, allv)
    # The body faces -y in its frame: it moves along R(yaw) @ (0, -1), from a place drawn on the walking line.
    facing = np.stack([np.sin(np.deg2rad(yaw)), -np.cos(np.deg2rad(yaw))], -1)  # (T, 2)
    path = np.concatenate([np.zeros((1, 2)), np.cumsum(facing[:-1] * speed / FPS, axis=0)])
    middle = np.array([np.clip(rng.normal(0.0, 0.2), -0.5, 0.5), rng.uniform(-1.0, 1.0)])
    path += middle - path[frames // 2]
    allv[..., :2] += path[:, None].astype(np.float32)

    feet = body.region == REGIONS.index("foot")
    shadow = body.faces[feet[body.faces].all(axis=1)]
    info = {"action": action, "condition": kind, "speed": round(speed, 4), "heading": round(heading, 3),
            "yaw_rate": round(motion.yaw_rate, 3), "cadence": round(motion.cadence, 3),
            "lift_max": round(float(lift.max()), 4), "position": [round(float(v), 4) for v in middle]}
    return ActionSim(Walk(allv.astype(np.float32), faces, albedo, shadow, speed), info)


# --------------------------------------------------------------------------------------------- rendering

_BODY: BodyModel | None = None


def _body() -> BodyModel:
    global _BODY
    if _BODY is None:
        _BODY = BodyModel()
    return _BODY


@functools.lru_cache(maxsize=64)
def action_subject(subject_seed: int) -> Subject:
    """The person of ``subject_seed``: world subject ``SUBJECT_INDEX`` of the world ``subject_seed``, calibrated."""
    if subject_seed < 0:
        raise ValueError(f"subject_seed must be >= 0, got {subject_seed}")
    s = sample_subject(subject_seed, SUBJECT_INDEX)
    return dataclasses.replace(s, phenotype=calibrate_height(_body(), s.phenotype))


@dataclasses.dataclass
class ActionClip:
    """A rendered clip: ``frames`` uint8 (T, H, W, 3) RGB, ``silhouettes`` bool (T, H, W), and ``info``."""

    frames: np.ndarray
    silhouettes: np.ndarray
    info: dict[str, Any]


def render_action(action: str, subject_seed: int, view: int, frames: int = CLIP_FRAMES,
                  size: tuple[int, int] = DEFAULT_SIZE, seed: int = 0) -> ActionClip:
    """Render one person doing ``action``, seen from ``view``; see :func:`render_action_clip`."""
    index = _check_action(action)
    if not 0 <= view <= 180:
        raise ValueError(f"view must be in 0..180 degrees, got {view}")
    h, w = size
    if h < 8 or w < 8:
        raise ValueError(f"size must be at least 8x8 pixels, got {size}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    rng = _rng(seed, subject_seed, index, view)
    subject = action_subject(subject_seed)
    sim = simulate_action(_body(), subject, action, rng, frames)
    # CASIA-B's camera (320x240, focal 480 px) scaled to this size, a little nearer or farther, higher or lower.
    cam = casia_camera(view, distance=float(rng.uniform(7.5, 8.5)), height=float(rng.uniform(1.0, 1.2)))
    cam = dataclasses.replace(cam, focal=cam.focal * h / 240.0, size=(h, w))
    background = render_background(cam, rng)
    rgb, masks = render_walk(sim.walk, cam, background)
    info = {**sim.info, "subject_seed": subject_seed, "view": view, "seed": seed}
    return ActionClip(rgb, masks, info)


def render_action_clip(action: str, subject_seed: int, view: int, frames: int = CLIP_FRAMES,
                       size: tuple[int, int] = DEFAULT_SIZE, seed: int = 0) -> np.ndarray:
    """RGB frames of one rendered person doing ``action``.

    Parameters
    ----------
    action : str
        One of :data:`ACTIONS`.
    subject_seed : int
        Which person (>= 0): body, gait style, clothes.
    view : int
        Camera direction in degrees, 0..180, as CASIA-B's views (0 faces the walking line's approach end).
    frames : int
        Clip length at 25 fps.
    size : (int, int)
        ``(H, W)``; CASIA-B's camera is scaled to it (120x160 = half its 240x320).
    seed : int
        Everything else of the clip: motion, clothes condition, place, heading, camera jitter, room.

    Returns
    -------
    ndarray, uint8 (frames, H, W, 3)
        The same arguments give the same frames.
    """
    return render_action(action, subject_seed, view, frames, size, seed).frames


# --------------------------------------------------------------------------------------------- the dataset


@dataclasses.dataclass(frozen=True)
class ActionDataConfig:
    """What :func:`generate_actions` writes: ``clips_per_class`` clips of each of ``actions``.

    Clip ``i`` of an action shows person ``i % subjects`` from a view drawn uniformly in 0..180 degrees, with
    its own seed derived from ``(seed, action, i)``.
    """

    clips_per_class: int
    subjects: int
    seed: int = 0
    frames: int = CLIP_FRAMES
    size: tuple[int, int] = DEFAULT_SIZE
    actions: tuple[str, ...] = ACTIONS

    def __post_init__(self) -> None:
        if self.clips_per_class < 1:
            raise ValueError(f"clips_per_class must be >= 1, got {self.clips_per_class}")
        if self.subjects < 1:
            raise ValueError(f"subjects must be >= 1, got {self.subjects}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")
        if self.frames < 2:
            raise ValueError(f"frames must be >= 2, got {self.frames}")
        for a in self.actions:
            _check_action(a)
        if len(set(self.actions)) != len(self.actions) or len(self.actions) < 2:
            raise ValueError(f"actions must be at least two distinct names, got {list(self.actions)}")


def clip_plan(config: ActionDataConfig) -> list[dict[str, Any]]:
    """Every clip of the dataset: ``file`` (relative), ``action``, ``label``, ``subject``, ``view``, ``seed``."""
    out = []
    for label, action in enumerate(config.actions):
        for i in range(config.clips_per_class):
            rng = _rng(config.seed, ACTIONS.index(action), i, 7)
            out.append({
                "file": f"clips/{action}/{action}-{i:05d}.npz",
                "action": action,
                "label": label,
                "subject": i % config.subjects,
                "view": int(rng.integers(0, 181)),
                "seed": int(rng.integers(0, 2**31 - 1)),
            })
    return out


def _write_clip(config: ActionDataConfig, out: Path, clip: dict[str, Any]) -> bool:
    path = out / clip["file"]
    if path.exists():
        return False
    frames = render_action_clip(clip["action"], clip["subject"], clip["view"], config.frames, config.size,
                                clip["seed"])
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez_compressed(tmp, frames=frames)
    return True


def _task(config: ActionDataConfig, out: str, clips: list[dict[str, Any]]) -> int:
    return sum(_write_clip(config, Path(out), c) for c in clips)


def generate_actions(
    out_dir: str | os.PathLike[str],
    clips_per_class: int,
    subjects: int | None = None,
    seed: int = 0,
    frames: int = CLIP_FRAMES,
    size: tuple[int, int] = DEFAULT_SIZE,
    actions: Sequence[str] = ACTIONS,
    workers: int = 1,
    log: Callable[[str], None] | None = print,
) -> dict[str, Any]:
    """Render the action dataset into ``out_dir`` (resuming an interrupted run); returns its manifest.

    Parameters
    ----------
    out_dir : path
        Holds nothing yet, a partial run of the same dataset, or the finished dataset (then nothing is done);
        another dataset there is refused.
    clips_per_class, subjects, seed, frames, size, actions
        See :class:`ActionDataConfig`; ``subjects`` defaults to ``max(4, clips_per_class // 4)``.
    workers : int
        Processes (each builds the body model once, about 4 s); clips of one person go to one process.
    log : callable, optional

    Returns
    -------
    dict
        The manifest (also ``DIR/manifest.json``): ``config``, ``clips`` (see :func:`clip_plan`).
    """
    subjects = max(4, clips_per_class // 4) if subjects is None else subjects
    config = ActionDataConfig(clips_per_class, subjects, seed, frames, tuple(size), tuple(actions))  # type: ignore[arg-type]
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    out = Path(out_dir)
    plan = clip_plan(config)
    manifest = {"generator": "gaitbench.synth.actions", "generator_version": GENERATOR_VERSION,
                "actions_version": ACTIONS_VERSION, "fps": FPS, "config": dataclasses.asdict(config),
                "clips": plan}
    manifest = json.loads(json.dumps(manifest))
    mpath = out / "manifest.json"
    if mpath.exists():
        old = json.loads(mpath.read_text(encoding="utf-8"))
        if old != manifest:
            raise ValueError(
                f"{out} holds another action dataset (config {old.get('config')}); choose another data folder "
                "or delete that one"
            )
    else:
        out.mkdir(parents=True, exist_ok=True)
        write_json(mpath, manifest)
    todo = [c for c in plan if not (out / c["file"]).exists()]
    start = time.perf_counter()
    if log:
        log(f"actions: {len(todo)} of {len(plan)} clips to render -> {out} ({workers} workers)")
    by_subject: dict[int, list[dict[str, Any]]] = {}
    for c in todo:
        by_subject.setdefault(c["subject"], []).append(c)
    done = 0
    if workers == 1 or len(by_subject) < 2:
        for clips in by_subject.values():
            done += _task(config, str(out), clips)
            if log:
                log(f"  {done}/{len(todo)} clips, {time.perf_counter() - start:.0f} s")
    else:
        # Build anny's cache (on a fresh machine about a minute) here, once, before the workers read it.
        _body()
        ctx = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(min(workers, len(by_subject)), mp_context=ctx) as ex:
            futures = [ex.submit(_task, config, str(out), clips) for clips in by_subject.values()]
            for fut in concurrent.futures.as_completed(futures):
                done += fut.result()
                if log:
                    log(f"  {done}/{len(todo)} clips, {time.perf_counter() - start:.0f} s")
    if log:
        log(f"actions: rendered {done} clips in {time.perf_counter() - start:.1f} s")
    return manifest


def read_manifest(data_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of an action dataset; ``FileNotFoundError`` saying how to make one when absent."""
    path = Path(data_dir) / "manifest.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: render the action dataset first (gaitbench action-model)")
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("generator") != "gaitbench.synth.actions":
        raise ValueError(f"{path} is not the manifest of a gaitbench action dataset")
    return manifest
