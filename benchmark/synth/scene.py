"""Cameras and backgrounds of the synthetic world, laid out like CASIA-B's recording room.

World frame: metres, ``z`` up, the floor is ``z = 0``; walkers travel along ``-y`` through the origin. As in
CASIA-B, 11 cameras stand on a half circle around the middle of the walk, all at one height: view ``v``
degrees sits at ``(D sin v, -D cos v)``, so 0 faces the walker as it approaches, 90 sees its left side and
180 its back. Each camera is a pinhole looking at the middle of the walk; frames are 320x240.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import ndimage

from benchmark.synth.raster import project_points

WIDTH, HEIGHT = 320, 240


@dataclasses.dataclass(frozen=True)
class Camera:
    """A pinhole camera.

    Attributes
    ----------
    view : int
        CASIA-B view in degrees.
    position : ndarray, float64 (3,)
        Centre of projection in the world frame.
    rotation : ndarray, float64 (3, 3)
        World -> camera rotation; camera axes are x right, y down, z forward.
    focal : float
        Focal length in pixels.
    size : (int, int)
        ``(H, W)`` of the image.
    """

    view: int
    position: np.ndarray
    rotation: np.ndarray
    focal: float
    size: tuple[int, int] = (HEIGHT, WIDTH)

    @property
    def forward(self) -> np.ndarray:
        """Viewing direction in the world frame: ``float64 (3,)``."""
        return self.rotation[2]

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Project world points ``float (..., 3)`` to pixels ``float32 (..., 2)`` and depths ``float32 (...)``.

        Pixel ``(x, y)`` has its origin at the top-left pixel centre; points at depth <= 0 get NaN pixels.
        """
        h, w = self.size
        return project_points(points, self.rotation, self.position, self.focal, ((w - 1) / 2.0, (h - 1) / 2.0))

    def rays(self) -> np.ndarray:
        """Unit ray directions through every pixel centre, world frame: ``float64 (H, W, 3)``."""
        h, w = self.size
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
        d = np.stack([(xs - (w - 1) / 2.0) / self.focal, (ys - (h - 1) / 2.0) / self.focal, np.ones_like(xs)], -1)
        d = d @ self.rotation  # camera -> world (rotation is orthonormal)
        return d / np.linalg.norm(d, axis=-1, keepdims=True)


def look_at(position: np.ndarray, target: np.ndarray) -> np.ndarray:
    """World -> camera rotation for a level camera at ``position`` looking at ``target``: ``float64 (3, 3)``."""
    fwd = target - position
    fwd = fwd / np.linalg.norm(fwd)
    right = np.cross(fwd, np.array([0.0, 0.0, 1.0]))
    right /= np.linalg.norm(right)
    down = np.cross(fwd, right)
    return np.stack([right, down, fwd])


def casia_camera(
    view: int, distance: float = 8.0, height: float = 1.1, target_height: float = 0.9, focal: float = 480.0
) -> Camera:
    """The camera of a CASIA-B view (degrees, 0..180); defaults give a 1.75 m walker about 105 px tall."""
    if not 0 <= view <= 180:
        raise ValueError(f"view must be in 0..180 degrees, got {view}")
    a = np.deg2rad(view)
    pos = np.array([distance * np.sin(a), -distance * np.cos(a), height])
    return Camera(int(view), pos, look_at(pos, np.array([0.0, 0.0, target_height])), float(focal))


def _value_noise(rng: np.random.Generator, cells: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Smooth periodic noise in [0, 1] sampled at texture coordinates in cells (cubic interpolation)."""
    grid = rng.random((cells, cells))
    return ndimage.map_coordinates(grid, [u % cells, v % cells], order=3, mode="grid-wrap")


def render_background(camera: Camera, rng: np.random.Generator) -> np.ndarray:
    """A static room as seen by ``camera``: tiled floor and a wall with panels, ``uint8 (H, W, 3)`` RGB.

    Textures live in world coordinates, so perspective is right; ``rng`` makes the colours and fixtures.
    """
    d = camera.rays()
    c = camera.position
    fwd_h = camera.forward.copy()
    fwd_h[2] = 0.0
    fwd_h /= np.linalg.norm(fwd_h)
    right_h = np.array([-fwd_h[1], fwd_h[0], 0.0])
    wall_dist = np.linalg.norm(c[:2]) + 4.0
    with np.errstate(divide="ignore", invalid="ignore"):
        t_floor = np.where(d[..., 2] < -1e-6, -c[2] / d[..., 2], np.inf)
        t_wall = wall_dist / (d @ fwd_h)
    t_wall = np.where(t_wall > 0, t_wall, np.inf)
    on_floor = t_floor < t_wall
    t = np.where(on_floor, t_floor, t_wall)
    p = c + d * t[..., None]

    floor_base = np.array([150, 140, 120]) * rng.uniform(0.75, 1.1) + rng.normal(0, 10, 3)
    wall_base = np.array([205, 200, 190]) * rng.uniform(0.85, 1.05) + rng.normal(0, 8, 3)
    # Floor: 0.5 m tiles with grout lines and mottling.
    tile = 0.5
    fu, fv = p[..., 0] / tile, p[..., 1] / tile
    grout = (np.minimum(np.abs(fu - np.round(fu)), np.abs(fv - np.round(fv))) < 0.02).astype(float)
    mott = _value_noise(rng, 64, fu * 3.0, fv * 3.0)
    floor = floor_base * (0.88 + 0.18 * mott[..., None]) * (1.0 - 0.25 * grout[..., None])
    # Wall: panels, a skirting board, a few posters or doors.
    wu = p @ right_h
    wv = p[..., 2]
    wall = wall_base * (0.95 + 0.06 * _value_noise(rng, 64, wu * 2.0, wv * 2.0)[..., None])
    seams = np.abs(wu / 1.2 - np.round(wu / 1.2)) < 0.006
    wall = np.where(seams[..., None], wall * 0.85, wall)
    wall = np.where((wv < 0.12)[..., None], np.array([90, 80, 70]) * rng.uniform(0.6, 1.2), wall)
    wall = np.where((wv > 2.8)[..., None], wall * 0.8, wall)
    for _ in range(int(rng.integers(2, 5))):
        cu, cv = rng.uniform(-5, 5), rng.uniform(1.0, 2.0)
        hw, hh = rng.uniform(0.25, 0.6), rng.uniform(0.3, 0.9)
        inside = (np.abs(wu - cu) < hw) & (np.abs(wv - cv) < hh)
        # Notice boards and doors: muted colours, as in a corridor.
        fixture = wall_base * rng.uniform(0.35, 0.9) + rng.normal(0, 25, 3)
        wall = np.where(inside[..., None], fixture, wall)
    img = np.where(on_floor[..., None], floor, wall)
    # Light falls off away from the room's centre.
    dist = np.linalg.norm(p[..., :2], axis=-1)
    img = img * (1.05 - 0.25 * np.clip(dist / 12.0, 0, 1))[..., None]
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)
