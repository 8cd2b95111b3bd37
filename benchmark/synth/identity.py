"""Is the identity signal of a world real? Plain GEI + nearest-neighbour same-view identification.

The check the world is tuned against (``gaitbench synth-check``): gallery nm-01..04, probes nm-05/06,
bg-01/02 and cl-01/02, each probe matched to the nearest gallery GEI (Euclidean) of the same view; rank-1
accuracy per view and probe type. A fit world lands between 80% and 99.5% for nm (CASIA-B with the same
method: roughly 90-99% at most views) and lower for bg and cl.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

GALLERY = ("nm-01", "nm-02", "nm-03", "nm-04")
PROBES: dict[str, tuple[str, ...]] = {"nm": ("nm-05", "nm-06"), "bg": ("bg-01", "bg-02"), "cl": ("cl-01", "cl-02")}


def _gei_of(task: tuple[str, object]) -> np.ndarray:
    from benchmark.data.casia import CasiaB
    from benchmark.silhouettes import gei, normalize_uint8

    root, ref = task
    masks = CasiaB(root).load_silhouettes(ref)  # type: ignore[arg-type]
    return gei(normalize_uint8(masks, 64, 64))


def rank1(gallery: np.ndarray, gallery_ids: np.ndarray, probe: np.ndarray, probe_ids: np.ndarray) -> float:
    """Rank-1 accuracy of nearest-neighbour matching (Euclidean) of probe to gallery feature vectors.

    Parameters
    ----------
    gallery : ndarray, float (G, D)
    gallery_ids : ndarray (G,)
    probe : ndarray, float (P, D)
    probe_ids : ndarray (P,)

    Returns
    -------
    float
        Fraction of probes whose nearest gallery item has their identity; NaN without probes.
    """
    if len(probe) == 0:
        return float("nan")
    if len(gallery) == 0:
        raise ValueError("the gallery is empty")
    g = gallery.astype(np.float64)
    p = probe.astype(np.float64)
    d = (p**2).sum(1)[:, None] - 2 * p @ g.T + (g**2).sum(1)[None]
    return float(np.mean(gallery_ids[d.argmin(axis=1)] == probe_ids))


def identity_table(world: str | os.PathLike[str], workers: int | None = None) -> dict[int, dict[str, float]]:
    """Rank-1 accuracy (%) per view for nm, bg and cl probes of a world in CASIA-B layout.

    Returns
    -------
    dict of int to dict of str to float
        ``{view: {"nm": .., "bg": .., "cl": ..}}``; NaN where a probe type is absent.
    """
    from benchmark.data.casia import CasiaB
    from benchmark.silhouettes import map_sequences

    root = Path(world)
    data = CasiaB(root)
    refs = data.index()
    if not refs:
        raise ValueError(f"no sequences found in {root}")
    feats = map_sequences(_gei_of, [(str(root), r) for r in refs], workers=workers)
    table: dict[int, dict[str, float]] = {}
    for view in sorted({r.view for r in refs}):
        rows = [(r, f) for r, f in zip(refs, feats, strict=True) if r.view == view]
        gal = [(r.subject, f.ravel()) for r, f in rows if r.condition in GALLERY]
        if not gal:
            continue
        g_ids = np.array([s for s, _ in gal])
        g = np.stack([f for _, f in gal])
        table[view] = {}
        for kind, conds in PROBES.items():
            pr = [(r.subject, f.ravel()) for r, f in rows if r.condition in conds]
            p = np.stack([f for _, f in pr]) if pr else np.zeros((0, g.shape[1]))
            table[view][kind] = 100.0 * rank1(g, g_ids, p, np.array([s for s, _ in pr]))
    return table


def format_table(table: dict[int, dict[str, float]]) -> str:
    """The per-view table as text, with the mean over views."""
    kinds = list(PROBES)
    lines = ["GEI + 1-NN, same view, gallery nm-01..04: rank-1 accuracy (%)",
             "view  " + "  ".join(f"{k:>6}" for k in kinds)]
    for view, row in table.items():
        lines.append(f"{view:>4}  " + "  ".join(f"{row[k]:6.1f}" for k in kinds))
    means = [np.nanmean([row[k] for row in table.values()]) for k in kinds]
    lines.append("mean  " + "  ".join(f"{m:6.1f}" for m in means))
    return "\n".join(lines)
