"""Sharded evaluation: under torchrun every process embeds and compares its share of the sequences.

``torchrun --nproc_per_node N -m benchmark.cli evaluate ...`` starts N copies of the same command; each reads the
same gallery and probes, and :func:`benchmark.evaluate.evaluate_recognizer` routes its two costly calls
through this module:

- :func:`embed`: the sequences are cut into contiguous blocks by index, one per rank (aligned to the
  recognizer's ``embed_batch`` when it has one, so a torch recognizer sees the same batches as in one process);
  each rank embeds its block and the blocks are gathered to every rank in index order.
- :func:`compare`: the probes are cut the same way; each rank computes its rows of the probe x gallery distance
  matrix and the rows are gathered.

Every rank then holds the full embeddings and distances and computes the same retrieval; only rank 0 writes
files. The merged table equals the one-process table: the distances are computed on the same embeddings, block
by block, and ranking and counting are exact. (A recognizer whose embedding of one sequence depends on which
others share its call, e.g. through floating-point batching of BLAS, may differ in the last bits.)

Without an initialised ``torch.distributed`` process group (one process) both functions are the recognizer's
own methods, and torch is not imported.
"""

from __future__ import annotations

import contextlib
import hashlib
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from benchmark.recognizer import Recognizer
    from benchmark.sequences import Embedding, Sequences


def current() -> tuple[int, int]:
    """``(rank, world_size)`` of the initialised default process group; ``(0, 1)`` without one."""
    if "torch" not in sys.modules:  # no torch imported, so no process group either
        return 0, 1
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return 0, 1
    return dist.get_rank(), dist.get_world_size()


def shard_bounds(n: int, world: int, align: int = 1) -> list[tuple[int, int]]:
    """Contiguous blocks ``[start, stop)`` over ``range(n)``, one per rank, each starting at a multiple of ``align``.

    The ``ceil(n / align)`` units of ``align`` items are split as evenly as possible, earlier ranks taking one
    more; ranks beyond the number of units get an empty block. E.g. ``shard_bounds(10, 4)`` is
    ``[(0, 3), (3, 6), (6, 8), (8, 10)]``.
    """
    if n < 0 or world < 1 or align < 1:
        raise ValueError(f"need n >= 0, world >= 1 and align >= 1, got n={n}, world={world}, align={align}")
    units = -(-n // align)
    counts = [units // world + (r < units % world) for r in range(world)]
    edges = np.concatenate([[0], np.cumsum(counts)]) * align
    return [(min(n, int(a)), min(n, int(b))) for a, b in zip(edges[:-1], edges[1:], strict=True)]


def _gather(obj: Any) -> list[Any]:
    import torch.distributed as dist

    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def _digest(data: Sequences) -> str:
    return hashlib.sha256("|".join(data.key(i) for i in range(len(data))).encode()).hexdigest()


def _merge(parts: list[tuple[str, np.ndarray | None]], what: str) -> np.ndarray:
    """Concatenate the ranks' blocks in rank order, after checking that all ranks held the same sequences."""
    digests = {d for d, _ in parts}
    if len(digests) != 1:
        raise ValueError(
            f"the ranks hold different {what} sequences ({len(digests)} versions): every rank must read the same "
            "gallery and probe trees with the same protocol"
        )
    return np.concatenate([block for _, block in parts if block is not None])


def embed(rec: Recognizer, data: Sequences) -> Embedding:
    """``rec.embed(data)``, computed in blocks over the ranks of the process group and gathered to all of them."""
    from benchmark.sequences import Embedding

    rank, world = current()
    if world == 1 or len(data) == 0:
        return rec.embed(data)
    align = getattr(rec.config, "embed_batch", 1)
    start, stop = shard_bounds(len(data), world, align if isinstance(align, int) and align > 0 else 1)[rank]
    mine = rec.embed(data.subset(np.arange(start, stop))).features if stop > start else None
    features = _merge(_gather((_digest(data), mine)), "embedded")
    return Embedding(features, data.views.copy())


def compare(rec: Recognizer, gallery: Embedding, probes: Embedding) -> np.ndarray:
    """``rec.compare(gallery, probes)``, ``float64 (P, G)``, with the probe rows computed in blocks over the ranks."""
    rank, world = current()
    if world == 1 or len(probes) == 0:
        return rec.compare(gallery, probes)
    start, stop = shard_bounds(len(probes), world)[rank]
    mine = rec.compare(gallery, probes.subset(np.arange(start, stop))) if stop > start else None
    # The views of both sides stand in for the sequence keys, which embeddings do not carry.
    digest = hashlib.sha256(gallery.views.tobytes() + b"|" + probes.views.tobytes()).hexdigest()
    return _merge(_gather((digest, mine)), "compared")


@contextlib.contextmanager
def rank_zero_first() -> Iterator[None]:
    """Run the block on rank 0 first, then on the other ranks (e.g. so only rank 0 fills a shared cache).

    Rank 0 releases the others even when its block fails, so they fail on their own instead of waiting forever.
    """
    rank, world = current()
    if world == 1:
        yield
        return
    import torch.distributed as dist

    if rank != 0:
        dist.barrier()
    try:
        yield
    finally:
        if rank == 0:
            dist.barrier()
