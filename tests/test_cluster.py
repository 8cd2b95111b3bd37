"""Stages on Dask distributed (benchmark.runner.cluster, ``gaitbench run --jobs/--scheduler``): a local cluster of
two worker processes computes what the serial executor computes, byte for byte; a stage is computed once when two
runs want it; a worker killed mid-stage leaves a stage that another worker resumes."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmark.results import read_csv
from benchmark.runner import execute, load_run_config, plan_run
from benchmark.runner.cluster import execute_distributed, local_cluster

pytestmark = pytest.mark.filterwarnings("ignore:Matrix is singular")

# What differs between two computations of one stage besides its content: the marker (times), the lock, the
# anonymizer's record (its time and the checkpoint's path), training states (optimizer, times) and the decoded
# cache (named after the source paths, which are under each cache).
METADATA = {"stage.json", ".lock", "anonymization.json"}


def stage_files(cache: Path) -> dict[str, Path]:
    """Every file a stage wrote under ``cache`` (by path relative to it), without the run-specific metadata."""
    return {str(p.relative_to(cache)): p for p in sorted(cache.rglob("*"))
            if p.is_file() and p.name not in METADATA and not p.name.endswith(".state.pt")
            and p.relative_to(cache).parts[0] != "normalized"}


def assert_same_stage_outputs(a: Path, b: Path) -> int:
    """Every stage file of cache ``a`` equals that of cache ``b``: bytes, or for checkpoints every array but the
    metadata (which holds times). Returns the number of files compared."""
    fa, fb = stage_files(a), stage_files(b)
    assert sorted(fa) == sorted(fb)
    for name, path in fa.items():
        if path.suffix == ".npz":
            with np.load(path) as x, np.load(fb[name]) as y:
                assert sorted(x.files) == sorted(y.files), name
                for array in x.files:
                    if array != "__meta__":
                        assert np.array_equal(x[array], y[array]), f"{name}:{array}"
        else:
            assert path.read_bytes() == fb[name].read_bytes(), name
    return len(fa)


@pytest.fixture(scope="module")
def cluster() -> Any:
    """A local Dask cluster of two single-threaded worker processes, shared by the tests of this module."""
    with local_cluster(2, dashboard=False) as client:
        yield client


def test_two_workers_compute_the_serial_run_byte_for_byte(project: Path, baseline: tuple[Path, Any],
                                                           cluster: Any) -> None:
    out = project / "runs" / "dask"
    lines: list[str] = []
    result = execute_distributed(plan_run(load_run_config(project / "run.toml"), out, progress=False),
                                 client=cluster, log=lines.append)
    assert result.finished and all(s.status == "ran" for s in result.stages)
    assert [s.name for s in result.stages] == [s.name for s in baseline[1].stages]  # plan order, not finish order
    assert (out / "results.csv").read_bytes() == (baseline[0] / "results.csv").read_bytes()
    assert assert_same_stage_outputs(baseline[0] / "cache", out / "cache") > 100
    # Both workers took stages, and every stage was announced when it started and when it finished.
    workers = {line.rsplit(" on ", 1)[1] for line in lines if ": running on " in line}
    assert len(workers) == 2
    assert sum(": done in " in line for line in lines) == len(result.stages)

    again = execute_distributed(plan_run(load_run_config(project / "run.toml"), out, progress=False),
                                client=cluster, log=lines.append)
    assert all(s.status == "cached" for s in again.stages)

    # --drop-anonymized on the finished run: the client drops every anonymized tree, the results stay
    plan = plan_run(load_run_config(project / "run.toml"), out, progress=False)
    plan.drop = True
    dropped = execute_distributed(plan, client=cluster, log=lines.append)
    assert all(s.status == "cached" for s in dropped.stages)
    anonymized = [s for s in plan.stages if s.kind == "anonymize"]
    assert anonymized and all(plan.status(s) == "dropped" for s in anonymized)
    assert not any((plan.store.folder(s) / "data").exists() for s in anonymized)
    assert (out / "results.csv").read_bytes() == (baseline[0] / "results.csv").read_bytes()


def test_stop_after_computes_the_stage_and_what_it_reads(project: Path, cluster: Any) -> None:
    out = project / "runs" / "dask-stop"
    plan = plan_run(load_run_config(project / "run.toml"), out, progress=False)
    result = execute_distributed(plan, client=cluster, stop_after="anonymize noise-gait[beta=0.3]",
                                 log=lambda line: None)
    assert not result.finished and not (out / "results.csv").exists()
    assert [s.name for s in result.stages] == ["world", "train noise-gait[beta=0.3]", "anonymize noise-gait[beta=0.3]"]
    statuses = {s.name: plan.status(s) for s in plan.stages}
    assert {n for n, s in statuses.items() if s == "cached"} == {s.name for s in result.stages}


def test_a_stage_two_runs_want_is_computed_once(project: Path) -> None:
    """Two runs on one cache at once (threads here; processes or machines alike, the lock is the cache's): each
    stage is computed by exactly one of them, and the other waits for it and reads it."""
    config = load_run_config(project / "run.toml")
    cache = project / "runs" / "shared-cache"
    results: dict[str, Any] = {}

    def run(name: str) -> None:
        results[name] = execute(plan_run(config, project / "runs" / name, cache_dir=cache, progress=False),
                                log=lambda line: None)

    threads = [threading.Thread(target=run, args=(n,)) for n in ("first", "second")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    first, second = results["first"].stages, results["second"].stages
    for a, b in zip(first, second, strict=True):
        assert sorted([a.status, b.status]) == ["cached", "ran"], a.name
        assert a.computed_seconds == b.computed_seconds  # one computation, read by both
    a_csv = (project / "runs" / "first" / "results.csv").read_bytes()
    assert a_csv == (project / "runs" / "second" / "results.csv").read_bytes()


# An anonymizer whose worker process dies (os._exit, as a killed process would) after writing its first sequence,
# the first time it runs; the marker file remembers that it died.
DYING = '''
import dataclasses, os
from pathlib import Path

import numpy as np

from benchmark.api import Anonymizer

calls = 0


class DiesOnce(Anonymizer):
    @dataclasses.dataclass(frozen=True)
    class Config:
        marker: str = ""

    trainable = False
    input = "silhouettes"

    def parameters(self):
        return ""

    def _anonymize(self, seq, rng):
        global calls
        calls += 1
        marker = Path(self.config.marker)
        if calls == 2 and not marker.exists():
            marker.write_text(str(os.getpid()))
            os._exit(17)
        frames = None if seq.frames is None else np.ascontiguousarray(seq.frames[:, ::-1])  # upside down
        return seq.replace(silhouettes=np.ascontiguousarray(seq.silhouettes[:, ::-1]), frames=frames)
'''


def test_a_worker_killed_mid_stage_leaves_a_stage_another_worker_resumes(project: Path, tmp_path: Path,
                                                                         cluster: Any) -> None:
    (tmp_path / "dying.py").write_text(DYING, encoding="utf-8")
    marker = tmp_path / "died"
    config = (project / "run.toml").read_text(encoding="utf-8")
    config = config.replace('protocol = "protocol.toml"', f'protocol = "{project / "protocol.toml"}"')
    config = config.replace('path = "data"', f'path = "{project / "data"}"')
    config = config.replace('weights = "action.npz"', f'weights = "{project / "action.npz"}"')
    head, _, _ = config.partition("[anonymizers.identity]")
    config = (head + '[anonymizers.identity]\n\n[anonymizers.dies]\nmarker = "' + str(marker) + '"\n\n'
              + "[scorers.frame-hog]\nstride = 3\n\n[plugins]\nanonymizers = { dies = \"dying.py:DiesOnce\" }\n")
    (tmp_path / "run.toml").write_text(config, encoding="utf-8")
    resolved = load_run_config(tmp_path / "run.toml")

    killed = execute_distributed(plan_run(resolved, tmp_path / "killed", progress=False), client=cluster,
                                 log=lambda line: None)
    assert marker.is_file()  # a worker died in the stage
    status = {s.name: s.status for s in killed.stages}
    assert status["anonymize dies"] == "resumed"

    serial = execute(plan_run(resolved, tmp_path / "serial", progress=False), log=lambda line: None)
    assert serial.finished
    a, b = read_csv(tmp_path / "killed" / "results.csv"), read_csv(tmp_path / "serial" / "results.csv")
    assert len(a) > 0 and a.equals(b)
    assert (tmp_path / "killed" / "results.csv").read_bytes() == (tmp_path / "serial" / "results.csv").read_bytes()


def test_cli_names_a_scheduler_that_does_not_answer(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from benchmark.cli import main

    config = str(project / "run.toml")
    assert main(["run", config, "--out", str(project / "runs" / "nowhere"), "--scheduler", "tcp://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert "--scheduler tcp://127.0.0.1:9: no Dask scheduler answered" in err and "docs/run.md" in err
    assert main(["run", config, "--jobs", "2", "--scheduler", "tcp://127.0.0.1:9"]) != 0
    assert "give one of them" in capsys.readouterr().err


@pytest.mark.slow
def test_the_ci_config_on_two_workers_equals_its_serial_run(tmp_path: Path) -> None:
    """configs/ci.toml from empty caches, serially and with ``--jobs 2`` (the world shared): the same results.csv
    bytes and the same stage outputs. About 6 minutes on 2 cores; CI runs it by name (.ci/run)."""
    import subprocess
    import sys
    import time

    pytest.importorskip("anny")
    root = Path(__file__).resolve().parents[1]
    seconds = {}
    for name, extra in (("serial", []), ("jobs2", ["--jobs", "2"])):
        began = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "benchmark.cli", "run", "configs/ci.toml", "--quiet", "--out",
                               str(tmp_path / name), *extra], cwd=root, capture_output=True, text=True,
                              timeout=3600, check=False)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        seconds[name] = time.perf_counter() - began
    print(f"configs/ci.toml from an empty cache: serial {seconds['serial']:.0f} s, --jobs 2 {seconds['jobs2']:.0f} s")
    serial, jobs2 = tmp_path / "serial", tmp_path / "jobs2"
    assert (serial / "results.csv").read_bytes() == (jobs2 / "results.csv").read_bytes()
    assert assert_same_stage_outputs(serial / "cache", jobs2 / "cache") > 100


def test_a_missing_scheduler_file_is_named(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from benchmark.cli import main

    missing = tmp_path / "scheduler.json"
    assert main(["run", str(project / "run.toml"), "--out", str(tmp_path / "out"), "--scheduler", str(missing)]) == 2
    assert f"--scheduler {missing}: no such scheduler file" in capsys.readouterr().err


def test_cli_runs_stages_on_an_existing_scheduler(project: Path, tmp_path: Path, cluster: Any,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from benchmark.cli import main

    address = cluster.scheduler.address
    cluster.wait_for_workers(2, timeout=120)  # a test before this one kills a worker; its nanny starts it again
    assert main(["run", str(project / "run.toml"), "--out", str(tmp_path / "out"), "--quiet", "--scheduler", address,
                 "--stop-after", "recognizer zheng2011"]) == 0
    out = capsys.readouterr().out
    assert f"Dask: 2 worker(s) at {address}" in out
    assert "recognizer zheng2011: running on " in out and "recognizer zheng2011: done in" in out
    plan = plan_run(load_run_config(project / "run.toml"), tmp_path / "out", progress=False)
    assert plan.status(plan.builder.stages["recognizer zheng2011"]) == "cached"


def test_local_workers_keep_glibc_s_adaptive_malloc(cluster: Any) -> None:
    """Dask's MALLOC_TRIM_THRESHOLD_ (which turns off glibc's adaptive mmap threshold, so torch stages fault their
    pages anew at every step) is not in the local workers' environment."""
    import os

    values = cluster.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_"))
    assert len(values) == 2 and set(values.values()) == {None}
