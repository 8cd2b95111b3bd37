"""``gaitbench run`` (benchmark.runner): the run directory, content-keyed caching, resumption, config errors."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from benchmark.cli import main
from benchmark.config import ConfigError
from benchmark.results import read_csv
from benchmark.runner import execute, load_run_config, plan_run
from benchmark.runner.cache import STAGE_VERSIONS, Stage, Store, stage_key
from tests.tiny_run import CONFIG

REPO = Path(__file__).resolve().parents[1]
# Fréchet distances of a handful of sequences have singular covariances; the warning says so, the test knows.
pytestmark = pytest.mark.filterwarnings("ignore:Matrix is singular")


def variant(project: Path, name: str, old: str, new: str) -> Path:
    """``run.toml`` with ``old`` replaced by ``new``, written as ``name`` beside it."""
    text = CONFIG.replace(old, new)
    assert text != CONFIG, f"{old!r} is not in the config"
    path = project / name
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------------ the run directory


def test_results_table_has_every_method_evaluator_metric_and_view(baseline: tuple[Path, Any]) -> None:
    out, result = baseline
    assert result.finished and all(s.status == "ran" for s in result.stages)
    frame = read_csv(out / "results.csv")
    variants = {("identity", ""), ("blur", "margin=4;sigma=3"), ("noise-gait", "beta=0.3"),
                ("stgan", "alpha=0.2"), ("stgan", "alpha=0.4")}
    assert set(zip(frame["method"], frame["parameters"], strict=True)) == variants
    expected = {
        ("zheng2011", "accuracy", 1), ("zheng2011", "accuracy", 2), ("zheng2011", "success_rate", 1),
        ("zheng2011", "success_rate", 2), ("frame-hog", "frame_score", 0), ("video-synth", "video_score", 0),
        ("silhouettes", "temporal_change_ratio", 0), ("silhouettes", "silhouette_difference", 0),
        ("zheng2011", "frechet", 0), ("zheng2011", "eer", 0), ("zheng2011", "rank", 0),
    }
    # identity hands its input back: not one silhouette pixel differs; ST-GAN changes every sequence
    differ = frame[frame["metric"] == "silhouette_difference"].groupby("method")["value"]
    assert differ.max()["identity"] == 0.0 and differ.min()["stgan"] > 0.0
    grid = {(c, v) for c in ("nm", "bg") for v in (0, 90, -1)}
    unusable = {s.name.split()[1]: s.report["unusable_probes"] for s in result.stages
                if s.kind == "evaluate" and s.name.endswith(" zheng2011")}
    for method, parameters in variants:
        rows = frame[(frame["method"] == method) & (frame["parameters"] == parameters)]
        label = f"{method}[{parameters}]" if parameters else method
        assert set(zip(rows["evaluator"], rows["metric"], rows["k"], strict=True)) == expected, method
        for (evaluator, metric, k), part in rows.groupby(["evaluator", "metric", "k"]):
            cells = set(zip(part["condition"], part["view"], strict=True))
            if metric != "frechet":
                # Every cell, and the row over every probe; a probe whose person the method erased counts as a
                # miss (rates) or is still scored (scores), so no cell is lost.
                assert cells == grid | {("all", -1)}, (method, evaluator, metric, k)
                continue
            # Fréchet distances need 2 usable sequences a side: a cell (2 test subjects) loses its row when the
            # method erased a person there (whether a tiny model does depends on the CPU), and only then.
            lost = unusable[label]
            want = {(c, v) for c, v in grid if v >= 0 and not lost[c].get(str(v))}
            want |= {(c, -1) for c in ("nm", "bg") if 4 - sum(lost[c].values()) >= 2}
            assert cells == want, (method, lost)
    # Two test subjects x one probe per condition type per view: n = 2 per view, 4 over both views, 8 in all.
    acc = frame[(frame["metric"] == "accuracy")]
    assert set(acc.loc[acc["view"] >= 0, "n"]) == {2}
    assert set(acc.loc[(acc["view"] == -1) & (acc["condition"] != "all"), "n"]) == {4}
    assert set(acc.loc[acc["condition"] == "all", "n"]) == {8}


def test_identity_success_rate_is_one_minus_clean_accuracy(baseline: tuple[Path, Any]) -> None:
    frame = read_csv(baseline[0] / "results.csv")
    ident = frame[frame["method"] == "identity"].set_index(["evaluator", "condition", "view", "k", "metric"])["value"]
    acc = ident.xs("accuracy", level="metric")
    success = ident.xs("success_rate", level="metric")
    assert len(acc) == 14  # (nm, bg x views 0, 90, all) + every probe, x k 1, 3
    np.testing.assert_allclose(success.sort_index().to_numpy(), 1 - acc.sort_index().to_numpy(), atol=1e-6)
    # Clean probes against themselves: the temporal change ratio is exactly 1, the Fréchet distance 0.
    realism = frame[(frame["method"] == "identity") & frame["metric"].isin(["temporal_change_ratio", "frechet"])]
    np.testing.assert_allclose(realism.loc[realism["metric"] == "temporal_change_ratio", "value"], 1.0)
    np.testing.assert_allclose(realism.loc[realism["metric"] == "frechet", "value"], 0.0, atol=1e-6)


def test_run_record_labels_and_pictures(baseline: tuple[Path, Any]) -> None:
    out, result = baseline
    record = json.loads((out / "run.json").read_text())
    assert set(record["labels"]) == {"zheng2011", "frame-hog", "video-synth", "silhouettes"}
    assert record["labels"]["zheng2011"].startswith("GEI -> robust PCA")
    assert "trained on 2 subjects" in record["labels"]["zheng2011"]
    assert record["labels"]["frame-hog"].startswith("OpenCV") and "action.npz" in record["labels"]["video-synth"]
    assert record["seeds"]["run"] == 0 and record["seeds"]["anonymizers"]["stgan[alpha=0.2]"] == 0
    assert record["hardware"]["cpus"] >= 1 and record["hardware"]["device"] == "cpu"
    assert [s["name"] for s in record["stages"]] == [s.name for s in result.stages]
    assert set(record["stage_seconds"]) == {s.name for s in result.stages}
    assert record["config"]["anonymizers"]["stgan"]["sweep"] == {"alpha": [0.2, 0.4]}
    index = json.loads((out / "pictures" / "index.json").read_text())
    assert sorted(p["file"] for p in index) == sorted(f"fig{f}-{v:03d}.png" for f in (8, 9, 17, 18) for v in (0, 90))
    assert all((out / "pictures" / p["file"]).is_file() for p in index)
    fig8 = next(p for p in index if p["file"] == "fig8-090.png")
    assert fig8["figure"] == "fig8" and fig8["view"] == 90
    # The first test subject (006 of 001..007: recognizers 001-002, GN 003, ST-GAN 004-005) at its first probe.
    assert "006-nm-05-090" in fig8["caption"] and "ST-GAN (alpha=0.2)" in fig8["caption"]


# ------------------------------------------------------------------------------------------------ caching


def test_rerun_reuses_every_stage(baseline: tuple[Path, Any], project: Path, capsys) -> None:
    out, first = baseline
    before = (out / "results.csv").read_bytes()
    again = execute(plan_run(load_run_config(project / "run.toml"), out, progress=False))
    assert {s.status for s in again.stages} == {"cached"}
    assert [s.key for s in again.stages] == [s.key for s in first.stages]
    assert (out / "results.csv").read_bytes() == before
    text = capsys.readouterr().out
    assert text.count(": cached (computed in") == len(first.stages)


def test_changing_one_parameter_recomputes_only_its_dependants(baseline: tuple[Path, Any], project: Path) -> None:
    out, first = baseline
    shutil.copytree(out / "cache", project / "runs" / "changed" / "cache")
    # ST-GAN's alpha 0.4 becomes 0.3: its training, data, scores and the pictures; nothing else.
    changed = variant(project, "alpha.toml", "alpha = [0.2, 0.4]", "alpha = [0.2, 0.3]")
    result = execute(plan_run(load_run_config(changed), project / "runs" / "changed", progress=False),
                     log=lambda line: None)
    ran = {s.name for s in result.stages if s.status != "cached"}
    assert ran == {
        "train stgan[alpha=0.3]", "anonymize stgan[alpha=0.3]", "evaluate stgan[alpha=0.3] zheng2011",
        "score stgan[alpha=0.3] frame-hog", "score stgan[alpha=0.3] video-synth", "realism stgan[alpha=0.3]",
        "pictures",
    }
    # The blur sigma: only blur's data and rows (it has no training and is not in the pictures).
    blur = variant(project, "blur.toml", "sigma = 3.0", "sigma = 2.0")
    plan = plan_run(load_run_config(blur), project / "runs" / "changed", progress=False)
    assert {s.name for s in plan.stages if plan.status(s) != "cached"} == {
        "anonymize blur[margin=4;sigma=2]", "evaluate blur[margin=4;sigma=2] zheng2011",
        "score blur[margin=4;sigma=2] frame-hog", "score blur[margin=4;sigma=2] video-synth",
        "realism blur[margin=4;sigma=2]",
    }
    unchanged = {s.name: s.key for s in first.stages}
    assert {s.name: s.key for s in result.stages if s.status == "cached"}.items() <= unchanged.items()


def test_interrupted_run_resumes_to_the_same_results(baseline: tuple[Path, Any], project: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    out = project / "runs" / "killed"
    config = load_run_config(project / "run.toml")
    first = execute(plan_run(config, out, progress=False), stop_after="train stgan[alpha=0.2]", log=lambda line: None)
    assert not first.finished and first.stages[-1].name == "train stgan[alpha=0.2]"
    assert not (out / "results.csv").exists()

    # A kill in the middle of anonymizing: the stage raises after its first sequence is written.
    import benchmark.anonymized as anonymized

    real = anonymized.anonymize_dataset

    def dies(anonymizer: Any, data_root: Any, out_root: Any, *, subjects: Any, conditions: Any, views: Any,
             **kwargs: Any) -> Any:
        from benchmark.data.casia import CasiaB

        real(anonymizer, data_root, out_root, refs=CasiaB(data_root).index(subjects, conditions, views)[:1], **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(anonymized, "anonymize_dataset", dies)
    with pytest.raises(KeyboardInterrupt):
        execute(plan_run(config, out, progress=False), log=lambda line: None)
    monkeypatch.setattr(anonymized, "anonymize_dataset", real)

    plan = plan_run(config, out, progress=False)
    statuses = {s.name: plan.status(s) for s in plan.stages}
    assert statuses["train stgan[alpha=0.2]"] == "cached" and statuses["anonymize blur[margin=4;sigma=3]"] == "partial"
    done = execute(plan, log=lambda line: None)
    assert done.finished
    assert {s.name for s in done.stages if s.status == "resumed"} == {"anonymize blur[margin=4;sigma=3]"}
    pd.testing.assert_frame_equal(read_csv(out / "results.csv"), read_csv(baseline[0] / "results.csv"))
    assert (out / "results.csv").read_bytes() == (baseline[0] / "results.csv").read_bytes()


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_dropped_anonymized_trees_keep_the_results_and_come_back_byte_for_byte(baseline: tuple[Path, Any],
                                                                             project: Path) -> None:
    out, first = baseline
    target = project / "runs" / "dropping"
    shutil.copytree(out / "cache", target / "cache")
    config = load_run_config(project / "run.toml")
    plan = plan_run(config, target, progress=False)
    anonymized = {s.name: s for s in plan.stages if s.kind == "anonymize"}
    assert len(anonymized) == 4  # blur, noise-gait, stgan at two alphas (identity reads the clean tree)
    trees = {name: _files(plan.store.folder(s) / "data") for name, s in anonymized.items()}
    # what a drop frees: every file of the folder but its marker and lock
    sizes = {name: sum(len(b) for f, b in _files(plan.store.folder(s)).items() if f not in ("stage.json", ".lock"))
             for name, s in anonymized.items()}
    plan.drop = True
    lines: list[str] = []
    result = execute(plan, log=lines.append)
    assert {s.status for s in result.stages} == {"cached"}
    assert (target / "results.csv").read_bytes() == (out / "results.csv").read_bytes()
    for name, stage in anonymized.items():
        folder = plan.store.folder(stage)
        assert plan.status(stage) == "dropped"
        assert sorted(p.name for p in folder.iterdir()) == [".lock", "dropped.json", "stage.json"]
        assert json.loads((folder / "dropped.json").read_text())["bytes"] == sizes[name] > 0
        assert f"[run] {name}: output dropped ({sizes[name] / 1e9:.2f} GB), every stage reading it is done" in lines
    # nothing reads them any more: a rerun computes nothing and says so
    again: list[str] = []
    assert {s.status for s in execute(plan_run(config, target, progress=False), log=again.append).stages} == {"cached"}
    assert sum("output dropped)" in line for line in again) == 4

    # a reader of blur's tree is to be computed again: the tree is recomputed, the same bytes, then dropped again
    blur = anonymized["anonymize blur[margin=4;sigma=3]"]
    reader = next(s for s in plan.stages if s.name == "score blur[margin=4;sigma=3] frame-hog")
    shutil.rmtree(plan.store.folder(reader))
    plan = plan_run(config, target, progress=False)
    assert plan.needed(blur) and not plan.needed(anonymized["anonymize noise-gait[beta=0.3]"])
    assert "4 with their output dropped, 1 of them to recompute" in plan.describe()
    plan.drop = False
    lines = []
    result = execute(plan, log=lines.append)
    assert {s.name for s in result.stages if s.status != "cached"} == {blur.name, reader.name}
    assert any(line.endswith(f"{blur.name}: recomputing (its output was dropped)") for line in lines)
    again_tree = _files(plan.store.folder(blur) / "data")
    record = "anonymization.json"  # the tree's record: its timing differs, the data may not
    assert again_tree.keys() == trees[blur.name].keys() and record in again_tree
    assert {f: b for f, b in again_tree.items() if f != record} == {
        f: b for f, b in trees[blur.name].items() if f != record}
    assert plan.status(blur) == "cached"  # drop off: kept
    assert (target / "results.csv").read_bytes() == (out / "results.csv").read_bytes()


def test_dropping_runs_each_tree_s_readers_before_the_next_tree_is_made(tmp_path: Path) -> None:
    from benchmark.runner.execute import Plan

    def stage(name: str, *inputs: str) -> Stage:
        return Stage(name, name.split()[0].replace("anonymize-gallery", "anonymize"), {}, inputs, lambda f: {})

    stages = [stage("world"), stage("recognizer r", "world"), stage("train b", "world")]
    for m in ("a", "b"):
        deps = ("world", "train b") if m == "b" else ("world",)
        stages += [stage(f"anonymize {m}", *deps), stage(f"anonymize-gallery {m}", *deps)]
    for m in ("identity", "a", "b"):
        probes = () if m == "identity" else (f"anonymize {m}",)
        gallery = () if m == "identity" else (f"anonymize-gallery {m}",)
        stages += [stage(f"evaluate {m} r", "recognizer r", *probes),
                   stage(f"evaluate {m} r lazy", "recognizer r", *probes, *gallery), stage(f"score {m}", *probes)]
    stages.append(stage("pictures", "anonymize a", "anonymize b"))
    plan = Plan(resolved=None, out=tmp_path, store=Store(tmp_path), stages=stages, builder=None)  # type: ignore[arg-type]
    assert plan.order() == stages  # no dropping: the plan's order, every tree made before any is read
    plan.drop = True
    order = [s.name for s in plan.order()]
    # by hand: the stages that make no tree first, then each tree's readers as soon as they can run; a's probes
    # wait for the pictures, which also read b's and run as soon as b's probes are made
    assert order == [
        "world", "recognizer r", "train b", "evaluate identity r", "evaluate identity r lazy", "score identity",
        "anonymize a", "evaluate a r", "score a", "anonymize-gallery a", "evaluate a r lazy",
        "anonymize b", "evaluate b r", "score b", "pictures", "anonymize-gallery b", "evaluate b r lazy"]
    assert sorted(order) == sorted(s.name for s in stages)
    # each stage after its inputs, and never more than two trees on disk at once (a's probes, held for the
    # pictures, and b's)
    by_name = {s.name: s for s in stages}
    for i, name in enumerate(order):
        assert set(by_name[name].inputs) <= set(order[:i]), name
        on_disk = [t for t in order[:i + 1] if by_name[t].kind == "anonymize"
                   and not all(r.name in order[:i + 1] for r in plan.readers(by_name[t]))]
        assert len(on_disk) <= 2, (name, on_disk)


# ------------------------------------------------------------------------------------------------ keys and store


def test_stage_key_is_the_documented_hash() -> None:
    # Independent reference: sha256 of the canonical JSON payload the cache module documents.
    payload = {"inputs": {"world": "abc"}, "kind": "score", "spec": {"a": [1, 2], "b": "x"},
               "version": STAGE_VERSIONS["score"]}
    want = hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:20]
    assert stage_key("score", {"b": "x", "a": (1, 2)}, {"world": "abc"}) == want
    assert stage_key("score", {"b": "x", "a": (1, 2)}, {"world": "abd"}) != want
    assert stage_key("evaluate", {"b": "x", "a": (1, 2)}, {"world": "abc"}) != want
    with pytest.raises(ValueError, match="unknown stage kind 'scores'"):
        stage_key("scores", {}, {})


def test_store_status_goes_new_partial_cached(tmp_path: Path) -> None:
    store = Store(tmp_path)
    stage = Stage("score x", "score", {}, (), lambda folder: {}, key="k1")
    assert store.status(stage) == "new"
    with store.lock(stage) as folder:
        assert store.status(stage) == "new"  # the lock file alone is not work
        (folder / "part").write_text("x")
    assert store.status(stage) == "partial"
    store.finish(stage, {}, 1.5, {"rows": 3})
    assert store.status(stage) == "cached" and store.record(stage)["report"] == {"rows": 3}
    assert store.status(Stage("score x", "score", {}, (), lambda folder: {}, key="k2")) == "new"


# ------------------------------------------------------------------------------------------------ configs


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('name = "tiny"', 'name = "tiny"\nsed = 1', r"unknown key 'sed'; did you mean 'seed'"),
        ('path = "data"', 'path = "data"\npreset = "ci"\nsubject = 3', r"world: unknown key 'subject'"),
        ("seed = 0", 'seed = "0"', r"\.seed: expected an integer, got '0'"),
        ("rank = 4", "rank = 4\nranks = 5", r"recognizers\.zheng2011: unknown key 'ranks'; did you mean 'rank'"),
        ("rank = 4", 'rank = "4"', r"recognizers\.zheng2011\.rank: expected an integer"),
        ("[recognizers.zheng2011]", "[recognizers.zheng2012]", r"recognizers\.zheng2012: unknown recognizer"),
        ("sigma = 3.0", "sigma = 3.0\nsigm = 1", r"anonymizers\.blur: unknown key 'sigm'"),
        ("{ alpha = [0.2, 0.4] }", "{ alfa = [0.2, 0.4] }", r"anonymizers\.stgan: unknown key 'alfa'"),
        ("{ alpha = [0.2, 0.4] }", "{ alpha = 0.2 }", r"anonymizers\.stgan\.sweep\.alpha: expected a non-empty list"),
        ("stride = 3", "strides = 3", r"scorers\.frame-hog: unknown key 'strides'"),
        ('frechet = ["zheng2011"]', 'frechet = ["gaitset"]', r"realism\.frechet: 'gaitset' is not one of"),
        ("frames = 3", "frames = 3\nview = [0]", r"pictures: unknown key 'view'; did you mean 'views'"),
        ('protocol = "protocol.toml"', 'protocol = "papers"', r"protocol: unknown protocol 'papers'"),
    ],
)
def test_bad_config_names_the_key(project: Path, old: str, new: str, message: str) -> None:
    path = variant(project, "bad.toml", old, new)
    with pytest.raises(ConfigError, match=message) as info:
        load_run_config(path)
    assert str(path) in str(info.value)


def test_cli_reports_a_bad_key_and_plans_without_running(project: Path, tmp_path: Path, capsys) -> None:
    path = variant(project, "bad-cli.toml", "rank = 4", "rank = 4\nepochs = 2")
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 2
    assert "recognizers.zheng2011: unknown key 'epochs'" in capsys.readouterr().err
    assert main(["run", str(project / "run.toml"), "--out", str(tmp_path / "out"), "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "new       train stgan[alpha=0.4]" in text and "to run" in text
    assert not (tmp_path / "out").exists()  # planning writes nothing


@pytest.mark.parametrize("name", ["ci", "quick", "paper"])
def test_shipped_configs_parse_and_plan(name: str, tmp_path: Path) -> None:
    resolved = load_run_config(REPO / "configs" / f"{name}.toml")
    plan = plan_run(resolved, tmp_path / "out", progress=False)
    names = [s.name for s in plan.stages]
    assert names[0] == "world" and names[-1] == "pictures"
    # ST-GAN over the paper's alphas: our form in ci and paper, the paper's form in quick (docs/anonymizers.md)
    stgan = {"ci": "stgan", "quick": "stgan-paper", "paper": "stgan"}[name]
    assert {"recognizer zheng2011", "recognizer wu2017-mt", f"train {stgan}[alpha=0.2]", f"train {stgan}[alpha=0.3]",
            f"train {stgan}[alpha=0.4]", "train noise-gait[beta=0.3]"} <= set(names)
    if name != "quick":  # and the paper's form beside it
        assert any(n.startswith("train stgan-paper[alpha=0.3]") for n in names)
    assert {("identity", ""), ("blur", "margin=4;sigma=8")} <= {(m.name, m.parameters) for m in resolved.methods}
    assert "frame-hog" in resolved.scorers and "video-synth" in resolved.scorers
    assert not (tmp_path / "out").exists()


def test_paper_quick_config_is_the_papers_experiment_and_nothing_else(tmp_path: Path) -> None:
    """configs/paper-quick.toml (docs/paper-reproduction.md): the paper's section 4 methods, attackers and alphas,
    every view, the paper's ignorant attacker only."""
    resolved = load_run_config(REPO / "configs" / "paper-quick.toml")
    assert set(resolved.recognizers) == {"zheng2011", "wu2017-mt"}
    assert sorted(m.label for m in resolved.methods) == [
        "identity", "noise-gait[beta=0.3]", "stgan-paper[alpha=0.2]", "stgan-paper[alpha=0.3]",
        "stgan-paper[alpha=0.4]"]
    assert set(resolved.scorers) == {"frame-hog", "video-synth"}
    assert resolved.config.evaluate.attacks == ("ignorant",)
    assert resolved.protocol.views == (0, 18, 36, 54, 72, 90, 108, 126, 144, 162, 180)
    plan = plan_run(resolved, tmp_path / "out", progress=False)
    names = [s.name for s in plan.stages]
    assert len(names) == 37 and names[0] == "world" and names[-1] == "pictures"
    assert sum(n.startswith("realism ") for n in names) == 5  # Fig. 18's silhouette difference per method


def test_paper_quick_seeds_is_paper_quick_with_three_st_gan_seeds(tmp_path: Path) -> None:
    """configs/paper-quick-seeds.toml (docs/paper-reproduction.md, "Three seeds"): ST-GAN at each alpha under seeds
    0, 1, 2; everything else, and each seed-0 model, is the very stage of configs/paper-quick.toml (same key), so
    with that run's cache only the new seeds are computed."""
    one = plan_run(load_run_config(REPO / "configs" / "paper-quick.toml"), tmp_path / "one", progress=False)
    three = plan_run(load_run_config(REPO / "configs" / "paper-quick-seeds.toml"), tmp_path / "three",
                     progress=False)
    assert three.resolved.config.evaluate == one.resolved.config.evaluate
    assert sorted(m.label for m in three.resolved.methods) == ["identity", "noise-gait[beta=0.3]"] + [
        f"stgan-paper[alpha={a};seed={s}]" for a in ("0.2", "0.3", "0.4") for s in (0, 1, 2)]
    keys_one = {s.name: s.key for s in one.stages}
    keys_three = {s.name: s.key for s in three.stages}
    shared = [n for n in keys_one if "stgan-paper" not in n and n != "pictures"]
    assert len(shared) == 15 and all(keys_three[n] == keys_one[n] for n in shared)
    for alpha in ("0.2", "0.3", "0.4"):
        seeds = [keys_three[f"train stgan-paper[alpha={alpha};seed={s}]"] for s in (0, 1, 2)]
        assert seeds[0] == keys_one[f"train stgan-paper[alpha={alpha}]"] and len(set(seeds)) == 3
    assert len(keys_three) == 15 + 9 * 7 + 1  # train, anonymize, 2 evaluate, 2 score, realism per ST-GAN; pictures


def test_score_keys_follow_the_weights_file_the_scorer_will_read(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """video-synth without `weights` and without [action_model] reads GAITBENCH_ACTION_WEIGHTS, else the cache,
    else the shipped model: its score stages are keyed by that file's bytes, not by where it is."""
    from benchmark.scorers.action import BUNDLED_WEIGHTS

    config = variant(project, "env-weights.toml", 'weights = "action.npz"\n', "")
    monkeypatch.setenv("GAITBENCH_CACHE", str(tmp_path / "cache"))

    def score_keys() -> dict[str, str]:
        plan = plan_run(load_run_config(config), tmp_path / "out", progress=False)
        return {s.name: s.key for s in plan.stages if s.name.startswith("score") and "video-synth" in s.name}

    monkeypatch.setenv("GAITBENCH_ACTION_WEIGHTS", str(project / "action.npz"))
    first = score_keys()
    shutil.copy(project / "action.npz", tmp_path / "same-bytes.npz")
    monkeypatch.setenv("GAITBENCH_ACTION_WEIGHTS", str(tmp_path / "same-bytes.npz"))
    assert score_keys() == first  # another path, the same file
    (tmp_path / "other.pt").write_bytes(BUNDLED_WEIGHTS.read_bytes())
    monkeypatch.setenv("GAITBENCH_ACTION_WEIGHTS", str(tmp_path / "other.pt"))
    other = score_keys()
    assert set(other) == set(first) and all(other[n] != first[n] for n in first)
    monkeypatch.delenv("GAITBENCH_ACTION_WEIGHTS")
    assert score_keys() == other  # nothing configured or cached: the shipped model, the same bytes as other.pt


# ------------------------------------------------------------------------------------------------ seeds and the gate


def test_golden_of_seeds_runs_the_config_and_the_baseline_passes_it(
    project: Path, baseline: tuple[Path, Any], tmp_path: Path, capsys
) -> None:
    """``gaitbench golden --config --seeds 2``: two runs that differ only in their seed, one golden file; the
    run's seed renames no row, untrained methods do not move between seeds, and the seed-0 run passes."""
    golden = tmp_path / "golden.json"
    runs = tmp_path / "seeds"
    assert main(["golden", "--config", str(project / "run.toml"), "--seeds", "2", "--runs", str(runs),
                 "--out", str(golden)]) == 0
    out = capsys.readouterr().out
    assert f"gaitbench run {project / 'run.toml'} --seed 1 --out {runs / 'seed-1'}" in out
    doc = json.loads(golden.read_text())
    assert [r["seed"] for r in doc["runs"]] == [0, 1] and doc["made_by"]["command"].startswith(
        f"gaitbench golden --config {project / 'run.toml'} --seeds 2")
    seeds = [json.loads((runs / f"seed-{s}" / "run.json").read_text())["seeds"] for s in (0, 1)]
    assert [s["run"] for s in seeds] == [0, 1] and [s["anonymizers"]["stgan[alpha=0.2]"] for s in seeds] == [0, 1]
    rows = pd.DataFrame(doc["rows"])
    # The same row keys in both runs (parameters carry no seed), each resting on both; only a Fréchet cell can be
    # absent from a run whose model erased the person there (see the table test above).
    assert set(rows.loc[rows["metric"] != "frechet", "runs"]) == {2}
    assert not rows["parameters"].str.contains("seed").any()
    assert set(zip(rows["method"], rows["parameters"], strict=True)) == {
        ("identity", ""), ("blur", "margin=4;sigma=3"), ("noise-gait", "beta=0.3"), ("stgan", "alpha=0.2"),
        ("stgan", "alpha=0.4")}
    # Nothing of identity and blur is trained by torch or seeded: their values do not move between seeds.
    fixed = rows[rows["method"].isin(["identity", "blur"]) & rows["value"].notna()]
    assert len(fixed) > 0 and (fixed["spread"] == 0).all()
    assert main(["check", str(baseline[0]), "--golden", str(golden)]) == 0
    assert capsys.readouterr().out.rstrip().splitlines()[-1].startswith("PASS: ")


def test_a_sweep_of_two_keys_runs_every_combination(tmp_path: Path) -> None:
    from benchmark.config import from_mapping
    from benchmark.runner.config import RunConfig, resolve

    raw = {"name": "s", "protocol": "paper", "world": {"path": str(tmp_path / "w")},
           "recognizers": {"zheng2011": {}},
           "anonymizers": {"stgan": {"sweep": {"alpha": [0.2, 0.4], "seed": [0, 1, 2]}}},
           "pictures": {"sweep": "stgan"}}
    resolved = resolve(from_mapping(RunConfig, raw))
    labels = [m.label for m in resolved.methods]
    assert labels == [f"stgan[alpha={a};seed={s}]" for a in ("0.2", "0.4") for s in (0, 1, 2)]
    # the alpha-sweep pictures: alpha varies, the seed stays at its first value
    _, sweep = resolved.picture_methods()
    assert [m.label for m in sweep] == ["stgan[alpha=0.2;seed=0]", "stgan[alpha=0.4;seed=0]"]


def test_a_swept_key_the_method_names_itself_is_not_repeated_in_the_label(tmp_path: Path) -> None:
    from benchmark.config import from_mapping
    from benchmark.runner.config import RunConfig, resolve

    raw = {"name": "s", "protocol": "paper", "world": {"path": str(tmp_path / "w")},
           "recognizers": {"zheng2011": {}},
           "anonymizers": {"stgan": {"sweep": {"noise_off": [False, True], "seed": [0, 1]}}}}
    labels = [m.label for m in resolve(from_mapping(RunConfig, raw)).methods]
    assert labels == ["stgan[alpha=0.3;seed=0]", "stgan[alpha=0.3;seed=1]", "stgan[alpha=0.3;noise=off;seed=0]",
                      "stgan[alpha=0.3;noise=off;seed=1]"]


def test_noise_off_control_shares_the_trained_model_and_anonymizes_with_g_of_the_original(
        project: Path, baseline: tuple[Path, Any]) -> None:
    """``noise_off`` is read only when anonymizing: its variant's train stage has the key of the same config with
    the noise on (the baseline's cached model, not trained again), and its probes are G(Y, Y) of that model."""
    import dataclasses

    from benchmark.anonymizer import load_anonymizer
    from benchmark.data.casia import CasiaB

    base_out, base = baseline
    config = project / "off.toml"
    config.write_text(CONFIG.replace("sweep = { alpha = [0.2, 0.4] }", "noise_off = true\nsweep = { alpha = [0.2] }")
                      .replace('rows = ["noise-gait", "stgan[alpha=0.2]"]', 'rows = ["noise-gait"]'), encoding="utf-8")
    plan = plan_run(load_run_config(config), project / "runs" / "off", cache_dir=base_out / "cache", progress=False)
    off = "stgan[alpha=0.2;noise=off]"
    keys = {s.name: s.key for s in plan.stages}
    base_keys = {s.name: s.key for s in base.stages}
    assert keys[f"train {off}"] == base_keys["train stgan[alpha=0.2]"]
    assert keys[f"anonymize {off}"] != base_keys["anonymize stgan[alpha=0.2]"]
    result = execute(plan, log=lambda line: None)
    status = {s.name: s.status for s in result.stages}
    assert status[f"train {off}"] == "cached" and status[f"anonymize {off}"] == "ran"

    # The reference, built by hand: the cached model with the noise switched off, on the first probe.
    method = next(m for m in plan.resolved.methods if m.label == off)
    model = load_anonymizer(plan.builder.folder(f"train {off}") / "model.npz")
    assert model.config.noise_off is False  # the checkpoint is the noise-on training's
    hand = type(model)(dataclasses.replace(model.config, noise_off=True))
    hand.generator, hand.gn, hand.donors, hand.training = model.generator, model.gn, model.donors, model.training
    clean = CasiaB(project / "data")
    noised = CasiaB(base_out / "cache" / "anonymize" / base_keys["anonymize stgan[alpha=0.2]"] / "data")
    output = CasiaB(plan.builder.probes_root(method))
    ref = output.index()[0]
    expected = hand.anonymize(clean.load(clean.ref(ref.key), frames=True, background=True), seed=0).silhouettes
    np.testing.assert_array_equal(output.load_silhouettes(ref), expected)
    assert (noised.load_silhouettes(noised.ref(ref.key)) != expected).any()  # the noise on: another output


def test_lazy_informed_attack_matches_against_the_method_s_own_gallery(project: Path,
                                                                       baseline: tuple[Path, Any]) -> None:
    """The lazy-informed attacker's gallery is anonymized by the same method (seed + 1): identity's figures are
    the ignorant ones exactly; a method's are computed against its own anonymized gallery; every row names its
    attack, and the trained models and probes come from the cache."""
    from benchmark.data.casia import CasiaB

    base_out, _ = baseline
    config = variant(project, "attacks.toml", "ks = [1, 2]  # the gallery holds 2 subjects",
                     'ks = [1, 2]\nattacks = ["ignorant", "lazy-informed"]')
    out = project / "runs" / "attacks"
    plan = plan_run(load_run_config(config), out, cache_dir=base_out / "cache", progress=False)
    (lazy_blur,) = [s for s in plan.stages if s.name == "evaluate blur[margin=4;sigma=3] zheng2011 lazy-informed"]
    assert "anonymize-gallery blur[margin=4;sigma=3]" in lazy_blur.inputs
    gallery = plan.builder.gallery_root(next(m for m in plan.resolved.methods if m.name == "blur"),
                                        "lazy-informed")
    result = execute(plan, log=lambda line: None)
    blurred = CasiaB(gallery)
    clean = CasiaB(project / "data")
    ref = blurred.index()[0]
    assert ref.condition in ("nm-01", "nm-02")
    assert (blurred.load_silhouettes(ref) != clean.load_silhouettes(clean.ref(ref.key))).any()
    ran = {s.name: s for s in result.stages if s.status != "cached"}
    assert all(n.startswith(("anonymize-gallery ", "evaluate ")) for n in ran), sorted(ran)
    assert all(n.endswith(" lazy-informed") for n in ran if n.startswith("evaluate ")), sorted(ran)
    # the gallery conditions (nm-01, nm-02) of the 2 test subjects at 2 views, anonymized
    assert ran["anonymize-gallery blur[margin=4;sigma=3]"].report["sequences"] == 2 * 2 * 2
    assert "anonymize-gallery identity" not in ran  # identity's gallery is the clean one

    frame = read_csv(out / "results.csv")
    ident = frame[(frame["method"] == "identity") & frame["metric"].isin(["success_rate", "eer", "rank"])]
    key = ["condition", "view", "metric", "k"]
    ignorant = ident[ident["evaluator"] == "zheng2011"].set_index(key).sort_index()
    lazy = ident[ident["evaluator"] == "zheng2011@lazy-informed"].set_index(key).sort_index()
    assert len(lazy) == len(ignorant) > 0
    np.testing.assert_array_equal(lazy["value"].to_numpy(), ignorant["value"].to_numpy())
    assert set(ignorant["attack"]) == {"ignorant"} and set(lazy["attack"]) == {"lazy-informed"}
    blur = frame[(frame["method"] == "blur") & (frame["evaluator"] == "zheng2011@lazy-informed")]
    assert {"accuracy", "success_rate", "eer", "rank"} <= set(blur["metric"])
    assert frame.loc[frame["metric"] == "frame_score", "attack"].isna().all()  # scores have no attack
    # the attacker is described in the run record
    record = json.loads((out / "run.json").read_text())
    assert "lazy-informed" in record["labels"]["zheng2011@lazy-informed"]


def test_unknown_attacks_are_refused_at_planning(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = variant(project, "bad-attacks.toml", "ks = [1, 2]  # the gallery holds 2 subjects",
                     'ks = [1, 2]\nattacks = ["ignorant", "informed"]')
    assert main(["run", str(config), "--dry-run"]) == 2
    assert "attacks must be distinct names among ['ignorant', 'lazy-informed', 'semi-informed'], got " \
        "['ignorant', 'informed']" in capsys.readouterr().err


def test_semi_informed_attack_retrains_the_recognizer_on_the_method_s_output(project: Path,
                                                                            baseline: tuple[Path, Any]) -> None:
    """The semi-informed attacker retrains its recognizer on the method's output for the recognizer group (never
    the test group) and matches against the anonymized gallery; identity's figures equal the ignorant ones."""
    from benchmark.recognizer import load_recognizer

    base_out, _ = baseline
    config = variant(project, "semi.toml", "ks = [1, 2]  # the gallery holds 2 subjects",
                     'ks = [1, 2]\nattacks = ["ignorant", "semi-informed"]')
    out = project / "runs" / "semi"
    plan = plan_run(load_run_config(config), out, cache_dir=base_out / "cache", progress=False)
    names = {s.name for s in plan.stages}
    assert "recognizer zheng2011 semi-informed blur[margin=4;sigma=3]" in names
    assert "recognizer zheng2011 semi-informed identity" not in names  # identity's output is the clean data
    (stage,) = [s for s in plan.stages if s.name == "evaluate blur[margin=4;sigma=3] zheng2011 semi-informed"]
    assert {"recognizer zheng2011 semi-informed blur[margin=4;sigma=3]",
            "anonymize-gallery blur[margin=4;sigma=3]"} <= set(stage.inputs)
    result = execute(plan, log=lambda line: None)
    assert result.finished
    model = plan.builder.folder("recognizer zheng2011 semi-informed blur[margin=4;sigma=3]") / "model.npz"
    retrained = load_recognizer(model)
    clean = load_recognizer(base_out / "cache" / "recognizer" / next(
        s.key for s in plan.stages if s.name == "recognizer zheng2011") / "model.npz")
    split = plan.builder.split()
    assert retrained.training["subjects"] == clean.training["subjects"] == split["recognizers"]
    frame = read_csv(out / "results.csv")
    ident = frame[(frame["method"] == "identity") & (frame["metric"] == "success_rate")]
    a = ident[ident["evaluator"] == "zheng2011"].sort_values(["condition", "view", "k"])["value"].to_numpy()
    b = ident[ident["evaluator"] == "zheng2011@semi-informed"].sort_values(["condition", "view", "k"])["value"]
    np.testing.assert_array_equal(a, b.to_numpy())
    blur = frame[(frame["method"] == "blur") & (frame["evaluator"] == "zheng2011@semi-informed")]
    assert set(blur["attack"]) == {"semi-informed"} and len(blur)


def test_rows_of_one_method_are_titled_by_the_parameters_in_which_they_differ() -> None:
    from benchmark.runner.config import Method
    from benchmark.runner.stages import row_titles

    def method(name: str, title: str, parameters: str) -> Method:
        return Method(name, None, parameters, True, {}, False, title)

    rows = [method("noise-gait", "noise-gait", "beta=0.3;residual=True"),
            method("noise-gait", "noise-gait", "beta=1;residual=True"),
            method("stgan", "ST-GAN", "alpha=0.3"),
            method("blur", "blur", "margin=4;sigma=3")]
    assert row_titles(rows) == ["noise-gait beta=0.3", "noise-gait beta=1", "ST-GAN", "blur"]
    # a key only one of them sets counts as a difference; equal parameters fall back to all of them
    assert row_titles([method("stgan", "ST-GAN", "alpha=0.3"), method("stgan", "ST-GAN", "alpha=0.3;seed=1")]) == [
        "ST-GAN alpha=0.3", "ST-GAN seed=1"]


def test_a_stage_that_sets_torch_threads_does_not_change_them_for_the_next() -> None:
    """The body model sets torch to one thread for rendering; a serial run used to keep that for every stage after
    the world."""
    import torch

    from benchmark.runner.threads import stage_threads

    before = torch.get_num_threads()
    want = 1 if before != 1 else 2
    with stage_threads(0):
        torch.set_num_threads(want)
        assert torch.get_num_threads() == want
    assert torch.get_num_threads() == before

    with pytest.raises(KeyboardInterrupt), stage_threads(0):
        torch.set_num_threads(want)
        raise KeyboardInterrupt
    assert torch.get_num_threads() == before


def test_a_stage_computes_with_the_run_s_threads_in_every_pool() -> None:
    """threads = N: torch, OpenCV and every loaded BLAS / OpenMP library (numpy's and scipy's OpenBLAS, torch's
    OpenMP) compute with N threads inside the stage, so a serial run and a Dask worker round alike; all put back
    after, also when the stage fails. threads = 0 changes nothing."""
    import cv2
    import scipy.linalg  # noqa: F401  (its BLAS is among the pools)
    import torch
    from threadpoolctl import threadpool_info

    from benchmark.runner.threads import stage_threads

    def pools() -> dict[str, int]:
        seen = {f"{p['user_api']}:{p['filepath']}": p["num_threads"] for p in threadpool_info()}
        return {**seen, "torch": torch.get_num_threads(), "cv2": cv2.getNumThreads()}

    before = pools()
    assert sum(key.startswith("blas:") for key in before) >= 1 and any(k.startswith("openmp:") for k in before)
    with stage_threads(1):
        inside = pools()
    assert set(inside) == set(before) and set(inside.values()) == {1}
    assert pools() == before

    with pytest.raises(RuntimeError, match="stage failed"), stage_threads(1):
        raise RuntimeError("stage failed")
    assert pools() == before
    with stage_threads(0):
        assert pools() == before
    for bad in (-1, True, 1.5):
        with pytest.raises(ValueError, match="threads must be an int >= 0"), stage_threads(bad):  # type: ignore[arg-type]
            pass
