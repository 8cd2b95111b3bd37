"""Proof of both sides of the regression gate, on the real ci run (slow: about 10 minutes on 2 cores).

- The ci run made under other CPU kernels than the golden file (torch's AVX2 kernels, OpenBLAS's Haswell ones),
  from an empty stage cache, PASSES ``gaitbench check`` against ``tests/golden/ci.json``.
- Broken ST-GANs (in the paper's form, ``stgan-paper``, whose effects on this world are large) FAIL it: one that
  returns its input; one trained with its noise term switched off
  (``tests/gate_proof/broken_stgan.py``) is expected to fail as well but does not yet, because its numbers do
  not fall (see :data:`NOISE_OFF_UNDETECTABLE`); the test is a strict xfail until they do. They run as plug-ins
  on the same cache (so every other method's rows are those of the passing run), and their rows are relabelled
  ``stgan-paper`` before the check: a plug-in may not take a bundled name.

CI runs these (``.ci/run``); locally: ``pytest -m slow tests/test_gate_proof.py``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("anny")
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "ci.toml"
GOLDEN = ROOT / "tests" / "golden" / "ci.json"
OTHER_CPU = {"ATEN_CPU_CAPABILITY": "avx2", "OPENBLAS_CORETYPE": "Haswell"}


def gaitbench(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "benchmark.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=3600, check=False)


def variant_config(folder: Path, plugin: str) -> Path:
    """configs/ci.toml with ``stgan-paper`` replaced by the plug-in class ``plugin`` of broken_stgan.py (same
    table)."""
    text = CONFIG.read_text(encoding="utf-8")
    text = text.replace('path = "../worlds/ci-run"', f'path = "{ROOT / "worlds" / "ci-run"}"')
    text = text.replace('protocol = "protocols/ci.toml"', f'protocol = "{CONFIG.parent / "protocols" / "ci.toml"}"')
    text = text.replace("[anonymizers.stgan-paper]", "[anonymizers.broken]")
    # the pictures name their methods: the broken one stands where the paper's ST-GAN stood
    text = text.replace('"stgan-paper"', '"broken"')
    assert "stgan-paper" not in text, "configs/ci.toml names stgan-paper in a way not replaced"
    plugin_file = ROOT / "tests" / "gate_proof" / "broken_stgan.py"
    # [world] is the config's first table: [plugins] goes before it, after the top-level keys.
    text = text.replace("[world]", f'[plugins]\nanonymizers = {{ broken = "{plugin_file}:{plugin}" }}\n\n[world]', 1)
    path = folder / f"{plugin}.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def other_cpu_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("proof")
    done = gaitbench("run", str(CONFIG), "--out", str(base / "avx2"), "--cache", str(base / "cache"), "--quiet",
                     env=OTHER_CPU)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return base


def test_the_ci_run_under_other_cpu_kernels_passes(other_cpu_run: Path) -> None:
    done = gaitbench("check", str(other_cpu_run / "avx2"), "--golden", str(GOLDEN))
    print(done.stdout)
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-2000:]
    assert re.search(r"^PASS: \d+ pooled golden rows", done.stdout, re.M)


NOISE_OFF_UNDETECTABLE = (
    "the paper form's success rate does not come from its noise: trained with the noise term off it scores "
    "0.822 top-1 against zheng2011 (golden 0.761) and 0.733 against wu2017-mt (golden 0.792); its frame score "
    "falls to 0.07 (golden 0.60), but that form's frame score moves by 0.24 between seeds, so no sound gate can "
    "flag it (our form, stgan, equals identity at alpha 0: there the noise is what changes the output); strict, "
    "so this test says so when it starts failing"
)


@pytest.mark.parametrize("plugin", [
    "ReturnsInput",
    # raises=AssertionError: only the gate's verdict may be the expected failure; a run that cannot even start
    # fails the test (pytest.fail raises another exception type)
    pytest.param("NoiseOff", marks=pytest.mark.xfail(strict=True, raises=AssertionError,
                                                     reason=NOISE_OFF_UNDETECTABLE)),
])
def test_a_broken_stgan_fails(other_cpu_run: Path, plugin: str) -> None:
    config = variant_config(other_cpu_run, plugin)
    out = other_cpu_run / plugin
    done = gaitbench("run", str(config), "--out", str(out), "--cache", str(other_cpu_run / "cache"), "--quiet",
                     env=OTHER_CPU)
    if done.returncode != 0:
        pytest.fail(f"the broken run did not run: {done.stdout[-3000:]}{done.stderr[-3000:]}")
    results = pd.read_csv(out / "results.csv", keep_default_na=False)
    assert set(results["method"]) >= {"broken", "identity", "noise-gait", "stgan"}
    assert "stgan-paper" not in set(results["method"])
    results["method"] = results["method"].replace("broken", "stgan-paper")
    results.to_csv(out / "results.csv", index=False)
    done = gaitbench("check", str(out), "--golden", str(GOLDEN))
    print(done.stdout)
    assert done.returncode == 1, done.stdout[-5000:] + done.stderr[-2000:]
    failing = [line for line in done.stdout.splitlines() if "(fall)" in line or "(missing)" in line]
    assert failing and all(" stgan-paper " in line and "(fall)" in line for line in failing), failing
    assert any(line.startswith("success_rate (fall)") for line in failing)
