"""Sharded evaluation: blocks by hand, and two Gloo processes whose merged tables equal one process's, byte for byte."""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from benchmark.cli import main
from benchmark.evaluate import EvalSets, evaluate_recognizer
from benchmark.results import to_frame
from benchmark.shard import _merge, current, shard_bounds
from benchmark.training import process_group
from recognizers.base import Embedding, FitOptions, Recognizer
from recognizers.data import InputSpec, Sequences
from recognizers.linear import pairwise_euclidean
from recognizers.toy import toy_sequences, write_toy_tree

SPEC = InputSpec(32, 22, "gei")


@dataclasses.dataclass(frozen=True)
class PixelsConfig:
    embed_batch: int = 5


class Pixels(Recognizer):
    """A GEI's pixels as its embedding; remembers which sequences it embedded and how many probe rows it compared."""

    name = "pixels"
    Config = PixelsConfig
    input_kind = "gei"

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.embedded: list[str] = []
        self.compared_rows = 0

    @property
    def spec(self) -> InputSpec:
        return SPEC

    def _fit(self, train: Sequences, options: FitOptions) -> dict[str, Any]:
        return {}

    def embed(self, data: Sequences) -> Embedding:
        self.embedded += [data.key(i) for i in range(len(data))]
        return Embedding(data.geis().reshape(len(data), -1).astype(np.float64), data.views.copy())

    def compare(self, gallery: Embedding, probes: Embedding) -> np.ndarray:
        self.compared_rows += len(probes)
        return pairwise_euclidean(gallery.features, probes.features)

    def state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return {}, {}

    def set_state(self, arrays: Mapping[str, np.ndarray], extra: Mapping[str, Any]) -> None:
        pass


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


def _worker(rank: int, world: int, ports: tuple[int, int], out: str, cli_args: list[str]) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(ports[0]))
    torch.set_num_threads(1)
    # The command as torchrun would run it on each rank: it opens (and closes) its own process group.
    if main(cli_args) != 0:
        raise RuntimeError(f"gaitbench evaluate failed on rank {rank}")
    os.environ["MASTER_PORT"] = str(ports[1])
    rec = Pixels()
    with process_group("cpu") as (_, r, w):
        rows, matrix = evaluate_recognizer(rec, toy_sets(), ks=(1, 3))
    with open(Path(out, f"rank{rank}.pkl"), "wb") as fh:
        pickle.dump({"rank": r, "world": w, "embedded": rec.embedded, "compared_rows": rec.compared_rows,
                     "rows": to_frame(rows), "matrix": pd.DataFrame(matrix)}, fh)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_two_gloo_processes_give_the_one_process_tables(tmp_path: Path) -> None:
    clean = write_toy_tree(tmp_path / "clean", subjects=range(8), views=(0, 90), frames=8)
    protocol = tmp_path / "small.toml"
    protocol.write_text(
        'name = "small"\ndescription = "4 train / 4 test"\nviews = [0, 90]\ngallery = ["nm-01", "nm-02", "nm-03", '
        '"nm-04"]\n[groups]\nrecognizers = 4\ntest = 4\n[probes]\nnm = ["nm-05", "nm-06"]\nbg = ["bg-01"]\n'
        'cl = ["cl-01"]\n'
    )
    (tmp_path / "zheng.toml").write_text("rank = 10\n")
    # A small GEINet whose embed_batch (5) does not divide the 32 gallery sequences: shards follow its batches.
    (tmp_path / "geinet.toml").write_text(
        "height = 64\nwidth = 44\nconv1 = 4\nconv2 = 8\nfc = 32\nepochs = 1\nembed_batch = 5\n"
    )
    common = ["--protocol", str(protocol), "--cache", str(tmp_path / "cache"), "--workers", "1", "--quiet",
              "--device", "cpu"]
    ckpts = []
    for name, config in (("zheng2011", "zheng.toml"), ("geinet", "geinet.toml")):
        ckpts += ["--ckpt", str(tmp_path / f"{name}.npz")]
        assert main(["train", "recognizer", name, "--data", str(clean), "--out", ckpts[-1],
                     "--config", str(tmp_path / config), *common]) == 0

    def evaluate(out: Path) -> list[str]:
        return ["evaluate", *ckpts, "--gallery", str(clean), "--out", str(out), "--cross-view", "yes", *common]

    assert main(evaluate(tmp_path / "one.csv")) == 0
    rec = Pixels()
    rows, matrix = evaluate_recognizer(rec, toy_sets(), ks=(1, 3))
    single = to_frame(rows)

    torch.multiprocessing.spawn(
        _worker, args=(2, (_free_port(), _free_port()), str(tmp_path), evaluate(tmp_path / "two.csv")),
        nprocs=2, join=True,
    )
    # The command: rank 0 wrote the same bytes as one process did; the record says two processes made them.
    for suffix in (".csv", ".view_matrix.csv"):
        assert (tmp_path / f"two{suffix}").read_bytes() == (tmp_path / f"one{suffix}").read_bytes()
    assert json.loads((tmp_path / "two.run.json").read_text())["processes"] == 2
    one = pd.read_csv(tmp_path / "one.csv")
    assert set(one["evaluator"]) == {"zheng2011", "geinet"} and len(one) == 2 * (2 * 2 * 3 * 3 + 2 * 3 * 3)

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
