"""Gait recognizers used as black-box attackers. Each is declared in ``benchmark.registry.RECOGNIZERS`` below.

Declarations only (no torch import here): ``gaitbench ls`` lists them cheaply; the registry imports a model's
module when it is used. ``input`` is the normalised input each reads, ``torch`` whether it needs torch, and
``pairwise`` whether comparing costs a network pass per probe x gallery pair (slow for the full view matrix).
"""

from benchmark.registry import RECOGNIZERS

RECOGNIZERS.add(
    "zheng2011",
    "recognizers.zheng2011:Zheng2011",
    "GEI -> robust PCA features -> per-view PCA+LDA, SVD view transformation (Zheng et al. 2011)",
    input="gei 64x44",
    torch=False,
    pairwise=False,
)
RECOGNIZERS.add(
    "wu2017-mt",
    "recognizers.wu2017:Wu2017MT",
    "GEI-pair similarity CNN, mid-level fusion MT (Wu et al. 2017)",
    input="gei 64x44",
    torch=True,
    pairwise=True,
)
RECOGNIZERS.add(
    "geinet",
    "recognizers.geinet:GEINet",
    "GEI classification CNN, penultimate features matched (Shiraga et al. 2016)",
    input="gei 128x88",
    torch=True,
    pairwise=False,
)
RECOGNIZERS.add(
    "gaitset",
    "recognizers.gaitset:GaitSet",
    "set-based CNN on silhouette sets, HPP, triplet loss (Chao et al. 2019)",
    input="frames 64x44",
    torch=True,
    pairwise=False,
)
RECOGNIZERS.add(
    "pose-gait",
    "recognizers.posegait:PoseGait",
    "skeleton gait recognizer: BlazePose keypoints from the colour video, temporal convolution, triplet + CE "
    "(in the style of GaitGraph, Teepe et al. 2021); needs the pose extra",
    input="pose 33x4",
    torch=True,
    pairwise=False,
)
