"""Numbers that travel: every part not trained by torch gives the same decisions and scores on any CPU.

``tests/portability_probe.py`` renders a walker, anonymizes it with the classic methods, scores it with HOG and
the shipped action model, and trains and evaluates zheng2011 on a toy tree; it runs here in subprocesses under
other CPU kernels: torch's (``ATEN_CPU_CAPABILITY``: ``default`` = no vector kernels, ``avx2``) and OpenBLAS's
(``OPENBLAS_CORETYPE=Haswell``). Before zheng2011's basis was made well defined, these settings changed its
identification decisions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("anny")

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {
    "unset": {},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2"},
    "default+haswell": {"ATEN_CPU_CAPABILITY": "default", "OPENBLAS_CORETYPE": "Haswell"},
    "avx2+haswell": {"ATEN_CPU_CAPABILITY": "avx2", "OPENBLAS_CORETYPE": "Haswell"},
}
#: how far a score or a distance (relative to the largest) may move between CPUs
TOLERANCE = 1e-6


@pytest.fixture(scope="module")
def probes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    out = {}
    for name, extra in SETTINGS.items():
        env = {k: v for k, v in os.environ.items() if k not in ("ATEN_CPU_CAPABILITY", "OPENBLAS_CORETYPE")}
        env.update(extra, PYTHONPATH=str(ROOT))
        work = tmp_path_factory.mktemp(name.replace("+", "-"))
        done = subprocess.run([sys.executable, str(ROOT / "tests" / "portability_probe.py"), str(work)], env=env,
                              capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, f"{name}: {done.stderr[-2000:]}"
        out[name] = json.loads(done.stdout)
    return out


def test_the_probe_measures_something(probes: dict[str, dict]) -> None:
    base = probes["unset"]
    assert len(base["world"]) >= 32 + 2  # 32 silhouettes, the colour video and the background
    hog, action = np.array(base["frame-hog"]), np.array(base["video-synth"])
    assert len(hog) == 32 and len(action) == 2 and 0 < hog.min() and hog.max() < 1 and 0 < action.min()
    hits = np.concatenate([base[f"zheng2011-{c}"]["top1"] for c in ("nm", "bg", "cl")])
    assert hits.mean() > 0.5  # a real recognizer on the toy world: mostly right


@pytest.mark.parametrize("setting", [s for s in SETTINGS if s != "unset"])
def test_same_world_methods_scores_and_decisions_under_other_cpu_kernels(probes: dict[str, dict],
                                                                        setting: str) -> None:
    base, other = probes["unset"], probes[setting]
    assert other["world"] == base["world"]  # rendering is byte-identical
    for method in ("blur", "pixelate", "mask"):
        assert other[method] == base[method], method
    for scorer in ("frame-hog", "video-synth"):
        np.testing.assert_allclose(other[scorer], base[scorer], rtol=0, atol=TOLERANCE, err_msg=scorer)
    for cond in ("nm", "bg", "cl"):
        a, b = base[f"zheng2011-{cond}"], other[f"zheng2011-{cond}"]
        assert a["top1"] == b["top1"] and a["top3"] == b["top3"], cond
        d0, d1 = np.array(a["distance"]), np.array(b["distance"])
        assert np.abs(d1 - d0).max() <= TOLERANCE * np.abs(d0).max(), cond
