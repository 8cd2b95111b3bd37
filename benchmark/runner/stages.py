"""The stages of a run and what each does: every stage calls the library functions, never a subprocess.

==============================  ==========================================================  =================
stage                           does                                                        writes
==============================  ==========================================================  =================
``world``                       :func:`benchmark.synth.world.generate` (or checks a given   the dataset
                                dataset)
``action-model``                :func:`~benchmark.synth.actions.generate_actions` +         ``model.npz``
                                :func:`~benchmark.scorers.action.train_action_model`
``recognizer NAME``             :func:`benchmark.steps.train_recognizer`                    ``model.npz``
``train METHOD[params]``        :func:`benchmark.steps.train_anonymizer`                    ``model.npz``
``anonymize METHOD[params]``    :func:`benchmark.steps.anonymize` on the protocol's test    ``data/``
                                group, probe conditions and views
``evaluate METHOD[..] REC``     :func:`benchmark.steps.evaluate`                            ``rows.json``
``score METHOD[..] SCORER``     :func:`benchmark.steps.score` with one scorer               ``rows.json``
``realism METHOD[..]``          :func:`benchmark.steps.score` against the original          ``rows.json``
                                (temporal change ratio, Fréchet distances)
``pictures``                    :func:`benchmark.runner.pictures.draw_pictures`             PNG files
==============================  ==========================================================  =================

The commands run the same step functions (:mod:`benchmark.steps`). A method that declares itself a passthrough
(``identity``: its output is its input) has no anonymize stage; its evaluate/score/realism stages read the clean
probes. A scorer that declares a ``trainer`` (``video-synth``: the action model) reads the model the run trains
when the config has that trainer's table and the scorer no ``weights``. A stage that runs a file plug-in's code
(``recognizer``, ``train``, ``anonymize``, ``score``) has the plug-in's class name and file sha256 in its spec:
editing the file recomputes those stages and what reads them. The device and the number of worker processes
are not part of any key (they change how fast a stage runs, not what it computes, up to a GPU's
non-deterministic kernels).
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmark.runner.cache import Stage, Store, stage_key
from benchmark.runner.config import Method, Resolved

WORLD = "world"
ACTION_MODEL = "action-model"
PICTURES = "pictures"
ROWS = "rows.json"


def _asdict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def write_rows(folder: Path, rows: Sequence[Any]) -> None:
    """A stage's results rows as JSON (floats round-trip exactly; the run's table is written once, at the end)."""
    from benchmark.io import write_json

    write_json(folder / ROWS, [dataclasses.asdict(row) for row in rows])


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` or ``cpu`` (what torch sees here); other names are checked (``ValueError`` when absent)."""
    from benchmark.training import select_device

    return str(select_device(device))


def dataset_fingerprint(root: Path) -> dict[str, Any]:
    """What identifies an existing dataset: a synthetic world's manifest hash, else the hash of its sequence list
    (every ``subject-condition-view`` key with its frame count). Files replaced under the same names and counts
    go unnoticed: give such data another path, or another cache."""
    from benchmark.data.casia import CasiaB
    from benchmark.sequences import world_identity

    world = world_identity(root)
    if world is not None:
        return {"synthetic_world": world["manifest_sha256"]}
    refs = CasiaB(root).index()
    listing = "\n".join(f"{r.key}:{r.num_frames}" for r in refs)
    return {"sequences": len(refs), "listing_sha256": hashlib.sha256(listing.encode()).hexdigest()}


class Builder:
    """Turns a resolved config into the ordered stages of a run, with their keys (see :func:`build_stages`)."""

    def __init__(self, resolved: Resolved, store: Store, *, progress: bool = True) -> None:
        self.r, self.c, self.store, self.progress = resolved, resolved.config, store, progress
        self.stages: dict[str, Stage] = {}
        self.workers = self.c.workers or None
        self.device = resolve_device(self.c.device)
        self.normalized = store.root / "normalized"  # decoded-silhouette cache of the recognizers
        self._split: dict[str, list[str]] | None = None
        self.root = self._world()

    # -------------------------------------------------------------------------------------- helpers

    def add(self, name: str, kind: str, spec: dict[str, Any], inputs: Sequence[str],
            run: Callable[[Path], dict[str, Any]]) -> Stage:
        if name in self.stages:
            raise ValueError(f"stage {name!r} is planned twice")
        stage = Stage(name, kind, spec, tuple(inputs), run)
        stage.key = stage_key(kind, spec, {i: self.stages[i].key for i in inputs})
        self.stages[name] = stage
        return stage

    def folder(self, name: str) -> Path:
        return self.store.folder(self.stages[name])

    def log(self, line: str) -> None:
        if self.progress:
            print(line, file=sys.stderr)

    def _code(self, kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        """``spec`` plus the code identity (class, file sha256) of a file plug-in; bundled ones' specs unchanged,
        so their keys (and caches) stay what they were."""
        code = self.r.code(kind, name)
        return spec if code is None else {**spec, "plugin": code}

    @property
    def protocol_record(self) -> dict[str, Any]:
        return _asdict(self.r.protocol)

    def split(self) -> dict[str, list[str]]:
        """The protocol's groups over the world's subjects (read when a stage first needs them)."""
        if self._split is None:
            from benchmark.protocol import protocol_groups

            self._split = protocol_groups(self.root, self.r.protocol)
        return self._split

    @property
    def test_subjects(self) -> list[str]:
        return self.split()[self.r.protocol.test_group]

    @property
    def probe_conditions(self) -> list[str]:
        return [c for conds in self.r.protocol.probes.values() for c in conds]

    # -------------------------------------------------------------------------------------- world

    def _world(self) -> Path:
        section = self.c.world
        world = section.world_config()
        if world is None:
            assert section.path is not None  # WorldSection requires path or preset
            root = section.path
            if not root.is_dir():
                raise FileNotFoundError(f"world.path {root} does not exist; set world.preset to generate a "
                                        "synthetic world there")
            given: dict[str, Any] = {"dataset": dataset_fingerprint(root)}

            def check(folder: Path) -> dict[str, Any]:
                return {"root": str(root), **given}

            self.add(WORLD, "world", given, (), check)
            return root
        from benchmark.synth import GENERATOR_VERSION

        spec: dict[str, Any] = {"world": _asdict(world), "generator_version": GENERATOR_VERSION}
        stage = self.add(WORLD, "world", spec, (), lambda folder: {})
        root = section.path if section.path is not None else self.store.folder(stage) / "data"

        def generate(folder: Path) -> dict[str, Any]:
            from benchmark.synth.world import generate as generate_world

            log = self.log if self.progress else None
            summary = generate_world(world, root, workers=section.workers or None, log=log)
            return {"root": str(root), "sequences": summary["sequences"]}

        stage.run = generate
        return root

    def world_present(self) -> bool:
        """Whether a world generated outside the cache is still there (a complete stage may have lost its data)."""
        return (self.root / "manifest.json").is_file() or self.c.world.world_config() is None

    # -------------------------------------------------------------------------------------- models

    def action_model(self) -> None:
        section = self.c.action_model
        spec = {k: v for k, v in _asdict(section).items() if k != "workers"}

        def run(folder: Path) -> dict[str, Any]:
            import torch

            from benchmark.scorers.action import train_action_model
            from benchmark.synth.actions import generate_actions

            threads = torch.get_num_threads()
            generate_actions(folder / "data", section.clips_per_class, subjects=section.subjects or None,
                             seed=section.seed, size=(section.size[0], section.size[1]), workers=section.workers,
                             log=self.log if self.progress else None)
            torch.set_num_threads(threads)  # rendering set torch to one thread
            meta = train_action_model(folder / "data", folder / "model.npz", section.train_config(),
                                      device=self.device, progress=self.progress)
            held = meta["heldout"]
            return {"label": meta["label"], "heldout_accuracy": held["accuracy"], "heldout_clips": held["n"],
                    "heldout_per_class": held["per_class"], "train_clips": meta["train_clips"],
                    "epochs": meta["epochs"]}

        self.add(ACTION_MODEL, "action-model", spec, (), run)

    def recognizer(self, name: str, config: Any) -> None:
        spec = self._code("recognizers", name, {"recognizer": name, "config": _asdict(config),
                                                "protocol": self.protocol_record})

        def run(folder: Path) -> dict[str, Any]:
            from benchmark.registry import RECOGNIZERS
            from benchmark.steps import train_recognizer

            rec = train_recognizer(name, self.root, folder / "model.npz", protocol=self.r.protocol_spec,
                                   config=config, device=self.device, cache_dir=self.normalized,
                                   workers=self.workers, progress=self.progress)
            training = rec.training or {}
            subjects = len(training.get("subjects") or ())
            epochs = f", {training['epochs']} epochs" if "epochs" in training else ""
            label = (f"{RECOGNIZERS.entry(name).summary}; trained on {subjects} subjects of the protocol's "
                     f"{training.get('group', 'recognizers')!r} group ({training.get('sequences')} sequences{epochs})")
            return {"label": label, "subjects": subjects, "sequences": training.get("sequences"),
                    "epochs": training.get("epochs"), "seconds": training.get("seconds")}

        self.add(f"recognizer {name}", "recognizer", spec, (WORLD,), run)

    def train(self, method: Method) -> None:
        # Inference-only fields (a control such as ST-GAN's noise_off) at their defaults: variants that differ in
        # them alone share one key, one trained model.
        config = method.training_config
        spec = self._code("anonymizers", method.name, {"anonymizer": method.name, "config": _asdict(config),
                                                       "protocol": self.protocol_record})

        def run(folder: Path) -> dict[str, Any]:
            from benchmark.steps import train_anonymizer

            anon = train_anonymizer(method.name, self.root, folder / "model.npz", protocol=self.r.protocol_spec,
                                    config=config, device=self.device, workers=self.workers,
                                    progress=self.progress)
            training = anon.training or {}
            return {k: training[k] for k in ("epochs", "seconds", "final_losses", "gn", "device") if k in training}

        self.add(f"train {method.label}", "train", spec, (WORLD,), run)

    # -------------------------------------------------------------------------------------- anonymized data

    def probes_root(self, method: Method) -> Path:
        """Where ``method``'s probes are: the clean dataset for ``identity``, else its anonymized tree."""
        if method.passthrough:
            return self.root
        return self.folder(f"anonymize {method.label}") / "data"

    def _anonymize_stage(self, method: Method, prefix: str, seed: int, selection: str,
                         select: Callable[[], dict[str, Any]]) -> None:
        """A stage ``PREFIX LABEL`` that anonymizes a selection of the clean tree with ``method`` and ``seed``;
        ``select()`` gives :func:`benchmark.steps.anonymize`'s selection and output options (called when the stage
        runs); ``selection`` describes it in the key."""
        if method.passthrough:
            return
        trained = f"train {method.label}"
        inputs = (WORLD, trained) if method.trainable else (WORLD,)
        spec = self._code("anonymizers", method.name, {
            "anonymizer": method.name, "config": _asdict(method.config), "seed": seed,
            "protocol": self.protocol_record, "selection": selection})

        def run(folder: Path) -> dict[str, Any]:
            from benchmark.steps import anonymize, prepare_anonymizer

            ckpt = self.folder(trained) / "model.npz" if method.trainable else None
            anon = prepare_anonymizer(method.name, checkpoint=ckpt, config=None if ckpt else method.config)
            if ckpt:
                anon.with_inference_options(method.config)
            anon.to(self.device)
            record = anonymize(anon, self.root, folder / "data", protocol=self.r.protocol, seed=seed,
                               checkpoint=ckpt, progress=self.progress, **select())
            return {k: record[k] for k in ("sequences", "frames", "seconds", "frames_per_second")}

        self.add(f"{prefix} {method.label}", "anonymize", spec, inputs, run)

    def anonymize(self, method: Method) -> None:
        """``method``'s probes: the test group's probe conditions, with the run's seed, colour videos included."""
        self._anonymize_stage(method, "anonymize", self.c.seed, "test group x probe conditions x protocol views",
                              lambda: {"videos": "auto"})

    def gallery_root(self, method: Method, attack: str) -> Path:
        """The gallery ``attack`` matches ``method``'s probes against: the clean tree, or (lazy- and semi-informed)
        the gallery anonymized by the same method."""
        if attack == "ignorant" or method.passthrough:
            return self.root
        return self.folder(f"anonymize-gallery {method.label}") / "data"

    @property
    def reads_video(self) -> bool:
        """Whether a recognizer of the run reads the colour video (pose-gait): the informed attackers' anonymized
        galleries and training data then keep their colour frames too."""
        from benchmark.registry import RECOGNIZERS

        return any(getattr(RECOGNIZERS.get(name), "input_kind", "") == "pose" for name in self.r.recognizers)

    def _colour(self, selection: str) -> tuple[str, bool | str]:
        """The selection's description and ``videos`` option: silhouettes only, or with colour for pose attackers
        (another key, since the output differs)."""
        return (f"{selection}, colour", "auto") if self.reads_video else (selection, False)

    def anonymize_gallery(self, method: Method) -> None:
        """The test group's gallery conditions anonymized by ``method`` with the run's seed + 1 (an attacker
        who anonymizes their own gallery does not share the seed of the probes)."""
        selection, videos = self._colour("test group x gallery conditions x protocol views")
        self._anonymize_stage(method, "anonymize-gallery", self.c.seed + 1, selection,
                              lambda: {"conditions": list(self.r.protocol.gallery), "videos": videos})

    def anonymize_training(self, method: Method) -> None:
        """The protocol's recognizer group, every condition, anonymized by ``method`` with the run's seed + 2: what
        a semi-informed attacker retrains its recognizers on."""

        def select() -> dict[str, Any]:
            from benchmark.data.casia import CasiaB
            from benchmark.steps import TRAIN_GROUP

            group = self.split()[TRAIN_GROUP]
            conditions = sorted({r.condition for r in CasiaB(self.root).index(group, None, self.r.protocol.views)})
            return {"subjects": group, "conditions": conditions, "videos": videos}

        selection, videos = self._colour("recognizer group x every condition x protocol views")
        self._anonymize_stage(method, "anonymize-training", self.c.seed + 2, selection, select)

    def informed_recognizer(self, name: str, config: Any, method: Method) -> None:
        """Recognizer ``name`` retrained on ``method``'s output for the recognizer group (semi-informed). Where that
        output has no usable sequence at all (a pose attacker on video in which BlazePose finds nobody), there is
        nothing to retrain on: the attacker keeps its clean model, and the stage's report says so."""
        spec = self._code("recognizers", name, {"recognizer": name, "config": _asdict(config),
                                                "protocol": self.protocol_record, "attack": "semi-informed"})
        data = f"anonymize-training {method.label}"
        clean = f"recognizer {name}"

        def run(folder: Path) -> dict[str, Any]:
            from benchmark.io import atomic_path
            from benchmark.sequences import NoUsableSequences
            from benchmark.steps import train_recognizer

            try:
                rec = train_recognizer(name, self.folder(data) / "data", folder / "model.npz",
                                       protocol=self.r.protocol_spec, config=config, device=self.device,
                                       cache_dir=self.normalized, workers=self.workers, progress=self.progress,
                                       split_root=self.root)
            except NoUsableSequences as exc:
                with atomic_path(folder / "model.npz", suffix=".npz") as tmp:
                    shutil.copyfile(self.folder(clean) / "model.npz", tmp)
                return {"kept_clean_model": f"nothing to retrain on ({exc})"}
            training = rec.training or {}
            return {"subjects": len(training.get("subjects") or ()), "sequences": training.get("sequences"),
                    "epochs": training.get("epochs"), "seconds": training.get("seconds")}

        self.add(f"recognizer {name} semi-informed {method.label}", "recognizer", spec, (WORLD, data, clean), run)

    def recognizer_for(self, name: str, method: Method, attack: str) -> str:
        """The stage of the recognizer that ``attack`` uses against ``method``."""
        if attack == "semi-informed" and not method.passthrough:
            return f"recognizer {name} semi-informed {method.label}"
        return f"recognizer {name}"

    def _data_inputs(self, method: Method) -> tuple[str, ...]:
        return (WORLD,) if method.passthrough else (WORLD, f"anonymize {method.label}")

    def _rows_spec(self, method: Method) -> dict[str, Any]:
        return {"method": method.name, "parameters": method.parameters, "protocol": self.protocol_record}

    # -------------------------------------------------------------------------------------- results

    def evaluate(self, method: Method, recognizer: str, attack: str = "ignorant") -> None:
        """Identification of ``method``'s probes by ``recognizer`` under ``attack``; rows of an informed attack
        carry it in their evaluator (``zheng2011@lazy-informed``) and every row in its ``attack`` column."""
        section = self.c.evaluate
        spec = {**self._rows_spec(method), "ks": list(section.ks), "cross_view": section.cross_view}
        model = self.recognizer_for(recognizer, method, attack)
        inputs = (*self._data_inputs(method), model)
        informed = attack != "ignorant"
        if informed:
            spec["attack"] = attack
            if not method.passthrough:
                inputs = (*inputs, f"anonymize-gallery {method.label}")
        evaluator = f"{recognizer}@{attack}" if informed else recognizer

        def run(folder: Path) -> dict[str, Any]:
            from benchmark.recognizer import load_recognizer
            from benchmark.steps import evaluate, write_view_matrix

            rec = load_recognizer(self.folder(model) / "model.npz").to(self.device)
            result = evaluate(rec, self.gallery_root(method, attack), self.probes_root(method), self.r.protocol,
                              method=method.name, parameters=method.parameters, ks=section.ks,
                              cross_view=section.cross_view, cache_dir=self.normalized, workers=self.workers,
                              clean=self.root, evaluator=evaluator, attack=attack)
            write_rows(folder, result.rows)
            if result.matrices:
                write_view_matrix(folder / "view_matrix.csv", result.matrices)
            return result.summary()

        name = f"evaluate {method.label} {recognizer}" + (f" {attack}" if informed else "")
        self.add(name, "evaluate", spec, inputs, run)

    def score(self, method: Method, scorer: str, config: Any) -> None:
        from benchmark.anonymized import file_sha256

        own = _asdict(config)
        inputs: tuple[str, ...] = self._data_inputs(method)
        if scorer in self.r.trained_scorers:
            own.pop("weights")
            inputs = (*inputs, ACTION_MODEL)
        elif "weights" in own:  # the file the scorer will read (configured, environment, cache or shipped)
            from benchmark.registry import SCORERS

            own["weights"] = SCORERS.get(scorer)(config).weights_file()
        for key, value in list(own.items()):  # configured files count by their bytes, not their path
            if isinstance(value, Path):
                own[key] = {"sha256": file_sha256(value)} if value.is_file() else str(value)
        spec = self._code("scorers", scorer, {**self._rows_spec(method), "scorer": scorer, "config": own})

        def run(folder: Path) -> dict[str, Any]:
            from benchmark.registry import SCORERS
            from benchmark.steps import score

            cfg = config
            if ACTION_MODEL in inputs:
                cfg = dataclasses.replace(config, weights=self.folder(ACTION_MODEL) / "model.npz")
            instance = SCORERS.get(scorer)(cfg).to(self.device)
            result = score(self.probes_root(method), subjects=self.test_subjects,
                           conditions=self.probe_conditions, views=self.r.protocol.views,
                           method=method.name, parameters=method.parameters, scorers=[instance],
                           progress=self.progress)
            write_rows(folder, result.rows)
            return {"label": instance.label, "sequences": result.sequences, "rows": len(result.rows)}

        self.add(f"score {method.label} {scorer}", "score", spec, inputs, run)

    def realism(self, method: Method) -> None:
        frechet = list(self.c.realism.frechet)
        spec = {**self._rows_spec(method), "frechet": frechet}
        inputs = (*self._data_inputs(method), *(f"recognizer {r}" for r in frechet))

        def run(folder: Path) -> dict[str, Any]:
            from benchmark.recognizer import load_recognizer
            from benchmark.steps import score

            recs = [load_recognizer(self.folder(f"recognizer {r}") / "model.npz").to(self.device) for r in frechet]
            result = score(self.probes_root(method), subjects=self.test_subjects,
                           conditions=self.probe_conditions, views=self.r.protocol.views,
                           method=method.name, parameters=method.parameters, original=self.root,
                           recognizers=recs, cache_dir=self.normalized, workers=self.workers,
                           progress=self.progress)
            write_rows(folder, result.rows)
            return {"sequences": result.sequences, "rows": len(result.rows),
                    "temporal_undefined": list(result.temporal_undefined)}

        self.add(f"realism {method.label}", "realism", spec, inputs, run)

    # -------------------------------------------------------------------------------------- pictures

    def pictures(self) -> None:
        section = self.c.pictures
        rows, sweep = self.r.picture_methods()
        if not rows and not sweep:
            return
        spec = {"pictures": _asdict(section), "rows": [m.label for m in rows], "sweep": [m.label for m in sweep]}
        inputs = sorted({WORLD, *(f"anonymize {m.label}" for m in (*rows, *sweep))})

        def run(folder: Path) -> dict[str, Any]:
            from benchmark.runner.pictures import draw_pictures

            keys = self.picture_keys()
            index = draw_pictures(
                folder, self.root, keys,
                rows=[(title, self.probes_root(m), m.parameters) for title, m in zip(row_titles(rows), rows,
                                                                                     strict=True)],
                sweep=[(m.parameters, self.probes_root(m)) for m in sweep],
                sweep_title=sweep[0].title if sweep else "", frames=section.frames, crop=section.crop,
            )
            return {"files": [p["file"] for p in index]}

        self.add(PICTURES, "pictures", spec, inputs, run)

    def picture_keys(self) -> list[tuple[int, str]]:
        """The sequence drawn at each configured view that the test group has (view, key)."""
        from benchmark.data.casia import CasiaB

        section = self.c.pictures
        subject = section.subject or self.test_subjects[0]
        if subject not in self.test_subjects:
            raise ValueError(f"pictures.subject {subject!r} is not a test subject ({', '.join(self.test_subjects)})")
        conditions = [section.condition] if section.condition else self.probe_conditions
        refs = CasiaB(self.root).index([subject], conditions, section.views)
        keys = []
        for view in section.views:
            at = sorted((r for r in refs if r.view == view), key=lambda r: conditions.index(r.condition))
            if at:
                keys.append((view, at[0].key))
        return keys


def _parameters(text: str) -> dict[str, str]:
    """``"alpha=0.3;seed=1"`` -> ``{"alpha": "0.3", "seed": "1"}`` (a method's parameters column)."""
    out = {}
    for part in filter(None, text.split(";")):
        key, _, value = part.partition("=")
        out[key] = value
    return out


def row_titles(methods: Sequence[Method]) -> list[str]:
    """Each method's figure title; methods that share a title get the parameters in which they differ
    (``noise-gait beta=0.3`` and ``noise-gait beta=1``), so that no two rows of a figure read alike."""
    titles = []
    for m in methods:
        same = [o for o in methods if o.title == m.title]
        if len(same) == 1:
            titles.append(m.title)
            continue
        mine, others = _parameters(m.parameters), [_parameters(o.parameters) for o in same]
        keys = [k for k in mine if len({o.get(k) for o in others}) > 1]
        keys += [k for o in others for k in o if k not in mine and k not in keys]  # a key only the others set
        differs = ";".join(f"{k}={mine[k]}" for k in keys if k in mine)
        titles.append(f"{m.title} {differs}" if differs else f"{m.title} {m.parameters}")
    return titles


def build_stages(resolved: Resolved, store: Store, *, progress: bool = True) -> tuple[list[Stage], Builder]:
    """All stages of a run in execution order (each after its inputs), with keys set.

    Order: world, the action model, recognizers, anonymizer training, anonymization, then per method its
    evaluate, score and realism stages, and the pictures last.
    """
    b = Builder(resolved, store, progress=progress)
    if resolved.uses_action_model:
        b.action_model()
    for name, config in resolved.recognizers.items():
        b.recognizer(name, config)
    for m in resolved.methods:
        if m.trainable:
            b.train(m)
    attacks = resolved.config.evaluate.attacks
    for m in resolved.methods:
        b.anonymize(m)
        if "lazy-informed" in attacks or "semi-informed" in attacks:
            b.anonymize_gallery(m)
        if "semi-informed" in attacks and not m.passthrough:
            b.anonymize_training(m)
            for name, config in resolved.recognizers.items():
                b.informed_recognizer(name, config, m)
    for m in resolved.methods:
        for rec in resolved.recognizers:
            for attack in attacks:
                b.evaluate(m, rec, attack)
        for scorer, config in resolved.scorers.items():
            b.score(m, scorer, config)
        if resolved.config.realism.enabled:
            b.realism(m)
    if resolved.config.pictures.enabled:
        b.pictures()
    return list(b.stages.values()), b

