"""A bounded load test of the survey server on the loopback interface: many raters at once, then one connection.

:func:`load_test` starts the server for a survey folder on ``127.0.0.1`` (a free port, a temporary response
file, so a study's answers are never touched) and runs ``raters`` simulated raters in parallel, each on its own
kept-alive connection doing what the page does: make a token, read its state, then for each of ``clips`` clips
start a play, end it and rate it (the watch rule is relaxed to 0 for the test, since waiting out the clips would
measure nothing but sleep). Every answer must be a 2xx and every rating must be in the store afterwards.

Then one client reads its state ``requests`` times in a row, once on one kept-alive connection and once with a
new connection per request, ``repeats`` times each; the medians give the keep-alive ratio (a value near or above 1
means keep-alive costs nothing; Nagle's algorithm with delayed ACKs once made it 40x slower).

Figures, not a pass/fail: ``gaitbench survey load SURVEY`` prints them; the slow test checks the counts and that
keep-alive is within 2x of new connections.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmark.survey.server import make_server


@dataclasses.dataclass(frozen=True)
class LoadReport:
    raters: int
    clips: int
    requests: int
    errors: list[str]
    ratings_stored: int
    seconds: float
    latencies_ms: list[float]
    keep_alive_rps: list[float]
    new_connection_rps: list[float]

    @property
    def rate(self) -> float:
        """Requests per second over the whole parallel phase."""
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        """Latency in milliseconds at quantile ``q`` (0..100) of all requests of the parallel phase."""
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return float("nan")
        index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
        return ordered[index]

    @property
    def keep_alive_ratio(self) -> float:
        """Median requests/s on one kept-alive connection over the median with a new connection per request."""
        return statistics.median(self.keep_alive_rps) / statistics.median(self.new_connection_rps)

    def lines(self) -> list[str]:
        return [
            f"{self.raters} raters in parallel, {self.clips} clips each: {self.requests} requests in "
            f"{self.seconds:.2f} s = {self.rate:.0f} requests/s; {len(self.errors)} errors; "
            f"{self.ratings_stored} of {self.raters * self.clips} ratings stored",
            f"latency ms: median {self.percentile(50):.1f}, p95 {self.percentile(95):.1f}, "
            f"p99 {self.percentile(99):.1f}, max {max(self.latencies_ms, default=float('nan')):.1f}",
            f"one client, sequential: kept-alive median {statistics.median(self.keep_alive_rps):.0f} requests/s, "
            f"new connection each median {statistics.median(self.new_connection_rps):.0f} requests/s "
            f"(ratio {self.keep_alive_ratio:.2f}; {len(self.keep_alive_rps)} repeats)",
        ]


class _Client:
    """One kept-alive connection that times and checks each request."""

    def __init__(self, port: int, timeout: float) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.latencies: list[float] = []
        self.errors: list[str] = []

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Host": "127.0.0.1", **({"Content-Type": "application/json"} if data is not None else {})}
        if method == "POST" and data is None:
            headers["Content-Length"] = "0"
        start = time.perf_counter()
        self.conn.request(method, path, body=data, headers=headers)
        res = self.conn.getresponse()
        payload = res.read()
        self.latencies.append((time.perf_counter() - start) * 1000)
        if not 200 <= res.status < 300:
            self.errors.append(f"{method} {path}: {res.status} {payload[:200]!r}")
            return None
        return json.loads(payload)


def _rater(port: int, clips: int, timeout: float, start: threading.Barrier, out: list[_Client]) -> None:
    client = _Client(port, timeout)
    out.append(client)
    try:
        start.wait()
        made = client.call("POST", "/api/raters")
        if made is None:
            return
        token = made["token"]
        state = client.call("GET", f"/api/raters/{token}")
        if state is None:
            return
        for clip in [c["id"] for c in state["clips"]][:clips]:
            client.call("POST", "/api/plays", {"token": token, "clip": clip, "event": "start"})
            client.call("POST", "/api/plays", {"token": token, "clip": clip, "event": "end"})
            client.call("POST", "/api/ratings", {"token": token, "clip": clip, "rating": 3})
    except (OSError, http.client.HTTPException) as exc:
        client.errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        client.conn.close()


def _sequential_rate(port: int, path: str, requests: int, keep_alive: bool, timeout: float) -> float:
    client = _Client(port, timeout)
    start = time.perf_counter()
    for _ in range(requests):
        if not keep_alive:
            client.conn.close()
            client.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        client.call("GET", path)
    elapsed = time.perf_counter() - start
    client.conn.close()
    if client.errors:
        raise RuntimeError(f"sequential requests failed: {client.errors[0]}")
    return requests / elapsed


def load_test(survey_dir: str | Path, *, raters: int = 50, clips: int = 10, requests: int = 200, repeats: int = 5,
              timeout: float = 30.0) -> LoadReport:
    """Run the load test (module docstring) against the survey in ``survey_dir``; returns the figures.

    ``clips`` is capped by the survey's number of clips. The server gets ``raters`` workers, so no connection
    waits for a free one; ``timeout`` bounds every request (a stuck server fails the test, it does not hang it).
    """
    if raters < 1 or clips < 1 or requests < 1 or repeats < 1:
        raise ValueError(f"raters, clips, requests and repeats must be >= 1, got {raters}, {clips}, {requests}, "
                         f"{repeats}")
    with tempfile.TemporaryDirectory(prefix="gaitbench-load-") as tmp:
        server, app = make_server(survey_dir, Path(tmp) / "responses.sqlite", "127.0.0.1", 0, min_fraction=0.0,
                                  quiet=True, max_workers=raters + 4, timeout=timeout, new_raters_per_hour=0)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        try:
            port = server.server_address[1]
            clips = min(clips, len(app.clips))
            barrier = threading.Barrier(raters + 1)
            clients: list[_Client] = []
            workers = [threading.Thread(target=_rater, args=(port, clips, timeout, barrier, clients), daemon=True)
                       for _ in range(raters)]
            for w in workers:
                w.start()
            barrier.wait()
            began = time.perf_counter()
            for w in workers:
                w.join(timeout * (3 * clips + 2))
            seconds = time.perf_counter() - began
            stuck = sum(w.is_alive() for w in workers)
            errors = [e for c in clients for e in c.errors] + [f"{stuck} raters did not finish"] * bool(stuck)
            latencies = [t for c in clients for t in c.latencies]
            stored = len(app.store.all_ratings())
            probe = app.store.new_rater()
            path = f"/api/raters/{probe}"
            keep, fresh = [], []
            for _ in range(repeats):  # interleaved, so a noisy moment hits both
                keep.append(_sequential_rate(port, path, requests, True, timeout))
                fresh.append(_sequential_rate(port, path, requests, False, timeout))
        finally:
            server.shutdown()
            server.server_close()
            app.store.close()
    return LoadReport(raters, clips, len(latencies), errors, stored, seconds, latencies, keep, fresh)
