"""gaitbench report: tables, figures and the HTML page from hand-built results tables with hand-computed values."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection
from matplotlib.container import BarContainer, ErrorbarContainer

from benchmark.cli import main
from benchmark.results import Row, to_frame, write_csv
from reports import figures, tables
from reports.report import build_report, parse_formats, safe_name
from reports.run_dir import load_run
from reports.summary import summarize

SR = "success_rate"
STGAN = "stgan (alpha=0.3)"


def rates(method: str, parameters: str, cells: dict[tuple[str, int], tuple[float, int]], *, k: int = 1,
          evaluator: str = "rec", metric: str = SR) -> list[Row]:
    """Rows per (condition, view) plus, per condition, the view -1 row pooled over views (as evaluate writes)."""
    rows = [Row(method, evaluator, c, v, metric, value, n, k=k, parameters=parameters)
            for (c, v), (value, n) in cells.items()]
    for condition in sorted({c for c, _ in cells}):
        mine = [(value, n) for (c, _), (value, n) in cells.items() if c == condition]
        n = sum(n for _, n in mine)
        rows.append(Row(method, evaluator, condition, -1, metric, sum(v * m for v, m in mine) / n, n, k=k,
                        parameters=parameters))
    return rows


# Hand-computed pooled top-1 success rates (conditions nm and bg, weighted by n):
#   identity view 0:  (0.10 * 10 + 0.40 * 30) / 40 = 13 / 40 = 0.325
#   identity view 90: (0.20 * 10 + 0.50 * 10) / 20 = 0.35
#   identity all:     nm (1 + 2) / 20 = 0.15 (n 20), bg (12 + 5) / 40 = 0.425 (n 40) -> (3 + 17) / 60 = 1/3
#   stgan view 0:     (0.90 * 10 + 0.70 * 30) / 40 = 30 / 40 = 0.75
#   stgan view 90:    (0.80 * 10 + 0.60 * 10) / 20 = 0.70
#   stgan all:        nm 0.85 (n 20), bg (21 + 6) / 40 = 0.675 (n 40) -> (17 + 27) / 60 = 44 / 60
TOP1 = {"identity": {"0": 0.325, "90": 0.35, "all": 1 / 3}, STGAN: {"0": 0.75, "90": 0.70, "all": 44 / 60}}
# Top-3: identity 0 everywhere; stgan nm 0.5 / bg 0.3 at both views -> view 0: (5 + 9) / 40 = 0.35,
#   view 90: (5 + 3) / 20 = 0.4, all: (10 + 12) / 60 = 22 / 60
TOP3_STGAN = {"0": 0.35, "90": 0.40, "all": 22 / 60}
# frame scores by "frame-x": identity nm 0.9 (n 5) / bg 0.8 (n 15) at view 0 -> 0.825; 0.9 / 0.9 at 90 -> 0.9;
#   stgan 0.6 / 0.7 at view 0 -> (3 + 10.5) / 20 = 0.675; 0.5 / 0.5 at 90 -> 0.5
FRAME = {"identity": {"0": 0.825, "90": 0.9}, STGAN: {"0": 0.675, "90": 0.5}}


def success_rows() -> list[Row]:
    return [
        *rates("identity", "", {("nm", 0): (0.10, 10), ("bg", 0): (0.40, 30), ("nm", 90): (0.20, 10),
                                ("bg", 90): (0.50, 10)}),
        *rates("stgan", "alpha=0.3", {("nm", 0): (0.90, 10), ("bg", 0): (0.70, 30), ("nm", 90): (0.80, 10),
                                      ("bg", 90): (0.60, 10)}),
        *rates("identity", "", {("nm", 0): (0.0, 10), ("bg", 0): (0.0, 30), ("nm", 90): (0.0, 10),
                                ("bg", 90): (0.0, 10)}, k=3),
        *rates("stgan", "alpha=0.3", {("nm", 0): (0.5, 10), ("bg", 0): (0.3, 30), ("nm", 90): (0.5, 10),
                                      ("bg", 90): (0.3, 10)}, k=3),
    ]


def frame_rows() -> list[Row]:
    def score(method: str, parameters: str, cells: dict[tuple[str, int], tuple[float, int]]) -> list[Row]:
        return rates(method, parameters, cells, k=0, evaluator="frame-x", metric="frame_score")
    return [*score("identity", "", {("nm", 0): (0.9, 5), ("bg", 0): (0.8, 15), ("nm", 90): (0.9, 5),
                                    ("bg", 90): (0.9, 5)}),
            *score("stgan", "alpha=0.3", {("nm", 0): (0.6, 5), ("bg", 0): (0.7, 15), ("nm", 90): (0.5, 5),
                                          ("bg", 90): (0.5, 5)})]


def sweep_rows() -> list[Row]:
    """stgan at alpha 0.2, 0.3 (seeds 0 and 1) and 0.4; nm probes only, n 10."""
    rows = []
    for parameters, (v0, v90) in {"alpha=0.2": (0.5, 0.6), "alpha=0.3": (0.7, 0.8), "alpha=0.3;seed=1": (0.9, 0.6),
                                  "alpha=0.4": (1.0, 0.9)}.items():
        rows += rates("stgan", parameters, {("nm", 0): (v0, 10), ("nm", 90): (v90, 10)})
    for parameters, (v0, v90) in {"alpha=0.2": (0.97, 0.96), "alpha=0.4": (0.95, 0.93)}.items():
        rows += rates("stgan", parameters, {("nm", 0): (v0, 4), ("nm", 90): (v90, 4)}, k=0, evaluator="frame-x",
                      metric="frame_score")
    return rows


def mos_rows() -> list[Row]:
    rows = []
    for method, parameters, base in (("noise-gait", "", 2.0), ("stgan", "alpha=0.3", 3.0)):
        for view in (0, 90):
            shift = view / 90 * 0.5
            for metric, value in (("mos", base + 0.2 + shift), ("mos_q1", base + shift), ("mos_median", base + 0.1),
                                  ("mos_q3", base + 1.0), ("mos_min", 1.0), ("mos_max", 5.0)):
                rows.append(Row(method, "survey", "all", view, metric, value, 20, parameters=parameters))
    return rows


def frame_of(rows: list[Row]) -> pd.DataFrame:
    return to_frame(rows)


def wilson(successes: float, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The Wilson score interval written out from its textbook form (Wilson 1927; Agresti and Coull 1998, eq. 4),
    the independent reference for the report's pooled intervals."""
    p = successes / n
    centre = p + z**2 / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    return ((centre - half) / (1 + z**2 / n), (centre + half) / (1 + z**2 / n))


def overall(method: str, parameters: str, metric: str, value: float, low: float, high: float, *, k: int = 1,
            evaluator: str = "rec", chance: float | None = None, n: int = 45) -> Row:
    """A row over every probe (condition all, view -1) with its interval, as evaluate and the scorers write it."""
    return Row(method, evaluator, "all", -1, metric, value, n, k=k, parameters=parameters, ci_low=low, ci_high=high,
               chance=chance)


# The trade-off example: (frame score, top-1 success rate) per variant, chance 0.8, with 95% intervals.
#   Pareto front of the anonymizers, by hand: blur (0.40, 0.75) is the most private (mask ties it on y, less natural);
#   stgan 0.3 (0.80, 0.70) and stgan 0.2 (0.90, 0.60) trade between; stgan 0.4 (0.60, 0.65) is dominated by stgan
#   0.3, noise-gait (0.85, 0.55) by stgan 0.2; identity (0.95, 0.30) is no anonymizer and is left out.
TRADE = {("identity", ""): (0.95, 0.30, 0.20), ("stgan", "alpha=0.2"): (0.90, 0.60, 0.40),
         ("stgan", "alpha=0.3"): (0.80, 0.70, 0.45), ("stgan", "alpha=0.4"): (0.60, 0.65, 0.48),
         ("blur", "sigma=8"): (0.40, 0.75, 0.52), ("mask", ""): (0.30, 0.75, 0.50),
         ("noise-gait", "beta=0.3"): (0.85, 0.55, 0.42)}
FRONT = ("blur (sigma=8)", "stgan (alpha=0.3)", "stgan (alpha=0.2)")


def tradeoff_rows() -> list[Row]:
    rows = []
    for (method, parameters), (nat, sr, eer) in TRADE.items():
        rows += [overall(method, parameters, "frame_score", nat, nat - 0.02, nat + 0.03, k=0, evaluator="frame-x"),
                 overall(method, parameters, SR, sr, sr - 0.15, sr + 0.10, chance=0.8),
                 overall(method, parameters, "eer", eer, eer - 0.05, eer + 0.04, k=0, chance=0.5),
                 overall(method, parameters, "rank", eer - 0.01, eer - 0.06, eer + 0.04, k=0, chance=0.5)]
    return rows


def make_run(root: Path, rows: list[Row], *, extra: dict[str, list[Row]] | None = None,
             record: dict | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    write_csv(rows, root / "results.csv")
    for name, more in (extra or {}).items():
        write_csv(more, root / f"results-{name}.csv")
    if record is not None:
        (root / "run.json").write_text(json.dumps(record))
    return root


# ------------------------------------------------------------------------------------------------------------
# tables


def test_pooled_success_rates_are_n_weighted_means() -> None:
    frame = frame_of(success_rows())
    top1 = tables.by_view(frame, metric=SR, evaluator="rec", k=1)
    assert list(top1.index) == ["identity", STGAN]
    assert list(top1.columns) == ["0", "90", "all"]
    for variant, expected in TOP1.items():
        for column, value in expected.items():
            assert top1.loc[variant, column] == pytest.approx(value, abs=1e-12), (variant, column)
    top3 = tables.by_view(frame, metric=SR, evaluator="rec", k=3)
    assert top3.loc[STGAN].to_dict() == pytest.approx(TOP3_STGAN)
    # one condition alone is not pooled
    bg = tables.by_view(frame, metric=SR, evaluator="rec", k=1, condition="bg")
    assert bg.loc["identity"].to_dict() == pytest.approx({"0": 0.40, "90": 0.50, "all": 0.425})
    # without view -1 rows the "all" column is the n-weighted mean over views: identity (13 + 7) / 60
    no_all = frame[frame["view"] != -1]
    assert tables.by_view(no_all, metric=SR, evaluator="rec", k=1).loc["identity", "all"] == pytest.approx(1 / 3)
    # a condition "all" row is used as it is, not pooled with the others
    extra = frame_of([Row("identity", "rec", "all", 0, SR, 0.9, 99, k=1)])
    both = pd.concat([frame, extra], ignore_index=True)
    assert tables.by_view(both, metric=SR, evaluator="rec", k=1).loc["identity", "0"] == pytest.approx(0.9)


def test_markdown_latex_csv_hold_the_hand_computed_numbers() -> None:
    table = tables.success_tables(frame_of(success_rows()), {"rec": "a recognizer"})[0]
    assert table.name == "success-top1-rec"
    md = tables.to_markdown(table)
    lines = md.splitlines()
    assert "| method | 0 | 90 | all |" in lines
    assert "| identity | 32.5 | 35.0 | 33.3 |" in lines
    assert "| stgan (alpha=0.3) | 75.0 | 70.0 | 73.3 |" in lines
    assert lines.index("| identity | 32.5 | 35.0 | 33.3 |") < lines.index("| stgan (alpha=0.3) | 75.0 | 70.0 | 73.3 |")
    assert "Produced by rec (a recognizer)" in md and "n = 20 to 40 probes per view" in md

    tex = tables.to_latex(table).splitlines()
    assert tex[tex.index(r"\toprule") + 1] == r"method & 0 & 90 & all \\"
    body = tex[tex.index(r"\midrule") + 1 : tex.index(r"\bottomrule")]
    assert body == [r"identity & 32.5 & 35.0 & 33.3 \\", r"stgan (alpha=0.3) & 75.0 & 70.0 & 73.3 \\"]
    assert r"\begin{tabular}{lrrr}" in tex and r"\label{tab:success-top1-rec}" in tex

    csv = tables.to_csv(table).splitlines()
    assert csv == ["method,0,90,all", "identity,32.5,35,33.3333", "stgan (alpha=0.3),75,70,73.3333"]


def test_latex_escapes_special_characters() -> None:
    assert tables.latex_escape("a_b & 50% {x}") == r"a\_b \& 50\% \{x\}"


def test_naturalness_table_per_scorer() -> None:
    found = tables.naturalness_tables(frame_of(frame_rows()), {})
    assert [t.name for t in found] == ["frame-score-frame-x"]
    values = found[0].frame
    for variant, expected in FRAME.items():
        assert values.loc[variant, ["0", "90"]].tolist() == pytest.approx([expected["0"], expected["90"]])
    # all: identity nm (4.5 + 4.5) / 10 = 0.9 (n 10), bg (12 + 4.5) / 20 = 0.825 (n 20) -> (9 + 16.5) / 30
    assert values.loc["identity", "all"] == pytest.approx(25.5 / 30)
    assert "| identity | 0.8250 | 0.9000 | 0.8500 |" in tables.to_markdown(found[0])


def test_alpha_tables_rows_are_alphas_and_seeds_are_averaged() -> None:
    frame = frame_of(sweep_rows())
    sweep = tables.alpha_sweep(frame, metric=SR, evaluator="rec", k=1)["stgan"]
    assert list(sweep.mean.index) == ["0.2", "0.3", "0.4"] and sweep.alphas == (0.2, 0.3, 0.4)
    assert list(sweep.mean.columns) == ["0", "90", "all"]
    assert sweep.seeds.tolist() == [1, 2, 1]
    # alpha 0.3: seeds give 0.7 / 0.9 at view 0 and 0.8 / 0.6 at 90 -> mean 0.8 / 0.7, range 0.7-0.9 / 0.6-0.8
    assert sweep.mean.loc["0.3", ["0", "90"]].tolist() == pytest.approx([0.8, 0.7])
    assert sweep.low.loc["0.3", ["0", "90"]].tolist() == pytest.approx([0.7, 0.6])
    assert sweep.high.loc["0.3", ["0", "90"]].tolist() == pytest.approx([0.9, 0.8])
    assert sweep.mean.loc["0.4", ["0", "90", "all"]].tolist() == pytest.approx([1.0, 0.9, 0.95])

    found = {t.name: t for t in tables.alpha_tables(frame, {})}
    assert set(found) == {"alpha-stgan-success-top1-rec", "alpha-stgan-success-top1-rec-range",
                          "alpha-stgan-frame-score-frame-x"}
    md = tables.to_markdown(found["alpha-stgan-success-top1-rec"]).splitlines()
    assert "| alpha | 0 | 90 | all |" in md
    assert "| 0.3 | 80.0 | 70.0 | 75.0 |" in md
    # over all views both seeds of alpha 0.3 give 0.75 ((0.7 + 0.8) / 2 and (0.9 + 0.6) / 2): no range there
    assert "| 0.3 | 20.0 | 20.0 | 0.0 |" in tables.to_markdown(found["alpha-stgan-success-top1-rec-range"])
    frame_md = tables.to_markdown(found["alpha-stgan-frame-score-frame-x"]).splitlines()
    assert frame_md[2:6] == ["| alpha | 0 | 90 | all |", "|---|---|---|---|", "| 0.2 | 0.9700 | 0.9600 | 0.9650 |",
                             "| 0.4 | 0.9500 | 0.9300 | 0.9400 |"]


def test_mos_box_input() -> None:
    boxes = tables.mos_boxes(frame_of(mos_rows()))
    assert boxes[["method", "view"]].values.tolist() == [["noise-gait", 0], ["noise-gait", 90],
                                                         [STGAN, 0], [STGAN, 90]]
    row = boxes.iloc[3]  # stgan at 90: base 3.0, shift 0.5
    assert [row[s] for s in ("mean", "q1", "median", "q3", "min", "max")] == pytest.approx([3.7, 3.5, 3.1, 4.0, 1, 5])
    assert row["n"] == 20
    table = tables.mos_table(frame_of(mos_rows()), {"survey": "20 raters"})
    assert table is not None
    md = tables.to_markdown(table).splitlines()
    assert "| method | statistic | 0 | 90 |" in md
    assert "| noise-gait | mean | 2.20 | 2.70 |" in md and "| stgan (alpha=0.3) | q1 | 3.00 | 3.50 |" in md


def test_parameters_and_labels() -> None:
    assert tables.parse_parameters("alpha=0.3;seed=1") == {"alpha": "0.3", "seed": "1"}
    assert tables.variant_label("stgan", "alpha=0.3;seed=1") == "stgan (alpha=0.3, seed=1)"
    with pytest.raises(ValueError, match="not key=value"):
        tables.parse_parameters("alpha")
    assert safe_name("../a b/<x>") == "_a_b__x_"
    assert parse_formats("PNG, pdf") == ("png", "pdf")
    with pytest.raises(ValueError, match="unknown figure format 'svg'"):
        parse_formats("png,svg")


# ------------------------------------------------------------------------------------------------------------
# figures: the plotted data read back from the Axes equals the tables


def test_success_figure_bars_equal_the_table() -> None:
    frame = frame_of(success_rows())
    fig = figures.success_figure(frame, "rec", "rec (a recognizer)")
    top1, top3 = fig.axes[:2]
    heights = {c.get_label(): [p.get_height() for p in c.patches] for c in top1.containers
               if isinstance(c, BarContainer)}
    assert heights == {"identity": pytest.approx([32.5, 35.0]), STGAN: pytest.approx([75.0, 70.0])}
    heights3 = {c.get_label(): [p.get_height() for p in c.patches] for c in top3.containers
                if isinstance(c, BarContainer)}
    assert heights3[STGAN] == pytest.approx([35.0, 40.0])
    assert [t.get_text() for t in top1.get_xticklabels()] == ["0°", "90°"]
    assert "rec (a recognizer)" in fig.get_suptitle()


def test_score_figure_lines_equal_the_table_and_title_names_the_scorer() -> None:
    fig = figures.score_figure(frame_of(frame_rows()), "frame-x", "frame_score", "frame-x (a detector)")
    ax = fig.axes[0]
    lines = {line.get_label(): (np.asarray(line.get_xdata()).tolist(), np.asarray(line.get_ydata()).tolist())
             for line in ax.lines}
    assert lines["identity"] == ([0, 90], pytest.approx([0.825, 0.9]))
    assert lines[STGAN] == ([0, 90], pytest.approx([0.675, 0.5]))
    assert ax.get_title() == "frame score: frame-x (a detector)"  # no intervals in these rows: no band
    assert not [c for c in ax.collections if str(c.get_gid()).startswith("band:")]


def test_score_figure_bands_span_each_view_s_interval() -> None:
    rows = [Row("stgan", "frame-x", "nm", view, "frame_score", value, 20, parameters="alpha=0.3", ci_low=low,
                ci_high=high) for view, (value, low, high) in {0: (0.9, 0.85, 0.95), 90: (0.7, 0.6, 0.75)}.items()]
    ax = figures.score_figure(frame_of(rows), "frame-x", "frame_score").axes[0]
    (band,) = [c for c in ax.collections if str(c.get_gid()).startswith("band:")]
    assert band.get_gid() == f"band:{STGAN}"
    assert sorted({(round(x, 6), round(y, 6)) for x, y in band.get_paths()[0].vertices}) == [
        (0.0, 0.85), (0.0, 0.95), (90.0, 0.6), (90.0, 0.75)]
    assert ax.get_title().endswith("bands: 95% intervals (Student-t over sequences)")


def _dial_rows() -> list[Row]:
    """stgan at alpha 0.1 and 0.2 under three seeds and 0.4 under one (with its own interval), one view, n 10."""
    rows = []
    for alpha, values in (("0.1", (0.2, 0.3, 0.4)), ("0.2", (0.5, 0.6, 0.7))):
        for seed, value in enumerate(values):
            rows += rates("stgan", f"alpha={alpha};seed={seed}", {("nm", 90): (value, 10)})
    rows += [Row("stgan", "rec", "nm", view, SR, 0.55, 10, k=1, parameters="alpha=0.4;seed=0", ci_low=0.3,
                 ci_high=0.75) for view in (90, -1)]
    for alpha, values in (("0.1", (0.99, 0.97, 0.98)), ("0.2", (0.90, 0.92, 0.94))):
        for seed, value in enumerate(values):
            rows += rates("stgan", f"alpha={alpha};seed={seed}", {("nm", 90): (value, 4)}, k=0, evaluator="frame-x",
                          metric="frame_score")
    return rows


def test_dial_intervals_over_seeds_and_verdicts() -> None:
    frame = frame_of(_dial_rows())
    table = tables.dial(frame, metric=SR, evaluator="rec", k=1, method="stgan")
    # three seeds: mean +- t(0.975, 2) * s / sqrt(3), t = 4.302652729749464 and s = 0.1 for both alphas
    half = 4.302652729749464 * 0.1 / math.sqrt(3)
    assert list(table.index) == ["0.1", "0.2", "0.4"]
    assert table.loc["0.1"].tolist() == pytest.approx([0.3, 0.3 - half, 0.3 + half, 3])
    assert table.loc["0.2"].tolist() == pytest.approx([0.6, 0.6 - half, 0.6 + half, 3])
    assert table.loc["0.4"].tolist() == pytest.approx([0.55, 0.3, 0.75, 1])  # one seed: the probes' interval
    verdict = tables.dial_verdict(table, rising=True, scale=100, digits=1)
    assert verdict == ("means do not rise strictly with alpha: not from 0.2 to 0.4 (60.0 to 55.0); 95% intervals "
                       "overlap between alphas 0.1-0.2, 0.2-0.4")
    frames = tables.dial(frame, metric="frame_score", evaluator="frame-x", method="stgan")
    # s = 0.01 and 0.02: the intervals 0.98 +- 0.0248 and 0.92 +- 0.0497 overlap (0.9552 <= 0.9697)
    assert frames["high"].tolist() == pytest.approx([0.98 + half / 10, 0.92 + half / 5])
    assert tables.dial_verdict(frames, rising=False) == (
        "means fall strictly with alpha (0.1 to 0.2: 0.9800 to 0.9200); 95% intervals overlap between alphas 0.1-0.2")
    apart = pd.DataFrame({"mean": [0.1, 0.5], "low": [0.0, 0.4], "high": [0.2, 0.6], "seeds": [3, 3]},
                         index=["0.1", "0.2"])
    assert tables.dial_verdict(apart, rising=True).endswith("no two neighbouring 95% intervals overlap")

    (privacy, lines), (natural, _) = tables.dial_tables(frame, {})
    assert privacy.name == "dial-stgan-privacy" and natural.name == "dial-stgan-naturalness"
    md = tables.to_markdown(privacy).splitlines()
    assert "| measure | alpha | seeds | mean | low | high |" in md
    assert f"| top-1 success, rec | 0.1 | 3 | 30.0 | {100 * (0.3 - half):.1f} | {100 * (0.3 + half):.1f} |" in md
    assert "| top-1 success, rec | 0.4 | 1 | 55.0 | 30.0 | 75.0 |" in md
    assert lines == [f"top-1 success, rec: {verdict}."]


def test_alpha_figure_means_and_seed_spread() -> None:
    fig = figures.alpha_figure(frame_of(sweep_rows()), "rec", topk=[1])
    ax = fig.axes[0]
    found = {}
    for container in ax.containers:
        assert isinstance(container, ErrorbarContainer)
        line, _, bars = container.lines
        found[container.get_label()] = (np.asarray(line.get_ydata()).tolist(), bars)
    assert set(found) == {"alpha = 0.2", "alpha = 0.3 (2 seeds)", "alpha = 0.4"}
    assert found["alpha = 0.2"][0] == pytest.approx([50.0, 60.0])
    assert found["alpha = 0.2"][1] == ()  # one seed: no spread drawn
    mean, bars = found["alpha = 0.3 (2 seeds)"]
    assert mean == pytest.approx([80.0, 70.0])
    (collection,) = bars
    assert isinstance(collection, LineCollection)
    segments = [np.asarray(s) for s in collection.get_segments()]
    assert [s[:, 1].tolist() for s in segments] == [pytest.approx([70.0, 90.0]), pytest.approx([60.0, 80.0])]


def test_alpha_figure_draws_seeds_that_agree_at_a_view() -> None:
    """Three seeds all at 10% at view 0: their float mean (0.10000000000000002) lies a rounding step above their
    maximum, which must give an empty bar there, not a refused negative one."""
    rows = []
    for seed, v90 in enumerate((0.2, 0.4, 0.6)):
        rows += rates("stgan", f"alpha=0.3;seed={seed}", {("nm", 0): (0.1, 10), ("nm", 90): (v90, 10)})
    rows += rates("stgan", "alpha=0.2", {("nm", 0): (0.5, 10), ("nm", 90): (0.5, 10)})
    fig = figures.alpha_figure(frame_of(rows), "rec", topk=[1])
    (container,) = [c for c in fig.axes[0].containers if c.get_label() == "alpha = 0.3 (3 seeds)"]
    line, _, (bars,) = container.lines
    assert np.asarray(line.get_ydata()).tolist() == pytest.approx([10.0, 40.0])
    segments = [np.asarray(s)[:, 1].tolist() for s in bars.get_segments()]
    assert segments == [pytest.approx([10.0, 10.0]), pytest.approx([20.0, 60.0])]
    # with seeds, each alpha's line is moved sideways so that the ranges do not hide each other: alpha 0.2 (first
    # of two) by -0.5 step, alpha 0.3 by +0.5 step, a step being DODGE of the 90-degree span; ticks stay at views
    step = figures.DODGE * 90
    xs = {c.get_label(): np.asarray(c.lines[0].get_xdata()).tolist() for c in fig.axes[0].containers}
    assert xs == {"alpha = 0.2": pytest.approx([-step / 2, 90 - step / 2]),
                  "alpha = 0.3 (3 seeds)": pytest.approx([step / 2, 90 + step / 2])}
    assert fig.axes[0].get_xticks().tolist() == [0, 90]


def test_alpha_figure_bands_single_seeds_by_their_intervals_and_marks_chance() -> None:
    # one seed per alpha, each row with its own interval and chance 0.8: the band spans the interval per view
    rows = []
    for parameters, cells in {"alpha=0.2": {0: (0.5, 0.4, 0.6), 90: (0.6, 0.5, 0.7)},
                              "alpha=0.4": {0: (0.7, 0.55, 0.8), 90: (0.9, 0.8, 0.95)}}.items():
        rows += [Row("stgan", "rec", "nm", view, SR, value, 10, k=1, parameters=parameters, ci_low=low, ci_high=high,
                     chance=0.8) for view, (value, low, high) in cells.items()]
    fig = figures.alpha_figure(frame_of(rows), "rec", topk=[1])
    ax = fig.axes[0]
    bands = {c.get_gid(): c for c in ax.collections if str(c.get_gid()).startswith("band:")}
    assert set(bands) == {"band:0.2", "band:0.4"}
    # fill_between's polygon: the low edge left to right, then the high edge right to left
    vertices = bands["band:0.4"].get_paths()[0].vertices
    assert sorted({(round(x, 6), round(y, 6)) for x, y in vertices}) == [
        (0.0, 55.0), (0.0, 80.0), (90.0, 80.0), (90.0, 95.0)]
    (chance,) = [line for line in ax.lines if line.get_gid() == "chance"]
    assert np.asarray(chance.get_ydata()).tolist() == pytest.approx([80.0, 80.0])
    assert "bands: 95% intervals" in fig.get_suptitle()


def test_mos_figure_boxes_from_quartiles() -> None:
    fig = figures.mos_figure(frame_of(mos_rows()))
    ax = fig.axes[0]
    by_gid: dict[str, list] = {}
    for artist in [*ax.lines, *ax.patches]:
        gid = artist.get_gid()
        if gid:
            by_gid.setdefault(gid, []).append(artist)
    assert by_gid[f"median:{STGAN}:90"][0].get_ydata().tolist() == pytest.approx([3.1, 3.1])
    mean = by_gid[f"mean:{STGAN}:90"][0]
    assert mean.get_marker() == "^" and mean.get_ydata().tolist() == pytest.approx([3.7])
    box = by_gid[f"box:{STGAN}:90"][0].get_path().get_extents()
    assert (box.y0, box.y1) == pytest.approx((3.5, 4.0))
    whiskers = sorted(y for w in by_gid[f"whisker:{STGAN}:90"] for y in w.get_ydata())
    assert (whiskers[0], whiskers[-1]) == pytest.approx((1.0, 5.0))
    assert by_gid["median:noise-gait:0"][0].get_ydata().tolist() == pytest.approx([2.1, 2.1])


def test_pdf_has_no_date_and_is_reproducible() -> None:
    frame = frame_of(frame_rows())
    a = figures.figure_bytes(figures.score_figure(frame, "frame-x", "frame_score"), "pdf")
    b = figures.figure_bytes(figures.score_figure(frame, "frame-x", "frame_score"), "pdf")
    assert a == b and b"CreationDate" not in a


# ------------------------------------------------------------------------------------------------------------
# the summary and the whole report


def test_summary_names_the_winner_view_and_cost() -> None:
    frame = frame_of([*success_rows(), *frame_rows()])
    lines = summarize(frame, {"rec": "a recognizer"})
    # the interval over all views: Wilson of 44 of 60 probes (stgan's nm and bg rows pooled) = 61.0% to 82.9%
    assert lines[0] == (
        "Against rec (a recognizer), stgan (alpha=0.3) anonymizes best: top-1 success rate 73.3% [95% interval "
        "61.0% to 82.9%] over all views; no other anonymizer to compare with. stgan (alpha=0.3): highest at 0° "
        "(75.0%), lowest at 90° (70.0%); top-3 36.7%; clean probes (identity): 33.3%."
    )
    assert [f"{100 * x:.1f}" for x in wilson(44, 60)] == ["61.0", "82.9"]
    # frame score over all views: stgan nm (3 + 2.5) / 10 = 0.55, bg (10.5 + 2.5) / 20 = 0.65 -> 18.5 / 30;
    # identity 25.5 / 30; change 18.5 / 25.5 - 1 = -27.5%
    assert lines[1] == ("Cost in naturalness of stgan (alpha=0.3): frame score by frame-x 0.6167 against 0.8500 "
                        "for the clean data (-27.5%).")
    assert lines[2] == "No survey (MOS) results in this run."


def _picture(root: Path) -> None:
    folder = root / "pictures"
    folder.mkdir()
    image = np.zeros((8, 16, 3), np.uint8)
    image[:, :8] = 255
    cv2.imwrite(str(folder / "fig8-090.png"), image)
    (folder / "index.json").write_text(json.dumps([
        {"file": "fig8-090.png", "figure": "fig8", "view": 90, "caption": "036-nm-05 <b>"},
        {"file": "../results.csv", "figure": "fig9", "view": 0, "caption": "outside"},
    ]))


def test_report_html_is_self_contained_escaped_and_summarised(tmp_path: Path) -> None:
    evil = "<script>alert(1)</script>"
    rows = [*success_rows(), *frame_rows(),
            *rates(evil, "", {("nm", 0): (0.1, 10), ("nm", 90): (0.1, 10)})]
    run = make_run(tmp_path / "run", rows, extra={"mos": mos_rows()},
                   record={"git": "abc123", "stages": {"evaluate": 12.5}, "labels": {"rec": "a <recognizer>"}})
    _picture(run)
    report = build_report(run, formats=["png"])
    html = report.html.read_text(encoding="utf-8")
    summary = ("Against rec (a &lt;recognizer&gt;), stgan (alpha=0.3) anonymizes best: top-1 success rate 73.3% "
               "[95% interval 61.0% to 82.9%] over all views")
    assert summary in html
    # the trade-off comes first, right after the summary, and its caption names the Pareto front
    assert re.findall(r'<section id="([^"]+)"', html)[:3] == ["summary", "tradeoff", "success"]
    assert ("On the Pareto front (no other anonymizer both at least as natural and at least as private): top-1 "
            "success rate against rec: stgan (alpha=0.3)." in html)
    assert "<script" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    sources = re.findall(r'src="([^"]*)"', html)
    assert sources and all(s.startswith("data:image/") for s in sources)
    assert not re.search(r"(?i)https?://", html)
    assert all(h.startswith("#") for h in re.findall(r'href="([^"]*)"', html))
    assert "<link" not in html
    # every figure kind present, the picture embedded, the bad picture entry refused and stated
    names = sorted(p.name for p in report.figures)
    assert names == ["fig11-success-rec.png", "fig12-mos.png", "fig13-frame-score-frame-x.png",
                     "tradeoff-frame-score-frame-x.png"]
    assert [p.name for p in report.pictures] == ["fig8-090.png"]
    assert "036-nm-05 &lt;b&gt;" in html and "outside pictures/" in html
    assert "No video scores in this run (no video_score rows)." in report.missing
    assert "abc123" in html and "12.5" in html
    # the tables are written in three formats and the Markdown collection holds them
    md = (report.out / "tables" / "success-top1-rec.md").read_text()
    assert "| identity | 32.5 | 35.0 | 33.3 |" in md
    assert (report.out / "tables" / "success-top1-rec.tex").is_file()
    assert "| stgan (alpha=0.3) | 75.0 | 70.0 | 73.3 |" in (report.out / "tables.md").read_text()
    assert sorted(json.loads((report.out / "report.json").read_text())["figures"]) == [f"figures/{n}" for n in names]
    # the paper's conclusions, with stgan standing for ST-GAN: noise-gait is only in the survey, so only the MOS
    # claims are tested. Means: stgan 3.2 / 3.7 at 0 / 90, noise-gait 2.2 / 2.7: the gap is 1.0 at both views
    claims = json.loads((report.out / "report.json").read_text())["conclusions"]
    assert len(claims) == 14 and {c["proposed"] for c in claims} == {"stgan"}
    tested = {c["section"]: (c["verdict"], c["evidence"]) for c in claims if c["verdict"] != "not testable"}
    assert tested == {
        "4.3 MOS (1)": ("reproduced", "all four statistics above at 2 of 2 rated views; mean 3.45 against 2.45"),
        "4.3 MOS (2)": ("not reproduced", "gap +1.00 at 0/180 against +1.00 at the other rated views"),
        "4.3 MOS (3)": ("reproduced", "ST-GAN mean 3.70 at 54-180 against 3.20 at 0-36")}
    assert '<table id="conclusions-stgan">' in html
    text = (report.out / "conclusions.md").read_text()
    assert "**The paper's conclusions with stgan as ST-GAN and noise-gait as the baseline**" in text
    assert "| 4.2 (1) | ST-GAN (alpha 0.3) has a higher success rate than the noise-gait baseline" in text


def test_success_only_run_states_what_is_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = make_run(tmp_path / "run", success_rows())
    assert main(["report", str(run), "--formats", "pdf"]) == 0
    printed = capsys.readouterr().out
    assert "No naturalness scores in this run" in printed
    html = (run / "report" / "index.html").read_text(encoding="utf-8")
    for text in ("No naturalness scores in this run", "No frame scores in this run", "No video scores in this run",
                 "No survey (MOS) results in this run", "No alpha sweep in this run", "run.json is missing"):
        assert text in html, text
    assert sorted(p.name for p in (run / "report" / "figures").iterdir()) == ["fig11-success-rec.pdf"]
    # a rerun replaces the whole earlier report (no stale files)
    (run / "report" / "tables" / "stale.md").write_text("old")
    assert main(["report", str(run), "--formats", "png"]) == 0
    assert not (run / "report" / "tables" / "stale.md").exists()
    assert sorted(p.name for p in (run / "report" / "figures").iterdir()) == ["fig11-success-rec.png"]


def test_clear_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match=re.escape(str(empty / "results.csv")) + " does not exist"):
        build_report(empty)
    assert main(["report", str(empty)]) == 2
    assert f"{empty / 'results.csv'} does not exist" in capsys.readouterr().err

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "results.csv").write_text("method,view,value\nidentity,0,0.5\n")
    with pytest.raises(ValueError, match=r"results.csv is not a gaitbench results table: columns \['parameters'"):
        load_run(bad)

    run = make_run(tmp_path / "run", success_rows())
    (run / "results-extra.csv").write_text((run / "results.csv").read_text().replace(",0.1,", ",oops,", 1))
    with pytest.raises(ValueError, match=r"results-extra.csv, data row \d+: column 'value' must be a number, got 'oo"):
        load_run(run)
    (run / "results-extra.csv").unlink()

    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="is not a gaitbench report"):
        build_report(run, other)
    assert (other / "notes.txt").read_text() == "keep me"
    with pytest.raises(ValueError, match="into the run directory itself"):
        build_report(run, run)


def test_nan_values_are_shown_as_gaps() -> None:
    frame = frame_of([*success_rows(), Row("noise-gait", "rec", "nm", 0, SR, math.nan, 0, k=1)])
    values = tables.by_view(frame, metric=SR, evaluator="rec", k=1)
    assert "noise-gait" not in values.index  # a NaN row pools to nothing
    table = tables.Table("t", "t", pd.DataFrame({"0": [math.nan, 0.5]}, index=pd.Index(["a", "b"], name="method")),
                         "x", scale=100, digits=1)
    assert "| a | - |" in tables.to_markdown(table) and r"a & -- \\" in tables.to_latex(table)


# ------------------------------------------------------------------------------------------------------------
# intervals, the trade-off, the within-noise summary, titles that fit


def test_pooled_rates_get_the_wilson_interval_of_the_pooled_count() -> None:
    cells = tables.view_cells(frame_of(success_rows()), metric=SR, evaluator="rec", k=1)
    # stgan view 0: nm 0.9 of 10 + bg 0.7 of 30 = 30 of 40 probes; over all views 44 of 60 (see TOP1)
    assert (cells.low.loc[STGAN, "0"], cells.high.loc[STGAN, "0"]) == pytest.approx(wilson(30, 40), abs=1e-12)
    assert (cells.low.loc[STGAN, "all"], cells.high.loc[STGAN, "all"]) == pytest.approx(wilson(44, 60), abs=1e-12)
    # one row: its own interval as written, not recomputed
    cells = tables.view_cells(frame_of(tradeoff_rows()), metric=SR, evaluator="rec", k=1)
    blur = "blur (sigma=8)"
    assert (cells.low.loc[blur, "all"], cells.high.loc[blur, "all"]) == pytest.approx((0.6, 0.85))
    assert cells.chance.loc["blur (sigma=8)", "all"] == pytest.approx(0.8)
    # a mean's interval cannot be pooled from the rows: none
    frames = tables.view_cells(frame_of(frame_rows()), metric="frame_score", evaluator="frame-x")
    assert frames.low.isna().all().all() and frames.high.isna().all().all()


def test_pareto_front_by_hand_with_ties_and_duplicates() -> None:
    nan = math.nan
    points = [(1, 1), (1, 1), (0, 2), (0, 1), (2, 0), (nan, 5), (2, 0), (1, 0.5), (0, 2)]
    # (0, 1) is dominated by (1, 1) (tie on neither); (1, 0.5) by (1, 1) (tie on x); duplicates do not dominate
    # each other, so both copies of (1, 1), (2, 0) and (0, 2) stay; the NaN point is left out
    assert tables.pareto_front(points).tolist() == [0, 1, 2, 4, 6, 8]
    assert tables.pareto_front([(3, 3), (3, 2), (2, 3)]).tolist() == [0]  # ties on one axis are dominated
    assert tables.pareto_front(np.zeros((0, 2))).tolist() == []
    with pytest.raises(ValueError, match=r"shape \(N, 2\), got \(3,\)"):
        tables.pareto_front([1, 2, 3])


def test_sweep_curves_group_a_swept_number() -> None:
    curves = tables.sweep_curves([("stgan", "alpha=0.4"), ("stgan", "alpha=0.2"), ("stgan", "alpha=0.2;seed=1"),
                                  ("stgan", "alpha=0.3;seed=1"), ("blur", "sigma=8"), ("identity", ""),
                                  ("mask", "shape=box"), ("mask", "shape=ellipse")])
    assert curves["stgan (alpha=0.2)"] == ("stgan (alpha)", "alpha", 0.2)
    assert curves["stgan (alpha=0.4)"] == ("stgan (alpha)", "alpha", 0.4)
    assert curves["stgan (alpha=0.2, seed=1)"] == ("stgan (alpha; seed=1)", "alpha", 0.2)
    assert curves["blur (sigma=8)"][1:] == ("", pytest.approx(math.nan, nan_ok=True))
    assert curves["mask (shape=box)"][0] == "mask (shape=box)"  # a swept word is no curve


def test_tradeoff_points_front_and_chance() -> None:
    data = tables.tradeoff(frame_of(tradeoff_rows()), naturalness="frame_score", scorer="frame-x", evaluator="rec")
    assert data.front == FRONT
    assert data.chance == pytest.approx(0.8)
    points = data.points
    assert points.loc["stgan (alpha=0.3)", ["x", "y", "x_low", "y_high"]].tolist() == pytest.approx(
        [0.80, 0.70, 0.78, 0.80])
    assert points.loc["identity", "front"] == False  # noqa: E712 (a numpy bool)
    eer = tables.tradeoff(frame_of(tradeoff_rows()), naturalness="frame_score", scorer="frame-x", evaluator="rec",
                          metric="eer", k=0)
    # EER falls as naturalness rises along blur (0.40, 0.52), stgan 0.4 (0.60, 0.48), stgan 0.3 (0.80, 0.45),
    # noise-gait (0.85, 0.42), stgan 0.2 (0.90, 0.40): all on the front; only mask (0.30, 0.50) is dominated (by blur)
    assert eer.front == ("blur (sigma=8)", "stgan (alpha=0.4)", "stgan (alpha=0.3)", "noise-gait (beta=0.3)",
                         "stgan (alpha=0.2)")
    assert eer.chance == pytest.approx(0.5)


def test_tradeoff_figure_draws_points_intervals_front_and_chance() -> None:
    fig = figures.tradeoff_figure(frame_of(tradeoff_rows()), "frame_score", "frame-x", "frame-x (a detector)")
    success, eer = fig.axes[:2]
    assert success.get_title() == "top-1 success rate against rec" and eer.get_title() == "EER against rec"
    by_gid = {line.get_gid(): line for line in success.lines if line.get_gid()}
    curve = by_gid["curve:stgan (alpha)"]  # ordered by alpha
    assert np.asarray(curve.get_xdata()).tolist() == pytest.approx([0.9, 0.8, 0.6])
    assert np.asarray(curve.get_ydata()).tolist() == pytest.approx([60.0, 70.0, 65.0])
    front = by_gid["front"]
    assert np.asarray(front.get_xdata()).tolist() == pytest.approx([0.4, 0.8, 0.9])
    assert np.asarray(front.get_ydata()).tolist() == pytest.approx([75.0, 70.0, 60.0])
    assert np.asarray(by_gid["chance"].get_ydata()).tolist() == pytest.approx([80.0, 80.0])
    # blur's error bars: x 0.38 .. 0.43, y 60 .. 85 (its rows' intervals)
    (blur,) = [c for c in success.containers if isinstance(c, ErrorbarContainer) and c.get_label() == "blur (sigma=8)"]
    segments = [np.asarray(seg) for bars in blur.lines[2] for seg in bars.get_segments()]
    assert sorted(tuple(np.round(seg.ravel(), 9)) for seg in segments) == [
        pytest.approx((0.38, 75.0, 0.43, 75.0)), pytest.approx((0.4, 60.0, 0.4, 85.0))]
    annotations = sorted(t.get_text() for t in success.texts)
    assert annotations == ["alpha=0.2", "alpha=0.3", "alpha=0.4"]
    assert "Pareto front" in [t.get_text() for t in fig.legends[0].get_texts()]


def test_tradeoff_labels_of_crowded_points_do_not_overlap() -> None:
    # five alphas at one frame score, 1 point of success apart: at the fixed offset their labels print over each other
    rows = [overall("identity", "", "frame_score", 0.98, 0.97, 0.99, k=0, evaluator="frame-x"),
            overall("identity", "", SR, 0.0, 0.0, 0.02, chance=0.8)]
    for i, alpha in enumerate((0.1, 0.2, 0.3, 0.4, 0.6)):
        rows += [overall("stgan", f"alpha={alpha}", "frame_score", 0.98, 0.97, 0.99, k=0, evaluator="frame-x"),
                 overall("stgan", f"alpha={alpha}", SR, 0.01 * (i + 1), 0.0, 0.05, chance=0.8),
                 overall("blur", "sigma=8", "frame_score", 0.4, 0.38, 0.43, k=0, evaluator="frame-x"),
                 overall("blur", "sigma=8", SR, 0.75, 0.6, 0.85, chance=0.8)]
    fig = figures.tradeoff_figure(frame_of(rows), "frame_score", "frame-x")
    ax = fig.axes[0]
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    labels = [t for t in ax.texts if t.get_text().startswith("alpha=")]
    assert sorted(t.get_text() for t in labels) == ["alpha=0.1", "alpha=0.2", "alpha=0.3", "alpha=0.4", "alpha=0.6"]
    boxes = [t.get_window_extent(renderer) for t in labels]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b), (a, b)
    # their order is the points' (each label stays above the one of the alpha below), and the lowest did not move
    by_y = [t.get_text() for t in sorted(labels, key=lambda t: t.get_window_extent(renderer).y0)]
    assert by_y == ["alpha=0.1", "alpha=0.2", "alpha=0.3", "alpha=0.4", "alpha=0.6"]
    lowest = min(labels, key=lambda t: t.get_window_extent(renderer).y0)
    assert tuple(lowest.xyann) == (7, 5)
    # labels moved by more than their height are tied to their points by a leader line
    leaders = [t for t in ax.texts if str(t.get_gid() or "").startswith("leader:")]
    assert leaders and all(t.get_text() == "" for t in leaders)


# Three seeds of stgan alpha 0.3 in one cell (view 90, nm): 0.2, 0.4, 0.3 of 10 probes. By hand: mean 0.3, sample
# sd 0.1, t(0.975, 2) = 4.302653, half width 4.302653 * 0.1 / sqrt(3) = 0.248414: (0.051586, 0.548414).
SEEDED = {("stgan", "alpha=0.3;seed=0"): 0.2, ("stgan", "alpha=0.3;seed=1"): 0.4, ("stgan", "alpha=0.3;seed=2"): 0.3,
          ("stgan", "alpha=0.6;seed=0"): 0.7, ("noise-gait", "beta=0.3"): 0.5, ("noise-gait", "beta=0.3;seed=0"): 0.6,
          ("noise-gait", "beta=0.3;seed=1"): 0.8}


def test_merge_seeds_gives_one_variant_per_setting_with_the_interval_over_seeds() -> None:
    rows = [Row(m, "rec", "nm", 90, SR, value, 10, k=1, parameters=p, ci_low=0.01, ci_high=0.99, chance=0.9)
            for (m, p), value in SEEDED.items()]
    merged = tables.merge_seeds(frame_of(rows))
    # noise-gait's run without a seed parameter is a third seed of beta 0.3, as in the alpha section
    assert sorted(set(zip(merged["method"], merged["parameters"], strict=True))) == [
        ("noise-gait", "beta=0.3;seeds=3"), ("stgan", "alpha=0.3;seeds=3"), ("stgan", "alpha=0.6;seed=0")]
    (noise,) = merged[merged["method"] == "noise-gait"].itertuples()
    # by hand: mean 0.633333, sd 0.152753, half width 4.302653 * 0.152753 / sqrt(3) = 0.379459; high clipped to 1
    assert (noise.value, noise.ci_low, noise.ci_high) == pytest.approx((0.633333, 0.253875, 1.0), abs=1e-6)
    (row,) = merged[merged["parameters"] == "alpha=0.3;seeds=3"].itertuples()
    assert (row.value, row.ci_low, row.ci_high, row.n, row.chance) == pytest.approx((0.3, 0.051586, 0.548414, 10, 0.9),
                                                                                    abs=1e-6)
    (alone,) = merged[merged["parameters"] == "alpha=0.6;seed=0"].itertuples()  # one seed: its own row
    assert (alone.value, alone.ci_low, alone.ci_high) == pytest.approx((0.7, 0.01, 0.99))
    # the figures draw the merged variant once, at the mean
    fig = figures.success_figure(merged, "rec")
    labels = [c.get_label() for c in fig.axes[0].containers if isinstance(c, BarContainer)]
    assert "stgan (alpha=0.3, seeds=3)" in labels and not any("alpha=0.3, seed=" in x for x in labels)


def test_merge_seeds_pools_each_seeds_conditions_before_merging() -> None:
    # seed 0: nm 2/10, cl 4/10 -> 0.3; seed 1: nm 4/10, cl 6/10 -> 0.5. By hand: mean 0.4; sd 0.141421,
    # t(0.975, 1) = 12.706205, half width 1.270620: the interval is clipped to (0, 1)
    rows = [*rates("stgan", "alpha=0.3;seed=0", {("nm", 90): (0.2, 10), ("cl", 90): (0.4, 10)}),
            *rates("stgan", "alpha=0.3;seed=1", {("nm", 90): (0.4, 10), ("cl", 90): (0.6, 10)})]
    merged = tables.merge_seeds(frame_of(rows))
    pooled = merged[(merged["condition"] == "all") & (merged["view"] == 90)]
    assert len(pooled) == 1 and pooled["parameters"].iloc[0] == "alpha=0.3;seeds=2"
    assert (pooled["value"].iloc[0], pooled["ci_low"].iloc[0], pooled["ci_high"].iloc[0], pooled["n"].iloc[0]) == \
        pytest.approx((0.4, 0.0, 1.0, 20))
    nm = merged[(merged["condition"] == "nm") & (merged["view"] == 90)]
    assert nm["value"].iloc[0] == pytest.approx(0.3) and nm["ci_low"].iloc[0] == pytest.approx(0.0)
    # by_view uses the all row alone: the pooled cell's interval is the one over seeds, not the probes' Wilson
    cells = tables.view_cells(merged, metric=SR, evaluator="rec", k=1)
    assert cells.value.loc["stgan (alpha=0.3, seeds=2)", "90"] == pytest.approx(0.4)
    assert (cells.low.loc["stgan (alpha=0.3, seeds=2)", "90"], cells.high.loc["stgan (alpha=0.3, seeds=2)", "90"]) == \
        pytest.approx((0.0, 1.0))
    # a frame without seeds comes back as it was
    plain = frame_of(success_rows())
    assert tables.merge_seeds(plain) is plain


def test_report_draws_seeds_once_and_lists_them_in_its_tables(tmp_path: Path) -> None:
    rows = [*rates("identity", "", {("nm", 0): (0.1, 10), ("nm", 90): (0.2, 10)})]
    for seed, value in enumerate((0.5, 0.7)):
        rows += rates("stgan", f"alpha=0.3;seed={seed}", {("nm", 0): (value, 10), ("nm", 90): (value, 10)})
    report = build_report(make_run(tmp_path / "run", rows), formats=["png"])
    html = report.html.read_text(encoding="utf-8")
    assert "Variants trained under several seeds (seeds=N) are drawn once" in html
    table = (tmp_path / "run" / "report" / "tables.md").read_text(encoding="utf-8")
    assert "stgan (alpha=0.3, seed=0)" in table and "stgan (alpha=0.3, seed=1)" in table
    assert "seeds=2" not in table


def test_success_figure_bars_carry_their_intervals() -> None:
    fig = figures.success_figure(frame_of(success_rows()), "rec")
    (bars,) = [c for c in fig.axes[0].containers if isinstance(c, BarContainer) and c.get_label() == STGAN]
    assert bars.errorbar is not None
    (collection,) = bars.errorbar.lines[2]
    spans = [np.asarray(seg)[:, 1].tolist() for seg in collection.get_segments()]
    # view 0: 30 of 40 probes, view 90: 14 of 20 (the pooled counts of TOP1)
    assert spans == [pytest.approx([100 * x for x in wilson(30, 40)]), pytest.approx([100 * x for x in wilson(14, 20)])]


def test_eer_and_rank_tables() -> None:
    frame = frame_of(tradeoff_rows())
    found = {t.name: t for t in tables.identification_tables(frame, {})}
    assert set(found) == {"eer-rec", "rank-rec"}
    assert found["eer-rec"].frame.loc["blur (sigma=8)", "all"] == pytest.approx(0.52)
    privacy = tables.to_markdown(tables.privacy_tables(frame, {})[0]).splitlines()
    assert ("| method | top-1 | top-1 low | top-1 high | EER | EER low | EER high | rank | rank low | rank high |"
            in privacy)
    assert "| blur (sigma=8) | 75.0 | 60.0 | 85.0 | 52.0 | 47.0 | 56.0 | 51.0 | 46.0 | 56.0 |" in privacy
    assert "| (chance) | 80.0 | - | - | 50.0 | - | - | 50.0 | - | - |" in privacy
    assert "eer" in tables.SHOWN and "rank" in tables.SHOWN


def _noise_rows(a: tuple[float, float, float], b: tuple[float, float, float]) -> list[Row]:
    return [overall("identity", "", SR, 0.30, 0.18, 0.45, chance=0.8), overall("a", "", SR, *a, chance=0.8),
            overall("b", "", SR, *b, chance=0.8)]


def test_summary_says_when_the_lead_is_within_noise() -> None:
    lines = summarize(frame_of(_noise_rows((0.80, 0.66, 0.89), (0.75, 0.61, 0.86))), {})
    assert lines[0] == (
        "Against rec, a anonymizes best: top-1 success rate 80.0% [95% interval 66.0% to 89.0%] over all views "
        "(chance 80.0%); the runner-up, b, reaches 75.0% [95% interval 61.0% to 86.0%]: the intervals overlap, so "
        "the lead is within noise. a: clean probes (identity): 30.0%; the best other method, b, reaches 75.0%.")
    lines = summarize(frame_of(_noise_rows((0.95, 0.90, 0.98), (0.60, 0.45, 0.73))), {})
    assert ("the runner-up, b, reaches 60.0% [95% interval 45.0% to 73.0%]: the intervals do not overlap, so the "
            "lead is larger than this run's noise.") in lines[0]
    # intervals that only touch overlap
    assert "within noise" in summarize(frame_of(_noise_rows((0.95, 0.73, 0.98), (0.60, 0.45, 0.73))), {})[0]


def _long_label() -> str:
    """A run.json label as long as real ones (the one that ran off the alpha figure's edges), twice over."""
    return ("GEI -> robust PCA features -> per-view PCA+LDA, SVD view transformation (Zheng et al. 2011); trained on "
            "3 subjects of the protocol's 'recognizers' group (63 sequences, 2 epochs); WIDE CAPITALS MMMM WWWW ") * 2


def test_polar_figure_puts_the_rates_at_the_view_angles() -> None:
    rows = [*success_rows(), *rates("blur", "", {("nm", 0): (0.5, 10), ("nm", 90): (0.6, 10), ("nm", 180): (0.8, 10)})]
    fig = figures.polar_figure(frame_of(rows), "rec")
    lines = {line.get_gid(): line for line in fig.axes[0].lines}
    blur = lines["rate:blur"]
    at = blur.get_markevery()
    assert np.degrees(np.asarray(blur.get_xdata())[at]).tolist() == pytest.approx([0, 90, 180])
    assert np.asarray(blur.get_ydata())[at].tolist() == pytest.approx([50, 60, 80])
    # halfway from 0 to 90 degrees, the rate halfway from 50 to 60 (along the arc, not a chord)
    middle = int(np.argmin(abs(np.degrees(np.asarray(blur.get_xdata())) - 45)))
    assert np.asarray(blur.get_ydata())[middle] == pytest.approx(55)
    stgan = lines[f"rate:{STGAN}"]  # no 180° probes: its line ends at 90°
    assert np.degrees(np.asarray(stgan.get_xdata())[stgan.get_markevery()]).tolist() == pytest.approx([0, 90])
    assert "chance" not in lines  # the rows hold no chance level


@pytest.mark.parametrize("kind", ["success", "score", "alpha", "mos", "tradeoff", "polar"])
def test_long_titles_stay_inside_the_figure(kind: str) -> None:
    label = _long_label()
    fig = {
        "success": lambda: figures.success_figure(frame_of(success_rows()), "rec", label),
        "score": lambda: figures.score_figure(frame_of(frame_rows()), "frame-x", "frame_score", label),
        "alpha": lambda: figures.alpha_figure(frame_of(sweep_rows()), "rec", label),
        "mos": lambda: figures.mos_figure(frame_of(mos_rows()), label),
        "tradeoff": lambda: figures.tradeoff_figure(frame_of(tradeoff_rows()), "frame_score", "frame-x", label),
        "polar": lambda: figures.polar_figure(frame_of(success_rows()), "rec", label),
    }[kind]()
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    titles = [t for t in [fig._suptitle, *(ax.title for ax in fig.axes)] if t is not None and t.get_text()]
    assert any(label.split()[-1] in t.get_text() for t in titles)
    for title in titles:
        box, page = title.get_window_extent(renderer), fig.bbox
        assert (box.x0 >= page.x0 - 0.5 and box.x1 <= page.x1 + 0.5 and box.y0 >= page.y0 - 0.5
                and box.y1 <= page.y1 + 0.5), (title.get_text(), box, page)


def test_attack_groups_order_and_names() -> None:
    names = ["zheng2011@semi-informed", "wu2017-mt", "zheng2011", "zheng2011@lazy-informed", "x@other",
             "wu2017-mt@lazy-informed"]
    assert tables.attack_groups(names) == {
        "ignorant": ["wu2017-mt", "zheng2011"], "lazy-informed": ["zheng2011@lazy-informed", "wu2017-mt@lazy-informed"],
        "semi-informed": ["zheng2011@semi-informed"], "other": ["x@other"]}
    assert tables.attack_groups([]) == {}


# Lazy-informed top-1 success per variant for the trade-off of each attack: by hand, stgan 0.2 (0.90, 0.45) and
# stgan 0.3 (0.80, 0.50) are the front; stgan 0.4 (0.60, 0.40), blur (0.40, 0.30) and mask (0.30, 0.20) are
# dominated by stgan 0.3, noise-gait (0.85, 0.35) by stgan 0.2.
LAZY = {("identity", ""): 0.30, ("stgan", "alpha=0.2"): 0.45, ("stgan", "alpha=0.3"): 0.50,
        ("stgan", "alpha=0.4"): 0.40, ("blur", "sigma=8"): 0.30, ("mask", ""): 0.20, ("noise-gait", "beta=0.3"): 0.35}


def test_report_draws_one_tradeoff_figure_per_attack_model(tmp_path: Path) -> None:
    lazy = [dataclasses.replace(overall(method, parameters, SR, sr, sr - 0.1, sr + 0.1, chance=0.8,
                                        evaluator="rec@lazy-informed"), attack="lazy-informed")
            for (method, parameters), sr in LAZY.items()]
    report = build_report(make_run(tmp_path / "run", tradeoff_rows() + lazy), formats=["png"])
    names = sorted(p.name for p in report.figures if p.name.startswith("tradeoff"))
    assert names == ["tradeoff-frame-score-frame-x-ignorant.png", "tradeoff-frame-score-frame-x-lazy-informed.png"]
    html = report.html.read_text(encoding="utf-8")
    assert ("top-1 success rate against rec: blur (sigma=8), stgan (alpha=0.3), stgan (alpha=0.2); EER against rec: "
            "blur (sigma=8), stgan (alpha=0.4), stgan (alpha=0.3), noise-gait (beta=0.3), stgan (alpha=0.2).") in html
    assert "top-1 success rate against rec@lazy-informed: stgan (alpha=0.3), stgan (alpha=0.2)." in html
    fig = figures.tradeoff_figure(frame_of(tradeoff_rows() + lazy), "frame_score", "frame-x",
                                  recognizers=["rec@lazy-informed"], attack="lazy-informed")
    assert [ax.get_title() for ax in fig.axes] == ["top-1 success rate against rec@lazy-informed"]
    assert "frame-x, lazy-informed attacker)" in " ".join(fig.texts[0].get_text().split())


def test_the_papers_tables_2_and_3_sit_under_the_runs_own_numbers() -> None:
    from statistics import correlation

    from reports.paper import PAPER_VIEWS, falling_views, paper_frame, paper_tables

    # the paper's claim (section 4.4): both scores rise as alpha falls, at every view; the transcription keeps it
    for metric in ("frame_score", "video_score"):
        assert falling_views(paper_frame(metric)) == [str(v) for v in PAPER_VIEWS]
    rows = []
    for parameters, values in {"alpha=0.1": (0.95, 0.90, 0.80), "alpha=0.2;seed=0": (0.90, 0.80, 0.70),
                               "alpha=0.2;seed=1": (0.92, 0.82, 0.70), "alpha=0.3": (0.85, 0.82, 0.60),
                               "alpha=0.4": (0.80, 0.75, 0.50)}.items():
        rows += rates("stgan-paper", parameters, dict(zip([("nm", v) for v in (0, 90, 180)],
                                                           [(value, 4) for value in values], strict=True)),
                      k=0, evaluator="frame-x", metric="frame_score")
    ((table, verdicts),) = paper_tables(frame_of(rows), {})
    assert table.name == "paper-table2-stgan-paper-frame-x"
    assert list(table.frame.columns) == ["0", "90", "180"]
    assert list(table.frame.index) == [(a, s) for a in ("0.2", "0.3", "0.4") for s in ("this run", "paper")]
    assert table.frame.loc[("0.2", "this run")].tolist() == pytest.approx([0.91, 0.81, 0.70])
    assert table.frame.loc[("0.3", "paper")].tolist() == [0.9668, 0.9556, 0.9575]  # Table 2, views 0 / 90 / 180
    assert verdicts[0] == ("Table 2 (stgan-paper, frame-x): the frame score falls strictly with alpha (0.2 to 0.4) "
                           "at 2 of 3 views in this run (not at 90), at 3 of 3 in the paper.")
    r = [correlation(ours, paper) for ours, paper in (((0.91, 0.81, 0.70), (0.9764, 0.9671, 0.9694)),
                                                     ((0.85, 0.82, 0.60), (0.9668, 0.9556, 0.9575)),
                                                     ((0.80, 0.75, 0.50), (0.9558, 0.9366, 0.9464)))]
    assert verdicts[1] == ("Table 2 (stgan-paper, frame-x): per-view profile against the paper's, Pearson r "
                           f"{r[0]:.2f}, {r[1]:.2f}, {r[2]:.2f} at alpha 0.2, 0.3, 0.4.")
    assert "seeds: 2, 1, 1" in table.note
    md = tables.to_markdown(table).splitlines()
    assert "| 0.3 | paper | 0.9668 | 0.9556 | 0.9575 |" in md
    # one alpha in common with the paper is no comparison
    assert paper_tables(frame_of([r for r in rows if r.parameters in ("alpha=0.1", "alpha=0.3")]), {}) == []


def test_methods_select_the_variants_a_report_draws(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from reports.report import select_methods

    rows = [*success_rows(), *rates("stgan", "alpha=0.4", {("nm", 0): (0.95, 10), ("nm", 90): (0.9, 10)}),
            *rates("blur", "sigma=8", {("nm", 0): (0.2, 10), ("nm", 90): (0.3, 10)})]
    frame = frame_of(rows)
    pairs = lambda f: sorted(set(zip(f["method"], f["parameters"], strict=True)))  # noqa: E731
    assert pairs(select_methods(frame, ["identity", "stgan[alpha=0.3]"])) == [("identity", ""),
                                                                              ("stgan", "alpha=0.3")]
    assert pairs(select_methods(frame, ["stgan"])) == [("stgan", "alpha=0.3"), ("stgan", "alpha=0.4")]
    with pytest.raises(ValueError, match=r"the run has no 'stgan\[alpha=0.5\]'; did you mean 'stgan\[alpha=0.4\]', "
                                         r"'stgan\[alpha=0.3\]'.*\? \(it has blur\[sigma=8\], identity, "):
        select_methods(frame, ["stgan[alpha=0.5]"])
    with pytest.raises(ValueError, match=r"'stgan\[alpha=0.3' is not NAME or NAME\[PARAMETERS\]"):
        select_methods(frame, ["stgan[alpha=0.3"])

    run = make_run(tmp_path / "run", rows)
    assert main(["report", str(run), "--formats", "png", "--methods", "identity,stgan[alpha=0.4]"]) == 0
    md = (run / "report" / "tables" / "success-top1-rec.md").read_text()
    assert "| stgan (alpha=0.4) | 95.0 | 90.0 | 92.5 |" in md
    assert "alpha=0.3" not in md and "blur" not in md
    record = json.loads((run / "report" / "report.json").read_text())
    assert record["methods"] == ["identity", "stgan[alpha=0.4]"]
    capsys.readouterr()
    assert main(["report", str(run), "--methods", "blurr"]) == 2
    assert "--methods: the run has no 'blurr'; did you mean 'blur'" in capsys.readouterr().err
