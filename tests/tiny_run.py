"""The tiny run of the runner's tests: a 7-subject world with colour videos, its protocol and run config, and an
action checkpoint (shared by tests/test_runner.py and tests/test_cluster.py through the fixtures in conftest)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.conftest import write_casia_tree, write_video

SUBJECTS = tuple(f"{i:03d}" for i in range(1, 8))
CONDITIONS = ("nm-01", "nm-02", "nm-05", "bg-01")
VIEWS = (0, 90)
FRAMES, SHAPE = 12, (48, 36)

PROTOCOL = """
name = "tiny"
description = "7 subjects: recognizers 2 / GN 1 / ST-GAN 2 / test 2"
reference_subjects = 7
views = [0, 90]
gallery = ["nm-01", "nm-02"]
[groups]
recognizers = 2
gn = 1
stgan = 2
test = 2
[probes]
nm = ["nm-05"]
bg = ["bg-01"]
"""

# Small enough to train in seconds, large enough that the generators keep a person-sized silhouette.
TINY_GAN = "clip = 4\nbatch = 2\nepochs = 8\nlr = 0.002\n"
CONFIG = f"""
name = "tiny"
seed = 0
device = "cpu"
workers = 1
threads = 1
protocol = "protocol.toml"

[world]
path = "data"

[evaluate]
ks = [1, 2]  # the gallery holds 2 subjects

[recognizers.zheng2011]
rank = 4

[anonymizers.identity]

[anonymizers.blur]
sigma = 3.0

[anonymizers.noise-gait]
{TINY_GAN}
[anonymizers.stgan]
{TINY_GAN}gn_epochs = 2
gn_batch = 8
gn_lr = 0.002
sweep = {{ alpha = [0.2, 0.4] }}

[scorers.frame-hog]
stride = 3

[scorers.video-synth]
weights = "action.npz"

[realism]
frechet = ["zheng2011"]

[pictures]
views = [0, 90]
frames = 3
rows = ["noise-gait", "stgan[alpha=0.2]"]
sweep = "stgan"
"""


def write_world(root: Path) -> Path:
    """7 subjects x CONDITIONS x VIEWS x 12 frames of 48x36 with colour videos and background videos."""
    tree = write_casia_tree(root, subjects=SUBJECTS, conditions=CONDITIONS, views=VIEWS, frames=FRAMES, shape=SHAPE)
    for view in VIEWS:
        scene = np.zeros((*SHAPE, 3), np.uint8)
        scene[..., 1] = np.linspace(40, 200, SHAPE[1], dtype=np.uint8)[None, :]
        scene[..., 2] = 60 + view
        for s, subject in enumerate(SUBJECTS):
            write_video(root / "videos" / f"{subject}-bkgrd-{view:03d}.avi", np.repeat(scene[None], 3, axis=0))
            for key, masks in tree.truth.items():
                if key.startswith(subject) and key.endswith(f"{view:03d}"):
                    frames = np.repeat(scene[None], FRAMES, axis=0)
                    frames[masks] = (200 - 20 * s, 60 + 10 * s, 60)
                    write_video(root / "videos" / f"{key}.avi", frames)
    return root


def write_action_weights(path: Path) -> Path:
    """A video-synth checkpoint of an untrained network (seeded): scoring needs a file, not a good model."""
    import torch

    from benchmark.scorers.action import ACTIONS, ActionNet, save_action_model

    torch.manual_seed(0)
    return save_action_model(path, ActionNet(len(ACTIONS), width=4).eval(),
                             {"classes": list(ACTIONS), "crop": 32, "width": 4, "heldout": {"accuracy": None}})
