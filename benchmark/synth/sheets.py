"""Contact sheets of a world, for a person to judge (``gaitbench synth-sheets WORLD --out DIR``).

``views.png``: one subject's ``nm-01`` at every view, eight silhouettes across each row.
``subjects-090.png``: twelve subjects at 90 degrees, eight silhouettes and the GEI per row.
``colour.png``: one colour frame per view (the middle frame of the subject's ``nm-01``).
``conditions-090.png``: the subject at 90 degrees in nm, bg and cl, colour and silhouette.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from benchmark.data.casia import SequenceRef

CELL = (120, 80)  # (height, width) of one silhouette cell


def _crop(mask: np.ndarray, size: tuple[int, int] = CELL) -> np.ndarray:
    """The person's box, scaled to fit ``size`` (aspect kept, centred): ``uint8 (h, w)``."""
    h, w = size
    ys, xs = np.nonzero(mask)
    cell = np.zeros(size, dtype=np.uint8)
    if len(ys) == 0:
        return cell
    box = mask[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1].astype(np.uint8) * 255
    scale = min((h - 4) / box.shape[0], (w - 4) / box.shape[1])
    bh, bw = max(1, round(box.shape[0] * scale)), max(1, round(box.shape[1] * scale))
    small = cv2.resize(box, (bw, bh), interpolation=cv2.INTER_AREA)
    y0, x0 = (h - bh) // 2, (w - bw) // 2
    cell[y0: y0 + bh, x0: x0 + bw] = small
    return cell


def _label(img: np.ndarray, text: str) -> np.ndarray:
    out = img.copy()
    colour: int | tuple[int, int, int] = 200 if out.ndim == 2 else (255, 255, 255)
    cv2.putText(out, text, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.38, colour, 1, cv2.LINE_AA)
    return out


def _row(masks: np.ndarray, label: str, n: int = 8) -> np.ndarray:
    idx = np.linspace(0, len(masks) - 1, n).round().astype(int)
    cells = [_crop(masks[i]) for i in idx]
    cells[0] = _label(cells[0], label)
    return np.hstack([np.pad(c, 1, constant_values=60) for c in cells])


def contact_sheets(world: str | os.PathLike[str], out: str | os.PathLike[str], subject: str = "001") -> list[Path]:
    """Write the contact sheets of a world in CASIA-B layout; returns the PNG paths.

    Parameters
    ----------
    world : path
        A folder written by ``gaitbench synth`` (or any CASIA-B tree with videos).
    out : path
        Folder for the sheets (created).
    subject : str
        The subject shown at every view and in every condition.
    """
    from benchmark.data.casia import CasiaB, condition_order
    from benchmark.silhouettes import gei, normalize_uint8

    data = CasiaB(world)
    refs = data.index()
    if not refs:
        raise ValueError(f"no sequences in {world}")
    subjects = sorted({r.subject for r in refs})
    if subject not in subjects:
        raise ValueError(f"subject {subject!r} is not in {world}; it has {subjects[0]}..{subjects[-1]}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []

    def first(subj: str, cond: str | None = None, view: int | None = None) -> SequenceRef | None:
        for r in refs:
            if r.subject == subj and (cond is None or r.condition == cond) and (view is None or r.view == view):
                return r
        return None

    cond0 = min((r.condition for r in refs if r.subject == subject), key=lambda c: (c[:2] != "nm", c))
    rows = []
    for r in refs:
        if r.subject == subject and r.condition == cond0:
            rows.append(_row(data.load_silhouettes(r), f"{r.view:03d}"))
    written.append(out / "views.png")
    cv2.imwrite(str(written[-1]), np.vstack(rows))

    views = sorted({r.view for r in refs})
    side = 90 if 90 in views else views[len(views) // 2]
    rows = []
    for subj in subjects[:12]:
        found = first(subj, cond0, side)
        if found is None:
            continue
        masks = data.load_silhouettes(found)
        g8 = cv2.resize((gei(normalize_uint8(masks, 64, 64)) * 255).astype(np.uint8), (CELL[0], CELL[0]))
        g8 = g8[:, (CELL[0] - CELL[1]) // 2:][:, : CELL[1]]
        rows.append(np.hstack([_row(masks, subj), np.pad(g8, 1, constant_values=60)]))
    written.append(out / f"subjects-{side:03d}.png")
    cv2.imwrite(str(written[-1]), np.vstack(rows))

    tiles = []
    for r in refs:
        if r.subject == subject and r.condition == cond0:
            seq = data.load(r, frames=True)
            assert seq.frames is not None  # load(frames=True) reads them or raises
            tiles.append(_label(seq.frames[len(seq.frames) // 2], f"{r.view:03d}"))
    while len(tiles) % 4:
        tiles.append(np.zeros_like(tiles[0]))
    grid = np.vstack([np.hstack(tiles[i: i + 4]) for i in range(0, len(tiles), 4)])
    written.append(out / "colour.png")
    cv2.imwrite(str(written[-1]), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))

    rows = []
    for cond in sorted({r.condition for r in refs if r.subject == subject and r.view == side}, key=condition_order):
        ref = first(subject, cond, side)
        if ref is None:
            continue
        seq = data.load(ref, frames=True)
        assert seq.frames is not None
        idx = np.linspace(0, seq.num_frames - 1, 6).round().astype(int)
        cells = []
        for i in idx:
            ys, xs = np.nonzero(seq.silhouettes[i])
            cx = int(xs.mean()) if len(xs) else 160
            x0 = int(np.clip(cx - 50, 0, 220))
            colour = seq.frames[i, 30:230, x0: x0 + 100]
            sil = np.repeat(seq.silhouettes[i, 30:230, x0: x0 + 100, None], 3, axis=2).astype(np.uint8) * 255
            cells.append(np.hstack([colour, sil]))
        cells[0] = _label(cells[0], cond)
        rows.append(np.hstack(cells))
    written.append(out / f"conditions-{side:03d}.png")
    cv2.imwrite(str(written[-1]), cv2.cvtColor(np.vstack(rows), cv2.COLOR_RGB2BGR))
    return written
