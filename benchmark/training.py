"""The one training loop of gaitbench: every torch model (recognizers, anonymizers) trains through :func:`train`.

A model supplies a :class:`Task` (its modules, optimizers, a cheap plan of each epoch's batches, and one training
step); the loop does the rest, written once:

- **devices**: ``auto`` picks ``cuda`` when a GPU is present, else the CPU; ``cpu``/``cuda``/``cuda:N`` force one.
- **seeds**: before every epoch the torch, numpy and Python generators are seeded from ``(seed, epoch, rank)`` and
  the epoch's plan is drawn from a numpy generator seeded with ``(seed, epoch)``. Nothing random carries over
  between epochs, so a run resumed at epoch ``e`` is the same run as one never stopped (on the CPU bit for bit;
  on a GPU up to its non-deterministic kernels).
- **checkpoints**: after every epoch, rank 0 writes the modules, optimizers, schedulers and the history to
  ``state_path`` atomically. A rerun with the same ``state_path`` resumes after the last finished epoch, and
  refuses a state written by another task (its :meth:`Task.signature` differs).
- **DDP**: under ``torchrun`` (``WORLD_SIZE > 1``) the process group is initialised (NCCL on GPUs, Gloo on
  CPUs), modules with trainable parameters are wrapped in ``DistributedDataParallel``, and each rank takes every
  ``world_size``-th batch of the shared plan (the plan is cut to a multiple of ``world_size`` so all ranks step
  equally often). A single process never touches ``torch.distributed``.
- **progress**: a status line per batch on a terminal (at most twice a second), one line per epoch always,
  on stderr, from rank 0 only.
- **selection**: a task with a ``validate(models, device)`` method (held-out data, e.g. the protocol's
  validation group; never the test group) is scored after every epoch; its ``select`` figure (lower is better)
  and the rest go into the history. With ``TrainSettings.select_best`` the modules end with the weights of the
  epoch with the lowest ``select`` (the earliest on a tie), kept in the state too so a resumed run selects the same.

torch is imported inside the functions, so importing this module (e.g. to build the CLI) stays cheap.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import random
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from benchmark.io import atomic_path

if TYPE_CHECKING:
    import torch
    from torch import nn

STATE_FORMAT = 1


class Task(Protocol):
    """What a model gives the loop. ``modules``/``optimizers`` are dicts so GANs can hold several of each."""

    def modules(self) -> dict[str, nn.Module]:
        """The modules to train (and checkpoint); the loop moves them to the device."""
        ...

    def optimizers(self, modules: Mapping[str, nn.Module]) -> dict[str, torch.optim.Optimizer]:
        """Optimizers over the (moved) modules' parameters."""
        ...

    def plan(self, epoch: int, rng: np.random.Generator) -> Sequence[Any]:
        """The epoch's batches as cheap descriptions (e.g. index arrays), drawn with ``rng`` only."""
        ...

    def step(self, models: Mapping[str, nn.Module], batch: Any, device: torch.device) -> Mapping[str, float]:
        """One training step on one planned batch: forward, backward, optimizer steps; returns losses to log.

        ``models`` are the modules as the loop wraps them (``DistributedDataParallel`` under DDP): call these
        for the forward pass.
        """
        ...

    def signature(self) -> Mapping[str, Any]:
        """JSON-ready description of what is trained (model name, config, data fingerprint): resuming needs it equal."""
        ...

    # Optional: ``validate(models, device) -> Mapping[str, float]`` with a ``select`` key (see the module docstring).


@dataclasses.dataclass(frozen=True)
class TrainSettings:
    """How to run :func:`train`.

    Parameters
    ----------
    epochs : int
        Train until this many epochs are done (counting those of a resumed state).
    seed : int
    device : str
        ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` (under DDP each rank uses ``cuda:LOCAL_RANK`` on GPUs).
    state_path : Path, optional
        Per-epoch training state; resumed from when it exists. None = no checkpoints.
    progress : bool
        Print progress to stderr.
    stop_after : int, optional
        End this call after that many epochs (as if the process were killed); for tests of resuming.
    schedulers : bool
        Whether the task's optional ``schedulers(optimizers)`` is used (stepped once per epoch).
    name : str
        Shown in progress lines.
    select_best : bool
        End with the weights of the epoch the task's ``validate`` scores best (module docstring).
    """

    epochs: int
    seed: int = 0
    device: str = "auto"
    state_path: Path | None = None
    progress: bool = True
    stop_after: int | None = None
    schedulers: bool = True
    name: str = "train"
    select_best: bool = False

    def __post_init__(self) -> None:
        if self.epochs < 0:
            raise ValueError(f"epochs must be >= 0, got {self.epochs}")
        if self.stop_after is not None and self.stop_after < 0:
            raise ValueError(f"stop_after must be >= 0, got {self.stop_after}")


@dataclasses.dataclass(frozen=True)
class TrainSource:
    """Where a trainable anonymizer learns from: a CASIA-B tree (or synthetic world) and named subject groups.

    ``groups`` maps protocol group names (``gn``, ``stgan``, ...) to subject ids; a method's config says which
    group it reads. Anonymized data and the test group are never training data.
    """

    root: Path
    groups: Mapping[str, list[str]]
    views: tuple[int, ...] | None = None
    workers: int | None = None
    #: the subjects handed out by :meth:`subjects` (what :meth:`Anonymizer.fit` records as trained on)
    handed_out: set[str] = dataclasses.field(default_factory=set, compare=False, repr=False)

    def subjects(self, group: str) -> list[str]:
        """The subjects of ``group``; ``ValueError`` naming the groups that exist."""
        if group not in self.groups:
            raise ValueError(f"no subject group {group!r} in the training source (groups: {sorted(self.groups)})")
        subjects = list(self.groups[group])
        if not subjects:
            raise ValueError(f"subject group {group!r} of {self.root} is empty")
        self.handed_out.update(subjects)
        return subjects

    def trained_on(self) -> list[str]:
        """The subjects a method trained on this source may have seen: those :meth:`subjects` handed out, else
        (a method that read ``groups`` itself) every subject of every group."""
        return sorted(self.handed_out or {s for group in self.groups.values() for s in group})


@dataclasses.dataclass(frozen=True)
class FitOptions:
    """How a model's ``fit`` runs training (not what it learns: that is the model's config).

    ``device``: ``auto`` (a GPU when present), ``cpu``, ``cuda`` or ``cuda:N``. ``state_path``: where the
    training loop keeps its per-epoch state and resumes from. ``stop_after``: end this call after that many
    epochs, as if killed (tests of resuming). Models without torch ignore the torch-only fields.
    """

    device: str = "auto"
    state_path: Path | None = None
    progress: bool = True
    stop_after: int | None = None


@dataclasses.dataclass
class TrainResult:
    """What a call of :func:`train` did. ``history`` has one entry per finished epoch, resumed ones included."""

    history: list[dict[str, Any]]
    resumed_from: int
    device: str
    world_size: int
    #: the epoch (1-based) whose weights the modules hold when ``select_best`` chose one, else None
    selected_epoch: int | None = None

    @property
    def epochs(self) -> int:
        return len(self.history)

    @property
    def seconds(self) -> float:
        return float(sum(h["seconds"] for h in self.history))


def select_device(device: str = "auto") -> torch.device:
    """``auto`` -> ``cuda`` when available else ``cpu``; an unavailable GPU raises ``ValueError`` naming it."""
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ValueError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} asked for, but torch sees no GPU here (use --device cpu)")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device {device!r} asked for, but only {torch.cuda.device_count()} GPU(s) exist")
    elif dev.type != "cpu":
        raise ValueError(f"device {device!r} is not supported; use auto, cpu, cuda or cuda:N")
    return dev


def derive_seed(*parts: int) -> int:
    """A 63-bit seed from integers, stable across runs and platforms (unlike ``hash``)."""
    digest = hashlib.sha256(json.dumps([int(p) for p in parts]).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's global generators (all GPUs included)."""
    import torch

    random.seed(seed)
    # The legacy global generator is what third-party code without its own generator draws from.
    np.random.seed(seed % 2**32)  # noqa: NPY002
    torch.manual_seed(seed)


def distributed_env() -> tuple[int, int, int]:
    """``(rank, local_rank, world_size)`` from torchrun's environment; ``(0, 0, 1)`` without it."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
    except ValueError:
        raise ValueError("WORLD_SIZE, RANK and LOCAL_RANK must be integers (as torchrun sets them)") from None
    return rank, local, world


class _Progress:
    def __init__(self, name: str, enabled: bool) -> None:
        self.name, self.enabled = name, enabled
        self.tty = enabled and sys.stderr.isatty()
        self.last = 0.0

    def batch(self, epoch: int, epochs: int, i: int, n: int, losses: Mapping[str, float], start: float) -> None:
        now = time.perf_counter()
        if not self.tty or (now - self.last < 0.5 and i < n):
            return
        self.last = now
        text = " ".join(f"{k} {v:.4g}" for k, v in losses.items())
        sys.stderr.write(f"\r[{self.name}] epoch {epoch}/{epochs} batch {i}/{n} {text} {now - start:.1f} s\033[K")
        sys.stderr.flush()

    def epoch(self, entry: Mapping[str, Any], epochs: int) -> None:
        if not self.enabled:
            return
        text = " ".join(f"{k} {v:.4g}" for k, v in entry["losses"].items())
        # On a terminal, overwrite the batch status line; in a log, one plain line per epoch.
        head, tail = ("\r", "\033[K") if self.tty else ("", "")
        sys.stderr.write(f"{head}[{self.name}] epoch {entry['epoch']}/{epochs} {text} {entry['seconds']:.1f} s{tail}\n")
        sys.stderr.flush()


def _load_state(path: Path, signature: Mapping[str, Any], device: torch.device) -> dict[str, Any] | None:
    import torch

    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same advice
        # torch's own message is long and suggests weights_only=False, which would run code from the file.
        raise ValueError(
            f"training state {path} cannot be read ({type(exc).__name__}: damaged, or not written by gaitbench); "
            "delete it to start over"
        ) from None
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise ValueError(f"{path} is not a gaitbench training state (format {STATE_FORMAT}); delete it to start over")
    if state.get("signature") != json.loads(json.dumps(signature)):
        raise ValueError(
            f"training state {path} belongs to another run (its model, config or data differ): "
            f"delete it or choose another output; stored {state.get('signature')}, now {dict(signature)}"
        )
    return state


def train(task: Task, settings: TrainSettings) -> TrainResult:
    """Run (or resume) training of ``task``; returns the per-epoch history.

    Modules are left on the device in eval mode, with the weights of the last finished epoch.
    """
    with process_group(settings.device) as (device, rank, world):
        return _train(task, settings, device, rank, world)


@contextlib.contextmanager
def process_group(device: str = "auto") -> Iterator[tuple[torch.device, int, int]]:
    """This process's device, rank and world size; under torchrun (``WORLD_SIZE > 1``) also the process group.

    A single process gets :func:`select_device` of ``device`` and never touches ``torch.distributed``. Under
    torchrun each rank uses ``cuda:LOCAL_RANK`` when GPUs are present and ``device`` is not ``cpu`` (backend
    NCCL), else the CPU (Gloo). A group initialised here is destroyed on leaving; one that already exists is
    reused and left alone.
    """
    import torch
    import torch.distributed as dist

    rank, local_rank, world = distributed_env()
    if world == 1:
        yield select_device(device), rank, world
        return
    if device not in ("auto", "cuda", "cpu") and not device.startswith("cuda"):
        raise ValueError(f"device {device!r} is not supported under DDP")
    use_cuda = torch.cuda.is_available() and device != "cpu"
    dev = torch.device(f"cuda:{local_rank}") if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(dev)
    own_group = not dist.is_initialized()
    if own_group:
        dist.init_process_group("nccl" if use_cuda else "gloo")
    try:
        yield dev, rank, world
    finally:
        if own_group:
            dist.destroy_process_group()


def _train(task: Task, settings: TrainSettings, device: torch.device, rank: int, world: int) -> TrainResult:
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    seed_everything(derive_seed(settings.seed, -1))  # module construction in the task may draw numbers
    modules = task.modules()
    for m in modules.values():
        m.to(device)
    models: dict[str, nn.Module] = dict(modules)
    if world > 1:
        for key, m in modules.items():
            if any(p.requires_grad for p in m.parameters()):
                models[key] = DistributedDataParallel(m, device_ids=[device.index] if device.type == "cuda" else None)
    optimizers = task.optimizers(modules)
    make_schedulers = getattr(task, "schedulers", None) if settings.schedulers else None
    schedulers = make_schedulers(optimizers) if make_schedulers else {}
    signature = task.signature()

    history: list[dict[str, Any]] = []
    start_epoch = 0
    best: dict[str, Any] | None = None  # {"epoch", "select", "modules"} of the best validated epoch so far
    validate = getattr(task, "validate", None)
    state = _load_state(settings.state_path, signature, device) if settings.state_path else None
    if state is not None:
        for key, m in modules.items():
            m.load_state_dict(state["modules"][key])
        for key, o in optimizers.items():
            o.load_state_dict(state["optimizers"][key])
        for key, s in schedulers.items():
            s.load_state_dict(state["schedulers"][key])
        history = list(state["history"])
        start_epoch = int(state["epoch"])
        best = state.get("best")
    progress = _Progress(settings.name, settings.progress and rank == 0)
    if progress.enabled and start_epoch:
        print(f"[{settings.name}] resuming after epoch {start_epoch} from {settings.state_path}", file=sys.stderr)

    last = settings.epochs if settings.stop_after is None else min(settings.epochs, start_epoch + settings.stop_after)
    for epoch in range(start_epoch, last):
        began = time.perf_counter()
        seed_everything(derive_seed(settings.seed, epoch, rank))
        plan = list(task.plan(epoch, np.random.default_rng(derive_seed(settings.seed, epoch))))
        mine = plan[: len(plan) - len(plan) % world][rank::world] if world > 1 else plan
        for m in modules.values():
            m.train()
        sums: dict[str, float] = {}
        for i, batch in enumerate(mine, 1):
            losses = task.step(models, batch, device)
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + float(v)
            progress.batch(epoch + 1, settings.epochs, i, len(mine), {k: v / i for k, v in sums.items()}, began)
        means = {k: v / max(1, len(mine)) for k, v in sums.items()}
        if world > 1 and means:
            packed = torch.tensor([means[k] for k in sorted(means)], dtype=torch.float64, device=device)
            dist.all_reduce(packed)
            means = {k: float(v) / world for k, v in zip(sorted(means), packed.tolist(), strict=True)}
        for s in schedulers.values():
            s.step()
        entry = {"epoch": epoch + 1, "losses": means, "batches": len(plan), "seconds": time.perf_counter() - began}
        if validate is not None:
            for m in modules.values():
                m.eval()
            with torch.no_grad():
                figures = {k: float(v) for k, v in validate(models, device).items()}
            entry["validation"] = figures
            if settings.select_best and (best is None or figures["select"] < best["select"]):
                best = {"epoch": epoch + 1, "select": figures["select"],
                        "modules": {k: {n: t.detach().clone() for n, t in m.state_dict().items()}
                                    for k, m in modules.items()}}
        history.append(entry)
        if settings.state_path is not None and rank == 0:
            _save_state(settings.state_path, signature, epoch + 1, modules, optimizers, schedulers, history, best)
        if world > 1:
            dist.barrier()
        progress.epoch(entry, settings.epochs)
    selected = None
    if settings.select_best and best is not None and last == settings.epochs:
        for key, m in modules.items():
            m.load_state_dict(best["modules"][key])
        selected = int(best["epoch"])
        if progress.enabled:
            print(f"[{settings.name}] selected epoch {selected} of {settings.epochs} on validation "
                  f"(select {best['select']:.4g})", file=sys.stderr)
    for m in modules.values():
        m.eval()
    return TrainResult(history, start_epoch, str(device), world, selected)


def _save_state(
    path: Path,
    signature: Mapping[str, Any],
    epoch: int,
    modules: Mapping[str, nn.Module],
    optimizers: Mapping[str, Any],
    schedulers: Mapping[str, Any],
    history: list[dict[str, Any]],
    best: Mapping[str, Any] | None = None,
) -> None:
    import torch

    state = {
        "format": STATE_FORMAT,
        "signature": json.loads(json.dumps(signature)),
        "epoch": epoch,
        "modules": {k: m.state_dict() for k, m in modules.items()},
        "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
        "schedulers": {k: s.state_dict() for k, s in schedulers.items()},
        "history": history,
        **({"best": best} if best is not None else {}),
    }
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save(state, tmp)
