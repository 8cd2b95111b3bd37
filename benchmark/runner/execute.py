"""Running a planned benchmark: every stage in order (cached ones reused), then ``results.csv``, ``run.json`` and
``pictures/`` in the run directory (the contract ``gaitbench report`` and ``gaitbench check`` read).

Progress: one line per stage on stdout (``cached``, or ``running`` then ``done in N s``); the library functions
print their own progress (epochs, sequences) on stderr unless ``progress=False``.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmark.registry import plugins_exported
from benchmark.results import RESULTS
from benchmark.runner.cache import STAGE_VERSIONS, Stage, Store
from benchmark.runner.config import Resolved
from benchmark.runner.stages import ACTION_MODEL, PICTURES, ROWS, WORLD, Builder, build_stages
from benchmark.runner.threads import stage_threads

RECORD = "run.json"
PICTURES_DIR = "pictures"
ROW_KINDS = ("evaluate", "score", "realism")
TEMPORAL_LABEL = ("temporal change ratio of the silhouettes: frame-to-frame change of the anonymized sequence over "
                  "that of its original (1 = as smooth as the original); silhouette difference: the share of "
                  "pixels changed, 1 - IoU of each frame with its original (the paper's Fig. 18 XOR)")


@dataclasses.dataclass(frozen=True)
class StageResult:
    """What happened to one stage: ``status`` is ``cached``, ``ran`` or ``resumed`` (a killed run's work continued);
    ``seconds`` is this run's time, ``computed_seconds`` the time it took when it was computed."""

    name: str
    kind: str
    key: str
    status: str
    seconds: float
    computed_seconds: float
    report: dict[str, Any]


#: stage kinds whose output ``--drop-anonymized`` deletes once every stage reading it is done (the anonymized
#: trees: the run's largest files; recomputing one gives the same bytes)
DROPPABLE = ("anonymize",)
#: statuses of a stage whose work is done (a dropped stage's rows, checkpoints or readers are all complete)
DONE = ("cached", "dropped")


@dataclasses.dataclass
class Plan:
    """The stages of a run with the cache they live in. ``drop``: delete each :data:`DROPPABLE` stage's output
    once every stage of the plan that reads it is done (:func:`drop_spent`)."""

    resolved: Resolved
    out: Path
    store: Store
    stages: list[Stage]
    builder: Builder
    drop: bool = False

    def status(self, stage: Stage) -> str:
        """``cached``, ``dropped``, ``partial`` or ``new`` (a generated world whose folder is gone counts as
        ``partial``)."""
        status = self.store.status(stage)
        if stage.name == WORLD and status == "cached" and not self.builder.world_present():
            return "partial"
        return status

    def readers(self, stage: Stage) -> list[Stage]:
        """The plan's stages that read ``stage``'s output."""
        return [s for s in self.stages if stage.name in s.inputs]

    def needed(self, stage: Stage) -> bool:
        """Whether a stage of the plan that reads ``stage`` is still to be computed."""
        return any(self.status(s) not in DONE for s in self.readers(stage))

    def order(self) -> list[Stage]:
        """The stages in the order they run: the plan's, unless ``drop``.

        The plan's order makes every anonymized tree before any stage reads one, so all of them are on disk at
        once (for the paper's config on the full world, about 11 x 5.7 GB). With ``drop``, a topological order
        that runs, whenever it can, a stage reading a tree still on disk before any other, and stages that make
        no tree before those that do: each tree is read and dropped before the next is made, and only trees that
        a later stage reads together (the pictures) wait for each other. Ties keep the plan's order.
        """
        if not self.drop:
            return list(self.stages)
        names = {s.name for s in self.stages}
        readers = {s.name: {r.name for r in self.readers(s)} for s in self.stages if s.kind in DROPPABLE}
        pending, order = list(self.stages), []
        done: set[str] = set()
        live: set[str] = set()  # trees made whose readers are not all done
        while pending:
            ready = [s for s in pending if all(i in done or i not in names for i in s.inputs)]
            pick = (next((s for s in ready if live.intersection(s.inputs)), None)
                    or next((s for s in ready if s.kind not in DROPPABLE), None) or ready[0])
            order.append(pick)
            pending.remove(pick)
            done.add(pick.name)
            if readers.get(pick.name):
                live.add(pick.name)
            live -= {i for i in pick.inputs if i in live and readers[i] <= done}
        return order

    def describe(self) -> str:
        """One line per stage: number, status, name and key."""
        lines = [f"run {self.resolved.config.name or '(unnamed)'}: {len(self.stages)} stages, cache {self.store.root}"]
        width = max(len(s.name) for s in self.stages)
        for i, stage in enumerate(self.order(), 1):
            lines.append(f"{i:4d}  {self.status(stage):<8}  {stage.name:<{width}}  {stage.key}")
        counts = {s: sum(self.status(x) == s for x in self.stages) for s in ("cached", "dropped", "partial", "new")}
        dropped = [x for x in self.stages if self.status(x) == "dropped"]
        again = sum(self.needed(x) for x in dropped)
        lines.append(f"{counts['cached'] + counts['dropped']} cached"
                     + (f" ({counts['dropped']} with their output dropped, {again} of them to recompute)"
                        if dropped else "")
                     + f", {counts['partial']} partly done, {counts['new']} to run")
        return "\n".join(lines)


@dataclasses.dataclass
class RunResult:
    """The outcome: every stage's result; ``finished`` False when the run stopped after ``stop_after``."""

    out: Path
    stages: list[StageResult]
    finished: bool

    def status(self) -> dict[str, str]:
        return {s.name: s.status for s in self.stages}


def cache_dir_for(resolved: Resolved, out: Path, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The cache root: ``cache_dir`` (command line), else the config's ``cache_dir``, else ``OUT/cache``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser().resolve()
    return resolved.config.cache_dir or (out / "cache").resolve()


def plan_run(resolved: Resolved, out: str | os.PathLike[str], *, cache_dir: str | os.PathLike[str] | None = None,
             progress: bool = True) -> Plan:
    """Plan a run into ``out``: the stages and their keys; nothing is computed (a given dataset is listed)."""
    out = Path(out).resolve()
    store = Store(cache_dir_for(resolved, out, cache_dir))
    stages, builder = build_stages(resolved, store, progress=progress)
    return Plan(resolved, out, store, stages, builder)


def say(line: str) -> None:
    print(line, flush=True)


def check_stop_after(plan: Plan, stop_after: str | None) -> None:
    """``ValueError`` (with "did you mean") unless ``stop_after`` is None or one of the plan's stage names."""
    names = [s.name for s in plan.stages]
    if stop_after is not None and stop_after not in names:
        close = difflib.get_close_matches(stop_after, names, n=3)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(f"stop_after: no stage {stop_after!r} in this run{hint} (see --dry-run for the stages)")


def execute(plan: Plan, *, stop_after: str | None = None, log: Callable[[str], None] = say) -> RunResult:
    """Run every stage of ``plan`` that is not cached, then write the run directory.

    Parameters
    ----------
    plan : Plan
    stop_after : str, optional
        A stage name: stop once it is complete, as if the run had been killed there (the run directory is
        not written). For trying resumption, or for computing only up to a stage.
    log : callable
        Receives the per-stage progress lines.
    """
    check_stop_after(plan, stop_after)
    results: list[StageResult] = []
    began = time.perf_counter()
    with plugins_exported():  # worker processes of the stages find the run's file plug-ins by name
        for i, stage in enumerate(plan.order(), 1):
            results.append(run_stage(plan, stage, f"[run {i}/{len(plan.stages)}]", log))
            drop_spent(plan, stage, log)
            if stage.name == stop_after:
                log(f"[run] stopped after {stop_after!r} as asked; rerun without stop_after to finish")
                return RunResult(plan.out, results, finished=False)
    position = {s.name: i for i, s in enumerate(plan.stages)}
    results.sort(key=lambda r: position[r.name])  # the run directory lists stages in plan order, however they ran
    write_run_dir(plan, results, time.perf_counter() - began)
    computed = sum(r.seconds for r in results if r.status != "cached")
    log(f"[run] {sum(r.status == 'cached' for r in results)} of {len(results)} stages cached, {computed:.1f} s "
        f"computing; wrote {plan.out / RESULTS}, {plan.out / RECORD}")
    return RunResult(plan.out, results, finished=True)


def run_stage(plan: Plan, stage: Stage, head: str, log: Callable[[str], None]) -> StageResult:
    inputs = {name: plan.builder.stages[name].key for name in stage.inputs}
    status = plan.status(stage)
    dropped = status == "dropped"
    if dropped and not plan.needed(stage):
        status = "cached"  # its output is gone, and no stage of this run reads it
    if status != "cached":
        what = {"partial": "resuming", "dropped": "recomputing (its output was dropped)"}.get(status, "running")
        log(f"{head} {stage.name}: {what}")
        began = time.perf_counter()
        with plan.store.lock(stage) as folder:
            now = plan.status(stage)
            record = plan.store.record(stage) if now == "cached" else None  # another process did it
            if now == "dropped":
                plan.store.clear(stage)
            state = "resumed" if status == "partial" else "ran"
            if record is None:
                with stage_threads(plan.resolved.config.threads):  # the same floats serially and on Dask
                    report = stage.run(folder)
                record = plan.store.finish(stage, inputs, time.perf_counter() - began, report)
            else:
                state = "cached"
        seconds = time.perf_counter() - began
        log(f"{head} {stage.name}: done in {seconds:.1f} s" if state != "cached" else
            f"{head} {stage.name}: computed meanwhile by another run (waited {seconds:.1f} s)")
        return StageResult(stage.name, stage.kind, stage.key, state, seconds, record["seconds"], record["report"])
    record = plan.store.record(stage)
    assert record is not None  # status "cached" or "dropped" means the marker was read
    log(f"{head} {stage.name}: cached (computed in {record['seconds']:.1f} s{'; output dropped' if dropped else ''})")
    return StageResult(stage.name, stage.kind, stage.key, "cached", 0.0, record["seconds"], record["report"])


def drop_spent(plan: Plan, stage: Stage, log: Callable[[str], None]) -> int:
    """With ``plan.drop``: delete the output of each :data:`DROPPABLE` input of ``stage`` (just done) whose
    readers in the plan are all done; returns the bytes freed. Each drop holds the input's lock."""
    freed = 0
    if not plan.drop:
        return freed
    for name in stage.inputs:
        source = plan.builder.stages[name]
        if source.kind not in DROPPABLE or plan.status(source) != "cached" or plan.needed(source):
            continue
        with plan.store.lock(source):
            if plan.status(source) == "cached":
                size = plan.store.drop(source)
                freed += size
                log(f"[run] {name}: output dropped ({size / 1e9:.2f} GB), every stage reading it is done")
    return freed


def prune(plan: Plan) -> list[Path]:
    """Delete the cached stages that ``plan`` does not use; returns their folders.

    For a cache of one config (the default ``RUN_DIR/cache``): on a cache that several configs share it deletes
    the other configs' work too.
    """
    keep = {(s.kind, s.key) for s in plan.stages}
    removed = []
    for kind in STAGE_VERSIONS:
        folder = plan.store.root / kind
        for sub in sorted(folder.iterdir()) if folder.is_dir() else ():
            if sub.is_dir() and (kind, sub.name) not in keep:
                shutil.rmtree(sub)
                removed.append(sub)
    return removed


# ------------------------------------------------------------------------------------------- the run directory


def collect_rows(plan: Plan) -> list[Any]:
    """Every results row of the run's evaluate, score and realism stages, in stage order."""
    from benchmark.results import Row

    rows = []
    for stage in plan.stages:
        if stage.kind in ROW_KINDS:
            data = json.loads((plan.store.folder(stage) / ROWS).read_text(encoding="utf-8"))
            rows += [Row(**r) for r in data]
    return rows


def _copy_pictures(plan: Plan) -> None:
    target = plan.out / PICTURES_DIR
    staging = plan.out / f".{PICTURES_DIR}.tmp"
    if staging.exists():
        shutil.rmtree(staging)
    stage = plan.builder.stages.get(PICTURES)
    if stage is not None:
        shutil.copytree(plan.store.folder(stage), staging, ignore=shutil.ignore_patterns(".lock", "stage.json"))
    if target.exists():
        shutil.rmtree(target)
    if stage is not None:
        os.replace(staging, target)


def labels(plan: Plan, results: list[StageResult]) -> dict[str, str]:
    """Evaluator name -> what produced its numbers (recognizer description, scorer label)."""
    out: dict[str, str] = {}
    for r in results:
        if r.kind == "recognizer" and "label" in r.report:  # the attackers' own models (semi-informed) have none
            out[r.name.split(" ", 1)[1]] = r.report["label"]
        elif r.kind == "score":
            out.setdefault(r.name.rsplit(" ", 1)[1], r.report["label"])
    knows = {"lazy-informed": "lazy-informed: the gallery anonymized by the same method",
             "semi-informed": "semi-informed: the gallery anonymized by the same method and the recognizer retrained "
                              "on the method's output for the recognizer group"}
    for attack in plan.resolved.config.evaluate.attacks:
        if attack in knows:
            for name in plan.resolved.recognizers:
                if name in out:
                    out[f"{name}@{attack}"] = f"{out[name]}; {knows[attack]}"
    if plan.resolved.config.realism.enabled:
        out["silhouettes"] = TEMPORAL_LABEL
    return out


def hardware(device: str) -> dict[str, Any]:
    """CPU count, platform and, when torch sees one, the GPU that ``device`` resolves to."""
    info: dict[str, Any] = {"cpus": os.cpu_count(), "platform": platform.platform(), "machine": platform.machine(),
                            "device": device, "gpu": None}
    if "torch" in sys.modules:
        import torch

        from benchmark.training import select_device

        dev = select_device(device)
        info.update(device=str(dev), torch_threads=torch.get_num_threads())
        if dev.type == "cuda":
            info["gpu"] = torch.cuda.get_device_name(dev)
    return info


def write_run_dir(plan: Plan, results: list[StageResult], seconds: float) -> None:
    """``results.csv``, ``pictures/`` and ``run.json`` of a finished run (the run directory contract)."""
    from benchmark.record import write_run_record
    from benchmark.results import write_csv
    from benchmark.sequences import world_identity

    r, c = plan.resolved, plan.resolved.config
    plan.out.mkdir(parents=True, exist_ok=True)
    write_csv(collect_rows(plan), plan.out / RESULTS)
    _copy_pictures(plan)
    action = next((x.report for x in results if x.name == ACTION_MODEL), None)
    write_run_record(
        plan.out / RECORD,
        name=c.name,
        description=c.description,
        config_file=None if r.source is None else str(r.source.resolve()),
        config=r.raw,
        resolved={
            "protocol": dataclasses.asdict(r.protocol),
            "recognizers": {n: dataclasses.asdict(cfg) for n, cfg in r.recognizers.items()},
            "anonymizers": [{"label": m.label, "method": m.name, "parameters": m.parameters,
                             "config": dataclasses.asdict(m.config)} for m in r.methods],
            "scorers": {n: dataclasses.asdict(cfg) for n, cfg in r.scorers.items()},
            "plugins": r.plugins,
        },
        seeds={
            "run": c.seed,
            "world": c.world.seed,
            "recognizers": {n: getattr(cfg, "seed", None) for n, cfg in r.recognizers.items()},
            "anonymizers": {m.label: getattr(m.config, "seed", None) for m in r.methods},
            "action_model": c.action_model.seed if r.uses_action_model else None,
        },
        world={"root": str(plan.builder.root), "identity": world_identity(plan.builder.root)},
        cache_dir=str(plan.store.root),
        hardware=hardware(c.device),
        stages=[{"name": x.name, "kind": x.kind, "key": x.key, "status": x.status, "seconds": round(x.seconds, 3),
                 "computed_seconds": x.computed_seconds} for x in results],
        stage_seconds={x.name: x.computed_seconds for x in results},
        seconds=round(seconds, 3),
        labels=labels(plan, results),
        action_model=action,
    )

