"""The interface every naturalness scorer implements, its result type and the missing-weights error.

Config, device and checkpoints come from :class:`benchmark.plugin.Plugin`.

A scorer answers "does the (anonymized) walker still look like a person?" (``level = "frame"``: one score per
frame) or "... like someone walking?" (``level = "video"``: one score per clip). :meth:`Scorer.score` reads a
sequence's colour frames and returns a :class:`SequenceScore`: every per-item score in [0, 1] and their mean as
the sequence's value. :attr:`Scorer.label` says exactly which model and mapping produced the numbers, so a
results table can name them.

Scorers built on downloaded weights never fetch them: they look for a local file and raise
:class:`MissingWeightsError` naming the file, the config key / environment variable that points to it and the
folder where it is looked for by default.
"""

from __future__ import annotations

import abc
import dataclasses
import importlib
import math
import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from benchmark.plugin import Plugin
from benchmark.types import GaitSequence

LEVELS: tuple[str, ...] = ("frame", "video")


class MissingWeightsError(FileNotFoundError):
    """A scorer's pretrained weights are not on this machine; the message says which file and where to put it.

    Parameters
    ----------
    filename : str
        The file the scorer needs, e.g. ``resnext-101-kinetics-hmdb51_split1.pth``.
    config_key : str
        The scorer's config key that takes its path, e.g. ``weights``.
    env_var : str
        The environment variable that takes its path.
    default_dir : Path
        Where the file is looked for when neither is set.
    tried : Path, optional
        A path that was given but does not exist.
    source : str
        Where the file can be obtained (free text, may be empty).
    """

    def __init__(
        self,
        filename: str,
        *,
        config_key: str,
        env_var: str,
        default_dir: Path,
        tried: Path | None = None,
        source: str = "",
    ) -> None:
        self.filename = filename
        self.config_key = config_key
        self.env_var = env_var
        self.default_dir = default_dir
        self.tried = tried
        head = f"weights file {tried} does not exist" if tried is not None else f"weights file {filename} not found"
        where = f"; it is published at {source}" if source else ""
        message = (
            f"{head}: put {filename} into {default_dir}/, or point the config key {config_key!r} or the "
            f"environment variable {env_var} at it{where}"
        )
        super().__init__(message)
        # OSError keeps the constructor's arguments as ``args`` (set in ``__new__``): show the message instead.
        self.args = (message,)
        self.message = message

    def __str__(self) -> str:
        return self.message


def find_weights(
    configured: str | os.PathLike[str] | None,
    *,
    filename: str,
    env_var: str,
    default_dir: Path,
    source: str = "",
    config_key: str = "weights",
) -> Path:
    """The weights file a scorer reads: ``configured``, else ``$env_var``, else ``default_dir / filename``.

    Raises :class:`MissingWeightsError` (naming the file, the config key, the variable and the folder) when the
    chosen file does not exist; nothing is ever downloaded.
    """
    env = os.environ.get(env_var)
    given = Path(configured) if configured is not None else (Path(env) if env else None)
    path = (given or default_dir / filename).expanduser()
    if not path.is_file():
        raise MissingWeightsError(
            filename,
            config_key=config_key,
            env_var=env_var,
            default_dir=default_dir,
            tried=path if given is not None else None,
            source=source,
        )
    return path


def check_batch_size(batch_size: int) -> None:
    """``ValueError`` unless a scorer config's ``batch_size`` (items per forward pass) is at least 1."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")


#: a torch/torchvision pair that works together on the CPU (torchvision wheels must match their torch build)
TORCH_PAIR = "torch==2.14.1 torchvision==0.29.1"


def import_extra(module: str, *, scorer: str, extra: str) -> Any:
    """Import ``module`` from an optional extra; ``ImportError`` saying what to install when it is absent or broken.

    A torchvision built for another torch fails at import with ``RuntimeError`` (e.g. ``operator
    torchvision::nms does not exist``); that, too, becomes the install hint.
    """
    try:
        return importlib.import_module(module)
    except (ImportError, RuntimeError, OSError) as exc:
        raise ImportError(
            f"scorer {scorer!r} needs {module!r}, which cannot be imported ({type(exc).__name__}: {exc}); install a "
            f"matching torch/torchvision pair and the extra: pip install {TORCH_PAIR} && pip install -e '.[{extra}]'"
        ) from exc


@dataclasses.dataclass(frozen=True, eq=False)
class SequenceScore:
    """A scorer's answer for one sequence.

    Attributes
    ----------
    value : float
        The sequence's score in [0, 1]: the mean of ``per_item``.
    per_item : ndarray, float64 (n,)
        One score in [0, 1] per frame (frame scorers) or per clip (video scorers).
    n : int
        Number of items scored (``len(per_item)``).
    """

    value: float
    per_item: np.ndarray
    n: int

    def __post_init__(self) -> None:
        items = self.per_item
        if not isinstance(items, np.ndarray) or items.dtype != np.float64 or items.ndim != 1:
            got = f"{type(items).__name__} {getattr(items, 'dtype', '')} {getattr(items, 'shape', '')}"
            raise TypeError(f"per_item must be a float64 (n,) array, got {got}")
        if self.n != len(items) or self.n < 1:
            raise ValueError(f"n must equal len(per_item) >= 1, got n={self.n} for {len(items)} items")
        if not np.all((items >= 0.0) & (items <= 1.0)):  # also rejects NaN
            bad = items[~((items >= 0.0) & (items <= 1.0))]
            raise ValueError(f"per-item scores must lie in [0, 1], got {bad[:5].tolist()}")
        if not (0.0 <= self.value <= 1.0) or math.isnan(self.value):
            raise ValueError(f"value must lie in [0, 1], got {self.value}")

    @classmethod
    def of(cls, per_item: np.ndarray) -> SequenceScore:
        """The score whose value is the mean of ``per_item`` (array-like of scores in [0, 1])."""
        items = np.asarray(per_item, dtype=np.float64).reshape(-1)
        return cls(float(items.mean()) if items.size else math.nan, items, int(items.size))


def require_frames(seq: GaitSequence, scorer: str) -> np.ndarray:
    """The colour frames ``uint8 (T, H, W, 3)`` of ``seq``; ``ValueError`` naming ``seq.key`` when absent or empty."""
    if seq.frames is None:
        raise ValueError(
            f"scorer {scorer!r} needs colour frames, but sequence {seq.key} has silhouettes only "
            "(colourise it first, or read the dataset with its videos)"
        )
    if seq.frames.shape[0] == 0:
        raise ValueError(f"sequence {seq.key} has no frames to score with {scorer!r}")
    return seq.frames


class Scorer(Plugin):
    """Base class of naturalness scorers; subclasses set ``name``, ``level``, ``Config`` and implement the rest."""

    kind: ClassVar[str] = "scorer"
    kind_base: ClassVar[bool] = True
    required_attributes: ClassVar[tuple[str, ...]] = ("level",)
    #: ``"frame"`` (one score per frame) or ``"video"`` (one score per clip)
    level: ClassVar[str]
    #: False for a scorer that needs downloaded weights (``gaitbench ls`` says so)
    offline: ClassVar[bool] = True
    #: the run-config table of the model a run can train for this scorer (``action_model``), or None
    trainer: ClassVar[str | None] = None

    def __init__(self, config: Any = None) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"scorer {self.name!r} declares level {self.level!r}; known: {', '.join(LEVELS)}")
        super().__init__(config)

    @property
    @abc.abstractmethod
    def label(self) -> str:
        """Exactly what produced the numbers (model, weights file, mapping), for tables and reports."""

    @abc.abstractmethod
    def score_frames(self, frames: np.ndarray, silhouettes: np.ndarray | None = None) -> np.ndarray:
        """Per-item scores ``float64 (n,)`` in [0, 1] of RGB frames ``uint8 (T, H, W, 3)``.

        ``silhouettes`` (``bool (T, H, W)``) may guide where to look; scorers that do not need them ignore them.
        """

    def weights_file(self) -> Path | None:
        """The weights file this scorer reads, found now (:class:`MissingWeightsError` when it is missing), or None
        for a scorer without one. The runner keys cached scores by this file's bytes."""
        return None

    def score(self, seq: GaitSequence) -> SequenceScore:
        """Score a sequence's colour frames; ``ValueError`` naming ``seq.key`` when it has none."""
        frames = require_frames(seq, self.name)
        return SequenceScore.of(self.score_frames(frames, seq.silhouettes))

    def to(self, device: str) -> Scorer:
        """Run on ``device`` (torch scorers; others stay on the CPU); a model already loaded as ``_model`` moves."""
        self.device = device
        model = getattr(self, "_model", None)
        if model is not None and hasattr(model, "to"):
            model.to(device)
        return self
