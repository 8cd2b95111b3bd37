"""Anonymization methods. Each is declared in ``benchmark.registry.ANONYMIZERS`` below.

Declarations only (no torch import here): ``gaitbench ls anonymizers`` lists them cheaply; the registry imports
a method's module when it is used. ``trainable`` says whether ``gaitbench train anonymizer`` applies, ``input``
what the method changes (contours: silhouettes via contour vectors, then Eq. 9 colour; pixels: the colour frames
and the silhouette an attacker would segment from them).
"""

from benchmark.registry import ANONYMIZERS

ANONYMIZERS.add(
    "stgan",
    "baselines.stgan:STGAN",
    "ST-GAN (Tieu et al. 2019): noise generator GN, generator G, spatial and temporal discriminators, alpha; "
    "our form, natural walkers (docs/anonymizers.md)",
    trainable=True,
    input="contours",
)
ANONYMIZERS.add(
    "stgan-paper",
    "baselines.stgan:STGANPaper",
    "ST-GAN in the paper's literal form (Eq. 8's L1 objective, plain G, frozen GN noise): stgan is ours",
    trainable=True,
    input="contours",
)
ANONYMIZERS.add(
    "stgan-nogn",
    "baselines.stgan:STGANNoGN",
    "ST-GAN ablation (paper Fig. 7): a Gaussian seed added directly instead of GN's noise contour",
    trainable=True,
    input="contours",
)
ANONYMIZERS.add(
    "noise-gait",
    "baselines.noise_gait:NoiseGait",
    "Tieu et al. 2017: another training subject's gait at the same view as noise (our reconstruction)",
    trainable=True,
    input="contours",
)
ANONYMIZERS.add(
    "identity",
    "baselines.classic:Identity",
    "no change: the reference point (success rate = 1 - clean accuracy)",
    trainable=False,
    input="pixels",
    passthrough=True,
)
ANONYMIZERS.add(
    "blur",
    "baselines.classic:Blur",
    "Gaussian blur of the person region",
    trainable=False,
    input="pixels",
)
ANONYMIZERS.add(
    "pixelate",
    "baselines.classic:Pixelate",
    "block averaging (mosaic) of the person region",
    trainable=False,
    input="pixels",
)
ANONYMIZERS.add(
    "mask",
    "baselines.classic:Mask",
    "the person covered by a solid shape (bounding box or dilated silhouette)",
    trainable=False,
    input="pixels",
)
