"""The thread pools a stage computes with, set from the run's ``threads`` for the stage and put back after it.

Floating-point results depend on how many threads share a computation: a BLAS product or an eigendecomposition
split over two threads rounds differently from one thread (the zheng2011 model's LDA weights differ by ~1e-10,
the realism stage's Frechet distances in the sixth digit). The serial executor and each Dask worker therefore
give every stage the same count in every pool that computes numbers: torch's intra-op pool, OpenCV's pool, and
the BLAS and OpenMP libraries loaded in the process (numpy's and scipy's OpenBLAS, torch's OpenMP), the latter
through threadpoolctl. With ``threads = 0`` (the default) the pools are left as the process has them, so a
serial run and a Dask run agree only where the config sets ``threads``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from collections.abc import Iterator


def _load_pools() -> None:
    """Load the libraries whose pools are limited: threadpoolctl limits only libraries already loaded, and a
    stage loads scipy's BLAS (scipy.linalg) or torch's OpenMP lazily."""
    import scipy.linalg  # noqa: F401  (scipy's own OpenBLAS)

    if "torch" not in sys.modules and importlib.util.find_spec("torch") is not None:
        import torch  # noqa: F401


@contextlib.contextmanager
def stage_threads(threads: int) -> Iterator[None]:
    """Run the body with ``threads`` threads in every computing pool (0: leave the pools as they are); every pool
    is put back afterwards, including torch's count when a library changed it inside the body (the body model
    sets 1 for rendering, and the stages after it must not inherit that)."""
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 0:
        raise ValueError(f"threads must be an int >= 0, got {threads!r}")
    import cv2

    if threads:
        _load_pools()
    torch = sys.modules.get("torch")
    torch_before = None if torch is None else torch.get_num_threads()
    cv2_before = cv2.getNumThreads()
    with contextlib.ExitStack() as stack:
        if threads:
            from threadpoolctl import threadpool_limits

            stack.enter_context(threadpool_limits(limits=threads))
            cv2.setNumThreads(threads)
            if torch is not None:
                torch.set_num_threads(threads)
        try:
            yield
        finally:
            torch = sys.modules.get("torch")
            if torch is not None and torch_before is not None and torch.get_num_threads() != torch_before:
                torch.set_num_threads(torch_before)
            if cv2.getNumThreads() != cv2_before:
                cv2.setNumThreads(cv2_before)
