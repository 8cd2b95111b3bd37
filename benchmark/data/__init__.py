"""Datasets: readers that turn data on disk into :class:`benchmark.types.GaitSequence` objects.

Each reader has ``index(subjects=None, conditions=None, views=None) -> list[ref]`` (file names only) and
``load(ref, frames=False, background=False) -> GaitSequence`` (pixels). This module only declares them in
the registry, so importing it stays light (no OpenCV).
"""

from benchmark.registry import DATASETS

DATASETS.add("casia-b", "benchmark.data.casia:CasiaB", "CASIA-B silhouette tree and colour videos (Yu et al. 2006)")
DATASETS.add(
    "videos",
    "benchmark.data.videos:UserVideos",
    "a folder of your own static-camera videos; silhouettes by background subtraction",
)
DATASETS.add("synthetic", "benchmark.synth.dataset:SyntheticWorld", "the rendered CASIA-B-like world (gaitbench synth)")
