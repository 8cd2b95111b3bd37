"""Naturalness scorers. Each is declared in ``benchmark.registry.SCORERS`` below.

Declarations only (no torch or OpenCV import here): ``gaitbench ls scorers`` lists them cheaply; the registry
imports a scorer's module when it is used. ``level`` says what one item is (``frame``: does the walker look
like a person; ``video``: does the clip look like someone walking) and ``offline`` whether it runs with what
the install ships (False: it needs a weights file on disk, see :class:`benchmark.scorers.base.MissingWeightsError`).
"""

from benchmark.registry import SCORERS

SCORERS.add(
    "frame-hog",
    "benchmark.scorers.hog:HOGScorer",
    "OpenCV's pretrained Dalal-Triggs HOG pedestrian SVM on the walker's box; best margin -> logistic",
    level="frame",
    offline=True,
)
SCORERS.add(
    "video-resnext101",
    "benchmark.scorers.resnext:ResNeXtScorer",
    "3D ResNeXt-101 (Hara et al.) on 16-frame clips; P('walk') with the HMDB-51 fine-tuned weights",
    level="video",
    offline=False,
)
SCORERS.add(
    "video-synth",
    "benchmark.scorers.action:SynthActionScorer",
    "gaitbench's synthetic-action 3D CNN (walk/run/stand/jump/turn) on 16-frame clips; P('walk'); weights made "
    "offline by `gaitbench action-model`, trained on rendered actions, never on anonymized data",
    level="video",
    offline=True,
)
SCORERS.add(
    "frame-yolo",
    "benchmark.scorers.yolo:YOLOScorer",
    "ultralytics YOLO detector (local weights: yolov8n.pt, or yolov3u.pt as the paper's YOLOv3); best P('person') "
    "per frame",
    level="frame",
    offline=False,
)
SCORERS.add(
    "video-pytorchvideo",
    "benchmark.scorers.hub_video:PyTorchVideoScorer",
    "pytorchvideo Kinetics-400 model (x3d_s default; slow_r50, x3d_m, x3d_xs); P(walking the dog + marching + jogging)",
    level="video",
    offline=False,
)
SCORERS.add(
    "frame-pose",
    "benchmark.scorers.pose:PoseScorer",
    "BlazePose (mediapipe 0.10.14, trained on real people; bundled, offline): landmark visibility x anatomical "
    "plausibility of the skeleton, per frame; needs the pose extra",
    level="frame",
    offline=True,
)
