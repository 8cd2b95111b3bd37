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
from benchmark.retrieval import eer_interval
from benchmark.sequences import InputSpec, Sequences
from benchmark.stats import t_interval, wilson_interval

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
        [(m, k) for m in ("accuracy", "success_rate") for k in (1, 2)] + [("eer", 0), ("rank", 0)])
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
    # ((accuracy, success) x k + eer + rank) x (0, 90, all views) + cross-view (0, 90, all) x k + the same-view
    # rows over all probes
    assert len(rows) == (2 * 2 + 2) * 3 + 2 * 3 + (2 * 2 + 2)

    text = format_tables(to_frame(rows), ks=(1,))
    assert "same-view top-1 accuracy (%), probes: m" in text and "66.7" in text and "83.3" in text
    # Over all views (below): success top-1 1/6 against chance 2/3, EER 1/12 and rank 1/12 against 1/2.
    assert "same-view success rate, EER and rank over all views (%, [chance]" in text
    line = next(x for x in text.splitlines() if x.split()[:2] == ["pixels", "all"] and "[" in x)
    assert line.split()[2:] == ["16.7", "[66.7]", "8.3", "[50.0]", "8.3", "[50.0]"]


def test_eer_rank_and_chance_of_a_hand_made_setup(pixels: type[Pixels]) -> None:
    # Distances to the gallery subjects (a, b, c), by hand from hand_made() (up to the common factor 8):
    #   view 0:  probe a 0.02: (0.02, 0.18, 0.28)  rank 0
    #            probe b 0.27: (0.27, 0.07, 0.03)  rank 1/2 (c nearer)
    #            probe c 0.31: (0.31, 0.11, 0.01)  rank 0
    #     genuine 0.02, 0.07, 0.01; impostors 0.18, 0.28, 0.27, 0.03, 0.31, 0.11. Operating points:
    #     t = 0.02: FAR 0, FRR 1/3; t = 0.03: FAR 1/6, FRR 1/3; t = 0.07: FAR 1/6, FRR 0 -> crossing half way,
    #     EER = 1/6.  Rank 1/6.
    #   view 90: genuine 0.02, 0.01, 0.02, every impostor >= 0.18: EER 0, rank 0.
    #   over both views: genuine (5 at <= 0.02, 0.07), impostors 0.03 then >= 0.11 of 12: at t = 0.03 FAR 1/12,
    #     FRR 1/6; at t = 0.07 FAR 1/12, FRR 0 -> EER 1/12.  Rank 0.5 / 6 = 1/12.
    rec = pixels().fit(flat([("x", "nm-01", 0, 0.1), ("y", "nm-01", 0, 0.4)]))
    rows, _ = evaluate_recognizer(rec, hand_made(), ks=(1, 2), cross_view=False)
    frame = to_frame(rows).set_index(["condition", "metric", "k", "view"])
    for condition in ("nm", "all"):
        for view, eer, rank in ((0, 1 / 6, 1 / 6), (90, 0.0, 0.0), (-1, 1 / 12, 1 / 12)):
            if condition == "all" and view != -1:
                continue
            got = frame.loc[(condition, "eer", 0, view)]
            assert got["value"] == pytest.approx(eer, abs=1e-12) and got["n"] == (6 if view == -1 else 3)
            assert got["chance"] == 0.5
            got = frame.loc[(condition, "rank", 0, view)]
            assert got["value"] == pytest.approx(rank, abs=1e-12) and got["chance"] == 0.5
            # S = 3 at both views: chance success rate 1 - 1/3 at k = 1, 1 - 2/3 at k = 2; accuracy 1/3, 2/3.
            for k in (1, 2):
                assert frame.loc[(condition, "success_rate", k, view), "chance"] == pytest.approx(1 - k / 3)
                assert frame.loc[(condition, "accuracy", k, view), "chance"] == pytest.approx(k / 3)
    # The intervals: the bootstrap over these three probes (only the order of the distances matters), and the
    # Student-t interval of the ranks (0, 1/2, 0) clipped to [0, 1].
    eer = frame.loc[("nm", "eer", 0, 0)]
    want = eer_interval(np.array([0.02, 0.07, 0.01]), np.array([[0.18, 0.28], [0.27, 0.03], [0.31, 0.11]]))
    assert (eer["ci_low"], eer["ci_high"]) == pytest.approx(want, abs=1e-12) and want[0] < want[1]
    rank = frame.loc[("nm", "rank", 0, 0)]
    assert (rank["ci_low"], rank["ci_high"]) == pytest.approx(t_interval([0.0, 0.5, 0.0], bounds=(0.0, 1.0)))


def test_unusable_probes_count_as_chance_in_eer_and_rank(pixels: type[Pixels]) -> None:
    # Gallery at view 0: a 0.0, b 0.2, c 0.4, d 0.6 (S = 4); probes a 0.02, b 0.33, c 0.41, and d unusable.
    #   a: (0.02 | 0.18, 0.38, 0.58) rank 0;  b: (0.13 | 0.33, 0.07, 0.27) rank 1/3 (c nearer);
    #   c: (0.01 | 0.41, 0.21, 0.19) rank 0;  d: +inf from everyone, rank 1/2 (chance).
    #   Rank (0 + 1/3 + 0 + 1/2) / 4 = 5/24.
    #   EER: 4 genuine, 12 impostor pairs. t = 0.02: FAR 0, FRR 2/4; t = 0.07: FAR 1/12; t = 0.13: FRR 1/4;
    #   t = 0.18: FAR 2/12; t = 0.19: FAR 3/12 = FRR 1/4 (d's genuine is never accepted below +inf): EER 1/4.
    #   Success rate (the blank d a miss): top-1 2/4, chance 1 - 1/4.
    gallery = flat([("a", "nm-01", 0, 0.0), ("b", "nm-01", 0, 0.2), ("c", "nm-01", 0, 0.4), ("d", "nm-01", 0, 0.6)])
    probes = flat([("a", "nm-05", 0, 0.02), ("b", "nm-05", 0, 0.33), ("c", "nm-05", 0, 0.41)])
    sets = EvalSets(gallery, {"nm": probes}, ("a", "b", "c", "d"), {"nm": (("d", "nm-05", 0),)})
    rec = pixels().fit(flat([("x", "nm-01", 0, 0.1), ("y", "nm-01", 0, 0.4)]))
    rows, _ = evaluate_recognizer(rec, sets, ks=(1,), cross_view=False)
    frame = to_frame(rows).set_index(["condition", "metric", "k", "view"])
    for view in (0, -1):
        assert frame.loc[("nm", "rank", 0, view), "value"] == pytest.approx(5 / 24, abs=1e-12)
        assert frame.loc[("nm", "eer", 0, view), "value"] == pytest.approx(1 / 4, abs=1e-12)
        assert frame.loc[("nm", "success_rate", 1, view), "value"] == pytest.approx(0.5)
        assert frame.loc[("nm", "success_rate", 1, view), "chance"] == pytest.approx(0.75)
        assert frame.loc[("nm", "eer", 0, view), "n"] == frame.loc[("nm", "rank", 0, view), "n"] == 4
    # Only unusable probes: chance in both.
    sets = EvalSets(gallery, {"cl": flat([])}, ("a", "b", "c", "d"), {"cl": (("a", "cl-01", 0), ("b", "cl-01", 0))})
    frame = to_frame(evaluate_recognizer(rec, sets, ks=(1,), cross_view=False)[0]).set_index(
        ["condition", "metric", "k", "view"])
    assert frame.loc[("cl", "eer", 0, -1), "value"] == 0.5 and frame.loc[("cl", "rank", 0, -1), "value"] == 0.5
    assert frame.loc[("cl", "rank", 0, -1), "n"] == 2


def test_eer_and_rank_rows_wherever_success_rate_rows_are(pixels: type[Pixels]) -> None:
    # Two conditions, one with an unusable probe at view 90 and a probe of a subject without gallery (left out).
    sets = hand_made()
    bg = flat([("a", "bg-01", 0, 0.05), ("c", "bg-01", 0, 0.2), ("z", "bg-01", 90, 0.6)])
    sets = EvalSets(sets.gallery, {"nm": sets.probes["nm"], "bg": bg}, ("a", "b", "c", "z"),
                    {"bg": (("b", "bg-01", 90),)})
    rec = pixels().fit(flat([("x", "nm-01", 0, 0.1), ("y", "nm-01", 0, 0.4)]))
    frame = to_frame(evaluate_recognizer(rec, sets, ks=(1, 3))[0])
    cells = {}
    for metric in ("success_rate", "eer", "rank"):
        sel = frame[frame["metric"] == metric]
        cells[metric] = {(c, v): n for c, v, n in zip(sel["condition"], sel["view"], sel["n"], strict=True)}
    assert cells["success_rate"] == cells["eer"] == cells["rank"]
    assert cells["eer"] == {("nm", 0): 3, ("nm", 90): 3, ("nm", -1): 6, ("bg", 0): 2, ("bg", 90): 1,
                            ("bg", -1): 3, ("all", -1): 9}
    assert frame.loc[frame["metric"].isin(["eer", "rank"]), "value"].between(0, 1).all()


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
