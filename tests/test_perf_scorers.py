"""``gaitbench perf``'s scorer cases: clip arithmetic, random-weight builds, skips and torch threads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmark.cli import perf


def test_whole_clip_frames_rounds_up_to_whole_clips() -> None:
    # 16-frame clips (video-synth, video-resnext101): 48 frames are 3 clips; 17 need a second clip.
    assert perf.whole_clip_frames(16, 48) == 48
    assert perf.whole_clip_frames(16, 17) == 32
    assert perf.whole_clip_frames(16, 16) == 16
    # x3d_s at 25 frames/s reads windows of round(13 * 6 * 25 / 30) = 65 frames; slow_r50 round(8 * 8 * 25 / 30) = 53.
    assert perf.whole_clip_frames(65, 48) == 65
    assert perf.whole_clip_frames(53, 48) == 53
    assert perf.whole_clip_frames(53, 54) == 106
    with pytest.raises(ValueError, match="window and at_least must be >= 1, got 0 and 48"):
        perf.whole_clip_frames(0, 48)


def test_every_scorer_case_names_a_registered_scorer() -> None:
    from benchmark.registry import SCORERS, load_plugin_declarations

    load_plugin_declarations()
    assert {scorer for _, scorer, _, _ in perf.SCORER_CASES} == {
        "frame-hog", "frame-yolo", "video-synth", "video-resnext101", "video-pytorchvideo"
    }
    assert {scorer for _, scorer, _, _ in perf.SCORER_CASES} <= set(SCORERS.names())


class _Recorder:
    """Stands in for perf's ``case``: runs ``fn`` twice (warm-up and one timed run) and keeps the arguments."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, float, str]] = []

    def __call__(self, name: str, fn: Any, items: int, target: float, note: str = "") -> None:
        fn()
        fn()
        self.calls.append((name, items, target, note))


def test_missing_extra_is_a_skip_line_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    def build(tmp: Path) -> perf.Timed:
        raise ImportError("no module named ultralytics")

    case = _Recorder()
    perf._time_scorer(case, "scorer frame-yolo", "yolo", build)
    assert case.calls == []
    assert capsys.readouterr().out == (
        f"{'scorer frame-yolo':<44} skipped: needs the 'yolo' extra "
        "(pip install torch==2.14.1 torchvision==0.29.1 && pip install -e '.[yolo]')\n"
    )


def test_synth_without_weights_times_the_default_network_with_random_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from benchmark.scorers import action

    monkeypatch.setenv("GAITBENCH_CACHE", str(tmp_path / "cache"))  # no synth-action.npz there
    monkeypatch.delenv("GAITBENCH_ACTION_WEIGHTS", raising=False)
    monkeypatch.setattr(action, "BUNDLED_WEIGHTS", tmp_path / "absent.pt", raising=False)  # nor a shipped model
    timed = perf._synth(tmp_path)
    # The default network of `gaitbench action-model` (width 32, 64 px crop). Its parameters, by hand:
    # Conv3d 27 * (3*32 + 32*64 + 64*128 + 128*256) = 1,163,808; BatchNorm 2 * (32+64+128+256) = 960;
    # Linear 256 * 5 + 5 = 1,285; total 1,166,053.
    assert timed.scorer.meta["width"] == 32 and timed.scorer.meta["crop"] == 64
    assert sum(p.numel() for p in timed.scorer.model.parameters()) == 1_166_053
    assert timed.frames == 48
    assert timed.note == "width 32, 3 clips of 16x64x64; random weights, timing only"


def test_synth_with_weights_on_disk_uses_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmark.scorers.action import ACTIONS, ActionNet, save_action_model

    path = save_action_model(tmp_path / "trained.pt", ActionNet(len(ACTIONS), 8),
                             {"classes": list(ACTIONS), "crop": 32, "width": 8})
    monkeypatch.setenv("GAITBENCH_ACTION_WEIGHTS", str(path))
    timed = perf._synth(tmp_path / "unused")
    assert timed.note == "width 8, 3 clips of 16x32x32; weights trained.pt"


def test_threads_changed_by_a_scorer_are_reset_before_each_timed_run(capsys: pytest.CaptureFixture[str]) -> None:
    torch = pytest.importorskip("torch")
    saved = torch.get_num_threads()
    torch.set_num_threads(2)
    seen: list[int] = []

    class LowersThreads:  # as ultralytics does on its first predict
        def score_frames(self, frames: np.ndarray, silhouettes: np.ndarray | None = None) -> np.ndarray:
            seen.append(torch.get_num_threads())
            torch.set_num_threads(1)
            return np.zeros(1)

    try:
        case = _Recorder()
        perf._time_scorer(case, "scorer fake", "", lambda tmp: perf.Timed(LowersThreads(), 16, "fake"))
        after = torch.get_num_threads()
    finally:
        torch.set_num_threads(saved)
    assert seen == [2, 2] and after == 2
    assert case.calls == [("scorer fake", 16, 25.0, "frames of video; fake")]
    assert capsys.readouterr().out == (
        f"{'':<44} (the scorer's library set torch to 1 threads; timed with the default 2, as were the cases "
        "after it)\n"
    )
