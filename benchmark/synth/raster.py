"""Triangle rasterization for the synthetic world: exact silhouettes and shaded colour frames.

A body mesh at 320x240 has about 27,000 triangles of roughly one pixel each, so the cost is per triangle,
not per pixel: the kernels below are compiled with numba and loop over triangles and over the pixel centres
inside each bounding box. Coverage follows the usual pixel-centre rule with a top-left tie rule (the
convention of Direct3D and OpenGL): a pixel belongs to a triangle when its centre is strictly inside, or lies
on a top or left edge. Overlapping triangles therefore give their union (never the even-odd holes of one
``fillPoly`` call over all triangles), and two triangles sharing an edge cover each pixel centre on it once.

Coordinates are pixels with the origin at the top-left pixel centre, ``x`` = column, ``y`` = row (see
``benchmark.types``).
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, inline="always")
def _is_top_left(dx: float, dy: float) -> bool:
    # With y pointing down and the winding that makes the signed area positive, a top edge runs
    # rightwards (dy == 0, dx > 0) and a left edge runs upwards (dy < 0).
    return (dy == 0.0 and dx > 0.0) or dy < 0.0


@numba.njit(cache=True)
def _fill_mask(xy: np.ndarray, faces: np.ndarray, cull: int, mask: np.ndarray) -> None:
    h, w = mask.shape
    for f in range(faces.shape[0]):
        i0, i1, i2 = faces[f, 0], faces[f, 1], faces[f, 2]
        x0, y0 = float(xy[i0, 0]), float(xy[i0, 1])
        x1, y1 = float(xy[i1, 0]), float(xy[i1, 1])
        x2, y2 = float(xy[i2, 0]), float(xy[i2, 1])
        area = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0)
        if area == 0.0 or area != area:  # degenerate or NaN (a vertex behind the camera)
            continue
        if cull != 0 and (area > 0.0) != (cull > 0):
            continue
        if area < 0.0:
            x1, y1, x2, y2 = x2, y2, x1, y1
        xmin = max(int(np.ceil(min(x0, x1, x2))), 0)
        xmax = min(int(np.floor(max(x0, x1, x2))), w - 1)
        ymin = max(int(np.ceil(min(y0, y1, y2))), 0)
        ymax = min(int(np.floor(max(y0, y1, y2))), h - 1)
        if xmin > xmax or ymin > ymax:
            continue
        # Edge a->b: e(p) = (bx - ax) * (py - ay) - (by - ay) * (px - ax), positive inside.
        dx01, dy01 = x1 - x0, y1 - y0
        dx12, dy12 = x2 - x1, y2 - y1
        dx20, dy20 = x0 - x2, y0 - y2
        tl01 = _is_top_left(dx01, dy01)
        tl12 = _is_top_left(dx12, dy12)
        tl20 = _is_top_left(dx20, dy20)
        for y in range(ymin, ymax + 1):
            for x in range(xmin, xmax + 1):
                e12 = dx12 * (y - y1) - dy12 * (x - x1)
                if e12 < 0.0 or (e12 == 0.0 and not tl12):
                    continue
                e20 = dx20 * (y - y2) - dy20 * (x - x2)
                if e20 < 0.0 or (e20 == 0.0 and not tl20):
                    continue
                e01 = dx01 * (y - y0) - dy01 * (x - x0)
                if e01 < 0.0 or (e01 == 0.0 and not tl01):
                    continue
                mask[y, x] = True


@numba.njit(cache=True)
def _masks_batch(xy: np.ndarray, faces: np.ndarray, cull: int, out: np.ndarray) -> None:
    for t in range(xy.shape[0]):
        _fill_mask(xy[t], faces, cull, out[t])


@numba.njit(cache=True)
def _vertex_normals(verts: np.ndarray, faces: np.ndarray, out: np.ndarray) -> None:
    # Area-weighted vertex normals: the sum of the un-normalised face normals around each vertex.
    out[:] = 0.0
    for f in range(faces.shape[0]):
        a, b, c = faces[f, 0], faces[f, 1], faces[f, 2]
        ux = verts[b, 0] - verts[a, 0]
        uy = verts[b, 1] - verts[a, 1]
        uz = verts[b, 2] - verts[a, 2]
        vx = verts[c, 0] - verts[a, 0]
        vy = verts[c, 1] - verts[a, 1]
        vz = verts[c, 2] - verts[a, 2]
        nx = uy * vz - uz * vy
        ny = uz * vx - ux * vz
        nz = ux * vy - uy * vx
        for k in (a, b, c):
            out[k, 0] += nx
            out[k, 1] += ny
            out[k, 2] += nz
    for v in range(out.shape[0]):
        n = np.sqrt(out[v, 0] ** 2 + out[v, 1] ** 2 + out[v, 2] ** 2)
        if n > 0.0:
            out[v, 0] /= n
            out[v, 1] /= n
            out[v, 2] /= n


@numba.njit(cache=True)
def _fill_colour(
    xy: np.ndarray,
    depth: np.ndarray,
    colour: np.ndarray,
    faces: np.ndarray,
    image: np.ndarray,
    zbuf: np.ndarray,
    mask: np.ndarray,
) -> None:
    h, w = mask.shape
    for f in range(faces.shape[0]):
        i0, i1, i2 = faces[f, 0], faces[f, 1], faces[f, 2]
        x0, y0 = float(xy[i0, 0]), float(xy[i0, 1])
        x1, y1 = float(xy[i1, 0]), float(xy[i1, 1])
        x2, y2 = float(xy[i2, 0]), float(xy[i2, 1])
        if depth[i0] <= 0.0 or depth[i1] <= 0.0 or depth[i2] <= 0.0:
            continue
        area = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0)
        if area == 0.0 or area != area:
            continue
        if area < 0.0:
            i1, i2 = i2, i1
            x1, y1, x2, y2 = x2, y2, x1, y1
            area = -area
        xmin = max(int(np.ceil(min(x0, x1, x2))), 0)
        xmax = min(int(np.floor(max(x0, x1, x2))), w - 1)
        ymin = max(int(np.ceil(min(y0, y1, y2))), 0)
        ymax = min(int(np.floor(max(y0, y1, y2))), h - 1)
        if xmin > xmax or ymin > ymax:
            continue
        dx01, dy01 = x1 - x0, y1 - y0
        dx12, dy12 = x2 - x1, y2 - y1
        dx20, dy20 = x0 - x2, y0 - y2
        tl01 = _is_top_left(dx01, dy01)
        tl12 = _is_top_left(dx12, dy12)
        tl20 = _is_top_left(dx20, dy20)
        inv = 1.0 / area
        for y in range(ymin, ymax + 1):
            for x in range(xmin, xmax + 1):
                e12 = dx12 * (y - y1) - dy12 * (x - x1)
                if e12 < 0.0 or (e12 == 0.0 and not tl12):
                    continue
                e20 = dx20 * (y - y2) - dy20 * (x - x2)
                if e20 < 0.0 or (e20 == 0.0 and not tl20):
                    continue
                e01 = dx01 * (y - y0) - dy01 * (x - x0)
                if e01 < 0.0 or (e01 == 0.0 and not tl01):
                    continue
                # Barycentric weights; screen-space interpolation of depth is exact enough for
                # triangles of a pixel or two.
                l0 = e12 * inv
                l1 = e20 * inv
                l2 = e01 * inv
                z = l0 * depth[i0] + l1 * depth[i1] + l2 * depth[i2]
                if z >= zbuf[y, x]:
                    continue
                zbuf[y, x] = z
                mask[y, x] = True
                for c in range(3):
                    v = l0 * colour[i0, c] + l1 * colour[i1, c] + l2 * colour[i2, c]
                    image[y, x, c] = min(max(int(v + 0.5), 0), 255)


@numba.njit(cache=True)
def _shade(
    verts: np.ndarray,
    faces: np.ndarray,
    albedo: np.ndarray,
    light: np.ndarray,
    view_dir: np.ndarray,
    ambient: float,
    normals: np.ndarray,
    out: np.ndarray,
) -> None:
    _vertex_normals(verts, faces, normals)
    for v in range(verts.shape[0]):
        d = normals[v, 0] * light[0] + normals[v, 1] * light[1] + normals[v, 2] * light[2]
        # A weak head-light keeps surfaces facing away from the key light readable, as a room's
        # bounce light does.
        fill = -(normals[v, 0] * view_dir[0] + normals[v, 1] * view_dir[1] + normals[v, 2] * view_dir[2])
        k = ambient + (1.0 - ambient) * (0.75 * max(d, 0.0) + 0.25 * max(fill, 0.0))
        for c in range(3):
            out[v, c] = albedo[v, c] * k


@numba.njit(cache=True)
def _colour_batch(
    xy: np.ndarray,
    depth: np.ndarray,
    verts: np.ndarray,
    faces: np.ndarray,
    albedo: np.ndarray,
    light: np.ndarray,
    view_dir: np.ndarray,
    ambient: float,
    images: np.ndarray,
    masks: np.ndarray,
) -> None:
    h, w = masks.shape[1], masks.shape[2]
    nv = verts.shape[1]
    normals = np.empty((nv, 3), dtype=np.float32)
    colour = np.empty((nv, 3), dtype=np.float32)
    zbuf = np.empty((h, w), dtype=np.float32)
    for t in range(xy.shape[0]):
        _shade(verts[t], faces, albedo, light, view_dir, ambient, normals, colour)
        zbuf[:] = np.inf
        _fill_colour(xy[t], depth[t], colour, faces, images[t], zbuf, masks[t])


@numba.njit(cache=True)
def _project(
    points: np.ndarray, rotation: np.ndarray, centre: np.ndarray, focal: float, cx: float, cy: float,
    xy: np.ndarray, depth: np.ndarray,
) -> None:
    for i in range(points.shape[0]):
        px = points[i, 0] - centre[0]
        py = points[i, 1] - centre[1]
        pz = points[i, 2] - centre[2]
        x = rotation[0, 0] * px + rotation[0, 1] * py + rotation[0, 2] * pz
        y = rotation[1, 0] * px + rotation[1, 1] * py + rotation[1, 2] * pz
        z = rotation[2, 0] * px + rotation[2, 1] * py + rotation[2, 2] * pz
        depth[i] = z
        if z > 1e-6:
            xy[i, 0] = focal * x / z + cx
            xy[i, 1] = focal * y / z + cy
        else:
            xy[i, 0] = np.nan
            xy[i, 1] = np.nan


def project_points(
    points: np.ndarray, rotation: np.ndarray, centre: np.ndarray, focal: float, principal: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Pinhole projection: world points ``float (..., 3)`` -> pixels ``float32 (..., 2)``, depth ``float32 (...)``.

    ``rotation`` (3, 3) maps world to camera axes (x right, y down, z forward), ``centre`` (3,) is the centre
    of projection and ``principal`` the ``(x, y)`` pixel of the optical axis. Points at depth <= 1e-6 get NaN.
    """
    flat = np.ascontiguousarray(points, dtype=np.float32).reshape(-1, 3)
    xy = np.empty((flat.shape[0], 2), dtype=np.float32)
    depth = np.empty(flat.shape[0], dtype=np.float32)
    _project(flat, np.asarray(rotation, np.float64), np.asarray(centre, np.float64), float(focal),
             float(principal[0]), float(principal[1]), xy, depth)
    return xy.reshape(points.shape[:-1] + (2,)), depth.reshape(points.shape[:-1])


def _check_mesh(xy: np.ndarray, faces: np.ndarray, name: str = "xy") -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(xy, np.ndarray) or not isinstance(faces, np.ndarray):
        raise TypeError(f"{name} and faces must be numpy arrays, got {type(xy).__name__}, {type(faces).__name__}")
    if xy.shape[-1] != 2:
        raise ValueError(f"{name} must have shape (..., V, 2), got {xy.shape}")
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise ValueError(f"faces must have shape (F, 3), got {faces.shape}")
    if not np.issubdtype(faces.dtype, np.integer):
        raise TypeError(f"faces must be integer vertex indices, got dtype {faces.dtype}")
    nv = xy.shape[-2]
    if faces.size and (faces.min() < 0 or faces.max() >= nv):
        raise ValueError(f"faces index vertices 0..{nv - 1}, got indices {faces.min()}..{faces.max()}")
    return np.ascontiguousarray(xy, dtype=np.float32), np.ascontiguousarray(faces, dtype=np.int32)


def rasterize_masks(
    xy: np.ndarray, faces: np.ndarray, shape: tuple[int, int], cull: int = 0
) -> np.ndarray:
    """Silhouette masks of triangle meshes: the union of the triangles' pixel-centre coverage.

    Parameters
    ----------
    xy : ndarray, float (T, V, 2) or (V, 2)
        Projected vertices in pixels, ``x`` = column, ``y`` = row, origin at the top-left pixel centre.
        NaN marks a vertex that cannot be projected; its triangles are skipped.
    faces : ndarray, int (F, 3)
        Vertex indices of the triangles.
    shape : (int, int)
        ``(H, W)`` of the masks.
    cull : {0, 1, -1}
        0 draws every triangle; 1 (-1) draws only triangles whose projected signed area
        ``(x1-x0)(y2-y0) - (y1-y0)(x2-x0)`` is positive (negative), i.e. one facing direction.
        For a closed mesh either facing gives the same silhouette for half the work.

    Returns
    -------
    ndarray, bool (T, H, W) or (H, W)
        True where a pixel centre is covered (top-left tie rule).
    """
    single = xy.ndim == 2
    xy, faces = _check_mesh(xy, faces)
    if cull not in (0, 1, -1):
        raise ValueError(f"cull must be 0, 1 or -1, got {cull!r}")
    h, w = (int(s) for s in shape)
    if h <= 0 or w <= 0:
        raise ValueError(f"shape must be positive (H, W), got {shape}")
    batch = xy[None] if single else xy
    out = np.zeros((batch.shape[0], h, w), dtype=np.bool_)
    _masks_batch(batch, faces, cull, out)
    return out[0] if single else out


def rasterize_colour(
    xy: np.ndarray,
    depth: np.ndarray,
    verts: np.ndarray,
    faces: np.ndarray,
    albedo: np.ndarray,
    background: np.ndarray,
    light: np.ndarray,
    view_dir: np.ndarray,
    ambient: float = 0.35,
) -> tuple[np.ndarray, np.ndarray]:
    """Shaded colour frames with a z-buffer, and the exact masks of what was drawn.

    Shading is Lambertian with area-weighted vertex normals (a key light plus a weak head-light),
    interpolated per pixel with barycentric weights.

    Parameters
    ----------
    xy : ndarray, float (T, V, 2)
        Projected vertices in pixels (as in :func:`rasterize_masks`).
    depth : ndarray, float (T, V)
        Camera-space depth of each vertex (metres, positive in front of the camera); triangles with a
        vertex at depth <= 0 are skipped.
    verts : ndarray, float (T, V, 3)
        World-space vertices, for the normals.
    faces : ndarray, int (F, 3)
        Triangles, wound so that face normals point outwards.
    albedo : ndarray, float (V, 3)
        RGB surface colour per vertex, 0..255.
    background : ndarray, uint8 (H, W, 3) or (T, H, W, 3)
        RGB image(s) the mesh is drawn over.
    light, view_dir : ndarray, float (3,)
        Unit vectors in world space: towards the key light, and the camera's viewing direction.
    ambient : float
        Fraction of the albedo seen where no light falls, in [0, 1].

    Returns
    -------
    frames : ndarray, uint8 (T, H, W, 3)
        RGB frames.
    masks : ndarray, bool (T, H, W)
        Pixels covered by the mesh.
    """
    xy, faces = _check_mesh(xy, faces)
    if xy.ndim != 3:
        raise ValueError(f"xy must have shape (T, V, 2), got {xy.shape}")
    t, nv = xy.shape[:2]
    if depth.shape != (t, nv) or verts.shape != (t, nv, 3) or albedo.shape != (nv, 3):
        raise ValueError(
            f"depth {depth.shape}, verts {verts.shape} and albedo {albedo.shape} must be "
            f"({t}, {nv}), ({t}, {nv}, 3) and ({nv}, 3) to match xy {xy.shape}"
        )
    if background.dtype != np.uint8 or background.ndim not in (3, 4) or background.shape[-1] != 3:
        raise ValueError(f"background must be uint8 (H, W, 3) or (T, H, W, 3), got {background.dtype} "
                         f"{background.shape}")
    if background.ndim == 4 and background.shape[0] != t:
        raise ValueError(f"background has {background.shape[0]} frames, xy has {t}")
    if not 0.0 <= ambient <= 1.0:
        raise ValueError(f"ambient must be in [0, 1], got {ambient}")
    h, w = background.shape[-3:-1]
    images = np.empty((t, h, w, 3), dtype=np.uint8)
    images[:] = background
    masks = np.zeros((t, h, w), dtype=np.bool_)
    _colour_batch(
        xy,
        np.ascontiguousarray(depth, dtype=np.float32),
        np.ascontiguousarray(verts, dtype=np.float32),
        faces,
        np.ascontiguousarray(albedo, dtype=np.float32),
        np.asarray(light, dtype=np.float32),
        np.asarray(view_dir, dtype=np.float32),
        float(ambient),
        images,
        masks,
    )
    return images, masks
