"""What walkers wear and carry: clothing colours and volume, hair, coats (``cl``) and bags (``bg``).

Clothes and hair are offsets of the posed body surface along its normals, per region, so they follow the
skinning; a coat adds a skirt between the hips and its hem that wraps both legs (the convex hull of the leg
cross-section at each height, plus a flare), which is what makes ``cl`` silhouettes hard to match with
``nm`` ones. Bags are rounded boxes attached to a bone: a backpack to the upper spine, a shoulder bag at the
hip, a handbag hanging from the wrist.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from benchmark.synth.body import REGIONS, BodyModel

# Typical clothing colours (RGB): dark and neutral garments dominate, as in everyday footage.
_GARMENTS = np.array([
    [30, 30, 35], [45, 50, 70], [60, 75, 110], [70, 70, 70], [120, 120, 125], [200, 200, 195],
    [150, 40, 40], [40, 90, 60], [170, 150, 110], [90, 60, 40], [40, 60, 120], [210, 180, 60],
    [100, 130, 170], [230, 230, 230], [120, 30, 70],
], dtype=float)
_SKIN = np.array([[255, 220, 190], [235, 190, 150], [205, 160, 120], [160, 110, 75], [110, 75, 50]], float)
_HAIR = np.array([[20, 15, 10], [50, 35, 20], [90, 60, 30], [150, 110, 60], [200, 170, 110], [110, 100, 95]],
                 float)


def _colour(rng: np.random.Generator, palette: np.ndarray) -> tuple[float, ...]:
    base = palette[rng.integers(len(palette))]
    return tuple(float(c) for c in np.clip(base * rng.uniform(0.85, 1.12) + rng.normal(0, 8, 3), 5, 250))


@dataclasses.dataclass(frozen=True)
class Outfit:
    """A subject's everyday look: colours (RGB 0..255) and how far clothes and hair stand off the skin (m)."""

    skin: tuple[float, ...]
    hair: tuple[float, ...]
    shirt: tuple[float, ...]
    trousers: tuple[float, ...]
    shoes: tuple[float, ...]
    long_sleeves: bool
    hair_volume: float
    long_hair: bool
    shirt_loose: float
    trouser_loose: float

    @staticmethod
    def sample(rng: np.random.Generator, gender: float) -> Outfit:
        female = gender < 0.5
        return Outfit(
            skin=_colour(rng, _SKIN),
            hair=_colour(rng, _HAIR),
            shirt=_colour(rng, _GARMENTS),
            trousers=_colour(rng, _GARMENTS[:6]),
            shoes=_colour(rng, _GARMENTS[[0, 1, 3, 5, 9, 13]]),
            long_sleeves=bool(rng.random() < 0.5),
            hair_volume=float(rng.uniform(0.005, 0.03) if female else rng.uniform(0.0, 0.018)),
            long_hair=bool(rng.random() < (0.6 if female else 0.05)),
            shirt_loose=float(rng.uniform(0.004, 0.025)),
            trouser_loose=float(rng.uniform(0.004, 0.03)),
        )


@dataclasses.dataclass(frozen=True)
class Coat:
    """A coat: colour, thickness over the torso and arms (m), length below the hips (m) and hem flare (m)."""

    colour: tuple[float, ...]
    thickness: float
    length: float
    flare: float

    @staticmethod
    def sample(rng: np.random.Generator) -> Coat:
        return Coat(
            colour=_colour(rng, _GARMENTS),
            thickness=float(rng.uniform(0.02, 0.045)),
            # A jacket ends at the upper thigh, a coat near the knee.
            length=float(rng.uniform(0.15, 0.3) if rng.random() < 0.4 else rng.uniform(0.35, 0.6)),
            flare=float(rng.uniform(0.0, 0.035)),
        )


BAG_KINDS = ("backpack", "shoulder", "hand")


@dataclasses.dataclass(frozen=True)
class Bag:
    """A carried bag: kind (one of :data:`BAG_KINDS`), side (+1 left, -1 right), size (w, d, h in m), colour."""

    kind: str
    side: int
    size: tuple[float, float, float]
    colour: tuple[float, ...]

    @staticmethod
    def sample(rng: np.random.Generator, kind: str | None = None) -> Bag:
        kind = kind or str(rng.choice(BAG_KINDS, p=[0.45, 0.35, 0.2]))
        if kind not in BAG_KINDS:
            raise ValueError(f"unknown bag kind {kind!r}; known: {BAG_KINDS}")
        if kind == "backpack":
            size = (rng.uniform(0.26, 0.36), rng.uniform(0.12, 0.22), rng.uniform(0.36, 0.5))
        elif kind == "shoulder":
            size = (rng.uniform(0.08, 0.13), rng.uniform(0.24, 0.38), rng.uniform(0.2, 0.32))
        else:
            size = (rng.uniform(0.08, 0.12), rng.uniform(0.22, 0.36), rng.uniform(0.18, 0.3))
        return Bag(kind, int(rng.choice([-1, 1])), tuple(float(s) for s in size),  # type: ignore[arg-type]
                   _colour(rng, _GARMENTS[:6]))

    def varied(self, rng: np.random.Generator) -> Bag:
        """The same bag on another day: packed a little differently."""
        size = tuple(float(s * rng.uniform(0.92, 1.08)) for s in self.size)
        return dataclasses.replace(self, size=size)  # type: ignore[arg-type]


def rounded_box(size: tuple[float, float, float], nu: int = 16, nv: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """A superellipsoid 'rounded box' centred at the origin.

    Returns vertices ``float32 (V, 3)`` (``size`` = full extents along x, y, z) and outward triangles
    ``int32 (F, 3)``.
    """
    e = 0.3  # squareness: 1 is an ellipsoid, towards 0 a box

    def spow(c: np.ndarray, p: float) -> np.ndarray:
        return np.sign(c) * np.abs(c) ** p

    u = np.linspace(-np.pi, np.pi, nu, endpoint=False)
    v = np.linspace(-np.pi / 2, np.pi / 2, nv)
    uu, vv = np.meshgrid(u, v)
    x = spow(np.cos(vv), e) * spow(np.cos(uu), e) * size[0] / 2
    y = spow(np.cos(vv), e) * spow(np.sin(uu), e) * size[1] / 2
    z = spow(np.sin(vv), e) * np.ones_like(uu) * size[2] / 2
    verts = np.stack([x, y, z], -1).reshape(-1, 3)
    faces = []
    for i in range(nv - 1):
        for j in range(nu):
            a, b = i * nu + j, i * nu + (j + 1) % nu
            c, d = a + nu, b + nu
            faces += [(a, b, d), (a, d, c)]
    return verts.astype(np.float32), np.array(faces, dtype=np.int32)


# How much of a change in body mass shows in each region (trunk most, forearms and shins least).
_GIRTH_SHARE = {"torso": 1.0, "hips": 1.0, "upperleg": 0.8, "upperarm": 0.6, "lowerleg": 0.35, "lowerarm": 0.3,
                "head": 0.15}


def body_girth(body: BodyModel, girth: float) -> np.ndarray:
    """Normal offsets ``float32 (V,)`` that make a body ``girth`` metres fuller (or leaner) around the trunk.

    anny's ``weight`` phenotype changes a body's breadth by about 2 cm over its whole range, less than
    adults differ; this widens the range the way body fat is distributed.
    """
    off = np.zeros(body.num_vertices, dtype=np.float32)
    for name, share in _GIRTH_SHARE.items():
        off[body.region == REGIONS.index(name)] = girth * share
    return off


def clothing_offsets(body: BodyModel, rest: np.ndarray, heads: np.ndarray, outfit: Outfit,
                     coat: Coat | None) -> np.ndarray:
    """How far each vertex is pushed out along its normal by clothes, hair and a coat: ``float32 (V,)``.

    Parameters
    ----------
    body : BodyModel
    rest : ndarray, float32 (V, 3)
        The subject's rest-pose vertices (to find the scalp and the waist).
    heads : ndarray, float32 (J, 3)
        Rest-pose bone heads.
    outfit : Outfit
    coat : Coat or None
    """
    reg = body.region
    off = np.zeros(len(reg), dtype=np.float32)

    def r(name: str) -> np.ndarray:
        return reg == REGIONS.index(name)

    off[r("torso") | r("upperarm")] = outfit.shirt_loose
    if outfit.long_sleeves:
        off[r("lowerarm")] = outfit.shirt_loose * 0.6
    off[r("hips") | r("upperleg") | r("lowerleg")] = outfit.trouser_loose
    off[r("foot")] = 0.008  # shoes are a little larger than feet
    head = heads[body.bone_index("head")]
    rel = rest - head
    scalp = r("head") & ((rel[:, 2] > 0.05) | ((rel[:, 1] > 0.02) & (rel[:, 2] > -0.03)))
    off[scalp] = outfit.hair_volume
    if outfit.long_hair:
        # Hair down to the shoulders behind the head and neck, thinning towards its ends.
        back = r("head") & (rel[:, 1] > 0.0) & (rel[:, 2] < 0.05)
        off[back] = np.maximum(off[back], 0.03 * np.clip((rel[back, 2] + 0.2) / 0.2, 0.2, 1.0))
    if coat is not None:
        off[r("torso") | r("hips")] = coat.thickness
        off[r("upperarm")] = coat.thickness * 0.8
        off[r("lowerarm")] = coat.thickness * 0.5
    return off


def vertex_albedo(body: BodyModel, rest: np.ndarray, heads: np.ndarray, outfit: Outfit,
                  coat: Coat | None) -> np.ndarray:
    """RGB surface colour of each body vertex, 0..255: ``float32 (V, 3)``."""
    reg = body.region

    def r(name: str) -> np.ndarray:
        return reg == REGIONS.index(name)

    alb = np.empty((len(reg), 3), dtype=np.float32)
    alb[:] = outfit.skin
    top = r("torso") | r("upperarm") | (r("lowerarm") if outfit.long_sleeves else np.zeros_like(r("torso")))
    alb[top] = outfit.shirt
    alb[r("hips") | r("upperleg") | r("lowerleg")] = outfit.trousers
    # The waistband sits a little above the hip joints whichever bone moves the skin there.
    waist = heads[body.bone_index("upperleg01.L"), 2] + 0.08
    trunk = r("hips") | r("torso")
    alb[trunk & (rest[:, 2] > waist)] = outfit.shirt
    alb[trunk & (rest[:, 2] <= waist)] = outfit.trousers
    alb[r("foot")] = outfit.shoes
    head = heads[body.bone_index("head")]
    rel = rest - head
    scalp = r("head") & ((rel[:, 2] > 0.05) | ((rel[:, 1] > 0.02) & (rel[:, 2] > -0.03)))
    if outfit.long_hair:
        scalp |= r("head") & (rel[:, 1] > 0.0) & (rel[:, 2] < 0.05)
    alb[scalp] = outfit.hair
    if coat is not None:
        alb[r("torso") | r("hips") | r("upperarm") | r("lowerarm")] = coat.colour
    return alb


def coat_skirt(verts: np.ndarray, leg_mask: np.ndarray, hip_z: np.ndarray, coat: Coat,
               rings: int = 7, sectors: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """The lower part of a coat: a tube around both legs from the hips down to the hem, per frame.

    Each ring is the convex outline (support points in ``sectors`` directions) of the leg vertices in a
    horizontal slab, pushed out by the coat's thickness plus a flare growing towards the hem.

    Parameters
    ----------
    verts : ndarray, float32 (T, V, 3)
        Posed (and clothed) body vertices, model frame.
    leg_mask : ndarray, bool (V,)
        Vertices of the hips and legs.
    hip_z : ndarray, float (T,)
        Height of the hip joints per frame; the hem hangs ``coat.length`` below.
    coat : Coat

    Returns
    -------
    vertices : ndarray, float32 (T, rings * sectors, 3)
    faces : ndarray, int32 (F, 3)
    """
    t = verts.shape[0]
    legs = verts[:, leg_mask]  # (T, n, 3)
    ang = np.linspace(0, 2 * np.pi, sectors, endpoint=False)
    dirs = np.stack([np.cos(ang), np.sin(ang)], 0)  # (2, S)
    out = np.empty((t, rings, sectors, 3), dtype=np.float32)
    frac = np.linspace(0.0, 1.0, rings)
    slab = max(coat.length / (rings - 1), 0.03)
    for k in range(rings):
        z = hip_z - frac[k] * coat.length  # (T,)
        inside = np.abs(legs[..., 2] - z[:, None]) < slab  # (T, n)
        proj = legs[..., :2] @ dirs  # (T, n, S)
        proj = np.where(inside[..., None], proj, -np.inf)
        best = proj.argmax(axis=1)  # (T, S)
        pts = np.take_along_axis(legs[..., :2], best[..., None].repeat(2, -1).reshape(t, -1, 2), axis=1)
        margin = 0.6 * coat.thickness + coat.flare * frac[k]
        out[:, k, :, :2] = pts + margin * dirs.T[None]
        out[:, k, :, 2] = z[:, None]
    faces = []
    for k in range(rings - 1):
        for s in range(sectors):
            a, b = k * sectors + s, k * sectors + (s + 1) % sectors
            c, d = a + sectors, b + sectors
            faces += [(a, d, b), (a, c, d)]
    return out.reshape(t, rings * sectors, 3), np.array(faces, dtype=np.int32)
