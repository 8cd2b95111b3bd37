"""Process parallelism for per-frame kernels without shipping frames between processes.

Per-frame kernels here (contour tracing, polygon filling) spend most of their time in short Python steps, so
threads serialise on the GIL, and pickling frames to a process pool costs more than the work. Instead the
workers are forked (they inherit the inputs copy-on-write), each handles one contiguous range of frames, and
sends back a compact result through a pipe (shared memory is avoided on purpose: its page faults cost more than
these kernels). Where ``fork`` is unavailable the work runs in this process.
"""

from __future__ import annotations

import multiprocessing
import os
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import TypeVar

import numpy as np

T = TypeVar("T")


def resolve_workers(workers: int | None, jobs: int) -> int:
    """``workers`` (default: all cores), capped by the number of jobs; raises on values below 1."""
    if workers is None:
        workers = os.cpu_count() or 1
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    return max(1, min(workers, jobs))


def _can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def run_ranges(total: int, workers: int, fn: Callable[[int, int], T]) -> list[T]:
    """``[fn(start, stop) for each of `workers` contiguous ranges of range(total)]``, in forked processes.

    Results travel back pickled, so ``fn`` should return something compact. An exception in a worker is
    re-raised here as ``RuntimeError`` carrying the worker's traceback.
    """
    bounds = [int(b) for b in np.linspace(0, total, workers + 1).astype(int)]
    if workers == 1 or total < 2 or not _can_fork():
        return [fn(0, total)]
    ctx = multiprocessing.get_context("fork")
    procs = []
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        reader, writer = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_child, args=(fn, lo, hi, writer), daemon=True)
        proc.start()
        writer.close()
        procs.append((proc, reader))
    results: list[T] = []
    errors = []
    for proc, reader in procs:
        try:
            ok, payload = reader.recv()
        except EOFError:
            ok, payload = False, "the worker ended without a result"
        proc.join()
        if ok:
            results.append(payload)
        else:
            errors.append(f"{payload} (exit code {proc.exitcode})")
    if errors:
        raise RuntimeError("a worker process failed:\n" + errors[0])
    return results


def _child(fn: Callable[[int, int], object], lo: int, hi: int, writer: Connection) -> None:
    try:
        result = (True, fn(lo, hi))
    except BaseException:
        result = (False, traceback.format_exc())
    writer.send(result)
    writer.close()
    os._exit(0)
