"""Shared fixtures: tiny CASIA-B silhouette trees, lossless test videos, a pixel recognizer and a small protocol."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from benchmark.cli import main
from benchmark.data.casia import write_silhouettes
from benchmark.recognizer import FitOptions, Recognizer
from benchmark.sample import walker
from benchmark.sequences import Embedding, Sequences
from recognizers.linear import pairwise_euclidean
from recognizers.toy import write_toy_tree


@dataclasses.dataclass
class TinyTree:
    """A CASIA-B silhouette tree written by :func:`write_casia_tree`; ``truth`` holds what each sequence holds."""

    root: Path
    truth: dict[str, np.ndarray]  # key -> bool (T, H, W)

    def folder(self, key: str) -> Path:
        subject, cond_type, cond_num, view = key.split("-")
        for candidate in (self.root / subject, self.root / subject / subject):
            folder = candidate / f"{cond_type}-{cond_num}" / view
            if folder.is_dir():
                return folder
        raise KeyError(key)

    def frame(self, key: str, number: int) -> Path:
        return self.folder(key) / f"{key}-{number:03d}.png"


def write_casia_tree(
    root: Path,
    *,
    subjects: Iterable[str] = ("001", "002"),
    conditions: Iterable[str] = ("nm-01", "bg-01"),
    views: Iterable[int] = (0, 90),
    frames: int = 3,
    shape: tuple[int, int] = (32, 24),
    nested: Iterable[str] = (),
) -> TinyTree:
    """Write :func:`benchmark.sample.walker` silhouettes, one walker per sequence, as a CASIA-B tree.

    Subjects in ``nested`` get the extra level some archives have (``<root>/113/113/nm-06/180``).
    """
    nested = set(nested)
    truth = {}
    for si, subject in enumerate(subjects):
        base = root / subject if subject in nested else root
        for ci, condition in enumerate(conditions):
            for view in views:
                masks = walker(frames, shape, seed=si * 7 + ci * 3 + view // 18).silhouettes
                write_silhouettes(base, subject, condition, view, masks)
                truth[f"{subject}-{condition}-{view:03d}"] = masks
    return TinyTree(root, truth)


@pytest.fixture
def tiny_casia(tmp_path: Path) -> TinyTree:
    """2 subjects x (nm-01, bg-01) x (0, 90) x 3 frames of 32x24 (H x W)."""
    return write_casia_tree(tmp_path / "casia")


@pytest.fixture
def make_casia_tree(tmp_path: Path) -> Callable[..., TinyTree]:
    """``make_casia_tree(name="casia", **kwargs)``: :func:`write_casia_tree` under ``tmp_path / name``."""

    def make(name: str = "casia", **kwargs: object) -> TinyTree:
        return write_casia_tree(tmp_path / name, **kwargs)  # type: ignore[arg-type]

    return make


def write_video(path: Path, frames_rgb: np.ndarray, fps: float = 25.0) -> Path:
    """Write ``uint8 (T, H, W, 3)`` RGB frames losslessly (FFV1 in AVI), as OpenCV reads them back exactly."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t, h, w, _ = frames_rgb.shape
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), fps, (w, h))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write FFV1 to {path}")
    for frame in frames_rgb:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


@pytest.fixture
def video_writer() -> Callable[..., Path]:
    """:func:`write_video` as a fixture."""
    return write_video


def png_bytes(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


@pytest.fixture
def broken_png() -> Callable[[str], bytes]:
    """``broken_png(kind)``: bytes of a bad frame; kind is truncated, crc, junk or empty."""
    good = png_bytes(walker(1, (32, 24)).silhouettes[0].astype(np.uint8) * 255)

    def make(kind: str) -> bytes:
        if kind == "truncated":
            return good[: len(good) // 2]
        if kind == "crc":
            data = bytearray(good)
            data[-20] ^= 0xFF  # inside IDAT's data (IEND and IDAT's CRC are the last 16 bytes)
            return bytes(data)
        if kind == "junk":
            return b"this is not an image\n" * 3
        if kind == "empty":
            return b""
        raise ValueError(kind)

    return make


@dataclasses.dataclass(frozen=True)
class PixelsConfig:
    height: int = 8
    width: int = 8
    embed_batch: int = 5


class Pixels(Recognizer):
    """A GEI's pixels (float64) as its embedding, Euclidean distances, nothing learnt: distances worked out by hand.

    Constant ``h x w`` GEIs of values ``v`` and ``u`` are ``sqrt(h * w) |v - u|`` apart. It records which sequences
    it embedded (:attr:`embedded`, keys in order) and how many probe rows it compared (:attr:`compared_rows`), so a
    sharded run can be checked for how it split the work.
    """

    name = "pixels"
    Config = PixelsConfig
    input_kind = "gei"

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.embedded: list[str] = []
        self.compared_rows = 0

    def _fit(self, train: Sequences, options: FitOptions) -> dict[str, Any]:
        return {}

    def embed(self, data: Sequences) -> Embedding:
        self.embedded += [data.key(i) for i in range(len(data))]
        return Embedding(data.geis().reshape(len(data), -1).astype(np.float64), data.views.copy())

    def compare(self, gallery: Embedding, probes: Embedding) -> np.ndarray:
        self.compared_rows += len(probes)
        return pairwise_euclidean(gallery.features, probes.features)

    def state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return {}, {}

    def set_state(self, arrays: Mapping[str, np.ndarray], extra: Mapping[str, Any]) -> None:
        pass


@pytest.fixture
def pixels() -> type[Pixels]:
    """The :class:`Pixels` recognizer class (``pixels(pixels.Config(height=32, width=22))`` for another size)."""
    return Pixels


@dataclasses.dataclass
class SmallProtocol:
    """A toy tree and a protocol over it, written by the ``small_protocol`` fixture; :meth:`train` trains on it."""

    data: Path  # the toy tree: subjects 001.., views 0 and 90, 8 frames per sequence
    protocol: Path  # gallery nm-01..04; probes nm-05/06, bg-01, cl-01; half the subjects train, half test
    options: list[str]  # what every command passes: --protocol, --cache, --workers 1, --quiet and the extras

    def train(self, recognizer: str, config: str) -> Path:
        """``gaitbench train recognizer`` with the TOML text ``config``; the checkpoint ``<recognizer>.npz``."""
        folder = self.protocol.parent
        (folder / f"{recognizer}.toml").write_text(config)
        ckpt = folder / f"{recognizer}.npz"
        assert main(["train", "recognizer", recognizer, "--data", str(self.data), "--out", str(ckpt),
                     "--config", str(folder / f"{recognizer}.toml"), *self.options]) == 0
        return ckpt


@pytest.fixture
def small_protocol(tmp_path: Path) -> Callable[..., SmallProtocol]:
    """``small_protocol(per_group, *options)``: a toy tree of ``2 * per_group`` subjects and its protocol."""

    def make(per_group: int, *options: str) -> SmallProtocol:
        data = write_toy_tree(tmp_path / "clean", subjects=range(2 * per_group), views=(0, 90), frames=8)
        protocol = tmp_path / "small.toml"
        protocol.write_text(
            f'name = "small"\ndescription = "{per_group} train / {per_group} test"\nviews = [0, 90]\n'
            'gallery = ["nm-01", "nm-02", "nm-03", "nm-04"]\n'
            f"[groups]\nrecognizers = {per_group}\ntest = {per_group}\n"
            '[probes]\nnm = ["nm-05", "nm-06"]\nbg = ["bg-01"]\ncl = ["cl-01"]\n'
        )
        common = ["--protocol", str(protocol), "--cache", str(tmp_path / "cache"), "--workers", "1", "--quiet"]
        return SmallProtocol(data, protocol, [*common, *options])

    return make


# ------------------------------------------------------------------------------- the runner's tiny run (tiny_run.py)


@pytest.fixture(scope="session")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the tiny world (``data/``), the protocol, an action checkpoint and ``run.toml``."""
    from tests.tiny_run import CONFIG, PROTOCOL, write_action_weights, write_world

    root = tmp_path_factory.mktemp("project")
    write_world(root / "data")
    (root / "protocol.toml").write_text(PROTOCOL, encoding="utf-8")
    write_action_weights(root / "action.npz")
    (root / "run.toml").write_text(CONFIG, encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def baseline(project: Path) -> tuple[Path, Any]:
    """One uninterrupted serial run of ``run.toml`` into ``project/runs/base`` (its own cache)."""
    from benchmark.runner import execute, load_run_config, plan_run

    out = project / "runs" / "base"
    result = execute(plan_run(load_run_config(project / "run.toml"), out, progress=False), log=lambda line: None)
    return out, result
