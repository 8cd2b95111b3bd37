"""The synthetic world as a dataset: CASIA-B's reader over a folder written by ``gaitbench synth``."""

from __future__ import annotations

import json
import os
from typing import Any

from benchmark.data.casia import CasiaB


class SyntheticWorld(CasiaB):
    """A world written by ``gaitbench synth --out DIR``, read exactly like CASIA-B.

    Parameters
    ----------
    root : path
        The ``--out`` folder (holding ``manifest.json``, ``silhouettes/`` and ``videos/``).

    Attributes
    ----------
    manifest : dict
        Generator version, seed, preset and every subject's parameters.
    """

    name = "synthetic"

    def __init__(self, root: str | os.PathLike[str]) -> None:
        super().__init__(root)
        path = self.root / "manifest.json"
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} not found: {self.root} is not a synthetic world; make one with "
                f"'gaitbench synth --preset ci --out {self.root}'"
            )
        self.manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))

    def __repr__(self) -> str:
        return f"SyntheticWorld(root={str(self.root)!r})"
