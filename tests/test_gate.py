"""The regression gate: thresholds worked out by hand, literal golden and run tables, golden files and the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark.cli import main
from benchmark.gate import (
    GateError,
    GateSettings,
    combine_runs,
    compare,
    format_result,
    quantiles,
    read_golden,
    sampling_se,
    threshold,
)
from benchmark.record import git_hash
from benchmark.results import Row, to_frame, write_csv

NAN = math.nan


def sr(view: int, value: float, *, k: int = 1, metric: str = "success_rate", condition: str = "",
       n: int = 30) -> Row:
    """A zheng2011 row of ST-GAN probes (alpha 0.3); ``view`` -1 is the pooled row (condition "all") unless a
    condition is given, other views are of condition "nm"."""
    condition = condition or ("all" if view == -1 else "nm")
    return Row(method="stgan", parameters="alpha=0.3", evaluator="zheng2011", condition=condition, view=view,
               metric=metric, value=value, n=n, k=k)


def score(view: int, value: float, metric: str = "frame_score", evaluator: str = "frame-hog",
          ci: tuple[float, float] = (NAN, NAN)) -> Row:
    return Row(method="stgan", parameters="alpha=0.3", evaluator=evaluator, condition="all" if view == -1 else "nm",
               view=view,
               metric=metric, value=value, n=30, ci_low=ci[0], ci_high=ci[1])


def golden_table(rows: list[Row], runs: int = 1, spread: float = NAN, se: float = NAN) -> pd.DataFrame:
    frame = to_frame(rows)
    frame["runs"], frame["spread"], frame["sampling_se"] = runs, spread, se
    return frame


def statuses(result) -> dict[tuple, str]:
    return {(r.metric, r.view, r.k): r.status for r in result.table.itertuples()}


# ---------------------------------------------------------------------------------------------- the arithmetic


def test_quantiles_are_the_table_values() -> None:
    # alpha 0.01 over 10 rows: the one-sided 0.999 quantiles, z = 3.0902 (normal table) and t_4 = 7.1732
    # (Student-t table, 4 degrees of freedom, upper 0.001).
    z, t = quantiles(0.01, 10, 5)
    assert z == pytest.approx(3.090232, abs=1e-6) and t == pytest.approx(7.173182, abs=1e-6)
    z1, t1 = quantiles(0.05, 1, 1)
    assert z1 == pytest.approx(1.644854, abs=1e-6) and math.isnan(t1)


def test_sampling_error_of_a_rate_uses_the_wilson_centre() -> None:
    # p = 0.5, n = 30: the Wilson centre is 0.5, se = sqrt(0.25 / 30).
    assert sampling_se("success_rate", 0.5, 30, (NAN, NAN)) == pytest.approx(math.sqrt(0.25 / 30), abs=1e-12)
    # p = 1 keeps a spread: centre (30 + 1.9208) / (30 + 3.8415) = 0.943245,
    # se = sqrt(0.943245 * 0.056755 / 30) = 0.042243.
    assert sampling_se("success_rate", 1.0, 30, (NAN, NAN)) == pytest.approx(0.042243, abs=1e-6)
    # A score: the wider half of its interval over t_{0.975, 29} = 2.045230.
    assert sampling_se("frame_score", 0.9, 30, (0.80, 0.95)) == pytest.approx(0.10 / 2.045230, abs=1e-6)
    assert math.isnan(sampling_se("frame_score", 0.9, 30, (NAN, NAN)))


def test_threshold_is_the_largest_of_sampling_training_and_tolerance() -> None:
    # Rate 0.5 over n = 30, 5 runs: sampling z * sqrt(0.25 / 30 * 1.2) = 3 * 0.1 = 0.3; training
    # t * 0.04 * sqrt(1.2) = 5 * 0.04 * 1.095445 = 0.219089; tolerance 0.05.
    golden = {"value": 0.5, "n": 30, "runs": 5, "spread": 0.04, "sampling_se": NAN}
    assert threshold("success_rate", golden, z=3.0, t=5.0, tolerance=0.05) == pytest.approx(0.3, abs=1e-12)
    assert threshold("success_rate", {**golden, "spread": 0.1}, z=3.0, t=5.0, tolerance=0.05) == pytest.approx(
        5 * 0.1 * math.sqrt(1.2), abs=1e-12)
    assert threshold("success_rate", golden, z=0.1, t=0.1, tolerance=0.05) == 0.05
    # A score: its stored sampling error; one run has no training bound.
    one = {"value": 0.8, "n": 30, "runs": 1, "spread": NAN, "sampling_se": 0.02}
    assert threshold("frame_score", one, z=3.0, t=NAN, tolerance=0.01) == pytest.approx(3 * 0.02 * math.sqrt(2))


# ---------------------------------------------------------------------------------------------- comparing


GOLDEN = [sr(0, 0.50), sr(90, 0.40), sr(-1, 0.45), sr(-1, 0.70, k=3), score(-1, 0.80), score(90, 0.80),
          sr(-1, 0.30, metric="accuracy")]


def test_pooled_rows_fail_cells_are_reported() -> None:
    golden = golden_table(GOLDEN, runs=5, spread=0.02, se=0.01)
    # 3 pooled gated rows (success rate k 1 and 3, frame score; accuracy is not gated): z = Phi^-1(1 - 0.01/3).
    run = to_frame([sr(0, 0.10), sr(90, 0.40), sr(-1, 0.05), sr(-1, 0.69, k=3), score(-1, 0.79), score(90, 0.10),
                    sr(-1, 0.95, metric="accuracy")])
    result = compare(golden, run)
    assert result.judged == 3
    z, t = quantiles(0.01, 3, 5)
    assert result.z == pytest.approx(z) and result.t == pytest.approx(t)
    assert statuses(result) == {
        ("success_rate", 0, 1): "cell-fall",  # -0.40 at one view: reported only
        ("success_rate", 90, 1): "pass",
        ("success_rate", -1, 1): "fall",  # -0.40 pooled over 30 probes
        ("success_rate", -1, 3): "pass",  # -0.01
        ("frame_score", -1, 0): "pass",
        ("frame_score", 90, 0): "cell-fall",
    }
    assert not result.ok and list(result.failures["view"]) == [-1]
    row = result.table.set_index(["metric", "view", "k"]).loc[("success_rate", -1, 1)]
    # Threshold of the pooled success rate 0.45 (n 30): sampling z * se * sqrt(1.2) dominates t * 0.02 * sqrt(1.2).
    centre = (30 * 0.45 + 1.959963984540054**2 / 2) / (30 + 1.959963984540054**2)
    assert row["threshold"] == pytest.approx(z * math.sqrt(centre * (1 - centre) / 30 * 1.2), abs=1e-9)
    text = format_result(result)
    assert "success_rate (fall)" in text and "success_rate (cell-fall)" in text
    assert text.splitlines()[-1].startswith("FAIL: 3 pooled golden rows of success_rate, frame_score, video_score, "
                                            "mos judged (family-wise false-alarm rate 0.01 over 3 pooled rows")


def test_training_spread_absorbs_what_sampling_would_flag() -> None:
    # A pooled fall of 0.3 over 30 probes is beyond sampling (z = 2.576 for one row: 2.576 * 0.0907 * 1.095 =
    # 0.256), but the 5 golden seeds spread by 0.15: t_4 * 0.15 * sqrt(1.2) = 3.747 * 0.164 = 0.616, so it holds.
    run = to_frame([sr(-1, 0.15)])
    wide = compare(golden_table([sr(-1, 0.45)], runs=5, spread=0.15), run)
    narrow = compare(golden_table([sr(-1, 0.45)], runs=5, spread=0.0), run)
    assert statuses(wide) == {("success_rate", -1, 1): "pass"}
    assert statuses(narrow) == {("success_rate", -1, 1): "fall"}


def test_improvements_lower_is_better_and_two_sided_metrics() -> None:
    golden = golden_table([sr(-1, 0.30, metric="accuracy"), sr(-1, 0.30, metric="accuracy", k=3),
                           sr(-1, 0.30, metric="accuracy", condition="bg"),
                           score(-1, 1.00, "temporal_change_ratio", "silhouette")], runs=3, spread=0.01, se=0.01)
    run = to_frame([sr(-1, 0.80, metric="accuracy"), sr(-1, 0.0, metric="accuracy", k=3),
                    sr(-1, 0.0, metric="accuracy", condition="bg"),
                    score(-1, 1.5, "temporal_change_ratio", "silhouette")])
    result = compare(golden, run, GateSettings(metrics=("accuracy", "temporal_change_ratio")))
    assert {(r.metric, r.condition, r.k): r.status for r in result.table.itertuples()} == {
        ("accuracy", "all", 1): "fall", ("accuracy", "all", 3): "improved",
        ("accuracy", "bg", 1): "cell-improved",  # one condition: reported, never judged alone
        ("temporal_change_ratio", "all", 0): "changed"}
    assert result.judged == 3


def test_missing_rows_fail_and_new_rows_are_listed() -> None:
    golden = golden_table([sr(-1, 0.45), sr(0, 0.5), sr(-1, 0.5, k=3)], runs=2, spread=0.0)
    run = to_frame([sr(-1, 0.45), sr(180, 0.6), sr(-1, NAN, k=3)])
    result = compare(golden, run)
    assert statuses(result) == {("success_rate", -1, 1): "pass", ("success_rate", 0, 1): "missing",
                                ("success_rate", 180, 1): "new", ("success_rate", -1, 3): "missing"}
    text = format_result(result)
    assert "new rows (not in the golden file; not checked)" in text and "2 missing" in text


def test_tolerance_is_the_smallest_fall_that_counts() -> None:
    golden = golden_table([sr(-1, 0.45, n=10000)], runs=5, spread=0.0)  # huge n: sampling allows almost nothing
    run = to_frame([sr(-1, 0.42, n=10000)])
    assert statuses(compare(golden, run)) == {("success_rate", -1, 1): "pass"}  # 0.03 < default 0.05
    assert statuses(compare(golden, run, GateSettings(per_metric={"success_rate": 0.02}))) == {
        ("success_rate", -1, 1): "fall"}
    frechet = golden_table([score(-1, 12.5, "frechet", "zheng2011")])
    with pytest.raises(GateError, match="'frechet' has no default tolerance; give one, e.g. --tolerance frechet=0.1"):
        compare(frechet, to_frame([score(-1, 12.5, "frechet", "zheng2011")]), GateSettings(metrics=("frechet",)))
    with pytest.raises(GateError, match="tolerance given for \\['mos_q3'\\], which are not gated"):
        GateSettings(per_metric={"mos_q3": 0.5})
    with pytest.raises(GateError, match="alpha must lie in"):
        GateSettings(alpha=1.5)
    # A golden file of per-condition rows only (made before rows over every probe existed) could never fail.
    only_cells = golden_table([sr(-1, 0.45, condition="nm"), sr(0, 0.5)], runs=5, spread=0.0)
    with pytest.raises(GateError, match="no row pooled over every probe"):
        compare(only_cells, to_frame([sr(-1, 0.0, condition="nm"), sr(0, 0.0)]))


# ---------------------------------------------------------------------------------------------- golden files


def test_combine_runs_keeps_mean_spread_and_sampling_error() -> None:
    runs = [to_frame([sr(-1, v), score(-1, f, ci=(f - 0.1, f + 0.1))]) for v, f in ((0.4, 0.7), (0.5, 0.8),
                                                                                      (0.6, 0.9))]
    golden = combine_runs(runs).set_index("metric")
    rate, frame = golden.loc["success_rate"], golden.loc["frame_score"]
    assert rate["value"] == pytest.approx(0.5) and rate["spread"] == pytest.approx(0.1)  # sd of 0.4, 0.5, 0.6
    assert rate["runs"] == 3 and rate["values"] == [0.4, 0.5, 0.6]
    ses = [sampling_se("success_rate", v, 30, (NAN, NAN)) for v in (0.4, 0.5, 0.6)]
    assert rate["sampling_se"] == pytest.approx(math.sqrt(np.mean(np.square(ses))))
    assert frame["sampling_se"] == pytest.approx(0.1 / 2.045230, abs=1e-6)
    # A run with one usable sequence fewer (its model erased a person): the row keeps the smaller n.
    other = to_frame([Row(**{**sr(-1, 0.5).__dict__, "n": 29})])
    assert combine_runs([runs[0], other]).set_index("metric").loc["success_rate", "n"] == 29


def write_run(folder: Path, rows: list[Row], mos: list[Row] = (), config: dict | None = None,
              seed: int = 0) -> Path:
    write_csv(rows, folder / "results.csv")
    if mos:
        write_csv(list(mos), folder / "results-mos.csv")
    record = {"config": config or {"preset": "ci", "seed": seed}, "git": "abc123", "command": ["gaitbench", "run"],
              "seeds": {"run": seed}}
    (folder / "run.json").write_text(json.dumps(record))
    return folder


MOS = [Row(method="stgan", parameters="alpha=0.3", evaluator="survey", condition="all", view=-1, metric="mos",
           value=3.4, n=30, ci_low=3.1, ci_high=3.7)]


def test_golden_of_several_seeds_records_provenance_and_refuses_to_overwrite(tmp_path: Path, capsys) -> None:
    a = write_run(tmp_path / "a", GOLDEN, MOS, seed=0)
    b = write_run(tmp_path / "b", [Row(**{**r.__dict__, "value": r.value + 0.1}) for r in GOLDEN], MOS, seed=1)
    golden = tmp_path / "golden" / "ci.json"
    assert main(["golden", str(a), str(b), "--out", str(golden)]) == 0
    assert f"wrote {golden}: 8 rows (accuracy, frame_score, mos, success_rate) of 2 run(s)" in capsys.readouterr().out
    doc = json.loads(golden.read_text())
    assert doc["format"] == "gaitbench-golden" and doc["format_version"] == 2
    assert doc["made_by"]["command"] == f"gaitbench golden {a} {b} --out {golden}"
    assert doc["made_by"]["git"] == git_hash() and doc["made_by"]["versions"]["gaitbench"]
    assert [r["seed"] for r in doc["runs"]] == [0, 1]
    assert doc["run"]["record"]["git"] == "abc123" and doc["run"]["files"] == ["results.csv", "results-mos.csv"]
    lines = [line for line in golden.read_text().splitlines() if line.startswith('    {"method"')]
    assert len(lines) == 8 and '"ci_low": null' in lines[0]
    rows, _ = read_golden(golden)
    pooled = rows.set_index(["metric", "view", "k"]).loc[("success_rate", -1, 1)]
    assert pooled["value"] == pytest.approx(0.5) and pooled["spread"] == pytest.approx(0.1 / math.sqrt(2))
    assert pooled["runs"] == 2 and rows.set_index("metric").loc["mos", "spread"] == 0.0

    before = golden.read_bytes()
    assert main(["golden", str(a), "--out", str(golden)]) == 2
    assert "exists; a golden file is replaced only on purpose: add --force" in capsys.readouterr().err
    assert golden.read_bytes() == before
    assert main(["golden", str(a), "--out", str(golden), "--force"]) == 0
    capsys.readouterr()

    same_seed = write_run(tmp_path / "c", GOLDEN, seed=0)
    other = write_run(tmp_path / "d", GOLDEN, config={"preset": "quick", "seed": 2}, seed=2)
    for argv, message in [
        ([str(a), str(same_seed)], "the runs share a seed"),
        ([str(a), str(other)], "ran another config"),
        ([], "name finished RUN_DIRs, or give --config"),
    ]:
        assert main(["golden", *argv, "--out", str(tmp_path / "x.json")]) == 2
        assert message in capsys.readouterr().err
    (a / "run.json").unlink()
    assert main(["golden", str(a), "--out", str(tmp_path / "other.json")]) == 2
    assert "run.json is missing" in capsys.readouterr().err


def test_a_version_1_golden_file_reads_as_one_run(tmp_path: Path) -> None:
    rows = [{**r.__dict__, "ci_low": None, "ci_high": None} for r in GOLDEN]
    path = tmp_path / "v1.json"
    path.write_text(json.dumps({"format": "gaitbench-golden", "format_version": 1, "rows": rows}))
    frame, _ = read_golden(path)
    assert set(frame["runs"]) == {1} and frame["spread"].isna().all()
    rate = frame.set_index(["metric", "view", "k"]).loc[("success_rate", -1, 1)]
    assert rate["sampling_se"] == pytest.approx(sampling_se("success_rate", 0.45, 30, (NAN, NAN)))
    text = format_result(compare(frame, read_golden(path)[0][list(frame.columns[:11])]))
    assert "one golden run: training variance NOT measured" in text


def test_check_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    golden = tmp_path / "ci.json"
    runs = [write_run(tmp_path / f"s{i}", [Row(**{**r.__dict__, "value": r.value + d}) for r in GOLDEN], MOS, seed=i)
            for i, d in enumerate((-0.02, 0.0, 0.02))]
    assert main(["golden", *map(str, runs), "--out", str(golden)]) == 0
    capsys.readouterr()

    same = write_run(tmp_path / "same", [sr(0, 0.30), *GOLDEN[1:]], MOS, seed=7)  # one view moved: reported
    assert main(["check", str(same), "--golden", str(golden)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"golden file {golden}: made by `gaitbench golden ")
    assert out.rstrip().splitlines()[-1].startswith("PASS: 4 pooled golden rows")  # success k1, k3, frame, mos

    # The pooled success rate falls from 0.45 to 0.0 and the MOS from 3.4 to 1.5.
    worse = write_run(tmp_path / "worse", [*GOLDEN[:2], sr(-1, 0.0), *GOLDEN[3:]],
                      [Row(**{**MOS[0].__dict__, "value": 1.5})])
    assert main(["check", str(worse), "--golden", str(golden)]) == 1
    out = capsys.readouterr().out
    assert "mos (fall)" in out and "success_rate (fall)" in out and out.rstrip().splitlines()[-1].startswith("FAIL")
    assert main(["check", str(worse), "--golden", str(golden), "--tolerance", "5"]) == 0
    assert main(["check", str(worse), "--golden", str(golden), "--metrics", "frame_score"]) == 0
    capsys.readouterr()

    cases = [
        (["check", str(tmp_path / "nowhere"), "--golden", str(golden)], "run directory"),
        (["check", str(same), "--golden", str(tmp_path / "none.json")], "gaitbench golden RUN_DIR --out"),
        (["check", str(same), "--golden", str(golden), "--metrics", "succes_rate"], "did you mean 'success_rate'"),
        (["check", str(same), "--golden", str(golden), "--metrics", "video_score"], "no rows of the gated metrics"),
        (["check", str(same), "--golden", str(golden), "--alpha", "0"], "alpha must lie in"),
    ]
    (tmp_path / "broken.json").write_text('{"format": "something else"}')
    cases.append((["check", str(same), "--golden", str(tmp_path / "broken.json")], "not a gaitbench golden file"))
    doc = json.loads(golden.read_text())
    doc["rows"][0]["value"] = "high"
    (tmp_path / "text.json").write_text(json.dumps(doc))
    cases.append((["check", str(same), "--golden", str(tmp_path / "text.json")], "column value holds non-numbers"))
    dup = write_run(tmp_path / "dup", [*GOLDEN, sr(0, 0.1)])
    cases.append((["check", str(dup), "--golden", str(golden)], "rows with a repeated key"))
    for argv, message in cases:
        assert main(argv) == 2, argv
        assert message in capsys.readouterr().err, argv
    with pytest.raises(SystemExit):
        main(["check", str(same), "--golden", str(golden), "--tolerance", "-1"])


def test_golden_record_holds_no_paths_of_the_machine(tmp_path, monkeypatch) -> None:
    """Paths under the working directory become relative; other strings stay as they are."""
    from benchmark.gate import _relative_paths

    monkeypatch.chdir(tmp_path)
    record = {"out": str(tmp_path / "runs" / "ci"), "world": [str(tmp_path / "w"), "/elsewhere/w"],
              "n": 3, "name": str(tmp_path) + "x/y"}
    assert _relative_paths(record, tmp_path) == {"out": "runs/ci", "world": ["w", "/elsewhere/w"], "n": 3,
                                                 "name": str(tmp_path) + "x/y"}
