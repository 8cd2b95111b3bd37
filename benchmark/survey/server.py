"""The rating web app: standard library only (``http.server``), one process, answers in SQLite.

Routes (``TOKEN`` = a rater's token, ``ID`` = a clip id; every API answer is JSON, errors ``{"error": ...}``):

======  ======================  =============================================================================
GET     ``/``                   the page (``static/index.html``); ``/?t=TOKEN`` rates as that rater
GET     ``/new``                a new rater: creates a token and redirects to ``/?t=TOKEN`` (the link to hand out)
GET     ``/static/NAME``        the page's script and style, from the package's ``static`` folder
GET     ``/clips/FILE``         a clip named in ``survey.json`` (byte ranges supported, for video players)
POST    ``/api/raters``         a new rater: ``201 {"token"}``
GET     ``/api/raters/TOKEN``   the rater's clip order, answers so far and watched clips (to resume)
POST    ``/api/plays``          ``{"token", "clip", "event": "start" | "end"}``: a play started / reached its end
POST    ``/api/ratings``        ``{"token", "clip", "rating": 1..5}``: store (or change) a rating
======  ======================  =============================================================================

Refusals: 400 malformed body, unknown or missing field, wrong type, rating not an integer 1..5; 404 unknown
token, clip, file or route; 405 wrong method; 409 a rating before the clip was watched to the end (see
:mod:`benchmark.survey.store`); 411 no Content-Length; 413 a body over :data:`MAX_BODY` bytes; 415 a body that is
not ``application/json``. Static files and clips are served only from a fixed list of names, so no request path
reaches another file.

Each rater sees every clip once, in an order of their own: the clip ids shuffled by ``random.Random`` seeded with
the survey's seed and the token, so a reload or a new device restores the same order.
"""

from __future__ import annotations

import json
import random
import re
import sys
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from benchmark.survey.definition import DEFAULT_DB, SCALE, Survey, load_survey
from benchmark.survey.store import Refused, Store, check_rating

MAX_BODY = 4096
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
RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


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
    """

    def __init__(self, survey: Survey, store: Store, min_fraction: float = 0.9) -> None:
        if not 0 <= min_fraction <= 1:
            raise ValueError(f"min_fraction must lie in [0, 1], got {min_fraction}")
        self.survey, self.store, self.min_fraction = survey, store, min_fraction
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

    def new_rater(self) -> str:
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


class SurveyHandler(BaseHTTPRequestHandler):
    """HTTP plumbing around a :class:`SurveyApp` (set as the class attribute ``app`` by :func:`make_server`)."""

    app: SurveyApp
    quiet = False
    server_version = "gaitbench-survey"
    protocol_version = "HTTP/1.1"

    # -- responses ---------------------------------------------------------------------------------------

    def _headers(self, status: int, ctype: str, length: int, extra: dict[str, str] | None = None) -> None:
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

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message, "status": status})

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's signature)
        if not self.quiet:
            sys.stderr.write(f"[survey] {self.address_string()} {format % args}\n")

    # -- requests ----------------------------------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._dispatch(self._get)

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch(self._post)

    def _dispatch(self, route: Callable[[str], None]) -> None:
        try:
            route(urlsplit(self.path).path)
        except Refused as exc:
            self._error(exc.status, str(exc))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the browser stopped reading (e.g. a video was paused or replaced)
        except Exception as exc:  # a bug or a disk error: answer, log, and keep serving the other raters
            self.close_connection = True
            self.log_error("internal error on %s %s: %r", self.command, self.path, exc)
            self._error(500, f"internal error: {type(exc).__name__}; see the server's log")

    def _get(self, path: str) -> None:
        app = self.app
        if path in ("/", "/index.html"):
            self._static("index.html")
        elif path == "/new":
            token = app.new_rater()
            self._json(303, {"token": token}, {"Location": f"/?t={token}"})
        elif path.startswith("/static/"):
            self._static(path[len("/static/"):])
        elif path.startswith("/clips/"):
            self._clip(path[len("/clips/"):])
        elif path.startswith("/api/raters/"):
            self._json(200, app.state(path[len("/api/raters/"):]))
        elif path in ("/api/raters", "/api/plays", "/api/ratings"):
            raise Refused(405, f"{path} takes POST, not GET")
        else:
            raise Refused(404, f"no such page: {path}")

    def _post(self, path: str) -> None:
        if path not in ("/api/raters", "/api/plays", "/api/ratings"):
            known_get = path in ("/", "/index.html", "/new") or path.startswith(("/static/", "/clips/", "/api/"))
            raise Refused(405 if known_get else 404, f"{path} does not take POST" if known_get
                          else f"no such page: {path}")
        body = self._read_body(required=path != "/api/raters")
        if path == "/api/raters":
            self._json(201, {"token": self.app.new_rater()})
        elif path == "/api/plays":
            self._json(200, self.app.play(body))
        else:
            self._json(200, self.app.rate(body))

    def _read_body(self, required: bool) -> Any:
        length_text = self.headers.get("Content-Length")
        if length_text is None:
            if not required:
                return None
            self.close_connection = True
            raise Refused(411, "a JSON body with a Content-Length header is required")
        try:
            length = int(length_text)
            if length < 0:
                raise ValueError
        except ValueError:
            self.close_connection = True
            raise Refused(400, f"Content-Length must be a byte count, got {length_text!r}") from None
        if length > MAX_BODY:
            self.close_connection = True  # the unread body must not be taken for the next request
            raise Refused(413, f"body of {length} bytes is over the limit of {MAX_BODY} bytes")
        raw = self.rfile.read(length)
        if not required:
            return None
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise Refused(415, f"body must be application/json, got {ctype or 'no Content-Type'}")
        try:
            return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
        except (UnicodeDecodeError, ValueError) as exc:
            raise Refused(400, f"body is not valid JSON: {exc}") from None

    def _static(self, name: str) -> None:
        entry = self.app.static.get(name)
        if entry is None:
            raise Refused(404, f"no such file: /static/{name}")
        data, ctype = entry
        self._headers(200, ctype, len(data), {"Cache-Control": "no-cache"})
        self.wfile.write(data)

    def _clip(self, name: str) -> None:
        path = self.app.files.get(name)
        if path is None:
            raise Refused(404, f"no such clip: /clips/{name}")
        size = path.stat().st_size
        start, end, status = 0, size - 1, 200
        extra = {"Accept-Ranges": "bytes", "Cache-Control": "private, max-age=86400"}
        requested = self.headers.get("Range")
        if requested is not None:
            m = RANGE_RE.match(requested.strip())
            if m is None or m[1] == m[2] == "":
                raise Refused(416, f"unsupported Range {requested!r}; use bytes=START-END")
            if m[1] == "":  # bytes=-N: the last N bytes
                start = max(0, size - int(m[2]))
            else:
                start, end = int(m[1]), min(int(m[2]), size - 1) if m[2] else size - 1
            if start > end or start >= size:
                self._headers(416, "application/json", 0, {"Content-Range": f"bytes */{size}"})
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


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def make_server(
    survey_dir: str | Path,
    db: str | Path | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    min_fraction: float = 0.9,
    quiet: bool = False,
) -> tuple[ThreadingHTTPServer, SurveyApp]:
    """A ready (not yet serving) server for the survey in ``survey_dir``; ``port=0`` picks a free port.

    ``db`` defaults to ``survey_dir/responses.sqlite``. Call ``serve_forever()`` on the server (or run it in a
    thread) and ``shutdown()`` + ``server_close()`` to stop; close ``app.store`` afterwards.
    """
    survey = load_survey(survey_dir)
    store = Store(Path(db) if db is not None else Path(survey_dir) / DEFAULT_DB, survey.survey_id)
    try:
        app = SurveyApp(survey, store, min_fraction)
        handler = type("BoundSurveyHandler", (SurveyHandler,), {"app": app, "quiet": quiet})
        server = ThreadingHTTPServer((host, port), handler)
    except BaseException:
        store.close()
        raise
    server.daemon_threads = True
    return server, app


def server_url(server: ThreadingHTTPServer) -> str:
    """``http://HOST:PORT`` of a bound server (``127.0.0.1`` when it listens on all interfaces)."""
    host, port = server.server_address[:2]
    host = str(host)
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def serve(survey_dir: str | Path, db: str | Path | None = None, host: str = "127.0.0.1", port: int = 8000,
          *, min_fraction: float = 0.9, quiet: bool = False) -> None:
    """Run the survey until Ctrl-C, printing the links to hand out."""
    server, app = make_server(survey_dir, db, host, port, min_fraction=min_fraction, quiet=quiet)
    url = server_url(server)
    print(f"gaitbench survey: {len(app.clips)} clips from {app.survey.root}, answers in {app.store.path}\n"
          f"  new rater (give each rater their own):  {url}/new\n"
          f"  a rater resumes with the link their page shows ({url}/?t=TOKEN)\n"
          f"  listening on {host}:{server.server_address[1]}; Ctrl-C stops", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("gaitbench survey: stopped", flush=True)
    finally:
        server.server_close()
        app.store.close()
