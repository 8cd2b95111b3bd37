"""Inputs that must be refused at the edge, naming the file, key and value (issue 18): run configs at planning
(``gaitbench run --dry-run``), and the tables and golden files the regression gate reads (exit 2: unusable input,
never 0 "pass" or 1 "regression")."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmark.cli import main
from benchmark.gate import GateError, read_golden, read_run
from benchmark.results import Row, write_csv

REPO = Path(__file__).resolve().parents[1]
CI = (REPO / "configs" / "ci.toml").read_text(encoding="utf-8")


# ------------------------------------------------------------------------------------------ run configs


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("[recognizers.wu2017-mt]\nepochs = 2", "[recognizers.wu2017-mt]\nepochs = -1",
         "recognizers.wu2017-mt: wu2017-mt config: epochs must be >= 0, got -1"),
        ("lr = 0.002\nsweep", "lr = nan\nsweep", "stgan config: lr must be a finite number, got nan"),
        ("lr = 0.002\nsweep", "lr = -inf\nsweep", "stgan config: lr must be a finite number, got -inf"),
        ("lr = 0.002\nsweep", "lr = -0.5\nsweep", "stgan config: lr must be > 0, got -0.5"),
        ("[recognizers.zheng2011]\n", "[recognizers.zheng2011]\nrank = 0\n", "zheng2011 config: rank must be >= 1"),
        ("[recognizers.zheng2011]\n", "[recognizers.zheng2011]\nheight = 7\n",
         "zheng2011 config: height must be a whole number >= 8, got 7"),
        ('path = "../worlds/ci-run"', 'path = ""', "path must name a dataset folder"),
        ('path = "../worlds/ci-run"', 'path = "run.toml"', "run.toml is a file; it must be a dataset folder"),
        ('protocol = "protocols/ci.toml"', 'protocol = "protocols/ci.toml"\ncache_dir = "run.toml"',
         "cache_dir", ),
        ("views = [0, 90, 180]", "views = [0, 0]", "views repeat a view: [0, 0]"),
        ("frames = 6", "frames = 1000000000", "pictures: frames must lie in 1..64"),
        ("views = [0, 90]\nframes = 6", "views = []\nframes = 6", "views must name at least one view"),
        ('name = "ci"', 'name = "../../../x"', "name '../../../x' must be letters, digits"),
        ("views = [0, 90, 180]", "views = []", "world: views must name at least one view"),
        ("ks = [1, 3]", "ks = [1, 1000]",
         "evaluate.ks: ranks [1000] exceed the gallery's 5 subjects"),
    ],
)
def test_run_configs_are_refused_at_planning(tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str,
                                              new: str, message: str) -> None:
    assert old in CI, old
    (tmp_path / "protocols").mkdir()
    (tmp_path / "protocols" / "ci.toml").write_text((REPO / "configs" / "protocols" / "ci.toml").read_text())
    text = CI.replace(old, new, 1).replace('path = "../worlds/ci-run"', f'path = "{tmp_path / "world"}"')
    config = tmp_path / "run.toml"
    config.write_text(text)
    assert main(["run", str(config), "--dry-run"]) == 2
    assert message in capsys.readouterr().err


def test_a_dry_run_refuses_an_unknown_stop_after(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(REPO / "configs" / "ci.toml"), "--dry-run", "--stop-after", "recognizer zheng2012"]) == 2
    err = capsys.readouterr().err
    assert "no stage 'recognizer zheng2012' in this run; did you mean 'recognizer zheng2011'" in err


# ------------------------------------------------------------------------------------------ the gate's inputs


def _rows(value: float = 0.4, n: int = 30) -> list[Row]:
    return [Row(method="stgan", parameters="alpha=0.3", evaluator="zheng2011", condition="all", view=-1,
                metric="success_rate", value=value, n=n, k=1)]


def _run(folder: Path, rows: list[Row]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_csv(rows, folder / "results.csv")
    return folder


@pytest.mark.parametrize(
    ("field", "text", "message"),
    [
        ("value", "inf", "column 'value' must be finite"),
        ("value", "1e309", "column 'value' must be finite"),
        ("value", "7.5", "success_rate = 7.5 lies outside [0, 1]"),
        ("value", "-0.1", "success_rate = -0.1 lies outside [0, 1]"),
        ("n", "-5", "column 'n' must be a whole number >= 0, got -5"),
        ("n", "2.5", "column 'n' must be a whole number >= 0, got 2.5"),
        ("k", "1.5", "column 'k' must be a whole number >= 0"),
    ],
)
def test_impossible_run_values_are_refused_not_judged(tmp_path: Path, field: str, text: str, message: str) -> None:
    folder = _run(tmp_path / "run", _rows())
    csv = folder / "results.csv"
    header, line = csv.read_text().splitlines()[:2]
    cells = line.split(",")
    cells[header.split(",").index(field)] = text
    csv.write_text(f"{header}\n{','.join(cells)}\n")
    with pytest.raises(GateError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
                       .replace("]", r"\]").replace(".", r"\.")):
        read_run(folder)


def test_an_empty_results_file_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "results.csv").write_text("")
    with pytest.raises(GateError, match=rf"{folder / 'results.csv'} is empty"):
        read_run(folder)


def _golden(path: Path, **changes: object) -> Path:
    row = {"method": "stgan", "parameters": "alpha=0.3", "evaluator": "zheng2011", "condition": "all", "view": -1,
           "metric": "success_rate", "k": 1, "value": 0.4, "n": 30, "ci_low": 0.25, "ci_high": 0.57, "runs": 3,
           "spread": 0.02, "sampling_se": 0.09, **changes}
    path.write_text(json.dumps({"format": "gaitbench-golden", "format_version": 2, "rows": [row]}, allow_nan=True))
    return path


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"value": None}, "no value; a golden row must hold one"),
        ({"value": math.nan}, "NaN is not a JSON number"),
        ({"value": -math.inf}, "-Infinity is not a JSON number"),
        ({"value": -1}, "success_rate = -1.0 lies outside [0, 1]"),
        ({"n": -1}, "n = -1 must be >= 1"),
        ({"spread": -0.5}, "spread = -0.5 must be >= 0"),
        ({"runs": 0}, "runs = 0 must be >= 1"),
    ],
)
def test_golden_rows_that_would_stop_gating_are_refused(tmp_path: Path, changes: dict, message: str) -> None:
    path = _golden(tmp_path / "golden.json", **changes)
    with pytest.raises(GateError, match=message.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
        read_golden(path)


def test_unusable_golden_files_exit_2_with_the_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _run(tmp_path / "run", _rows())
    nested = tmp_path / "nested.json"
    nested.write_text("[" * 100_000 + "]" * 100_000)
    folder = tmp_path / "golden-folder"
    folder.mkdir()
    for path, message in ((nested, "nested too deeply"), (folder, "is a folder; name the .json file in it")):
        assert main(["check", str(run), "--golden", str(path)]) == 2
        assert message in capsys.readouterr().err


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.floats(allow_nan=False), st.text(max_size=8)))
def test_a_value_in_results_is_read_or_refused_never_misread(tmp_path_factory: pytest.TempPathFactory,
                                                               cell: float | str) -> None:
    """Whatever stands in a results row's value cell, the gate reads a finite number within [0, 1] or refuses
    the table with GateError; it never hands on an impossible value."""
    folder = _run(tmp_path_factory.mktemp("run"), _rows())
    csv = folder / "results.csv"
    header, line = csv.read_text().splitlines()[:2]
    cells = line.split(",")
    text = repr(cell) if isinstance(cell, float) else cell.replace(",", ";").replace("\n", " ").replace("\r", " ")
    cells[header.split(",").index("value")] = text
    csv.write_text(f"{header}\n{','.join(cells)}\n")
    try:
        frame = read_run(folder)
    except GateError:
        return
    value = float(frame["value"].iloc[0])
    assert math.isnan(value) or 0.0 <= value <= 1.0


# ------------------------------------------------------------------------------------------ plug-in config values


def _numeric_fields() -> list[tuple[str, str, str]]:
    """(table, plug-in, field) for every number in the ci config's recognizer and anonymizer configs."""
    import dataclasses
    import typing

    from benchmark.anonymizer import anonymizer_class
    from benchmark.recognizer import recognizer_class
    from benchmark.registry import load_plugin_declarations

    load_plugin_declarations()
    out = []
    for table, names, lookup in (("recognizers", ("zheng2011", "wu2017-mt"), recognizer_class),
                                 ("anonymizers", ("stgan", "noise-gait", "blur"), anonymizer_class)):
        for name in names:
            cls = lookup(name)
            hints = typing.get_type_hints(cls.Config)
            out += [(table, name, f.name) for f in dataclasses.fields(cls.Config) if hints[f.name] in (int, float)]
    return out


NUMERIC_FIELDS = _numeric_fields()


def _meets_the_conventions(field: str, value: float) -> bool:
    """The rules every plug-in config follows (benchmark.plugin.Plugin.check_config's docstring), written again."""
    if not math.isfinite(value):
        return False
    if field in ("epochs", "seed") or field.endswith("_epochs"):
        return value >= 0
    if field == "lr" or field.endswith("_lr"):
        return value > 0
    if field in ("batch", "batch_size", "rank") or field.endswith("_batch"):
        return value >= 1
    return True


@settings(max_examples=60, deadline=None)
@given(where=st.sampled_from(NUMERIC_FIELDS),
       value=st.floats(allow_nan=True, allow_infinity=True) | st.integers(-10**6, 10**6)
       | st.sampled_from([0, -1, 0.0, -0.0, 1e-300, -1e-300]))
def test_a_config_number_is_refused_naming_it_or_meets_the_rules(where: tuple[str, str, str], value: float) -> None:
    import dataclasses
    import tempfile

    from benchmark.config import ConfigError, load_toml
    from benchmark.runner.config import RunConfig, resolve

    table, name, field = where
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "protocols").mkdir()
        (folder / "protocols" / "ci.toml").write_text((REPO / "configs" / "protocols" / "ci.toml").read_text())
        path = folder / "run.toml"
        path.write_text(CI.replace('path = "../worlds/ci-run"', f'path = "{folder / "world"}"'))
        config = load_toml(RunConfig, path)
        tables = dict(getattr(config, table))
        tables[name] = {**tables[name], field: value}  # as TOML would give it (nan, inf and -inf included)
        # pictures name variants by label, and a seed set in a method's table joins its label: draw none here
        pictures = dataclasses.replace(config.pictures, rows=(), sweep="")
        try:
            resolved = resolve(dataclasses.replace(config, pictures=pictures, **{table: tables}), source=path)
        except ConfigError as exc:
            assert f"{table}.{name}" in str(exc) and field in str(exc), str(exc)
            return
    cfg = resolved.recognizers[name] if table == "recognizers" else \
        next(m.config for m in resolved.methods if m.name == name)
    got = getattr(cfg, field)
    assert _meets_the_conventions(field, got), (field, value, got)
