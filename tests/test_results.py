"""The tidy results table."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from benchmark.results import COLUMNS, Row, format_parameters, per_view_table, read_csv, write_csv


def test_round_trip_and_pivot(tmp_path: Path) -> None:
    rows = [
        Row("stgan", "zheng2011", "nm", 90, "success_rate", 0.75, 40, k=1, parameters=format_parameters({"alpha": 0.3}),
            ci_low=0.6, ci_high=0.86),
        Row("stgan", "zheng2011", "nm", 0, "success_rate", 0.5, 40, k=1, parameters="alpha=0.3"),
        Row("identity", "zheng2011", "nm", 0, "success_rate", 0.125, 40, k=1),
    ]
    written = write_csv(rows, tmp_path / "results.csv")
    assert list(written.columns) == list(COLUMNS)
    back = read_csv(tmp_path / "results.csv")
    assert back["method"].tolist() == ["identity", "stgan", "stgan"]
    assert back["parameters"].tolist() == ["", "alpha=0.3", "alpha=0.3"]
    assert back["view"].tolist() == [0, 0, 90]
    assert math.isnan(back["ci_low"][0]) and back["ci_low"][2] == pytest.approx(0.6)
    table = per_view_table(back[back.method == "stgan"], index=["evaluator"])
    assert table.loc["zheng2011"].tolist() == [50.0, 75.0]


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="must not contain"):
        format_parameters({"a=b": 1})
    with pytest.raises(FileNotFoundError, match="results file .*missing.csv does not exist"):
        read_csv(tmp_path / "missing.csv")
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a gaitbench results table"):
        read_csv(tmp_path / "other.csv")
