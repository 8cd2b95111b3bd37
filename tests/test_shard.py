"""Sharded evaluation: blocks by hand, and two Gloo processes whose merged tables equal one process's, byte for byte."""

from __future__ import annotations

import json
import os
import pickle
import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest
import torch

from benchmark.cli import main
from benchmark.evaluate import EvalSets, evaluate_recognizer
from benchmark.results import to_frame
from benchmark.sequences import InputSpec, Sequences
from benchmark.shard import _merge, current, shard_bounds
from benchmark.training import process_group
from recognizers.toy import toy_sequences

if TYPE_CHECKING:
    from conftest import Pixels, SmallProtocol

SPEC = InputSpec(32, 22, "gei")


def make_pixels(pixels: type[Pixels]) -> Pixels:
    """A :class:`conftest.Pixels` (the ``pixels`` fixture's class) reading the GEIs of :func:`toy_sets`."""
    return pixels(pixels.Config(height=SPEC.height, width=SPEC.width))


def toy_sets() -> EvalSets:
    """6 subjects x 3 views: gallery nm-01..04 (72 sequences), probes nm-05/06 (36), bg-01 and cl-01 (18 each)."""
    subjects, views = range(6), (0, 90, 180)

    def seqs(conditions: tuple[str, ...]) -> Sequences:
        return toy_sequences(subjects, conditions, views, spec=SPEC, frames=6)

    probes = {"nm": seqs(("nm-05", "nm-06")), "bg": seqs(("bg-01",)), "cl": seqs(("cl-01",))}
    return EvalSets(seqs(("nm-01", "nm-02", "nm-03", "nm-04")), probes, tuple(f"{s + 1:03d}" for s in subjects))


def test_blocks_by_hand() -> None:
    assert shard_bounds(10, 2) == [(0, 5), (5, 10)]
    assert shard_bounds(10, 4) == [(0, 3), (3, 6), (6, 8), (8, 10)]
    # 72 gallery sequences in batches of 5: 15 batches, 8 to rank 0 and 7 to rank 1.
    assert shard_bounds(72, 2, align=5) == [(0, 40), (40, 72)]
    assert shard_bounds(3, 4, align=2) == [(0, 2), (2, 3), (3, 3), (3, 3)]
    assert shard_bounds(0, 3) == [(0, 0), (0, 0), (0, 0)]
    with pytest.raises(ValueError, match="world >= 1"):
        shard_bounds(5, 0)
    assert current() == (0, 1)  # no process group in the test process


def test_ranks_holding_different_sequences_are_refused() -> None:
    merged = _merge([("same", np.zeros((2, 3))), ("same", None), ("same", np.ones((1, 3)))], "embedded")
    assert merged.tolist() == [[0, 0, 0], [0, 0, 0], [1, 1, 1]]
    with pytest.raises(ValueError, match="the ranks hold different embedded sequences"):
        _merge([("a", np.zeros((2, 3))), ("b", np.zeros((2, 3)))], "embedded")


def _worker(rank: int, world: int, ports: tuple[int, int], out: str, cli_args: list[str],
            pixels: type[Pixels]) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(ports[0]))
    torch.set_num_threads(1)
    # The command as torchrun would run it on each rank: it opens (and closes) its own process group.
    if main(cli_args) != 0:
        raise RuntimeError(f"gaitbench evaluate failed on rank {rank}")
    os.environ["MASTER_PORT"] = str(ports[1])
    rec = make_pixels(pixels)
    with process_group("cpu") as (_, r, w):
        rows, matrix = evaluate_recognizer(rec, toy_sets(), ks=(1, 3))
    with open(Path(out, f"rank{rank}.pkl"), "wb") as fh:
        pickle.dump({"rank": r, "world": w, "embedded": rec.embedded, "compared_rows": rec.compared_rows,
                     "rows": to_frame(rows), "matrix": pd.DataFrame(matrix)}, fh)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_two_gloo_processes_give_the_one_process_tables(
    tmp_path: Path, pixels: type[Pixels], small_protocol: Callable[..., SmallProtocol]
) -> None:
    setup = small_protocol(4, "--device", "cpu")  # 8 subjects: 4 train, 4 test
    # A small GEINet whose embed_batch (5) does not divide the 32 gallery sequences: shards follow its batches.
    geinet = "height = 64\nwidth = 44\nconv1 = 4\nconv2 = 8\nfc = 32\nepochs = 1\nembed_batch = 5\n"
    ckpts = []
    for name, config in (("zheng2011", "rank = 10\n"), ("geinet", geinet)):
        ckpts += ["--ckpt", str(setup.train(name, config))]

    def evaluate(out: Path) -> list[str]:
        return ["evaluate", *ckpts, "--gallery", str(setup.data), "--out", str(out), "--cross-view", "yes",
                *setup.options]

    assert main(evaluate(tmp_path / "one.csv")) == 0
    rec = make_pixels(pixels)
    rows, matrix = evaluate_recognizer(rec, toy_sets(), ks=(1, 3))
    single = to_frame(rows)

    torch.multiprocessing.spawn(
        _worker, args=(2, (_free_port(), _free_port()), str(tmp_path), evaluate(tmp_path / "two.csv"), pixels),
        nprocs=2, join=True,
    )
    # The command: rank 0 wrote the same bytes as one process did; the record says two processes made them.
    for suffix in (".csv", ".view_matrix.csv"):
        assert (tmp_path / f"two{suffix}").read_bytes() == (tmp_path / f"one{suffix}").read_bytes()
    assert json.loads((tmp_path / "two.run.json").read_text())["processes"] == 2
    one = pd.read_csv(tmp_path / "one.csv")
    # Per recognizer: ((accuracy, success) x k + eer + rank) x (2 views + all) x 3 conditions, cross-view k x 3 x 3,
    # and the same four kinds over every probe.
    assert set(one["evaluator"]) == {"zheng2011", "geinet"}
    assert len(one) == 2 * ((2 * 2 + 2) * 3 * 3 + 2 * 3 * 3 + (2 * 2 + 2))

    # The library call: both ranks return the full, identical result; the work was split between them.
    ranks = []
    for r in (0, 1):
        with open(tmp_path / f"rank{r}.pkl", "rb") as fh:
            ranks.append(pickle.load(fh))
    for r, got in enumerate(ranks):
        assert (got["rank"], got["world"]) == (r, 2)
        pd.testing.assert_frame_equal(got["rows"], single, check_exact=True)
        pd.testing.assert_frame_equal(got["matrix"], pd.DataFrame(matrix), check_exact=True)
    # Blocks follow batches of 5: gallery 72 (15 batches) -> 40 | 32; nm probes 36 (8) -> 20 | 16; bg, cl 18 (4)
    # -> 10 | 8.
    gallery = toy_sets().gallery
    assert ranks[0]["embedded"][:40] == [gallery.key(i) for i in range(40)]
    assert ranks[1]["embedded"][:32] == [gallery.key(i) for i in range(40, 72)]
    assert [len(r["embedded"]) for r in ranks] == [40 + 20 + 10 + 10, 32 + 16 + 8 + 8]
    assert sorted(ranks[0]["embedded"] + ranks[1]["embedded"]) == sorted(rec.embedded)
    assert ranks[0]["compared_rows"] + ranks[1]["compared_rows"] == rec.compared_rows
    assert 0 < ranks[1]["compared_rows"] <= ranks[0]["compared_rows"]
