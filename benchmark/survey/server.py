"""The rating web app: standard library only (``http.server``), one process, answers in SQLite.

Routes (``TOKEN`` = a rater's token, ``ID`` = a clip id; every API answer is JSON, errors ``{"error": ...}``):

======  ======================  =============================================================================
GET     ``/``                   the page (``static/index.html``); ``/?t=TOKEN`` rates as that rater
GET     ``/new``                a new rater: creates a token and redirects to ``/?t=TOKEN`` (the link to hand out;
                                403 in invited-only mode)
GET     ``/static/NAME``        the page's script and style, from the package's ``static`` folder
GET     ``/clips/FILE``         a clip named in ``survey.json`` (byte ranges supported, for video players)
POST    ``/api/raters``         a new rater: ``201 {"token"}`` (403 in invited-only mode)
GET     ``/api/raters/TOKEN``   the rater's clip order, answers so far and watched clips (to resume)
POST    ``/api/plays``          ``{"token", "clip", "event": "start" | "end"}``: a play started / reached its end
POST    ``/api/ratings``        ``{"token", "clip", "rating": 1..5}``: store (or change) a rating
======  ======================  =============================================================================

Refusals (all JSON ``{"error", "status"}`` with the same security headers as any answer): 400 malformed body
(invalid JSON, nested deeper than :data:`MAX_DEPTH`), a Content-Length that is not one plain decimal number, a
Transfer-Encoding, unknown or missing field, wrong type, rating not an integer 1..5, a ``Host`` header not among
``allowed_hosts``; 403 a new rater in invited-only mode; 404 unknown token, clip, file or route; 405 a method the
route does not take (with ``Allow``); 408 a request not fully received within the timeout; 409 a rating before the
clip was watched to the end, or the end of a play that is not the rater's latest (see
:mod:`benchmark.survey.store`); 411 no Content-Length; 413 a body over :data:`MAX_BODY` bytes; 415 a body that is
not ``application/json``; 416 a Range that is malformed or outside the clip; 429 more new raters from one address
than ``new_raters_per_hour`` (with ``Retry-After``); 503 every worker busy. Static
files and clips are served only from a fixed list of names, so no request path reaches another file.

Limits (see :class:`SurveyServer`): at most ``max_workers`` connections are served at once (one thread each; a
connection beyond that waits ``queue_wait`` seconds for a free worker, then gets 503); each request, from its
first byte (or the end of the previous answer on a kept-alive connection) to its last, must arrive within
``timeout`` seconds, else the connection is closed (with 408 when a request had begun, even within its first
line).

Invited-only mode (``invited_only=True``): raters cannot make themselves tokens; the tokens are the ones already in
the response file, made by :func:`invite` (``gaitbench survey invite``), each handed to one invited rater as a link.

Each rater sees every clip once, in an order of their own: the clip ids shuffled by ``random.Random`` seeded with
the survey's seed and the token, so a reload or a new device restores the same order.
"""

from __future__ import annotations

import collections
import io
import ipaddress
import json
import math
import random
import re
import socket
import sys
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, HTTPServer
from importlib import resources
from pathlib import Path
from typing import Any

from benchmark.survey.definition import DEFAULT_DB, SCALE, Survey, load_survey
from benchmark.survey.store import Refused, Store, check_rating

MAX_BODY = 4096
MAX_DEPTH = 8  # JSON nesting; the API's bodies are flat objects (depth 1)
MAX_WORKERS = 64
TIMEOUT = 10.0
NEW_RATERS_PER_HOUR = 30  # per client address, when anyone may open /new
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8"}
CLIP_TYPES = {".mp4": "video/mp4", ".webm": "video/webm"}
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the token is in the page's URL
    "Content-Security-Policy": "default-src 'self'; media-src 'self'; object-src 'none'; base-uri 'none'; "
                               "form-action 'none'; frame-ancestors 'none'",
}
# [0-9], not \d (which takes other scripts' digits); 18 digits keep int() far from its digit limit
RANGE_RE = re.compile(r"^bytes=([0-9]{0,18})-([0-9]{0,18})$")
LENGTH_RE = re.compile(r"^[0-9]{1,18}$")
HOST_RE = re.compile(r"^(?:\[(?P<v6>[0-9a-f:.]+)\]|(?P<name>[a-z0-9._-]+))(?::[0-9]{1,5})?$")
POST_ROUTES = ("/api/raters", "/api/plays", "/api/ratings")


def static_files() -> dict[str, tuple[bytes, str]]:
    """The page's files from the package's ``static`` folder: name -> (bytes, content type)."""
    folder = resources.files("benchmark.survey").joinpath("static")
    out = {}
    for entry in folder.iterdir():
        suffix = Path(entry.name).suffix
        if entry.is_file() and suffix in STATIC_TYPES:
            out[entry.name] = (entry.read_bytes(), STATIC_TYPES[suffix])
    if "index.html" not in out:
        raise FileNotFoundError("the survey page (benchmark/survey/static/index.html) is missing from the install")
    return out


class SurveyApp:
    """What the server does, apart from HTTP: validation, rater orders, and the store.

    Parameters
    ----------
    survey : Survey
    store : Store
    min_fraction : float
        A play must last this fraction of the clip's duration to count as watched (0.9: a little slack for
        timing, no skipping).
    invited_only : bool
        Refuse new raters (403): only tokens already in the store, made by :func:`invite`, may rate.
    new_raters_per_hour : int
        Otherwise, at most this many new raters per client address in any hour (429 beyond; 0 = no limit).
        Raters behind one router share an address, so keep it above the largest group rating from one place.
    clock : callable
        Seconds now, for the per-address limit (``time.monotonic``; tests pass a fake clock).
    """

    def __init__(self, survey: Survey, store: Store, min_fraction: float = 0.9, *, invited_only: bool = False,
                 new_raters_per_hour: int = NEW_RATERS_PER_HOUR,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not 0 <= min_fraction <= 1:
            raise ValueError(f"min_fraction must lie in [0, 1], got {min_fraction}")
        if new_raters_per_hour < 0:
            raise ValueError(f"new_raters_per_hour must be >= 0 (0 = no limit), got {new_raters_per_hour}")
        self.survey, self.store, self.min_fraction = survey, store, min_fraction
        self.invited_only, self.new_raters_per_hour, self.clock = invited_only, new_raters_per_hour, clock
        self._new_by_address: dict[str, collections.deque[float]] = {}
        self._new_lock = threading.Lock()
        self.clips = survey.by_id()
        self.files = {s.filename: survey.clip_path(s) for s in survey.stimuli}
        missing = [str(p) for p in self.files.values() if not p.is_file()]
        if missing:
            raise FileNotFoundError(f"{len(missing)} clip(s) of {survey.root} are missing (e.g. {missing[0]}): "
                                    "rerun gaitbench survey build")
        self.static = static_files()

    def order(self, token: str) -> list[str]:
        """The clip ids in the order ``token`` sees them."""
        ids = sorted(self.clips)
        random.Random(f"{self.survey.seed}:{token}").shuffle(ids)
        return ids

    def new_rater(self, address: str = "") -> str:
        """A new rater's token; ``Refused`` 403 in invited-only mode, 429 over the per-address hourly limit."""
        if self.invited_only:
            raise Refused(403, "this survey is by invitation only: open the personal link you were given")
        if self.new_raters_per_hour:
            now = self.clock()
            with self._new_lock:
                if len(self._new_by_address) > 10_000:  # forget addresses that made nobody within the hour
                    self._new_by_address = {a: q for a, q in self._new_by_address.items() if q and q[-1] > now - 3600}
                recent = self._new_by_address.setdefault(address, collections.deque())
                while recent and recent[0] <= now - 3600:
                    recent.popleft()
                if len(recent) >= self.new_raters_per_hour:
                    wait = math.ceil(recent[0] + 3600 - now)
                    raise RateLimited(f"{self.new_raters_per_hour} new raters from one address within an hour "
                                      f"is the limit: try again in {wait} s", wait)
                recent.append(now)
        return self.store.new_rater()

    def token(self, value: object) -> str:
        if not isinstance(value, str) or not TOKEN_RE.match(value):
            raise Refused(400, f"token must be a string of 8-64 letters, digits, '-' or '_', got {value!r}")
        return value

    def clip(self, value: object) -> str:
        if not isinstance(value, str):
            raise Refused(400, f"clip must be a clip id string, got {value!r}")
        if value not in self.clips:
            raise Refused(404, f"unknown clip {value!r}")
        return value

    def state(self, token: str) -> dict[str, Any]:
        """Everything the page needs to (re)start: order, answers so far, watched clips, the scale."""
        token = self.token(token)
        if not self.store.has_rater(token):
            raise Refused(404, f"unknown rater token {token!r}: open the survey's /new link to get one")
        order = self.order(token)
        return {
            "token": token,
            "total": len(order),
            "clips": [{"id": c, "url": f"/clips/{self.clips[c].filename}"} for c in order],
            "answers": self.store.answers(token),
            "watched": sorted(self.store.watched(token)),
            "scale": [{"value": v, "label": label} for v, label in SCALE],
        }

    def play(self, body: dict[str, Any]) -> dict[str, Any]:
        fields = _fields(body, ("token", "clip", "event"))
        token, clip = self.token(fields["token"]), self.clip(fields["clip"])
        event = fields["event"]
        if event == "start":
            self.store.start_play(token, clip)
            return {"ok": True, "clip": clip, "watched": clip in self.store.watched(token)}
        if event == "end":
            self.store.end_play(token, clip, self.clips[clip].duration, self.min_fraction)
            return {"ok": True, "clip": clip, "watched": True}
        raise Refused(400, f"event must be 'start' or 'end', got {event!r}")

    def rate(self, body: dict[str, Any]) -> dict[str, Any]:
        fields = _fields(body, ("token", "clip", "rating"))
        token, clip = self.token(fields["token"]), self.clip(fields["clip"])
        rating = self.store.rate(token, clip, check_rating(fields["rating"]))
        return {"ok": True, "clip": clip, "rating": rating}


def _fields(body: object, names: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise Refused(400, f"body must be a JSON object with {', '.join(names)}")
    unknown = sorted(set(body) - set(names))
    if unknown:
        raise Refused(400, f"unexpected field(s) {unknown}; expected {', '.join(names)}")
    missing = [n for n in names if n not in body]
    if missing:
        raise Refused(400, f"missing field(s) {missing}")
    return body


class RateLimited(Refused):
    """429: too many requests of a kind; ``retry_after`` seconds until one is accepted again."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(429, message)
        self.retry_after = max(1, retry_after)


def invite(store: Store, count: int) -> list[str]:
    """Make ``count`` rater tokens in ``store`` for invited raters (links ``/?t=TOKEN``); returns them."""
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    return [store.new_rater() for _ in range(count)]


def host_name(header: str) -> str:
    """The name in a ``Host`` header, without port or IPv6 brackets, lower case (``""`` when malformed)."""
    m = HOST_RE.match(header.strip().lower())
    if m is None:
        return ""
    return m["v6"] if m["v6"] is not None else m["name"]


def default_allowed_hosts(host: str) -> tuple[str, ...] | None:
    """The ``Host`` names to accept when listening on ``host``: the loopback names for a loopback address (so a web
    page elsewhere cannot reach the survey through a rebinding domain name), else None (any)."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host.lower() == "localhost"
    return LOOPBACK_HOSTS if loopback else None


class _DeadlineReader(io.RawIOBase):
    """A socket's receiving side that gives up at ``deadline`` (``time.monotonic``), however the bytes trickle in.

    A plain socket timeout bounds each wait, so a client sending one byte every few seconds would hold its worker
    for ever; the deadline bounds the whole request instead.
    """

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self.sock = sock
        self.deadline = float("inf")
        self.received = 0  # bytes since the request began (handle_one_request resets it)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request was not received in time")
        self.sock.settimeout(left)
        n = self.sock.recv_into(buffer)
        self.received += n
        return n


class SurveyHandler(BaseHTTPRequestHandler):
    """HTTP plumbing around a :class:`SurveyApp` (set as the class attribute ``app`` by :func:`make_server`)."""

    app: SurveyApp
    quiet = False
    allowed_hosts: tuple[str, ...] | None = None  # Host header names accepted (None: any); make_server sets it
    server_version = "gaitbench-survey"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    timeout = TIMEOUT  # seconds per request and per write; make_server sets the server's value
    disable_nagle_algorithm = True  # with keep-alive, Nagle + delayed ACKs cost 40 ms per answer
    wbufsize = 1 << 16  # headers and a small body leave in one write (flushed after each request)

    def setup(self) -> None:
        super().setup()
        self.rfile.close()  # the base class's reader; closing it leaves the socket open
        self._reader = _DeadlineReader(self.connection)
        self.rfile = io.BufferedReader(self._reader)

    # -- responses ---------------------------------------------------------------------------------------

    def _headers(self, status: int, ctype: str, length: int, extra: dict[str, str] | None = None) -> None:
        self.connection.settimeout(self.timeout)  # reading may have shortened it (see _DeadlineReader)
        self._responded = True
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(length))
        for key, value in {**SECURITY_HEADERS, **(extra or {})}.items():
            self.send_header(key, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()

    def _json(self, status: int, obj: Any, extra: dict[str, str] | None = None) -> None:
        data = json.dumps(obj).encode()
        self._headers(status, "application/json; charset=utf-8", len(data), {"Cache-Control": "no-store",
                                                                              **(extra or {})})
        if self.command != "HEAD":
            self.wfile.write(data)

    def _error(self, status: int, message: str, extra: dict[str, str] | None = None) -> None:
        self._json(status, {"error": message, "status": status}, extra)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The base class's refusals (bad request line, headers too long, ...) in this server's format."""
        self.close_connection = True  # the request could not be parsed, so neither can what follows it
        if self.request_version not in ("HTTP/1.0", "HTTP/1.1"):
            # the base class takes an unparsed line for HTTP/0.9 and would answer without status and headers
            self.request_version = self.protocol_version
        status = HTTPStatus(code)
        self._error(status.value, message or status.phrase)

    def handle_expect_100(self) -> bool:
        ok = super().handle_expect_100()
        self.wfile.flush()  # the client waits for "100 Continue" before it sends the body
        return ok

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's signature)
        if not self.quiet:
            sys.stderr.write(f"[survey] {self.address_string()} {format % args}\n")

    # -- requests ----------------------------------------------------------------------------------------

    def handle_one_request(self) -> None:
        """One request and its answer (the base class's, with a deadline, every method routed, quiet hang-ups)."""
        self._reader.deadline = time.monotonic() + self.timeout
        self._reader.received = 0
        self._responded = False
        self.raw_requestline = b""
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if len(self.raw_requestline) > 65536:
                self.requestline = self.request_version = self.command = ""
                self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG)
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():
                return
            if self.command != "POST" and (self.headers.get("Content-Length", "0").strip() != "0"
                                           or "Transfer-Encoding" in self.headers):
                self.close_connection = True  # a body we do not read must not be taken for the next request
            route = {"GET": self._get, "POST": self._post}.get(self.command, self._other_method)
            self._dispatch(self._check_host(route))
            self.wfile.flush()
        except TimeoutError:
            # an idle kept-alive connection ends silently; a request that began and stalled learns why
            self.close_connection = True
            if self._reader.received and not self._responded:
                if not self.raw_requestline:  # stalled inside the request line: nothing of it was parsed
                    self.command, self.requestline, self.request_version = "", "", self.protocol_version
                self._quietly(lambda: self._error(408, f"request not received within {self.timeout:g} s"))
        except ConnectionError:
            self.close_connection = True  # the client hung up (e.g. a video was paused or replaced)

    def _quietly(self, answer: Callable[[], None]) -> None:
        try:
            answer()
            self.wfile.flush()
        except OSError:
            pass

    def _check_host(self, route: Callable[[str], None]) -> Callable[[str], None]:
        """``route``, or a refusal when the ``Host`` header names a host this server does not answer for."""
        if self.allowed_hosts is None:
            return route
        header = self.headers.get("Host", "")
        if host_name(header) in self.allowed_hosts:
            return route

        def refuse(path: str) -> None:
            allowed = ", ".join(self.allowed_hosts or ())
            raise Refused(400, f"Host {header[:100]!r} is not one this survey answers for ({allowed}); "
                               "serve it with --allowed-host NAME to add a name")
        return refuse

    def _dispatch(self, route: Callable[[str], None]) -> None:
        # the path without query or fragment; not urlsplit, which raises on paths such as //[
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        try:
            route(path)
        except Refused as exc:
            extra = {"Allow": _allowed(path)} if exc.status == 405 else None
            if isinstance(exc, RateLimited):
                extra = {"Retry-After": str(exc.retry_after)}
            self._error(exc.status, str(exc), extra)
        except (ConnectionError, TimeoutError):
            raise  # handle_one_request closes the connection
        except Exception as exc:  # a bug or a disk error: answer, log, and keep serving the other raters
            self.close_connection = True
            self.log_error("internal error on %s %s: %r", self.command, self.path, exc)
            self._error(500, f"internal error: {type(exc).__name__}; see the server's log")

    def _other_method(self, path: str) -> None:
        raise Refused(405, f"method {self.command[:20]!r} is not supported; {path[:100]} takes {_allowed(path)}")

    def _get(self, path: str) -> None:
        app = self.app
        if path in ("/", "/index.html"):
            self._static("index.html")
        elif path == "/new":
            token = app.new_rater(self.client_address[0])
            self._json(303, {"token": token}, {"Location": f"/?t={token}"})
        elif path.startswith("/static/"):
            self._static(path[len("/static/"):])
        elif path.startswith("/clips/"):
            self._clip(path[len("/clips/"):])
        elif path.startswith("/api/raters/"):
            self._json(200, app.state(path[len("/api/raters/"):]))
        elif path in POST_ROUTES:
            raise Refused(405, f"{path} takes POST, not GET")
        else:
            raise Refused(404, f"no such page: {path[:200]}")

    def _post(self, path: str) -> None:
        if path not in POST_ROUTES:
            known_get = _allowed(path) == "GET"
            raise Refused(405 if known_get else 404, f"{path} does not take POST" if known_get
                          else f"no such page: {path[:200]}")
        body = self._read_body(required=path != "/api/raters")
        if path == "/api/raters":
            self._json(201, {"token": self.app.new_rater(self.client_address[0])})
        elif path == "/api/plays":
            self._json(200, self.app.play(body))
        else:
            self._json(200, self.app.rate(body))

    def _content_length(self) -> int | None:
        """The body's length: one plain decimal Content-Length within :data:`MAX_BODY`, or None when absent."""
        if "Transfer-Encoding" in self.headers:
            self.close_connection = True
            raise Refused(400, "Transfer-Encoding is not supported: send the body with a Content-Length")
        values = self.headers.get_all("Content-Length") or []
        if not values:
            return None
        if len(values) > 1 or not LENGTH_RE.match(values[0].strip()):
            self.close_connection = True  # where the body ends is unclear, so the connection's next bytes are too
            shown = [v[:40] for v in values]
            raise Refused(400, f"Content-Length must be one decimal byte count, got {shown}")
        length = int(values[0].strip())
        if length > MAX_BODY:
            self.close_connection = True  # the unread body must not be taken for the next request
            raise Refused(413, f"body of {length} bytes is over the limit of {MAX_BODY} bytes")
        return length

    def _read_body(self, required: bool) -> Any:
        length = self._content_length()
        if length is None:
            if not required:
                return None
            self.close_connection = True
            raise Refused(411, "a JSON body with a Content-Length header is required")
        raw = self.rfile.read(length)
        if len(raw) < length:
            raise ConnectionResetError("the client closed the connection inside the body")
        if not required:
            return None
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise Refused(415, f"body must be application/json, got {ctype[:60] or 'no Content-Type'}")
        return parse_json(raw)

    def _static(self, name: str) -> None:
        entry = self.app.static.get(name)
        if entry is None:
            raise Refused(404, f"no such file: /static/{name[:200]}")
        data, ctype = entry
        self._headers(200, ctype, len(data), {"Cache-Control": "no-cache"})
        self.wfile.write(data)

    def _clip(self, name: str) -> None:
        path = self.app.files.get(name)
        if path is None:
            raise Refused(404, f"no such clip: /clips/{name[:200]}")
        size = path.stat().st_size
        start, end, status = 0, size - 1, 200
        extra = {"Accept-Ranges": "bytes", "Cache-Control": "private, max-age=86400"}
        requested = self.headers.get("Range")
        if requested is not None:
            m = RANGE_RE.match(requested.strip())
            if m is None or m[1] == m[2] == "":
                raise Refused(416, f"unsupported Range {requested[:60]!r}; use bytes=START-END")
            if m[1] == "":  # bytes=-N: the last N bytes
                start = max(0, size - int(m[2]))
            else:
                start, end = int(m[1]), min(int(m[2]), size - 1) if m[2] else size - 1
            if start > end or start >= size:
                self._error(416, f"Range {requested.strip()!r} lies outside the clip's {size} bytes",
                            {"Content-Range": f"bytes */{size}"})
                return
            status = 206
            extra["Content-Range"] = f"bytes {start}-{end}/{size}"
        self._headers(status, CLIP_TYPES[path.suffix], end - start + 1, extra)
        with open(path, "rb") as fh:
            fh.seek(start)
            left = end - start + 1
            while left > 0:
                chunk = fh.read(min(left, 1 << 16))
                if not chunk:
                    break
                self.wfile.write(chunk)
                left -= len(chunk)


def _allowed(path: str) -> str:
    """The methods ``path`` takes, as an ``Allow`` header (both for a path that does not exist)."""
    if path in POST_ROUTES:
        return "POST"
    if path in ("/", "/index.html", "/new") or path.startswith(("/static/", "/clips/", "/api/raters/")):
        return "GET"
    return "GET, POST"


_STRING_RE = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)


def json_depth(text: str) -> int:
    """How deeply arrays and objects nest in the JSON ``text`` (0 for a scalar); brackets inside strings ignored."""
    depth = deepest = 0
    for ch in re.findall(r"[\[\]{}]", _STRING_RE.sub("", text)):
        depth += 1 if ch in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def parse_json(raw: bytes) -> Any:
    """A request body as JSON; ``Refused(400)`` for anything else (bad UTF-8, NaN, nesting over MAX_DEPTH)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refused(400, f"body is not valid JSON: {exc}") from None
    if json_depth(text) > MAX_DEPTH:
        # checked first: the parser recurses once per level and would raise RecursionError deep down
        raise Refused(400, f"body is not valid JSON for this API: nested deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise Refused(400, f"body is not valid JSON: {exc}") from None


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _busy_answer() -> bytes:
    body = json.dumps({"error": "the survey server is busy: try again in a moment", "status": 503}).encode()
    head = ["HTTP/1.1 503 Service Unavailable", "Content-Type: application/json; charset=utf-8",
            f"Content-Length: {len(body)}", "Cache-Control: no-store", "Retry-After: 1", "Connection: close",
            *(f"{k}: {v}" for k, v in SECURITY_HEADERS.items())]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class SurveyServer(HTTPServer):
    """An HTTP server with at most ``max_workers`` connections served at once, one thread each.

    ``http.server.ThreadingHTTPServer`` starts a thread per connection without limit, so idle connections alone
    can exhaust the machine. Here a connection beyond ``max_workers`` waits up to ``queue_wait`` seconds for a
    free worker and otherwise gets 503 (``Retry-After: 1``); the accept loop does that waiting, so connections
    queue in the kernel meanwhile rather than as threads.
    """

    daemon_threads = True
    # the listen backlog: socketserver's 5 drops the connections of a burst of raters beyond it, and their
    # clients retry only after 1 s, then 3 s (50 raters at once: p99 latency 1.9 s with 5, about 0.15 s with 128)
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], *,
                 max_workers: int = MAX_WORKERS, queue_wait: float = 0.5) -> None:
        if max_workers < 1:
            raise ValueError(f"max_workers must be >= 1, got {max_workers}")
        self.max_workers, self.queue_wait = max_workers, queue_wait
        self._slots = threading.BoundedSemaphore(max_workers)
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(timeout=self.queue_wait):
            self._refuse_busy(request)
            return
        try:
            threading.Thread(target=self._work, args=(request, client_address), daemon=True).start()
        except BaseException:
            self._slots.release()
            self.shutdown_request(request)
            raise

    def _work(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            self._slots.release()

    def _refuse_busy(self, request: socket.socket) -> None:
        try:
            request.setblocking(False)
            try:  # take what the client sent, so closing does not reset the connection before it reads the 503
                request.recv(1 << 16)
            except BlockingIOError:
                pass
            request.settimeout(1.0)
            request.sendall(_busy_answer())
        except OSError:
            pass
        finally:
            self.shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return  # a client hung up or stalled: nothing to report
        super().handle_error(request, client_address)


def make_server(
    survey_dir: str | Path,
    db: str | Path | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    min_fraction: float = 0.9,
    quiet: bool = False,
    max_workers: int = MAX_WORKERS,
    timeout: float = TIMEOUT,
    queue_wait: float = 0.5,
    invited_only: bool = False,
    new_raters_per_hour: int = NEW_RATERS_PER_HOUR,
    allowed_hosts: tuple[str, ...] | None = None,
) -> tuple[SurveyServer, SurveyApp]:
    """A ready (not yet serving) server for the survey in ``survey_dir``; ``port=0`` picks a free port.

    ``db`` defaults to ``survey_dir/responses.sqlite``. ``max_workers`` connections are served at once;
    ``timeout`` seconds bound each request's arrival and each write (see :class:`SurveyServer`).
    ``invited_only`` and ``new_raters_per_hour``: see :class:`SurveyApp`. ``allowed_hosts``: the names a request's
    ``Host`` header may carry (lower case, no port; 400 otherwise); None accepts any. Call
    ``serve_forever()`` on the server (or run it in a thread) and ``shutdown()`` + ``server_close()`` to stop;
    close ``app.store`` afterwards. ``OSError`` naming the address when it cannot listen there.
    """
    if not 0 <= port <= 65535:
        raise ValueError(f"port must lie in 0..65535 (0 picks a free one), got {port}")
    if not timeout > 0:
        raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
    survey = load_survey(survey_dir)
    store = Store(Path(db) if db is not None else Path(survey_dir) / DEFAULT_DB, survey.survey_id)
    try:
        app = SurveyApp(survey, store, min_fraction, invited_only=invited_only,
                        new_raters_per_hour=new_raters_per_hour)
        hosts = None if allowed_hosts is None else tuple(h.lower().strip("[]") for h in allowed_hosts)
        handler = type("BoundSurveyHandler", (SurveyHandler,), {"app": app, "quiet": quiet, "timeout": timeout,
                                                                "allowed_hosts": hosts})
        try:
            server = SurveyServer((host, port), handler, max_workers=max_workers, queue_wait=queue_wait)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise OSError(exc.errno, f"cannot listen on {host}:{port}: {reason} (check --host and --port)"
                          ) from None
    except BaseException:
        store.close()
        raise
    return server, app


def server_url(server: HTTPServer) -> str:
    """``http://HOST:PORT`` of a bound server (``127.0.0.1`` when it listens on all interfaces)."""
    host, port = server.server_address[:2]
    host = str(host)
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def serve(survey_dir: str | Path, db: str | Path | None = None, host: str = "127.0.0.1", port: int = 8000,
          *, min_fraction: float = 0.9, quiet: bool = False, max_workers: int = MAX_WORKERS,
          timeout: float = TIMEOUT, invited_only: bool = False, new_raters_per_hour: int = NEW_RATERS_PER_HOUR,
          allowed_hosts: tuple[str, ...] | None = None) -> None:
    """Run the survey until Ctrl-C, printing the links to hand out.

    ``allowed_hosts`` None: the loopback names when listening on a loopback address, else any
    (:func:`default_allowed_hosts`).
    """
    if allowed_hosts is None:
        allowed_hosts = default_allowed_hosts(host)
    server, app = make_server(survey_dir, db, host, port, min_fraction=min_fraction, quiet=quiet,
                              max_workers=max_workers, timeout=timeout, invited_only=invited_only,
                              new_raters_per_hour=new_raters_per_hour, allowed_hosts=allowed_hosts)
    url = server_url(server)
    if invited_only:
        how = (f"  invited raters only: {len(app.store.raters())} tokens in the response file; make more links "
               f"with gaitbench survey invite {app.survey.root}\n")
    else:
        how = f"  new rater (give each rater their own):  {url}/new\n"
    print(f"gaitbench survey: {len(app.clips)} clips from {app.survey.root}, answers in {app.store.path}\n"
          f"{how}"
          f"  a rater resumes with the link their page shows ({url}/?t=TOKEN)\n"
          f"  listening on {host}:{server.server_address[1]}; Ctrl-C stops", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("gaitbench survey: stopped", flush=True)
    finally:
        server.server_close()
        app.store.close()
