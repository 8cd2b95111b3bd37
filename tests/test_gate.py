"""The regression gate: literal golden and run tables whose outcomes are worked out by hand, and the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from benchmark.cli import main
from benchmark.gate import GateError, GateSettings, compare, format_result, read_golden, read_run
from benchmark.record import git_hash
from benchmark.results import Row, to_frame, write_csv

NAN = math.nan


def sr(view: int, value: float, ci: tuple[float, float] = (NAN, NAN), *, k: int = 1, metric: str = "success_rate",
       condition: str = "nm") -> Row:
    """A zheng2011 row of ST-GAN probes (alpha 0.3)."""
    return Row(method="stgan", parameters="alpha=0.3", evaluator="zheng2011", condition=condition, view=view,
               metric=metric, value=value, n=20, k=k, ci_low=ci[0], ci_high=ci[1])


def score(view: int, value: float, metric: str = "frame_score", evaluator: str = "frame-hog") -> Row:
    return Row(method="stgan", parameters="alpha=0.3", evaluator=evaluator, condition="nm", view=view,
               metric=metric, value=value, n=20)


GOLDEN = [sr(0, 0.50), sr(90, 0.40), sr(-1, 0.45), score(90, 0.80), sr(90, 0.30, metric="accuracy")]


def table(rows: list[Row]) -> pd.DataFrame:
    return to_frame(rows)


def outcome(run: list[Row], settings: GateSettings | None = None, golden: list[Row] = GOLDEN) -> dict[tuple, str]:
    result = compare(table(golden), table(run), settings)
    return {(r.metric, r.view): r.status for r in result.table.itertuples()}


def test_changes_within_tolerance_pass() -> None:
    # Default tolerance 0.05: 0.50 -> 0.47 (-0.03), 0.40 -> 0.44 (+0.04), 0.80 -> 0.75 (-0.05, exactly the
    # tolerance, passes). accuracy is not gated by default, so its large rise is not looked at.
    run = [sr(0, 0.47), sr(90, 0.44), sr(-1, 0.45), score(90, 0.75), sr(90, 0.90, metric="accuracy")]
    result = compare(table(GOLDEN), table(run))
    assert result.ok and result.count("pass") == 4 and len(result.table) == 4
    assert format_result(result).endswith(
        "PASS: 4 golden rows of success_rate, frame_score, video_score, mos compared (absolute tolerance): "
        "4 within tolerance, 0 improved, 0 fell, 0 changed, 0 missing; 0 new"
    )


def test_a_fall_beyond_tolerance_at_one_view_fails_and_is_named() -> None:
    # View 90: 0.40 -> 0.34 is a fall of 0.06 > 0.05; views 0 and all hold; 0.80 -> 0.7499 falls by 0.0501.
    run = [sr(0, 0.50), sr(90, 0.34), sr(-1, 0.43), score(90, 0.7499)]
    result = compare(table(GOLDEN), table(run))
    assert not result.ok
    assert outcome(run) == {("success_rate", 0): "pass", ("success_rate", 90): "fall", ("success_rate", -1): "pass",
                            ("frame_score", 90): "fall"}
    text = format_result(result)
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("metric"))
    assert header.split() == ["metric", "evaluator", "method", "parameters", "condition", "view", "k", "golden", "run",
                              "delta", "tolerance"]
    line = next(line for line in lines if line.startswith("success_rate (fall)"))
    assert line.split() == ["success_rate", "(fall)", "zheng2011", "stgan", "alpha=0.3", "nm", "90", "1", "0.4000",
                            "0.3400", "-0.0600", "0.05"]
    line = next(line for line in lines if line.startswith("frame_score (fall)"))
    assert line.split()[-4:] == ["0.8000", "0.7499", "-0.0501", "0.05"]
    assert lines[-1].startswith("FAIL: 4 golden rows") and "2 within tolerance, 0 improved, 2 fell" in lines[-1]


def test_improvements_pass_and_are_reported() -> None:
    run = [sr(0, 0.70), sr(90, 0.40), sr(-1, 0.55), score(90, 0.95)]
    result = compare(table(GOLDEN), table(run))
    assert result.ok
    assert outcome(run) == {("success_rate", 0): "improved", ("success_rate", 90): "pass",
                            ("success_rate", -1): "improved", ("frame_score", 90): "improved"}
    text = format_result(result)
    assert text.startswith("improved beyond tolerance") and "+0.2000" in text and "failing rows" not in text
    assert "3 improved, 0 fell" in text


def test_lower_is_better_and_two_sided_metrics() -> None:
    # accuracy: an anonymizer wants it low, so a rise of 0.1 fails and a fall of 0.1 is an improvement.
    golden = [sr(0, 0.30, metric="accuracy"), sr(90, 0.30, metric="accuracy"),
              score(0, 1.00, "temporal_change_ratio", "silhouette"), score(90, 1.00, "temporal_change_ratio",
                                                                           "silhouette")]
    run = [sr(0, 0.40, metric="accuracy"), sr(90, 0.20, metric="accuracy"),
           score(0, 1.06, "temporal_change_ratio", "silhouette"), score(90, 0.97, "temporal_change_ratio",
                                                                        "silhouette")]
    settings = GateSettings(metrics=("accuracy", "temporal_change_ratio"))
    assert outcome(run, settings, golden) == {("accuracy", 0): "fall", ("accuracy", 90): "improved",
                                              ("temporal_change_ratio", 0): "changed",
                                              ("temporal_change_ratio", 90): "pass"}


def test_missing_rows_fail_and_new_rows_are_listed() -> None:
    run = [sr(0, 0.50), sr(-1, 0.45), score(90, 0.80), sr(180, 0.60), sr(0, NAN, k=3)]
    golden = [*GOLDEN, sr(0, 0.55, k=3)]
    result = compare(table(golden), table(run))
    assert not result.ok
    statuses = {(r.metric, r.view, r.k): r.status for r in result.table.itertuples()}
    assert statuses == {("success_rate", 0, 1): "pass", ("success_rate", 90, 1): "missing",
                        ("success_rate", -1, 1): "pass", ("frame_score", 90, 0): "pass",
                        ("success_rate", 180, 1): "new", ("success_rate", 0, 3): "missing"}
    text = format_result(result)
    missing = [line.split()[6:10] for line in text.splitlines() if line.startswith("success_rate (missing)")]
    assert missing == [["0", "3", "0.5500", "-"], ["90", "1", "0.4000", "-"]]  # (view, k, golden, run)
    assert "new rows (not in the golden file; not checked)" in text and text.endswith("2 missing; 1 new")


def test_per_metric_tolerance() -> None:
    run = [sr(0, 0.47), sr(90, 0.40), sr(-1, 0.45), score(90, 0.72)]  # falls of 0.03 and 0.08
    assert outcome(run, GateSettings(per_metric={"success_rate": 0.02}))[("success_rate", 0)] == "fall"
    assert outcome(run, GateSettings(per_metric={"frame_score": 0.1}))[("frame_score", 90)] == "pass"
    assert outcome(run, GateSettings(tolerance=0.1, per_metric={"success_rate": 0.02})) == {
        ("success_rate", 0): "fall", ("success_rate", 90): "pass", ("success_rate", -1): "pass",
        ("frame_score", 90): "pass"}
    frechet = [score(90, 12.5, "frechet", "zheng2011")]
    with pytest.raises(GateError, match="'frechet' has no default tolerance; give one, e.g. --tolerance frechet=0.1"):
        compare(table(frechet), table(frechet), GateSettings(metrics=("frechet",)))
    assert outcome([score(90, 13.0, "frechet", "zheng2011")], GateSettings(metrics=("frechet",), tolerance=1.0),
                   frechet) == {("frechet", 90): "pass"}
    with pytest.raises(GateError, match="tolerance given for \\['mos_q3'\\], which are not gated"):
        GateSettings(per_metric={"mos_q3": 0.5})


def test_interval_mode() -> None:
    # Golden 0.50 / 0.40 / 0.45. View 0: run 0.38, interval [0.30, 0.52] holds 0.50 -> pass (a fall of 0.12 by
    # the tolerance). View 90: run 0.30, interval [0.22, 0.39] lies below 0.40 -> fall. All views: run 0.60,
    # interval [0.47, 0.72] lies above 0.45 -> improved. frame_score has no interval: tolerance 0.05, 0.80 -> 0.70.
    run = [sr(0, 0.38, (0.30, 0.52)), sr(90, 0.30, (0.22, 0.39)), sr(-1, 0.60, (0.47, 0.72)), score(90, 0.70)]
    by_ci = compare(table(GOLDEN), table(run), GateSettings(use_ci=True))
    assert {(r.metric, r.view): r.status for r in by_ci.table.itertuples()} == {
        ("success_rate", 0): "pass", ("success_rate", 90): "fall", ("success_rate", -1): "improved",
        ("frame_score", 90): "fall"}
    fall = by_ci.failures.set_index(["metric", "view"]).loc[("success_rate", 90)]
    assert fall["tolerance"] == "ci [0.22, 0.39]"
    assert outcome(run)[("success_rate", 0)] == "fall"  # without intervals
    assert "(95% intervals where present, else absolute tolerance)" in format_result(by_ci)


# ---------------------------------------------------------------------------------------------- files and CLI


def write_run(folder: Path, rows: list[Row], mos: list[Row] = (), config: dict | None = None) -> Path:
    write_csv(rows, folder / "results.csv")
    if mos:
        write_csv(list(mos), folder / "results-mos.csv")
    record = {"config": config or {"preset": "ci", "seed": 0}, "git": "abc123", "command": ["gaitbench", "run"]}
    (folder / "run.json").write_text(json.dumps(record))
    return folder


MOS = [Row(method="stgan", parameters="alpha=0.3", evaluator="survey", condition="all", view=90, metric="mos",
           value=3.4, n=30, ci_low=3.1, ci_high=3.7)]


def test_golden_records_provenance_and_refuses_to_overwrite(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    run = write_run(tmp_path / "run", GOLDEN, MOS, config={"preset": "ci", "seed": 3})
    golden = tmp_path / "golden" / "ci.json"
    assert main(["golden", str(run), "--out", str(golden)]) == 0
    assert f"wrote {golden}: 6 rows (accuracy, frame_score, mos, success_rate)" in capsys.readouterr().out
    doc = json.loads(golden.read_text())
    assert doc["format"] == "gaitbench-golden" and doc["format_version"] == 1
    assert doc["made_by"]["command"] == f"gaitbench golden {run} --out {golden}"
    assert doc["made_by"]["git"] == git_hash() and doc["made_by"]["versions"]["gaitbench"]
    assert doc["run"]["record"]["config"] == {"preset": "ci", "seed": 3} and doc["run"]["record"]["git"] == "abc123"
    assert doc["run"]["files"] == ["results.csv", "results-mos.csv"]
    # One row per line, NaN intervals as null.
    lines = [line for line in golden.read_text().splitlines() if line.startswith('    {"method"')]
    assert len(lines) == 6 and '"ci_low": null' in lines[0]
    rows, meta = read_golden(golden)
    pd.testing.assert_frame_equal(rows, read_run(run))
    assert meta["run"]["dir"] == str(run)

    before = golden.read_bytes()
    write_run(run, [sr(0, 0.1)])
    assert main(["golden", str(run), "--out", str(golden)]) == 2
    assert "exists; a golden file is replaced only on purpose: add --force" in capsys.readouterr().err
    assert golden.read_bytes() == before
    assert main(["golden", str(run), "--out", str(golden), "--force"]) == 0
    assert len(json.loads(golden.read_text())["rows"]) == 1 + 1  # results.csv now 1 row; results-mos.csv kept
    assert json.loads(golden.read_text())["made_by"]["command"].endswith("--force")

    (run / "run.json").unlink()
    assert main(["golden", str(run), "--out", str(tmp_path / "other.json")]) == 2
    assert "run.json is missing" in capsys.readouterr().err


def test_check_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    golden = tmp_path / "ci.json"
    assert main(["golden", str(write_run(tmp_path / "base", GOLDEN, MOS)), "--out", str(golden)]) == 0
    capsys.readouterr()

    same = write_run(tmp_path / "same", [sr(0, 0.48), *GOLDEN[1:]], MOS)
    assert main(["check", str(same), "--golden", str(golden)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"golden file {golden}: made by `gaitbench golden ")
    assert out.rstrip().splitlines()[-1].startswith("PASS: 5 golden rows")  # 3 success rates, frame, mos

    # The MOS (from results-mos.csv) falls by 0.3 > 0.2 and one view's success rate by 0.06.
    worse = write_run(tmp_path / "worse", [sr(0, 0.44), *GOLDEN[1:]], [Row(**{**MOS[0].__dict__, "value": 3.1})])
    assert main(["check", str(worse), "--golden", str(golden)]) == 1
    out = capsys.readouterr().out
    assert "mos (fall)" in out and "3.4000" in out and "3.1000" in out and "-0.3000" in out
    assert "success_rate (fall)" in out and out.rstrip().splitlines()[-1].startswith("FAIL: 5 golden rows")
    assert main(["check", str(worse), "--golden", str(golden), "--tolerance", "0.1", "--tolerance", "mos=0.3"]) == 0
    # By intervals the MOS passes (3.4 lies inside [3.1, 3.7]); the success rate has none: tolerance 0.1 for it.
    assert main(["check", str(worse), "--golden", str(golden), "--ci", "--tolerance", "success_rate=0.1"]) == 0
    assert main(["check", str(worse), "--golden", str(golden), "--metrics", "frame_score"]) == 0
    capsys.readouterr()

    # Unusable inputs: exit 2 with the reason.
    cases = [
        (["check", str(tmp_path / "nowhere"), "--golden", str(golden)], "run directory"),
        (["check", str(same), "--golden", str(tmp_path / "none.json")], "gaitbench golden RUN_DIR --out"),
        (["check", str(same), "--golden", str(golden), "--metrics", "succes_rate"], "did you mean 'success_rate'"),
        (["check", str(same), "--golden", str(golden), "--metrics", "video_score"], "no rows of the gated metrics"),
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
