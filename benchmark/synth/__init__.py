"""The embedded default dataset: a synthetic CASIA-B-like world of rendered walkers.

``gaitbench synth --preset {ci,quick,full} --out DIR`` writes it in CASIA-B's own layout (see
:mod:`benchmark.synth.world`). Bodies come from the ``anny`` parametric human model (optional extra
``gaitbench[synth]``); importing this package imports neither anny nor torch.
"""

# Part of every random stream: a new version gives a new world, the same version and seed the same one.
GENERATOR_VERSION = "1"
# Names the command line offers; declared here so that building the parser imports nothing heavy.
PRESET_NAMES: tuple[str, ...] = ("ci", "quick", "full")
NOISE_MODELS: tuple[str, ...] = ("none", "casia")
