"""Run records: what every command that writes results saves beside them (config, versions, git hash, command).

:func:`run_record` is the one place that decides what a record holds; :func:`write_run_record` writes it
atomically as JSON. ``gaitbench evaluate`` and ``score`` write ``<results>.run.json``, ``gaitbench run`` writes
``RUN_DIR/run.json`` and ``gaitbench golden`` keeps one in the golden file's provenance.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark import __version__


def git_hash(path: str | os.PathLike[str] | None = None) -> str | None:
    """The commit of the working tree holding ``path`` (``+dirty`` when modified); None outside git."""
    folder = Path(path or Path(__file__).parent)
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=folder, capture_output=True, text=True,
            check=True, timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def run_record(**fields: Any) -> dict[str, Any]:
    """A record of a run for ``<results>.run.json``: the given fields plus versions, git hash, command, time."""
    import scipy

    versions = {"gaitbench": __version__, "python": platform.python_version(), "numpy": np.__version__,
                "scipy": scipy.__version__, "pandas": pd.__version__}
    if "torch" in sys.modules:
        versions["torch"] = sys.modules["torch"].__version__
    return {
        **fields,
        "versions": versions,
        "git": git_hash(),
        # the program by name, not by the path of the environment it was installed in
        "command": [Path(sys.argv[0]).name, *sys.argv[1:]] if sys.argv else [],
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def write_run_record(path: str | os.PathLike[str], **fields: Any) -> None:
    """Write :func:`run_record` of ``fields`` to ``path`` atomically (values JSON cannot hold become strings)."""
    from benchmark.io import write_json

    write_json(path, json.loads(json.dumps(run_record(**fields), default=str)))
