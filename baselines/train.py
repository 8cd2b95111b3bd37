"""Training a registered anonymizer on a protocol's subject groups: what ``gaitbench train anonymizer`` runs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from baselines.base import Anonymizer, anonymizer_class
from benchmark.protocol import load_protocol, protocol_groups
from benchmark.training import FitOptions, TrainSource, distributed_env


def train_source(data: str | os.PathLike[str], protocol: str = "paper", workers: int | None = None) -> TrainSource:
    """The dataset ``data`` with the protocol's groups assigned to its subjects (the test group is left out)."""
    proto = load_protocol(protocol)
    groups = {k: v for k, v in protocol_groups(data, proto).items() if k != proto.test_group}
    return TrainSource(root=Path(data), groups=groups, views=proto.views, workers=workers)


def train_anonymizer(
    name: str,
    data: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    protocol: str = "paper",
    config: Any = None,
    device: str = "auto",
    workers: int | None = None,
    progress: bool = True,
    stop_after: int | None = None,
) -> Anonymizer:
    """Train ``name`` on the protocol's groups of ``data`` and save the checkpoint ``out``.

    Per-epoch training states are kept beside ``out`` (``<out>.<stage>.state.pt``): rerunning the same command
    after a kill resumes from the last finished epoch. Methods without training save their config only.
    """
    anon = anonymizer_class(name)(config)
    source = train_source(data, protocol, workers)
    out = Path(out)
    options = FitOptions(device=device, state_path=out.with_name(out.name + ".state.pt"), progress=progress,
                         stop_after=stop_after)
    anon.fit(source, options)
    assert anon.training is not None
    anon.training.update(protocol=load_protocol(protocol).name)
    if anon.training.get("finished", True) and distributed_env()[0] == 0:
        anon.save(out)
    return anon
