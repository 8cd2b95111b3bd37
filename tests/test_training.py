"""The shared training loop: learning, per-epoch state, resume equality, refusals, devices, DDP."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from benchmark.training import TrainSettings, derive_seed, select_device, train


class LineTask:
    """Regress y = 3 x0 - 2 x1 with a small MLP that has dropout (so the torch RNG matters)."""

    def __init__(self, lr: float = 0.05, tag: str = "line") -> None:
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 1))
        self.lr, self.tag = lr, tag
        gen = np.random.default_rng(0)
        self.x = gen.normal(size=(64, 2)).astype(np.float32)
        self.y = (3 * self.x[:, 0] - 2 * self.x[:, 1]).astype(np.float32)

    def modules(self) -> dict[str, nn.Module]:
        return {"net": self.net}

    def optimizers(self, modules: Mapping[str, nn.Module]) -> dict[str, torch.optim.Optimizer]:
        self.opt = torch.optim.Adam(modules["net"].parameters(), lr=self.lr)
        return {"net": self.opt}

    def plan(self, epoch: int, rng: np.random.Generator) -> Sequence[Any]:
        order = rng.permutation(len(self.x))
        return [order[i : i + 16] for i in range(0, len(order), 16)]

    def step(self, models: Mapping[str, nn.Module], batch: Any, device: torch.device) -> Mapping[str, float]:
        x = torch.from_numpy(self.x[batch]).to(device)
        y = torch.from_numpy(self.y[batch]).to(device)
        self.opt.zero_grad()
        loss = ((models["net"](x)[:, 0] - y) ** 2).mean()
        loss.backward()
        self.opt.step()
        return {"mse": float(loss.detach())}

    def signature(self) -> Mapping[str, Any]:
        return {"task": self.tag, "lr": self.lr}


def _weights(task: LineTask) -> list[torch.Tensor]:
    return [p.detach().clone() for p in task.net.parameters()]


def test_training_lowers_the_loss(capsys: pytest.CaptureFixture[str]) -> None:
    result = train(LineTask(), TrainSettings(epochs=8, device="cpu", name="line"))
    losses = [h["losses"]["mse"] for h in result.history]
    assert result.epochs == 8 and result.resumed_from == 0 and result.device == "cpu"
    assert losses[-1] < losses[0] / 3
    assert [h["batches"] for h in result.history] == [4] * 8
    err = capsys.readouterr().err
    assert "[line] epoch 1/8 mse" in err and "[line] epoch 8/8 mse" in err


def test_resume_after_interruption_gives_identical_weights(tmp_path: Path) -> None:
    full = LineTask()
    whole = train(full, TrainSettings(epochs=3, seed=7, device="cpu", state_path=tmp_path / "a.pt", progress=False))

    first = LineTask()
    part = train(first, TrainSettings(epochs=3, seed=7, device="cpu", state_path=tmp_path / "b.pt",
                                      progress=False, stop_after=1))
    assert part.epochs == 1 and (tmp_path / "b.pt").is_file()
    assert not all(torch.equal(a, b) for a, b in zip(_weights(first), _weights(full), strict=True))

    again = LineTask()  # a fresh process would rebuild the task from scratch
    rest = train(again, TrainSettings(epochs=3, seed=7, device="cpu", state_path=tmp_path / "b.pt", progress=False))
    assert rest.resumed_from == 1 and rest.epochs == 3
    for a, b in zip(_weights(again), _weights(full), strict=True):
        assert torch.equal(a, b)
    assert [h["losses"] for h in rest.history] == [h["losses"] for h in whole.history]

    # Rerunning a finished run trains nothing more and keeps the weights.
    done = LineTask()
    result = train(done, TrainSettings(epochs=3, seed=7, device="cpu", state_path=tmp_path / "b.pt", progress=False))
    assert result.resumed_from == 3 and all(
        torch.equal(a, b) for a, b in zip(_weights(done), _weights(full), strict=True)
    )


def test_state_of_another_run_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "s.pt"
    train(LineTask(), TrainSettings(epochs=1, device="cpu", state_path=state, progress=False))
    with pytest.raises(ValueError, match=r"training state .*s\.pt belongs to another run"):
        train(LineTask(lr=0.01), TrainSettings(epochs=2, device="cpu", state_path=state, progress=False))
    state.write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="cannot be read .* delete it to start over"):
        train(LineTask(), TrainSettings(epochs=2, device="cpu", state_path=state, progress=False))


def test_seeds_and_devices() -> None:
    # sha256-based: the same on every platform and Python version (``hash`` is salted per process).
    assert derive_seed(0, 1) == derive_seed(0, 1) != derive_seed(1, 0)
    assert derive_seed(0, 1) == 7929689762472991561
    assert select_device("cpu").type == "cpu"
    assert select_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="unknown device 'gpu0'"):
        select_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="torch sees no GPU here"):
            select_device("cuda")
    with pytest.raises(ValueError, match="epochs must be >= 0"):
        TrainSettings(epochs=-1)


def _ddp_worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    task = LineTask()
    result = train(task, TrainSettings(epochs=3, device="cpu", progress=False))
    torch.save({"weights": _weights(task), "history": result.history, "world": result.world_size},
               f"{out}/rank{rank}.pt")


def test_ddp_two_processes_on_gloo(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    torch.multiprocessing.spawn(_ddp_worker, args=(2, port, str(tmp_path)), nprocs=2, join=True)
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert r0["world"] == 2
    # Gradients are averaged across ranks, so both end with the same weights; each rank takes 2 of the 4 batches.
    for a, b in zip(r0["weights"], r1["weights"], strict=True):
        assert torch.allclose(a, b, atol=1e-6)
    assert r0["history"][-1]["losses"] == r1["history"][-1]["losses"]
    assert r0["history"][-1]["losses"]["mse"] < r0["history"][0]["losses"]["mse"]


class ScoredLineTask(LineTask):
    """LineTask with a validation score scripted per epoch, so the selected epoch is known in advance."""

    def __init__(self, scores: list[float]) -> None:
        super().__init__(tag="scored")
        self.scores, self.seen = scores, 0
        self.snapshots: dict[int, list[torch.Tensor]] = {}

    def validate(self, models: Mapping[str, nn.Module], device: torch.device) -> Mapping[str, float]:
        self.seen += 1
        self.snapshots[self.seen] = _weights(self)
        return {"select": self.scores[self.seen - 1], "other": 1.0}


def test_select_best_ends_with_the_best_validated_epoch(tmp_path: Path) -> None:
    scores = [3.0, 1.0, 2.0, 1.0]  # best at epoch 2; epoch 4 ties and loses (the earliest wins)
    task = ScoredLineTask(scores)
    result = train(task, TrainSettings(epochs=4, device="cpu", select_best=True, progress=False))
    assert result.selected_epoch == 2
    assert [h["validation"]["select"] for h in result.history] == scores
    assert all(torch.equal(a, b) for a, b in zip(_weights(task), task.snapshots[2], strict=True))
    assert not torch.equal(task.snapshots[2][0], task.snapshots[4][0])
    # without select_best: scored and logged, but the last epoch's weights are kept
    plain = ScoredLineTask(scores)
    result = train(plain, TrainSettings(epochs=4, device="cpu", progress=False))
    assert result.selected_epoch is None and "validation" in result.history[0]
    assert all(torch.equal(a, b) for a, b in zip(_weights(plain), plain.snapshots[4], strict=True))
    # killed after epoch 3 and resumed: the best epoch's weights come back from the state
    state = tmp_path / "s.pt"
    first = ScoredLineTask(scores)
    train(first, TrainSettings(epochs=4, device="cpu", select_best=True, progress=False, state_path=state,
                               stop_after=3))
    second = ScoredLineTask(scores[3:])
    result = train(second, TrainSettings(epochs=4, device="cpu", select_best=True, progress=False, state_path=state))
    assert result.selected_epoch == 2
    assert all(torch.equal(a, b) for a, b in zip(_weights(second), task.snapshots[2], strict=True))
