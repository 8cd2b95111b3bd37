"""Naturalness scores of a dataset and, against its original, realism metrics: the step behind ``gaitbench score``
and the runner's score and realism stages (:func:`score_dataset`).

Rows written (one tidy table, :mod:`benchmark.results`; ``k`` is 0 throughout), per condition type (``nm``,
``bg``, ``cl``) and view, plus ``view = -1`` over all views of the condition type:

==========================  ====================  ===========================================================
metric                      evaluator             value, n, interval
==========================  ====================  ===========================================================
``frame_score``             the scorer's name     mean of the per-sequence scores (``level = "frame"``
``video_score``                                   or ``"video"`` scorers); n sequences; 95% t-interval
``temporal_change_ratio``   ``silhouettes``       mean over sequences of :func:`temporal_consistency`'s ratio
                                                  (needs ``--original``); n sequences; 95% t-interval
``silhouette_difference``   ``silhouettes``       mean over sequences of :func:`silhouette_difference` (the
                                                  share of XOR pixels, the paper's Fig. 18; needs
                                                  ``--original``); n sequences; 95% t-interval
``frechet``                 the recognizer        :func:`embedding_frechet` of original vs anonymized
                                                  sequences (needs ``--original``); n sequences; no interval
==========================  ====================  ===========================================================

The view ``-1`` row of ``frechet`` is the distance between the pooled sets, not a mean of the per-view ones.
Intervals (:func:`benchmark.stats.t_interval`) treat sequences as the independent units; frames of one sequence
are not.

Scorer and recognizer code is imported when a function runs, so importing this module stays cheap.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from benchmark.stats import t_interval

if TYPE_CHECKING:
    from benchmark.data.casia import CasiaB, SequenceRef
    from benchmark.recognizer import Recognizer
    from benchmark.results import Row
    from benchmark.scorers.base import Scorer

TEMPORAL_METRIC = "temporal_change_ratio"
TEMPORAL_EVALUATOR = "silhouettes"
DIFFERENCE_METRIC = "silhouette_difference"
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


def check_frames_present(data: CasiaB, refs: Sequence[SequenceRef], scorers: Sequence[str]) -> None:
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
        The clean dataset ``data`` was made from: adds ``temporal_change_ratio`` and ``silhouette_difference``
        rows, and ``frechet`` rows for
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
    from benchmark.scorers.realism import silhouette_difference, temporal_consistency

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
        check_frames_present(source, refs, names)

    began, last = time.perf_counter(), 0.0
    scores: dict[str, dict[tuple[str, int], list[float]]] = {s.name: {} for s in scorers}
    ratios: dict[tuple[str, int], list[float]] = {}
    differences: dict[tuple[str, int], list[float]] = {}
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
                differences.setdefault(group, []).append(silhouette_difference(orig.silhouettes, seq.silhouettes))
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
        rows += mean_rows(differences, bounds=(0.0, 1.0),
                          base={**base, "evaluator": TEMPORAL_EVALUATOR, "metric": DIFFERENCE_METRIC})
        if recognizers:
            rows += frechet_rows(recognizers, data, original, refs, conditions, views, base,
                                 cache_dir=cache_dir, workers=workers, progress=progress)
    return ScoreResult(rows, len(refs), tuple(undefined))


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
