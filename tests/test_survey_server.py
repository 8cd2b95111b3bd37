"""The survey server under hostile or careless clients: malformed and oversized input, stalled and idle
connections, too many connections, odd methods and headers, hang-ups, and a bad address on the command line.

Every answer, refusals included, must be a 4xx/5xx with the server's JSON error format and its security headers,
never a 500 or a traceback. Waits are bounded by small explicit timeouts; nothing asserts on speed.
"""

from __future__ import annotations

import http.client
import json
import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmark.cli import main
from benchmark.survey.server import (
    MAX_DEPTH,
    SECURITY_HEADERS,
    SurveyApp,
    SurveyServer,
    default_allowed_hosts,
    host_name,
    json_depth,
    make_server,
)
from benchmark.survey.store import Refused, Store
from tests.test_survey import Clock, write_fake_survey

JSON_HEADERS = {"Content-Type": "application/json"}


@contextmanager
def running(root: Path, **kwargs: Any) -> Iterator[tuple[int, SurveyServer, SurveyApp]]:
    if not (root / "survey.json").exists():
        write_fake_survey(root)
    server, app = make_server(root, port=0, quiet=kwargs.pop("quiet", True), **kwargs)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], server, app
    finally:
        server.shutdown()
        server.server_close()
        app.store.close()


@pytest.fixture
def port(tmp_path: Path) -> Iterator[int]:
    with running(tmp_path / "survey", timeout=5.0) as (p, _, _):
        yield p


def exchange(port: int, data: bytes, method: str = "GET", timeout: float = 10.0
             ) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read one answer (bypasses http.client's own checks of what we send)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        res = http.client.HTTPResponse(sock, method=method)
        res.begin()
        return res.status, dict(res.getheaders()), res.read()


def raw_post(path: str, body: bytes, headers: str = "Content-Type: application/json\r\n") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\n{headers}Content-Length: {len(body)}\r\n\r\n").encode() + body


def assert_refusal(status: int, headers: dict[str, str], body: bytes, expected: int | tuple[int, ...]) -> str:
    """A refusal in the server's format: expected status, JSON {"error", "status"}, every security header."""
    expected = (expected,) if isinstance(expected, int) else expected
    doc = json.loads(body)
    assert status in expected, doc
    assert doc["status"] == status and isinstance(doc["error"], str)
    assert headers["Content-Type"].startswith("application/json")
    for key, value in SECURITY_HEADERS.items():
        assert headers.get(key) == value, (key, headers)
    assert "Traceback" not in doc["error"]
    return str(doc["error"])


def new_token(port: int) -> str:
    status, headers, _ = exchange(port, b"GET /new HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 303
    return headers["Location"][len("/?t="):]


# ----------------------------------------------------------------------------------------------------------
# 1. unparsable, oversized, too deeply nested input: 4xx, never 500


def test_json_depth_hand_counted() -> None:
    assert json_depth("3") == 0
    assert json_depth('{"a": 1}') == 1
    assert json_depth('[[1], {"b": [2]}]') == 3
    assert json_depth('{"a": "[[[[{{"}') == 1  # brackets inside strings do not count
    assert json_depth(r'["\"[[", []]') == 2  # nor after an escaped quote
    assert json_depth("[" * 2000 + "]" * 2000) == 2000


def test_deep_nesting_and_huge_numbers_are_refused(port: int) -> None:
    deep = b"[" * 2000 + b"]" * 2000  # 4,000 bytes: within MAX_BODY, far past the parser's recursion limit
    for path in ("/api/ratings", "/api/plays"):
        message = assert_refusal(*exchange(port, raw_post(path, deep)), 400)
        assert f"deeper than {MAX_DEPTH}" in message
    # nesting just over the limit, hidden inside an otherwise well-formed object
    nested = json.dumps({"token": "a" * 10, "clip": "x", "rating": [[[[[[[[[1]]]]]]]]]}).encode()
    assert_refusal(*exchange(port, raw_post("/api/ratings", nested)), 400)
    clip = "/clips/000000000001.mp4"
    huge = "9" * 4301  # past int()'s digit limit
    for value in (f"bytes={huge}-", f"bytes=-{huge}", f"bytes=0-{huge}"):
        request = f"GET {clip} HTTP/1.1\r\nHost: x\r\nRange: {value}\r\n\r\n".encode()
        assert_refusal(*exchange(port, request), 416)
    # an unsatisfiable range is a refusal in the same format
    request = f"GET {clip} HTTP/1.1\r\nHost: x\r\nRange: bytes=999-\r\n\r\n".encode()
    status, headers, body = exchange(port, request)
    assert_refusal(status, headers, body, 416)
    assert headers["Content-Range"] == "bytes */40"
    # a path urlsplit cannot parse
    assert_refusal(*exchange(port, b"GET //[x HTTP/1.1\r\nHost: x\r\n\r\n"), 404)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=30,
)


def test_free_form_bodies_never_fail_the_server(tmp_path: Path) -> None:
    with running(tmp_path / "survey", timeout=5.0) as (port, _, app):
        token = new_token(port)
        clip = sorted(app.clips)[0]

        @settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(path=st.sampled_from(["/api/ratings", "/api/plays", "/api/raters"]),
               body=json_values | st.fixed_dictionaries({"token": st.just(token), "clip": st.just(clip)},
                                                        optional={"rating": json_values, "event": json_values}),
               depth=st.integers(0, 3000))
        def check(path: str, body: object, depth: int) -> None:
            data = b"[" * depth + json.dumps(body).encode() + b"]" * depth
            status, headers, answer = exchange(port, raw_post(path, data))
            if status < 300:
                assert path == "/api/raters" or (depth == 0 and isinstance(body, dict)), (status, answer)
                return
            assert_refusal(status, headers, answer, (400, 404, 409, 413, 429))  # 429: new raters over the limit

        check()
        assert app.store.all_ratings() == []


header_text = st.text(st.characters(min_codepoint=32, max_codepoint=255, blacklist_characters="\x7f"),
                      max_size=60)


def test_free_form_headers_never_fail_the_server(tmp_path: Path) -> None:
    with running(tmp_path / "survey", timeout=5.0) as (port, _, _):

        @settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(length=header_text, ctype=header_text, range_=header_text, body=st.binary(max_size=64))
        def check(length: str, ctype: str, range_: str, body: bytes) -> None:
            post = (f"POST /api/ratings HTTP/1.1\r\nHost: x\r\nContent-Type: {ctype}\r\n"
                    f"Content-Length: {length}\r\n\r\n").encode("latin-1") + body
            status, headers, answer = exchange(port, post, "POST", timeout=10.0)
            assert_refusal(status, headers, answer, (400, 404, 408, 411, 413, 415))
            get = f"GET /clips/000000000001.mp4 HTTP/1.1\r\nHost: x\r\nRange: {range_}\r\n\r\n".encode("latin-1")
            status, headers, answer = exchange(port, get)
            if status not in (200, 206):
                assert_refusal(status, headers, answer, 416)

        check()


# ----------------------------------------------------------------------------------------------------------
# 2. timeouts and a bounded number of workers


def test_stalled_requests_get_408_and_idle_connections_close(tmp_path: Path) -> None:
    with running(tmp_path / "survey", timeout=0.5) as (port, _, _):
        # announces 100 bytes, sends 10: answered 408 once the timeout passes, not kept waiting
        partial = b"POST /api/ratings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" \
                  b"Content-Length: 100\r\n\r\n" + b'{"token": '
        message = assert_refusal(*exchange(port, partial, "POST", timeout=5.0), 408)
        assert "0.5 s" in message
        # a request dribbled in a byte at a time, each byte well within the timeout, is still cut off
        with socket.create_connection(("127.0.0.1", port), timeout=5.0) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\n")
            request = b"Host: x\r\nX-Slow: " + b"a" * 100
            got = b""
            for byte in request:
                try:
                    sock.sendall(bytes([byte]))
                except OSError:
                    break
                time.sleep(0.05)
                sock.setblocking(False)
                try:
                    got += sock.recv(4096)
                except BlockingIOError:
                    pass
                finally:
                    sock.setblocking(True)
                if got:
                    break
            assert got.startswith(b"HTTP/1.1 408"), got[:200]
        # a request that stalls inside its first line is answered 408 too
        with socket.create_connection(("127.0.0.1", port), timeout=5.0) as sock:
            sock.sendall(b"GET /static/ap")
            res = http.client.HTTPResponse(sock, method="GET")
            res.begin()
            assert_refusal(res.status, dict(res.getheaders()), res.read(), 408)
        # an idle connection is closed by the server (recv sees the end), not held open
        with socket.create_connection(("127.0.0.1", port), timeout=5.0) as sock:
            assert sock.recv(1024) == b""


def test_connections_beyond_the_workers_get_503(tmp_path: Path) -> None:
    with running(tmp_path / "survey", timeout=5.0, max_workers=2, queue_wait=0.1) as (port, server, _):
        before = threading.active_count()
        idle = [socket.create_connection(("127.0.0.1", port), timeout=5.0) for _ in range(6)]
        try:
            status, headers, body = exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", timeout=5.0)
            assert_refusal(status, headers, body, 503)
            assert headers["Retry-After"] == "1"
            assert threading.active_count() - before <= server.max_workers
            # the connections beyond the two workers were answered 503 too, not left hanging
            assert idle[-1].recv(4096).startswith(b"HTTP/1.1 503")
        finally:
            for sock in idle:
                sock.close()
        # once the idle connections are gone, the workers serve again
        deadline = time.monotonic() + 5.0
        while True:
            status = exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", timeout=5.0)[0]
            if status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert status == 200


def test_keep_alive_serves_many_requests_on_one_connection(port: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5.0)
    try:
        for _ in range(30):
            conn.request("GET", "/static/app.js")
            res = conn.getresponse()
            assert res.status == 200 and res.read()
            assert res.getheader("Connection") is None  # still open
    finally:
        conn.close()


# ----------------------------------------------------------------------------------------------------------
# 3. Content-Length: one plain decimal value


@pytest.mark.parametrize("lengths", [["13", "5"], ["13", "13"], ["+13"], ["1_3"], ["13, 13"], ["0x0d"], ["-1"],
                                     ["١٣"], [" "], ["9" * 5000]])
def test_odd_content_lengths_are_refused(port: int, lengths: list[str]) -> None:
    body = b'{"token": 1}'
    head = "".join(f"Content-Length: {v}\r\n" for v in lengths)
    request = (f"POST /api/ratings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{head}\r\n"
               ).encode() + body
    status, headers, answer = exchange(port, request, "POST")
    assert "Content-Length" in assert_refusal(status, headers, answer, 400)
    assert headers["Connection"] == "close"


def test_transfer_encoding_is_refused(port: int) -> None:
    request = b"POST /api/ratings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" \
              b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
    assert "Transfer-Encoding" in assert_refusal(*exchange(port, request, "POST"), 400)


# ----------------------------------------------------------------------------------------------------------
# 4. every answer carries the security headers; unsupported methods get 405 with Allow


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("PUT", "/api/ratings", "POST"), ("DELETE", "/", "GET"), ("OPTIONS", "/clips/000000000001.mp4", "GET"),
    ("FOO", "/nowhere", "GET, POST"), ("HEAD", "/", "GET"), ("GET", "/api/plays", "POST"),
    ("POST", "/index.html", "GET"),
])
def test_unsupported_methods_get_405_with_allow(port: int, method: str, path: str, allow: str) -> None:
    request = f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode()
    status, headers, body = exchange(port, request, method)
    if method == "HEAD":  # no body in the answer to HEAD
        assert (status, headers["Allow"], body) == (405, allow, b"")
        assert headers["Content-Security-Policy"] == SECURITY_HEADERS["Content-Security-Policy"]
        return
    assert_refusal(status, headers, body, 405)
    assert headers["Allow"] == allow


@pytest.mark.parametrize(("request_bytes", "expected"), [
    (b"GARBAGE\r\n\r\n", 400), (b"GET / HTTP/2.0\r\n\r\n", 505), (b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 120
                                                                     + b"\r\n", 431),
    (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", 414),
])
def test_unparsable_requests_get_the_normal_error_format(port: int, request_bytes: bytes, expected: int) -> None:
    assert_refusal(*exchange(port, request_bytes), expected)


# ----------------------------------------------------------------------------------------------------------
# 5. a client that hangs up is not an error


def test_hang_ups_print_no_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with running(tmp_path / "survey", timeout=5.0, quiet=False) as (port, server, _):
        for partial in (b"GET /clips/000000000001.mp4 HT", b"POST /api/ratings HTTP/1.1\r\nContent-Length: 50\r\n"
                        b"Content-Type: application/json\r\n\r\n{\"tok"):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5.0)
            sock.sendall(partial)
            time.sleep(0.05)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()  # with linger 0: a reset, as when a browser tab is killed
        assert exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")[0] == 200
        # wait (bounded) until both hung-up connections' workers are back
        deadline = time.monotonic() + 5.0
        while server._slots._value < server.max_workers and time.monotonic() < deadline:  # type: ignore[attr-defined]
            time.sleep(0.02)
        # and directly: the server's error hook stays quiet for hang-ups
        try:
            raise ConnectionResetError(104, "Connection reset by peer")
        except ConnectionResetError:
            server.handle_error(None, ("127.0.0.1", 1))
    err = capsys.readouterr().err
    assert "Traceback" not in err and "ConnectionReset" not in err and "BrokenPipe" not in err, err
    assert "GET / HTTP/1.1" in err  # the log itself still works


# ----------------------------------------------------------------------------------------------------------
# 6. a bad address on the command line: one line, exit 2


def test_serve_bad_address_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_fake_survey(tmp_path / "survey")
    survey = str(tmp_path / "survey")
    with pytest.raises(SystemExit) as exited:
        main(["survey", "serve", survey, "--port", "70000"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "70000" in err and "Traceback" not in err
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["survey", "serve", survey, "--port", str(port)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"127.0.0.1:{port}" in err and "in use" in err, err
    assert main(["survey", "serve", survey, "--host", "256.1.1.1", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "256.1.1.1" in err and "Traceback" not in err, err
    with pytest.raises(ValueError, match="70000"):
        make_server(tmp_path / "survey", port=70000)


# ----------------------------------------------------------------------------------------------------------
# 7. one play at a time per rater


def test_one_play_at_a_time(tmp_path: Path) -> None:
    clock = Clock()
    store = Store(tmp_path / "r.sqlite", "s1", clock=clock)
    token = store.new_rater()
    for clip in ("c1", "c2", "c3"):  # start every clip, wait once, end them all
        store.start_play(token, clip)
    clock.now += 10.0
    for clip in ("c1", "c2"):
        with pytest.raises(Refused, match="not the clip playing now") as err:
            store.end_play(token, clip, duration=4.0)
        assert err.value.status == 409
    store.end_play(token, "c3", duration=4.0)
    assert store.watched(token) == {"c3"}
    with pytest.raises(Refused, match="already ended"):  # one play, one end
        store.end_play(token, "c3", duration=4.0)
    # another rater's plays are their own
    other = store.new_rater()
    store.start_play(other, "c1")
    store.start_play(token, "c2")
    clock.now += 10.0
    store.end_play(other, "c1", duration=4.0)
    store.end_play(token, "c2", duration=4.0)
    assert store.watched(token) == {"c2", "c3"} and store.watched(other) == {"c1"}
    store.close()


def test_parallel_plays_over_http_count_one_clip(port: int) -> None:
    token = new_token(port)
    state = json.loads(exchange(port, f"GET /api/raters/{token} HTTP/1.1\r\nHost: x\r\n\r\n".encode())[2])
    clips = [c["id"] for c in state["clips"]]

    def play(clip: str, event: str) -> tuple[int, dict[str, str], bytes]:
        body = json.dumps({"token": token, "clip": clip, "event": event}).encode()
        return exchange(port, raw_post("/api/plays", body), "POST")

    for clip in clips:
        assert play(clip, "start")[0] == 200
    time.sleep(0.15)  # each fake clip lasts 0.1 s
    for clip in clips[:-1]:
        assert "not the clip playing now" in assert_refusal(*play(clip, "end"), 409)
    assert play(clips[-1], "end")[0] == 200
    state = json.loads(exchange(port, f"GET /api/raters/{token} HTTP/1.1\r\nHost: x\r\n\r\n".encode())[2])
    assert state["watched"] == [clips[-1]]


# ----------------------------------------------------------------------------------------------------------
# 8. who may take part: invited raters only, a limit on new raters per address, the Host header


def test_invited_only_refuses_new_raters_and_takes_the_invited(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    survey = tmp_path / "survey"
    write_fake_survey(survey)
    links = tmp_path / "links.csv"
    assert main(["survey", "invite", str(survey), "--raters", "3", "--url", "http://study.lan:8000/",
                 "--out", str(links)]) == 0
    printed = capsys.readouterr().out.split()
    rows = links.read_text().splitlines()
    assert rows[0] == "token,link" and len(rows) == 4
    tokens = [r.split(",")[0] for r in rows[1:]]
    assert printed == [f"http://study.lan:8000/?t={t}" for t in tokens]
    with running(survey, timeout=5.0, invited_only=True) as (port, _, app):
        assert set(app.store.raters()) == set(tokens)
        for request in (b"GET /new HTTP/1.1\r\nHost: x\r\n\r\n", raw_post("/api/raters", b"")):
            assert "by invitation only" in assert_refusal(*exchange(port, request), 403)
        assert len(app.store.raters()) == 3  # nothing was added
        status, _, body = exchange(port, f"GET /api/raters/{tokens[1]} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert status == 200 and json.loads(body)["token"] == tokens[1]
    assert main(["survey", "invite", str(survey), "--raters", "1", "--url", "ftp://x"]) == 2


def test_new_raters_per_address_are_limited(tmp_path: Path) -> None:
    survey = write_fake_survey(tmp_path / "survey")
    clock = Clock()
    app = SurveyApp(survey, Store(tmp_path / "r.sqlite", survey.survey_id), new_raters_per_hour=3, clock=clock)
    for _ in range(3):
        app.new_rater("10.0.0.1")
    with pytest.raises(Refused, match="3 new raters from one address") as err:
        app.new_rater("10.0.0.1")
    assert err.value.status == 429 and err.value.retry_after == 3600  # type: ignore[attr-defined]
    app.new_rater("10.0.0.2")  # another address has its own allowance
    clock.now += 1800
    with pytest.raises(Refused):
        app.new_rater("10.0.0.1")
    clock.now += 1800  # an hour after the first three
    app.new_rater("10.0.0.1")
    assert len(app.store.raters()) == 5
    app.store.close()
    # over HTTP: 429 with Retry-After, in the one error format
    with running(tmp_path / "survey", timeout=5.0, new_raters_per_hour=2) as (port, _, _):
        new_token(port)
        new_token(port)
        status, headers, body = exchange(port, raw_post("/api/raters", b""))
        assert_refusal(status, headers, body, 429)
        assert 3500 <= int(headers["Retry-After"]) <= 3600


@pytest.mark.parametrize(("header", "name"), [
    ("localhost:8000", "localhost"), ("127.0.0.1", "127.0.0.1"), ("[::1]:80", "::1"), ("LocalHost", "localhost"),
    ("evil.example:8000", "evil.example"), ("a b", ""), ("x:y", ""), ("[::1", ""), ("", ""), ("x:123456", ""),
])
def test_host_name_hand_parsed(header: str, name: str) -> None:
    assert host_name(header) == name


def test_host_header_is_checked_when_hosts_are_named(tmp_path: Path) -> None:
    assert default_allowed_hosts("127.0.0.1") == ("localhost", "127.0.0.1", "::1")
    assert default_allowed_hosts("::1") == default_allowed_hosts("localhost") == ("localhost", "127.0.0.1", "::1")
    assert default_allowed_hosts("0.0.0.0") is None and default_allowed_hosts("192.168.1.5") is None
    with running(tmp_path / "survey", timeout=5.0, allowed_hosts=("localhost", "127.0.0.1", "study.lan")) as (
            port, _, app):
        for host in ("localhost", f"127.0.0.1:{port}", "STUDY.lan:8000"):
            assert exchange(port, f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())[0] == 200
        # a page on another site reaching the server through a rebinding name, or no Host at all
        for request in (b"GET /new HTTP/1.1\r\nHost: attacker.example\r\n\r\n", b"GET / HTTP/1.1\r\n\r\n",
                        raw_post("/api/raters", b"").replace(b"Host: x", b"Host: attacker.example")):
            assert "is not one this survey answers for" in assert_refusal(*exchange(port, request), 400)
        assert app.store.raters() == []
