"""The paper's numbered conclusions checked against a hand-built run (reports.conclusions), every verdict and
number worked out by hand below."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from benchmark.results import Row, to_frame
from reports.conclusions import (
    NOT_REPRODUCED,
    PARTLY,
    REPRODUCED,
    UNTESTABLE,
    check_conclusions,
    combine,
    end_offset,
    to_markdown,
)

VIEWS = (0, 90, 180)


def rows(method: str, parameters: str, evaluator: str, metric: str, values: tuple[float, float, float], n: int,
         k: int = 0, ci: tuple[float, float] = (math.nan, math.nan)) -> list[Row]:
    """One nm row per view of ``VIEWS`` and the view -1 row (mean weighted by n, the interval ``ci``)."""
    out = [Row(method, evaluator, "nm", v, metric, x, n, k=k, parameters=parameters) for v, x in zip(VIEWS, values,
                                                                                                      strict=True)]
    return [*out, Row(method, evaluator, "nm", -1, metric, sum(values) / 3, 3 * n, k=k, parameters=parameters,
                      ci_low=ci[0], ci_high=ci[1])]


NG, P = ("noise-gait", "beta=0.3"), "stgan-paper"


def run_rows() -> list[Row]:
    """Success rates (n 100 per view) against zheng2011 and wu2017-mt, frame and video scores, silhouette
    differences, and the GN ablation. The all-views intervals are Wilson 95% intervals of the pooled counts
    (300 probes): 180/300 -> 0.5443-0.6533, 130/300 -> 0.3785-0.4900, 150/300 -> 0.4437-0.5563,
    135/300 -> 0.3947-0.5065."""
    sr = "success_rate"
    return [
        # zheng2011: noise-gait 0.5 / 0.3 / 0.5 (all 130/300); ST-GAN 0.3 leads by 0.1 / 0.3 / 0.1
        *rows(*NG, "zheng2011", sr, (0.5, 0.3, 0.5), 100, k=1, ci=(0.3785, 0.4900)),
        *rows(P, "alpha=0.3", "zheng2011", sr, (0.6, 0.6, 0.6), 100, k=1, ci=(0.5443, 0.6533)),
        *rows(P, "alpha=0.2", "zheng2011", sr, (0.4, 0.4, 0.4), 100, k=1),
        *rows(P, "alpha=0.4", "zheng2011", sr, (0.8, 0.8, 0.8), 100, k=1),
        # wu2017-mt: noise-gait 0.45 (above zheng's 0.4333); ST-GAN 0.3 leads by 0.05 everywhere; not rising
        *rows(*NG, "wu2017-mt", sr, (0.45, 0.45, 0.45), 100, k=1, ci=(0.3947, 0.5065)),
        *rows(P, "alpha=0.3", "wu2017-mt", sr, (0.5, 0.5, 0.5), 100, k=1, ci=(0.4437, 0.5563)),
        *rows(P, "alpha=0.2", "wu2017-mt", sr, (0.55, 0.55, 0.55), 100, k=1),
        *rows(P, "alpha=0.4", "wu2017-mt", sr, (0.52, 0.52, 0.52), 100, k=1),
        # the informed attacker is not the paper's: rows that would overturn 4.2 (1) if they were read
        *rows(P, "alpha=0.3", "zheng2011@lazy-informed", sr, (0.0, 0.0, 0.0), 100, k=1),
        # frame scores: the original's ends +0.05 above its side, noise-gait's -0.10, ST-GAN's +0.04
        *rows("identity", "", "frame-hog", "frame_score", (0.95, 0.90, 0.95), 20),
        *rows(*NG, "frame-hog", "frame_score", (0.80, 0.90, 0.80), 20),
        *rows(P, "alpha=0.3", "frame-hog", "frame_score", (0.92, 0.88, 0.92), 20),
        *rows(P, "alpha=0.2", "frame-hog", "frame_score", (0.95, 0.95, 0.95), 20),
        *rows(P, "alpha=0.4", "frame-hog", "frame_score", (0.85, 0.85, 0.85), 20),
        # video scores: ST-GAN below noise-gait, and 0.55 -> 0.50 -> 0.52 over alpha
        *rows(*NG, "video-synth", "video_score", (0.6, 0.6, 0.6), 20),
        *rows(P, "alpha=0.3", "video-synth", "video_score", (0.5, 0.5, 0.5), 20),
        *rows(P, "alpha=0.2", "video-synth", "video_score", (0.55, 0.55, 0.55), 20),
        *rows(P, "alpha=0.4", "video-synth", "video_score", (0.52, 0.52, 0.52), 20),
        # silhouette difference 0.1 -> 0.2 -> 0.3
        *(r for a, d in (("0.2", 0.1), ("0.3", 0.2), ("0.4", 0.3))
          for r in rows(P, f"alpha={a}", "silhouettes", "silhouette_difference", (d, d, d), 20)),
        # the ablation: GN better by the frame score (0.9 against 0.7), worse by the video score (0.6 against 0.65)
        *rows("stgan", "alpha=0.3", "frame-hog", "frame_score", (0.9, 0.9, 0.9), 20),
        *rows("stgan-nogn", "alpha=0.3;noise_std=0.05", "frame-hog", "frame_score", (0.7, 0.7, 0.7), 20),
        *rows("stgan", "alpha=0.3", "video-synth", "video_score", (0.6, 0.6, 0.6), 20),
        *rows("stgan-nogn", "alpha=0.3;noise_std=0.05", "video-synth", "video_score", (0.65, 0.65, 0.65), 20),
    ]


def mos_rows() -> list[Row]:
    """Opinion scores at 0 / 90 / 180: ST-GAN means 3.0 / 4.0 / 3.2, noise-gait 2.0 / 3.8 / 2.4; quartiles the
    mean -0.5 / +0 / +0.5."""
    out = []
    for (method, parameters), means in (((P, "alpha=0.3"), (3.0, 4.0, 3.2)), (NG, (2.0, 3.8, 2.4))):
        for metric, shift in (("mos", 0.0), ("mos_q1", -0.5), ("mos_median", 0.0), ("mos_q3", 0.5)):
            out += [Row(method, "survey", "nm", v, metric, m + shift, 20, parameters=parameters)
                    for v, m in zip(VIEWS, means, strict=True)]
    return out


def by_section(frame: pd.DataFrame) -> dict[str, tuple[str, str]]:
    return {c.section: (c.verdict, c.evidence) for c in check_conclusions(frame)}


def test_combine_and_end_offset_by_hand() -> None:
    assert combine([True, True]) == REPRODUCED and combine([False]) == NOT_REPRODUCED
    assert combine([True, False]) == PARTLY and combine([]) == UNTESTABLE
    # ends (0, 180): 0.95 and 0.95; the rest: 0.90 and 0.80 -> 0.95 - 0.85
    profile = pd.Series([0.95, 0.90, 0.80, 0.95, 0.5], index=["0", "90", "108", "180", "all"])
    assert end_offset(profile) == pytest.approx(0.10)
    assert math.isnan(end_offset(pd.Series([0.9], index=["90"])))


def test_every_claim_of_a_hand_built_run() -> None:
    got = by_section(to_frame(run_rows()))
    assert list(got) == ["4.1 (1)", "4.1 (2)", "4.1 (3)", "4.2 (1)", "4.2 (2)", "4.2 (3)", "4.3 MOS (1)",
                         "4.3 MOS (2)", "4.3 MOS (3)", "4.3 auto (1)", "4.3 auto (2)", "4.4 (a)", "4.4 (b)", "4.4 (c)"]
    assert got["4.1 (1)"][0] == got["4.1 (2)"][0] == UNTESTABLE
    # GN: frame score up, video score down
    assert got["4.1 (3)"] == (PARTLY, "stgan (alpha=0.3) against stgan-nogn (alpha=0.3, noise_std=0.05): frame-hog: "
                                      "0.9000 against 0.7000, above at 3 of 3 views; video-synth: 0.6000 against "
                                      "0.6500, above at 0 of 3 views")
    # ST-GAN above noise-gait against both: 60.0% vs 43.3% (intervals apart), 50.0% vs 45.0% (they overlap)
    assert got["4.2 (1)"] == (REPRODUCED, "zheng2011 top-1: 60.0% against 43.3% (95% intervals apart), above at 3 of "
                                          "3 views; wu2017-mt top-1: 50.0% against 45.0% (95% intervals overlap), "
                                          "above at 3 of 3 views")
    # lead at 90 against 0/180: zheng 30 against 10 points; wu 5 against 5 (not larger)
    assert got["4.2 (2)"] == (PARTLY, "zheng2011 top-1: lead +30.0 points at 72-108 against +10.0 at the other views; "
                                      "wu2017-mt top-1: lead +5.0 points at 72-108 against +5.0 at the other views")
    # zheng above wu: ST-GAN 60.0 > 50.0, noise-gait 43.3 < 45.0
    assert got["4.2 (3)"] == (PARTLY, "stgan-paper (alpha=0.3) top-1: 60.0% against 50.0% (95% intervals overlap); "
                                      "noise-gait (beta=0.3) top-1: 43.3% against 45.0% (95% intervals overlap)")
    assert all(got[f"4.3 MOS ({i})"][0] == UNTESTABLE for i in (1, 2, 3))
    assert "no survey ratings" in got["4.3 MOS (1)"][1]
    # frame 0.9067 > 0.8333, video 0.5 < 0.6
    assert got["4.3 auto (1)"] == (PARTLY, "frame-hog: 0.9067 against 0.8333, above at 2 of 3 views; video-synth: "
                                           "0.5000 against 0.6000, above at 0 of 3 views")
    assert got["4.3 auto (2)"] == (REPRODUCED, "frame-hog, mean at 0/180 minus mean at the other views: original "
                                               "+0.0500, baseline -0.1000, ST-GAN +0.0400")
    # zheng 40 -> 60 -> 80 at every view; wu 55 -> 50 -> 52
    assert got["4.4 (a)"] == (PARTLY, "zheng2011 top-1: 40.0% -> 60.0% -> 80.0% over alpha 0.2, 0.3, 0.4; strictly "
                                      "at 3 of 3 views; wu2017-mt top-1: 55.0% -> 50.0% -> 52.0% over alpha 0.2, "
                                      "0.3, 0.4; strictly at 0 of 3 views")
    assert got["4.4 (b)"] == (REPRODUCED, "silhouette difference (share of pixels changed), silhouettes: 10.0% -> "
                                          "20.0% -> 30.0% over alpha 0.2, 0.3, 0.4; strictly at 3 of 3 views")
    assert got["4.4 (c)"][0] == PARTLY
    assert got["4.4 (c)"][1].startswith("frame-hog: 0.9500 -> 0.9067 -> 0.8500 over alpha 0.2, 0.3, 0.4; strictly "
                                        "at 3 of 3 views; video-synth: 0.5500 -> 0.5000 -> 0.5200")


def test_a_claim_per_view_needs_every_view() -> None:
    # the frame score falls over all views pooled but rises at view 90: the paper's "at every view" fails there
    frame = to_frame([*rows(P, "alpha=0.2", "frame-hog", "frame_score", (0.95, 0.80, 0.95), 20),
                      *rows(P, "alpha=0.3", "frame-hog", "frame_score", (0.90, 0.85, 0.90), 20),
                      *rows(P, "alpha=0.4", "frame-hog", "frame_score", (0.80, 0.90, 0.80), 20)])
    verdict, evidence = by_section(frame)["4.4 (c)"]
    assert (verdict, evidence) == (NOT_REPRODUCED, "frame-hog: 0.9000 -> 0.8833 -> 0.8333 over alpha 0.2, 0.3, 0.4; "
                                                   "strictly at 2 of 3 views")


def test_the_survey_claims() -> None:
    got = by_section(to_frame([*run_rows(), *mos_rows()]))
    # every statistic above at all three views; means 3.4 against 2.7333
    assert got["4.3 MOS (1)"] == (REPRODUCED, "all four statistics above at 3 of 3 rated views; mean 3.40 against "
                                              "2.73")
    # gap 1.0 / 0.2 / 0.8: 0.9 at the ends against 0.2 at 90
    assert got["4.3 MOS (2)"] == (REPRODUCED, "gap +0.90 at 0/180 against +0.20 at the other rated views")
    # ST-GAN (4.0 + 3.2) / 2 = 3.6 at 54-180 against 3.0 at 0
    assert got["4.3 MOS (3)"] == (REPRODUCED, "ST-GAN mean 3.60 at 54-180 against 3.00 at 0-36")


def test_a_run_without_the_papers_methods_tests_nothing_and_says_why() -> None:
    frame = to_frame(rows("blur", "sigma=8", "zheng2011", "success_rate", (0.1, 0.2, 0.3), 10, k=1))
    checked = check_conclusions(frame)
    assert {c.verdict for c in checked} == {UNTESTABLE}
    assert "the run lacks stgan-paper at alpha 0.3 or noise-gait" in {c.evidence for c in checked}
    text = to_markdown(checked, "t")
    assert text.splitlines()[-1] == "0 reproduced, 0 partly reproduced, 0 not reproduced, 14 not testable."
    assert "| 4.2 (1) | ST-GAN (alpha 0.3) has a higher success rate" in text


def test_the_committed_paper_reproduction_agrees_with_its_results() -> None:
    """docs/paper-reproduction.md and docs/results/paper-quick/ were made from one run: the conclusions, the
    verdicts in the document and its Tables 2-3 must be what the committed results.csv gives today."""
    import re
    from pathlib import Path

    from reports.conclusions import check_conclusions, to_markdown
    from reports.paper import paper_tables
    from reports.run_dir import load_run
    from reports.tables import to_markdown as table_markdown

    repo = Path(__file__).resolve().parents[1]
    results, doc = repo / "docs" / "results" / "paper-quick", (repo / "docs" / "paper-reproduction.md").read_text()
    run = load_run(results)
    checked = check_conclusions(run.frame, proposed="stgan-paper")
    committed = (results / "conclusions.md").read_text(encoding="utf-8")
    assert to_markdown(checked, "The paper's conclusions with stgan-paper as ST-GAN and noise-gait as the "
                       "baseline") in committed
    # the document's verdict per claim of sections 4.2-4.4 is the checker's (MOS claims share one row there)
    stated = dict(re.findall(r"^\| (4\.[234] [^|]+?) \| [^|]+ \| \*\*([a-z ]+)\*\* \|", doc, flags=re.M))
    for c in checked:
        if c.section.startswith(("4.2", "4.4", "4.3 auto")):
            assert stated[c.section] == c.verdict, c.section
        elif c.section.startswith("4.3 MOS"):
            assert stated["4.3 MOS (1)-(3)"] == c.verdict
    assert sum(c.verdict == "reproduced" for c in checked) == 1  # 4.2 (1): the headline claim
    # Tables 2 and 3 as printed in the document
    tables = paper_tables(run.frame, run.labels)
    assert len(tables) == 2
    for table, _ in tables:
        rows = [line for line in table_markdown(table).splitlines() if line.startswith("| 0.")]
        assert len(rows) == 6 and all(row in doc for row in rows)


def test_the_committed_three_seed_reproduction_agrees_with_its_results() -> None:
    """docs/paper-reproduction.md, "Three seeds of ST-GAN", and docs/results/paper-quick/seeds/ were made from one
    run of configs/paper-quick-seeds.toml: the conclusions (seeds merged) and the verdicts the document states must
    be what the committed results.csv gives today."""
    import re
    from pathlib import Path

    from reports.conclusions import check_conclusions, to_markdown
    from reports.run_dir import load_run

    repo = Path(__file__).resolve().parents[1]
    results = repo / "docs" / "results" / "paper-quick" / "seeds"
    doc = (repo / "docs" / "paper-reproduction.md").read_text(encoding="utf-8")
    section = doc.split("### Three seeds of ST-GAN", 1)[1].split("\n## ", 1)[0]
    run = load_run(results)
    checked = {c.section: c for c in check_conclusions(run.frame, proposed="stgan-paper")}
    committed = (results / "conclusions.md").read_text(encoding="utf-8")
    assert to_markdown(list(checked.values()), "The paper's conclusions with stgan-paper as ST-GAN and noise-gait as "
                       "the baseline") in committed
    assert "seeds=3" in checked["4.2 (3)"].evidence  # the claims were read from the means over seeds
    stated = dict(re.findall(r"^\| (4\.[234] [^|]+?) \| \*\*([a-z ]+)\*\* \|", section, flags=re.M))
    assert sorted(stated) == ["4.2 (1)", "4.4 (a)", "4.4 (b)", "4.4 (c)"]
    for name, verdict in stated.items():
        assert checked[name].verdict == verdict, name
    # the means the document quotes are the checker's
    for quoted in ("85.0% -> 77.3% -> 81.1%", "40.8% -> 35.2% -> 46.0%", "0.9220 -> 0.9356 -> 0.8154"):
        assert quoted in section and any(quoted in c.evidence for c in checked.values()), quoted
