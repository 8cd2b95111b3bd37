"""Recognizers end to end on the procedural toy world (:mod:`recognizers.toy`): each beats chance by a wide margin,
checkpoints round-trip, mismatched checkpoints are refused with their reason, training resumes exactly.

Toy world: 6 training subjects, 8 unseen test subjects at views 0/90/180; gallery nm-01..03, probes nm-04, so
chance is 1/8. Configs are shrunk (sizes, widths, epochs) so that all four train in seconds.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmark.checkpoints import read_checkpoint
from benchmark.recognizer import CheckpointError, FitOptions, Recognizer, load_recognizer
from benchmark.registry import RECOGNIZERS, load_plugin_declarations
from benchmark.retrieval import topk_hits
from benchmark.sequences import InputSpec, Sequences
from recognizers.toy import toy_sequences

pytest.importorskip("torch")

TINY: dict[str, dict[str, Any]] = {
    "zheng2011": {"rank": 20},
    "geinet": {"height": 32, "width": 32, "conv1": 8, "conv2": 12, "fc": 64, "epochs": 6, "batch_size": 8,
               "lr": 1e-3},
    "wu2017-mt": {"height": 32, "width": 32, "conv1": 8, "conv2": 16, "conv3": 32, "epochs": 6, "batch_size": 16,
                  "lr": 1e-3},
    "gaitset": {"height": 32, "width": 32, "channels": (8, 16, 16), "scales": (1, 2, 4, 8), "features": 16,
                "frames": 6, "subjects_per_batch": 6, "sequences_per_subject": 3, "batches_per_epoch": 6,
                "epochs": 6},
}
GALLERY = ("nm-01", "nm-02", "nm-03")
VIEWS = (0, 90, 180)


def make(name: str, **changes: Any) -> Recognizer:
    load_plugin_declarations()
    cls = RECOGNIZERS.get(name)
    return cls(cls.Config(**{**TINY[name], **changes}))  # type: ignore[no-any-return]


def world(spec: InputSpec, subjects: range) -> Sequences:
    return toy_sequences(subjects, ("nm-01", "nm-02", "nm-03", "nm-04"), VIEWS, spec=spec, frames=10)


_TRAINED: dict[str, Recognizer] = {}


def trained(name: str) -> Recognizer:
    """Each recognizer is trained once per test session (the tests below share it)."""
    if name not in _TRAINED:
        rec = make(name)
        rec.fit(world(rec.spec, range(6)), options=FitOptions(device="cpu", progress=False))
        _TRAINED[name] = rec
    return _TRAINED[name]


def same_view_top1(rec: Recognizer) -> float:
    test = world(rec.spec, range(6, 14))
    gallery = test.subset(np.isin(test.conditions, GALLERY))
    probes = test.subset(~np.isin(test.conditions, GALLERY))
    g, p = rec.embed(gallery), rec.embed(probes)
    hits = []
    for v in VIEWS:
        gi, pi = np.flatnonzero(gallery.views == v), np.flatnonzero(probes.views == v)
        d = rec.compare(g.subset(gi), p.subset(pi))
        hits.append(topk_hits(d, probes.subjects[pi], gallery.subjects[gi], (1,))[1])
    return float(np.concatenate(hits).mean())


def test_registry_lists_recognizers_without_importing_torch() -> None:
    code = (
        "import sys; from benchmark.registry import RECOGNIZERS, load_plugin_declarations; "
        "load_plugin_declarations(); print(RECOGNIZERS.names(), 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['gaitset', 'geinet', 'pose-gait', 'wu2017-mt', 'zheng2011'] False"
    load_plugin_declarations()
    assert RECOGNIZERS.entry("wu2017-mt").meta["pairwise"] is True
    with pytest.raises(KeyError, match="did you mean 'gaitset'"):
        RECOGNIZERS.get("gaitsets")


@pytest.mark.parametrize("name", ["zheng2011", "geinet", "wu2017-mt", "gaitset"])
def test_recognizer_beats_chance_on_the_toy_world(name: str) -> None:
    rec = trained(name)
    accuracy = same_view_top1(rec)
    assert accuracy >= 0.5, f"{name}: same-view top-1 {accuracy:.3f}, chance is 0.125"
    assert rec.training is not None and rec.training["subjects"] == [f"{i:03d}" for i in range(1, 7)]


@pytest.mark.parametrize("name", ["zheng2011", "geinet", "wu2017-mt", "gaitset"])
def test_checkpoint_round_trip_gives_the_same_distances(name: str, tmp_path: Path) -> None:
    rec = trained(name)
    path = rec.save(tmp_path / f"{name}.npz")
    again = load_recognizer(path)
    assert type(again) is type(rec) and again.config == rec.config
    data = world(rec.spec, range(6, 9))
    np.testing.assert_array_equal(again.distance(data, data), rec.distance(data, data))
    meta, _ = read_checkpoint(path, "recognizer")
    assert meta["kind"] == "recognizer" and meta["name"] == name and meta["input"]["height"] == rec.spec.height


def _edit_meta(path: Path, out: Path, **changes: Any) -> Path:
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(arrays["__meta__"].tobytes())
    for key, value in changes.items():
        target = meta
        *parents, last = key.split(".")
        for p in parents:
            target = target[p]
        target[last] = value
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(out, **arrays)  # type: ignore[arg-type]
    return out


def test_mismatched_checkpoints_are_refused(tmp_path: Path) -> None:
    from recognizers.geinet import GEINet
    from recognizers.zheng2011 import Zheng2011

    rec = trained("zheng2011")
    path = rec.save(tmp_path / "z.npz")
    with pytest.raises(CheckpointError, match=r"z\.npz holds recognizer 'zheng2011', not 'geinet'"):
        GEINet.load(path)
    with pytest.raises(CheckpointError, match=r"zheng2011 reads 64x44 inputs, 128x88 were asked for"):
        Zheng2011.load(path, input_size=(128, 88))
    with pytest.raises(CheckpointError, match=r"trained on other data \(fingerprint None, expected abc\)"):
        Zheng2011.load(path, fingerprint={"sha256": "abc"})
    old = _edit_meta(path, tmp_path / "old.npz", gaitbench_version="0.0.9")
    with pytest.raises(CheckpointError, match=r"written by gaitbench 0\.0\.9, which is incompatible"):
        load_recognizer(old)
    fmt = _edit_meta(path, tmp_path / "fmt.npz", format_version=99)
    with pytest.raises(CheckpointError, match=r"format 99, this gaitbench reads 2; remake it with `gaitbench train"):
        load_recognizer(fmt)
    typo = _edit_meta(path, tmp_path / "typo.npz", **{"config.rnak": 3})
    with pytest.raises(CheckpointError, match=r"unknown key 'rnak'; did you mean 'rank'"):
        load_recognizer(typo)
    size = _edit_meta(path, tmp_path / "size.npz", **{"config.height": 32})
    with pytest.raises(CheckpointError, match=r"its record says input .*height=64.*, its config builds .*height=32"):
        load_recognizer(size)
    unknown = _edit_meta(path, tmp_path / "unknown.npz", name="zheng2012")
    with pytest.raises(CheckpointError, match=r"unknown recognizer 'zheng2012'; did you mean 'zheng2011'"):
        load_recognizer(unknown)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip file")
    with pytest.raises(CheckpointError, match=r"junk\.npz is not a gaitbench checkpoint"):
        load_recognizer(junk)
    from baselines.classic import Pixelate

    anonymizer = Pixelate().save(tmp_path / "pixelate.npz")
    with pytest.raises(CheckpointError, match=r"pixelate\.npz holds anonymizer 'pixelate', not a recognizer"):
        load_recognizer(anonymizer)
    with pytest.raises(FileNotFoundError, match=r"checkpoint .*missing\.npz does not exist"):
        load_recognizer(tmp_path / "missing.npz")


def test_torch_checkpoint_with_wrong_array_shapes_is_refused(tmp_path: Path) -> None:
    path = trained("geinet").save(tmp_path / "g.npz")
    wider = _edit_meta(path, tmp_path / "wider.npz", **{"config.fc": 65})
    with pytest.raises(CheckpointError, match=r"array 'fc\.weight' has shape \(64, 192\), .* expects \(65, 192\)"):
        load_recognizer(wider)


def test_training_resumes_to_the_same_weights(tmp_path: Path) -> None:
    train = world(InputSpec(32, 32, "gei"), range(6))
    whole = make("geinet", epochs=3)
    whole.fit(train, options=FitOptions(device="cpu", progress=False, state_path=tmp_path / "a.pt"))
    cut = make("geinet", epochs=3)
    cut.fit(train, options=FitOptions(device="cpu", progress=False, state_path=tmp_path / "b.pt", stop_after=1))
    resumed = make("geinet", epochs=3)
    resumed.fit(train, options=FitOptions(device="cpu", progress=False, state_path=tmp_path / "b.pt"))
    assert resumed.training is not None and resumed.training["resumed_from"] == 1
    a, _ = whole.state()
    b, _ = resumed.state()
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def test_inputs_are_checked() -> None:
    rec = make("zheng2011")
    with pytest.raises(ValueError, match=r"zheng2011 reads InputSpec\(height=64, width=44.*prepared for .*32"):
        rec.fit(world(InputSpec(32, 32, "gei"), range(3)))
    with pytest.raises(RuntimeError, match="zheng2011 is not trained"):
        rec.embed(world(rec.spec, range(2)))
    with pytest.raises(ValueError, match="at least 2 training subjects"):
        rec.fit(world(rec.spec, range(1)))
    with pytest.raises(ValueError, match=r"input kind must be one of \('gei', 'frames', 'pose'\), got 'video'"):
        InputSpec(64, 44, "video")
    with pytest.raises(ValueError, match=r"a pose input is \(33, 4\) per frame"):
        InputSpec(64, 44, "pose")
