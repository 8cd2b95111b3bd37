"""Bodies of the synthetic world: the ``anny`` parametric human mesh, its cache, phenotypes and posing.

``anny`` builds about 790 MB of derived data on its first use (about a minute, 1.5 GB of memory) and reads
them in about 0.3 s afterwards. gaitbench keeps that cache outside the repository:

=====================  ===========================================================================
``GAITBENCH_CACHE``    root of gaitbench's caches (default ``~/.cache/gaitbench``)
``ANNY_CACHE_DIR``     anny's data, default ``$GAITBENCH_CACHE/anny``; an explicit value is kept
``WARP_CACHE_PATH``    compiled skinning kernels of ``warp``, default ``$GAITBENCH_CACHE/anny/warp``
=====================  ===========================================================================

Model frame (anny's): metres, ``z`` up, the body faces ``-y``, ``+x`` is the body's left; the origin is at
the pelvis. Pose deltas rotate each bone about these world-aligned axes ('local-ref' parameterisation).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.io import cache_root

# Bones whose skinning weight decides a vertex's body region (colours, coat, hair).
_REGION_BONES: dict[str, tuple[str, ...]] = {
    "head": ("head", "neck01", "neck02", "neck03", "eye.L", "eye.R"),
    "torso": ("spine01", "spine02", "spine03", "spine04", "spine05", "clavicle.L", "clavicle.R",
              "shoulder01.L", "shoulder01.R"),
    "upperarm": ("upperarm01.L", "upperarm01.R", "upperarm02.L", "upperarm02.R"),
    "lowerarm": ("lowerarm01.L", "lowerarm01.R", "lowerarm02.L", "lowerarm02.R"),
    "hips": ("root", "pelvis.L", "pelvis.R"),
    "upperleg": ("upperleg01.L", "upperleg01.R", "upperleg02.L", "upperleg02.R"),
    "lowerleg": ("lowerleg01.L", "lowerleg01.R", "lowerleg02.L", "lowerleg02.R"),
}
REGIONS: tuple[str, ...] = ("head", "torso", "upperarm", "lowerarm", "hand", "hips", "upperleg",
                            "lowerleg", "foot")
PHENOTYPES: tuple[str, ...] = ("gender", "age", "muscle", "weight", "height", "proportions")


def configure_cache() -> Path:
    """Point anny's and warp's caches into :func:`cache_root` (unless set explicitly); return anny's folder.

    Must run before ``anny`` or ``warp`` is imported: both read these variables at import time.
    """
    anny_dir = Path(os.environ.setdefault("ANNY_CACHE_DIR", str(cache_root() / "anny")))
    os.environ.setdefault("WARP_CACHE_PATH", str(anny_dir / "warp"))
    return anny_dir


def _import_anny() -> Any:
    configure_cache()
    try:
        import warp

        # warp greets on stdout at start-up; progress lines of a long generation are easier to read without.
        warp.config.log_level = getattr(warp, "LOG_WARNING", warp.config.log_level)
        import anny
        import torch
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            f"the synthetic world needs the optional dependencies of gaitbench[synth] ({exc.name} is missing): "
            "install CPU torch first, then the extra: pip install torch==2.13.0 && pip install -e '.[synth]'"
        ) from exc
    return anny, torch


def _rot(axis: int, angle: np.ndarray) -> np.ndarray:
    """Rotation matrices about a world axis: ``float64 (T, 3, 3)`` for angles ``(T,)`` in radians."""
    c, s = np.cos(angle), np.sin(angle)
    r = np.zeros(angle.shape + (3, 3))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    r[..., axis, axis] = 1.0
    r[..., i, i] = c
    r[..., j, j] = c
    r[..., i, j] = -s
    r[..., j, i] = s
    return r


def rotation_xyz(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``Rz @ Ry @ Rx`` for per-frame angles (radians) about the world axes: ``float64 (T, 3, 3)``."""
    return _rot(2, z) @ _rot(1, y) @ _rot(0, x)


@dataclasses.dataclass
class PosedBody:
    """A posed body sequence.

    Attributes
    ----------
    vertices : ndarray, float32 (T, V, 3)
        Vertices in the model frame (origin at the rest pelvis, not yet placed in the scene).
    bone_transforms : ndarray, float32 (T, J, 4, 4)
        Per-bone rigid transforms from the rest pose to the posed body (``posed = M @ rest``).
    rest_vertices : ndarray, float32 (V, 3)
        The subject's rest-pose vertices.
    """

    vertices: np.ndarray
    bone_transforms: np.ndarray
    rest_vertices: np.ndarray


class BodyModel:
    """The anny mesh with region labels, built once per process (about 0.3 s once cached).

    Attributes
    ----------
    faces : ndarray, int32 (F, 3)
        Triangles (27,420 for the default topology), wound outwards.
    bone_labels : list of str
        The rig's bone names, indexing the ``J`` axis of poses.
    region : ndarray, int8 (V,)
        Index into :data:`REGIONS` of each vertex (the region of its strongest bone).
    """

    def __init__(self) -> None:
        anny, torch = _import_anny()
        self._torch = torch
        # One thread per process: generation parallelises over processes, and torch's own pool
        # would oversubscribe the cores.
        torch.set_num_threads(1)
        self._model = anny.Anny().to(torch.float32)
        self.faces = self._model.get_triangular_faces().numpy().astype(np.int32)
        self.bone_labels: list[str] = list(self._model.bone_labels)
        idx = self._model.vertex_bone_indices.numpy()
        w = self._model.vertex_bone_weights.numpy()
        strongest = idx[np.arange(len(idx)), w.argmax(axis=1)]
        names = np.array(self.bone_labels)[strongest]
        region = np.full(len(names), REGIONS.index("torso"), dtype=np.int8)
        for r, bones in _REGION_BONES.items():
            region[np.isin(names, bones)] = REGIONS.index(r)
        for r, prefixes in (("hand", ("wrist", "finger", "metacarpal")), ("foot", ("foot", "toe"))):
            region[[n.startswith(prefixes) for n in names]] = REGIONS.index(r)
        self.region = region
        # Per-vertex weight of each bone group, for soft clothing boundaries and the coat.
        dense = np.zeros((len(idx), len(self.bone_labels)), dtype=np.float32)
        np.put_along_axis(dense, idx, w, axis=1)
        self._dense_weights = dense

    @property
    def num_vertices(self) -> int:
        return int(self.region.shape[0])

    def bone_index(self, name: str) -> int:
        try:
            return self.bone_labels.index(name)
        except ValueError:
            raise KeyError(f"anny has no bone {name!r}") from None

    def group_weight(self, prefixes: tuple[str, ...]) -> np.ndarray:
        """Summed skinning weight of the bones whose names start with ``prefixes``: ``float32 (V,)``."""
        cols = [i for i, b in enumerate(self.bone_labels) if b.startswith(prefixes)]
        return self._dense_weights[:, cols].sum(axis=1)

    def _phenotype(self, phenotype: dict[str, float]) -> dict[str, Any]:
        unknown = set(phenotype) - set(PHENOTYPES)
        if unknown:
            raise ValueError(f"unknown phenotype parameters {sorted(unknown)}; known: {list(PHENOTYPES)}")
        return {k: self._torch.tensor([float(v)], dtype=self._torch.float32) for k, v in phenotype.items()}

    def rest(self, phenotype: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
        """Rest-pose vertices ``float32 (V, 3)`` and bone heads ``float32 (J, 3)`` of a phenotype."""
        with self._torch.no_grad():
            out = self._model(phenotype_kwargs=self._phenotype(phenotype))
        return out["vertices"][0].numpy(), out["rest_bone_poses"][0, :, :3, 3].numpy()

    def pose(self, phenotype: dict[str, float], rotations: dict[str, np.ndarray], batch: int = 32) -> PosedBody:
        """Pose a body with per-frame bone rotations.

        Parameters
        ----------
        phenotype : dict of str to float
            Values in [0, 1] for any of :data:`PHENOTYPES`.
        rotations : dict of str to ndarray, float (T, 3, 3)
            Rotation deltas per bone, about world-aligned axes ('local-ref'); other bones stay at rest.
        batch : int
            Frames per forward pass (32 is about 45 ms on one core).

        Returns
        -------
        PosedBody
        """
        torch = self._torch
        lengths = {len(r) for r in rotations.values()}
        if len(lengths) != 1:
            raise ValueError(f"all rotations must have the same number of frames, got {sorted(lengths)}")
        t = lengths.pop()
        if t < 1:
            raise ValueError("rotations must have at least one frame")
        for name in rotations:
            self.bone_index(name)
        ph = self._phenotype(phenotype)
        verts = np.empty((t, self.num_vertices, 3), dtype=np.float32)
        transforms = np.empty((t, len(self.bone_labels), 4, 4), dtype=np.float32)
        rest = np.empty((self.num_vertices, 3), dtype=np.float32)
        with torch.no_grad():
            for s in range(0, t, batch):
                e = min(s + batch, t)
                params = {}
                for name, rot in rotations.items():
                    m = torch.eye(4, dtype=torch.float32).repeat(e - s, 1, 1)
                    m[:, :3, :3] = torch.from_numpy(np.ascontiguousarray(rot[s:e], dtype=np.float32))
                    params[name] = m
                out = self._model(pose_parameters=params, phenotype_kwargs=ph)
                verts[s:e] = out["vertices"].numpy()
                rest_poses = out["rest_bone_poses"][:1]
                transforms[s:e] = (out["bone_poses"] @ torch.linalg.inv(rest_poses)).numpy()
                rest = out["rest_vertices"][0].numpy()
        return PosedBody(verts, transforms, rest)
