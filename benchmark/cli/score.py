"""Command ``gaitbench score``: naturalness scores of a dataset and, against its original, realism metrics.

The rows and how they are computed are :mod:`benchmark.scoring`'s (:func:`~benchmark.scoring.score_dataset`,
which ``gaitbench run`` calls too); the command adds the selection from a protocol, the method read from
``anonymization.json``, the tables printed, the CSV and the run record. Scorer and recognizer code is imported
when the command runs, so building the parser stays cheap.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmark.cli.args import (
    add_cache,
    add_conditions,
    add_device,
    add_protocol,
    add_quiet,
    add_views,
    add_workers,
    parse_subjects,
)

if TYPE_CHECKING:
    import pandas as pd

    from benchmark.protocol import Protocol



def format_score_tables(frame: pd.DataFrame) -> str:
    """Per-view tables (views as columns, ``all`` = view -1; one row per evaluator x metric x condition)."""
    parts = []
    for method in sorted(set(frame["method"])):
        sel = frame[frame["method"] == method]
        for parameters in sorted(set(sel["parameters"])):
            part = sel[sel["parameters"] == parameters]
            table = part.pivot_table(index=["evaluator", "metric", "condition"], columns="view", values="value",
                                     aggfunc="mean")
            table = table[[c for c in table.columns if c != -1] + [c for c in table.columns if c == -1]]
            table.columns = ["all" if v == -1 else str(v) for v in table.columns]
            title = f"{method}" + (f" ({parameters})" if parameters else "")
            text = table.to_string(float_format=lambda x: f"{x:.4g}", na_rep="-")
            parts.append(f"scores by view, data: {title}\n{text}")
    return "\n\n".join(parts)


def _scorer_config(text: str) -> tuple[str, str]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=TOML, e.g. frame-hog=hog.toml; got {text!r}")
    return name, path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "score",
        help="naturalness scores of a dataset's sequences and, with --original, realism against the original",
        description="Score the selected sequences of --data (a clean tree or an anonymized one) with each "
        "--scorer (they read the colour frames), and with --original also the temporal change ratio of the "
        "silhouettes and, per --recognizer, the Fréchet distance of its embeddings. Writes a tidy results "
        "table and a run record (OUT.run.json) and prints per-view tables. Default selection: the protocol's "
        "test subjects (split on --original, or on the anonymization's source, or on --data), probe conditions "
        "and views.",
    )
    p.add_argument("--data", required=True, help="dataset to score: CASIA-B tree, world or anonymized folder")
    p.add_argument("--original", help="the clean dataset --data was made from (enables realism metrics)")
    p.add_argument("--scorer", action="append", default=[], metavar="NAME",
                   help="a registered scorer (gaitbench ls scorers); repeat for several")
    p.add_argument("--scorer-config", type=_scorer_config, action="append", default=[], metavar="NAME=TOML",
                   help="TOML settings of a scorer (unknown keys are errors)")
    p.add_argument("--recognizer", action="append", default=[], metavar="CKPT",
                   help="recognizer checkpoint whose embeddings give the Fréchet distance (needs --original)")
    add_protocol(p)
    who = p.add_mutually_exclusive_group()
    who.add_argument("--group", help="protocol subject group to score (default: its test group)")
    who.add_argument("--subjects", type=parse_subjects, help="e.g. 001-074,080 instead of a group")
    add_conditions(p, "the protocol's probes")
    add_views(p, "the protocol's views")
    p.add_argument("--method", help="anonymizer that made --data (default: from DATA/anonymization.json, "
                   "else identity)")
    p.add_argument("--parameters", help="its parameters, e.g. alpha=0.3 (default: from anonymization.json)")
    p.add_argument("--out", required=True, help="results CSV to write")
    add_device(p)
    add_cache(p)
    add_workers(p, "decoding processes for recognizers")
    add_quiet(p)
    p.set_defaults(func=cmd_score)


def _read_record(data: Path) -> dict[str, Any] | None:
    from benchmark.anonymized import RECORD

    path = data / RECORD
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read {path} ({exc}); pass --method and --parameters, or fix the file") from None
    if not isinstance(record, dict):
        raise ValueError(f"{path} is not a JSON object; pass --method and --parameters, or fix the file")
    return record


def _method(args: argparse.Namespace, record: dict[str, Any] | None) -> tuple[str, str]:
    from benchmark.results import format_parameters

    if record is not None:
        method = str(record.get("method") or Path(args.data).name)
        params = record.get("parameters") or ""
        params = format_parameters(params) if isinstance(params, dict) else str(params)
    elif args.original is not None and Path(args.original).resolve() != Path(args.data).resolve():
        method, params = Path(args.data).name, ""  # altered data of unknown origin: never call it identity
    else:
        method, params = "identity", ""
    return args.method or method, (params if args.parameters is None else args.parameters)


def _subjects(args: argparse.Namespace, protocol: Protocol, record: dict[str, Any] | None) -> list[str]:
    from benchmark.protocol import protocol_groups

    if args.subjects is not None:
        return list(args.subjects)
    # Groups are assigned on the clean tree: an anonymized tree holds only the subjects that were anonymized.
    split_root = args.original
    if split_root is None and record is not None:
        source = record.get("source")
        if not source or not Path(source).is_dir():
            raise ValueError(
                f"{args.data} is an anonymized dataset whose source ({source}) is not on this machine, so the "
                f"protocol's groups cannot be assigned: pass --original CLEAN_TREE or --subjects"
            )
        split_root = source
    groups = protocol_groups(split_root or args.data, protocol)
    group = args.group or protocol.test_group
    if group not in groups:
        raise ValueError(f"protocol {protocol.name!r} has no group {group!r} (groups: {', '.join(groups)})")
    return groups[group]


def _device(text: str) -> str:
    if text == "cpu":
        return text  # no torch import for CPU-only scorers
    from benchmark.training import select_device

    return str(select_device(text))


def cmd_score(args: argparse.Namespace) -> int:
    from benchmark.protocol import load_protocol
    from benchmark.recognizer import load_recognizer
    from benchmark.record import write_run_record
    from benchmark.registry import SCORERS, load_plugin_declarations
    from benchmark.results import write_csv
    from benchmark.sequences import default_cache_dir
    from benchmark.steps import score

    load_plugin_declarations()
    names = list(args.scorer)
    for name in names:
        SCORERS.entry(name)  # unknown names fail here, with "did you mean", before any data is read
    if len(set(names)) != len(names):
        raise ValueError(f"a scorer is named twice in --scorer {names}")
    configs = dict(args.scorer_config)
    stray = sorted(set(configs) - set(names))
    if stray:
        raise ValueError(f"--scorer-config names {stray[0]!r}, which is not one of the --scorer names {names}")
    if args.recognizer and args.original is None:
        raise ValueError("--recognizer compares embeddings of --data with those of --original: pass --original")
    if not names and args.original is None:
        raise ValueError("nothing to score: pass --scorer NAME and/or --original CLEAN_TREE")

    record = _read_record(Path(args.data))
    method, parameters = _method(args, record)
    protocol = load_protocol(args.protocol)
    subjects = _subjects(args, protocol, record)
    conditions = args.conditions or [c for conds in protocol.probes.values() for c in conds]
    views = sorted(set(args.views)) if args.views else list(protocol.views)

    device = _device(args.device) if names or args.recognizer else "cpu"
    scorers = []
    for name in names:
        cls = SCORERS.get(name)
        scorers.append(cls(cls.make_config(configs.get(name))).to(device))
    recs = [load_recognizer(path).to(device) for path in args.recognizer]

    began = time.perf_counter()
    result = score(
        args.data, subjects=subjects, conditions=conditions, views=views, method=method, parameters=parameters,
        scorers=scorers, original=args.original, recognizers=recs, cache_dir=args.cache or default_cache_dir(),
        workers=args.workers, progress=not args.quiet,
    )
    frame = write_csv(result.rows, args.out)
    out = Path(args.out)
    write_run_record(
        out.with_name(out.stem + ".run.json"),
        protocol=protocol.name,
        data=str(args.data),
        original=None if args.original is None else str(args.original),
        method=method,
        parameters=parameters,
        selection={"subjects": sorted(subjects), "conditions": list(conditions), "views": views},
        sequences=result.sequences,
        scorers=[{"name": s.name, "level": s.level, "label": s.label, "config": s.config_record()} for s in scorers],
        recognizers=[{"path": str(p), "recognizer": r.name, **r.checkpoint_record()}
                     for p, r in zip(args.recognizer, recs, strict=True)],
        temporal_undefined=list(result.temporal_undefined),
        seconds=round(time.perf_counter() - began, 3),
    )
    print(format_score_tables(frame))
    return 0
