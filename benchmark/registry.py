"""One registry per plug-in kind, keyed by the name used on the command line and in result tables.

Entries are declared lazily as ``"module:attribute"`` strings with their metadata, so that listing them
(``gaitbench ls``) imports nothing heavy (no torch). A plug-in package declares its entries in its
``__init__.py``; adding a method is one new file plus one ``add(...)`` line there.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
from typing import Any


@dataclasses.dataclass(frozen=True)
class Entry:
    name: str
    target: str
    summary: str
    meta: dict[str, Any]

    def load(self) -> Any:
        module_name, _, attr = self.target.partition(":")
        module = importlib.import_module(module_name)
        try:
            return getattr(module, attr)
        except AttributeError as exc:
            raise ImportError(f"registry entry {self.name!r} points to {self.target!r}, which does not exist") from exc


class Registry:
    """Name -> lazily imported plug-in, with metadata declared at registration."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    def add(self, name: str, target: str, summary: str, **meta: Any) -> None:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        if ":" not in target:
            raise ValueError(f"target of {self.kind} {name!r} must be 'module:attribute', got {target!r}")
        self._entries[name] = Entry(name, target, summary, dict(meta))

    def entry(self, name: str) -> Entry:
        try:
            return self._entries[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(self._entries), n=3)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            known = ", ".join(sorted(self._entries)) or "none"
            raise KeyError(f"unknown {self.kind} {name!r}{hint} (known: {known})") from None

    def get(self, name: str) -> Any:
        return self.entry(name).load()

    def names(self) -> list[str]:
        return sorted(self._entries)

    def entries(self) -> list[Entry]:
        return [self._entries[n] for n in self.names()]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)


DATASETS = Registry("dataset")
ANONYMIZERS = Registry("anonymizer")
RECOGNIZERS = Registry("recognizer")
SCORERS = Registry("scorer")

ALL: dict[str, Registry] = {
    "datasets": DATASETS,
    "anonymizers": ANONYMIZERS,
    "recognizers": RECOGNIZERS,
    "scorers": SCORERS,
}


def load_plugin_declarations() -> None:
    """Import the light ``__init__`` modules that declare entries (never the plug-ins themselves)."""
    for package in ("benchmark.data", "baselines", "recognizers", "benchmark.scorers"):
        try:
            importlib.import_module(package)
        except ModuleNotFoundError as exc:
            if exc.name != package:
                raise
