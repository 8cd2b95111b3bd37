"""One walk of one subject: pose the body over time, dress it, place it on the floor, render it per view.

A walk is simulated once and seen by all 11 cameras, as CASIA-B recorded each walk with 11 cameras at once.
The feet stay on the floor because each frame is lifted by its lowest vertex, and the walker's speed is the
speed at which the stance foot moves backwards under the body, so the foot on the ground does not slide.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from benchmark.synth.appearance import (
    Bag,
    Coat,
    Outfit,
    body_girth,
    clothing_offsets,
    coat_skirt,
    rounded_box,
    vertex_albedo,
)
from benchmark.synth.body import REGIONS, BodyModel
from benchmark.synth.gait import Carry, GaitStyle, WalkVariation, bone_rotations, joint_angles
from benchmark.synth.raster import _vertex_normals, rasterize_colour, rasterize_masks
from benchmark.synth.scene import Camera

LIGHT = np.array([0.25, -0.35, 0.9]) / np.linalg.norm([0.25, -0.35, 0.9])


@dataclasses.dataclass(frozen=True)
class Subject:
    """A person of the world: body shape, way of walking, clothes, bag and coat."""

    id: str
    phenotype: dict[str, float]
    style: GaitStyle
    outfit: Outfit
    bag: Bag
    coat: Coat
    girth: float = 0.0  # metres of soft tissue over (+) or under (-) anny's body of this phenotype


@dataclasses.dataclass(frozen=True)
class WalkSpec:
    """One recorded walk: condition (e.g. ``nm-01``), the walk's variation, what is carried or worn."""

    condition: str
    variation: WalkVariation
    lateral: float  # metres off the middle line, +x
    heading: float  # degrees about the vertical
    bag: Bag | None = None
    coat: Coat | None = None


@dataclasses.dataclass
class Walk:
    """A simulated walk in the world frame.

    Attributes
    ----------
    vertices : ndarray, float32 (T, V, 3)
        Body, bag and coat vertices per frame.
    faces : ndarray, int32 (F, 3)
    albedo : ndarray, float32 (V, 3)
    shadow_faces : ndarray, int32 (G, 3)
        The triangles of the feet, whose footprint shades the floor.
    speed : float
        Walking speed, m/s.
    """

    vertices: np.ndarray
    faces: np.ndarray
    albedo: np.ndarray
    shadow_faces: np.ndarray
    speed: float


def _carry(bag: Bag | None, coat: Coat | None) -> Carry:
    # A hand on a bag or its strap stops that arm's swing; a coat's sleeves hold the arms out a little.
    kw: dict[str, float | None] = {}
    if bag is not None:
        side = "left" if bag.side > 0 else "right"
        if bag.kind == "hand":
            kw[f"arm_scale_{side}"] = 0.3
            kw[f"elbow_{side}"] = 14.0
        elif bag.kind == "shoulder":
            kw[f"arm_scale_{side}"] = 0.6
        else:
            kw["arm_scale_left"] = kw["arm_scale_right"] = 0.85
            kw["extra_lean"] = 3.0
    if coat is not None:
        kw["extra_abduction"] = 4.0
        kw["arm_scale_left"] = float(kw.get("arm_scale_left") or 1.0) * 0.85
        kw["arm_scale_right"] = float(kw.get("arm_scale_right") or 1.0) * 0.85
    return Carry(**kw)  # type: ignore[arg-type]


def _bag_vertices(body: BodyModel, bag: Bag, rest: np.ndarray, heads: np.ndarray,
                  transforms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bag mesh per frame in the model frame: ``float32 (T, Vb, 3)`` and faces ``int32 (Fb, 3)``."""
    local, faces = rounded_box(bag.size)
    reg = body.region
    if bag.kind == "backpack":
        bone = body.bone_index("spine03")
        zc = heads[bone, 2] - 0.02
        near = (reg == REGIONS.index("torso")) & (np.abs(rest[:, 2] - zc) < 0.12)
        centre = np.array([0.0, rest[near, 1].max() + bag.size[1] / 2 + 0.005, zc])
    elif bag.kind == "shoulder":
        bone = body.bone_index("root")
        zc = heads[body.bone_index("upperleg01.L"), 2] + 0.02
        hips = np.isin(reg, [REGIONS.index("hips"), REGIONS.index("upperleg")])
        near = hips & (np.abs(rest[:, 2] - zc) < 0.1) & (np.sign(rest[:, 0]) == bag.side)
        centre = np.array([bag.side * (np.abs(rest[near, 0]).max() + bag.size[0] / 2 + 0.01), 0.03, zc])
    else:
        # A handbag hangs upright below the hand, wherever the hand is.
        wrist = body.bone_index("wrist.L" if bag.side > 0 else "wrist.R")
        m = transforms[:, wrist]
        hand = m[:, :3, :3] @ heads[wrist] + m[:, :3, 3]  # (T, 3)
        offset = np.array([0.0, 0.0, -bag.size[2] / 2 - 0.07])
        return (local[None] + (hand + offset)[:, None]).astype(np.float32), faces
    m = transforms[:, bone]  # (T, 4, 4)
    pts = local + centre
    return (pts @ m[:, :3, :3].transpose(0, 2, 1) + m[:, None, :3, 3]).astype(np.float32), faces


def simulate_walk(
    body: BodyModel,
    subject: Subject,
    spec: WalkSpec,
    fps: float = 25.0,
    path_length: float = 4.0,
    frame_range: tuple[int, int] = (75, 110),
) -> Walk:
    """Pose, dress and place one walk; the number of frames is the time to cover ``path_length``.

    Parameters
    ----------
    body : BodyModel
    subject : Subject
    spec : WalkSpec
    fps : float
    path_length : float
        Metres walked, centred on the middle of the room (before clipping to ``frame_range``).
    frame_range : (int, int)
        Least and most frames of the walk.

    Returns
    -------
    Walk
    """
    lo, hi = frame_range
    if not 1 <= lo <= hi:
        raise ValueError(f"frame_range must satisfy 1 <= min <= max, got {frame_range}")
    carry = _carry(spec.bag, spec.coat)
    angles = joint_angles(subject.style, spec.variation, carry, hi, fps)
    posed = body.pose(subject.phenotype, bone_rotations(subject.style, angles, carry))
    rest, heads = posed.rest_vertices, body.rest(subject.phenotype)[1]

    # Speed: how fast the stance ankle moves backwards (+y) under the body while it is lowest.
    ankles = []
    for side in "LR":
        j = body.bone_index(f"foot.{side}")
        m = posed.bone_transforms[:, j]
        ankles.append(m[:, :3, :3] @ heads[j] + m[:, :3, 3])
    ank = np.stack(ankles)  # (2, T, 3)
    stance = ank[..., 2].argmin(axis=0)  # (T,)
    same = stance[1:] == stance[:-1]
    vy = np.diff(ank[..., 1], axis=1)[stance[:-1], np.arange(hi - 1)] * fps
    speed = float(np.median(vy[same])) if same.any() else 1.2
    speed = float(np.clip(speed, 0.5, 2.2))
    t = int(np.clip(round(path_length / speed * fps), lo, hi))

    verts = posed.vertices[:t].copy()
    normals = np.empty_like(verts[0])
    offsets = clothing_offsets(body, rest, heads, subject.outfit, spec.coat) + body_girth(body, subject.girth)
    for i in range(t):
        _vertex_normals(verts[i], body.faces, normals)
        verts[i] += normals * offsets[:, None]
    albedo = vertex_albedo(body, rest, heads, subject.outfit, spec.coat)
    faces = [body.faces]
    parts = [verts]
    colours = [albedo]
    n = verts.shape[1]
    if spec.coat is not None:
        legs = np.isin(body.region, [REGIONS.index(r) for r in ("hips", "upperleg", "lowerleg")])
        hip_j = body.bone_index("upperleg01.L")
        m = posed.bone_transforms[:t, hip_j]
        # The skirt starts above the hip joints, inside the coat's body, so the two join without a gap.
        hip_z = (m[:, :3, :3] @ heads[hip_j] + m[:, :3, 3])[:, 2] + 0.06
        sv, sf = coat_skirt(verts, legs, hip_z, spec.coat)
        parts.append(sv)
        faces.append(sf + n)
        colours.append(np.tile(np.asarray(spec.coat.colour, np.float32) * 0.92, (sv.shape[1], 1)))
        n += sv.shape[1]
    if spec.bag is not None:
        bv, bf = _bag_vertices(body, spec.bag, rest, heads, posed.bone_transforms[:t])
        parts.append(bv)
        faces.append(bf + n)
        colours.append(np.tile(np.asarray(spec.bag.colour, np.float32), (bv.shape[1], 1)))
        n += bv.shape[1]
    allv = np.concatenate(parts, axis=1)

    # Place in the room: stand on the floor, sway sideways, walk along -y through the middle.
    ground = verts[..., 2].min(axis=1)  # (T,)
    time = np.arange(t) / fps
    y = speed * (t - 1) / fps / 2.0 - speed * time
    allv[..., 0] += angles["sway"][:t, None]
    allv[..., 2] -= ground[:, None]
    h = np.deg2rad(spec.heading)
    rz = np.array([[np.cos(h), -np.sin(h), 0.0], [np.sin(h), np.cos(h), 0.0], [0.0, 0.0, 1.0]])
    allv = allv @ rz.T.astype(np.float32)
    allv[..., 0] += spec.lateral + y[:, None] * -np.sin(h)
    allv[..., 1] += y[:, None] * np.cos(h)

    feet = body.region == REGIONS.index("foot")
    shadow_faces = body.faces[feet[body.faces].all(axis=1)]
    return Walk(allv.astype(np.float32), np.concatenate(faces).astype(np.int32),
                np.concatenate(colours).astype(np.float32), shadow_faces, speed)


def render_walk(walk: Walk, camera: Camera, background: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Colour frames and exact silhouettes of a walk seen by ``camera``.

    Parameters
    ----------
    walk : Walk
    camera : Camera
    background : ndarray, uint8 (H, W, 3)
        The empty scene for this camera.

    Returns
    -------
    frames : ndarray, uint8 (T, H, W, 3)
        RGB, with a soft contact shadow under the feet.
    silhouettes : ndarray, bool (T, H, W)
        Everything that belongs to the walker (body, clothes, bag), never the shadow.
    """
    xy, depth = camera.project(walk.vertices)
    # The contact shadow of an overhead light: the feet's footprint on the floor, softened.
    used, faces = np.unique(walk.shadow_faces, return_inverse=True)
    flat = walk.vertices[:, used]
    flat[..., 2] = 0.0
    fxy, _ = camera.project(flat)
    shade = rasterize_masks(fxy, faces.reshape(-1, 3), camera.size)
    t = len(shade)
    h, w = camera.size
    backs = np.empty((t, *background.shape), dtype=np.uint8)
    backs[:] = background
    for i in range(t):
        ys, xs = np.nonzero(shade[i])
        if len(ys) == 0:
            continue
        # Only the shadow's neighbourhood changes; blurring the whole frame would cost 3x more.
        y0, y1 = max(ys.min() - 8, 0), min(ys.max() + 9, h)
        x0, x1 = max(xs.min() - 8, 0), min(xs.max() + 9, w)
        s = cv2.GaussianBlur(shade[i, y0:y1, x0:x1].astype(np.float32), (0, 0), 2.0)
        backs[i, y0:y1, x0:x1] = (background[y0:y1, x0:x1] * (1.0 - 0.3 * s[..., None])).astype(np.uint8)
    return rasterize_colour(xy, depth, walk.vertices, walk.faces, walk.albedo, backs, LIGHT, camera.forward)
