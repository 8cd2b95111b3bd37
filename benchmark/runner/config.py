"""The run config: one TOML file that says what ``gaitbench run`` does, loaded into frozen dataclasses.

Top-level keys and the sections (every key optional unless said; unknown keys and wrong types raise
:class:`~benchmark.config.ConfigError` naming the file and the key, with "did you mean")::

    name, description         free text, copied into run.json
    seed = 0                  anonymization seed, and the seed of every model whose table does not set one
    device = "auto"           auto (a GPU when present), cpu, cuda, cuda:N
    workers = 0               decoding processes (0 = all cores; 1 = in-process, best for tiny worlds)
    threads = 0               threads per stage in torch, OpenCV, BLAS and OpenMP (0 = their defaults); 1 avoids
                              contention on a busy machine; set it for byte-identical results serially and on Dask
    protocol = "paper"        bundled protocol name, or a protocol TOML file
    cache_dir                 where stage artifacts are kept (default: RUN_DIR/cache)

    [plugins]                 your own methods in one file each: anonymizers / recognizers / scorers =
                              { NAME = "FILE.py:Class" } (FILE relative to the config), then used by NAME below
    [world]                   the data: an existing dataset `path`, or a synthetic world `preset` (generated
                              into `path`, or into the cache when `path` is unset) with optional overrides
                              `subjects`, `seed`, `views`, `conditions`, `frame_range`, `noise`, `videos`
    [recognizers.NAME]        one table per attacker; keys = that recognizer's config (empty = defaults)
    [anonymizers.NAME]        one table per method; keys = its config, plus `sweep = {key = [values...], ...}`
                              for one variant per value (e.g. ST-GAN's alpha 0.2 / 0.3 / 0.4), every
                              combination for several keys (e.g. alpha x seed)
    [scorers.NAME]            one table per naturalness scorer; keys = its config
    [evaluate]                ks = [1, 3], cross_view = "no" | "yes" | "auto",
                              attacks = ["ignorant", "lazy-informed", "semi-informed"]
    [realism]                 enabled = true (temporal change ratio), frechet = [recognizer names]
    [action_model]            train video-synth's action model in the run (without it: the shipped model)
    [pictures]                the paper's Figs. 8, 9, 17, 18 from the anonymized test data

Relative paths in a config (world.path, cache_dir, protocol files, plug-in files, scorer weights) are relative to the
folder of the config file, never to the working directory. Method tables are checked against the method's
own config class when the file is loaded (:func:`resolve`), so a typo fails before anything runs.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmark.config import ConfigError, from_mapping, load_toml
from benchmark.protocol import Protocol, load_protocol, tree_subjects
from benchmark.results import format_parameters
from benchmark.types import CASIA_VIEWS

CROSS_VIEW = ("no", "yes", "auto")


#: a run's name: it becomes a folder name under ``runs/``, so no separators and no ``..``
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
#: the most frames a picture's strip row may show
MAX_PICTURE_FRAMES = 64


def _check_views(key: str, views: tuple[int, ...], *, allow_empty: bool) -> None:
    """``ValueError`` naming ``key`` for views that are empty (unless allowed), repeated or not CASIA-B's."""
    if not views and not allow_empty:
        raise ValueError(f"{key} must name at least one view, e.g. [0, 90]")
    bad = [v for v in views if v not in CASIA_VIEWS]
    if bad:
        raise ValueError(f"{key} must be among {list(CASIA_VIEWS)}, got {bad}")
    if len(set(views)) != len(views):
        raise ValueError(f"{key} repeat a view: {list(views)}")


@dataclasses.dataclass(frozen=True)
class WorldSection:
    """Where the data comes from: an existing dataset (``path`` only) or a synthetic world (``preset``).

    ``subjects``, ``views``, ``conditions``, ``frame_range`` (0 / empty = the preset's; ``views`` left out = the
    preset's, ``views = []`` is refused), ``seed``, ``noise`` and ``videos`` are
    :class:`benchmark.synth.world.WorldConfig`'s; ``workers`` the generating processes (0 = all cores).
    """

    path: Path | None = None
    preset: str = ""
    subjects: int = 0
    seed: int = 0
    views: tuple[int, ...] | None = None
    conditions: tuple[str, ...] = ()
    frame_range: tuple[int, ...] = ()
    noise: str = "none"
    videos: bool = True
    workers: int = 0

    def __post_init__(self) -> None:
        from benchmark.synth import PRESET_NAMES

        if self.path is None and not self.preset:
            raise ValueError("give path (an existing dataset) and/or preset (a synthetic world to generate)")
        if self.preset and self.preset not in PRESET_NAMES:
            raise ValueError(f"preset {self.preset!r} is not one of {', '.join(PRESET_NAMES)}")
        if self.frame_range and len(self.frame_range) != 2:
            raise ValueError(f"frame_range must be [min, max], got {list(self.frame_range)}")
        if self.subjects < 0 or self.workers < 0:
            raise ValueError(f"subjects and workers must be >= 0 (0 = the preset's / all cores), got "
                             f"subjects={self.subjects}, workers={self.workers}")
        if self.path is not None and str(self.path) in ("", "."):
            raise ValueError(f"path must name a dataset folder, got {str(self.path)!r}")
        if self.path is not None and self.path.exists() and not self.path.is_dir():
            raise ValueError(f"path {self.path} is a file; it must be a dataset folder (or where to generate one)")
        if self.views is not None:
            _check_views("views", self.views, allow_empty=False)

    def world_config(self) -> Any:
        """The :class:`benchmark.synth.world.WorldConfig` to generate; None for an existing dataset."""
        if not self.preset:
            return None
        from benchmark.synth.world import preset

        return preset(
            self.preset,
            subjects=self.subjects or None,
            seed=self.seed,
            views=self.views,
            conditions=self.conditions or None,
            frame_range=tuple(self.frame_range) or None,
            noise=self.noise,
            videos=self.videos,
        )


#: attack models (docs/metrics.md): what the attacker knows of the anonymization
ATTACKS = ("ignorant", "lazy-informed", "semi-informed")


@dataclasses.dataclass(frozen=True)
class EvaluateSection:
    """Identification settings: ranks ``ks``, whether the cross-view matrix is computed, and the ``attacks``:
    ``ignorant`` (a clean gallery), ``lazy-informed`` (the gallery anonymized by the same method, with another
    seed), ``semi-informed`` (that gallery, and the recognizer retrained on the method's output for the
    protocol's recognizer group)."""

    ks: tuple[int, ...] = (1, 3)
    cross_view: str = "no"
    attacks: tuple[str, ...] = ("ignorant",)

    def __post_init__(self) -> None:
        if not self.ks or min(self.ks) < 1:
            raise ValueError(f"ks must be ranks >= 1, got {list(self.ks)}")
        unknown = [a for a in self.attacks if a not in ATTACKS]
        if not self.attacks or unknown or len(set(self.attacks)) != len(self.attacks):
            raise ValueError(f"attacks must be distinct names among {list(ATTACKS)}, got {list(self.attacks)}")
        if self.cross_view not in CROSS_VIEW:
            raise ValueError(f"cross_view must be one of {', '.join(CROSS_VIEW)}, got {self.cross_view!r}")


@dataclasses.dataclass(frozen=True)
class RealismSection:
    """``temporal_change_ratio`` rows (``enabled``) and ``frechet`` rows of the named recognizers."""

    enabled: bool = True
    frechet: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class ActionModelSection:
    """The ``video-synth`` action model the run renders and trains (:mod:`benchmark.scorers.action`).

    ``subjects`` 0 = ``max(4, clips_per_class // 4)``; ``size`` is the rendered frame size ``[H, W]``.
    """

    clips_per_class: int = 600
    subjects: int = 0
    size: tuple[int, ...] = (120, 160)
    epochs: int = 30
    batch_size: int = 16
    width: int = 32
    crop: int = 64
    holdout: float = 0.2
    seed: int = 0
    workers: int = 1

    def __post_init__(self) -> None:
        if self.clips_per_class < 1 or self.subjects < 0 or self.workers < 1:
            raise ValueError("need clips_per_class >= 1, subjects >= 0 and workers >= 1")
        if len(self.size) != 2 or min(self.size) < 16:
            raise ValueError(f"size must be [H, W] of at least 16 each, got {list(self.size)}")

    def train_config(self) -> Any:
        from benchmark.scorers.action import TrainConfig

        return TrainConfig(epochs=self.epochs, batch_size=self.batch_size, width=self.width, crop=self.crop,
                           holdout=self.holdout, seed=self.seed)


@dataclasses.dataclass(frozen=True)
class PicturesSection:
    """Figures from the anonymized test data: which sequence (``subject``, ``condition``; default the first
    test subject and its first probe condition), at which ``views``, ``frames`` per row; ``rows``: the methods
    drawn under the original in Figs. 8 and 9 (method labels as in stage names, e.g. ``"stgan[alpha=0.3]"``, or
    a method's name for its only variant; default: every trained method at its first variant); ``sweep``: the
    method whose variants are Figs. 17 and 18 (default: the first method with several variants)."""

    enabled: bool = True
    views: tuple[int, ...] = (0, 90)
    subject: str = ""
    condition: str = ""
    frames: int = 8
    rows: tuple[str, ...] = ()
    sweep: str = ""
    crop: bool = True

    def __post_init__(self) -> None:
        _check_views("views", self.views, allow_empty=False)
        if not 1 <= self.frames <= MAX_PICTURE_FRAMES:
            raise ValueError(f"frames must lie in 1..{MAX_PICTURE_FRAMES} (frames per strip row), got {self.frames}")


@dataclasses.dataclass(frozen=True)
class PluginsSection:
    """Plug-ins declared by file: ``NAME = "FILE.py:Class"`` per kind (:func:`benchmark.registry.register_file_plugin`).

    The files are imported when the config is resolved; a name may not be a bundled plug-in's.
    """

    anonymizers: dict[str, str] = dataclasses.field(default_factory=dict)
    recognizers: dict[str, str] = dataclasses.field(default_factory=dict)
    scorers: dict[str, str] = dataclasses.field(default_factory=dict)

    def items(self) -> list[tuple[str, str, str]]:
        """``(kind, name, target)`` of every declaration."""
        return [(f.name, name, target) for f in dataclasses.fields(self)
                for name, target in getattr(self, f.name).items()]


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """A whole run config (module docstring). Method tables stay raw here; :func:`resolve` checks them."""

    world: WorldSection
    name: str = ""
    description: str = ""
    seed: int = 0
    device: str = "auto"
    workers: int = 0
    threads: int = 0
    protocol: str = "paper"
    cache_dir: Path | None = None
    recognizers: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    anonymizers: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    scorers: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    evaluate: EvaluateSection = EvaluateSection()
    realism: RealismSection = RealismSection()
    action_model: ActionModelSection = ActionModelSection()
    pictures: PicturesSection = PicturesSection()
    plugins: PluginsSection = PluginsSection()

    def __post_init__(self) -> None:
        if self.name and not NAME_RE.match(self.name):
            raise ValueError(f"name {self.name!r} must be letters, digits, '.', '-' or '_' (it names the run's "
                             "folder under runs/), starting with a letter or digit")
        if self.cache_dir is not None and self.cache_dir.exists() and not self.cache_dir.is_dir():
            raise ValueError(f"cache_dir {self.cache_dir} is a file; it must be a folder")
        if min(self.seed, self.workers, self.threads) < 0:
            raise ValueError(f"seed, workers and threads must be >= 0, got seed={self.seed}, workers={self.workers}, "
                             f"threads={self.threads}")
        if not self.recognizers:
            raise ValueError("name at least one recognizer, e.g. [recognizers.zheng2011]")


# ------------------------------------------------------------------------------------------- resolved plan


@dataclasses.dataclass(frozen=True)
class Method:
    """One anonymizer variant of the run: a registered method with a full config.

    ``label`` names it in stage names (``stgan[alpha=0.3]``); ``parameters`` is the results table's column.
    """

    name: str
    config: Any
    parameters: str
    trainable: bool
    sweep: dict[str, Any]
    #: declared by the method: its output is its input (no anonymize stage; the clean probes are read)
    passthrough: bool = False
    #: the method's name in figures (e.g. ``ST-GAN``)
    title: str = ""

    @property
    def training_config(self) -> Any:
        """The config training sees (:meth:`benchmark.anonymizer.Anonymizer.training_config`): variants that
        differ only in inference options share one train stage."""
        from benchmark.anonymizer import anonymizer_class

        return anonymizer_class(self.name).training_config(self.config)

    @property
    def label(self) -> str:
        return f"{self.name}[{self.parameters}]" if self.parameters else self.name


@dataclasses.dataclass(frozen=True)
class Resolved:
    """A run config with every method table turned into its config object and every path made absolute."""

    config: RunConfig
    source: Path | None
    raw: dict[str, Any]
    protocol: Protocol
    protocol_spec: str
    recognizers: dict[str, Any]
    methods: tuple[Method, ...]
    scorers: dict[str, Any]
    #: the file plug-ins the run uses: kind -> name -> {"file", "class", "sha256"}
    plugins: dict[str, dict[str, dict[str, str]]] = dataclasses.field(default_factory=dict)

    def code(self, kind: str, name: str) -> dict[str, str] | None:
        """What identifies a file plug-in's code in stage keys (class and sha256); None for bundled ones."""
        found = self.plugins.get(kind, {}).get(name)
        return None if found is None else {"class": found["class"], "sha256": found["sha256"]}

    @property
    def trained_scorers(self) -> list[str]:
        """The scorers that read the model the run trains: the scorer declares ``trainer = "action_model"``
        (``video-synth``), the config has an ``[action_model]`` table and the scorer no ``weights``. Without the
        table such a scorer reads its usual checkpoint (for ``video-synth``: ``GAITBENCH_ACTION_WEIGHTS``, the
        cache, else the model shipped with the package)."""
        from benchmark.registry import SCORERS

        if "action_model" not in self.raw:
            return []
        return [name for name, cfg in self.scorers.items()
                if getattr(SCORERS.get(name), "trainer", None) == "action_model"
                and getattr(cfg, "weights", None) is None]

    @property
    def uses_action_model(self) -> bool:
        """Whether the run trains an action model (a scorer of :attr:`trained_scorers` reads it)."""
        return bool(self.trained_scorers)

    def picture_methods(self) -> tuple[list[Method], list[Method]]:
        """The methods of Figs. 8/9 (``pictures.rows``) and of Figs. 17/18 (``pictures.sweep``'s variants, ordered
        by their swept values); see :class:`PicturesSection` for the defaults."""
        section = self.config.pictures
        drawn = [m for m in self.methods if not m.passthrough]
        if section.rows:
            rows = [next(m for m in drawn if row in (m.label, m.name)) for row in section.rows]
        else:
            rows = [m for i, m in enumerate(drawn) if m.trainable and m.name not in {d.name for d in drawn[:i]}]
        if section.sweep:
            sweep_name = section.sweep
        else:
            sweep_name = next((m.name for m in drawn if sum(d.name == m.name for d in drawn) > 1), "")
        variants = [m for m in drawn if m.name == sweep_name]
        if variants and len(variants[0].sweep) > 1:  # several swept keys: the first one varies, the rest at their first
            first = dict(variants[0].sweep)
            lead = next(iter(first))
            variants = [m for m in variants if all(m.sweep[k] == v for k, v in first.items() if k != lead)]
        sweep = sorted(variants, key=lambda m: tuple(sorted(m.sweep.items())))
        return rows, sweep if len(sweep) > 1 else []


def _absolute(path: Path | None, base: Path) -> Path | None:
    if path is None:
        return None
    path = path.expanduser()
    return path if path.is_absolute() else (base / path).resolve()


def _path_fields(config: Any, base: Path) -> Any:
    """``config`` with every relative ``Path`` field made relative to ``base``."""
    hints = typing.get_type_hints(type(config))
    changes = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if isinstance(value, Path) and Path in (typing.get_args(hints[f.name]) or (hints[f.name],)):
            changes[f.name] = _absolute(value, base)
    return dataclasses.replace(config, **changes) if changes else config


def _checked(cls: Any, config: Any, where: str) -> Any:
    """``config`` after the plug-in's own checks (:meth:`benchmark.plugin.Plugin.check_config`), as a ConfigError."""
    try:
        cls.check_config(config)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return config


def _plugin(registry: Any, name: str, where: str) -> Any:
    try:
        return registry.get(name)
    except KeyError as exc:
        raise ConfigError(f"{where}: {exc.args[0]}; one of your own is declared in [plugins]") from None


def _register_plugins(section: PluginsSection, base: Path, file: str) -> None:
    """Import and register the ``[plugins]`` declarations; errors name the key and the plug-in file."""
    from benchmark.registry import PluginError, register_file_plugin

    for kind, name, target in section.items():
        try:
            register_file_plugin(kind, name, target, base=base)
        except PluginError as exc:
            raise ConfigError(f"{file}: plugins.{kind}.{name}: {exc}") from exc


def _with_seed(cls: type, table: Mapping[str, Any], seed: int) -> dict[str, Any]:
    # The run's seed is every model's seed unless its table sets one.
    names = {f.name for f in dataclasses.fields(cls)}
    return {**({"seed": seed} if "seed" in names else {}), **table}


def _variants(name: str, table: Mapping[str, Any], where: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The table without ``sweep`` and one override dict per sweep point (one empty dict without a sweep).

    ``sweep`` maps one or more keys to lists of values; several keys sweep every combination, the first key
    varying slowest (``sweep = {alpha = [0.2, 0.4], seed = [0, 1]}``: four variants).
    """
    import itertools

    table = dict(table)
    sweep = table.pop("sweep", None)
    if sweep is None:
        return table, [{}]
    if not isinstance(sweep, Mapping) or not sweep:
        raise ConfigError(f"{where}.sweep: expected keys with lists of values, e.g. sweep = {{alpha = [0.2, 0.3]}}"
                          f", got {sweep!r}")
    for key, values in sweep.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{where}.sweep.{key}: expected a non-empty list, got {values!r}")
        if key in table:
            raise ConfigError(f"{where}: {key!r} is both set and swept; keep one")
        if len(set(map(repr, values))) != len(values):
            raise ConfigError(f"{where}.sweep.{key}: values repeat: {values}")
    keys = list(sweep)
    return table, [dict(zip(keys, point, strict=True)) for point in itertools.product(*(sweep[k] for k in keys))]


def _merge_parameters(own: str, extra: Mapping[str, Any]) -> str:
    params = dict(p.split("=", 1) for p in own.split(";") if p)
    for key, value in extra.items():
        params.setdefault(key, f"{value:g}" if isinstance(value, float) else str(value))
    return format_parameters(params)


def _check_ranks(config: RunConfig, protocol: Protocol, file: str) -> None:
    """``ConfigError`` for ``evaluate.ks`` beyond the gallery's size (the protocol's test group), when the number
    of subjects is known at planning: the synthetic world's, or an existing tree's subject folders."""
    world = config.world.world_config()
    if world is not None:
        subjects = world.subjects
    elif config.world.path is not None and config.world.path.is_dir():
        subjects = len(tree_subjects(config.world.path))
    else:
        return
    try:
        gallery = protocol.group_sizes(subjects)[protocol.test_group]
    except ValueError as exc:
        raise ConfigError(f"{file}: protocol: {exc}") from None
    beyond = [k for k in config.evaluate.ks if k > gallery]
    if beyond:
        raise ConfigError(f"{file}: evaluate.ks: ranks {beyond} exceed the gallery's {gallery} subjects (the "
                          f"{protocol.test_group!r} group of {subjects}): top-k would hold every subject; "
                          "set [evaluate] ks")


def resolve(config: RunConfig, *, source: Path | None = None, raw: dict[str, Any] | None = None) -> Resolved:
    """Check every method table against its method's config class; paths made absolute against ``source``'s
    folder (the working directory when None). Raises :class:`ConfigError` naming the file and key."""
    from benchmark.anonymizer import anonymizer_class
    from benchmark.registry import ALL, ANONYMIZERS, RECOGNIZERS, SCORERS, load_plugin_declarations

    load_plugin_declarations()
    file = str(source) if source is not None else "config"
    base = source.parent.resolve() if source is not None else Path.cwd()
    _register_plugins(config.plugins, base, file)
    world = dataclasses.replace(config.world, path=_absolute(config.world.path, base))
    config = dataclasses.replace(config, world=world, cache_dir=_absolute(config.cache_dir, base))

    protocol_spec = config.protocol
    if Path(protocol_spec).suffix:  # a file, not a bundled name
        protocol_spec = str(_absolute(Path(protocol_spec), base))
    try:
        protocol = load_protocol(protocol_spec)
    except (ConfigError, FileNotFoundError) as exc:
        raise ConfigError(f"{file}: protocol: {exc}") from None

    _check_ranks(config, protocol, file)

    recognizers = {}
    for name, table in config.recognizers.items():
        where = f"{file}: recognizers.{name}"
        cls = _plugin(RECOGNIZERS, name, where)
        recognizers[name] = _checked(cls, from_mapping(cls.Config, _with_seed(cls.Config, table, config.seed), where),
                                     where)

    methods = []
    for name, table in config.anonymizers.items():
        where = f"{file}: anonymizers.{name}"
        _plugin(ANONYMIZERS, name, where)
        cls = anonymizer_class(name)
        rest, variants = _variants(name, table, where)

        def build(override: dict[str, Any], cls: Any = cls, rest: dict[str, Any] = rest, where: str = where) -> Any:
            return _checked(cls, from_mapping(cls.Config, _with_seed(cls.Config, {**rest, **override}, config.seed),
                                              where), where)

        # A swept key the method's own parameters already tell apart (ST-GAN's noise_off as `noise=off`) is not
        # repeated under its config name.
        named = {k for k in variants[0]
                 if len({cls(build({**variants[0], k: v[k]})).parameters() for v in variants})
                 == len({repr(v[k]) for v in variants}) > 1}
        for override in variants:
            cfg: Any = build(override)
            params = _merge_parameters(cls(cfg).parameters(), {k: v for k, v in override.items() if k not in named})
            # A seed set in the method's table (or swept) names a variant; the run's own seed does not: runs of
            # one config under several seeds give rows with the same keys, which is what the gate compares.
            if cls.trainable and "seed" in {**rest, **override}:
                params = _merge_parameters(params, {"seed": cfg.seed})
            methods.append(Method(name, cfg, params, bool(cls.trainable), override, bool(cls.passthrough),
                                  cls.title or name))
    labels = [m.label for m in methods]
    twice = sorted({x for x in labels if labels.count(x) > 1})
    if twice:
        raise ConfigError(f"{file}: anonymizers: variants {twice} have the same parameters; results would mix")

    scorers = {}
    for name, table in config.scorers.items():
        where = f"{file}: scorers.{name}"
        cls = _plugin(SCORERS, name, where)
        scorers[name] = _checked(cls, _path_fields(from_mapping(cls.Config, table, where), base), where)

    drawn = [m for m in methods if not m.passthrough]
    for row in config.pictures.rows:
        matches = [m for m in drawn if row in (m.label, m.name)]
        if len(matches) != 1:
            why = "matches several variants; name one by its label" if matches else "is not an anonymizing method"
            raise ConfigError(f"{file}: pictures.rows: {row!r} {why} of the run (labels: "
                              f"{', '.join(m.label for m in drawn)})")
    if config.pictures.sweep and config.pictures.sweep not in {m.name for m in drawn}:
        raise ConfigError(f"{file}: pictures.sweep: {config.pictures.sweep!r} is not an anonymizing method of the "
                          f"run ({', '.join(sorted({m.name for m in drawn}))})")
    unknown = [r for r in config.realism.frechet if r not in recognizers]
    if unknown:
        raise ConfigError(f"{file}: realism.frechet: {unknown[0]!r} is not one of the run's recognizers "
                          f"({', '.join(recognizers)})")
    used = {"recognizers": recognizers, "anonymizers": {m.name for m in methods}, "scorers": scorers}
    plugins: dict[str, dict[str, dict[str, str]]] = {}
    for kind, names in used.items():
        for name in names:
            entry = ALL[kind].entry(name)
            code = entry.fingerprint()
            if code is not None:
                plugins.setdefault(kind, {})[name] = {"file": str(entry.file), **code}
    return Resolved(config, source, raw or {}, protocol, protocol_spec, recognizers, tuple(methods), scorers,
                    plugins)


def load_run_config(path: str | Path, *, seed: int | None = None) -> Resolved:
    """Read a run config file and :func:`resolve` it; errors name the file and the key.

    ``seed`` replaces the config's top-level ``seed`` (the run's seed: anonymization, and every model whose table
    sets none); the world keeps its own.
    """
    path = Path(path)
    config = load_toml(RunConfig, path)
    if seed is not None:
        config = dataclasses.replace(config, seed=seed)
    raw = tomllib.loads(path.read_text(encoding="utf-8"))  # kept as written, for the run record
    return resolve(config, source=path, raw=raw)
