"""The options that several commands share, defined once so they parse and read the same everywhere.

============================  ===========================================================================
option                        parsed as
============================  ===========================================================================
``--views 0,90,180``          ``tuple[int, ...]`` of CASIA-B views (0 to 180 in steps of 18)
``--subjects 001-074,080``    ``list[str]``; ranges are inclusive and written with three digits
``--conditions nm-05,bg``     ``tuple[str, ...]``: condition names (``nm``) or sequences (``nm-05``)
``--seed N``                  an integer >= 0
``--workers N``               an integer >= 1 (processes); absent: every CPU, unless the command says
``--device D``                ``auto`` (a GPU when present), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``; checked
                              by spelling here (no torch import), resolved when the command runs
``--protocol P``              a bundled protocol name (``paper``, ``lt``) or a TOML file
``--set KEY=VALUE``           a plug-in config override, VALUE read as TOML (``0.3``, ``true``, ``"box"``), else
                              as a string; unknown keys fail when the config is built, naming the key
============================  ===========================================================================
"""

from __future__ import annotations

import argparse
import re
import tomllib
from typing import Any

from benchmark.types import CASIA_VIEWS

DEVICE_RE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def _int_at_least(minimum: int, text: str, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {what}, got {value}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    return _int_at_least(1, text, "a positive integer")


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    return _int_at_least(0, text, "an integer >= 0")


def parse_list(text: str) -> list[str]:
    """``"nm-01,bg"`` -> ``["nm-01", "bg"]``."""
    return [p.strip() for p in text.split(",") if p.strip()]


def parse_subjects(text: str) -> list[str]:
    """``"001-074,080"`` -> ``["001", ..., "074", "080"]``; ranges are inclusive."""
    out: list[str] = []
    for part in parse_list(text):
        lo, sep, hi = part.partition("-")
        if sep:
            if not (lo.isdigit() and hi.isdigit()) or int(lo) > int(hi):
                raise argparse.ArgumentTypeError(f"subject range {part!r} must look like 001-074")
            out += [f"{i:03d}" for i in range(int(lo), int(hi) + 1)]
        else:
            out.append(part)
    if not out:
        raise argparse.ArgumentTypeError(f"no subjects in {text!r}; e.g. 001-074,080")
    return out


def parse_views(text: str) -> tuple[int, ...]:
    """``"0,90,180"`` -> ``(0, 90, 180)``; each must be a CASIA-B view."""
    try:
        views = tuple(int(v) for v in parse_list(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"views must be comma-separated degrees like 0,90,180; got {text!r}") from None
    bad = [v for v in views if v not in CASIA_VIEWS]
    if bad or not views:
        raise argparse.ArgumentTypeError(f"views must be among {list(CASIA_VIEWS)}, got {text!r}")
    return views


def parse_conditions(text: str) -> tuple[str, ...]:
    """``"nm-05,bg"`` -> ``("nm-05", "bg")``."""
    conditions = tuple(parse_list(text))
    if not conditions:
        raise argparse.ArgumentTypeError(f"no conditions in {text!r}; e.g. nm-05,bg")
    return conditions


def parse_device(text: str) -> str:
    """argparse type: a device spelling (``auto``, ``cpu``, ``cuda``, ``cuda:N``, ``mps``)."""
    if not DEVICE_RE.match(text):
        raise argparse.ArgumentTypeError(f"device must be auto, cpu, cuda, cuda:N or mps; got {text!r}")
    return text


def parse_setting(text: str) -> tuple[str, Any]:
    """``"alpha=0.3"`` -> ``("alpha", 0.3)``: the value read as TOML, else kept as a string."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, e.g. alpha=0.3; got {text!r}")
    try:
        return key, tomllib.loads(f"v = {value.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        return key, value.strip()


def settings(pairs: list[tuple[str, Any]] | None) -> dict[str, Any]:
    """The ``--set`` pairs as a dict; a key given twice is an error."""
    out: dict[str, Any] = {}
    for key, value in pairs or ():
        if key in out:
            raise ValueError(f"--set {key} is given twice")
        out[key] = value
    return out


# ---------------------------------------------------------------------------------------------- adders


def add_views(p: Any, default: str) -> None:
    p.add_argument("--views", type=parse_views, help=f"e.g. 0,90,180 (default: {default})")


def add_subjects(p: Any, default: str) -> None:
    p.add_argument("--subjects", type=parse_subjects, help=f"e.g. 001-074,080 (default: {default})")


def add_conditions(p: Any, default: str) -> None:
    p.add_argument("--conditions", type=parse_conditions, help=f"e.g. nm-05,bg (default: {default})")


def add_seed(p: Any, default: int | None, what: str) -> None:
    shown = f"default {default}" if default is not None else "default: the config's"
    p.add_argument("--seed", type=non_negative_int, default=default, help=f"{what} ({shown})")


def add_workers(p: Any, what: str = "decoding processes", default: int | None = None) -> None:
    shown = f"default {default}" if default is not None else "default: all CPUs"
    p.add_argument("--workers", type=positive_int, default=default, help=f"{what} ({shown})")


def add_device(p: Any) -> None:
    p.add_argument("--device", type=parse_device, default="auto",
                   help="auto (GPU when present), cpu, cuda, cuda:N or mps (default auto)")


def add_protocol(p: Any) -> None:
    p.add_argument("--protocol", default="paper", help="bundled protocol (paper, lt) or a TOML file (default paper)")


def add_quiet(p: Any) -> None:
    p.add_argument("--quiet", action="store_true", help="no progress output")


def add_cache(p: Any) -> None:
    p.add_argument("--cache", help="decoded-silhouette cache (default $GAITBENCH_CACHE/normalized)")


def add_settings(p: Any, what: str) -> None:
    p.add_argument("--config", help=f"TOML file with the {what}'s settings (unknown keys are errors)")
    p.add_argument("--set", dest="settings", type=parse_setting, action="append", metavar="KEY=VALUE",
                   help=f"override one of the {what}'s settings, e.g. --set epochs=5 (repeat for several)")


def add_training(p: Any, kind: str) -> None:
    """The options of every ``train KIND`` command: NAME, --data, --out, --config / --set, --epochs, --seed."""
    p.add_argument("name", metavar="NAME", help=f"a registered {kind} (gaitbench ls {kind}s)")
    p.add_argument("--data", required=True, help="clean CASIA-B tree or synthetic world folder")
    p.add_argument("--out", required=True, help="checkpoint file to write (.npz)")
    add_settings(p, kind)
    p.add_argument("--epochs", type=positive_int, help="override the config's number of epochs")
    add_seed(p, None, "override the config's seed")


def training_config(cls: Any, args: argparse.Namespace) -> Any:
    """The config of a ``train KIND`` command: defaults, --config, --set, then --epochs and --seed."""
    overrides = settings(args.settings)
    for key in ("epochs", "seed"):
        if getattr(args, key) is not None:
            overrides[key] = getattr(args, key)
    return cls.make_config(args.config, **overrides)


def add_train_command(sub: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """The sub-commands of ``gaitbench train`` (``train recognizer``, ``train anonymizer``, ...).

    Every module that adds a ``train KIND`` calls this: the first call creates ``train``, later ones reuse it.
    """
    parser = sub.choices.get("train")
    if parser is None:
        parser = sub.add_parser("train", help="train a model: `gaitbench train KIND NAME ...`")
        nested = parser.add_subparsers(dest="train_kind", metavar="KIND")
        parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1], _train_sub=nested)
    nested = parser.get_default("_train_sub")
    if nested is None:
        raise RuntimeError("`train` was registered without add_train_command(); register it through this helper")
    return nested
