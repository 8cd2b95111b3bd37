"""``frame-yolo`` and ``video-pytorchvideo``: tiny models built here in the checkpoint formats the loaders read.

The model tests need torchvision with ultralytics / pytorchvideo and skip without them; the pure functions,
the label list, the missing-weights errors and the install hints run everywhere (torch only).
"""

from __future__ import annotations

import copy
import importlib.util
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from benchmark.registry import SCORERS, load_plugin_declarations
from benchmark.scorers import hub_video as hv
from benchmark.scorers import yolo
from benchmark.scorers.base import TORCH_PAIR, MissingWeightsError
from benchmark.scorers.resnext import CheckpointMismatchError
from benchmark.types import GaitSequence

# Kinetics-400 indices as listed in the class-name file that pytorchvideo's hub examples read
# (pyslowfast's kinetics_classnames.json, {name: index}).
K400_INDICES = {
    "abseiling": 0, "archery": 5, "bench pressing": 19, "hurling (sport)": 161, "jogging": 168,
    "marching": 192, "massaging person's head": 196, "passing American football (in game)": 208,
    "riding or walking with horse": 273, "running on treadmill": 281, "walking the dog": 378, "zumba": 399,
}  # fmt: skip


@pytest.fixture(autouse=True)
def _quiet_ultralytics(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YOLO_CONFIG_DIR", str(tmp_path / "yolo-config"))
    monkeypatch.setenv("YOLO_OFFLINE", "1")


def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


# ------------------------------------------------------------------------------------------------- registry


def test_registry_declares_both_scorers() -> None:
    load_plugin_declarations()
    assert SCORERS.entry("frame-yolo").meta == {"level": "frame", "offline": False}
    assert SCORERS.entry("video-pytorchvideo").meta == {"level": "video", "offline": False}
    assert SCORERS.get("frame-yolo") is yolo.YOLOScorer
    assert SCORERS.get("video-pytorchvideo") is hv.PyTorchVideoScorer


# ------------------------------------------------------------------------------------------------- YOLO, pure


def test_class_index_by_name() -> None:
    assert yolo.class_index({0: "person", 1: "bicycle"}) == 0
    assert yolo.class_index({0: "car", 1: "dog", 2: "cat", 3: "person"}) == 3
    assert yolo.class_index(["car", "person"]) == 1
    with pytest.raises(ValueError, match="my.pt has no class 'person'"):
        yolo.class_index({0: "0", 1: "1"}, where="my.pt")


def test_best_confidence_literal() -> None:
    cls = np.array([0.0, 3.0, 3.0, 1.0], np.float32)
    conf = np.array([0.9, 0.2, 0.7, 0.95], np.float32)
    assert yolo.best_confidence(cls, conf, 3) == pytest.approx(0.7)
    assert yolo.best_confidence(cls, conf, 0) == pytest.approx(0.9)
    assert yolo.best_confidence(cls, conf, 2) == 0.0  # no box of that class
    assert yolo.best_confidence(np.zeros(0), np.zeros(0), 0) == 0.0
    with pytest.raises(ValueError, match="differ in length"):
        yolo.best_confidence(cls, conf[:2], 0)


def test_yolo_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="multiple of 32.*100"):
        yolo.Config(imgsz=100)
    with pytest.raises(ValueError, match=r"conf must lie in \(0, 1\), got 0"):
        yolo.Config(conf=0.0)
    with pytest.raises(ValueError, match="bare file name"):
        yolo.Config(filename="weights/yolov8n.pt")


def test_yolo_missing_weights_names_file_before_ultralytics(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(yolo.WEIGHTS_ENV, raising=False)
    monkeypatch.setenv("GAITBENCH_CACHE", str(tmp_path / "cache"))

    def no_import() -> None:
        raise AssertionError("ultralytics must not be touched before the weights file is found")

    monkeypatch.setattr(yolo, "import_ultralytics", no_import)
    frames = np.zeros((2, 64, 64, 3), np.uint8)
    with pytest.raises(MissingWeightsError) as info:
        yolo.YOLOScorer().score_frames(frames)
    message = str(info.value)
    assert "yolov8n.pt" in message and yolo.WEIGHTS_ENV in message and "'weights'" in message
    assert str(tmp_path / "cache" / "weights") in message
    with pytest.raises(MissingWeightsError, match=r"yolov3u\.pt not found"):
        yolo.YOLOScorer(yolo.Config(filename="yolov3u.pt")).score_frames(frames)
    monkeypatch.setenv(yolo.WEIGHTS_ENV, str(tmp_path / "elsewhere.pt"))
    with pytest.raises(MissingWeightsError, match=r"elsewhere\.pt does not exist"):
        yolo.YOLOScorer().score_frames(frames)


def test_yolo_without_the_extra_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    weights = tmp_path / "yolov8n.pt"
    weights.write_bytes(b"never read")
    monkeypatch.setitem(sys.modules, "ultralytics", None)  # as in an install without the extra
    with pytest.raises(ImportError) as info:
        yolo.YOLOScorer(yolo.Config(weights=weights)).score_frames(np.zeros((1, 64, 64, 3), np.uint8))
    message = str(info.value)
    assert "pip install -e '.[yolo]'" in message and TORCH_PAIR in message and "'frame-yolo'" in message


# ------------------------------------------------------------------------------------------------- YOLO, model


@pytest.fixture(scope="module")
def tiny_yolo() -> Any:
    """An untrained yolov8n (built from its yaml, offline) with a class order that puts 'person' at index 5."""
    pytest.importorskip("torchvision")
    ultralytics = pytest.importorskip("ultralytics")
    torch.manual_seed(0)
    model = ultralytics.YOLO("yolov8n.yaml")
    names = {i: f"class{i}" for i in range(80)}
    names[5] = "person"
    model.model.names = names
    # Untrained batch-norm statistics (mean 0, var 1) shrink the features to ~0 by the head, which would make
    # every class score its bias alone; statistics of a few random batches keep them input-dependent.
    for m in model.model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None  # cumulative average
            m.reset_running_stats()
    model.model.train()
    with torch.no_grad():
        for _ in range(3):
            model.model(torch.rand(4, 3, 64, 64))
    model.model.eval()
    return model


def _boost_class(model: Any, index: int, high: float = -1.0, low: float = -30.0) -> Any:
    """A copy of ``model`` whose classification biases make class ``index`` the best class of every box.

    The class's weights are scaled by 0.1, so that its scores spread over (0, 1) instead of saturating.
    """
    out = copy.deepcopy(model)
    detect = out.model.model[-1]
    with torch.no_grad():
        for branch in detect.cv3:
            branch[-1].bias.fill_(low)
            branch[-1].bias[index] = high
            branch[-1].weight[index] *= 0.1
    return out


def _raw_class_max(model: Any, frames: np.ndarray, index: int) -> np.ndarray:
    """Max over all candidate boxes of class ``index``'s score, from the network's raw output (no NMS).

    Frames are square and as large as ``imgsz``, so ultralytics' letterbox leaves them as they are: the input is
    RGB / 255. The weights are rounded to half precision, as ``YOLO.save`` stores them.
    """
    net = copy.deepcopy(model.model).half().float().eval()
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255.0  # (B, 3, S, S) RGB
    with torch.no_grad():
        y = net(x)
    y = y[0] if isinstance(y, list | tuple) else y  # (B, 4 + nc, boxes)
    return y[:, 4 + index].max(dim=1).values.double().numpy()


def test_yolo_scores_person_by_name_from_a_saved_checkpoint(tiny_yolo: Any, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    frames[1, :, :, 0] = 0  # colour structure, so that channel order matters
    frames[2, :, :, 2] //= 3
    person = _boost_class(tiny_yolo, 5)
    person.save(str(tmp_path / "person5.pt"))
    scorer = yolo.YOLOScorer(yolo.Config(weights=tmp_path / "person5.pt", imgsz=64, batch_size=2))
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(7)  # ultralytics sets cores - 1 on a CPU device; the scorer must put ours back
    try:
        got = scorer.score_frames(frames)
        assert torch.get_num_threads() == 7
    finally:
        torch.set_num_threads(threads)
    assert scorer.person_index == 5
    expected = _raw_class_max(person, frames, 5)
    assert np.all((expected > 0.01) & (expected < 0.999)) and np.ptp(expected) > 0.01  # input-dependent
    swapped = _raw_class_max(person, np.ascontiguousarray(frames[..., ::-1]), 5)
    assert np.abs(swapped - expected).max() > 0.01  # the test can tell RGB from BGR
    np.testing.assert_allclose(got, expected, atol=1e-4)
    assert "person5.pt" in scorer.label and "imgsz 64" in scorer.label
    # The same network with 'person' named at index 2, whose scores are sigmoid(-30 + ...) < conf: no person.
    other = _boost_class(tiny_yolo, 5)
    other.model.names = {**tiny_yolo.model.names, 5: "class5", 2: "person"}
    other.save(str(tmp_path / "person2.pt"))
    none = yolo.YOLOScorer(yolo.Config(weights=tmp_path / "person2.pt", imgsz=64)).score_frames(frames)
    np.testing.assert_array_equal(none, [0.0, 0.0, 0.0])


def test_yolo_without_person_class_is_refused(tmp_path: Path) -> None:
    pytest.importorskip("torchvision")
    ultralytics = pytest.importorskip("ultralytics")
    model = ultralytics.YOLO("yolov8n.yaml")  # names {0: '0', ...}
    model.save(str(tmp_path / "anon.pt"))
    with pytest.raises(ValueError, match="has no class 'person'"):
        yolo.YOLOScorer(yolo.Config(weights=tmp_path / "anon.pt", imgsz=64)).score_frames(
            np.zeros((1, 64, 64, 3), np.uint8)
        )


# ------------------------------------------------------------------------------------------------- Kinetics labels


def test_kinetics400_label_file() -> None:
    labels = hv.read_labels(hv.LABELS_FILE)
    assert len(labels) == 400 and list(labels) == sorted(labels)
    for name, index in K400_INDICES.items():
        assert labels[index] == name
    assert [labels[i] for i in hv.PyTorchVideoScorer().target_indices] == ["walking the dog", "marching", "jogging"]
    assert hv.PyTorchVideoScorer().target_indices == (378, 192, 168)


def test_kinetics400_labels_match_torchvision() -> None:
    meta = pytest.importorskip("torchvision.models._meta")
    assert list(hv.read_labels(hv.LABELS_FILE)) == list(meta._KINETICS400_CATEGORIES)


def test_targets_must_be_classes() -> None:
    with pytest.raises(ValueError, match=r"targets \['walking'\] are not among the 400 classes"):
        hv.PyTorchVideoScorer(hv.Config(targets=("walking",)))
    with pytest.raises(ValueError, match="each once"):
        hv.Config(targets=("jogging", "jogging"))
    with pytest.raises(ValueError, match="did you mean 'x3d_s'"):
        hv.Config(model="x3d-s")
    with pytest.raises(ValueError, match="crop_size 300 exceeds side_size 256"):
        hv.Config(model="slow_r50", crop_size=300)


# ------------------------------------------------------------------------------------------------- preprocessing


def test_temporal_subsample_literal() -> None:
    # long(linspace(0, t - 1, n)): 63 / 7 = 9 exactly; 77 / 12 = 6.4166..; 4 / 7 = 0.5714..
    np.testing.assert_array_equal(hv.temporal_subsample(64, 8), [0, 9, 18, 27, 36, 45, 54, 63])
    np.testing.assert_array_equal(hv.temporal_subsample(78, 13), [0, 6, 12, 19, 25, 32, 38, 44, 51, 57, 64, 70, 77])
    np.testing.assert_array_equal(hv.temporal_subsample(5, 8), [0, 0, 1, 1, 2, 2, 3, 4])  # repeats when short
    with pytest.raises(ValueError, match=">= 1"):
        hv.temporal_subsample(0, 4)


def test_clip_windows_follow_the_frame_rate() -> None:
    slow, x3d_s = hv.MODELS["slow_r50"], hv.MODELS["x3d_s"]
    assert hv.window_length(slow, 30.0) == 64 and hv.window_length(x3d_s, 30.0) == 78
    assert hv.window_length(slow, 25.0) == 53  # round(64 * 25 / 30 = 53.33)
    index = hv.clip_frame_indices(170, slow, 25.0)  # windows 0-52, 53-105, 106-158; 159-169 dropped
    positions = [0, 7, 14, 22, 29, 37, 44, 52]  # long(linspace(0, 52, 8)), steps of 7.43
    np.testing.assert_array_equal(index, [positions, [p + 53 for p in positions], [p + 106 for p in positions]])
    short = hv.clip_frame_indices(10, hv.MODELS["x3d_xs"], 5.0)  # window round(48 / 6) = 8 frames -> 1 clip
    np.testing.assert_array_equal(short, [[0, 2, 4, 7]])  # long(linspace(0, 7, 4)) = 0, 2.33, 4.67, 7
    looped = hv.clip_frame_indices(30, x3d_s, 30.0)  # 30 < 78: frames looped 0..29, 0..29, 0..17
    np.testing.assert_array_equal(looped, [[0, 6, 12, 19, 25, 2, 8, 14, 21, 27, 4, 10, 17]])


def test_short_side_scale_literal() -> None:
    up = np.zeros((1, 2, 2, 3), np.uint8)
    up[0, :, 1] = 100
    # bilinear, align_corners=False, x2: output column j samples x = (j + 0.5) / 2 - 0.5 = -0.25, .25, .75, 1.25
    got = hv.short_side_scale(up, 4)
    assert got.shape == (1, 4, 4, 3) and got.dtype == np.float32
    np.testing.assert_allclose(got[0, :, :, 1], np.tile([0.0, 25.0, 75.0, 100.0], (4, 1)), atol=1e-4)
    down = np.zeros((1, 8, 8, 3), np.uint8)
    down[0, :, 1] = 80  # column 1: sampled at x = 1.5 (half weight); column 3 falls between samples
    down[0, :, 3] = 200
    # x8 -> 2: samples at x = (j + 0.5) * 4 - 0.5 = 1.5, 5.5 (no antialiasing: pixel 3 is not seen)
    np.testing.assert_allclose(hv.short_side_scale(down, 2)[0, :, :, 0], [[40.0, 0.0], [40.0, 0.0]], atol=1e-4)
    assert hv.short_side_scale(np.zeros((2, 240, 320, 3), np.uint8), 182).shape == (2, 182, 242, 3)  # 242.67
    assert hv.short_side_scale(np.zeros((1, 320, 240, 3), np.uint8), 182).shape == (1, 242, 182, 3)


def test_preprocess_clip_centre_crop_and_normalisation() -> None:
    frames = np.zeros((2, 4, 6, 3), np.uint8)
    frames[:] = (np.arange(6, dtype=np.uint8) * 10)[None, None, :, None]  # column c has value 10 c
    x = hv.preprocess_clip(frames, side_size=4, crop_size=4)  # no resize; crop columns 1..4 (round(2 / 2) = 1)
    assert x.shape == (3, 2, 4, 4) and x.dtype == np.float32
    expected_row = [(10 * c / 255 - 0.45) / 0.225 for c in (1, 2, 3, 4)]  # -1.8257, -1.6514, -1.4771, -1.3028
    np.testing.assert_allclose(x[1, 0, 2], expected_row, rtol=1e-5)
    constant = hv.preprocess_clip(np.full((1, 40, 50, 3), 90, np.uint8), 32, 32)
    np.testing.assert_allclose(constant, -0.43137254901960786, rtol=1e-5)  # (90 / 255 - 0.45) / 0.225
    with pytest.raises(ValueError, match="crop_size 64 exceeds side_size 32"):
        hv.preprocess_clip(frames, side_size=32, crop_size=64)


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")  # deprecations inside the reference
def test_preprocess_matches_pytorchvideo_transforms() -> None:
    """Independent reference: the transform pipeline of pytorchvideo's torch-hub example."""
    pytest.importorskip("torchvision")
    if not _has("pytorchvideo"):
        pytest.skip("pytorchvideo is not installed")
    hv.import_hub()  # the functional_tensor alias
    from pytorchvideo.transforms import ShortSideScale, UniformTemporalSubsample
    from torchvision.transforms._transforms_video import CenterCropVideo, NormalizeVideo

    rng = np.random.default_rng(1)
    clip = rng.integers(0, 256, (20, 48, 64, 3), dtype=np.uint8)  # (T, H, W, 3)
    video = torch.from_numpy(clip).permute(3, 0, 1, 2).float()  # (3, T, H, W), as EncodedVideo yields
    video = UniformTemporalSubsample(13)(video) / 255.0
    video = NormalizeVideo(hv.MEAN_RGB, hv.STD_RGB)(video)
    reference = CenterCropVideo(32)(ShortSideScale(40)(video)).numpy()  # (3, 13, 32, 32)
    ours = hv.preprocess_clip(clip[hv.temporal_subsample(20, 13)], side_size=40, crop_size=32)
    np.testing.assert_allclose(ours, reference, atol=1e-4)


def test_wrong_clip_shapes_raise() -> None:
    model = torch.nn.Identity()
    with pytest.raises(ValueError, match=r"\(N, 3, 13, S, S\).*\(1, 3, 12, 32, 32\).*13-frame clips"):
        hv.clip_probabilities(model, torch.zeros(1, 3, 12, 32, 32), 13)
    with pytest.raises(ValueError, match=r"\(N, 3, 8, S, S\)"):
        hv.clip_probabilities(model, torch.zeros(1, 8, 3, 32, 32), 8)
    with pytest.raises(ValueError, match=r"shape \(T, H, W, 3\)"):
        hv.preprocess_clip(np.zeros((8, 32, 32), np.uint8), 32, 32)


# ------------------------------------------------------------------------------------------------- weights


def test_pytorchvideo_missing_weights_names_official_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(hv.WEIGHTS_ENV, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    frames = np.zeros((80, 40, 40, 3), np.uint8)
    with pytest.raises(MissingWeightsError) as info:
        hv.PyTorchVideoScorer().score_frames(frames)
    message = str(info.value)
    assert "X3D_S.pyth" in message and hv.WEIGHTS_ENV in message
    assert str(tmp_path / "torch" / "hub" / "checkpoints") in message
    assert "model_zoo/kinetics/X3D_S.pyth" in message
    with pytest.raises(MissingWeightsError, match=r"SLOW_8x8_R50\.pyth not found"):
        hv.PyTorchVideoScorer(hv.Config(model="slow_r50")).score_frames(frames)


def test_pytorchvideo_without_the_extra_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    weights = tmp_path / "X3D_S.pyth"
    weights.write_bytes(b"never read")
    monkeypatch.setitem(sys.modules, "torchvision.transforms", None)  # as in an install without torchvision
    with pytest.raises(ImportError) as info:
        hv.PyTorchVideoScorer(hv.Config(weights=weights)).score_frames(np.zeros((80, 40, 40, 3), np.uint8))
    message = str(info.value)
    assert "pip install -e '.[video]'" in message and TORCH_PAIR in message and "'video-pytorchvideo'" in message


# ------------------------------------------------------------------------------------------------- models


@pytest.fixture(scope="module")
def hub() -> Any:
    pytest.importorskip("torchvision")
    if not _has("pytorchvideo"):
        pytest.skip("pytorchvideo is not installed")
    return hv.import_hub()


def _randomise_batch_norm(model: torch.nn.Module) -> torch.nn.Module:
    """Non-trivial running statistics, so that loading them shows in the outputs."""
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm3d):
            assert m.running_mean is not None and m.running_var is not None
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 2.0)
    return model.eval()


def test_x3d_checkpoint_reproduces_the_original_network(hub: Any, tmp_path: Path) -> None:
    """At X3D-XS's training crop (160) global pooling is its fixed pool: the unmodified network is the reference."""
    torch.manual_seed(0)
    original = _randomise_batch_norm(hub.x3d_xs(pretrained=False))  # head ends with a softmax
    path = tmp_path / "X3D_XS.pyth"
    torch.save({"model_state": original.state_dict()}, path)  # the model zoo's layout
    scorer = hv.PyTorchVideoScorer(hv.Config(model="x3d_xs", weights=path, side_size=160, crop_size=160, fps=30.0))
    rng = np.random.default_rng(2)
    frames = rng.integers(0, 256, (96, 160, 200, 3), dtype=np.uint8)  # 2 windows of 48 frames
    got = scorer.score_frames(frames)
    index = hv.clip_frame_indices(96, hv.MODELS["x3d_xs"], 30.0)
    np.testing.assert_array_equal(index, [[0, 15, 31, 47], [48, 63, 79, 95]])  # long(linspace(0, 47, 4))
    x = torch.from_numpy(np.stack([hv.preprocess_clip(frames[i], 160, 160) for i in index]))
    with torch.no_grad():
        reference = original(x)  # (2, 400) probabilities
    np.testing.assert_allclose(reference.sum(1).numpy(), [1.0, 1.0], atol=1e-5)
    probs = hv.clip_probabilities(scorer.model, x, 4)
    np.testing.assert_allclose(probs.numpy(), reference.numpy(), atol=1e-6)
    assert torch.all((probs >= 0) & (probs <= 1)) and torch.allclose(probs.sum(1), torch.ones(2), atol=1e-5)
    np.testing.assert_allclose(got, reference[:, [378, 192, 168]].sum(1).numpy(), atol=1e-6)
    assert scorer.weights_path == path and "X3D_XS.pyth" in scorer.label


def test_other_crops_and_sequence_frame_rate(hub: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(1)
    original = _randomise_batch_norm(hub.x3d_xs(pretrained=False))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    torch.save({"model_state": original.state_dict()}, tmp_path / "hub" / "checkpoints" / "X3D_XS.pyth")
    scorer = hv.PyTorchVideoScorer(hv.Config(model="x3d_xs", side_size=48, crop_size=32, targets=("jogging",)))
    frames = np.random.default_rng(3).integers(0, 256, (40, 48, 64, 3), dtype=np.uint8)
    seq = GaitSequence("001", "nm-01", 90, np.zeros((40, 48, 64), bool), frames, fps=10.0)
    result = scorer.score(seq)  # window round(48 * 10 / 30) = 16 frames: 2 clips
    assert result.n == 2 and scorer.weights_path == tmp_path / "hub" / "checkpoints" / "X3D_XS.pyth"
    assert scorer.score_frames(frames).shape == (1,)  # config fps 25: window 40 -> 1 clip
    index = hv.clip_frame_indices(40, scorer.spec, 10.0)
    x = torch.from_numpy(np.stack([hv.preprocess_clip(frames[i], 48, 32) for i in index]))
    probs = hv.clip_probabilities(scorer.model, x, 4)
    np.testing.assert_allclose(result.per_item, probs[:, 168].double().numpy(), atol=1e-7)
    np.testing.assert_allclose(probs.sum(1).numpy(), [1.0, 1.0], atol=1e-5)


def test_slow_r50_logits_get_one_softmax(hub: Any, tmp_path: Path) -> None:
    """Slow's head returns logits; the reference swaps its pool for global pooling by hand."""
    torch.manual_seed(2)
    original: Any = _randomise_batch_norm(hub.slow_r50(pretrained=False))
    path = tmp_path / "SLOW_8x8_R50.pyth"
    torch.save({"model_state": original.state_dict(), "epoch": 196}, path)
    original.blocks[5].pool = torch.nn.AdaptiveAvgPool3d(1)
    scorer = hv.PyTorchVideoScorer(hv.Config(model="slow_r50", weights=path, side_size=64, crop_size=64))
    x = torch.randn(1, 3, 8, 64, 64)
    with torch.no_grad():
        reference = torch.softmax(original(x), dim=1)
    np.testing.assert_allclose(hv.clip_probabilities(scorer.model, x, 8).numpy(), reference.numpy(), atol=1e-6)


def test_checkpoint_format_errors(hub: Any, tmp_path: Path) -> None:
    torch.manual_seed(0)
    state = hub.x3d_xs(pretrained=False).state_dict()
    torch.save({"state_dict": state}, tmp_path / "wrong.pyth")
    with pytest.raises(CheckpointMismatchError, match=r"no 'model_state' dict.*\['state_dict'\]"):
        hv.load_hub_checkpoint(hv.build_model("x3d_xs"), tmp_path / "wrong.pyth")
    del state["blocks.5.proj.weight"]
    torch.save({"model_state": state}, tmp_path / "short.pyth")
    with pytest.raises(CheckpointMismatchError, match=r"fit the Net network: .*Missing.*blocks\.5\.proj\.weight"):
        hv.load_hub_checkpoint(hv.build_model("x3d_xs"), tmp_path / "short.pyth")
