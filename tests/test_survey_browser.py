"""The rating web app end to end in a real headless browser (Debian's Chromium driven by playwright).

Skipped when Chromium, playwright or PyAV is missing, unless ``GAITBENCH_REQUIRE_BROWSER=1`` (as in CI), where
that is a failure. Install: ``apt-get install -y chromium`` and ``pip install playwright av``; playwright's own
browser download is not needed (``GAITBENCH_CHROMIUM`` names another binary than ``/usr/bin/chromium``).
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

from benchmark.survey.build import BuildConfig, build_survey
from benchmark.survey.server import make_server, server_url
from tests.test_survey import make_dataset

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


def chromium_or_skip() -> str:
    """The Chromium binary; skip (or fail under GAITBENCH_REQUIRE_BROWSER=1) naming what is missing."""
    binary = os.environ.get("GAITBENCH_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    missing = []
    if not Path(binary).is_file():
        missing.append(f"no Chromium binary at {binary} (apt-get install -y chromium)")
    for module, hint in (("playwright.sync_api", "pip install playwright"), ("av", "pip install av")):
        try:
            __import__(module)
        except ImportError:
            missing.append(f"{module.split('.')[0]} is not installed ({hint})")
    if missing:
        reason = "browser test needs " + "; ".join(missing)
        if os.environ.get("GAITBENCH_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{reason} (GAITBENCH_REQUIRE_BROWSER=1 requires it)")
        pytest.skip(reason)
    return binary


def test_rater_watches_rates_resumes_in_chromium(tmp_path: Path) -> None:
    binary = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    # 6 clips of 6 frames (0.24 s each): 2 methods x 2 views, one hidden reference, one anchor
    orig = make_dataset(tmp_path / "orig", None, frames=6)
    a = make_dataset(tmp_path / "a", "blur", {"sigma": 3}, frames=6, tint=10)
    b = make_dataset(tmp_path / "b", "stgan", {"alpha": 0.3}, frames=6, tint=20)
    build_survey([a, b, orig], tmp_path / "survey", BuildConfig(clips=4, references=1, anchors=1),
                 progress=lambda msg: None)
    server, app = make_server(tmp_path / "survey", port=0, quiet=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    url = server_url(server)
    given: dict[str, int] = {}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=binary, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.set_default_timeout(10_000)
            page.goto(f"{url}/new")
            page.wait_for_selector("body[data-state=ready]")
            token = page.evaluate("new URLSearchParams(location.search).get('t')")
            total = len(app.clips)
            assert page.inner_text("#progress") == f"Video 1 of {total} (0 rated)"
            for i in range(total):
                if i == 3:  # close and come back: same order, answers kept, the next unrated clip shown
                    page.reload()
                    page.wait_for_selector("body[data-state=ready]")
                    assert page.inner_text("#progress") == f"Video 4 of {total} (3 rated)"
                assert page.get_attribute("#progress", "data-position") == str(i)
                assert page.is_disabled("#rate-3")  # no rating before the clip was watched
                clip = page.eval_on_selector("#video", "v => new URL(v.src).pathname.split('/').pop()")
                clip_id = clip.split(".")[0]
                assert clip_id == app.order(token)[i]
                page.click("#play")
                page.wait_for_selector("body[data-state=rate]")  # the 'ended' event fired and the server agreed
                assert page.eval_on_selector("#video", "v => [v.ended, v.videoWidth, v.videoHeight]") == [
                    True, 34, 26]
                rating = 1 + (i * 2) % 5
                page.click(f"#rate-{rating}")
                given[clip_id] = rating
                if i + 1 < total:
                    page.wait_for_selector(f"#progress[data-position='{i + 1}']")
            page.wait_for_selector("body[data-state=done]")
            # change the last answer: a resubmission updates it
            page.click("#review")
            page.wait_for_selector("body[data-state=rate]")
            assert page.get_attribute(f"#rate-{given[app.order(token)[-1]]}", "aria-pressed") == "true"
            page.click("#rate-5")
            page.wait_for_selector("body[data-state=done]")
            given[app.order(token)[-1]] = 5

            # malformed requests from the page are refused with a clear message
            def fetch(path: str, body: Any, raw: bool = False) -> list[Any]:
                return page.evaluate(
                    """async ([path, body]) => {
                        const r = await fetch(path, {method: 'POST', headers: {'Content-Type': 'application/json'},
                                                     body});
                        return [r.status, (await r.json()).error || null];
                    }""", [path, body if raw else json.dumps(body)])

            first = app.order(token)[0]
            assert fetch("/api/ratings", '{"token": ', raw=True)[0] == 400
            assert fetch("/api/ratings", {"token": token, "clip": first, "rating": 7}) == [
                400, "rating must be an integer 1..5, got 7"]
            assert fetch("/api/ratings", {"token": token, "clip": "0" * 12, "rating": 3})[0] == 404
            assert fetch("/api/ratings", {"token": "z" * 24, "clip": first, "rating": 3})[0] == 404
            assert fetch("/api/ratings", "x" * 5000, raw=True)[0] == 413
            other = page.evaluate("fetch('/api/raters', {method: 'POST'}).then(r => r.json())")["token"]
            status, message = fetch("/api/ratings", {"token": other, "clip": first, "rating": 3})
            assert status == 409 and "not been watched" in message
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    stored = app.store.all_ratings()
    app.store.close()
    assert sorted(stored) == sorted((token, c, r) for c, r in given.items())
    assert len(stored) == len(app.clips)
