"""Commands ``gaitbench train recognizer`` and ``gaitbench evaluate``.

Recognizer code (and torch) is imported when a command runs, so building the parser stays cheap.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from benchmark.cli.args import (
    add_cache,
    add_device,
    add_protocol,
    add_quiet,
    add_train_command,
    add_training,
    add_workers,
    training_config,
)


def _ks(text: str) -> tuple[int, ...]:
    try:
        ks = tuple(sorted({int(k) for k in text.split(",") if k.strip()}))
    except ValueError:
        raise argparse.ArgumentTypeError(f"ranks must be comma-separated integers, e.g. 1,3; got {text!r}") from None
    if not ks or ks[0] < 1:
        raise argparse.ArgumentTypeError(f"ranks must be >= 1, got {text!r}")
    return ks


def _common(p: argparse.ArgumentParser) -> None:
    add_protocol(p)
    add_device(p)
    add_cache(p)
    add_workers(p)
    add_quiet(p)


def register(sub: argparse._SubParsersAction) -> None:
    train = add_train_command(sub)
    p = train.add_parser(
        "recognizer",
        help="train a gait recognizer on the protocol's recognizer group",
        description="Train NAME on the recognizer group of the protocol's split of --data and write the "
        "checkpoint --out. A per-epoch state is kept at OUT.state.pt: rerunning the command after an "
        "interruption resumes from the last finished epoch.",
    )
    add_training(p, "recognizer")
    _common(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "evaluate",
        help="identification accuracy / success rate of recognizer checkpoints on a protocol's test group",
        description="Gallery: the protocol's gallery conditions of the test subjects from --gallery (clean). "
        "Probes: its probe conditions from --probes (the clean tree or an anonymized copy in the same layout). "
        "Writes a tidy results table, the cross-view matrices (RESULTS.view_matrix.csv) and a run record "
        "(RESULTS.run.json), and prints per-view tables. Under torchrun (torchrun --nproc_per_node N -m "
        "benchmark.cli evaluate ...) the embeddings and distances are computed in shards over the N processes "
        "(Gloo on CPUs, NCCL on GPUs) and rank 0 writes the same table as one process would.",
    )
    p.add_argument("--ckpt", action="append", required=True, help="recognizer checkpoint (repeat for several)")
    p.add_argument("--gallery", required=True, help="clean CASIA-B tree (also defines the protocol's split)")
    p.add_argument("--probes", help="tree the probes are read from (default: --gallery, i.e. clean probes)")
    p.add_argument("--method", help="anonymizer that made --probes (default identity for clean probes)")
    p.add_argument("--parameters", default="", help="its parameters, e.g. alpha=0.3")
    p.add_argument("--out", required=True, help="results CSV to write")
    p.add_argument("--k", type=_ks, default=(1, 3), help="ranks, e.g. 1,3 (default)")
    p.add_argument(
        "--cross-view",
        choices=("auto", "yes", "no"),
        default="auto",
        help="compute the 11x11 view matrix; auto = not for pairwise recognizers on the CPU (default auto)",
    )
    _common(p)
    p.set_defaults(func=cmd_evaluate)


def cmd_train(args: argparse.Namespace) -> int:
    from benchmark.recognizer import recognizer_class
    from benchmark.steps import train_recognizer

    config = training_config(recognizer_class(args.name), args)
    began = time.perf_counter()
    rec = train_recognizer(
        args.name, args.data, args.out, protocol=args.protocol, config=config, device=args.device,
        cache_dir=args.cache, workers=args.workers, progress=not args.quiet,
    )
    training = rec.training or {}
    per_epoch = sorted(training.get("epoch_seconds") or [])
    epochs = (
        f"{training.get('epochs')} epochs on {training.get('device')}, median {per_epoch[len(per_epoch) // 2]:.1f} "
        "s/epoch, " if per_epoch else ""
    )
    print(
        f"trained {args.name}: {epochs}training {training.get('seconds', 0.0):.1f} s, reading "
        f"{training.get('load_seconds', 0.0):.1f} s, total {time.perf_counter() - began:.1f} s -> {args.out}"
    )
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from benchmark.training import distributed_env, process_group

    if distributed_env()[2] == 1:
        return _evaluate(args, args.device, rank=0, world=1)
    # Under torchrun every rank runs this command; evaluate_recognizer shards the work, rank 0 writes.
    with process_group(args.device) as (device, rank, world):
        return _evaluate(args, str(device), rank=rank, world=world)


def _evaluate(args: argparse.Namespace, device: str, *, rank: int, world: int) -> int:
    from benchmark.evaluate import format_tables, load_eval_sets, unusable_counts
    from benchmark.protocol import load_protocol
    from benchmark.recognizer import load_recognizer
    from benchmark.record import write_run_record
    from benchmark.results import write_csv
    from benchmark.sequences import default_cache_dir
    from benchmark.shard import rank_zero_first
    from benchmark.steps import evaluate, write_view_matrix

    protocol = load_protocol(args.protocol)
    probes_root = args.probes or args.gallery
    same = Path(probes_root).resolve() == Path(args.gallery).resolve()
    method = args.method or ("identity" if same else Path(probes_root).name)
    recs = [load_recognizer(path).to(device) for path in args.ckpt]
    names = [r.name for r in recs]
    if len(set(names)) != len(names):
        raise ValueError(f"two checkpoints of the same recognizer ({names}); evaluate them in separate runs")
    cache = args.cache or default_cache_dir()
    rows, records, sets_by_spec = [], [], {}
    for rec, path in zip(recs, args.ckpt, strict=True):
        began = time.perf_counter()
        if rec.spec not in sets_by_spec:
            with rank_zero_first():  # rank 0 fills the decoded cache, the others then read it
                sets_by_spec[rec.spec] = load_eval_sets(
                    args.gallery, probes_root, protocol, rec.spec, cache_dir=cache, workers=args.workers
                )
        result = evaluate(rec, args.gallery, probes_root, protocol, method=method, parameters=args.parameters,
                          ks=args.k, cross_view=args.cross_view, sets=sets_by_spec[rec.spec])
        rows += result.rows
        records += result.matrices
        if not args.quiet and rank == 0:
            shards = f" in {world} processes" if world > 1 else ""
            print(f"[evaluate] {rec.name} ({path}): {time.perf_counter() - began:.1f} s{shards}", file=sys.stderr)
    if rank != 0:
        return 0
    frame = write_csv(rows, args.out)
    out = Path(args.out)
    if records:
        write_view_matrix(out.with_name(out.stem + ".view_matrix.csv"), records)
    write_run_record(
        out.with_name(out.stem + ".run.json"),
        protocol=protocol.name,
        gallery=str(args.gallery),
        probes=str(probes_root),
        method=method,
        parameters=args.parameters,
        checkpoints=[{"path": str(p), "recognizer": r.name, **r.checkpoint_record()}
                     for p, r in zip(args.ckpt, recs, strict=True)],
        processes=world,
        unusable_probes={r.name: unusable_counts(sets_by_spec[r.spec]) for r in recs},  # no usable frame: misses
    )
    print(format_tables(frame, args.k))
    return 0
