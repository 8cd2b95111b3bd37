"""Probes without a usable frame (an anonymizer erased or shrank the person) are misses counted in n; blank gallery
sequences are data errors. Expected rates are worked out by hand in the comments."""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import pandas as pd
import pytest

from benchmark.cli import main
from benchmark.evaluate import EvalSets, evaluate_recognizer, load_eval_sets, unusable_counts
from benchmark.protocol import load_protocol
from benchmark.results import to_frame
from benchmark.sequences import InputSpec, Sequences
from benchmark.stats import wilson_interval

if TYPE_CHECKING:
    from conftest import Pixels, SmallProtocol

SPEC = InputSpec(8, 8, "gei")


def flat(entries: list[tuple[str, str, int, float]]) -> Sequences:
    """Constant 8x8 GEIs, one per ``(subject, condition, view, value)``; ``pixels`` puts values v, w 8|v - w| apart."""
    items = [np.full((8, 8), value, np.float32) for *_, value in entries]
    return Sequences.make(items, [e[0] for e in entries], [e[1] for e in entries], [e[2] for e in entries], SPEC)


def fitted(pixels: type[Pixels]) -> Pixels:
    rec = pixels()
    rec.fit(flat([("x", "nm-01", 0, 0.1), ("y", "nm-01", 0, 0.4)]))
    return rec


def table(rows: list) -> pd.DataFrame:
    return to_frame(rows).set_index(["condition", "metric", "k", "view"])


# Gallery at view 0: a 0.0, b 0.2, c 0.4, d 0.6; at view 90: a 0.5, b 0.7, c 0.9, d 1.0.
GALLERY = flat([("a", "nm-01", 0, 0.0), ("b", "nm-01", 0, 0.2), ("c", "nm-01", 0, 0.4), ("d", "nm-01", 0, 0.6),
                ("a", "nm-01", 90, 0.5), ("b", "nm-01", 90, 0.7), ("c", "nm-01", 90, 0.9), ("d", "nm-01", 90, 1.0)])


def test_one_blank_probe_of_four_is_a_miss_at_every_k_and_counted_in_n(pixels: type[Pixels]) -> None:
    # Probes at view 0: a 0.02 (nearest a: hit), b 0.33 (c at 0.4 is nearer than b at 0.2: rank 2),
    # c 0.41 (hit), d blank. Top-1: hits a, c -> accuracy 2/4, success rate (1 miss + 1 blank) / 4 = 0.5.
    # Top-2: b is found too -> accuracy 3/4, success rate (0 misses + 1 blank) / 4 = 0.25.
    probes = flat([("a", "nm-05", 0, 0.02), ("b", "nm-05", 0, 0.33), ("c", "nm-05", 0, 0.41)])
    sets = EvalSets(GALLERY, {"nm": probes}, ("a", "b", "c", "d"), {"nm": (("d", "nm-05", 0),)})
    rows, matrix = evaluate_recognizer(fitted(pixels), sets, method="erase", ks=(1, 2))
    frame = table(rows)
    for k, accuracy in ((1, 0.5), (2, 0.75)):
        for view in (0, -1):
            got = frame.loc[("nm", "accuracy", k, view)]
            assert got["value"] == pytest.approx(accuracy) and got["n"] == 4
            sr = frame.loc[("nm", "success_rate", k, view)]
            assert sr["value"] == pytest.approx(1 - accuracy) and sr["n"] == 4
            lo, hi = wilson_interval(accuracy * 4, 4)
            assert (sr["ci_low"], sr["ci_high"]) == pytest.approx((1 - hi, 1 - lo))
    assert ("nm", "accuracy", 1, 90) not in frame.index  # no probe at 90, blank or not

    # Cross-view cell probe 0 -> gallery 90: the three real probes (0.02, 0.33, 0.41) are all nearest a (0.5),
    # so only a's probe is a hit; the blank d is a miss: 1/4. Cell 0 -> 0 is the same-view 2/4.
    cells = {(r["k"], r["probe_view"], r["gallery_view"]): (r["value"], r["n"]) for r in matrix}
    assert cells[(1, 0, 90)] == (pytest.approx(0.25), 4) and cells[(1, 0, 0)] == (pytest.approx(0.5), 4)
    assert math.isnan(cells[(1, 90, 0)][0]) and cells[(1, 90, 0)][1] == 0
    cross = frame.loc[("nm", "cross_view_accuracy", 1, 0)]
    assert cross["value"] == pytest.approx(0.25) and cross["n"] == 4
    assert frame.loc[("nm", "cross_view_accuracy", 1, -1), "n"] == 4


def test_a_condition_whose_probes_are_all_blank_is_all_misses_and_nothing_is_embedded(
    pixels: type[Pixels],
) -> None:
    # Two blank probes at 0, one at 90, and one of subject e, who has no gallery sequence: it is left out,
    # as a real probe without a gallery subject is.
    blank = (("a", "cl-01", 0), ("b", "cl-01", 0), ("c", "cl-01", 90), ("e", "cl-01", 90))
    sets = EvalSets(GALLERY, {"cl": flat([])}, ("a", "b", "c", "d", "e"), {"cl": blank})
    rec = fitted(pixels)
    rows, matrix = evaluate_recognizer(rec, sets, method="erase", ks=(1, 3))
    frame = table(rows)
    for k in (1, 3):
        for view, n in ((0, 2), (90, 1), (-1, 3)):
            assert frame.loc[("cl", "accuracy", k, view), "value"] == 0.0
            assert frame.loc[("cl", "success_rate", k, view), "value"] == 1.0
            assert frame.loc[("cl", "success_rate", k, view), "n"] == n
    assert {(r["probe_view"], r["gallery_view"]): r["n"] for r in matrix if r["k"] == 1} == {
        (0, 0): 2, (0, 90): 2, (90, 0): 1, (90, 90): 1}
    assert all(r["value"] == 0.0 for r in matrix)
    assert rec.embedded == [GALLERY.key(i) for i in range(len(GALLERY))]  # the gallery only
    assert unusable_counts(sets) == {"cl": {0: 2, 90: 2}}


def test_unusable_probes_of_an_unknown_condition_are_refused() -> None:
    with pytest.raises(ValueError, match=r"conditions \['bg'\] that have no probe set"):
        EvalSets(GALLERY, {"nm": flat([])}, ("a",), {"bg": (("a", "bg-01", 0),)})


def rewrite(folder: Path, draw: Callable[[np.ndarray], None]) -> None:
    """Overwrite every frame of a sequence folder with a blank frame of the same size, then ``draw`` on it."""
    for path in sorted(folder.glob("*.png")):
        frame = np.zeros_like(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE))
        draw(frame)
        assert cv2.imwrite(str(path), frame)


def blank(frame: np.ndarray) -> None:
    pass


def tall_strip(frame: np.ndarray) -> None:
    frame[20:36, 30:34] = 255  # 16 x 4 = 64 foreground pixels: a tiny person, but >= 40 pixels, so usable


def speck(frame: np.ndarray) -> None:
    frame[20:26, 30:36] = 255  # 6 x 6 = 36 foreground pixels: below the 40-pixel filter in every frame


def test_load_eval_sets_records_blank_and_too_small_probes_with_a_warning(
    tmp_path: Path, small_protocol: Callable[..., SmallProtocol], pixels: type[Pixels]
) -> None:
    setup = small_protocol(3)  # subjects 001-006: 001-003 train, 004-006 test
    protocol = load_protocol(setup.protocol)
    anon = tmp_path / "anon"
    shutil.copytree(setup.data, anon)
    rewrite(anon / "004" / "nm-05" / "000", blank)
    rewrite(anon / "005" / "nm-06" / "090", speck)
    rewrite(anon / "006" / "nm-05" / "090", tall_strip)
    for subject in ("004", "005", "006"):
        for view in ("000", "090"):
            rewrite(anon / subject / "cl-01" / view, blank)
    with pytest.warns(UserWarning, match=r"not identified at every k: nm 2 of 12 \(view 0: 1, view 90: 1\); "
                                         r"cl 6 of 6 \(view 0: 3, view 90: 3\)"):
        sets = load_eval_sets(setup.data, anon, protocol, SPEC, workers=1)
    assert sets.unusable == {"nm": (("004", "nm-05", 0), ("005", "nm-06", 90)), "bg": (),
                             "cl": (("004", "cl-01", 0), ("004", "cl-01", 90), ("005", "cl-01", 0),
                                    ("005", "cl-01", 90), ("006", "cl-01", 0), ("006", "cl-01", 90))}
    assert len(sets.probes["nm"]) == 10 and "006-nm-05-090" in {sets.probes["nm"].key(i) for i in range(10)}
    assert len(sets.probes["cl"]) == 0 and len(sets.gallery) == 3 * 4 * 2

    rows, _ = evaluate_recognizer(fitted(pixels), sets, ks=(1,), cross_view=False)
    frame = table(rows)
    assert frame.loc[("nm", "success_rate", 1, -1), "n"] == 12
    assert frame.loc[("cl", "success_rate", 1, -1), "value"] == 1.0
    assert frame.loc[("cl", "success_rate", 1, -1), "n"] == 6


def test_a_blank_gallery_sequence_is_skipped_with_a_warning_or_an_error_naming_it(
    tmp_path: Path, small_protocol: Callable[..., SmallProtocol]
) -> None:
    setup = small_protocol(3)
    protocol = load_protocol(setup.protocol)
    gallery = tmp_path / "gallery"
    shutil.copytree(setup.data, gallery)
    rewrite(gallery / "005" / "nm-02" / "090", speck)
    with pytest.raises(ValueError, match=r"1 gallery sequence\(s\) of .*gallery have no usable frame .*: "
                                         r"005-nm-02-090; a gallery sequence must show its subject"):
        load_eval_sets(gallery, setup.data, protocol, SPEC, workers=1, errors="raise")
    with pytest.warns(UserWarning, match=r"005-nm-02-090; left out of the gallery"):
        sets = load_eval_sets(gallery, setup.data, protocol, SPEC, workers=1)
    assert len(sets.gallery) == 3 * 4 * 2 - 1 and not any(sets.unusable.values())
    with pytest.raises(ValueError, match="errors must be 'raise' or 'skip'"):
        load_eval_sets(gallery, setup.data, protocol, SPEC, errors="ignore")


def test_cli_evaluate_with_erased_probes(tmp_path: Path, small_protocol: Callable[..., SmallProtocol]) -> None:
    setup = small_protocol(3)
    ckpt = setup.train("zheng2011", "rank = 10\n")
    clean_out = tmp_path / "clean.csv"
    assert main(["evaluate", "--ckpt", str(ckpt), "--gallery", str(setup.data), "--out", str(clean_out),
                 *setup.options]) == 0
    # Erase every nm probe at view 0 and every cl probe: those rates become 1 with n unchanged; nm at 90 and bg
    # are untouched, so their rows equal the clean run's.
    anon = tmp_path / "erased"
    shutil.copytree(setup.data, anon)
    for subject in ("004", "005", "006"):
        for cond in ("nm-05", "nm-06"):
            rewrite(anon / subject / cond / "000", blank)
        for view in ("000", "090"):
            rewrite(anon / subject / "cl-01" / view, blank)
    out = tmp_path / "erased.csv"
    with pytest.warns(UserWarning, match=r"nm 6 of 12 \(view 0: 6\); cl 6 of 6 \(view 0: 3, view 90: 3\)"):
        assert main(["evaluate", "--ckpt", str(ckpt), "--gallery", str(setup.data), "--probes", str(anon),
                     "--method", "erase", "--out", str(out), *setup.options]) == 0
    clean = pd.read_csv(clean_out).set_index(["condition", "metric", "k", "view"])
    erased = pd.read_csv(out).set_index(["condition", "metric", "k", "view"])
    for k in (1, 3):
        assert erased.loc[("nm", "success_rate", k, 0), "value"] == 1.0
        assert erased.loc[("nm", "success_rate", k, 0), "n"] == 6
        assert erased.loc[("cl", "success_rate", k, -1), "value"] == 1.0
        assert erased.loc[("cl", "success_rate", k, -1), "n"] == 6
        assert erased.loc[("cl", "cross_view_accuracy", k, -1), "value"] == 0.0
        for key in (("nm", "success_rate", k, 90), ("bg", "success_rate", k, -1)):
            assert erased.loc[key, ["value", "n"]].tolist() == clean.loc[key, ["value", "n"]].tolist()
        # pooled nm: the 6 probes at 90 keep their clean hits, the 6 at 0 are all misses
        hits_90 = clean.loc[("nm", "accuracy", k, 90), "value"] * 6
        assert erased.loc[("nm", "accuracy", k, -1), "value"] == pytest.approx(hits_90 / 12, abs=1e-5)  # CSV: 6 digits
    record = json.loads((tmp_path / "erased.run.json").read_text())
    assert record["unusable_probes"] == {"zheng2011": {"nm": {"0": 6}, "bg": {}, "cl": {"0": 3, "90": 3}}}


def test_an_emptied_probe_or_gallery_folder_is_counted_not_silently_dropped(
    tmp_path: Path, small_protocol: Callable[..., SmallProtocol], pixels: type[Pixels]
) -> None:
    """A probe folder whose frames are gone is a miss counted in n (nm stays n 12, as with every folder full), and
    an emptied gallery folder is named in the warning (issue 18: both used to change the numbers silently)."""
    setup = small_protocol(3)
    protocol = load_protocol(setup.protocol)
    data = tmp_path / "data"
    shutil.copytree(setup.data, data)
    for png in (data / "005" / "nm-05" / "090").glob("*.png"):
        png.unlink()
    for png in (data / "006" / "nm-02" / "000").glob("*.png"):
        png.unlink()
    with pytest.warns(UserWarning) as caught:
        sets = load_eval_sets(data, data, protocol, SPEC, workers=1)
    text = " ".join(str(w.message) for w in caught)
    assert "006-nm-02-000; left out of the gallery" in text
    assert "not identified at every k: nm 1 of 12 (view 90: 1)" in text
    assert sets.unusable["nm"] == (("005", "nm-05", 90),) and len(sets.probes["nm"]) == 11
    rows, _ = evaluate_recognizer(fitted(pixels), sets, ks=(1,), cross_view=False)
    assert table(rows).loc[("nm", "success_rate", 1, -1), "n"] == 12


def test_a_subject_the_method_left_out_of_an_anonymized_gallery_is_a_candidate_and_its_probe_a_miss(
    pixels: type[Pixels],
) -> None:
    # The informed attacker's gallery at view 0 lost d (the method left no usable frame): a 0.0, b 0.2, c 0.4
    # remain, d is a candidate at +inf. Probes: a 0.02 (hit), b 0.33 (c nearer: rank 2), d 0.61 (d cannot be
    # enrolled: a miss, though its value is d's). Gallery size 4 at view 0 in chance and rank.
    gallery = GALLERY.subset(np.flatnonzero(~((GALLERY.subjects == "d") & (GALLERY.views == 0))))
    probes = flat([("a", "nm-05", 0, 0.02), ("b", "nm-05", 0, 0.33), ("d", "nm-05", 0, 0.61)])
    sets = EvalSets(gallery, {"nm": probes}, ("a", "b", "c", "d"), lost=(("d", "nm-01", 0),))
    rows, _ = evaluate_recognizer(fitted(pixels), sets, method="erase", ks=(1, 2), cross_view=False)
    frame = table(rows)
    # top-1: a only -> 1/3; top-2: a and b -> 2/3; chance min(k, 4) / 4
    for k, accuracy in ((1, 1 / 3), (2, 2 / 3)):
        got = frame.loc[("nm", "accuracy", k, 0)]
        assert got["value"] == pytest.approx(accuracy) and got["n"] == 3
        assert got["chance"] == pytest.approx(k / 4)
    # ranks among the 3 others: a first (0), b behind c (1/3), d's probe unusable for ranking: 0.5
    assert frame.loc[("nm", "rank", 0, 0), "value"] == pytest.approx((0 + 1 / 3 + 0.5) / 3)


def test_an_anonymized_gallery_with_nothing_usable_identifies_nobody(pixels: type[Pixels]) -> None:
    # Every gallery sequence lost: each probe is a miss against the 2 candidates at view 90.
    probes = flat([("a", "nm-05", 90, 0.5), ("b", "nm-05", 90, 0.7)])
    empty = flat([])
    sets = EvalSets(empty, {"nm": probes}, ("a", "b"), lost=(("a", "nm-01", 90), ("b", "nm-01", 90)))
    rec = fitted(pixels)
    rows, matrix = evaluate_recognizer(rec, sets, method="erase", ks=(1,), views=[90])
    frame = table(rows)
    assert frame.loc[("nm", "success_rate", 1, 90), "value"] == 1.0
    assert frame.loc[("nm", "success_rate", 1, 90), "n"] == 2
    assert frame.loc[("nm", "success_rate", 1, 90), "chance"] == pytest.approx(0.5)
    assert frame.loc[("nm", "eer", 0, 90), "value"] == pytest.approx(0.5)
    assert matrix == [] and rec.embedded == [probes.key(0), probes.key(1)]  # no gallery to embed
