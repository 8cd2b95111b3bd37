"""Running a planned benchmark on Dask distributed: independent stages side by side, on this machine's cores
(``gaitbench run --jobs N``) or on an existing cluster (``--scheduler ADDRESS``).

The plan's stage graph is handed to Dask as it is: one task per stage that is not cached yet, depending on the
tasks of its input stages. A task carries the config, not the stage's code: the worker plans the same run again
(:func:`benchmark.runner.execute.plan_run`), checks that it computes the same stage key (a worker with other code,
another world or other plug-ins refuses, naming the stage), and runs the stage exactly as the serial executor does,
under the stage's lock in the content-keyed cache. That cache, on a filesystem every worker sees, is the only
state the workers share:

- a stage is computed once, even when two runs or two workers want it: the second waits on the lock, then finds
  the completion marker;
- a worker killed mid-stage leaves a folder without a marker; Dask gives the task to another worker, which
  resumes what the killed one left (as a rerun of a killed serial run does);
- what a stage writes does not depend on which worker ran it, so the results equal those of a serial run (the
  thread count is the one exception: floats round differently over another number of threads, so set
  ``threads`` in the config, as ``configs/ci.toml`` does, for byte-identical results; every stage then computes
  with that many threads in each pool, see :mod:`benchmark.runner.threads`).

Cores: a local cluster has ``jobs`` single-threaded worker processes; each stage gets ``cores // jobs`` torch,
OpenCV, OpenMP and BLAS threads and decoding processes, unless the config sets ``threads`` and ``workers``. With
``device`` resolving to a GPU here, the first ``min(jobs, GPUs)`` workers each own one GPU and the stages that
train or run models (:data:`GPU_KINDS`) go only to them, one stage per GPU; the other workers and the other
stages use the CPU.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from benchmark.runner.cache import Stage
from benchmark.runner.config import RunConfig, resolve
from benchmark.runner.execute import (
    Plan,
    RunResult,
    StageResult,
    check_stop_after,
    drop_spent,
    plan_run,
    run_stage,
    say,
    write_run_dir,
)

#: stage kinds that run a model and take a GPU when the run has one (one such stage per GPU at a time)
GPU_KINDS = frozenset({"recognizer", "train", "action-model", "anonymize", "score"})
#: the Dask resource name of a GPU (workers of an external cluster advertise it with ``--resources GPU=1``)
GPU = "GPU"
#: Dask's setting of glibc's ``MALLOC_TRIM_THRESHOLD_`` for the worker processes it spawns (unset by
#: :func:`local_cluster`)
TRIM_KEY = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"
#: the topic on which workers announce that a stage started (shown by the client as a progress line)
TOPIC = "gaitbench-stage"


def available_cores() -> int:
    """The CPU cores this process may use (its affinity mask where the platform has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclasses.dataclass(frozen=True)
class Job:
    """What a worker needs to plan the run again: the config as resolved here, the run and cache folders, the
    file plug-ins registered here (:func:`benchmark.registry.export_plugins`), the cores of one stage, whether the
    workers' GPUs are assigned by their ``GPU`` resource, and a token naming this run's planning."""

    config: RunConfig
    source: Path | None
    raw: dict[str, Any]
    out: Path
    cache: Path
    plugins: str
    progress: bool
    cores: int | None  # None: the worker's own share of its machine
    gpu_workers: bool  # a worker with the GPU resource runs on "cuda", one without on "cpu"
    token: str


_plans: dict[tuple[str, str | None], Plan] = {}


def _worker_plan(job: Job, device: str | None) -> Plan:
    """The run planned in this worker, once per job and device (planning reads the world and hashes plug-ins)."""
    found = _plans.get((job.token, device))
    if found is not None:
        return found
    from benchmark.registry import PLUGINS_ENV

    if job.plugins:  # the registries read it on their next lookup
        os.environ[PLUGINS_ENV] = job.plugins
    cores = job.cores or _worker_cores()
    c = job.config
    config = dataclasses.replace(c, workers=c.workers or cores, threads=c.threads or cores,
                                 device=device or c.device)
    plan = plan_run(resolve(config, source=job.source, raw=job.raw), job.out, cache_dir=job.cache,
                    progress=job.progress)
    _plans[(job.token, device)] = plan
    return plan


def _worker_cores() -> int:
    """This worker's share of its machine's cores: the cores over the worker's threads."""
    from distributed import get_worker

    return max(1, available_cores() // max(1, get_worker().state.nthreads))


def run_stage_task(job: Job, name: str, key: str, head: str, *inputs: StageResult) -> StageResult:
    """The Dask task of one stage (``inputs``: the results of its input stages' tasks, there for the ordering)."""
    from distributed import get_worker

    worker = get_worker()
    device = None
    if job.gpu_workers:
        device = "cuda" if GPU in worker.state.total_resources else "cpu"
    plan = _worker_plan(job, device)
    stage = plan.builder.stages.get(name)
    if stage is None or stage.key != key:
        found = "is not in its plan" if stage is None else f"has key {stage.key} there"
        raise RuntimeError(f"stage {name!r} (key {key}) {found} on worker {worker.name}: the worker plans the run "
                           "with other code, another world or other plug-ins than the client; install the same "
                           "gaitbench version and share the world and the cache folder")
    worker.log_event(TOPIC, {"name": name, "head": head, "worker": str(worker.name)})
    return run_stage(plan, stage, head, lambda line: None)


def _gpus(plan: Plan) -> int:
    if not plan.builder.device.startswith("cuda"):
        return 0
    import torch

    return torch.cuda.device_count()


def _has_dashboard() -> bool:
    try:
        import bokeh  # noqa: F401  (the dashboard's dependency)
    except ImportError:
        return False
    return True


@contextlib.contextmanager
def local_cluster(jobs: int, gpus: int = 0, *, dashboard: bool | None = None) -> Iterator[Any]:
    """A Dask cluster of ``jobs`` single-threaded worker processes on this machine (the first ``min(jobs, gpus)``
    each owning one GPU, the others none); yields its client. Workers may start processes of their own (decoding,
    world rendering), so they are not daemonic; they have no memory limit (a stage needs what it needs)."""
    import dask
    from distributed import Client, Nanny, Scheduler, SpecCluster

    dashboard = _has_dashboard() if dashboard is None else dashboard
    scheduler = {"cls": Scheduler, "options": {"host": "127.0.0.1", "dashboard": dashboard,
                                               "dashboard_address": ":0" if dashboard else None}}
    # Dask starts workers with one OpenMP / BLAS thread; a stage's share of the cores is what it may use.
    share = str(max(1, available_cores() // jobs))
    threads = {"OMP_NUM_THREADS": share, "MKL_NUM_THREADS": share, "OPENBLAS_NUM_THREADS": share}
    workers = {}
    for i in range(jobs):
        options: dict[str, Any] = {"host": "127.0.0.1", "nthreads": 1, "memory_limit": 0, "dashboard": False,
                                   "silence_logs": logging.ERROR, "env": dict(threads)}
        if gpus:
            options["env"]["CUDA_VISIBLE_DEVICES"] = str(i) if i < gpus else ""
            if i < gpus:
                options["resources"] = {GPU: 1}
        workers[f"stage-worker-{i}"] = {"cls": Nanny, "options": options}
    with dask.config.set({"distributed.worker.daemon": False,
                          # a killed worker's task goes to another worker a few times, then the run stops
                          "distributed.scheduler.allowed-failures": 2,
                          # Dask sets glibc's trim threshold to 64 KiB in its workers, which also turns off
                          # glibc's adaptive mmap threshold: every buffer of 128 KiB or more is then mapped and
                          # unmapped anew, and torch stages spend more time faulting pages than computing
                          # (docs/run.md, "Measured on 2 CPU cores"); workers keep glibc's defaults instead
                          TRIM_KEY: None}):
        with SpecCluster(workers=workers, scheduler=scheduler, silence_logs=logging.ERROR) as cluster:
            with Client(cluster) as client:
                yield client


@contextlib.contextmanager
def external_cluster(address: str) -> Iterator[Any]:
    """A client of an existing Dask scheduler: ``address`` is its address (``tcp://host:8786``) or the JSON file it
    wrote with ``--scheduler-file`` (what a batch job can share on a common filesystem); a clear error when none
    answers within 10 s."""
    from distributed import Client

    path = Path(address).expanduser()
    try:
        if path.suffix == ".json":
            if not path.is_file():
                raise ConnectionError(f"--scheduler {address}: no such scheduler file (dask scheduler "
                                      "--scheduler-file writes it when the scheduler starts)")
            client = Client(scheduler_file=str(path), timeout="10s")
        else:
            client = Client(address, timeout="10s")
    except (OSError, TimeoutError) as err:
        if isinstance(err, ConnectionError) and str(err).startswith("--scheduler"):
            raise
        raise ConnectionError(f"--scheduler {address}: no Dask scheduler answered ({err}); start one with "
                              "dask scheduler, dask-jobqueue or dask-kubernetes (docs/run.md)") from None
    with client:
        yield client


def _needed(plan: Plan, stop_after: str | None) -> list[Stage]:
    """The stages to compute, in plan order: every stage, or ``stop_after`` and the stages it reads, recursively."""
    if stop_after is None:
        return list(plan.stages)
    keep, todo = set(), [stop_after]
    while todo:
        name = todo.pop()
        if name not in keep:
            keep.add(name)
            todo.extend(plan.builder.stages[name].inputs)
    return [s for s in plan.stages if s.name in keep]


def execute_distributed(plan: Plan, *, jobs: int | None = None, scheduler: str | None = None,
                        stop_after: str | None = None, log: Callable[[str], None] = say,
                        client: Any = None) -> RunResult:
    """Run ``plan`` on Dask: a local cluster of ``jobs`` processes (default: one per core), the cluster whose
    scheduler is at ``scheduler``, or a given ``client``; then write the run directory as
    :func:`~benchmark.runner.execute.execute` does.

    ``stop_after``: compute that stage and the stages it reads, then stop without writing the run directory. A
    failing stage stops the run: the stages not started are cancelled, those done stay cached, and the error is
    raised naming the stage.
    """
    check_stop_after(plan, stop_after)
    if jobs is not None and jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    if client is not None:
        cm: contextlib.AbstractContextManager[Any] = contextlib.nullcontext(client)
    elif scheduler is not None:
        cm = external_cluster(scheduler)
    else:
        cm = local_cluster(jobs or available_cores(), _gpus(plan))
    began = time.perf_counter()
    with cm as c:
        results = _submit_and_wait(plan, c, local=client is None and scheduler is None,
                                   jobs=jobs or available_cores(), stop_after=stop_after, log=log)
    if stop_after is not None:
        log(f"[run] stopped after {stop_after!r} as asked; rerun without stop_after to finish")
        return RunResult(plan.out, [results[s.name] for s in _needed(plan, stop_after)], finished=False)
    ordered = [results[s.name] for s in plan.stages]
    write_run_dir(plan, ordered, time.perf_counter() - began)
    computed = sum(r.seconds for r in ordered if r.status != "cached")
    log(f"[run] {sum(r.status == 'cached' for r in ordered)} of {len(ordered)} stages cached, {computed:.1f} s "
        f"computing in {time.perf_counter() - began:.1f} s; wrote {plan.out / 'results.csv'}, {plan.out / 'run.json'}")
    return RunResult(plan.out, ordered, finished=True)


def _submit_and_wait(plan: Plan, client: Any, *, local: bool, jobs: int, stop_after: str | None,
                     log: Callable[[str], None]) -> dict[str, StageResult]:
    from distributed import as_completed

    from benchmark.registry import export_plugins

    r = plan.resolved
    gpus = _gpus(plan) if local else 0
    remote_gpus = not local and any(GPU in (w.get("resources") or {})
                                    for w in client.scheduler_info().get("workers", {}).values())
    job = Job(r.config, r.source, r.raw, plan.out, plan.store.root, export_plugins(), plan.builder.progress,
              cores=max(1, available_cores() // jobs) if local else None, gpu_workers=bool(gpus or remote_gpus),
              token=uuid.uuid4().hex)
    where = client.dashboard_link if getattr(client, "dashboard_link", None) and local else None
    workers = len(client.scheduler_info().get("workers", {}))
    log(f"[run] Dask: {workers} worker(s) at {client.scheduler.address}" + (f", dashboard {where}" if where else ""))

    stages = _needed(plan, stop_after)
    total = len(plan.stages)
    number = {s.name: i for i, s in enumerate(plan.order(), 1)}
    results: dict[str, StageResult] = {}
    futures: dict[str, Any] = {}
    for stage in stages:
        head = f"[run {number[stage.name]}/{total}]"
        status = plan.status(stage)
        if status == "cached" or (status == "dropped" and not plan.needed(stage)):
            results[stage.name] = run_stage(plan, stage, head, log)  # reads the marker, logs "cached"
            drop_spent(plan, stage, log)
            continue
        deps = [futures[i] for i in stage.inputs if i in futures]
        resources = {GPU: 1} if stage.kind in GPU_KINDS and (gpus or remote_gpus) else None
        # Dask runs the ready task of highest priority first: the serial order (Plan.order: with --drop-anonymized,
        # each anonymized tree read before the next is made)
        futures[stage.name] = client.submit(run_stage_task, job, stage.name, stage.key, head, *deps,
                                            key=f"stage-{stage.kind}-{stage.key}", pure=False, resources=resources,
                                            priority=total - number[stage.name])
    names = {f.key: name for name, f in futures.items()}

    def started(event: Any) -> None:
        _, msg = event
        log(f"{msg['head']} {msg['name']}: running on {msg['worker']}")

    client.subscribe_topic(TOPIC, started)
    try:
        for future in as_completed(list(futures.values())):
            name = names[future.key]
            if future.status == "error":
                error = future.exception()
                for other in futures.values():
                    other.cancel()
                raise RuntimeError(f"stage {name!r} failed: {type(error).__name__}: {error}") from error
            result = future.result()
            results[name] = result
            log(f"[run {number[name]}/{total}] {name}: done in {result.seconds:.1f} s"
                + (" (resumed)" if result.status == "resumed" else ""))
            drop_spent(plan, plan.builder.stages[name], log)
    finally:
        client.unsubscribe_topic(TOPIC)
    return results
