"""The response store: one SQLite file with raters, plays and ratings (parameterised queries only).

Tables::

    meta     (key PRIMARY KEY, value)                 survey_id: the survey this file belongs to
    raters   (token PRIMARY KEY, created)
    plays    (rater, clip, started, ended, PRIMARY KEY (rater, clip))
    open_plays (rater PRIMARY KEY, clip)              the clip each rater started last, until its play ends
    ratings  (rater, clip, rating 1..5, first_at, updated_at, revisions, UNIQUE (rater, clip))

Rules kept here, whatever the client does:

- a clip counts as watched once a play of it ended no sooner than ``min_fraction`` of its duration after that
  play started (both times taken by the server's clock), so skipping to the end or posting "ended" without
  playing is refused;
- a rater plays one clip at a time: starting a clip cancels the play started before it, so starting every clip,
  waiting once and ending them all counts one clip at most;
- a rating is accepted only for a watched clip, is an integer 1..5, and is one row per rater and clip: a
  resubmission updates the rating (``revisions`` counts the changes), never adds a row.

Times are Unix seconds (``time.time``). One connection serves all threads, behind a lock.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS raters (token TEXT PRIMARY KEY, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS plays (
    rater TEXT NOT NULL REFERENCES raters(token),
    clip TEXT NOT NULL,
    started REAL NOT NULL,
    ended REAL,
    PRIMARY KEY (rater, clip)
);
CREATE TABLE IF NOT EXISTS ratings (
    rater TEXT NOT NULL REFERENCES raters(token),
    clip TEXT NOT NULL,
    rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    first_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    revisions INTEGER NOT NULL DEFAULT 0,
    UNIQUE (rater, clip)
);
CREATE TABLE IF NOT EXISTS open_plays (
    rater TEXT PRIMARY KEY REFERENCES raters(token),
    clip TEXT NOT NULL
);
"""


class Refused(ValueError):
    """A request the survey must refuse; ``status`` is the HTTP status that says why (400, 404, 409, ...)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def check_rating(value: object) -> int:
    """``value`` as a rating 1..5; ``Refused(400)`` for anything else (floats, strings and booleans included)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise Refused(400, f"rating must be an integer 1..5, got {value!r}")
    if not 1 <= value <= 5:
        raise Refused(400, f"rating must be an integer 1..5, got {value}")
    return value


class Store:
    """Answers of one survey in a SQLite file.

    Parameters
    ----------
    path : path
        The database file (created with its tables when missing).
    survey_id : str
        :attr:`Survey.survey_id`; a file made for another survey raises ``ValueError``.
    clock : callable
        Seconds now; ``time.time`` (tests pass a fake clock).
    """

    def __init__(self, path: str | Path, survey_id: str, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.clock = clock
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.executescript(SCHEMA)
            row = self._conn.execute("SELECT value FROM meta WHERE key = 'survey_id'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise ValueError(f"{self.path} is not a usable SQLite response file: {exc}") from None
        if row is None:
            self._conn.execute("INSERT INTO meta (key, value) VALUES ('survey_id', ?)", (survey_id,))
        elif row[0] != survey_id:
            self._conn.close()
            raise ValueError(f"{self.path} holds answers to another survey (id {row[0]}, this one is {survey_id}); "
                             "use another --db")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- raters ------------------------------------------------------------------------------------------

    def new_rater(self) -> str:
        """Create a rater; returns their token (24 URL-safe characters, 144 random bits)."""
        token = secrets.token_urlsafe(18)
        with self._lock:
            self._conn.execute("INSERT INTO raters (token, created) VALUES (?, ?)", (token, self.clock()))
        return token

    def has_rater(self, token: str) -> bool:
        with self._lock:
            return self._conn.execute("SELECT 1 FROM raters WHERE token = ?", (token,)).fetchone() is not None

    def raters(self) -> list[str]:
        """All tokens, in creation order."""
        with self._lock:
            return [r[0] for r in self._conn.execute("SELECT token FROM raters ORDER BY created, token")]

    def _require_rater(self, token: str) -> None:
        if self._conn.execute("SELECT 1 FROM raters WHERE token = ?", (token,)).fetchone() is None:
            raise Refused(404, f"unknown rater token {token!r}: open the survey's /new link to get one")

    # -- plays -------------------------------------------------------------------------------------------

    def start_play(self, token: str, clip: str) -> None:
        """Register that ``token`` started playing ``clip`` now (a replay restarts the clock, keeps 'watched').

        The rater's play of any other clip is cancelled: only the clip started last can end as watched.
        """
        now = self.clock()
        with self._lock:
            self._require_rater(token)
            self._conn.execute(
                "INSERT INTO plays (rater, clip, started) VALUES (?, ?, ?) "
                "ON CONFLICT (rater, clip) DO UPDATE SET started = excluded.started",
                (token, clip, now),
            )
            self._conn.execute("INSERT INTO open_plays (rater, clip) VALUES (?, ?) "
                               "ON CONFLICT (rater) DO UPDATE SET clip = excluded.clip", (token, clip))

    def end_play(self, token: str, clip: str, duration: float, min_fraction: float = 0.9) -> None:
        """Register that the play of ``clip`` reached its end; ``Refused(409)`` when it ran too short.

        Parameters
        ----------
        duration : float
            The clip's play time in seconds.
        min_fraction : float
            The play must have lasted at least ``min_fraction * duration`` by the server's clock.
        """
        now = self.clock()
        with self._lock:
            self._require_rater(token)
            row = self._conn.execute("SELECT started FROM plays WHERE rater = ? AND clip = ?", (token, clip)
                                     ).fetchone()
            if row is None:
                raise Refused(409, f"clip {clip} ended but was never started: press play and watch it to the end")
            playing = self._conn.execute("SELECT clip FROM open_plays WHERE rater = ?", (token,)).fetchone()
            if playing is None or playing[0] != clip:
                raise Refused(409, f"clip {clip} is not the clip playing now (another clip was started after it, "
                                   "or this play already ended): play it again and watch it to the end")
            elapsed = now - row[0]
            if elapsed < min_fraction * duration:
                raise Refused(409, f"clip {clip} ended {elapsed:.2f} s after it started, but it lasts "
                                   f"{duration:.2f} s: watch it to the end without skipping, then rate it")
            self._conn.execute("UPDATE plays SET ended = ? WHERE rater = ? AND clip = ?", (now, token, clip))
            self._conn.execute("DELETE FROM open_plays WHERE rater = ?", (token,))

    def watched(self, token: str) -> set[str]:
        """Clips ``token`` has watched to the end."""
        with self._lock:
            rows = self._conn.execute("SELECT clip FROM plays WHERE rater = ? AND ended IS NOT NULL", (token,))
            return {r[0] for r in rows}

    # -- ratings -----------------------------------------------------------------------------------------

    def rate(self, token: str, clip: str, rating: object) -> int:
        """Store ``rating`` of ``clip`` by ``token`` (insert, or update the one row); returns the rating.

        ``Refused``: 400 for a rating that is not an integer 1..5, 404 for an unknown token, 409 when the clip
        has not been watched to the end.
        """
        value = check_rating(rating)
        now = self.clock()
        with self._lock:
            self._require_rater(token)
            row = self._conn.execute(
                "SELECT 1 FROM plays WHERE rater = ? AND clip = ? AND ended IS NOT NULL", (token, clip)
            ).fetchone()
            if row is None:
                raise Refused(409, f"clip {clip} has not been watched to the end yet: watch it, then rate it")
            self._conn.execute(
                "INSERT INTO ratings (rater, clip, rating, first_at, updated_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (rater, clip) DO UPDATE SET rating = excluded.rating, updated_at = excluded.updated_at, "
                "revisions = revisions + (rating != excluded.rating)",
                (token, clip, value, now, now),
            )
        return value

    def answers(self, token: str) -> dict[str, int]:
        """Clip id -> rating of one rater."""
        with self._lock:
            rows = self._conn.execute("SELECT clip, rating FROM ratings WHERE rater = ?", (token,))
            return {clip: int(rating) for clip, rating in rows}

    def all_ratings(self) -> list[tuple[str, str, int]]:
        """Every answer as ``(rater, clip, rating)``, ordered by rater then clip."""
        with self._lock:
            rows = self._conn.execute("SELECT rater, clip, rating FROM ratings ORDER BY rater, clip")
            return [(r, c, int(v)) for r, c, v in rows]

    def revisions(self, token: str, clip: str) -> int | None:
        """How often the rating of ``clip`` by ``token`` was changed (0 = never; None when not rated)."""
        with self._lock:
            row = self._conn.execute("SELECT revisions FROM ratings WHERE rater = ? AND clip = ?", (token, clip)
                                     ).fetchone()
        return None if row is None else int(row[0])


def read_ratings(path: str | Path, survey_id: str) -> list[tuple[str, str, int]]:
    """All answers of the response file ``path`` (which must exist and belong to ``survey_id``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"response file {path} does not exist: run gaitbench survey serve first, or pass --db")
    store = Store(path, survey_id)
    try:
        return store.all_ratings()
    finally:
        store.close()
