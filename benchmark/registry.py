"""One registry per plug-in kind, keyed by the name used on the command line and in result tables.

Entries are declared lazily as ``"module:attribute"`` strings with their metadata, so that listing them
(``gaitbench ls``) imports nothing heavy (no torch). A plug-in package declares its entries in its
``__init__.py``; adding a method is one new file plus one ``add(...)`` line there.

**File plug-ins.** An anonymizer, recognizer or scorer can also live in one Python file outside the package,
declared as ``"/path/to/file.py:ClassName"`` (:func:`register_file_plugin`): by a run config's ``[plugins]``
table, or by the environment variable :data:`PLUGINS_ENV`::

    GAITBENCH_PLUGINS="anonymizers.mirror=my_anonymizer.py:Mirror;scorers.edges=/abs/edges.py:EdgeScorer"

(``KIND.NAME=FILE:CLASS`` entries separated by ``;``, KIND one of :data:`PLUGIN_KINDS`, a relative FILE relative
to the working directory). :func:`load_plugin_declarations` reads the variable, so every command
(``gaitbench anonymize``, ``gaitbench train anonymizer``, checkpoint loading) finds such plug-ins by name, and
``gaitbench run`` sets it while it runs so that worker processes see the run's plug-ins. The file is imported
once per process and content, as module ``gaitbench_plugin_<stem>_<hash of path and content>`` placed in
``sys.modules`` (so its objects pickle); the entry keeps the file's sha256, which the runner puts into the stage
keys of every stage that runs the plug-in's code. Metadata comes from the class: the summary is the first line
of its docstring, the kind's keys of :data:`PLUGIN_KINDS` are class attributes with those defaults (e.g. an
anonymizer's ``trainable`` and ``input``), and ``name`` is set to the registered name when the class does not
define one itself.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import hashlib
import importlib
import importlib.util
import inspect
import os
import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PLUGINS_ENV = "GAITBENCH_PLUGINS"
#: kinds a file plug-in may be, with the base class it must extend and the metadata read from the class
#: (attribute -> default when the class does not set it)
PLUGIN_KINDS: dict[str, tuple[str, dict[str, Any]]] = {
    "anonymizers": ("benchmark.anonymizer:Anonymizer", {"trainable": False, "input": "pixels", "passthrough": False}),
    "recognizers": ("benchmark.recognizer:Recognizer", {"pairwise": False}),
    "scorers": ("benchmark.scorers.base:Scorer", {"level": "frame", "offline": True}),
}
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
MODULE_PREFIX = "gaitbench_plugin_"


class PluginError(ValueError):
    """A file plug-in cannot be declared or imported; the message names the file, class or declaration."""


def _split_target(target: str) -> tuple[str, str]:
    # rpartition: a file path may hold ':' (never a module name or a class name)
    where, _, attr = target.rpartition(":")
    return where, attr


def is_file_target(target: str) -> bool:
    """Whether ``target`` is ``FILE.py:Class`` rather than ``module:attribute``."""
    return _split_target(target)[0].endswith(".py")


@dataclasses.dataclass(frozen=True)
class Entry:
    """One registered plug-in: ``target`` is ``module:attribute`` or, for file plug-ins, ``/abs/file.py:Class``
    with the file's content hash ``sha256`` at registration."""

    name: str
    target: str
    summary: str
    meta: dict[str, Any]
    sha256: str = ""

    @property
    def file(self) -> Path | None:
        """The plug-in file of a file entry; None for a package entry."""
        where, _ = _split_target(self.target)
        return Path(where) if is_file_target(self.target) else None

    def load(self) -> Any:
        where, attr = _split_target(self.target)
        module = file_module(where, self.sha256 or None) if self.file is not None else importlib.import_module(where)
        try:
            return getattr(module, attr)
        except AttributeError as exc:
            raise ImportError(f"registry entry {self.name!r} points to {self.target!r}, which does not exist") from exc

    def fingerprint(self) -> dict[str, str] | None:
        """What identifies a file plug-in's code in stage keys (class name and file sha256); None for package
        entries, whose code changes are covered by :data:`benchmark.runner.cache.STAGE_VERSIONS`."""
        if self.file is None:
            return None
        return {"class": _split_target(self.target)[1], "sha256": self.sha256}


class Registry:
    """Name -> lazily imported plug-in, with metadata declared at registration."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry] = {}
        self._checked: set[str] = set()

    def add(self, name: str, target: str, summary: str, **meta: Any) -> None:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        if ":" not in target:
            raise ValueError(f"target of {self.kind} {name!r} must be 'module:attribute', got {target!r}")
        self._entries[name] = Entry(name, target, summary, dict(meta))

    def check_free(self, name: str) -> None:
        """:class:`PluginError` when ``name`` is a package entry's (file entries may be declared again)."""
        old = self._entries.get(name)
        if old is not None and old.file is None:
            raise PluginError(f"{name!r} is already a bundled {self.kind} ({old.target}); give the plug-in "
                              "another name")

    def add_file_entry(self, entry: Entry) -> None:
        """Register (or re-register) a file plug-in; a package entry of the same name is never replaced."""
        self.check_free(entry.name)
        self._entries[entry.name] = entry
        self._checked.discard(entry.name)

    def entry(self, name: str) -> Entry:
        try:
            return self._entries[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(self._entries), n=3)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            known = ", ".join(sorted(self._entries)) or "none"
            raise KeyError(f"unknown {self.kind} {name!r}{hint} (known: {known})") from None

    def get(self, name: str) -> Any:
        """The plug-in itself (imported now); a plug-in class is checked against its kind's base the first time
        (:func:`benchmark.plugin.check_plugin_class`: base, abstract methods, required config fields)."""
        entry = self.entry(name)
        obj = entry.load()
        if name not in self._checked and self.kind + "s" in PLUGIN_KINDS:
            from benchmark.plugin import check_plugin_class

            what = f"{self.kind} {name!r} ({entry.target})"
            check_plugin_class(obj, _base_class(self.kind + "s"), what)
            differ = {k: (v, getattr(obj, k, None)) for k, v in entry.meta.items()
                      if k in PLUGIN_KINDS[self.kind + "s"][1] and getattr(obj, k, None) != v}
            if differ:  # the declaration (read without importing) and the class must say the same
                raise TypeError(f"{what} is declared with " + ", ".join(
                    f"{k}={d!r} but its class says {c!r}" for k, (d, c) in sorted(differ.items())))
            self._checked.add(name)
        return obj

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


def registry_of(kind: str) -> Registry:
    """The registry of a plug-in kind in the singular (``anonymizer``, ``recognizer``, ``scorer``, ``dataset``)."""
    try:
        return ALL[kind + "s"]
    except KeyError:
        raise KeyError(f"unknown plug-in kind {kind!r} (known: {', '.join(k[:-1] for k in ALL)})") from None


def _base_class(kind: str) -> Any:
    module_name, _, base_name = PLUGIN_KINDS[kind][0].partition(":")
    return getattr(importlib.import_module(module_name), base_name)

# ------------------------------------------------------------------------------------------- file plug-ins


def _module_name(path: Path, sha256: str) -> str:
    stem = re.sub(r"\W", "_", path.stem)
    tag = hashlib.sha256(f"{path}\0{sha256}".encode()).hexdigest()[:16]
    return f"{MODULE_PREFIX}{stem}_{tag}"


def file_module(path: str | os.PathLike[str], sha256: str | None = None) -> types.ModuleType:
    """Import the Python file ``path`` once per process and content (module docstring); returns the module.

    ``sha256``: the content the caller registered; when the file on disk no longer has it (edited since) and
    that version was never imported here, :class:`PluginError` says to declare it again. Errors of the file's own
    code are re-raised as :class:`PluginError` naming the file (the original exception is chained).
    """
    path = Path(path).expanduser().resolve()
    if sha256 is not None and _module_name(path, sha256) in sys.modules:
        return sys.modules[_module_name(path, sha256)]
    try:
        source = path.read_bytes()
    except OSError as exc:
        raise PluginError(f"plug-in file {path} cannot be read: {exc.strerror or exc}") from None
    digest = hashlib.sha256(source).hexdigest()
    if sha256 is not None and digest != sha256:
        raise PluginError(f"plug-in file {path} changed since it was registered (sha256 {sha256[:12]}... -> "
                          f"{digest[:12]}...); declare it again (rerun the command)")
    name = _module_name(path, digest)
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_loader(name, loader=None, origin=str(path))
    assert spec is not None  # spec_from_loader returns a spec for a name and no loader
    module = importlib.util.module_from_spec(spec)
    module.__file__ = str(path)
    module.__dict__["__gaitbench_sha256__"] = digest
    sys.modules[name] = module  # before executing: dataclasses and pickle look the module up by name
    try:
        exec(compile(source, str(path), "exec"), module.__dict__)
    except Exception as exc:
        del sys.modules[name]
        raise PluginError(f"importing plug-in file {path} failed: {type(exc).__name__}: {exc} "
                          "(GAITBENCH_DEBUG=1 shows the traceback)") from exc
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _summary(cls: type) -> str:
    # The class's own docstring: inspect.getdoc would fall back to the base class's.
    lines = (cls.__doc__ or "").strip().splitlines()
    return lines[0].strip() if lines else f"{cls.__name__} (no docstring)"


def _check_class(kind: str, cls: Any, path: Path, attr: str, name: str) -> None:
    from benchmark.plugin import check_plugin_class

    what = f"{path.name}:{attr}"
    try:
        check_plugin_class(cls, _base_class(kind), what)
    except TypeError as exc:
        raise PluginError(str(exc)) from None
    own = vars(cls).get("name")
    if own is not None and own != name and vars(cls).get("__gaitbench_named__"):
        raise PluginError(f"{what} is already registered as {own!r} in this process; a class has one name (its "
                          "settings' variants: a sweep in the run config)")
    if own is not None and own != name:
        raise PluginError(f"{what} sets name = {own!r} but is declared as {name!r}; use one name (or drop the "
                          "class attribute: it defaults to the declared name)")


def register_file_plugin(kind: str, name: str, target: str, base: str | os.PathLike[str] | None = None) -> Entry:
    """Import ``FILE.py:Class`` and register the class as ``name`` in the registry of ``kind``.

    Parameters
    ----------
    kind : str
        One of :data:`PLUGIN_KINDS` (``anonymizers``, ``recognizers``, ``scorers``).
    name : str
        The name used in configs and result tables; must not be a bundled plug-in's.
    target : str
        ``FILE.py:Class``; a relative FILE is relative to ``base`` (default: the working directory).

    Returns the new entry. Raises :class:`PluginError` naming the file or class for a missing file, a missing
    class (with "did you mean"), a class of the wrong kind, or a name clash. A name already declared by a file
    is declared again (the file is re-read: an edited file gives a new entry and a new module).
    """
    if kind not in PLUGIN_KINDS:
        raise PluginError(f"plug-in kind {kind!r} is not one of {', '.join(PLUGIN_KINDS)}")
    if not NAME_RE.match(name):
        raise PluginError(f"plug-in name {name!r} must be letters, digits, '-', '_' or '.', starting with a letter "
                          "or digit")
    where, attr = _split_target(target)
    if not where.endswith(".py") or not attr.isidentifier():
        raise PluginError(f"expected 'FILE.py:ClassName', got {target!r}")
    path = Path(where).expanduser()
    if not path.is_absolute():
        path = Path(base if base is not None else Path.cwd()) / path
    path = path.resolve()
    if not path.is_file():
        raise PluginError(f"plug-in file {path} does not exist")
    _load_packages()
    registry = ALL[kind]
    registry.check_free(name)  # before running the file's code
    module = file_module(path)
    cls = getattr(module, attr, None)
    if cls is None:
        classes = [k for k, v in vars(module).items() if inspect.isclass(v) and v.__module__ == module.__name__]
        close = difflib.get_close_matches(attr, classes, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise PluginError(f"{path} has no class {attr!r}{hint} (classes defined there: "
                          f"{', '.join(classes) or 'none'})")
    _check_class(kind, cls, path, attr, name)
    if "name" not in vars(cls):
        cls.name = name  # results rows, checkpoints and anonymized trees record it
        cls.__gaitbench_named__ = True
    _, defaults = PLUGIN_KINDS[kind]
    meta = {key: getattr(cls, key, default) for key, default in defaults.items()}
    entry = Entry(name, f"{path}:{attr}", _summary(cls), meta, sha256=getattr(module, "__gaitbench_sha256__", ""))
    registry.add_file_entry(entry)
    return entry


def parse_plugins_env(text: str) -> list[tuple[str, str, str]]:
    """``KIND.NAME=FILE:CLASS;...`` -> ``[(kind, name, target), ...]``; :class:`PluginError` naming the entry."""
    out = []
    for item in (part.strip() for part in text.split(";")):
        if not item:
            continue
        head, sep, target = item.partition("=")
        kind, dot, name = head.strip().partition(".")
        if not (sep and dot and name and target.strip()):
            raise PluginError(f"{PLUGINS_ENV}: expected KIND.NAME=FILE.py:Class, got {item!r}")
        if kind not in PLUGIN_KINDS:
            raise PluginError(f"{PLUGINS_ENV}: {item!r}: kind {kind!r} is not one of {', '.join(PLUGIN_KINDS)}")
        out.append((kind, name.strip(), target.strip()))
    return out


def export_plugins() -> str:
    """Every registered file plug-in as a :data:`PLUGINS_ENV` value (absolute paths)."""
    return ";".join(f"{kind}.{e.name}={e.target}" for kind in PLUGIN_KINDS for e in ALL[kind].entries()
                    if e.file is not None)


_applied_env: str | None = None


@contextlib.contextmanager
def plugins_exported() -> Iterator[str]:
    """Set :data:`PLUGINS_ENV` to :func:`export_plugins` while the block runs (restored after), so that worker
    processes started meanwhile register the same file plug-ins; yields the value."""
    value, before = export_plugins(), os.environ.get(PLUGINS_ENV)
    global _applied_env
    os.environ[PLUGINS_ENV] = value
    _applied_env = value  # this process has all of them registered already
    try:
        yield value
    finally:
        if before is None:
            os.environ.pop(PLUGINS_ENV, None)
        else:
            os.environ[PLUGINS_ENV] = before



def _apply_env() -> None:
    """Register the plug-ins of :data:`PLUGINS_ENV` not registered yet with the same target (once per value)."""
    global _applied_env
    text = os.environ.get(PLUGINS_ENV, "")
    if text == _applied_env:
        return
    for kind, name, target in parse_plugins_env(text):
        where, attr = _split_target(target)
        path = Path(where).expanduser()
        registered = ALL[kind]._entries.get(name)
        if registered is not None and registered.target == f"{path.resolve()}:{attr}":
            continue  # keep the content registered (and keyed) first in this process
        try:
            register_file_plugin(kind, name, target)
        except PluginError as exc:
            raise PluginError(f"{PLUGINS_ENV}: {kind}.{name}: {exc}") from exc
    _applied_env = text


def _load_packages() -> None:
    for package in ("benchmark.data", "baselines", "recognizers", "benchmark.scorers"):
        try:
            importlib.import_module(package)
        except ModuleNotFoundError as exc:
            if exc.name != package:
                raise


def load_plugin_declarations() -> None:
    """Import the light ``__init__`` modules that declare entries (never the plug-ins themselves), then register
    the file plug-ins of :data:`PLUGINS_ENV` (these are imported: their metadata lives on the class)."""
    _load_packages()
    _apply_env()
