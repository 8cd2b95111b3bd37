"""The layering contracts of pyproject.toml ([tool.importlinter]) hold, and they can fail."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
pytestmark = pytest.mark.skipif(LINT is None, reason="import-linter is not installed (the dev extra has it)")


def lint(*args: str) -> subprocess.CompletedProcess[str]:
    assert LINT is not None
    return subprocess.run([LINT, "--no-cache", *args], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          check=False)


def test_the_layering_contracts_hold() -> None:
    done = lint()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "Contracts: 4 kept, 0 broken." in done.stdout


def test_a_new_upward_import_breaks_the_core_contract(tmp_path: Path) -> None:
    """Without its exceptions the core contract fails on the command line's imports of plug-ins (the check is
    live), and on nothing else: every upward import left in the core is the command line's."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    core = config["contracts"][0]
    lines = ["[importlinter]", "root_packages =", *(f"    {p}" for p in config["root_packages"]),
             "[importlinter:contract:core]", f"name = {core['name']}", "type = forbidden",
             "source_modules =", *(f"    {m}" for m in core["source_modules"]),
             "forbidden_modules =", *(f"    {m}" for m in core["forbidden_modules"]),
             "allow_indirect_imports = true"]
    ini = tmp_path / "contracts.ini"
    ini.write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = lint("--config", str(ini))
    assert done.returncode == 1, done.stdout[-3000:]
    assert re.search(r"Contracts: 0 kept, 1 broken", done.stdout)
    assert "benchmark.cli.perf -> baselines.stgan" in done.stdout
    importers = set(re.findall(r"^-?\s*(benchmark\.[\w.]+) -> (?:baselines|recognizers|reports)\b", done.stdout, re.M))
    assert importers, done.stdout[-3000:]
    assert all(m.startswith("benchmark.cli.") for m in importers), sorted(importers)
