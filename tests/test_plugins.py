"""File plug-ins (benchmark.registry.register_file_plugin, a run config's [plugins], GAITBENCH_PLUGINS) and the
example anonymizer examples/mirror_anonymizer.py."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from benchmark import registry
from benchmark.anonymizer import load_anonymizer
from benchmark.cli import main
from benchmark.config import ConfigError
from benchmark.data.casia import CasiaB
from benchmark.registry import (
    ANONYMIZERS,
    PLUGINS_ENV,
    SCORERS,
    Entry,
    PluginError,
    load_plugin_declarations,
    parse_plugins_env,
    plugins_exported,
    register_file_plugin,
)
from benchmark.results import read_csv
from benchmark.runner import execute, load_run_config, plan_run
from benchmark.types import GaitSequence

REPO = Path(__file__).resolve().parents[1]
# Fréchet distances of a handful of sequences have singular covariances (as in test_runner).
pytestmark = pytest.mark.filterwarnings("ignore:Matrix is singular")
EXAMPLE = REPO / "examples" / "mirror_anonymizer.py"

# A trainable plug-in without docstring or `input`, and a class of the wrong kind, beside a working one.
OTHERS = '''
import dataclasses

import numpy as np

from benchmark.api import Anonymizer, Recognizer


class Learner(Anonymizer):
    @dataclasses.dataclass(frozen=True)
    class Config:
        epochs: int = 1

    trainable = True

    def _anonymize(self, seq, rng):
        return seq.replace(silhouettes=seq.silhouettes.copy())


class NotAnAnonymizer:
    """Has the right name but no Anonymizer base."""


class Named(Anonymizer):
    """Declares a name of its own."""

    @dataclasses.dataclass(frozen=True)
    class Config:
        pass

    name = "something-else"

    def _anonymize(self, seq, rng):
        return seq


class NoSize(Recognizer):
    """A recognizer whose Config forgets its input size."""

    input_kind = "gei"

    @dataclasses.dataclass(frozen=True)
    class Config:
        rank: int = 4

    def _fit(self, train, options):
        return {}

    def embed(self, data):
        raise NotImplementedError

    def compare(self, gallery, probes):
        raise NotImplementedError

    def state(self):
        return {}, {}

    def set_state(self, arrays, extra):
        pass


class Half(Recognizer):
    """A recognizer that implements neither embed nor compare."""

    input_kind = "gei"

    @dataclasses.dataclass(frozen=True)
    class Config:
        height: int = 64
        width: int = 44
'''

CONFIG = """
name = "plug"
device = "cpu"
workers = 1
protocol = "{protocol}"

[plugins]
anonymizers = {{ mirror = "mirror.py:Mirror" }}

[world]
path = "world"
preset = "ci"

[recognizers.zheng2011]

[anonymizers.identity]

[anonymizers.blur]

[anonymizers.mirror]

[scorers.frame-hog]

[realism]
frechet = ["zheng2011"]
"""


@pytest.fixture(autouse=True)
def clean_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts from the bundled entries and no GAITBENCH_PLUGINS, and leaves no plug-in behind."""
    monkeypatch.delenv(PLUGINS_ENV, raising=False)
    monkeypatch.setattr(registry, "_applied_env", None)
    load_plugin_declarations()
    for kind in registry.PLUGIN_KINDS:
        reg = registry.ALL[kind]
        monkeypatch.setattr(reg, "_entries", {k: e for k, e in reg._entries.items() if e.file is None})
    yield


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder with the example plug-in as ``mirror.py``, ``others.py`` and ``run.toml`` (not generated world)."""
    shutil.copy(EXAMPLE, tmp_path / "mirror.py")
    (tmp_path / "others.py").write_text(OTHERS, encoding="utf-8")
    (tmp_path / "run.toml").write_text(CONFIG.format(protocol=REPO / "configs" / "protocols" / "ci.toml"),
                                       encoding="utf-8")
    return tmp_path


def edit_config(project: Path, old: str, new: str) -> Path:
    path = project / "run.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------------ the registry


def test_file_target_registers_once_with_class_metadata(project: Path) -> None:
    entry = register_file_plugin("anonymizers", "mirror", "mirror.py:Mirror", base=project)
    path = (project / "mirror.py").resolve()
    assert entry.target == f"{path}:Mirror" and entry.file == path
    assert entry.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert entry.summary == ("Left-right mirror of the walker inside its bounding box (or about the frame's centre "
                             "line).")
    assert entry.meta == {"trainable": False, "input": "pixels", "passthrough": False}
    assert entry.fingerprint() == {"class": "Mirror", "sha256": entry.sha256}

    cls = ANONYMIZERS.get("mirror")
    assert cls.name == "mirror" and cls.__name__ == "Mirror"
    assert ANONYMIZERS.get("mirror") is cls  # imported once
    assert Entry("other", f"{path}:Mirror", "", {}).load() is cls  # the same file and content: the same module
    assert sys.modules[cls.__module__].__file__ == str(path)
    assert cls.__module__.startswith("gaitbench_plugin_mirror_")
    # Registering again (a rerun in one process) keeps the module: same content, same name.
    assert register_file_plugin("anonymizers", "mirror", str(path) + ":Mirror").load() is cls
    anon = cls(cls.Config(axis="frame"))
    copy = pickle.loads(pickle.dumps(anon))
    assert type(copy) is cls and copy.config == cls.Config(axis="frame")
    loaded = load_anonymizer(anon.save(project / "mirror.npz"))  # found again by the name the checkpoint records
    assert type(loaded) is cls and loaded.config == anon.config
    with pytest.raises(PluginError, match="Mirror is already registered as 'mirror' in this process"):
        register_file_plugin("anonymizers", "mirror2", "mirror.py:Mirror", base=project)

    trainable = register_file_plugin("anonymizers", "learner", "others.py:Learner", base=project)
    assert trainable.meta == {"trainable": True, "input": "pixels", "passthrough": False}  # input: the default
    assert trainable.summary == "Learner (no docstring)"
    assert ANONYMIZERS.get("learner").name == "learner"


@pytest.mark.parametrize(
    ("kind", "name", "target", "message"),
    [
        ("anonymizers", "mirror", "mirror.py:Mirrror", r"mirror\.py has no class 'Mirrror'; did you mean 'Mirror'\?"),
        ("anonymizers", "mirror", "absent.py:Mirror", r"plug-in file .*absent\.py does not exist"),
        ("anonymizers", "mirror", "mirror.py", r"expected 'FILE\.py:ClassName', got 'mirror\.py'"),
        ("anonymizers", "blur", "mirror.py:Mirror", r"'blur' is already a bundled anonymizer "
                                                    r"\(baselines\.classic:Blur"),
        ("anonymizers", "x", "others.py:NotAnAnonymizer", r"others\.py:NotAnAnonymizer is not a subclass of "
                                                          r"benchmark\.anonymizer\.Anonymizer"),
        ("anonymizers", "x", "others.py:Named", r"sets name = 'something-else' but is declared as 'x'"),
        ("recognizers", "x", "others.py:NoSize", r"NoSize: its Config lacks 'height', 'width', which every "
                                                  r"recognizer needs \(has: rank\)"),
        ("recognizers", "x", "others.py:Half", r"Half does not implement _fit, compare, embed, set_state, state"),
        ("scorers", "x", "mirror.py:Mirror", r"not a subclass of benchmark\.scorers\.base\.Scorer"),
        ("datasets", "x", "mirror.py:Mirror", r"plug-in kind 'datasets' is not one of anonymizers, recognizers"),
        ("anonymizers", "two words", "mirror.py:Mirror", r"plug-in name 'two words' must be"),
    ],
)
def test_bad_declarations_name_the_problem(project: Path, kind: str, name: str, target: str, message: str) -> None:
    with pytest.raises(PluginError, match=message):
        register_file_plugin(kind, name, target, base=project)
    assert "x" not in ANONYMIZERS and "x" not in SCORERS


def test_plugin_code_errors_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("import numpy\nraise RuntimeError('no GPU here')\n", encoding="utf-8")
    with pytest.raises(PluginError, match=r"importing plug-in file .*broken\.py failed: RuntimeError: no GPU here"):
        register_file_plugin("anonymizers", "broken", "broken.py:B", base=tmp_path)
    assert not any(m.startswith("gaitbench_plugin_broken_") for m in sys.modules)


def test_environment_variable_syntax_and_worker_processes(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = f" anonymizers.mirror={project / 'mirror.py'}:Mirror ; ;scorers.a=b.py:C"
    assert parse_plugins_env(text) == [("anonymizers", "mirror", f"{project / 'mirror.py'}:Mirror"),
                                       ("scorers", "a", "b.py:C")]
    for bad, message in [("mirror=a.py:B", "expected KIND.NAME=FILE.py:Class, got 'mirror=a.py:B'"),
                         ("anonymizer.m=a.py:B", "kind 'anonymizer' is not one of")]:
        with pytest.raises(PluginError, match=message):
            parse_plugins_env(bad)

    # A relative FILE is relative to the working directory (as on a command line).
    monkeypatch.chdir(project)
    monkeypatch.setenv(PLUGINS_ENV, "anonymizers.mirror=mirror.py:Mirror")
    load_plugin_declarations()
    cls = ANONYMIZERS.get("mirror")
    assert ANONYMIZERS.entry("mirror").file == (project / "mirror.py").resolve()

    # What the runner exports reaches a fresh process: the same entry, the same module name.
    monkeypatch.delenv(PLUGINS_ENV)
    with plugins_exported() as value:
        assert value == f"anonymizers.mirror={(project / 'mirror.py').resolve()}:Mirror"
        code = ("from benchmark.registry import ANONYMIZERS, load_plugin_declarations; load_plugin_declarations(); "
                "e = ANONYMIZERS.entry('mirror'); print(e.load().__module__, e.sha256, e.meta)")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             cwd=REPO, env=dict(os.environ)).stdout.split(maxsplit=2)
    assert PLUGINS_ENV not in os.environ  # restored
    assert out[:2] == [cls.__module__, ANONYMIZERS.entry("mirror").sha256]
    assert out[2].strip() == "{'trainable': False, 'input': 'pixels', 'passthrough': False}"

    monkeypatch.setenv(PLUGINS_ENV, "anonymizers.gone=absent.py:X")
    with pytest.raises(PluginError, match=rf"{PLUGINS_ENV}: anonymizers\.gone: plug-in file .*absent\.py does not"):
        load_plugin_declarations()


# ------------------------------------------------------------------------------------------------ the example method


def seq_and_expected() -> tuple[GaitSequence, np.ndarray]:
    """Two 3x7 frames: frame 0 holds a walker in columns 1..4, frame 1 is empty. Red = 10 row + column."""
    sil = np.zeros((2, 3, 7), bool)
    sil[0] = [[0, 1, 1, 0, 0, 0, 0],
              [0, 1, 0, 0, 1, 0, 0],
              [0, 0, 1, 1, 1, 0, 0]]
    frames = np.zeros((2, 3, 7, 3), np.uint8)
    frames[..., 0] = 10 * np.arange(3)[:, None] + np.arange(7)[None, :]
    frames[..., 1] = 7
    frames[1, ..., 2] = 1
    # Mirror box: columns 1..4, column x <- column 5 - x (by hand from the rows above).
    mirrored = np.array([[0, 0, 0, 1, 1, 0, 0],
                         [0, 1, 0, 0, 1, 0, 0],
                         [0, 1, 1, 1, 0, 0, 0]], bool)
    return GaitSequence("001", "nm-05", 90, sil, frames), mirrored


def test_mirror_matches_hand_computed_arrays(project: Path) -> None:
    cls = register_file_plugin("anonymizers", "mirror", "mirror.py:Mirror", base=project).load()
    seq, mirrored = seq_and_expected()
    out = cls().anonymize(seq, seed=3)
    assert out.silhouettes.dtype == bool and out.frames is not None and out.frames.dtype == np.uint8
    np.testing.assert_array_equal(out.silhouettes[0], mirrored)
    np.testing.assert_array_equal(out.silhouettes[1], np.zeros((3, 7), bool))
    # Red channel: mirrored-silhouette pixels and uncovered ones (row 0 cols 1, 2; row 2 col 4) read column
    # 5 - x; row 1 cols 2, 3 are in the box but in neither silhouette and keep their colour; cols 0, 5, 6 too.
    red = np.array([[0, 4, 3, 2, 1, 5, 6],
                    [10, 14, 12, 13, 11, 15, 16],
                    [20, 24, 23, 22, 21, 25, 26]])
    np.testing.assert_array_equal(out.frames[0, ..., 0], red)
    np.testing.assert_array_equal(out.frames[0, ..., 1:], seq.frames[0, ..., 1:])  # type: ignore[index]
    np.testing.assert_array_equal(out.frames[1], seq.frames[1])  # type: ignore[index]

    # With a background image the uncovered pixels show it (red 99 there), the rest is as above.
    with_bg = cls().anonymize(seq.replace(background=np.full((3, 7, 3), 99, np.uint8)))
    assert with_bg.frames is not None
    red_bg = red.copy()
    red_bg[0, 1] = red_bg[0, 2] = red_bg[2, 4] = 99
    np.testing.assert_array_equal(with_bg.frames[0, ..., 0], red_bg)
    np.testing.assert_array_equal(with_bg.frames[0, ..., 1], np.where(red_bg == 99, 99, 7))

    # axis = "frame": every row reversed over the whole width.
    whole = cls(cls.Config(axis="frame")).anonymize(seq.replace(frames=None))
    np.testing.assert_array_equal(whole.silhouettes[0], [[0, 0, 0, 0, 1, 1, 0],
                                                         [0, 0, 1, 0, 0, 1, 0],
                                                         [0, 0, 1, 1, 1, 0, 0]])
    assert whole.frames is None and cls(cls.Config(axis="frame")).parameters() == "axis=frame"
    with pytest.raises(ValueError, match="axis must be one of box, frame, got 'left'"):
        cls.Config(axis="left")


# ------------------------------------------------------------------------------------------------ run configs


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('"mirror.py:Mirror"', '"mirror.py:Mirrror"', r"plugins\.anonymizers\.mirror: .*mirror\.py has no class "
                                                       r"'Mirrror'; did you mean 'Mirror'"),
        ('"mirror.py:Mirror"', '"nothere.py:Mirror"', r"plugins\.anonymizers\.mirror: plug-in file .*nothere\.py "
                                                       r"does not exist"),
        ("{ mirror =", "{ blur =", r"plugins\.anonymizers\.blur: 'blur' is already a bundled anonymizer"),
        ("anonymizers = {", "anonymizer = {", r"plugins: unknown key 'anonymizer'; did you mean 'anonymizers'"),
        ('"mirror.py:Mirror"', "3", r"plugins\.anonymizers\.mirror: expected a string, got 3"),
        ("[anonymizers.mirror]", '[anonymizers.mirror]\naxes = "box"', r"anonymizers\.mirror: unknown key 'axes'; "
                                                                       r"did you mean 'axis'"),
        ("[plugins]\nanonymizers = { mirror = \"mirror.py:Mirror\" }", "",
         r"anonymizers\.mirror: unknown anonymizer 'mirror'.*declared in \[plugins\]"),
    ],
)
def test_config_errors_name_the_key_and_file(project: Path, old: str, new: str, message: str) -> None:
    path = edit_config(project, old, new)
    with pytest.raises(ConfigError, match=message) as info:
        load_run_config(path)
    assert str(path) in str(info.value)


def test_stage_keys_follow_the_plugin_file_content(project: Path, tmp_path: Path) -> None:
    def keys() -> dict[str, str]:
        plan = plan_run(load_run_config(project / "run.toml"), tmp_path / "out", progress=False)
        return {s.name: s.key for s in plan.stages}

    resolved = load_run_config(project / "run.toml")
    sha = hashlib.sha256((project / "mirror.py").read_bytes()).hexdigest()
    assert resolved.plugins == {"anonymizers": {"mirror": {
        "file": str((project / "mirror.py").resolve()), "class": "Mirror", "sha256": sha}}}
    assert [(m.name, m.parameters, m.trainable) for m in resolved.methods][-1] == ("mirror", "axis=box", False)
    plan = plan_run(resolved, tmp_path / "out", progress=False)
    anonymize = next(s for s in plan.stages if s.name == "anonymize mirror[axis=box]")
    assert anonymize.spec["plugin"] == {"class": "Mirror", "sha256": sha}
    assert "plugin" not in next(s for s in plan.stages if s.name.startswith("anonymize blur")).spec

    first = keys()
    assert keys() == first  # nothing changed, nothing to recompute
    source = (project / "mirror.py").read_text(encoding="utf-8")
    (project / "mirror.py").write_text(source + "\n# an edit\n", encoding="utf-8")
    edited = keys()
    changed = {name for name in first if edited[name] != first[name]}
    assert changed == {"anonymize mirror[axis=box]", "evaluate mirror[axis=box] zheng2011",
                       "score mirror[axis=box] frame-hog", "realism mirror[axis=box]"}
    (project / "mirror.py").write_text(source, encoding="utf-8")
    assert keys() == first  # content-addressed: the original file, the original keys

    # A trainable plug-in gets a train stage, keyed by its file too.
    edit_config(project, '{ mirror = "mirror.py:Mirror" }', '{ mirror = "mirror.py:Mirror", learner = '
                '"others.py:Learner" }')
    edit_config(project, "[anonymizers.mirror]", "[anonymizers.learner]\n\n[anonymizers.mirror]")
    plan = plan_run(load_run_config(project / "run.toml"), tmp_path / "out", progress=False)
    train = next(s for s in plan.stages if s.name == "train learner")
    assert train.spec["plugin"] == {"class": "Learner",
                                    "sha256": hashlib.sha256((project / "others.py").read_bytes()).hexdigest()}


# ------------------------------------------------------------------------------------------------ end to end


def test_example_config_runs_end_to_end_on_a_tiny_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.tiny_run import PROTOCOL, write_world

    write_world(tmp_path / "data")
    (tmp_path / "protocol.toml").write_text(PROTOCOL, encoding="utf-8")
    shutil.copy(EXAMPLE, tmp_path / "mirror_anonymizer.py")
    text = (REPO / "examples" / "mirror.toml").read_text(encoding="utf-8")
    world = text[text.index("[world]"):text.index("[recognizers.zheng2011]")]
    text = text.replace(world, '[world]\npath = "data"\n\n').replace("../configs/protocols/ci.toml", "protocol.toml")
    text = text[:text.index("[recognizers.wu2017-mt]")] + text[text.index("[anonymizers.identity]"):]
    text = text[:text.index("[scorers.video-synth]")] + text[text.index("[evaluate]"):]
    # sigma 8 would blur a 48x36 walker away (as in test_runner, 3)
    text = text.replace("[anonymizers.blur]\n", "[anonymizers.blur]\nsigma = 3.0\n")
    text = text.replace("ks = [1, 3]", "ks = [1, 2]")  # the tiny world's gallery holds 2 subjects
    (tmp_path / "run.toml").write_text(text, encoding="utf-8")

    result = execute(plan_run(load_run_config(tmp_path / "run.toml"), tmp_path / "out", progress=False),
                     log=lambda line: None)
    assert result.finished
    frame = read_csv(tmp_path / "out" / "results.csv")
    assert set(zip(frame["method"], frame["parameters"], strict=True)) == {
        ("identity", ""), ("blur", "margin=4;sigma=3"), ("mirror", "axis=box")}
    mirror = frame[frame["method"] == "mirror"]
    assert set(mirror["metric"]) == {"success_rate", "accuracy", "eer", "rank", "frame_score", "temporal_change_ratio",
                                     "silhouette_difference", "frechet"}
    assert len(mirror) == len(frame[frame["method"] == "blur"])

    # What the anonymize stage wrote is the plug-in's output: each frame's bounding box flipped left-right.
    (stage,) = [p for p in (tmp_path / "out" / "cache" / "anonymize").iterdir()
                if json.loads((p / "stage.json").read_text())["name"] == "anonymize mirror[axis=box]"]
    ref = CasiaB(stage / "data").index()[0]
    clean = CasiaB(tmp_path / "data")  # its own ref: a ref names the folder it was indexed in
    got, original = CasiaB(stage / "data").load(ref).silhouettes, clean.load(clean.ref(ref.key)).silhouettes
    assert got.shape == original.shape and got.any()
    for t, sil in enumerate(original):
        want = np.zeros_like(sil)
        cols = np.flatnonzero(sil.any(axis=0))
        if cols.size:
            want[:, cols[0]:cols[-1] + 1] = np.fliplr(sil[:, cols[0]:cols[-1] + 1])
        np.testing.assert_array_equal(got[t], want, err_msg=f"{ref.key} frame {t}")

    # The same plug-in from the command line, declared by the environment variable: the same output.
    monkeypatch.setenv(PLUGINS_ENV, f"anonymizers.mirror={tmp_path / 'mirror_anonymizer.py'}:Mirror")
    assert main(["anonymize", "mirror", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "cli"),
                 "--protocol", str(tmp_path / "protocol.toml"), "--quiet"]) == 0
    assert [r.key for r in CasiaB(tmp_path / "cli").index()] == [r.key for r in CasiaB(stage / "data").index()]
    cli = CasiaB(tmp_path / "cli")
    np.testing.assert_array_equal(cli.load(cli.ref(ref.key)).silhouettes, got)


# ------------------------------------------------------------------------------------------------ README's example


def readme_example() -> tuple[str, str]:
    """The Python file and the TOML lines of README.md's "Add your own anonymizer in one file" section."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("### Add your own anonymizer in one file", 1)[1]
    python = section.split("```python\n", 1)[1].split("```", 1)[0]
    toml = section.split("```toml\n", 1)[1].split("```", 1)[0]
    return python, toml


def test_readme_example_runs_as_written(tmp_path: Path) -> None:
    """README's plug-in, as printed there, mirrors the walker like the example (frames: the walker's box
    reversed, by hand) and its TOML lines added to configs/ci.toml give a config that plans a mirror method."""
    python, toml = readme_example()
    (tmp_path / "my_anonymizer.py").write_text(python, encoding="utf-8")
    config = (REPO / "configs" / "ci.toml").read_text(encoding="utf-8")
    config = config.replace('"protocols/ci.toml"', f'"{(REPO / "configs" / "protocols" / "ci.toml").as_posix()}"')
    config = config.replace('"../worlds/ci-run"', f'"{(tmp_path / "world").as_posix()}"')
    (tmp_path / "my-run.toml").write_text(config + "\n" + toml, encoding="utf-8")
    resolved = load_run_config(tmp_path / "my-run.toml")
    assert "mirror" in [m.name for m in resolved.methods]
    cls = registry.ANONYMIZERS.get("mirror")
    seq, mirrored = seq_and_expected()
    out = cls().anonymize(seq, seed=0)
    np.testing.assert_array_equal(out.silhouettes[0], mirrored)
    np.testing.assert_array_equal(out.silhouettes[1], np.zeros((3, 7), bool))
    red = 10 * np.arange(3)[:, None] + np.arange(7)[None, :]
    red[:, 1:5] = red[:, 1:5][:, ::-1]  # the box, columns 1..4, reversed
    np.testing.assert_array_equal(out.frames[0, ..., 0], red)  # type: ignore[index]
    np.testing.assert_array_equal(out.frames[1], seq.frames[1])  # type: ignore[index]
