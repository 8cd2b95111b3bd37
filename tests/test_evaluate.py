"""The evaluation protocol: rows from a hand-made distance setup, refusals, and the CLI end to end."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

from benchmark.cli import main
from benchmark.evaluate import EvalSets, check_recognizer_data, evaluate_recognizer, format_tables
from benchmark.results import to_frame
from benchmark.sequences import InputSpec, Sequences
from benchmark.stats import wilson_interval

if TYPE_CHECKING:
    from conftest import Pixels, SmallProtocol


def flat(entries: list[tuple[str, str, int, float]]) -> Sequences:
    """Constant 8x8 GEIs, one per ``(subject, condition, view, value)``: the ``pixels`` recognizer puts those of
    values v and w 8 |v - w| apart."""
    items = [np.full((8, 8), value, np.float32) for *_, value in entries]
    return Sequences.make(items, [e[0] for e in entries], [e[1] for e in entries], [e[2] for e in entries],
                          InputSpec(8, 8, "gei"))


def hand_made() -> EvalSets:
    # Gallery values per subject and view; probes placed by hand (distances are 8x the value gaps):
    #   view 0:  a 0.00 <- probe 0.02 (hit);  b 0.20 <- probe 0.27, but c 0.30 is nearer (miss, rank 2);
    #            c 0.30 <- probe 0.31 (hit).                                        top-1 2/3, top-2 3/3
    #   view 90: a 0.50 <- 0.52, b 0.70 <- 0.69, c 0.90 <- 0.88: all hits.          top-1 3/3
    #   cross-view: probes at 0 (0.02, 0.27, 0.31) against gallery at 90 (0.5, 0.7, 0.9) all pick a: 1/3;
    #   probes at 90 (0.52, 0.69, 0.88) against gallery at 0 (0, 0.2, 0.3) all pick c: 1/3.
    gallery = flat([("a", "nm-01", 0, 0.0), ("b", "nm-01", 0, 0.2), ("c", "nm-01", 0, 0.3),
                    ("a", "nm-01", 90, 0.5), ("b", "nm-01", 90, 0.7), ("c", "nm-01", 90, 0.9)])
    probes = flat([("a", "nm-05", 0, 0.02), ("b", "nm-05", 0, 0.27), ("c", "nm-05", 0, 0.31),
                   ("a", "nm-05", 90, 0.52), ("b", "nm-05", 90, 0.69), ("c", "nm-05", 90, 0.88)])
    return EvalSets(gallery, {"nm": probes}, ("a", "b", "c"))


def test_rows_of_a_hand_made_setup(pixels: type[Pixels]) -> None:
    rec = pixels().fit(flat([("x", "nm-01", 0, 0.1), ("y", "nm-01", 0, 0.4)]))
    rows, matrix = evaluate_recognizer(rec, hand_made(), method="m", parameters="alpha=0.3", ks=(1, 2))
    everything = to_frame(rows)
    assert set(everything["evaluator"]) == {"pixels"} and set(everything["method"]) == {"m"}
    assert set(everything["parameters"]) == {"alpha=0.3"} and set(everything["condition"]) == {"nm", "all"}
    # The row over every probe (one condition here: the same as nm's pooled row), same-view metrics only.
    pooled = everything[everything["condition"] == "all"].set_index(["metric", "k"])
    assert set(pooled["view"]) == {-1} and sorted(pooled.index) == sorted(
        (m, k) for m in ("accuracy", "success_rate") for k in (1, 2))
    assert pooled.loc[("accuracy", 1), "value"] == pytest.approx(5 / 6) and pooled.loc[("accuracy", 1), "n"] == 6
    assert pooled.loc[("success_rate", 2), "value"] == 0.0
    frame = everything[everything["condition"] == "nm"].set_index(["metric", "k", "view"])

    def get(metric: str, k: int, view: int) -> pd.Series:
        return frame.loc[(metric, k, view)]

    assert get("accuracy", 1, 0)["value"] == pytest.approx(2 / 3) and get("accuracy", 1, 0)["n"] == 3
    assert get("accuracy", 1, 90)["value"] == 1.0
    assert get("accuracy", 1, -1)["value"] == pytest.approx(5 / 6) and get("accuracy", 1, -1)["n"] == 6
    assert get("accuracy", 2, 0)["value"] == 1.0
    assert get("success_rate", 1, 0)["value"] == pytest.approx(1 / 3)
    lo, hi = wilson_interval(2, 3)
    assert (get("accuracy", 1, 0)["ci_low"], get("accuracy", 1, 0)["ci_high"]) == pytest.approx((lo, hi))
    assert (get("success_rate", 1, 0)["ci_low"], get("success_rate", 1, 0)["ci_high"]) == pytest.approx((1 - hi,
                                                                                                         1 - lo))
    assert get("cross_view_accuracy", 1, 0)["value"] == pytest.approx(1 / 3)
    assert get("cross_view_accuracy", 1, 90)["value"] == pytest.approx(1 / 3)
    assert get("cross_view_accuracy", 1, -1)["value"] == pytest.approx(1 / 3)
    assert np.isnan(get("cross_view_accuracy", 1, 0)["ci_low"])
    cells = {(r["k"], r["probe_view"], r["gallery_view"]): r["value"] for r in matrix}
    assert cells[(1, 0, 0)] == pytest.approx(2 / 3) and cells[(1, 0, 90)] == pytest.approx(1 / 3)
    assert cells[(1, 90, 90)] == 1.0 and cells[(1, 90, 0)] == pytest.approx(1 / 3)
    # (accuracy, success) x (0, 90, all views) x k + cross-view (0, 90, all) x k + (accuracy, success) x k over all
    assert len(rows) == 2 * (3 * 2) + 2 * 3 + 2 * 2

    text = format_tables(to_frame(rows), ks=(1,))
    assert "same-view top-1 accuracy (%), probes: m" in text and "66.7" in text and "83.3" in text


def test_same_view_leaves_out_probes_without_gallery_at_their_view(pixels: type[Pixels]) -> None:
    sets = hand_made()
    extra = flat([("a", "nm-05", 0, 0.02), ("d", "nm-05", 0, 0.5)])  # d has no gallery sequence at all
    rows, _ = evaluate_recognizer(pixels().fit(flat([("x", "nm-01", 0, 0.1), ("y", "nm-01", 0, 0.4)])),
                                  EvalSets(sets.gallery, {"bg": extra}, sets.test_subjects), cross_view=False)
    frame = to_frame(rows).set_index(["metric", "k", "view"])
    assert frame.loc[("accuracy", 1, 0), "n"] == 1 and frame.loc[("accuracy", 1, 0), "value"] == 1.0
    assert "cross_view_accuracy" not in set(to_frame(rows)["metric"])


def test_recognizers_trained_on_test_subjects_or_another_world_are_refused(
    tmp_path: Path, pixels: type[Pixels]
) -> None:
    rec = pixels().fit(flat([("a", "nm-01", 0, 0.1), ("y", "nm-01", 0, 0.4)]))
    with pytest.raises(ValueError, match=r"pixels was trained on test subjects \['a'\]"):
        check_recognizer_data(rec, ["a", "b"], tmp_path)
    (tmp_path / "world").mkdir()
    (tmp_path / "world" / "manifest.json").write_text('{"seed": 1, "preset": "quick"}')
    rec = pixels().fit(flat([("x", "nm-01", 0, 0.1), ("y", "nm-01", 0, 0.4)]),
                       fingerprint={"world": {"manifest_sha256": "0" * 64, "seed": 0, "preset": "quick"}})
    with pytest.raises(ValueError, match=r"trained on another world \(seed 0, preset quick\) than .* \(seed 1"):
        check_recognizer_data(rec, ["a", "b"], tmp_path / "world")
    check_recognizer_data(rec, ["a", "b"], tmp_path / "elsewhere")  # no manifest there: nothing to compare


def test_cli_train_and_evaluate_clean_and_altered_probes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], small_protocol: Callable[..., SmallProtocol]
) -> None:
    setup = small_protocol(6)  # 12 subjects: 6 train, 6 test
    clean, common = setup.data, setup.options
    ckpt = setup.train("zheng2011", "rank = 20\n")
    assert "trained zheng2011" in capsys.readouterr().out

    out = tmp_path / "clean.csv"
    assert main(["evaluate", "--ckpt", str(ckpt), "--gallery", str(clean), "--out", str(out), *common]) == 0
    printed = capsys.readouterr().out
    assert "same-view top-1 accuracy (%), probes: identity" in printed and "top-3" in printed
    frame = pd.read_csv(out)
    assert set(frame["condition"]) == {"nm", "bg", "cl", "all"} and set(frame["view"]) == {-1, 0, 90}
    nm = frame[(frame.metric == "accuracy") & (frame.k == 1) & (frame.condition == "nm") & (frame.view == -1)]
    assert nm["value"].item() >= 0.6 and nm["n"].item() == 6 * 2 * 2  # chance: 1/6
    # Over every probe: nm (2 per view), bg and cl (1 each) of 6 subjects at 2 views; the n-weighted mean.
    per = frame[(frame.metric == "accuracy") & (frame.k == 1) & (frame.view == -1)].set_index("condition")
    assert per.loc["all", "n"] == 6 * 2 * 4
    assert per.loc["all", "value"] == pytest.approx(
        sum(per.loc[c, "value"] * per.loc[c, "n"] for c in ("nm", "bg", "cl")) / (6 * 2 * 4), abs=1e-6)
    assert (tmp_path / "clean.run.json").is_file() and (tmp_path / "clean.view_matrix.csv").is_file()

    # An "anonymizer" that gives every test subject the gait of subject 007: only 007's own probes can be named.
    altered = tmp_path / "altered"
    shutil.copytree(clean, altered)
    for subject in range(8, 13):
        for cond in ("nm-05", "nm-06"):
            for view in ("000", "090"):
                target = altered / f"{subject:03d}" / cond / view
                shutil.rmtree(target)
                shutil.copytree(clean / "007" / cond / view, target)
    out = tmp_path / "altered.csv"
    assert main(["evaluate", "--ckpt", str(ckpt), "--gallery", str(clean), "--probes", str(altered),
                 "--method", "copy-007", "--out", str(out), "--cross-view", "no", *common]) == 0
    frame = pd.read_csv(out)
    sr = frame[(frame.metric == "success_rate") & (frame.k == 1) & (frame.condition == "nm") & (frame.view == -1)]
    assert set(frame["method"]) == {"copy-007"} and sr["value"].item() >= 0.75  # 5 of 6 subjects hidden at best
    assert "cross_view_accuracy" not in set(frame["metric"])

    assert main(["evaluate", "--ckpt", str(tmp_path / "nope.npz"), "--gallery", str(clean), "--out", str(out),
                 *common]) == 2
    assert "checkpoint" in capsys.readouterr().err
