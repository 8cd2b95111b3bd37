"""End to end: generate a tiny synthetic world with the real body model and read it back as CASIA-B.

Needs the ``synth`` extra (anny, torch); on a machine whose anny cache is still empty the first test also
builds it (about a minute, once).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("anny")

from benchmark.data.casia import CasiaB  # noqa: E402
from benchmark.synth.world import GENERATOR_VERSION, WorldConfig, generate  # noqa: E402

TINY = WorldConfig("ci", subjects=2, views=(0, 90), conditions=("nm-01", "bg-01", "cl-01"), frame_range=(30, 30))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world")
    generate(TINY, out, workers=1, log=None)
    return out


def _pngs(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted((root / "silhouettes").rglob("*.png"))}


def test_world_is_readable_by_the_casia_reader(world: Path) -> None:
    data = CasiaB(world)
    refs = data.index()
    assert [(r.subject, r.condition, r.view) for r in refs[:3]] == [("001", "nm-01", 0), ("001", "nm-01", 90),
                                                                   ("001", "bg-01", 0)]
    assert len(refs) == 2 * 3 * 2
    seq = data.load(data.ref("002-cl-01-090"), frames=True, background=True)
    assert seq.silhouettes.shape == (30, 240, 320) and seq.frames is not None and seq.background is not None
    assert seq.fps == 25.0
    # The colour frames show the walker where the silhouette is: there they differ from the empty scene.
    diff = np.abs(seq.frames.astype(int) - seq.background.astype(int)).sum(-1)
    assert diff[seq.silhouettes].mean() > 40 > diff[~seq.silhouettes].mean()
    manifest = json.loads((world / "manifest.json").read_text())
    assert manifest["generator_version"] == GENERATOR_VERSION and len(manifest["subjects"]) == 2
    assert set(manifest["subjects"][0]["phenotype"]) == {"gender", "age", "muscle", "weight", "height", "proportions"}


def test_same_seed_gives_byte_identical_silhouettes(world: Path, tmp_path: Path) -> None:
    again = WorldConfig("ci", subjects=1, views=(90,), conditions=("cl-01",), frame_range=(30, 30))
    generate(again, tmp_path, workers=1, log=None)
    new = _pngs(tmp_path)
    old = _pngs(world)
    assert len(new) == 30 and all(old[k] == v for k, v in new.items())


def test_interrupted_run_resumes_and_refuses_another_world(world: Path, tmp_path: Path) -> None:
    copy = tmp_path / "w"
    shutil.copytree(world, copy)
    seq = copy / "silhouettes" / "002" / "bg-01" / "000"
    shutil.rmtree(seq)
    (copy / "videos" / "002-bg-01-000.avi").unlink()
    (seq.parent / ".000.tmp-1").mkdir()  # debris of a killed run, invisible to readers
    summary = generate(TINY, copy, workers=1, log=None)
    assert summary["frames"] == 30  # only the missing sequence was rendered
    assert _pngs(copy) == _pngs(world)
    assert (copy / "videos" / "002-bg-01-000.avi").exists()
    with pytest.raises(ValueError, match="holds another synthetic world"):
        generate(WorldConfig("ci", 2, (0, 90), ("nm-01", "bg-01", "cl-01"), seed=1, frame_range=(30, 30)), copy,
                 workers=1, log=None)


def _widest(masks: np.ndarray) -> float:
    """The largest bounding-box width / height of a walker over a sequence."""
    ratios = []
    for m in masks:
        ys, xs = np.nonzero(m)
        ratios.append((np.ptp(xs) + 1) / (np.ptp(ys) + 1))
    return float(max(ratios))


def test_side_view_is_wider_in_stride_than_the_frontal_view(world: Path) -> None:
    data = CasiaB(world)
    for subject in ("001", "002"):
        side = _widest(data.load_silhouettes(data.ref(f"{subject}-nm-01-090")))
        front = _widest(data.load_silhouettes(data.ref(f"{subject}-nm-01-000")))
        # Legs apart in stride (about half the stature) against shoulders and arms (about a quarter).
        assert side > 1.2 * front, (subject, side, front)


@pytest.fixture(scope="module")
def body() -> object:
    from benchmark.synth.world import _body

    return _body()


@pytest.mark.parametrize(("kind", "view"), [("backpack", 90), ("shoulder", 0), ("hand", 0), ("coat", 90), ("coat", 0)])
def test_bags_and_coats_add_to_the_silhouette(body: object, kind: str, view: int) -> None:
    import dataclasses

    from benchmark.synth.appearance import Bag, Coat
    from benchmark.synth.scene import casia_camera
    from benchmark.synth.walker import render_walk, simulate_walk
    from benchmark.synth.world import background, sample_subject, walk_spec

    rng = np.random.default_rng(0)
    subject = sample_subject(0, 0)
    plain = dataclasses.replace(walk_spec(0, subject, "nm-01"), lateral=0.0, heading=0.0)
    if kind == "coat":
        dressed = dataclasses.replace(plain, coat=Coat.sample(rng))
    else:
        dressed = dataclasses.replace(plain, bag=dataclasses.replace(Bag.sample(rng, kind), side=1))
    cam = casia_camera(view)
    areas = []
    for spec in (plain, dressed):
        walk = simulate_walk(body, subject, spec, frame_range=(20, 20))  # type: ignore[arg-type]
        areas.append(render_walk(walk, cam, background(0, view))[1].sum((1, 2)).mean())
    # A coat adds several percent of the walker's area, a bag a few (and it damps one arm's swing).
    assert areas[1] > (1.05 if kind == "coat" else 1.015) * areas[0], (kind, view, areas)


def test_registered_dataset_reads_the_world(world: Path, tmp_path: Path) -> None:
    from benchmark.registry import DATASETS, load_plugin_declarations

    load_plugin_declarations()
    data = DATASETS.get("synthetic")(world)
    assert data.manifest["seed"] == 0 and len(data.index()) == 12
    with pytest.raises(FileNotFoundError, match="is not a synthetic world"):
        DATASETS.get("synthetic")(tmp_path)


@pytest.mark.slow
def test_ci_preset_generates_in_cli(tmp_path: Path) -> None:
    import time

    from benchmark.cli import main

    start = time.perf_counter()
    assert main(["synth", "--preset", "ci", "--out", str(tmp_path)]) == 0
    assert len(CasiaB(tmp_path).index()) == 6 * 5 * 7
    # The budget is about 3 minutes on 2 cores, including anny's first-run cache.
    print(f"ci preset: {time.perf_counter() - start:.0f} s")
