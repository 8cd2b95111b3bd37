"""The noise-gait baseline (Tieu et al., "An approach for gait anonymization using deep learning", WIFS 2017).

**Published:** a CNN takes the original gait and a *noise gait* (another person's gait: a different subject, a
similar sequence length, the same viewing angle) and outputs the anonymized gait; the ST-GAN paper reuses its
two-encoder-sum generator (here :class:`baselines.contour_gan.Generator`). **Our reconstruction** (layer sizes,
loss weights and training are not public):

- Noise gaits come from a *pool*: the ``pool_conditions`` walks (default ``nm-01``) of the training group's
  subjects, kept in the checkpoint. **Selection rule** for a sequence of subject ``s``, view ``v``, length ``T``:
  among pool walks of other subjects at view ``v`` (at the nearest pooled view when ``v`` has none, the smaller
  one on a tie), the one with the smallest ``|T_noise - T|``, ties broken by subject id then condition.
  Frame ``i`` of the original is paired with frame ``i mod T_noise`` of the noise gait, or, with
  ``phase_align`` (ours), frame ``(i + o) mod T_noise`` where the offset ``o`` best lines up the two walks' leg
  spread over time (:func:`phase_offset`), so both legs swing together. The rule is deterministic: the seed
  does not change the output. Frames without a contour (empty silhouettes) never enter the pool.
- Losses of G per frame: ``L1(Y, G) + beta * L1(N, G) + L_S`` where ``N`` is the paired noise-gait frame and
  ``L_S`` the frame-level adversarial term of a spatial discriminator DS (the same network and Eq. 2 / Eq. 4 as
  ST-GAN's DS); DS and G are updated alternately. There is no temporal discriminator (that is ST-GAN's
  contribution). ``beta`` plays ST-GAN's ``alpha`` role; default 0.3.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from baselines.contour_gan import (
    ContourAnonymizer,
    Generator,
    SpatialDiscriminator,
    adam,
    clip_starts,
    data_signature,
    discriminator_loss,
    gather_clips,
    generator_adversarial_loss,
    l1,
    low_pass,
    sample_clips,
    stage_settings,
)
from baselines.contour_space import POINTS, ContourSet, load_contours
from benchmark.api import (
    CheckpointError,
    FitOptions,
    GaitSequence,
    TrainSource,
    format_parameters,
    load_module_arrays,
    module_arrays,
    train,
)
from benchmark.training import distributed_env


@dataclasses.dataclass(frozen=True)
class NoiseGaitConfig:
    """Settings of our reconstruction of Tieu et al. 2017 (none are published)."""

    beta: float = 0.3
    train_group: str = "stgan"
    pool_conditions: tuple[str, ...] = ("nm-01",)
    channels: tuple[int, ...] = (16, 32, 64)
    harmonics: int = 48
    ds_channels: tuple[int, ...] = (16, 32)
    clip: int = 16
    batch: int = 8
    epochs: int = 12
    lr: float = 1e-3
    gan_loss: str = "paper"
    seed: int = 0
    anonymize_batch: int = 256
    #: pair each frame with the noise gait's frame at the same phase of the walk (ours; the paper pairs by index)
    phase_align: bool = False
    #: carry the original's holes (arm-body gaps) into the output, moved with the contour (ours; the contour form
    #: has none, so a decoded silhouette loses them and a recognizer notices)
    keep_holes: bool = False
    #: G as ST-GAN's options make it (ours): a decoder that wraps around the closed contour (without it point 0,
    #: the head top, grows ears), and a residual G that starts as the identity
    circular_decoder: bool = False
    residual: bool = False

    def __post_init__(self) -> None:
        if not self.beta >= 0:
            raise ValueError(f"beta must be >= 0, got {self.beta}")
        for key in ("clip", "batch", "anonymize_batch"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key} must be >= 1, got {getattr(self, key)}")
        if self.epochs < 0:
            raise ValueError(f"epochs must be >= 0, got {self.epochs}")
        if not self.pool_conditions:
            raise ValueError("pool_conditions must name at least one condition, e.g. ['nm-01']")
        if self.gan_loss not in ("paper", "non-saturating"):
            raise ValueError(f"gan_loss must be 'paper' or 'non-saturating', got {self.gan_loss!r}")


@dataclasses.dataclass(frozen=True)
class Pool:
    """Noise gaits: ``shapes`` float16 (N, 2, P) concatenated, ``offsets`` (S + 1,), and per walk its subject,
    condition and view."""

    shapes: np.ndarray
    offsets: np.ndarray
    subjects: tuple[str, ...]
    conditions: tuple[str, ...]
    views: tuple[int, ...]

    @classmethod
    def from_contours(cls, data: ContourSet, conditions: Sequence[str]) -> Pool:
        keep = [s for s in range(len(data))
                if data.conditions[s] in set(conditions) and data.valid[data.frames(s)].any()]
        if not keep:
            raise ValueError(f"no training walk of conditions {list(conditions)} with a contour for the noise-gait "
                             "pool")
        parts = [data.shapes[data.frames(s)][data.valid[data.frames(s)]] for s in keep]  # empty frames left out
        return cls(
            shapes=np.concatenate(parts),
            offsets=np.concatenate([[0], np.cumsum([len(p) for p in parts])]).astype(np.int64),
            subjects=tuple(str(data.subjects[s]) for s in keep),
            conditions=tuple(str(data.conditions[s]) for s in keep),
            views=tuple(int(data.views[s]) for s in keep),
        )

    def choose(self, subject: str, view: int, length: int) -> int:
        """The pool walk used as noise gait for a sequence (the rule of the module docstring)."""
        others = [i for i, s in enumerate(self.subjects) if s != subject]
        if not others:
            raise ValueError(f"the noise-gait pool has no subject other than {subject!r}")
        pooled = sorted({self.views[i] for i in others})
        near = min(pooled, key=lambda v: (abs(v - view), v))
        lengths = np.diff(self.offsets)
        cands = [i for i in others if self.views[i] == near]
        return min(cands, key=lambda i: (abs(int(lengths[i]) - length), self.subjects[i], self.conditions[i]))

    def noise_frames(self, walk: int, frames: np.ndarray) -> np.ndarray:
        """``float32 (len(frames), 2, P)``: frames ``i mod T_noise`` of pool walk ``walk``."""
        a, b = int(self.offsets[walk]), int(self.offsets[walk + 1])
        return self.shapes[a + np.asarray(frames) % (b - a)].astype(np.float32)

    def walk(self, walk: int) -> np.ndarray:
        """All frames of pool walk ``walk``, ``float32 (T_noise, 2, P)``."""
        return self.shapes[int(self.offsets[walk]) : int(self.offsets[walk + 1])].astype(np.float32)


def leg_spread(shapes: np.ndarray) -> np.ndarray:
    """Per frame, the horizontal extent of the contour's lowest quarter (the legs), ``(T,)``: it peaks twice per
    gait cycle, at each double support. ``shapes`` ``(T, 2, P)`` in the networks' form (y down, box height 1)."""
    x, y = shapes[:, 0].astype(np.float64), shapes[:, 1].astype(np.float64)
    low = y > 0.25
    lo = np.where(low, x, np.inf).min(1)
    hi = np.where(low, x, -np.inf).max(1)
    return np.where(np.isfinite(lo) & np.isfinite(hi), hi - lo, 0.0)


def phase_offset(source: np.ndarray, noise: np.ndarray) -> int:
    """The offset ``o`` in ``0..T_noise-1`` for which frame ``(i + o) mod T_noise`` of ``noise`` best matches
    frame ``i`` of ``source`` in leg spread (highest correlation of the mean-removed signals; the smallest ``o``
    on a tie). Both ``(T, 2, P)``; frames of ``source`` without a contour (all zeros) are left out."""
    a, b = leg_spread(source), leg_spread(noise)
    used = np.abs(source).sum((1, 2)) > 0
    if used.sum() < 2 or len(b) < 2:
        return 0
    a = np.where(used, a - a[used].mean(), 0.0)
    b = b - b.mean()
    index = np.arange(len(a))
    scores = [float((a * b[(index + o) % len(b)]).sum()) for o in range(len(b))]
    return int(np.argmax(scores))


class NoiseGaitTask:
    """G against DS on clips paired frame by frame with their chosen noise gaits."""

    def __init__(self, owner: NoiseGait, data: ContourSet, pool: Pool) -> None:
        self.owner, self.config, self.data, self.pool = owner, owner.config, data, pool
        self.starts = clip_starts(data, self.config.clip)
        self.noise = [pool.choose(str(data.subjects[s]), int(data.views[s]), int(data.lengths[s]))
                      for s in range(len(data))]
        self.offsets = [phase_offset(data.shapes[data.frames(s)].astype(np.float32), pool.walk(w))
                        if self.config.phase_align else 0 for s, w in enumerate(self.noise)]

    def modules(self) -> dict[str, nn.Module]:
        c = self.config
        self.mods = {"g": self.owner.build_generator(), "ds": SpatialDiscriminator(c.ds_channels)}
        return dict(self.mods)

    def optimizers(self, modules: Mapping[str, nn.Module]) -> dict[str, torch.optim.Optimizer]:
        self.opt = {k: adam(m, self.config.lr) for k, m in modules.items()}
        return self.opt

    def plan(self, epoch: int, rng: np.random.Generator) -> Sequence[Any]:
        return sample_clips(self.starts, self.config.batch, rng)

    def step(self, models: Mapping[str, nn.Module], batch: Any, device: torch.device) -> Mapping[str, float]:
        c = self.config
        seqs, firsts, _ = batch
        y = gather_clips(self.data, seqs, firsts, c.clip, device).reshape(-1, 2, POINTS)  # (B*L, 2, P)
        noise = np.concatenate([self.pool.noise_frames(self.noise[s], self.offsets[s] + f + np.arange(c.clip))
                                for s, f in zip(seqs, firsts, strict=True)])
        n = torch.from_numpy(noise).to(device)  # (B*L, 2, P)
        fake = models["g"](y, n)
        d_loss = discriminator_loss(models["ds"](low_pass(y, c.harmonics)), models["ds"](fake.detach()))
        self.opt["ds"].zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt["ds"].step()
        parts = {"S": generator_adversarial_loss(models["ds"](fake), c.gan_loss), "rec": l1(y, fake),
                 "sim": l1(n, fake)}
        g_loss = parts["S"] + parts["rec"] + c.beta * parts["sim"]
        self.opt["g"].zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt["g"].step()
        return {"G": float(g_loss.detach()), "DS": float(d_loss.detach()),
                **{k: float(v.detach()) for k, v in parts.items()}}

    def signature(self) -> Mapping[str, Any]:
        return data_signature(self.owner.name, "g", self.config, self.data)

    opt: dict[str, torch.optim.Optimizer]
    mods: dict[str, nn.Module]


class NoiseGait(ContourAnonymizer):
    """Tieu et al. 2017: ``Y_hat = G(Y, N)`` with ``N`` another training subject's gait (module docstring)."""

    name = "noise-gait"
    Config = NoiseGaitConfig

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.generator: Generator | None = None
        self.pool: Pool | None = None

    def parameters(self) -> str:
        return format_parameters({"beta": f"{self.config.beta:g}"})

    def build_generator(self) -> Generator:
        c = self.config
        return Generator(c.channels, c.harmonics, circular=c.circular_decoder, residual=c.residual)

    def _noise(self, seq: GaitSequence, shapes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        assert self.pool is not None
        walk = self.pool.choose(seq.subject, seq.view, len(shapes))
        offset = phase_offset(shapes, self.pool.walk(walk)) if self.config.phase_align else 0
        return self.pool.noise_frames(walk, offset + np.arange(len(shapes)))

    def noise_source(self, seq: GaitSequence) -> str:
        """The pool walk a sequence gets as noise gait, as ``subject-condition-view``."""
        assert self.pool is not None
        i = self.pool.choose(seq.subject, seq.view, seq.num_frames)
        return f"{self.pool.subjects[i]}-{self.pool.conditions[i]}-{self.pool.views[i]:03d}"

    def _fit(self, source: TrainSource, options: FitOptions) -> dict[str, Any]:
        c = self.config
        began = time.perf_counter()
        data = load_contours(source.root, source.subjects(c.train_group), views=source.views, workers=source.workers)
        if options.progress and distributed_env()[0] == 0:
            print(f"[{self.name}] group {c.train_group!r}: {len(data)} sequences read in "
                  f"{time.perf_counter() - began:.1f} s", file=sys.stderr)
        pool = Pool.from_contours(data, c.pool_conditions)
        task = NoiseGaitTask(self, data, pool)
        result = train(task, stage_settings(c, options, c.epochs, "g", self.name))
        self.generator = task.mods["g"].cpu().eval()  # type: ignore[assignment]
        self.pool = pool
        return {
            "groups": {"g": sorted(set(data.subjects.tolist()))},
            "epochs": result.epochs,
            "epoch_seconds": [round(h["seconds"], 3) for h in result.history],
            "final_losses": result.history[-1]["losses"] if result.history else {},
            "history": [h["losses"] for h in result.history],
            "device": result.device,
            "finished": result.epochs >= c.epochs,
        }

    def state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        if self.generator is None or self.pool is None:
            raise RuntimeError(f"{self.name} is not trained")
        arrays = module_arrays({"g": self.generator})
        arrays.update({"pool.shapes": self.pool.shapes, "pool.offsets": self.pool.offsets})
        extra = {"pool": {"subjects": list(self.pool.subjects), "conditions": list(self.pool.conditions),
                          "views": list(self.pool.views)}}
        return arrays, extra

    def set_state(self, arrays: Mapping[str, np.ndarray], extra: Mapping[str, Any]) -> None:
        g = self.build_generator()
        load_module_arrays(self.name, {"g": g}, {k: v for k, v in arrays.items() if k.startswith("g.")})
        try:
            meta = extra["pool"]
            self.pool = Pool(arrays["pool.shapes"], arrays["pool.offsets"], tuple(meta["subjects"]),
                             tuple(meta["conditions"]), tuple(int(v) for v in meta["views"]))
        except KeyError as exc:
            raise CheckpointError(f"{self.name} checkpoint lacks its noise-gait pool ({exc})") from None
        if len(self.pool.offsets) != len(self.pool.subjects) + 1:
            raise CheckpointError(f"{self.name} checkpoint pool has {len(self.pool.offsets) - 1} walks in its "
                                  f"arrays but {len(self.pool.subjects)} in its record")
        self.generator = g
