"""ST-GAN, its ablation and the noise-gait baseline: contour form, losses, training, resume, outputs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from baselines.contour_gan import discriminator_loss, generator_adversarial_loss, l1
from baselines.contour_space import (
    POINTS,
    from_network,
    load_contours,
    resample_closed,
    silhouettes_to_network,
    to_network,
)
from baselines.noise_gait import NoiseGait, NoiseGaitConfig, Pool
from baselines.stgan import STGAN, STGANConfig, STGANNoGN, STGANPaper, STGANPaperConfig
from benchmark.anonymizer import load_anonymizer
from benchmark.api import CheckpointError
from benchmark.contours import encode
from benchmark.data.casia import CasiaB
from benchmark.training import FitOptions, TrainSource
from benchmark.types import GaitSequence
from tests.conftest import write_casia_tree

TINY = dict(
    latent=8, gn_hidden=16, gn_epochs=2, gn_batch=16, gn_frame_step=1, channels=(4, 8, 8), ds_channels=(4, 4),
    lstm_hidden=4, clip=4, batch=2, epochs=3, lr=2e-3, gn_basis=4,
)
TINY_NG = dict(channels=(4, 8, 8), ds_channels=(4, 4), clip=4, batch=2, epochs=3, lr=2e-3)
OPTS = FitOptions(device="cpu", progress=False)


# ------------------------------------------------------------------------------------------ contour form


def test_resample_closed_square_by_hand() -> None:
    # Square of side 2 (perimeter 8) from (0, 0): 8 points 1 apart along the edges, going (0,0)->(0,2)->(2,2)->(2,0).
    square = np.array([[0, 0], [0, 2], [2, 2], [2, 0]], float)
    got = resample_closed(square, 8)
    want = [[0, 0], [0, 1], [0, 2], [1, 2], [2, 2], [2, 1], [2, 0], [1, 0]]
    np.testing.assert_allclose(got, want, atol=1e-12)
    np.testing.assert_array_equal(resample_closed(np.array([[3.0, 4.0]]), 3), [[3, 4]] * 3)
    with pytest.raises(ValueError, match=r"shape \(m, 2\)"):
        resample_closed(np.zeros((0, 2)))


def test_to_network_frame_and_round_trip() -> None:
    masks = np.zeros((2, 40, 30), bool)
    masks[0, 10:30, 5:15] = True  # box rows 10..29, cols 5..14: contour box x 5..14, y 10..29
    vectors, counts = encode(masks)
    shapes, frame, valid = to_network(vectors, counts)
    assert shapes.shape == (2, 2, POINTS) and valid.tolist() == [True, False]
    np.testing.assert_allclose(frame[0], [9.5, 19.5, 19.0])  # centre of the box, height 29 - 10
    np.testing.assert_array_equal(frame[1], 0)
    assert shapes[0, 1].min() == pytest.approx(-0.5) and shapes[0, 1].max() == pytest.approx(0.5)
    back_vec, back_counts = from_network(shapes, frame, valid)
    assert back_counts.tolist() == [POINTS, 0]
    pts = back_vec[0].reshape(-1, 2)
    assert pts[:, 0].min() == pytest.approx(5) and pts[:, 0].max() == pytest.approx(14)
    # Decoding gives the original rectangle back exactly.
    sil_shapes, sil_frame, sil_valid = silhouettes_to_network(masks)
    from baselines.contour_space import network_to_silhouettes

    np.testing.assert_array_equal(network_to_silhouettes(sil_shapes, sil_frame, sil_valid, (40, 30)), masks)


# ------------------------------------------------------------------------------------------ losses


def _sig(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def test_losses_by_hand() -> None:
    real, fake = torch.tensor([0.0, 2.0]), torch.tensor([-1.0, 1.0])
    # minus Eq. 2: -(mean log D(real) + mean log(1 - D(fake)))
    want = -((math.log(0.5) + math.log(_sig(2))) / 2 + (math.log(1 - _sig(-1)) + math.log(1 - _sig(1))) / 2)
    assert float(discriminator_loss(real, fake)) == pytest.approx(want, rel=1e-6)
    # Eq. 4 as written: mean log(1 - D(G)); the non-saturating form: -mean log D(G)
    assert float(generator_adversarial_loss(fake, "paper")) == pytest.approx(
        (math.log(1 - _sig(-1)) + math.log(1 - _sig(1))) / 2, rel=1e-6)
    assert float(generator_adversarial_loss(fake, "non-saturating")) == pytest.approx(
        -(math.log(_sig(-1)) + math.log(_sig(1))) / 2, rel=1e-6)
    with pytest.raises(ValueError, match="gan_loss"):
        generator_adversarial_loss(fake, "wgan")
    assert float(l1(torch.tensor([1.0, -2.0]), torch.tensor([0.5, 1.0]))) == pytest.approx(1.75)


def test_eq8_combines_the_terms(monkeypatch: pytest.MonkeyPatch) -> None:
    """One STGANTask step: the logged G equals S + T + rec + alpha * per (Eq. 8) with the logged parts."""
    from baselines.contour_space import ContourSet
    from baselines.stgan import GNTask, STGANTask

    rng = np.random.default_rng(0)
    data = ContourSet(
        shapes=rng.normal(0, 0.2, (8, 2, POINTS)).astype(np.float16), valid=np.ones(8, bool),
        offsets=np.array([0, 4, 8]), subjects=np.array(["001", "002"]), conditions=np.array(["nm-01"] * 2),
        views=np.array([90, 90]),
    )
    model = STGANPaper(STGANPaperConfig(**{**TINY, "gn_basis": 0, "alpha": 0.4}))
    gn = GNTask("stgan", model.config, data).modules()["gn"].requires_grad_(False)
    task = STGANTask(model, data, gn)
    mods = task.modules()
    task.optimizers(mods)
    logs = task.step(mods, task.plan(0, np.random.default_rng(1))[0], torch.device("cpu"))
    assert logs["G"] == pytest.approx(logs["S"] + logs["T"] + logs["rec"] + 0.4 * logs["per"], rel=1e-5)
    assert logs["S"] < 0 and logs["T"] < 0  # log(1 - D) of the paper's form


def _step_logs(**config: object) -> dict[str, float]:
    from baselines.contour_space import ContourSet
    from baselines.stgan import GNTask, STGANTask

    rng = np.random.default_rng(0)
    data = ContourSet(
        shapes=rng.normal(0, 0.2, (8, 2, POINTS)).astype(np.float16), valid=np.ones(8, bool),
        offsets=np.array([0, 4, 8]), subjects=np.array(["001", "002"]), conditions=np.array(["nm-01"] * 2),
        views=np.array([90, 90]),
    )
    model = STGAN(STGANConfig(**{**TINY, **config}))
    gn = GNTask("stgan", model.config, data).modules()["gn"].requires_grad_(False)
    task = STGANTask(model, data, gn)
    mods = task.modules()
    task.optimizers(mods)
    return dict(task.step(mods, task.plan(0, np.random.default_rng(1))[0], torch.device("cpu")))


def test_step_logs_diagnostics_and_the_blend_objective() -> None:
    """Each step logs every weighted term's gradient norm on G, the critics' accuracies and how far G moved
    toward the noise; the blend objective's G is the same weighted sum of its (squared) terms."""
    logs = _step_logs(alpha=0.4, objective="blend", content_weight=10.0, residual=True, circular_decoder=True,
                      ds_activation="leaky", harmonics=0)
    assert logs["G"] == pytest.approx(logs["S"] + logs["T"] + 10 * logs["rec"] + 4 * logs["per"], rel=1e-5)
    assert logs["rec"] == pytest.approx(0.0, abs=1e-12)  # a residual G starts as the identity: Y_hat = Y
    paper = _step_logs(alpha=0.4)
    assert paper["rec"] > 0.01 and paper["toward_Z"] != 0  # the paper's G starts anywhere
    assert logs["toward_Z"] == pytest.approx(0.0, abs=1e-6)
    assert logs["grad_rec"] == pytest.approx(0.0, abs=1e-9) and logs["grad_per"] > 0
    assert all(0.0 <= logs[k] <= 1.0 for k in ("acc_DS", "acc_DT"))


def test_blend_optimum_is_the_weighted_mean() -> None:
    """|g - y|^2 + alpha |g - z|^2 is smallest at g = (y + alpha z) / (1 + alpha) (zero gradient there), while the
    paper's L1 form |g - y| + alpha |g - z| is smallest at g = y for every alpha < 1 (a switch, not a dial)."""
    y, z, alpha = torch.tensor([0.0, 1.0]), torch.tensor([2.0, -1.0]), 0.25
    g = ((y + alpha * z) / (1 + alpha)).requires_grad_(True)
    (((g - y) ** 2).sum() + alpha * ((g - z) ** 2).sum()).backward()
    assert g.grad is not None
    np.testing.assert_allclose(g.grad.numpy(), 0.0, atol=1e-7)
    grid = torch.linspace(-3, 3, 6001)
    l1 = (grid - 0.0).abs() + alpha * (grid - 2.0).abs()
    assert float(grid[int(l1.argmin())]) == pytest.approx(0.0, abs=1e-3)


def test_circular_decoder_wraps_around() -> None:
    """CircularUpsample: rolling the input by one point rolls the output by two (the contour is closed), and
    away from the ends it equals the plain padded transposed convolution with the same weights."""
    from baselines.contour_gan import CircularUpsample

    torch.manual_seed(0)
    up = CircularUpsample(3, 2)
    x = torch.randn(2, 3, 10)
    out = up(x)
    assert out.shape == (2, 2, 20)
    torch.testing.assert_close(up(torch.roll(x, 1, -1)), torch.roll(out, 2, -1))
    plain = torch.nn.ConvTranspose1d(3, 2, 4, stride=2, padding=1)
    plain.load_state_dict(up.conv.state_dict())
    torch.testing.assert_close(plain(x)[..., 2:-2], out[..., 2:-2])
    assert not torch.allclose(plain(x)[..., :2], out[..., :2])  # the plain one loses the wrapped neighbour


# ------------------------------------------------------------------------------------------ training


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("stgan") / "casia"
    write_casia_tree(root, subjects=("001", "002", "003", "004", "005"), conditions=("nm-01", "nm-02"),
                     views=(0, 90), frames=10, shape=(48, 36))
    return root


def _source(root: Path) -> TrainSource:
    return TrainSource(root=root, groups={"gn": ["001", "002"], "stgan": ["003", "004"]}, workers=1)


def _seq(root: Path, key: str) -> GaitSequence:
    data = CasiaB(root)
    return data.load(data.ref(key))


def test_load_contours_groups_sequences(world: Path) -> None:
    data = load_contours(world, ["003"], workers=1)
    assert len(data) == 4 and data.lengths.tolist() == [10] * 4
    assert [data.key(s) for s in range(4)] == ["003-nm-01-000", "003-nm-01-090", "003-nm-02-000", "003-nm-02-090"]
    assert data.valid.all() and data.shapes.dtype == np.float16


@pytest.fixture(scope="module")
def trained(world: Path) -> STGAN:
    return STGAN(STGANConfig(**TINY)).fit(_source(world), OPTS)  # type: ignore[return-value]


def test_training_lowers_g_loss_and_changes_silhouettes(world: Path, trained: STGAN) -> None:
    history = trained.training["history"]  # type: ignore[index]
    assert len(history) == 3
    assert history[-1]["rec"] < history[0]["rec"]  # G learns to reconstruct
    seq = _seq(world, "005-nm-02-090")
    out = trained.anonymize(seq, seed=1)
    assert out.silhouettes.dtype == np.bool_ and out.silhouettes.shape == seq.silhouettes.shape
    assert (out.silhouettes != seq.silhouettes).any()
    np.testing.assert_array_equal(out.silhouettes, trained.anonymize(seq, seed=1).silhouettes)  # seeded


def test_training_records_the_subjects_it_read(tmp_path: Path, trained: STGAN) -> None:
    """GN's group and G's group, kept in the checkpoint: a run refuses a model whose subjects meet the test group."""
    assert trained.training["subjects"] == ["001", "002", "003", "004"]  # type: ignore[index]
    assert load_anonymizer(trained.save(tmp_path / "st.npz")).training["subjects"] == ["001", "002", "003", "004"]
    untouched = TrainSource(root=tmp_path, groups={"a": ["007"], "b": ["008"]})
    assert untouched.trained_on() == ["007", "008"]  # nothing handed out: every group counts
    untouched.subjects("b")
    assert untouched.trained_on() == ["008"]


def test_outputs_are_valid_silhouettes(world: Path, trained: STGAN) -> None:
    """Without the original's holes (``keep_holes = False``, the paper's form) decoded outputs are hole-free single
    regions (re-encoding and decoding them changes nothing)."""
    import dataclasses

    from benchmark.contours import decode

    plain = STGAN(dataclasses.replace(trained.config, keep_holes=False))
    plain.generator, plain.gn, plain.training = trained.generator, trained.gn, trained.training
    out = plain.anonymize(_seq(world, "005-nm-01-000"), seed=3).silhouettes
    np.testing.assert_array_equal(decode(*encode(out), out.shape[1:]), out)


def test_checkpoint_round_trip(tmp_path: Path, world: Path, trained: STGAN) -> None:
    path = trained.save(tmp_path / "st.npz")
    back = load_anonymizer(path)
    assert isinstance(back, STGAN) and back.config == trained.config and back.parameters() == "alpha=0.3"
    seq = _seq(world, "005-nm-01-090")
    np.testing.assert_array_equal(back.anonymize(seq, 7).silhouettes, trained.anonymize(seq, 7).silhouettes)


def test_resume_equals_uninterrupted(tmp_path: Path, world: Path) -> None:
    cfg = STGANConfig(**{**TINY, "epochs": 2, "gn_epochs": 1})
    whole = STGAN(cfg).fit(_source(world), FitOptions(device="cpu", progress=False, state_path=tmp_path / "a.state.pt"))
    cut = STGAN(cfg)
    cut.fit(_source(world), FitOptions(device="cpu", progress=False, state_path=tmp_path / "b.state.pt", stop_after=1))
    assert cut.training["finished"] is False  # type: ignore[index]
    resumed = STGAN(cfg).fit(_source(world), FitOptions(device="cpu", progress=False,
                                                         state_path=tmp_path / "b.state.pt"))
    a, _ = whole.state()
    b, _ = resumed.state()
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_nogn_ablation_trains_without_gn(world: Path) -> None:
    model = STGANNoGN(STGANConfig(**{**TINY, "epochs": 1})).fit(_source(world), OPTS)
    arrays, _ = model.state()
    assert not any(k.startswith("gn.") for k in arrays)
    assert "gn" not in model.training  # type: ignore[operator]
    seq = _seq(world, "005-nm-01-000")
    out = model.anonymize(seq)
    assert out.silhouettes.shape == (10, 48, 36)
    # the noise_off control holds for the ablation too: the original is its own noise, and the name says so
    import dataclasses

    assert model.with_inference_options(dataclasses.replace(model.config, noise_off=True)) is model
    assert model.parameters() == "alpha=0.3;noise=off;noise_std=0.1"
    off = STGANNoGN(dataclasses.replace(model.config, noise_off=True, keep_holes=False))  # G's outline alone
    off.generator, off.training = model.generator, model.training
    assert off.parameters() == "alpha=0.3;noise=off;noise_std=0.1"
    shapes, frame, valid = silhouettes_to_network(seq.silhouettes)
    np.testing.assert_array_equal(off._noise(seq, shapes, np.random.default_rng(0)), shapes)
    from baselines.contour_space import network_to_silhouettes

    expected = network_to_silhouettes(off.generate(shapes, shapes), frame, valid, seq.shape)
    np.testing.assert_array_equal(off.anonymize(seq, seed=4).silhouettes, expected)


def test_defaults_are_our_form_and_stgan_paper_is_the_papers(tmp_path: Path) -> None:
    ours, paper = STGANConfig(), STGANPaperConfig()
    assert (ours.objective, ours.residual, ours.circular_decoder, ours.ds_activation, ours.gn_basis,
            ours.noise_motion, ours.keep_holes, ours.val_group, ours.content_weight) == (
        "blend", True, True, "leaky", 16, "walk", True, "auto", 1000.0)
    assert (paper.objective, paper.residual, paper.circular_decoder, paper.ds_activation, paper.gn_basis,
            paper.noise_motion, paper.keep_holes, paper.val_group, paper.content_weight, paper.gn_lr) == (
        "paper", False, False, "sigmoid", 0, "frozen", False, "", 1.0, 2e-4)
    # the numbers the paper leaves open are the same in both forms
    assert (ours.channels, ours.clip, ours.batch, ours.epochs, ours.lr, ours.alpha) == (
        paper.channels, paper.clip, paper.batch, paper.epochs, paper.lr, paper.alpha)
    model = STGANPaper()
    assert model.name == "stgan-paper" and model.config == paper
    with_val = TrainSource(root=tmp_path, groups={"gn": ["001"], "stgan": ["002"], "validation": ["003"]})
    without = TrainSource(root=tmp_path, groups={"gn": ["001"], "stgan": ["002"]})
    assert STGAN().validation_group(with_val) == "validation" and STGAN().validation_group(without) == ""
    assert model.validation_group(with_val) == ""  # the paper keeps the last epoch
    assert STGAN(STGANConfig(val_group="gn")).validation_group(without) == "gn"


def test_stgan_paper_checkpoint_reads_back_as_the_paper_form(tmp_path: Path, world: Path) -> None:
    config = STGANPaperConfig(**{**TINY, "gn_basis": 0, "epochs": 1, "gn_epochs": 1})
    model = STGANPaper(config).fit(_source(world), OPTS)
    back = load_anonymizer(model.save(tmp_path / "paper.npz"))
    assert type(back) is STGANPaper and type(back.config) is STGANPaperConfig and back.config == model.config
    seq = _seq(world, "005-nm-01-090")
    np.testing.assert_array_equal(back.anonymize(seq, 2).silhouettes, model.anonymize(seq, 2).silhouettes)


def test_config_errors() -> None:
    with pytest.raises(ValueError, match="alpha"):
        STGANConfig(alpha=-0.1)
    with pytest.raises(ValueError, match="gan_loss"):
        STGANConfig(gan_loss="hinge")
    with pytest.raises(ValueError, match="objective must be 'paper' or 'blend', got 'l2'"):
        STGANConfig(objective="l2")
    with pytest.raises(ValueError, match="ds_activation"):
        STGANConfig(ds_activation="relu")
    with pytest.raises(ValueError, match="content_weight must be > 0"):
        STGANConfig(content_weight=0)
    with pytest.raises(ValueError, match="beta"):
        NoiseGaitConfig(beta=-1)
    with pytest.raises(ValueError, match="no subject group 'gn'"):
        STGAN().fit(TrainSource(root=Path("."), groups={"stgan": ["001"]}), OPTS)


# ------------------------------------------------------------------------------------------ noise gait


def test_pool_selection_rule_by_hand() -> None:
    # walks: 0: A nm-01 @90 len 5; 1: B nm-01 @90 len 8; 2: C nm-01 @90 len 6; 3: C nm-02 @90 len 4; 4: B @0 len 7
    lengths = [5, 8, 6, 4, 7]
    pool = Pool(
        shapes=np.zeros((sum(lengths), 2, POINTS), np.float16),
        offsets=np.concatenate([[0], np.cumsum(lengths)]),
        subjects=("A", "B", "C", "C", "B"), conditions=("nm-01", "nm-01", "nm-01", "nm-02", "nm-01"),
        views=(90, 90, 90, 90, 0),
    )
    assert pool.choose("A", 90, 7) == 1  # B (8) and C (6) are both 1 frame off: the smaller subject id, B
    assert pool.choose("C", 90, 6) == 0  # only A (5) and B (8) remain: A is nearer
    assert pool.choose("B", 90, 5) == 0  # A has length 5 exactly
    assert pool.choose("A", 36, 7) == 4  # no pool walk at 36: nearest view 0 (|36-0| < |36-90|)
    assert pool.choose("A", 45, 7) == 4  # 45 is as far from 0 as from 90: the smaller view wins
    frames = pool.noise_frames(0, np.array([0, 4, 5, 12]))  # walk 0 has 5 frames: i mod 5
    assert frames.shape == (4, 2, POINTS)
    with pytest.raises(ValueError, match="no subject other than"):
        Pool(np.zeros((1, 2, POINTS), np.float16), np.array([0, 1]), ("A",), ("nm-01",), (90,)).choose("A", 90, 1)


def test_noise_gait_trains_and_round_trips(tmp_path: Path, world: Path) -> None:
    model = NoiseGait(NoiseGaitConfig(**TINY_NG)).fit(_source(world), OPTS)
    history = model.training["history"]  # type: ignore[index]
    assert history[-1]["rec"] < history[0]["rec"]
    seq = _seq(world, "005-nm-02-090")
    assert model.noise_source(seq) in {"003-nm-01-090", "004-nm-01-090"}
    out = model.anonymize(seq)
    assert out.silhouettes.dtype == np.bool_ and (out.silhouettes != seq.silhouettes).any()
    back = load_anonymizer(model.save(tmp_path / "ng.npz"))
    assert isinstance(back, NoiseGait) and back.pool is not None and len(back.pool.subjects) == 4
    np.testing.assert_array_equal(back.anonymize(seq).silhouettes, out.silhouettes)


def test_colour_output_uses_eq9(world: Path, trained: STGAN) -> None:
    """Frames in both silhouettes keep the original pixel; frames outside both take the background."""
    seq = _seq(world, "005-nm-01-090")
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (*seq.silhouettes.shape, 3), dtype=np.uint8)
    background = np.full((*seq.shape, 3), 7, np.uint8)
    out = trained.anonymize(seq.replace(frames=frames, background=background), seed=0)
    assert out.frames is not None
    both = out.silhouettes & seq.silhouettes
    neither = ~out.silhouettes & ~seq.silhouettes
    np.testing.assert_array_equal(out.frames[both], frames[both])
    assert (out.frames[neither] == 7).all()


def test_cli_train_then_anonymize(tmp_path: Path, world: Path) -> None:
    """`gaitbench train anonymizer` then `gaitbench anonymize` with the real ST-GAN; the output reads back."""
    from benchmark.cli import main

    toml = tmp_path / "tiny.toml"
    toml.write_text("\n".join(f"{k} = {list(v) if isinstance(v, tuple) else v}" for k, v in TINY.items()) + "\n")
    ckpt = tmp_path / "st.npz"
    argv = ["train", "anonymizer", "stgan", "--set", "alpha=0.4", "--data", str(world), "--out", str(ckpt),
            "--config", str(toml), "--epochs", "1", "--device", "cpu", "--workers", "1", "--quiet"]
    assert main(argv) == 0
    model = load_anonymizer(ckpt)
    assert isinstance(model, STGAN) and model.config.alpha == 0.4 and model.config.epochs == 1
    # the paper's groups of 5 subjects; val_group "auto" found the protocol's validation group
    assert model.training["groups"] == {"gn": ["002"], "g": ["003"], "validation": ["004"]}  # type: ignore[index]
    out = tmp_path / "anon"
    assert main(["anonymize", "stgan", "--ckpt", str(ckpt), "--data", str(world), "--out", str(out),
                 "--conditions", "nm-02", "--quiet"]) == 0
    data = CasiaB(out)
    refs = data.index()
    assert [r.key for r in refs] == ["005-nm-02-000", "005-nm-02-090"]  # the test group, asked condition
    seq = data.load(refs[1])
    np.testing.assert_array_equal(seq.silhouettes, model.anonymize(_seq(world, "005-nm-02-090"), 0).silhouettes)


# ------------------------------------------------------------------------------------------ GN, noise over time


def test_gn_basis_spans_the_principal_components() -> None:
    """Contours from a known 2-parameter family: GN's outputs stay in their span, whatever the seed."""
    from baselines.stgan import NoiseGenerator

    gen = np.random.default_rng(0)
    base, a, b = (gen.normal(size=(2, POINTS)) for _ in range(3))
    coeffs = gen.normal(size=(200, 2))
    contours = base + coeffs[:, :1, None] * a + coeffs[:, 1:, None] * b
    gn = NoiseGenerator(latent=4, hidden=8, harmonics=0, basis=2)
    gn.fit_basis(contours)
    span = np.stack([a.ravel(), b.ravel()], 1)
    with torch.no_grad():
        out = gn(torch.randn(16, 4)).numpy().reshape(16, -1) - contours.reshape(200, -1).mean(0)
    residual = out - (span @ np.linalg.lstsq(span, out.T, rcond=None)[0]).T
    assert np.abs(residual).max() < 1e-4 * np.abs(out).max()
    # the components are scaled by their standard deviations: unit coefficients are one std of the data
    comp = gn.get_buffer("components").numpy()
    assert np.allclose(np.linalg.norm(comp, axis=1) ** 2,
                       np.linalg.svd(contours.reshape(200, -1) - contours.reshape(200, -1).mean(0),
                                     compute_uv=False)[:2] ** 2 / 199, rtol=1e-3)
    with pytest.raises(ValueError, match="needs more than 2 contours"):
        gn.fit_basis(contours[:2])


def test_noise_in_step_and_nearest_draw_by_hand() -> None:
    from baselines.stgan import in_step, nearest_draw

    y = torch.zeros(1, 3, 2, POINTS)
    y[0, :, 0, 0] = torch.tensor([1.0, 2.0, 6.0])  # mean 3: departures -2, -1, 3
    z = torch.full((1, 2, POINTS), 0.5)
    moved = in_step(z, y)
    assert moved[0, :, 0, 0].tolist() == [-1.5, -0.5, 3.5] and (moved[0, :, 1] == 0.5).all()
    draws = torch.stack([torch.full((2, POINTS), v) for v in (0.0, 0.9, 0.4)])[None]  # (1, 3, 2, P)
    assert nearest_draw(draws, torch.full((1, 2, POINTS), 0.5))[0, 0, 0].item() == pytest.approx(0.4)


def test_walk_noise_and_gn_match_train_and_anonymize(world: Path) -> None:
    cfg = STGANConfig(**{**TINY, "epochs": 1, "noise_motion": "walk", "gn_match": 4, "gn_basis": 3})
    model = STGAN(cfg).fit(_source(world), OPTS)
    seq = _seq(world, "005-nm-01-000")
    shapes, _, _ = silhouettes_to_network(seq.silhouettes)
    noise = model._noise(seq, shapes, np.random.default_rng(0))
    # the noise departs from GN's contour exactly as each frame departs from the sequence's mean contour
    np.testing.assert_allclose(noise - noise.mean(0), shapes - shapes.mean(0), atol=1e-5)
    assert model.anonymize(seq, seed=2).silhouettes.shape == seq.silhouettes.shape


def test_validation_group_selects_an_epoch(world: Path) -> None:
    source = TrainSource(root=world, groups={"gn": ["001"], "stgan": ["003", "004"], "validation": ["002"]},
                         workers=1)
    model = STGAN(STGANConfig(**{**TINY, "epochs": 3, "val_group": "validation"})).fit(source, OPTS)
    record = model.training
    assert record is not None and record["groups"]["validation"] == ["002"]
    selects = [v["select"] for v in record["validation"]]
    assert len(selects) == 3 and record["selected_epoch"] == 1 + int(np.argmin(selects))
    assert all(v["rec_clean"] >= 0 for v in record["validation"])
    assert "005" not in record["subjects"]  # the test subject was never read


# ------------------------------------------------------------------------------------------ noise gait phase


def _walker(spread: np.ndarray) -> np.ndarray:
    """Contours whose lowest quarter spans ``[-s/2, s/2]`` horizontally: leg spread ``s`` per frame."""
    y = np.linspace(-0.5, 0.5, POINTS)
    x = np.where(y > 0.25, np.sign(np.arange(POINTS) % 2 - 0.5), 0.1 * np.sign(np.arange(POINTS) % 2 - 0.5))
    out = np.zeros((len(spread), 2, POINTS), np.float32)
    out[:, 1] = y
    out[:, 0] = x * np.where(y > 0.25, spread[:, None] / 2, 1.0)
    return out


def test_phase_offset_finds_the_shift_by_hand() -> None:
    from baselines.noise_gait import leg_spread, phase_offset

    t = np.arange(30)
    noise_spread = 0.3 + 0.2 * np.abs(np.sin(np.pi * t / 15))  # a period of 15 frames over 30
    noise = _walker(noise_spread)
    np.testing.assert_allclose(leg_spread(noise), noise_spread, rtol=1e-5)
    source = _walker(noise_spread[(np.arange(24) + 7) % 30])  # frame i is the noise's frame i + 7
    assert phase_offset(source, noise) in (7, 22)  # 22 = 7 + one period: the same phase
    source[3] = 0  # an empty frame is left out, not read as a closed stance
    assert phase_offset(source, noise) in (7, 22)


def test_pool_leaves_empty_frames_out() -> None:
    from baselines.contour_space import ContourSet

    shapes = np.ones((6, 2, POINTS), np.float16)
    valid = np.array([True, False, True, False, False, False])
    data = ContourSet(shapes=shapes, valid=valid, offsets=np.array([0, 3, 6]), subjects=np.array(["A", "B"]),
                      conditions=np.array(["nm-01", "nm-01"]), views=np.array([90, 90]))
    pool = Pool.from_contours(data, ["nm-01"])
    assert pool.subjects == ("A",) and pool.offsets.tolist() == [0, 2]  # B has no contour at all


def test_carry_holes_restores_and_moves_holes_by_hand() -> None:
    from baselines.contour_space import carry_holes, network_to_silhouettes

    sil = np.zeros((1, 40, 30), bool)
    sil[0, 5:35, 8:22] = True
    sil[0, 15:20, 12:16] = False  # a 5x4 hole, 3+ pixels from the boundary
    shapes, frame, valid = silhouettes_to_network(sil)
    filled = network_to_silhouettes(shapes, frame, valid, (40, 30))
    assert filled[0, 15:20, 12:16].all()  # the contour form has no holes
    np.testing.assert_array_equal(carry_holes(sil, filled, shapes, shapes, frame, valid), sil)
    # the whole contour moved 3 pixels right: the hole moves with it
    moved = shapes.copy()
    moved[:, 0] += 3 / frame[0, 2]
    decoded = network_to_silhouettes(moved, frame, valid, (40, 30))
    out = carry_holes(sil, decoded, shapes, moved, frame, valid)
    expected = np.zeros_like(sil)
    expected[0, 5:35, 11:25] = True
    expected[0, 15:20, 15:19] = False
    np.testing.assert_array_equal(out, expected)


def test_gn_quality_by_hand() -> None:
    from baselines.stgan import gn_quality

    class Same(torch.nn.Module):  # a collapsed GN: one contour whatever the seed
        def forward(self, z: torch.Tensor) -> torch.Tensor:
            out = torch.zeros(len(z), 2, POINTS)
            out[:, 1] = torch.linspace(-0.25, 0.25, POINTS)  # half a body's height
            return out

    real = np.zeros((10, 2, POINTS), np.float32)
    real[:, 1] = np.linspace(-0.5, 0.5, POINTS)
    real[:, 0] = np.arange(10)[:, None] * 0.01  # ten real contours 0.01 apart in x
    q = gn_quality(Same(), real, latent=3, draws=8)
    assert q["height"] == pytest.approx(0.5) and q["real_height"] == pytest.approx(1.0)
    assert q["diversity"] == 0.0 and q["real_diversity"] > 0.01
    # nearest real contour: |x| differs by at least 0 (real 0 has x = 0), y by |0.5 t - t| averaged = 0.125
    assert q["nearest_real"] == pytest.approx(0.5 * np.abs(np.linspace(-0.25, 0.25, POINTS)
                                                           - np.linspace(-0.5, 0.5, POINTS)).mean(), rel=1e-4)


def test_noise_off_is_g_of_the_original_and_named(world: Path, trained: STGAN) -> None:
    import dataclasses

    off = STGAN(dataclasses.replace(trained.config, noise_off=True, keep_holes=False))  # G's outline alone
    off.generator, off.gn, off.training = trained.generator, trained.gn, trained.training
    assert off.parameters() == "alpha=0.3;noise=off" and trained.parameters() == "alpha=0.3"
    seq = _seq(world, "005-nm-01-000")
    shapes, frame, valid = silhouettes_to_network(seq.silhouettes)
    np.testing.assert_array_equal(off._noise(seq, shapes, np.random.default_rng(0)), shapes)
    from baselines.contour_space import network_to_silhouettes

    expected = network_to_silhouettes(trained.generate(shapes, shapes), frame, valid, seq.shape)
    np.testing.assert_array_equal(off.anonymize(seq, seed=4).silhouettes, expected)


def test_noise_off_is_an_inference_option_a_trained_model_takes_and_training_never_sees() -> None:
    import dataclasses

    from baselines.stgan import STGANConfig

    on = STGANConfig(alpha=0.3, epochs=2)
    off = dataclasses.replace(on, noise_off=True)
    assert STGAN.inference_only == ("noise_off",)
    assert STGAN.training_config(off) == on and STGAN.training_config(on) == on
    model = STGAN(on)
    assert model.with_inference_options(off) is model and model.config == off
    assert model.parameters() == "alpha=0.3;noise=off"
    with pytest.raises(ValueError, match=r"differs from the trained model's in \['alpha'\]"):
        model.with_inference_options(dataclasses.replace(off, alpha=0.4))
    assert model.config == off  # refused: nothing changed


# ------------------------------------------------------------------------------------------ donor motion


def test_donor_motion_is_the_donors_departures_in_phase_by_hand() -> None:
    from baselines.stgan import Donors, departures

    t = np.arange(30)
    walk = _walker(0.3 + 0.2 * np.abs(np.sin(np.pi * t / 15)))  # a period of 15 frames
    walk[:, 0] += 0.25  # off centre: its mean contour is taken out, not its position
    offsets = np.array([0, 30], np.int64)
    pool = Pool(walk.astype(np.float16), offsets, ("D",), ("nm-01",), (90,))
    donors = Donors(pool)
    moved = departures(pool.walk(0))
    np.testing.assert_allclose(moved.mean(0), 0, atol=1e-6)
    np.testing.assert_allclose(moved[4], pool.walk(0)[4] - pool.walk(0).mean(0), atol=1e-6)
    source = _walker(0.3 + 0.2 * np.abs(np.sin(np.pi * ((np.arange(24) + 7) % 30) / 15)))
    walk_index, offset = donors.pick("S", 80, source)  # the only walk, at the nearest view
    assert walk_index == 0 and offset in (7, 22)
    np.testing.assert_allclose(donors.motion(0, 7, np.array([0, 1, 25])), moved[[7, 8, 2]], atol=1e-6)
    with pytest.raises(ValueError, match="no subject other than 'D'"):
        donors.pick("D", 90, source)


def test_donor_noise_trains_anonymizes_and_round_trips(tmp_path: Path, world: Path) -> None:
    from baselines.stgan import departures

    cfg = STGANConfig(**{**TINY, "epochs": 1, "noise_motion": "donor", "gn_basis": 3})
    model = STGAN(cfg).fit(_source(world), OPTS)
    assert model.donors is not None
    pool = model.donors.pool
    assert set(pool.subjects) == {"001", "002"} and set(pool.conditions) == {"nm-01"}  # the GN group's walks
    seq = _seq(world, "005-nm-01-090")
    shapes, _, _ = silhouettes_to_network(seq.silhouettes)
    noise = model._noise(seq, shapes, np.random.default_rng(0))
    walk, offset = model.donors.pick("005", 90, shapes)
    assert pool.views[walk] == 90
    # the noise departs from GN's contour exactly as the donor's frames, in phase, depart from the donor's mean
    expected = departures(pool.walk(walk))[(offset + np.arange(len(shapes))) % len(pool.walk(walk))]
    np.testing.assert_allclose(noise - noise[0] + expected[0], expected, atol=1e-5)
    back = load_anonymizer(model.save(tmp_path / "donor.npz"))
    np.testing.assert_array_equal(back.anonymize(seq, 3).silhouettes, model.anonymize(seq, 3).silhouettes)
    # a donor checkpoint without its donor walks is refused, naming what is missing
    arrays, extra = model.state()
    assert extra["pool"]["subjects"] == list(pool.subjects)
    arrays = {k: v for k, v in arrays.items() if not k.startswith("pool.")}
    broken = STGAN(cfg)
    with pytest.raises(CheckpointError, match="lacks its donor walks"):
        broken.set_state(arrays, {})
    with pytest.raises(ValueError, match="'frozen', 'walk' or 'donor'"):
        STGANConfig(noise_motion="other")
