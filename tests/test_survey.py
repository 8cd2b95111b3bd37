"""The MOS survey: stimulus choice, clip encoding, the response store, the web app's refusals, the analysis.

Expected numbers are worked out by hand in the comments (quartiles: linear interpolation between order
statistics, position h = (n - 1) p); the bootstrap is checked against a plain loop over the same draws and
against the exact distribution of a 2 x 2 case enumerated by hand.
"""

from __future__ import annotations

import dataclasses
import http.client
import itertools
import json
import math
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import numpy as np
import pytest

from benchmark.results import read_csv, write_csv
from benchmark.survey.analyze import (
    AnalysisConfig,
    analyze_ratings,
    bootstrap_interval,
    bootstrap_replicates,
    box_stats,
    format_mos_tables,
    ratings_frame,
    screen_raters,
)
from benchmark.survey.build import BuildConfig, Source, make_anchor, plan_stimuli, spread
from benchmark.survey.definition import FORMAT, SURVEY_FILE, Stimulus, Survey, clip_id, load_survey
from benchmark.survey.server import MAX_BODY, make_server
from benchmark.survey.store import Refused, Store
from tests.conftest import write_casia_tree, write_video

# ----------------------------------------------------------------------------------------------------------
# helpers


def stim(sid: str, role: str, method: str, view: int, parameters: str = "", frames: int = 5,
         fps: float = 25.0) -> Stimulus:
    return Stimulus(id=sid, file=f"clips/{sid}.mp4", role=role, method=method, parameters=parameters, view=view,
                    condition="nm-01", sequence=f"001-nm-01-{view:03d}", source="/data", frames=frames, fps=fps,
                    width=32, height=24, codec="h264", sha256="0" * 64)


def hex_id(n: int) -> str:
    return f"{n:012x}"


def make_dataset(root: Path, method: str | None, parameters: dict[str, object] | None = None, *,
                 subjects: tuple[str, ...] = ("001", "002", "003"), views: tuple[int, ...] = (0, 90),
                 frames: int = 8, shape: tuple[int, int] = (26, 34), tint: int = 0) -> Path:
    """A tiny CASIA-B tree with colour videos (a red walker on a blue-grey scene); anonymization.json when
    ``method`` is given."""
    tree = write_casia_tree(root, subjects=subjects, conditions=("nm-01",), views=views, frames=frames, shape=shape)
    for key, masks in tree.truth.items():
        rgb = np.empty((*masks.shape, 3), np.uint8)
        rgb[...] = (60, 90, 160)
        rgb[masks] = (220, 40 + tint, 30)
        write_video(root / "videos" / f"{key}.avi", rgb)
    if method is not None:
        (root / "anonymization.json").write_text(json.dumps({"method": method, "parameters": parameters or {}}))
    return root


def write_fake_survey(root: Path, n: int = 4, frames: int = 2, fps: float = 20.0) -> Survey:
    """survey.json with ``n`` test clips of ``frames / fps`` seconds whose files hold arbitrary bytes."""
    stimuli = [stim(hex_id(i + 1), "test", "m", 0, frames=frames, fps=fps) for i in range(n)]
    (root / "clips").mkdir(parents=True)
    for i, s in enumerate(stimuli):
        (root / s.file).write_bytes(bytes(range(i, i + 40)))
    doc = {"format": FORMAT, "seed": 7, "stimuli": [dataclasses.asdict(s) for s in stimuli]}
    (root / SURVEY_FILE).write_text(json.dumps(doc))
    return load_survey(root)


# ----------------------------------------------------------------------------------------------------------
# analysis: literal cases


def test_box_stats_hand_computed() -> None:
    # n = 4: q1 at h = 0.75 -> 2 + 0.75 = 2.75; median h = 1.5 -> 3.5; q3 h = 2.25 -> 4.25
    assert box_stats([5, 2, 4, 3]) == {"q1": 2.75, "median": 3.5, "q3": 4.25, "min": 2.0, "max": 5.0}
    # n = 3: q1 at h = 0.5 -> 1 + 0.5 * (2 - 1) = 1.5; q3 at h = 1.5 -> 2 + 0.5 * (4 - 2) = 3
    assert box_stats([4, 1, 2]) == {"q1": 1.5, "median": 2.0, "q3": 3.0, "min": 1.0, "max": 4.0}
    with pytest.raises(ValueError, match="non-empty"):
        box_stats([])


# Ratings of two methods at two views (one clip per cell) by three raters, plus a reference and an anchor.
#           a0  a90  b0  b90  ref  anchor
# r1         4    2   1    3    5     1
# r2         5    4   2    1    4     2
# r3         3    3   2    5    4     3
RATINGS = {
    "r1": [4, 2, 1, 3, 5, 1],
    "r2": [5, 4, 2, 1, 4, 2],
    "r3": [3, 3, 2, 5, 4, 3],
}
CLIPS = [stim(hex_id(1), "test", "a", 0, "alpha=0.3"), stim(hex_id(2), "test", "a", 90, "alpha=0.3"),
         stim(hex_id(3), "test", "b", 0), stim(hex_id(4), "test", "b", 90),
         stim(hex_id(5), "reference", "original", 0), stim(hex_id(6), "anchor", "anchor", 90, "blur=0.05")]


def small_survey(tmp_path: Path) -> Survey:
    return Survey(root=tmp_path, seed=0, stimuli=tuple(CLIPS), record={})


def answers(table: dict[str, list[int]]) -> list[tuple[str, str, int]]:
    return [(r, CLIPS[j].id, v) for r, vals in table.items() for j, v in enumerate(vals) if v]


def by_metric(rows: list, method: str, view: int) -> dict[str, tuple[float, int]]:
    return {r.metric: (r.value, r.n) for r in rows if r.method == method and r.view == view}


def test_mos_rows_hand_computed(tmp_path: Path) -> None:
    rows, screening = analyze_ratings(small_survey(tmp_path), answers(RATINGS), AnalysisConfig(n_boot=200))
    assert screening["kept"].tolist() == [True, True, True]  # anchor means 1, 2, 3 < reference means 5, 4, 4
    a0 = by_metric(rows, "a", 0)
    # ratings 4, 5, 3: mean 4; one clip, so the rater means are the ratings: sorted 3 4 5 -> q1 3.5, q3 4.5
    assert a0 == {"mos": (4.0, 3), "mos_q1": (3.5, 3), "mos_median": (4.0, 3), "mos_q3": (4.5, 3),
                  "mos_min": (3.0, 3), "mos_max": (5.0, 3)}
    a_all = by_metric(rows, "a", -1)
    # ratings 4 5 3 2 4 3: mean 21 / 6 = 3.5; rater means r1 3, r2 4.5, r3 3 -> sorted 3 3 4.5:
    # q1 h = 0.5 -> 3, median 3, q3 h = 1.5 -> 3 + 0.5 * 1.5 = 3.75
    assert a_all["mos"] == (3.5, 6)
    assert [a_all[m][0] for m in ("mos_q1", "mos_median", "mos_q3", "mos_min", "mos_max")] == [3, 3, 3.75, 3, 4.5]
    b_all = by_metric(rows, "b", -1)
    # ratings 1 2 2 3 1 5: mean 14 / 6; rater means 2, 1.5, 3.5 -> sorted 1.5 2 3.5: q1 1.75, q3 2.75
    assert b_all["mos"][0] == pytest.approx(14 / 6)
    assert [b_all[m][0] for m in ("mos_q1", "mos_median", "mos_q3")] == [1.75, 2.0, 2.75]
    assert by_metric(rows, "original", 0)["mos"] == (pytest.approx(13 / 3), 3)
    assert {r.parameters for r in rows if r.method == "a"} == {"alpha=0.3"}
    assert {(r.evaluator, r.condition, r.k) for r in rows} == {("survey", "all", 0)}
    for r in rows:  # every mos interval holds its mean; quartile rows carry no interval
        if r.metric == "mos":
            assert r.ci_low <= r.value <= r.ci_high
        else:
            assert math.isnan(r.ci_low) and math.isnan(r.ci_high)
    frame = write_csv(rows, tmp_path / "results-mos.csv")
    back = read_csv(tmp_path / "results-mos.csv")
    assert len(back) == len(frame) == 10 * 6  # cells a, b: views 0, 90, -1; original: 0, -1; anchor: 90, -1
    text = format_mos_tables(back)
    assert "a (alpha=0.3)" in text and "3.50" in text


def test_screening_rules_hand_computed(tmp_path: Path) -> None:
    table = {
        "keep": [4, 2, 1, 3, 5, 1],   # references 5, anchor 1
        "lowref": [4, 4, 4, 4, 2, 1],  # reference 2 < 3
        "anchorhigh": [3, 3, 3, 3, 4, 4],  # anchor 4 not below reference 4
        "partial": [5, 0, 0, 0, 0, 0],  # 1 of 6 clips (17% < 50%); no reference rated
    }
    frame = ratings_frame(small_survey(tmp_path), answers(table))
    s = screen_raters(frame, n_clips=6).set_index("rater")
    assert s["kept"].to_dict() == {"anchorhigh": False, "keep": True, "lowref": False, "partial": False}
    assert "references rated 2.00 on average (< 3)" in s.loc["lowref", "reason"]
    assert "anchor rated 4.00, not below the references (4.00)" in s.loc["anchorhigh", "reason"]
    assert s.loc["partial", "reason"] == "rated 1 of 6 clips (17% < 50%)"
    assert s.loc["keep", "test_mean"] == 2.5  # (4 + 2 + 1 + 3) / 4
    # turning the rules off keeps everyone but the partial rater
    loose = screen_raters(frame, 6, AnalysisConfig(min_reference_mean=0, anchor_check=False)).set_index("rater")
    assert loose["kept"].to_dict() == {"anchorhigh": True, "keep": True, "lowref": True, "partial": False}
    # the MOS comes from the kept rater only: method a at view 0 -> 4
    rows, _ = analyze_ratings(small_survey(tmp_path), answers(table), AnalysisConfig(n_boot=50))
    assert by_metric(rows, "a", 0)["mos"] == (4.0, 1)
    with pytest.raises(ValueError, match="screened out"):
        analyze_ratings(small_survey(tmp_path), answers({"lowref": table["lowref"]}), AnalysisConfig(n_boot=5))


# ----------------------------------------------------------------------------------------------------------
# analysis: the bootstrap against independent references


def brute_force_replicates(matrix: np.ndarray, n_boot: int, seed: int) -> list[float]:
    """The two-way bootstrap as a plain loop over the same draws (raters first, then clips)."""
    rng = np.random.default_rng(seed)
    r, c = matrix.shape
    rater_draws = rng.integers(0, r, size=(n_boot, r))
    clip_draws = rng.integers(0, c, size=(n_boot, c))
    out = []
    for b in range(n_boot):
        values = [matrix[i, j] for i in rater_draws[b] for j in clip_draws[b] if not math.isnan(matrix[i, j])]
        out.append(sum(values) / len(values) if values else math.nan)
    return out


def test_bootstrap_matches_brute_force_loop() -> None:
    m = np.array([[1, 2, np.nan, 5], [3, np.nan, 4, 4], [5, 5, 2, np.nan]], float)
    fast = bootstrap_replicates(m, 300, np.random.default_rng(11))
    slow = brute_force_replicates(m, 300, 11)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-12, equal_nan=True)


def test_bootstrap_distribution_matches_exact_enumeration() -> None:
    # 2 raters x 2 clips, complete: raters drawn as one of 4 ordered pairs, clips likewise: 16 equally likely
    # outcomes, enumerated here without the code under test.
    m = np.array([[1.0, 2.0], [4.0, 5.0]])
    exact: Counter[float] = Counter()
    for rs, cs in itertools.product(itertools.product(range(2), repeat=2), repeat=2):
        exact[round(float(np.mean([m[i, j] for i in rs for j in cs])), 9)] += 1
    reps = bootstrap_replicates(m, 40000, np.random.default_rng(3))
    seen = Counter(round(float(v), 9) for v in reps)
    assert set(seen) == set(exact)  # values 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5 ... as enumerated
    for value, count in exact.items():
        assert seen[value] / len(reps) == pytest.approx(count / 16, abs=0.01)


def test_bootstrap_interval_reproducible_and_contains_mean() -> None:
    rng = np.random.default_rng(0)
    m = np.clip(np.round(3 + rng.normal(0, 1, (20, 30)) + rng.normal(0, 0.5, (20, 1))), 1, 5)
    a = bootstrap_interval(m, 1000, np.random.default_rng(5))
    b = bootstrap_interval(m, 1000, np.random.default_rng(5))
    c = bootstrap_interval(m, 1000, np.random.default_rng(6))
    assert a == b and a != c
    assert a[0] < m.mean() < a[1]
    assert 0.1 < a[1] - a[0] < 1.5
    # two-way resampling is wider than resampling raters alone (clip spread adds variance)
    rater_only = np.array([m[np.random.default_rng(k).integers(0, 20, 20)].mean() for k in range(1000)])
    assert a[1] - a[0] > np.subtract(*np.quantile(rater_only, [0.975, 0.025]))
    assert bootstrap_interval(np.full((3, 4), 3.0), 50, np.random.default_rng(0)) == (3.0, 3.0)


# ----------------------------------------------------------------------------------------------------------
# the store


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_store_upsert_and_watch_rule(tmp_path: Path) -> None:
    clock = Clock()
    store = Store(tmp_path / "r.sqlite", "s1", clock=clock)
    token = store.new_rater()
    with pytest.raises(Refused, match="not been watched") as err:
        store.rate(token, "c1", 3)
    assert err.value.status == 409
    with pytest.raises(Refused, match="never started"):
        store.end_play(token, "c1", duration=4.0)
    store.start_play(token, "c1")
    clock.now += 2.0
    with pytest.raises(Refused, match="ended 2.00 s after it started, but it lasts 4.00 s"):
        store.end_play(token, "c1", duration=4.0)
    with pytest.raises(Refused, match="not been watched"):  # started is not watched
        store.rate(token, "c1", 3)
    clock.now += 1.7  # 3.7 s >= 0.9 * 4 s
    store.end_play(token, "c1", duration=4.0)
    assert store.watched(token) == {"c1"}
    assert store.rate(token, "c1", 3) == 3
    assert store.revisions(token, "c1") == 0
    store.rate(token, "c1", 5)
    store.rate(token, "c1", 5)  # the same answer again is not a revision
    assert store.answers(token) == {"c1": 5}
    assert store.all_ratings() == [(token, "c1", 5)]
    assert store.revisions(token, "c1") == 1
    for bad in (0, 6, 3.5, "3", True, None):
        with pytest.raises(Refused, match="integer 1..5") as err:
            store.rate(token, "c1", bad)
        assert err.value.status == 400
    with pytest.raises(Refused, match="unknown rater") as err:
        store.rate("nobody-at-all", "c1", 3)
    assert err.value.status == 404
    # a replay restarts the clock but the clip stays watched
    store.start_play(token, "c1")
    assert store.watched(token) == {"c1"}
    store.close()
    # the table itself refuses out-of-range ratings and duplicates, whatever writes to it
    conn = sqlite3.connect(tmp_path / "r.sqlite")
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO ratings VALUES (?, 'c2', 7, 0, 0, 0)", (token,))
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO ratings VALUES (?, 'c1', 2, 0, 0, 0)", (token,))
    conn.close()
    with pytest.raises(ValueError, match="another survey"):
        Store(tmp_path / "r.sqlite", "s2")


# ----------------------------------------------------------------------------------------------------------
# the web app's refusals


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, int, object]]:
    write_fake_survey(tmp_path / "survey")
    server, app = make_server(tmp_path / "survey", port=0, quiet=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield "127.0.0.1", server.server_address[1], app
    finally:
        server.shutdown()
        server.server_close()
        app.store.close()


def request(port: int, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        res = conn.getresponse()
        return res.status, dict(res.getheaders()), res.read()
    finally:
        conn.close()


def post(port: int, path: str, obj: object) -> tuple[int, dict]:
    status, _, data = request(port, "POST", path, json.dumps(obj).encode(), {"Content-Type": "application/json"})
    return status, json.loads(data)


def test_server_refuses_bad_requests(served: tuple) -> None:
    _, port, app = served
    status, headers, _ = request(port, "GET", "/new")
    assert status == 303 and headers["Location"].startswith("/?t=")
    token = headers["Location"][len("/?t="):]
    clip = sorted(app.clips)[0]
    jh = {"Content-Type": "application/json"}

    def refused(status: int, body: bytes, fragment: str, path: str = "/api/ratings",
                headers: dict[str, str] | None = None) -> None:
        got, _, data = request(port, "POST", path, body, jh if headers is None else headers)
        message = json.loads(data)["error"]
        assert got == status, message
        assert fragment in message

    refused(400, b'{"token": ', "not valid JSON")
    refused(400, b"[1, 2]", "JSON object")
    refused(400, b"\xff\xfe", "not valid JSON")
    refused(400, json.dumps({"token": token, "clip": clip, "rating": 3, "x": 1}).encode(), "unexpected field")
    refused(400, json.dumps({"token": token, "clip": clip}).encode(), "missing field")
    for bad in (0, 6, 3.5, "4", True, None):
        refused(400, json.dumps({"token": token, "clip": clip, "rating": bad}).encode(), "integer 1..5")
    refused(400, b'{"token": "%s", "clip": "%s", "rating": NaN}' % (token.encode(), clip.encode()), "not valid JSON")
    refused(400, json.dumps({"token": "../etc", "clip": clip, "rating": 3}).encode(), "token must be")
    refused(404, json.dumps({"token": "x" * 24, "clip": clip, "rating": 3}).encode(), "unknown rater")
    refused(404, json.dumps({"token": token, "clip": "ffffffffffff", "rating": 3}).encode(), "unknown clip")
    refused(409, json.dumps({"token": token, "clip": clip, "rating": 3}).encode(), "not been watched")
    refused(400, json.dumps({"token": token, "clip": clip, "event": "skip"}).encode(), "'start' or 'end'",
            "/api/plays")
    refused(409, json.dumps({"token": token, "clip": clip, "event": "end"}).encode(), "never started",
            "/api/plays")
    refused(415, json.dumps({"token": token, "clip": clip, "rating": 3}).encode(), "application/json",
            headers={"Content-Type": "text/plain"})
    refused(413, b"{" + b" " * (MAX_BODY + 10) + b"}", f"over the limit of {MAX_BODY} bytes")
    # no Content-Length at all
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.putrequest("POST", "/api/ratings")
    conn.putheader("Content-Type", "application/json")
    conn.endheaders()
    res = conn.getresponse()
    assert res.status == 411 and "Content-Length" in json.loads(res.read())["error"]
    conn.close()
    assert request(port, "GET", "/api/ratings")[0] == 405
    assert request(port, "POST", "/index.html", b"{}", jh)[0] == 405
    assert request(port, "POST", "/nowhere", b"{}", jh)[0] == 404
    assert request(port, "GET", f"/api/raters/{'y' * 24}")[0] == 404
    assert request(port, "GET", "/api/raters/bad%20token")[0] == 400
    assert app.store.all_ratings() == []


def test_server_paths_cannot_escape(served: tuple) -> None:
    _, port, app = served
    survey_json = (app.survey.root / SURVEY_FILE).read_bytes()
    for path in ("/clips/../survey.json", "/clips/%2e%2e/survey.json", "/clips/..%2fsurvey.json",
                 "/static/../server.py", "/static/..%2f..%2fdefinition.py", "/clips/", "/static/",
                 "/clips//etc/passwd", "/static/%2fetc%2fpasswd", "/clips/survey.json", "/../survey.json"):
        status, _, data = request(port, "GET", path)
        assert status == 404, path
        assert survey_json not in data and b"import" not in data
    # the clips and the page themselves are served, with byte ranges for video players
    stim0 = app.survey.stimuli[0]
    body = (app.survey.root / stim0.file).read_bytes()
    status, headers, data = request(port, "GET", f"/clips/{stim0.filename}")
    assert (status, data, headers["Content-Type"]) == (200, body, "video/mp4")
    status, headers, data = request(port, "GET", f"/clips/{stim0.filename}", headers={"Range": "bytes=2-5"})
    assert (status, data, headers["Content-Range"]) == (206, body[2:6], f"bytes 2-5/{len(body)}")
    assert request(port, "GET", f"/clips/{stim0.filename}", headers={"Range": "bytes=-3"})[2] == body[-3:]
    assert request(port, "GET", f"/clips/{stim0.filename}", headers={"Range": "bytes=999-"})[0] == 416
    status, headers, data = request(port, "GET", "/")
    assert status == 200 and b"/static/app.js" in data and "script-src" not in headers["Content-Security-Policy"]
    assert request(port, "GET", "/static/app.js")[0] == 200


def test_server_flow_and_rater_order(served: tuple) -> None:
    _, port, app = served
    status, created = post(port, "/api/raters", {})
    assert status == 201
    token = created["token"]
    status, _, data = request(port, "GET", f"/api/raters/{token}")
    state = json.loads(data)
    order = [c["id"] for c in state["clips"]]
    assert sorted(order) == sorted(app.clips) and state["answers"] == {} and state["watched"] == []
    assert [s["label"] for s in state["scale"]] == ["Bad", "Poor", "Fair", "Good", "Excellent"]
    assert order == app.order(token)  # the same order on every request
    assert app.order("A" * 16) == app.order("A" * 16) != app.order("B" * 16)
    # nothing in the page's data tells the method
    assert b"method" not in data and b'"m"' not in data
    clip = order[0]
    assert post(port, "/api/plays", {"token": token, "clip": clip, "event": "start"})[0] == 200
    status, msg = post(port, "/api/plays", {"token": token, "clip": clip, "event": "end"})
    assert status == 409 and "watch it to the end" in msg["error"]  # 0.1 s clip ended at once
    threading.Event().wait(0.12)
    assert post(port, "/api/plays", {"token": token, "clip": clip, "event": "end"}) == (
        200, {"ok": True, "clip": clip, "watched": True})
    assert post(port, "/api/ratings", {"token": token, "clip": clip, "rating": 4})[0] == 200
    assert post(port, "/api/ratings", {"token": token, "clip": clip, "rating": 2})[0] == 200
    state = json.loads(request(port, "GET", f"/api/raters/{token}")[2])
    assert state["answers"] == {clip: 2} and state["watched"] == [clip]
    assert app.store.all_ratings() == [(token, clip, 2)]


# ----------------------------------------------------------------------------------------------------------
# choosing stimuli (pure)


def sources_and_keys(n_keys: int = 4, views: tuple[int, ...] = (0, 90, 180)) -> dict:
    a = Source(Path("/a"), "test", "a", "")
    b = Source(Path("/b"), "test", "b", "alpha=0.3")
    o = Source(Path("/o"), "reference", "original", "")
    keys = {v: [f"{s:03d}-nm-01-{v:03d}" for s in range(1, n_keys + 1)] for v in views}
    return {a: keys, b: {v: k[1:] + [f"099-nm-01-{v:03d}"] for v, k in keys.items()}, o: keys}


def test_spread_and_plan_are_balanced_and_paired() -> None:
    counts = spread(7, [0, 90, 180], np.random.default_rng(0))
    assert sum(counts.values()) == 7 and sorted(counts.values()) == [2, 2, 3]
    available = sources_and_keys()
    plan = plan_stimuli(available, BuildConfig(clips=8, anchors=2, seed=1))
    tests = [p for p in plan if p.role == "test"]
    per = Counter((p.method, p.view) for p in tests)
    assert sum(n for (m, _), n in per.items() if m == "a") == 4 == sum(n for (m, _), n in per.items() if m == "b")
    for v in (0, 90, 180):  # the same views get the extra clip, and both methods show the same walks
        assert per[("a", v)] == per[("b", v)] in (1, 2)
        assert {p.sequence for p in tests if p.method == "a" and p.view == v} == {
            p.sequence for p in tests if p.method == "b" and p.view == v}
    assert all(p.sequence != f"099-nm-01-{p.view:03d}" and not p.sequence.startswith("001") for p in tests)
    refs = [p for p in plan if p.role == "reference"]
    assert sorted(p.view for p in refs) == [0, 90, 180]  # one per view by default
    test_keys = {p.sequence for p in tests}
    assert all(p.sequence in test_keys for p in refs)  # references prefer the walks the test clips show
    anchors = [p for p in plan if p.role == "anchor"]
    assert len(anchors) == 2 and {p.method for p in anchors} == {"anchor"}
    assert {p.parameters for p in anchors} == {"blur=0.05;order=shuffled"}
    assert plan == plan_stimuli(available, BuildConfig(clips=8, anchors=2, seed=1))  # seeded
    assert plan != plan_stimuli(available, BuildConfig(clips=8, anchors=2, seed=2))
    assert len({p.id for p in plan}) == len(plan)
    assert tests[0].id == clip_id("test", tests[0].method, tests[0].parameters, tests[0].sequence)
    with pytest.raises(ValueError, match="do not split evenly over 2 methods"):
        plan_stimuli(available, BuildConfig(clips=7))
    with pytest.raises(ValueError, match="only 3 sequences with colour video are common"):
        plan_stimuli(available, BuildConfig(clips=24))
    no_ref = {s: k for s, k in available.items() if s.role == "test"}
    with pytest.raises(ValueError, match="hidden references are the originals"):
        plan_stimuli(no_ref, BuildConfig(clips=2, references=1))
    assert {p.role for p in plan_stimuli(no_ref, BuildConfig(clips=2, anchors=1))} == {"test", "anchor"}


def test_make_anchor_shuffles_and_blurs() -> None:
    frames = np.zeros((6, 20, 30, 3), np.uint8)
    for t in range(6):
        frames[t] = 10 * t  # frame t is flat grey 10 t
    frames[:, 10, 15] = 255  # one bright pixel per frame
    out = make_anchor(frames, np.random.default_rng(4), blur=0.1)
    perm = np.random.default_rng(4).permutation(6)
    assert perm.tolist() != list(range(6))
    # flat areas keep their grey, in the shuffled order; the bright pixel is spread out (sigma 2 px)
    assert out[:, 0, 0, 0].tolist() == [10 * int(t) for t in perm]
    assert (out[:, 10, 15, 0] < 255 // 4 + 10 * perm).all()
    assert (out[:, 10, 17, 0] > 10 * perm).all()


# ----------------------------------------------------------------------------------------------------------
# building a survey on disk (needs PyAV)


def test_build_encodes_playable_clips_and_resumes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    av = pytest.importorskip("av")
    from benchmark.survey.build import build_survey, probe_clip

    orig = make_dataset(tmp_path / "orig", None)
    a = make_dataset(tmp_path / "a", "blur", {"sigma": 3}, tint=10)
    b = make_dataset(tmp_path / "b", "stgan", {"alpha": 0.3}, tint=20)
    out = tmp_path / "survey"
    config = BuildConfig(clips=4, anchors=2, seed=3)
    doc = build_survey([a, b, orig], out, config, progress=lambda msg: None)
    assert doc["encoded"] == 8 and doc["counts"] == {"test": 4, "reference": 2, "anchor": 2}
    survey = load_survey(out)
    got = Counter((s.role, s.method, s.parameters, s.view) for s in survey.stimuli)
    assert got == Counter({("test", "blur", "sigma=3", 0): 1, ("test", "blur", "sigma=3", 90): 1,
                           ("test", "stgan", "alpha=0.3", 0): 1, ("test", "stgan", "alpha=0.3", 90): 1,
                           ("reference", "original", "", 0): 1, ("reference", "original", "", 90): 1,
                           ("anchor", "anchor", "blur=0.05;order=shuffled", 0): 1,
                           ("anchor", "anchor", "blur=0.05;order=shuffled", 90): 1})
    for s in survey.stimuli:
        info = probe_clip(out / s.file)
        assert (info["codec"], info["pix_fmt"], info["width"], info["height"], info["frames"]) == (
            "h264", "yuv420p", 34, 26, 8)
        assert (s.codec, s.width, s.height, s.frames, s.fps) == ("h264", 34, 26, 8, 25.0)
        assert s.method not in s.file and s.id in s.file
    # the clip shows the source frames (RGB order kept): a red walker on a blue-grey scene
    clip = next(s for s in survey.stimuli if s.role == "test" and s.method == "stgan")
    with av.open(str(out / clip.file)) as container:
        decoded = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    from benchmark.data.casia import CasiaB

    data = CasiaB(b)
    source = data.load(data.ref(clip.sequence), frames=True).frames
    assert source is not None
    assert np.abs(decoded.astype(int) - source[:, :26, :34].astype(int)).mean() < 8
    # resuming: nothing is encoded again and the definition is the same
    before = {p.name: p.stat().st_mtime_ns for p in (out / "clips").iterdir()}
    from benchmark.cli import main

    assert main(["survey", "build", str(a), str(b), str(orig), "--out", str(out), "--clips", "4", "--anchors", "2",
                 "--seed", "3"]) == 0
    assert "(0 encoded now)" in capsys.readouterr().out
    assert json.loads((out / SURVEY_FILE).read_text())["stimuli"] == doc["stimuli"]
    assert {p.name: p.stat().st_mtime_ns for p in (out / "clips").iterdir()} == before
    (out / survey.stimuli[0].file).unlink()
    assert build_survey([a, b, orig], out, config, progress=lambda msg: None)["encoded"] == 1
    with pytest.raises(ValueError, match="already holds another survey"):
        build_survey([a, b, orig], out, dataclasses.replace(config, seed=4), progress=lambda msg: None)
    with pytest.raises(ValueError, match="only the original may lack one"):
        build_survey([a, orig, make_dataset(tmp_path / "c", None)], tmp_path / "s2", config)
    with pytest.raises(ValueError, match="are both blur"):
        build_survey([a, a], tmp_path / "s3", config)


# A build in a child process, so that it can be killed like a real one. The child's heap is filled with a
# pattern (glibc's MALLOC_PERTURB_): an encoder that reads memory it never initialised then writes other bytes
# than the parent, as a build resumed in a fresh process did (x264's AVX-512 macroblock-tree code did this).
CHILD_BUILD = """
import json, os, signal, sys
from pathlib import Path

import benchmark.survey.build as build
from benchmark.io import atomic_path

args = json.loads(sys.argv[1])
encode, plan = build.encode_clip, build.plan_stimuli
written = []


def encode_or_die(path, *rest, **kwargs):
    if len(written) == args["kill_after"]:
        with atomic_path(path, suffix=Path(path).suffix):  # the writer's temporary file, still empty
            os.kill(os.getpid(), signal.SIGKILL)
    encode(path, *rest, **kwargs)
    written.append(path)


build.encode_clip = encode_or_die
if args["reverse"]:
    build.plan_stimuli = lambda *a, **k: plan(*a, **k)[::-1]
build.build_survey(args["dirs"], args["out"], build.BuildConfig(**args["config"]), progress=lambda msg: None)
"""


def build_in_child(dirs: list[Path], out: Path, config: BuildConfig, *, kill_after: int | None = None,
                   reverse: bool = False) -> subprocess.CompletedProcess[str]:
    args = {"dirs": [str(d) for d in dirs], "out": str(out), "config": dataclasses.asdict(config),
            "kill_after": kill_after, "reverse": reverse}
    return subprocess.run([sys.executable, "-c", CHILD_BUILD, json.dumps(args)], cwd=Path(__file__).parents[1],
                          env={**os.environ, "MALLOC_PERTURB_": "165"}, capture_output=True, text=True, timeout=120)


@pytest.fixture
def survey_inputs(tmp_path: Path) -> list[Path]:
    """Two anonymized datasets and the original: 8 clips at BuildConfig(clips=4, anchors=2)."""
    return [make_dataset(tmp_path / "a", "blur", {"sigma": 3}, tint=10),
            make_dataset(tmp_path / "b", "stgan", {"alpha": 0.3}, tint=20), make_dataset(tmp_path / "orig", None)]


def clip_bytes(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (out / "clips").iterdir()}


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_build_killed_midway_resumes_to_the_same_bytes(tmp_path: Path, survey_inputs: list[Path]) -> None:
    pytest.importorskip("av")
    from benchmark.survey.build import build_survey

    config = BuildConfig(clips=4, anchors=2, seed=3)
    out = tmp_path / "killed"
    child = build_in_child(survey_inputs, out, config, kill_after=3)
    assert child.returncode == -signal.SIGKILL, child.stderr
    clips = out / "clips"
    temps = [p for p in clips.iterdir() if p.name.startswith(".")]
    # what the reviewer found: 3 clips and the fourth's empty temporary file, named .<id>.mp4.<random>.mp4
    assert len(temps) == 1 and temps[0].stat().st_size == 0, temps
    assert re.fullmatch(r"\.[0-9a-f]{12}\.mp4\.[a-z0-9_]+\.mp4", temps[0].name)
    assert len(list(clips.glob("[0-9a-f]*.mp4"))) == 3
    (clips / ".keep").write_text("not the build's")
    doc = build_survey(survey_inputs, out, config, progress=lambda msg: None)
    assert doc["encoded"] == 5
    files = [s["file"] for s in doc["stimuli"]]
    assert all(re.fullmatch(r"clips/[0-9a-f]{12}\.mp4", f) for f in files)
    assert sorted(p.name for p in clips.iterdir()) == sorted([".keep", *(PurePosixPath(f).name for f in files)])
    assert not (out / "survey.partial.json").exists()
    whole = build_survey(survey_inputs, tmp_path / "whole", config, progress=lambda msg: None)
    assert {s["id"]: s["sha256"] for s in doc["stimuli"]} == {s["id"]: s["sha256"] for s in whole["stimuli"]}
    assert (json.loads((out / SURVEY_FILE).read_text())["stimuli"]
            == json.loads((tmp_path / "whole" / SURVEY_FILE).read_text())["stimuli"])
    assert clip_bytes(out) == {".keep": b"not the build's", **clip_bytes(tmp_path / "whole")}


@pytest.mark.parametrize("codec", ["h264", "vp9"])
def test_build_twice_gives_the_same_bytes(tmp_path: Path, survey_inputs: list[Path], codec: str) -> None:
    av = pytest.importorskip("av")
    from benchmark.survey.build import CODECS, build_survey

    if CODECS[codec][0] not in av.codecs_available:
        pytest.skip(f"this PyAV has no {CODECS[codec][0]}")
    config = BuildConfig(clips=4, anchors=2, seed=3, codec=codec)
    first = build_survey(survey_inputs, tmp_path / "first", config, progress=lambda msg: None)
    # the second build runs in another process, with another heap, and encodes the clips in the reverse order
    child = build_in_child(survey_inputs, tmp_path / "second", config, reverse=True)
    assert child.returncode == 0, child.stderr
    second = json.loads((tmp_path / "second" / SURVEY_FILE).read_text())
    assert len(first["stimuli"]) == 8 and {s["codec"] for s in first["stimuli"]} == {codec}
    assert clip_bytes(tmp_path / "first") == clip_bytes(tmp_path / "second")
    assert sorted(first["stimuli"], key=lambda s: s["id"]) == sorted(second["stimuli"], key=lambda s: s["id"])


def test_build_refuses_datasets_without_videos(tmp_path: Path) -> None:
    pytest.importorskip("av")
    from benchmark.survey.build import build_survey

    a = tmp_path / "a"
    write_casia_tree(a, subjects=("001",), conditions=("nm-01",), views=(0,))
    (a / "anonymization.json").write_text(json.dumps({"method": "mask", "parameters": {}}))
    with pytest.raises(ValueError, match="no selected sequence with a colour video"):
        build_survey([a], tmp_path / "s", BuildConfig(clips=1))


def test_odd_sizes_are_cropped_and_vp9_works(tmp_path: Path) -> None:
    pytest.importorskip("av")
    from benchmark.survey.build import encode_clip, probe_clip

    frames = np.zeros((5, 21, 33, 3), np.uint8)
    frames[:, :, :, 1] = np.arange(33, dtype=np.uint8) * 7
    for codec, name in (("vp9", "c.webm"), ("h264", "c.mp4")):
        encode_clip(tmp_path / name, frames, 25.0, codec=codec)
        info = probe_clip(tmp_path / name)
        assert (info["codec"], info["width"], info["height"], info["frames"]) == (codec, 32, 20, 5)
    with pytest.raises(ValueError, match=r"must be named \*.webm"):
        encode_clip(tmp_path / "c.mp4", frames, 25.0, codec="vp9")


def test_cli_analyze_writes_tidy_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from benchmark.cli import main

    survey = write_fake_survey(tmp_path / "survey", n=3)
    store = Store(tmp_path / "survey" / "responses.sqlite", survey.survey_id)
    # two raters, ratings per clip: (5, 3), (4, 4), (3, 2) -> mean 21 / 6 = 3.5
    for values in ((5, 4, 3), (3, 4, 2)):
        token = store.new_rater()
        for s, v in zip(survey.stimuli, values, strict=True):
            store.start_play(token, s.id)
            store.end_play(token, s.id, duration=0.0)
            store.rate(token, s.id, v)
    store.close()
    assert main(["survey", "analyze", str(tmp_path / "survey"), "--boot", "100"]) == 0
    out = capsys.readouterr().out
    assert "raters: 2 of 2 kept" in out and "3.50" in out
    frame = read_csv(tmp_path / "survey" / "results-mos.csv")
    mos = frame[(frame["metric"] == "mos") & (frame["view"] == -1)].iloc[0]
    assert (mos["method"], mos["evaluator"], mos["condition"], mos["value"], mos["n"]) == (
        "m", "survey", "all", 3.5, 6)
    assert set(frame["metric"]) == {"mos", "mos_q1", "mos_median", "mos_q3", "mos_min", "mos_max"}
    median = frame[(frame["metric"] == "mos_median") & (frame["view"] == -1)].iloc[0]
    assert (median["value"], median["n"]) == (3.5, 2)  # rater means 4 and 3
    record = json.loads((tmp_path / "survey" / "results-mos.run.json").read_text())
    assert record["raters_kept"] == 2 and record["config"]["n_boot"] == 100
    assert main(["survey", "analyze", str(tmp_path / "survey"), "--db", str(tmp_path / "none.sqlite")]) == 2


def test_serve_is_one_command_and_prints_the_link(tmp_path: Path) -> None:
    write_fake_survey(tmp_path / "survey")
    proc = subprocess.Popen([sys.executable, "-m", "benchmark.cli", "survey", "serve", str(tmp_path / "survey"),
                             "--port", "0", "--quiet"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline() + proc.stdout.readline()
        assert "4 clips" in first
        found = re.search(r"new rater.*: +http://127\.0\.0\.1:(\d+)/new\n", first)
        assert found is not None, first
        port = int(found[1])
        status, headers, _ = request(port, "GET", "/new")
        assert status == 303 and headers["Location"].startswith("/?t=")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
