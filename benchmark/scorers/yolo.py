"""``frame-yolo``: an ultralytics YOLO detector as a frame scorer; the score is the best "person" confidence.

The paper's frame score is "the probability of a pretrained YOLOv3 that the object is a person", averaged over
frames. Per frame this scorer runs an ultralytics detection model (``predict`` over batches of frames, letterboxed
to ``imgsz``) and keeps the highest confidence among the boxes classified as ``person`` (0 when no such box
reaches ``conf``); the sequence's value is the mean over frames. The class is looked up by name in the model's
``names`` (COCO models have it at index 0), so a model with another class order is read correctly, and one
without a ``person`` class is refused. ``conf`` defaults to 0.001 (ultralytics' own validation threshold), so
that a weak person still counts with its confidence instead of 0. Non-maximum suppression (restricted to the
person class) does not change the maximum: the best box always survives it. A candidate box whose best class is
not ``person`` is not a person box, as in ultralytics' own output.

Weights are never downloaded (ultralytics would fetch a bare name such as ``yolov8n.pt``): the scorer reads a
local checkpoint from the config key ``weights``, the environment variable ``GAITBENCH_YOLO_WEIGHTS`` or
``$GAITBENCH_CACHE/weights/<filename>`` (default ``yolov8n.pt``), in that order, and raises
:class:`~benchmark.scorers.base.MissingWeightsError` before ultralytics is imported. The paper used YOLOv3:
ultralytics' ``yolov3u.pt`` (YOLOv3 with its anchor-free head) is the closest file it publishes; set
``filename = "yolov3u.pt"`` (or point ``weights`` at it) to use it. Ultralytics checkpoints are pickled models:
load only files from a source you trust.

Before ultralytics is first imported, ``YOLO_CONFIG_DIR`` defaults to ``$GAITBENCH_CACHE/ultralytics`` (its
settings file goes there, not into the home folder), ``YOLO_OFFLINE`` to 1 (no connectivity check, so no
usage events) and ``YOLO_AUTOINSTALL`` to false (no pip installs); variables already set are kept.

Frames are RGB (:mod:`benchmark.types`); ultralytics reads numpy images as OpenCV's BGR, so they are flipped
at the call.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from benchmark.scorers.base import Scorer, check_batch_size, find_weights, import_extra
from benchmark.synth.body import cache_root
from benchmark.types import check_frames

WEIGHTS_FILE = "yolov8n.pt"
#: the ultralytics file closest to the paper's YOLOv3
PAPER_WEIGHTS_FILE = "yolov3u.pt"
WEIGHTS_ENV = "GAITBENCH_YOLO_WEIGHTS"
WEIGHTS_SOURCE = "https://github.com/ultralytics/assets/releases (yolov8n.pt; yolov3u.pt for the paper's YOLOv3)"
PERSON = "person"
#: ultralytics tasks whose results carry ``boxes`` with classes and confidences
BOX_TASKS: tuple[str, ...] = ("detect", "segment", "pose")


def class_index(names: Mapping[int, str] | Sequence[str], wanted: str = PERSON, where: str = "the model") -> int:
    """Index of class ``wanted`` in a model's ``names`` (``{index: name}`` or a list); ``ValueError`` if absent."""
    items = names.items() if isinstance(names, Mapping) else enumerate(names)
    found = [int(i) for i, n in items if n == wanted]
    if not found:
        shown = list(names.values()) if isinstance(names, Mapping) else list(names)
        raise ValueError(f"{where} has no class {wanted!r} (its {len(shown)} classes: {shown[:8]}...): "
                         "frame-yolo needs a detector trained with a person class, e.g. a COCO model")
    return found[0]


def best_confidence(classes: np.ndarray, confidences: np.ndarray, index: int) -> float:
    """Highest confidence among boxes of class ``index``; 0.0 when there is none.

    Parameters
    ----------
    classes : ndarray (n,)
        Class index of each box (any numeric dtype).
    confidences : ndarray (n,)
        Confidence of each box, in [0, 1].
    index : int
        The class looked for.
    """
    classes = np.asarray(classes).reshape(-1)
    confidences = np.asarray(confidences, dtype=np.float64).reshape(-1)
    if classes.shape != confidences.shape:
        raise ValueError(f"classes and confidences differ in length: {classes.shape} vs {confidences.shape}")
    hit = confidences[classes == index]
    return float(hit.max()) if hit.size else 0.0


def import_ultralytics() -> Any:
    """The ``ultralytics`` package, imported with its settings kept out of the home folder and offline."""
    os.environ.setdefault("YOLO_CONFIG_DIR", str(cache_root() / "ultralytics"))
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")
    return import_extra("ultralytics", scorer=YOLOScorer.name, extra="yolo")


@dataclasses.dataclass(frozen=True)
class Config:
    """Settings of ``frame-yolo``.

    ``weights``: the checkpoint (else ``$GAITBENCH_YOLO_WEIGHTS``, else ``$GAITBENCH_CACHE/weights/<filename>``);
    ``filename``: the file looked for there (``yolov8n.pt``; ``yolov3u.pt`` for the paper's YOLOv3); ``imgsz``:
    the letterbox size in px (a multiple of 32); ``conf``: the lowest confidence reported (below it a frame
    scores 0); ``batch_size``: frames per ``predict`` call.
    """

    weights: Path | None = None
    filename: str = WEIGHTS_FILE
    imgsz: int = 640
    conf: float = 0.001
    batch_size: int = 16

    def __post_init__(self) -> None:
        if self.imgsz < 32 or self.imgsz % 32:
            raise ValueError(f"imgsz must be a positive multiple of 32 (the detector's stride), got {self.imgsz}")
        if not 0.0 < self.conf < 1.0:
            raise ValueError(f"conf must lie in (0, 1), got {self.conf}")
        check_batch_size(self.batch_size)
        if not self.filename or Path(self.filename).name != self.filename:
            raise ValueError(f"filename must be a bare file name, got {self.filename!r} (use weights for a path)")


class YOLOScorer(Scorer):
    """Frame scorer: the highest ``person`` confidence an ultralytics YOLO detector finds in each frame."""

    name: ClassVar[str] = "frame-yolo"
    level: ClassVar[str] = "frame"
    offline: ClassVar[bool] = False
    Config: ClassVar[type] = Config

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self._model: Any = None
        self.weights_path: Path | None = None
        self.person_index: int | None = None

    def weights_file(self) -> Path:
        c = self.config
        return find_weights(c.weights, filename=c.filename, env_var=WEIGHTS_ENV, default_dir=cache_root() / "weights",
                            source=WEIGHTS_SOURCE)

    @property
    def model(self) -> Any:
        """The ultralytics ``YOLO`` model (loaded on first use from the local file; never downloaded)."""
        if self._model is None:
            # Resolved before ultralytics is touched: given a missing file it would try to download it.
            path = self.weights_file()
            ultralytics = import_ultralytics()
            try:
                model = ultralytics.YOLO(str(path))
            except Exception as exc:
                raise ValueError(f"{path} is not a readable ultralytics YOLO checkpoint: {exc}") from exc
            if model.task not in BOX_TASKS:
                raise ValueError(f"{path} is a {model.task!r} model; frame-yolo needs boxes ({', '.join(BOX_TASKS)})")
            self.person_index = class_index(model.names, PERSON, where=str(path))
            self._model, self.weights_path = model, path
        return self._model

    @property
    def label(self) -> str:
        c = self.config
        name = (self.weights_path or c.weights or Path(os.environ.get(WEIGHTS_ENV) or c.filename)).name
        return f"YOLO ({name}) highest P('person') per frame, imgsz {c.imgsz}, conf >= {c.conf:g}"

    def score_frames(self, frames: np.ndarray, silhouettes: np.ndarray | None = None) -> np.ndarray:
        """Best person confidence ``float64 (T,)`` per frame of RGB ``uint8 (T, H, W, 3)`` (0 where none)."""
        check_frames(frames)
        model = self.model
        assert self.person_index is not None  # set with the model
        c = self.config
        out = np.zeros(len(frames), np.float64)
        import torch

        threads = torch.get_num_threads()
        for s in range(0, len(frames), c.batch_size):
            batch = [np.ascontiguousarray(f[..., ::-1]) for f in frames[s : s + c.batch_size]]  # RGB -> BGR
            try:
                results = model.predict(batch, imgsz=c.imgsz, conf=c.conf, classes=[self.person_index],
                                        device=self.device, verbose=False)
            finally:
                # ultralytics sets torch's thread count (to cores - 1) when it picks a CPU device and keeps it:
                # the process's other models would then run on fewer threads than they were given
                torch.set_num_threads(threads)
            for i, r in enumerate(results):
                boxes = r.boxes
                out[s + i] = best_confidence(boxes.cls.cpu().numpy(), boxes.conf.cpu().numpy(), self.person_index)
        return np.clip(out, 0.0, 1.0)
