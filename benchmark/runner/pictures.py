"""The paper's picture figures, drawn by the runner from the anonymized test data on disk.

One sequence (a test subject's probe walk) at each chosen view:

======  =====================================================================  ==============
file    rows                                                                   pixels
======  =====================================================================  ==============
fig8    original, then each configured method (the paper: noise-gait, ST-GAN)  silhouettes
fig9    the same rows                                                          colour frames
fig17   the swept method at each variant, in increasing order (ST-GAN's alpha) silhouettes
fig18   XOR of the original and the swept method's silhouettes, one row each   white/red/blue
======  =====================================================================  ==============

A figure whose rows are not all available (a method not in the run, no colour video) is left out.
``index.json`` lists what was drawn: ``[{"file", "figure", "view", "caption"}]``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.io import write_json

INDEX = "index.json"


def xor_rows(original: Any, rows: Sequence[tuple[str, Any]], n: int, crop: bool) -> np.ndarray:
    """Fig. 18: one labelled :func:`benchmark.strips.xor_strip` row per ``(label, anonymized sequence)``.

    Returns ``uint8 (len(rows) * H, LABEL_WIDTH + n * tile width, 3)`` RGB.
    """
    from benchmark.strips import label_margin, xor_strip

    out = []
    for label, seq in rows:
        strip = xor_strip(original, seq, n=n, crop=crop)
        out.append(np.concatenate([label_margin(label, strip.shape[0]), strip], axis=1))
    return np.concatenate(out, axis=0)


def _load(root: str | os.PathLike[str], key: str, colour: bool) -> Any:
    from benchmark.data.casia import CasiaB

    data = CasiaB(root)
    ref = data.ref(key)
    if not colour:
        return data.load(ref)
    try:
        data.video_path(ref)
    except FileNotFoundError:
        return None
    return data.load(ref, frames=True)


def draw_pictures(
    out: Path,
    original: str | os.PathLike[str],
    keys: Sequence[tuple[int, str]],
    *,
    rows: Sequence[tuple[str, str | os.PathLike[str], str]],
    sweep: Sequence[tuple[str, str | os.PathLike[str]]],
    sweep_title: str = "",
    frames: int = 8,
    crop: bool = True,
) -> list[dict[str, Any]]:
    """Draw Figs. 8, 9, 17 and 18 into ``out`` and write ``out/index.json``; returns the index.

    Parameters
    ----------
    out : Path
        Folder for the PNG files.
    original : path
        The clean dataset.
    keys : list of (view, sequence key)
        The sequence shown at each view, e.g. ``(90, "008-nm-05-090")``.
    rows : list of (row label, anonymized dataset, parameters)
        The rows of Figs. 8 and 9 after the original; the parameters (e.g. ``alpha=0.3``) go into the caption.
    sweep : list of (row label, anonymized dataset)
        One method at each variant, in the order drawn (Figs. 17 and 18); ``sweep_title`` names the method.
    """
    from benchmark.strips import frame_strips, write_png

    out.mkdir(parents=True, exist_ok=True)
    index: list[dict[str, Any]] = []

    def add(figure: str, view: int, image: np.ndarray, caption: str) -> None:
        name = f"{figure}-{view:03d}.png"
        write_png(out / name, image)
        index.append({"file": name, "figure": figure, "view": view, "caption": caption})

    pair = [r[:2] for r in rows]
    described = [f"{r[0]} ({r[2]})" if r[2] else r[0] for r in rows]
    for view, key in keys:
        if pair:
            for figure, colour in (("fig8", False), ("fig9", True)):
                seqs = [_load(original, key, colour)] + [_load(root, key, colour) for _, root in pair]
                if any(s is None for s in seqs):
                    continue  # no colour video for some row
                labelled = list(zip(["original", *(label for label, _ in pair)], seqs, strict=True))
                what = "colour frames" if colour else "silhouettes"
                add(figure, view, frame_strips(labelled, n=frames, crop=crop),
                    f"{what.capitalize()} of {key}: {', '.join(['original', *described])} (as the paper's "
                    f"Fig. {figure[3:]})")
        if sweep:
            seqs = [(label, _load(root, key, False)) for label, root in sweep]
            add("fig17", view, frame_strips(seqs, n=frames, crop=crop),
                f"Silhouettes of {key} anonymized by {sweep_title} at {', '.join(label for label, _ in seqs)} (as the "
                "paper's Fig. 17)")
            add("fig18", view, xor_rows(_load(original, key, False), seqs, frames, crop),
                f"XOR of the original and {sweep_title} silhouettes of {key}, rows "
                f"{', '.join(label for label, _ in seqs)}"
                " (white: both, red: only the original, blue: only the anonymized; as the paper's Fig. 18)")
    write_json(out / INDEX, index)
    return index
