"""Command ``gaitbench score``: naturalness scores of a dataset and, against its original, realism metrics.

:func:`score_dataset` is the library function behind it (``gaitbench run`` calls it too); the command adds
the selection from a protocol, the method read from ``anonymization.json``, the CSV and the run record.

Rows written (one tidy table, :mod:`benchmark.results`; ``k`` is 0 throughout), per condition type (``nm``,
``bg``, ``cl``) and view, plus ``view = -1`` over all views of the condition type:

==========================  ====================  ===========================================================
metric                      evaluator             value, n, interval
==========================  ====================  ===========================================================
``frame_score``             the scorer's name     mean of the per-sequence scores (``level = "frame"``
``video_score``                                   or ``"video"`` scorers); n sequences; 95% t-interval
``temporal_change_ratio``   ``silhouettes``       mean over sequences of :func:`temporal_consistency`'s ratio
                                                  (needs ``--original``); n sequences; 95% t-interval
``frechet``                 the recognizer        :func:`embedding_frechet` of original vs anonymized
                                                  sequences (needs ``--original``); n sequences; no interval
==========================  ====================  ===========================================================

The view ``-1`` row of ``frechet`` is the distance between the pooled sets, not a mean of the per-view ones.
Intervals (:func:`benchmark.stats.t_interval`) treat sequences as the independent units; frames of one sequence
are not.

Scorer and recognizer code is imported when the command runs, so building the parser stays cheap.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmark.cli import positive_int
from benchmark.data.cli import parse_list, parse_subjects
from benchmark.stats import t_interval

if TYPE_CHECKING:
    import pandas as pd

    from benchmark.data.casia import CasiaB, SequenceRef
    from benchmark.protocol import Protocol
    from benchmark.results import Row
    from benchmark.scorers.base import Scorer
    from recognizers.base import Recognizer

TEMPORAL_METRIC = "temporal_change_ratio"
TEMPORAL_EVALUATOR = "silhouettes"
FRECHET_METRIC = "frechet"


def mean_rows(
    values: dict[tuple[str, int], list[float]],
    *,
    bounds: tuple[float, float] | None,
    base: dict[str, Any],
) -> list[Row]:
    """Rows of per-sequence ``values`` keyed ``(condition type, view)``: one per key and one per condition
    type over all its views (``view = -1``) and one over every sequence (``condition = "all"``, ``view = -1``);
    value = mean, n = number of sequences, 95%
    :func:`benchmark.stats.t_interval`."""
    from benchmark.results import ALL_CONDITIONS, Row

    pooled: dict[str, list[float]] = {}
    for (condition, _), vals in sorted(values.items()):
        pooled.setdefault(condition, []).extend(vals)
    everything = [x for vals in pooled.values() for x in vals]
    groups = [*((c, v, vals) for (c, v), vals in sorted(values.items())),
              *((c, -1, vals) for c, vals in pooled.items()), (ALL_CONDITIONS, -1, everything)]
    rows = []
    for condition, view, vals in groups:
        if not vals:
            continue
        lo, hi = t_interval(vals, bounds=bounds)
        rows.append(Row(condition=condition, view=view, value=sum(vals) / len(vals), n=len(vals), ci_low=lo,
                        ci_high=hi, **base))
    return rows


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
    p.add_argument("--protocol", default="paper", help="bundled protocol (paper, lt) or a TOML file (default paper)")
    who = p.add_mutually_exclusive_group()
    who.add_argument("--group", help="protocol subject group to score (default: its test group)")
    who.add_argument("--subjects", type=parse_subjects, help="e.g. 001-074,080 instead of a group")
    p.add_argument("--conditions", type=parse_list, help="e.g. nm-05,bg (default: the protocol's probes)")
    p.add_argument("--views", type=parse_list, help="e.g. 0,90 (default: the protocol's views)")
    p.add_argument("--method", help="anonymizer that made --data (default: from DATA/anonymization.json, "
                   "else identity)")
    p.add_argument("--parameters", help="its parameters, e.g. alpha=0.3 (default: from anonymization.json)")
    p.add_argument("--out", required=True, help="results CSV to write")
    p.add_argument("--device", default="auto", help="auto (GPU when present), cpu, cuda or cuda:N (default auto)")
    p.add_argument("--cache", help="decoded-silhouette cache for recognizers (default $GAITBENCH_CACHE/normalized)")
    p.add_argument("--workers", type=positive_int, help="decoding processes for recognizers (default: all CPUs)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
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


def _check_frames(data: CasiaB, refs: Sequence[SequenceRef], scorers: Sequence[str]) -> None:
    missing = []
    for ref in refs:
        try:
            data.video_path(ref)
        except FileNotFoundError:
            missing.append(ref.key)
    if missing:
        raise ValueError(
            f"dataset {data.root} has no colour video for {len(missing)} of the {len(refs)} selected sequences "
            f"(e.g. {', '.join(missing[:3])}); the scorers {', '.join(scorers)} need colour frames: score a "
            "dataset with videos (anonymize with a method that makes colour frames), or drop --scorer"
        )


def _device(text: str) -> str:
    if text == "cpu":
        return text  # no torch import for CPU-only scorers
    from benchmark.training import select_device

    return str(select_device(text))


@dataclasses.dataclass(frozen=True)
class ScoreResult:
    """What :func:`score_dataset` found.

    Attributes
    ----------
    rows : list of Row
        The tidy rows (module docstring).
    sequences : int
        Sequences scored.
    temporal_undefined : tuple of str
        Keys of sequences left out of ``temporal_change_ratio``: their original silhouettes never change.
    """

    rows: list[Row]
    sequences: int
    temporal_undefined: tuple[str, ...] = ()


def score_dataset(
    data: str | os.PathLike[str],
    *,
    subjects: Sequence[str],
    conditions: Sequence[str],
    views: Sequence[int],
    method: str,
    parameters: str = "",
    scorers: Sequence[Scorer] = (),
    original: str | os.PathLike[str] | None = None,
    recognizers: Sequence[Recognizer] = (),
    cache_dir: str | os.PathLike[str] | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> ScoreResult:
    """Naturalness rows of the selected sequences of ``data`` and, against ``original``, realism rows.

    Parameters
    ----------
    data : path
        Dataset to score: CASIA-B tree, synthetic world or anonymized folder (:class:`CasiaB` reads it).
    subjects, conditions, views
        The selection, as for :meth:`CasiaB.index` (conditions like ``nm-05``; views in degrees).
    method, parameters
        What the rows are labelled with (``parameters`` as ``key=value;...``).
    scorers : list of Scorer
        Ready scorers (configured, on their device); each needs the colour frames of every selected sequence.
    original : path, optional
        The clean dataset ``data`` was made from: adds ``temporal_change_ratio`` rows, and ``frechet`` rows for
        every recognizer of ``recognizers`` (ready, on their device; at most one per recognizer name).
    cache_dir, workers
        Decoded-silhouette cache and decoding processes for the recognizers.
    progress : bool
        Progress lines on stderr.

    Returns
    -------
    ScoreResult
        Raises ``ValueError`` before any scoring when the selection is empty, a sequence has no original, or a
        scorer lacks colour frames.
    """
    from benchmark.data.casia import CasiaB
    from benchmark.scorers.realism import temporal_consistency

    names = [s.name for s in scorers]
    if len(set(names)) != len(names):
        raise ValueError(f"a scorer is named twice in {names}")
    if recognizers and original is None:
        raise ValueError("recognizers compare embeddings of the data with those of the original: pass original")
    if not scorers and original is None:
        raise ValueError("nothing to score: give scorers and/or the original dataset")
    source = CasiaB(data)
    subjects, conditions, views = list(subjects), list(conditions), sorted({int(v) for v in views})
    refs = source.index(subjects, conditions, views)
    if not refs:
        raise ValueError(f"no sequences in {source.root} for subjects {subjects[:6]}{' ...' * (len(subjects) > 6)}, "
                         f"conditions {conditions}, views {views}")
    clean = CasiaB(original) if original is not None else None
    originals = {}
    if clean is not None:
        originals = {r.key: r for r in clean.index(subjects, conditions, views)}
        absent = [r.key for r in refs if r.key not in originals]
        if absent:
            raise ValueError(
                f"sequence {absent[0]} of {source.root} has no original in {clean.root} (missing folder or no "
                f"PNG frames){f'; {len(absent) - 1} more are missing' if len(absent) > 1 else ''}"
            )
    if scorers:
        _check_frames(source, refs, names)

    began, last = time.perf_counter(), 0.0
    scores: dict[str, dict[tuple[str, int], list[float]]] = {s.name: {} for s in scorers}
    ratios: dict[tuple[str, int], list[float]] = {}
    undefined: list[str] = []
    for i, ref in enumerate(refs):
        seq = source.load(ref, frames=bool(scorers))
        group = (seq.condition_type, seq.view)
        for scorer in scorers:
            scores[scorer.name].setdefault(group, []).append(scorer.score(seq).value)
        if clean is not None:
            orig = clean.load(originals[ref.key])
            try:
                ratio = temporal_consistency(orig.silhouettes, seq.silhouettes)["ratio"]
            except ValueError as exc:
                raise ValueError(f"sequence {ref.key} of {source.root} vs {clean.root}: {exc}") from None
            if math.isfinite(ratio):
                ratios.setdefault(group, []).append(ratio)
            else:
                undefined.append(ref.key)
        now = time.perf_counter() - began
        if progress and (now - last >= 1.0 or i + 1 == len(refs)):
            last = now
            print(f"[score] {i + 1}/{len(refs)} sequences, {now:.1f} s", file=sys.stderr)
    if undefined and progress:
        print(f"[score] {len(undefined)} sequence(s) left out of {TEMPORAL_METRIC}: their original silhouettes "
              f"never change, so the ratio is undefined (e.g. {', '.join(undefined[:3])})", file=sys.stderr)

    base = {"method": method, "parameters": parameters}
    rows: list[Row] = []
    for scorer in scorers:
        rows += mean_rows(scores[scorer.name], bounds=(0.0, 1.0),
                          base={**base, "evaluator": scorer.name, "metric": f"{scorer.level}_score"})
    if original is not None:
        rows += mean_rows(ratios, bounds=(0.0, math.inf),
                          base={**base, "evaluator": TEMPORAL_EVALUATOR, "metric": TEMPORAL_METRIC})
        if recognizers:
            rows += frechet_rows(recognizers, data, original, refs, conditions, views, base,
                                 cache_dir=cache_dir, workers=workers, progress=progress)
    return ScoreResult(rows, len(refs), tuple(undefined))


def cmd_score(args: argparse.Namespace) -> int:
    from benchmark.config import load_toml
    from benchmark.protocol import load_protocol
    from benchmark.record import write_run_record
    from benchmark.registry import SCORERS, load_plugin_declarations
    from benchmark.results import write_csv
    from benchmark.sequences import default_cache_dir
    from recognizers.base import load_recognizer

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
    views = sorted({int(v) for v in args.views}) if args.views else list(protocol.views)

    device = _device(args.device) if names or args.recognizer else "cpu"
    scorers = []
    for name in names:
        cls = SCORERS.get(name)
        config = load_toml(cls.Config, configs[name]) if name in configs else None
        scorers.append(cls(config).to(device))
    recs = [load_recognizer(path).to(device) for path in args.recognizer]

    began = time.perf_counter()
    result = score_dataset(
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
        scorers=[{"name": s.name, "level": s.level, "label": s.label,
                  "config": json.loads(json.dumps(dataclasses.asdict(s.config), default=str))}
                 for s in scorers],
        recognizers=[{"path": str(p), **r.meta()} for p, r in zip(args.recognizer, recs, strict=True)],
        temporal_undefined=list(result.temporal_undefined),
        seconds=round(time.perf_counter() - began, 3),
    )
    print(format_score_tables(frame))
    return 0


def frechet_rows(
    recognizers: Sequence[Recognizer],
    data: str | os.PathLike[str],
    original: str | os.PathLike[str],
    refs: Sequence[SequenceRef],
    conditions: Sequence[str],
    views: Sequence[int],
    base: dict[str, Any],
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> list[Row]:
    """``frechet`` rows of every recognizer: its embeddings of ``refs`` in ``data`` against ``original``.

    Per condition type and view, and over all views of the condition type (``view = -1``; the distance of the
    pooled sets). Condition types with fewer than 2 sequences on either side are left out.
    """
    import numpy as np

    from benchmark.results import Row
    from benchmark.scorers.realism import embedding_frechet
    from benchmark.sequences import Sequences, load_sequences

    rec_names = [r.name for r in recognizers]
    if len(set(rec_names)) != len(rec_names):
        raise ValueError(f"two checkpoints of the same recognizer ({rec_names}); score them in separate runs")
    subjects = sorted({r.subject for r in refs})
    keys = {r.key for r in refs}
    loaded: dict[Any, tuple[Sequences, Sequences]] = {}

    def load(root: str | os.PathLike[str], spec: Any) -> Sequences:
        seqs = load_sequences(root, spec, subjects=subjects, conditions=conditions, views=views, cache_dir=cache_dir,
                              workers=workers)
        return seqs.subset(np.asarray([seqs.key(i) in keys for i in range(len(seqs))], bool))

    rows = []
    for rec in recognizers:
        began = time.perf_counter()
        if rec.spec not in loaded:
            loaded[rec.spec] = (load(original, rec.spec), load(data, rec.spec))
        orig, anon = loaded[rec.spec]
        for condition in sorted(set(anon.condition_types.tolist())):
            pair = orig.subset(orig.condition_types == condition), anon.subset(anon.condition_types == condition)
            if min(len(pair[0]), len(pair[1])) < 2:
                continue  # a covariance needs 2 sequences; embedding_frechet leaves such views out too
            distances = embedding_frechet(rec, *pair)
            for view, (value, n) in sorted(distances.items(), key=lambda kv: (kv[0] == -1, kv[0])):
                rows.append(Row(evaluator=rec.name, metric=FRECHET_METRIC, condition=condition, view=view,
                                value=value, n=n, **base))
        if progress:
            print(f"[score] {FRECHET_METRIC} with {rec.name}: {time.perf_counter() - began:.1f} s", file=sys.stderr)
    return rows
