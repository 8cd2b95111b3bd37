"""Naturalness scorers: the HOG frame scorer and the 3D ResNeXt video scorer (with tiny networks and checkpoints)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import torch

from benchmark.registry import SCORERS, load_plugin_declarations
from benchmark.scorers.base import MissingWeightsError, SequenceScore
from benchmark.scorers.hog import Config as HOGConfig
from benchmark.scorers.hog import HOGScorer, best_margin, detector_view, logistic, person_box
from benchmark.scorers.resnext import (
    HMDB51_CLASSES,
    MEAN_RGB,
    WEIGHTS_ENV,
    WEIGHTS_FILE,
    CheckpointMismatchError,
    ResNeXt3D,
    ResNeXtScorer,
    clip_indices,
    clip_probabilities,
    count_parameters,
    preprocess_clip,
)
from benchmark.scorers.resnext import Config as ResNeXtConfig
from benchmark.types import GaitSequence

# ------------------------------------------------------------------------------------------------- helpers


def drawn_person(h: int = 200, w: int = 120) -> tuple[np.ndarray, np.ndarray]:
    """A dark stick-figure pedestrian (head, torso, arms, legs), 124 px tall, on a light wall.

    Returns RGB ``uint8 (h, w, 3)`` and its silhouette ``bool (h, w)``.
    """
    mask = np.zeros((h, w), np.uint8)
    cx, top = w // 2, (h - 128) // 2
    cv2.ellipse(mask, (cx, top + 9), (7, 9), 0, 0, 360, 1, -1)  # head
    cv2.rectangle(mask, (cx - 3, top + 17), (cx + 3, top + 22), 1, -1)  # neck
    torso = np.array([[cx - 14, top + 22], [cx + 14, top + 22], [cx + 11, top + 68], [cx - 11, top + 68]], np.int32)
    cv2.fillConvexPoly(mask, torso, 1)
    for s in (-1, 1):
        cv2.line(mask, (cx + s * 13, top + 25), (cx + s * 17, top + 64), 1, 6)  # arms
        cv2.line(mask, (cx + s * 6, top + 66), (cx + s * 10, top + 124), 1, 9)  # legs
    sil = mask.astype(bool)
    frame = np.empty((h, w, 3), np.uint8)
    frame[:] = (170, 170, 160)
    frame[sil] = (40, 40, 60)
    return frame, sil


def sequence(frames: np.ndarray | None, silhouettes: np.ndarray) -> GaitSequence:
    return GaitSequence("007", "nm-01", 90, silhouettes, frames)


TINY: dict[str, Any] = {"layers": (1, 1, 1, 1), "cardinality": 2, "group_width": 2, "stem_channels": 8}


def tiny_model(num_classes: int = 51, seed: int = 0) -> ResNeXt3D:
    torch.manual_seed(seed)
    model = ResNeXt3D(TINY["layers"], num_classes, TINY["cardinality"], TINY["group_width"], TINY["stem_channels"])
    # Non-trivial batch-norm statistics, so that loading them is visible in the outputs.
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm3d):
            assert m.running_mean is not None and m.running_var is not None
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 2.0)
    return model.eval()


def save_hara_checkpoint(model: torch.nn.Module, path: Path, **changes: torch.Tensor | None) -> Path:
    """Save as 3D-ResNets-PyTorch does: DataParallel keys under 'state_dict', plus epoch/arch/optimizer."""
    state = {f"module.{k}": v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    for key, value in changes.items():
        if value is None:
            del state[f"module.{key}"]
        else:
            state[f"module.{key}"] = value
    torch.save({"epoch": 200, "arch": "resnext-101", "state_dict": state, "optimizer": {"state": {}}}, path)
    return path


def tiny_scorer(path: Path, **config: Any) -> ResNeXtScorer:
    return ResNeXtScorer(ResNeXtConfig(weights=path, **TINY, **config))


# ------------------------------------------------------------------------------------------------- base


def test_sequence_score_is_the_mean_and_validates() -> None:
    s = SequenceScore.of(np.array([0.25, 0.5, 1.0]))
    assert s.value == pytest.approx(0.5833333333333334)  # (0.25 + 0.5 + 1) / 3
    assert s.n == 3 and s.per_item.dtype == np.float64
    with pytest.raises(ValueError, match=r"\[0, 1\].*1\.5"):
        SequenceScore.of(np.array([0.5, 1.5]))
    with pytest.raises(ValueError, match="n must equal"):
        SequenceScore(0.5, np.array([0.5]), 2)


def test_registry_declares_both_scorers_with_metadata() -> None:
    load_plugin_declarations()
    assert SCORERS.entry("frame-hog").meta == {"level": "frame", "offline": True}
    assert SCORERS.entry("video-resnext101").meta == {"level": "video", "offline": False}
    assert SCORERS.get("frame-hog") is HOGScorer
    assert SCORERS.get("video-resnext101") is ResNeXtScorer
    assert HOGScorer.name == "frame-hog" and ResNeXtScorer.name == "video-resnext101"


# ------------------------------------------------------------------------------------------------- HOG


def test_logistic_on_hand_computed_margins() -> None:
    got = logistic(np.array([0.0, 0.5, -1.0, -2.0]), m0=0.0, s=0.5)
    # 1/(1+e^0), 1/(1+e^-1), 1/(1+e^2), 1/(1+e^4)
    np.testing.assert_allclose(got, [0.5, 0.7310585786300049, 0.11920292202211755, 0.01798620996209156], rtol=1e-12)
    assert float(logistic(2.0, m0=1.0, s=2.0)) == pytest.approx(0.6224593312018546, rel=1e-12)  # 1/(1+e^-0.5)
    assert float(logistic(-1000.0)) == 0.0 and float(logistic(1000.0)) == 1.0  # no overflow warning
    with pytest.raises(ValueError, match="s must be positive, got 0"):
        logistic(1.0, s=0.0)


def test_person_box_literal() -> None:
    mask = np.zeros((6, 5), bool)
    mask[1, 2] = mask[4, 3] = True
    assert person_box(mask) == (1, 2, 5, 4)
    assert person_box(np.zeros((6, 5), bool)) is None


def test_detector_view_scales_the_box_and_replicates_the_border() -> None:
    # Rows hold their own index: a vertical ramp, constant along x.
    frame = np.repeat(np.arange(100, dtype=np.uint8)[:, None, None], 50, axis=1).repeat(3, axis=2)  # (100, 50, 3)
    view = detector_view(frame, (0, 10, 60, 40), person_height=120, pad=20)
    # scale 120/60 = 2; height 120 + 2*20; width max(30*2, 120/2) + 2*20 = 100
    assert view.shape == (160, 100, 3)
    # The window starts 10 frame rows above the frame: output rows 0..19 sample frame rows <= 0 (replicated).
    assert (view[:18] == 0).all()
    # Bilinear with half-pixel centres: output row y samples window row (y + 0.5) / 2 - 0.5, and window row 0
    # is frame row -10 (the 80-row window is centred on the box's rows 0..60), so output row 60 samples 19.75.
    assert abs(int(view[60, 50, 0]) - 19.75) <= 1


def test_blank_frame_margin_is_the_svm_bias() -> None:
    detector = getattr(cv2, "HOGDescriptor_getDefaultPeopleDetector")()  # noqa: B009 (absent from cv2's stubs)
    bias = float(np.asarray(detector).ravel()[-1])  # -6.6657915 in OpenCV 4.x
    blank = np.full((160, 100, 3), 128, np.uint8)  # no gradient: every window's margin is w.0 + b = b
    assert best_margin(blank, floor=-10.0) == pytest.approx(bias, abs=1e-5)
    assert best_margin(blank, floor=-2.0) == -2.0  # nothing above the floor
    assert best_margin(blank[:100], floor=-2.0) == -2.0  # smaller than the 64x128 window


def test_hog_scores_a_drawn_person_above_blank_and_scrambled_frames() -> None:
    person, sil = drawn_person()
    rng = np.random.default_rng(0)
    scrambled = person.reshape(-1, 3)[rng.permutation(person.shape[0] * person.shape[1])].reshape(person.shape)
    blank = np.full_like(person, 170)
    frames = np.stack([person, scrambled, blank])
    sils = np.stack([sil, sil, sil])
    scorer = HOGScorer()
    margins = scorer.margins(frames, sils)
    # Measured with OpenCV 4.14: person +3.87, scrambled -1.36, blank -6.67 (the bias), here clipped to the floor.
    assert margins[0] > 1.5
    assert margins[1] < 0.0
    assert margins[2] == -2.0
    result = scorer.score(sequence(frames, sils))
    np.testing.assert_allclose(result.per_item, logistic(margins), rtol=1e-12)
    assert result.per_item[0] > 0.95 > 0.5 > result.per_item[1] > result.per_item[2]
    assert result.per_item[2] == pytest.approx(0.01798620996209156)  # 1/(1+e^4): the floor
    assert result.n == 3 and result.value == pytest.approx(result.per_item.mean())
    assert "HOG" in scorer.label and "m-0" in scorer.label


def test_hog_roi_frame_and_stride() -> None:
    person, sil = drawn_person()
    frames = np.stack([person] * 5)
    scorer = HOGScorer(HOGConfig(roi="frame", stride=2))
    # The figure fills 124 of 200 rows: with the whole frame scaled to 120 px it is 74 px, below the
    # detector's 96 px persons, so this roi is only for videos cropped to the walker.
    crop = frames[:, 38:162, 30:90]  # the figure's own box, as a cropped video would hold it
    scores = scorer.score_frames(crop)
    assert scores.shape == (3,)  # frames 0, 2, 4
    assert (scores > 0.9).all()
    with pytest.raises(ValueError, match="needs the silhouettes"):
        HOGScorer().score_frames(frames)


def test_hog_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="s must be positive, got -1"):
        HOGConfig(s=-1.0)
    with pytest.raises(ValueError, match="roi must be one of silhouette, frame, got 'box'"):
        HOGConfig(roi="box")
    with pytest.raises(ValueError, match="win_stride must be a positive multiple of 8, got 12"):
        HOGConfig(win_stride=12)


def test_scorers_need_colour_frames() -> None:
    _, sil = drawn_person()
    seq = sequence(None, sil[None])
    with pytest.raises(ValueError, match="007-nm-01-090 has silhouettes only"):
        HOGScorer().score(seq)
    with pytest.raises(ValueError, match="007-nm-01-090 has silhouettes only"):
        ResNeXtScorer().score(seq)  # before looking for weights


# ------------------------------------------------------------------------------------------------- ResNeXt


def test_hmdb51_labels_and_walk_index() -> None:
    assert len(HMDB51_CLASSES) == 51 and len(set(HMDB51_CLASSES)) == 51
    assert HMDB51_CLASSES.index("walk") == 49
    assert HMDB51_CLASSES[0] == "brush_hair" and HMDB51_CLASSES[-1] == "wave"
    assert ResNeXtScorer().target_index == 49


def test_clip_indices_literal() -> None:
    np.testing.assert_array_equal(clip_indices(40), [list(range(16)), list(range(16, 32))])  # 32..39 dropped
    np.testing.assert_array_equal(clip_indices(16), [list(range(16))])
    np.testing.assert_array_equal(clip_indices(5), [[0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0]])
    with pytest.raises(ValueError, match="at least one frame, got 0"):
        clip_indices(0)


def test_preprocess_constant_frame_is_value_minus_mean() -> None:
    clip = np.full((16, 90, 160, 3), 200, np.uint8)
    x = preprocess_clip(clip)
    assert x.shape == (1, 3, 16, 112, 112) and x.dtype == torch.float32
    # 200 - [114.7748, 107.7354, 99.4750]
    for c, expected in enumerate([85.2252, 92.2646, 100.525]):
        np.testing.assert_allclose(x[0, c].numpy(), expected, atol=1e-4)


@pytest.mark.parametrize("landscape", [True, False])
def test_preprocess_resizes_shorter_side_and_centre_crops(landscape: bool) -> None:
    rng = np.random.default_rng(1)
    small = rng.integers(0, 256, (16, 112, 224, 3), dtype=np.uint8)  # the expected 112x224 resize
    if not landscape:
        small = small.transpose(0, 2, 1, 3).copy()  # 224x112
    # A 2:1 frame twice that size made of 2x2 blocks: INTER_AREA halving gives ``small`` exactly.
    big = small.repeat(2, axis=1).repeat(2, axis=2)  # (16, 224, 448, 3) or (16, 448, 224, 3)
    x = preprocess_clip(big)[0].permute(1, 2, 3, 0).numpy()  # (16, 112, 112, 3)
    # centre crop of the 224-long side: offset round((224 - 112) / 2) = 56
    crop = small[:, :, 56:168] if landscape else small[:, 56:168, :]
    np.testing.assert_allclose(x, crop.astype(np.float32) - np.asarray(MEAN_RGB, np.float32), atol=1e-4)
    # one pixel by hand: output (t=3, y=0, x=0) is small[3, 0, 56] (landscape) or small[3, 56, 0]
    src = small[3, 0, 56] if landscape else small[3, 56, 0]
    assert x[3, 0, 0, 1] == pytest.approx(float(src[1]) - 107.7354, abs=1e-4)


def test_wrong_clip_length_raises() -> None:
    with pytest.raises(ValueError, match="must have 16 frames, got 15"):
        preprocess_clip(np.zeros((15, 112, 112, 3), np.uint8))
    with pytest.raises(ValueError, match=r"shape \(N, 3, 16, H, W\), got \(1, 3, 8, 112, 112\)"):
        clip_probabilities(tiny_model(), torch.zeros(1, 3, 8, 112, 112))


def test_checkpoint_roundtrip_strips_prefix_and_scores(tmp_path: Path) -> None:
    model = tiny_model()
    path = save_hara_checkpoint(model, tmp_path / "tiny.pth")
    assert all(k.startswith("module.") for k in torch.load(path, weights_only=True)["state_dict"])
    scorer = tiny_scorer(path)
    loaded = scorer.model.state_dict()
    for key, value in model.state_dict().items():
        if not key.endswith("num_batches_tracked"):
            torch.testing.assert_close(loaded[key], value, rtol=0, atol=0, msg=key)

    rng = np.random.default_rng(2)
    frames = rng.integers(0, 256, (40, 60, 80, 3), dtype=np.uint8)
    result = scorer.score(sequence(frames, np.zeros((40, 60, 80), bool)))
    assert result.n == 2  # clips 0..15 and 16..31; 32..39 dropped

    # Independent path: the original model on each clip, softmax by hand.
    with torch.no_grad():
        for i, start in enumerate((0, 16)):
            logits = model(preprocess_clip(frames[start : start + 16]))[0].double()
            probs = torch.exp(logits - logits.max()) / torch.exp(logits - logits.max()).sum()
            assert float(probs.sum()) == pytest.approx(1.0)
            assert result.per_item[i] == pytest.approx(float(probs[49]), abs=1e-6)
    assert 0.0 <= result.value <= 1.0 and result.value == pytest.approx(result.per_item.mean())
    p = clip_probabilities(scorer.model, preprocess_clip(frames[:16]))
    assert p.shape == (1, 51) and float(p.sum()) == pytest.approx(1.0, abs=1e-5) and (p >= 0).all()
    assert scorer.label == "3D ResNeXt-14 P('walk') over 51 classes, 16-frame clips (tiny.pth)"


def test_short_sequence_is_looped_into_one_clip(tmp_path: Path) -> None:
    model = tiny_model()
    scorer = tiny_scorer(save_hara_checkpoint(model, tmp_path / "tiny.pth"))
    frames = np.random.default_rng(3).integers(0, 256, (5, 48, 64, 3), dtype=np.uint8)
    got = scorer.score_frames(frames)
    looped = frames[[0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0]]
    expected = clip_probabilities(model, preprocess_clip(looped))[0, 49].item()
    np.testing.assert_allclose(got, [expected], atol=1e-6)


def test_wrong_shaped_checkpoint_names_the_key(tmp_path: Path) -> None:
    model = tiny_model()
    bad = save_hara_checkpoint(model, tmp_path / "k400.pth", **{"fc.weight": torch.zeros(400, 64)})
    with pytest.raises(CheckpointMismatchError, match=r"'fc.weight' \(400, 64\) vs \(51, 64\).*label file"):
        _ = tiny_scorer(bad).model
    missing = save_hara_checkpoint(model, tmp_path / "missing.pth", **{"layer2.0.conv2.weight": None})
    with pytest.raises(CheckpointMismatchError, match="missing 'layer2.0.conv2.weight'"):
        _ = tiny_scorer(missing).model
    other = tmp_path / "other.pth"
    torch.save({"model": {}}, other)
    with pytest.raises(CheckpointMismatchError, match="no 'state_dict'"):
        _ = tiny_scorer(other).model


def test_label_file_and_target(tmp_path: Path) -> None:
    labels = tmp_path / "labels.txt"
    labels.write_text("abseiling\nwalking the dog\n\nzumba\n", encoding="utf-8")
    model = tiny_model(num_classes=3)
    path = save_hara_checkpoint(model, tmp_path / "k.pth")
    scorer = tiny_scorer(path, labels=labels, target="walking the dog")
    assert scorer.classes == ("abseiling", "walking the dog", "zumba") and scorer.target_index == 1
    frames = np.full((16, 112, 112, 3), 90, np.uint8)
    expected = clip_probabilities(model, preprocess_clip(frames))[0, 1].item()
    np.testing.assert_allclose(scorer.score_frames(frames), [expected], atol=1e-6)
    with pytest.raises(ValueError, match="target 'walk' is not among the 3 classes"):
        tiny_scorer(path, labels=labels)
    with pytest.raises(ValueError, match="target 'walking' is not an HMDB-51 class"):
        ResNeXtConfig(target="walking")


def test_missing_weights_error_names_file_key_and_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    monkeypatch.setenv("GAITBENCH_CACHE", str(tmp_path / "cache"))
    frames = np.zeros((16, 32, 32, 3), np.uint8)
    with pytest.raises(MissingWeightsError) as info:
        ResNeXtScorer().score_frames(frames)
    message = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    assert WEIGHTS_FILE in message and WEIGHTS_ENV in message and "'weights'" in message
    assert str(tmp_path / "cache" / "weights") in message
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path / "nowhere.pth"))
    with pytest.raises(MissingWeightsError, match=r"nowhere\.pth does not exist"):
        ResNeXtScorer().score_frames(frames)


def test_weights_from_environment_and_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = tiny_model()
    monkeypatch.setenv("GAITBENCH_CACHE", str(tmp_path))
    (tmp_path / "weights").mkdir()
    save_hara_checkpoint(model, tmp_path / "weights" / WEIGHTS_FILE)
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    scorer = ResNeXtScorer(ResNeXtConfig(**TINY))
    assert scorer.model is not None and scorer.weights_path == tmp_path / "weights" / WEIGHTS_FILE
    monkeypatch.setenv(WEIGHTS_ENV, str(save_hara_checkpoint(model, tmp_path / "env.pth")))
    scorer = ResNeXtScorer(ResNeXtConfig(**TINY))
    assert scorer.model is not None and scorer.weights_path == tmp_path / "env.pth"


def _resnext_parameters(layers: tuple[int, ...], classes: int, card: int = 32, width: int = 4, stem: int = 64) -> int:
    """Parameter count of Hara's 3D ResNeXt from its layer arithmetic (independent of the nn.Module code)."""
    total = 3 * stem * 7**3 + 2 * stem  # stem conv (no bias) + BN scale/shift
    cin = stem
    for i, blocks in enumerate(layers):
        mid = card * width * 2**i
        out = 2 * mid
        for b in range(blocks):
            total += cin * mid + 2 * mid  # 1x1x1 reduce + BN
            total += mid * (mid // card) * 27 + 2 * mid  # grouped 3x3x3 + BN
            total += mid * out + 2 * out  # 1x1x1 expand + BN
            if b == 0:
                total += cin * out + 2 * out  # type-B projection shortcut + BN
            cin = out
    return total + cin * classes + classes  # fc


def test_resnext101_parameter_count() -> None:
    expected = _resnext_parameters((3, 4, 23, 3), 51)
    assert count_parameters((3, 4, 23, 3), 51) == expected == 47_625_715
    # Hara et al. (CVPR 2018, Table 2) list 48.3M for ResNeXt-101 on Kinetics (400 classes).
    assert count_parameters((3, 4, 23, 3), 400) == _resnext_parameters((3, 4, 23, 3), 400)
    assert math.isclose(count_parameters((3, 4, 23, 3), 400), 48.3e6, rel_tol=0.01)
