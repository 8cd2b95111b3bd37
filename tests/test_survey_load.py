"""The survey server under 50 raters at once, on the loopback interface (slow: about half a minute).

Checks what must hold under load (every answer a 2xx, every rating stored once) and that one kept-alive connection
is within 2x of a new connection per request (medians over 5 repeats; once it was 40x slower). The figures are
printed: ``pytest -m slow tests/test_survey_load.py -s``, or ``gaitbench survey load SURVEY``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmark.survey.load import load_test
from tests.test_survey import write_fake_survey

pytestmark = pytest.mark.slow


def test_fifty_raters_at_once(tmp_path: Path) -> None:
    write_fake_survey(tmp_path / "survey", n=12)
    report = load_test(tmp_path / "survey", raters=50, clips=10, requests=200, repeats=5)
    print("\n" + "\n".join(report.lines()))
    assert report.errors == []
    assert report.ratings_stored == 50 * 10
    assert report.requests == 50 * (2 + 3 * 10)
    assert report.keep_alive_ratio >= 0.5, report.lines()
