"""ST-GAN (Tieu et al. 2019, Section 3): the paper's anonymizer, and its ablation without the noise generator.

Three methods: ``stgan`` (our form, the default: the departures of :class:`STGANConfig` that keep walkers
natural), ``stgan-paper`` (the literal form described below) and ``stgan-nogn`` (the ablation, in our form).

Training has two stages, each through the shared loop (:func:`benchmark.training.train`: checkpoint per epoch,
resume, seeds, DDP):

1. **GN** (Section 3.3), a plain GAN (Goodfellow et al.) over single contours of its own subject group
   (``gn_group``): an MLP maps a Gaussian seed ``(latent,)`` to one contour ``(2, P)``; its discriminator DN, an
   MLP, sees real contours as positives. Trained with the usual non-saturating generator loss, then frozen.
2. **G with DS and DT** (Section 3.4) on clips of ``clip`` frames of the ``train_group``: one seed per clip, GN's
   contour copied to every frame (``Z_hat``), ``Y_hat = G(Y, Z_hat)`` frame by frame. Each step first updates DS
   and DT on ``Y`` against ``Y_hat`` (Eqs. 2-3), then G on Eq. 8:
   ``L(G) = L_S + L_T + L_Rec + alpha * L_Per`` with ``L_Rec = |Y - Y_hat|_1`` and ``L_Per = |Z_hat - Y_hat|_1``
   (the paper writes ``Z`` in Eq. 7; the noise actually added is ``GN(Z)``). ``gan_loss = "paper"`` minimises
   ``log(1 - D(G))`` as Eqs. 4-5 are written; ``"non-saturating"`` minimises ``-log D(G)`` instead.

DT (Fig. 5b) is an LSTM over a clip's contours whose outputs at every step are concatenated, then FC -> sigmoid;
the concatenation fixes its input length, hence training on clips. G works per frame, so any length anonymizes.

``stgan-nogn`` (Fig. 7's ablation) replaces ``GN(Z)`` by a Gaussian seed of the contour's shape,
``N(0, noise_std^2)`` per coordinate (units of the body height), copied to every frame; no GN is trained.

Everything numeric that the paper does not give (layer widths, kernels, Adam with lr 2e-4 and betas
(0.5, 0.999), epochs, clip length, batch sizes) is our choice, in :class:`STGANConfig`.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from baselines.contour_gan import (
    ContourAnonymizer,
    Generator,
    SpatialDiscriminator,
    adam,
    clip_starts,
    data_signature,
    discriminator_loss,
    gather_clips,
    generator_adversarial_loss,
    l1,
    low_pass,
    sample_clips,
    stage_settings,
)
from baselines.contour_space import POINTS, ContourSet, load_contours
from baselines.noise_gait import Pool, phase_offset
from benchmark.api import (
    CheckpointError,
    FitOptions,
    GaitSequence,
    TrainSource,
    format_parameters,
    load_module_arrays,
    module_arrays,
    train,
)
from benchmark.training import distributed_env

#: the protocol group that ``val_group = "auto"`` selects on where it exists
VALIDATION = "validation"


@dataclasses.dataclass(frozen=True)
class STGANConfig:
    """Settings of ST-GAN (paper values where it gives them: ``alpha``; the rest are ours).

    The defaults are our form, which gives natural walkers (docs/anonymizers.md, "Our form and the paper's"): the
    blend objective, a residual G with a circular decoder, LeakyReLU DS, GN in a principal-component basis, noise
    that steps with the walk, the original's holes carried over and G's epoch selected on the validation group.
    :class:`STGANPaperConfig` (method ``stgan-paper``) holds the literal paper's form.
    """

    alpha: float = 0.3
    gn_group: str = "gn"
    train_group: str = "stgan"
    # GN: MLP generator latent -> hidden -> 2*hidden -> 2P; DN: 2P -> 2*hidden -> hidden/2 -> 1
    latent: int = 64
    gn_hidden: int = 256
    gn_epochs: int = 8
    gn_batch: int = 128
    gn_lr: float = 1e-3
    gn_frame_step: int = 2
    #: GN's outputs framed like real contours (box centred, height 1); ours, the paper does not say
    gn_normalize: bool = False
    #: GN gives coefficients of this many principal components of its group's contours (0: the paper's free
    #: 4000 numbers, which zigzag; ours)
    gn_basis: int = 16
    #: draw this many GN contours per sequence and use the one nearest the sequence's mean contour (its view and
    #: build, another person's shape); 0 or 1: one draw, the paper's
    gn_match: int = 0
    #: the noise over time: "frozen", the paper's (GN's contour copied to every frame); "walk" (GN's contour plus
    #: each frame's departure from the sequence's mean contour, so the noise steps with the walk); or "donor"
    #: (GN's contour plus the departures of another person's walk from the ``gn_group``, at the nearest view and
    #: in step with the source's gait phase, so the noise carries another person's motion as well as another build)
    noise_motion: str = "walk"
    #: conditions of the ``gn_group`` walks that ``noise_motion = "donor"`` takes motions from
    donor_conditions: tuple[str, ...] = ("nm-01",)
    #: the protocol group G's epochs are scored on (the content objective on its clips; ``validation`` in the
    #: paper's protocols), keeping the best epoch's weights; "" = none, the last epoch's weights (the paper's);
    #: "auto" = ``validation`` where the protocol has that group, else none
    val_group: str = "auto"
    #: validation clips at most (the first usable window of each sequence, sequences spread evenly)
    val_clips: int = 64
    #: carry the original's holes (arm-body gaps) into the output, moved with the contour (ours; the contour form
    #: has none, so a decoded silhouette loses them and a recognizer notices)
    keep_holes: bool = True
    #: a control: when anonymizing, the original is its own noise (``Y_hat = G(Y, Y)``), so what changes the
    #: success rate is G's reconstruction alone
    noise_off: bool = False
    # G, DS, DT
    channels: tuple[int, ...] = (16, 32, 64)
    harmonics: int = 48
    ds_channels: tuple[int, ...] = (16, 32)
    lstm_hidden: int = 32
    clip: int = 16
    batch: int = 8
    epochs: int = 12
    lr: float = 1e-3
    gan_loss: str = "paper"
    noise_std: float = 0.1
    seed: int = 0
    anonymize_batch: int = 256
    # Our departures from the literal paper (docs/anonymizers.md says why); STGANPaperConfig keeps the paper's.
    #: "paper": Eq. 8, L_Rec + alpha L_Per with L1 terms (optimum at Y for every alpha < 1: a switch, not a dial);
    #: "blend": squared terms |Y_hat - Y|^2 + alpha |Y_hat - Z_hat|^2, optimum (Y + alpha Z_hat) / (1 + alpha)
    objective: str = "blend"
    #: weight of the content terms (L_Rec, L_Per) against the adversarial ones
    content_weight: float = 1000.0
    #: G predicts a change of Y (Y_hat = Y + dec), starting as the identity
    residual: bool = True
    #: G's decoder wraps around the closed contour
    circular_decoder: bool = True
    #: DS's activations: the paper's "sigmoid", or "leaky" (LeakyReLU 0.2)
    ds_activation: str = "leaky"

    def __post_init__(self) -> None:
        if not 0 <= self.alpha:
            raise ValueError(f"alpha must be >= 0, got {self.alpha}")
        if self.val_clips < 1:
            raise ValueError(f"val_clips must be >= 1, got {self.val_clips}")
        if self.gn_basis < 0 or self.gn_match < 0:
            raise ValueError(f"gn_basis and gn_match must be >= 0 (0 = off), got {self.gn_basis}, {self.gn_match}")
        if self.noise_motion not in ("frozen", "walk", "donor"):
            raise ValueError(f"noise_motion must be 'frozen', 'walk' or 'donor', got {self.noise_motion!r}")
        if self.noise_motion == "donor" and not self.donor_conditions:
            raise ValueError("donor_conditions must name at least one condition, e.g. ['nm-01']")
        for key in ("latent", "gn_hidden", "gn_batch", "gn_frame_step", "lstm_hidden", "clip", "batch",
                    "anonymize_batch"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key} must be >= 1, got {getattr(self, key)}")
        if self.gn_epochs < 0 or self.epochs < 0:
            raise ValueError(f"epochs must be >= 0, got gn_epochs={self.gn_epochs}, epochs={self.epochs}")
        if not self.channels or POINTS % (2 ** len(self.channels)):
            raise ValueError(f"channels {self.channels}: need 1..4 layers (2000 points halve that often)")
        if len(self.ds_channels) != 2:
            raise ValueError(f"ds_channels must have two widths, got {self.ds_channels}")
        if self.gan_loss not in ("paper", "non-saturating"):
            raise ValueError(f"gan_loss must be 'paper' or 'non-saturating', got {self.gan_loss!r}")
        if not self.noise_std > 0:
            raise ValueError(f"noise_std must be > 0, got {self.noise_std}")
        if self.objective not in ("paper", "blend"):
            raise ValueError(f"objective must be 'paper' or 'blend', got {self.objective!r}")
        if not self.content_weight > 0:
            raise ValueError(f"content_weight must be > 0, got {self.content_weight}")
        if self.ds_activation not in ("sigmoid", "leaky"):
            raise ValueError(f"ds_activation must be 'sigmoid' or 'leaky', got {self.ds_activation!r}")


@dataclasses.dataclass(frozen=True)
class STGANPaperConfig(STGANConfig):
    """ST-GAN in the literal paper's form (method ``stgan-paper``): Eq. 8's L1 objective, a plain G, sigmoid DS,
    GN's free coordinates, one frozen noise contour per sequence, no holes, the last epoch's weights. Our
    numeric choices the paper leaves open (widths, epochs, learning rates) are :class:`STGANConfig`'s."""

    gn_epochs: int = 4
    gn_lr: float = 2e-4
    gn_basis: int = 0
    noise_motion: str = "frozen"
    val_group: str = ""
    keep_holes: bool = False
    objective: str = "paper"
    content_weight: float = 1.0
    residual: bool = False
    circular_decoder: bool = False
    ds_activation: str = "sigmoid"


class NoiseGenerator(nn.Module):
    """GN: seeds ``(B, latent)`` -> contours ``(B, 2, P)``.

    ``normalize``: each output is framed as the real contours are (:func:`baselines.contour_space.to_network`):
    its bounding box centred on 0 and scaled to height 1, so GN learns the shape and cannot drift in size.
    ``basis`` > 0: the MLP gives that many coefficients of the principal components of GN's training contours
    (:meth:`fit_basis`, before training), and the contour is their mean plus the weighted components: every
    output is a smooth closed contour in the span of real ones, where a free 4000-number output zigzags.
    """

    def __init__(self, latent: int, hidden: int, harmonics: int = 0, normalize: bool = False,
                 basis: int = 0) -> None:
        super().__init__()
        self.harmonics, self.normalize, self.basis = harmonics, normalize, basis
        self.net = nn.Sequential(
            nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, 2 * hidden), nn.ReLU(),
            nn.Linear(2 * hidden, basis if basis else 2 * POINTS),
        )
        if basis:
            self.register_buffer("mean", torch.zeros(2 * POINTS))
            self.register_buffer("components", torch.zeros(basis, 2 * POINTS))  # rows scaled by their std

    def fit_basis(self, contours: np.ndarray) -> None:
        """Principal components of ``contours`` ``(N, 2, P)`` (a sample of GN's training frames)."""
        x = torch.from_numpy(np.asarray(contours, np.float32).reshape(len(contours), -1)).double()
        if len(x) <= self.basis:
            raise ValueError(f"GN's basis of {self.basis} components needs more than {self.basis} contours, "
                             f"got {len(x)}")
        mean = x.mean(0)
        _, sv, vt = torch.linalg.svd(x - mean, full_matrices=False)
        std = sv[: self.basis] / math.sqrt(len(x) - 1)
        self.get_buffer("mean").copy_(mean.float())
        self.get_buffer("components").copy_((vt[: self.basis] * std[:, None]).float())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        raw = self.net(z)
        if self.basis:
            raw = self.get_buffer("mean") + raw @ self.get_buffer("components")
        out = low_pass(raw.view(-1, 2, POINTS), self.harmonics)
        return box_normalize(out) if self.normalize else out


def in_step(z_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Noise that steps with the walk: GN's contour ``(B, 2, P)`` plus each frame's departure from its clip's
    mean contour, ``y`` ``(B, L, 2, P)`` -> ``(B, L, 2, P)``."""
    return z_hat[:, None] + (y - y.mean(1, keepdim=True))


def departures(walk: np.ndarray) -> np.ndarray:
    """A walk's motion: each frame's departure from the walk's mean contour, ``(T, 2, P)`` -> ``(T, 2, P)``."""
    walk = np.asarray(walk, np.float32)
    return walk - walk.mean(0, keepdims=True)


class Donors:
    """The motions ``noise_motion = "donor"`` adds to GN's contour: the walks of a noise-gait :class:`Pool` (other
    people, the nearest view, chosen by noise-gait's rule), each frame's departure from its walk's mean, taken
    from the frame at the source's gait phase (:func:`baselines.noise_gait.phase_offset`)."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.motions = [departures(pool.walk(w)) for w in range(len(pool.subjects))]

    def pick(self, subject: str, view: int, shapes: np.ndarray) -> tuple[int, int]:
        """The donor walk of a sequence ``shapes`` ``(T, 2, P)`` and its phase offset."""
        walk = self.pool.choose(subject, view, len(shapes))
        return walk, phase_offset(shapes, self.pool.walk(walk))

    def motion(self, walk: int, offset: int, frames: np.ndarray) -> np.ndarray:
        """``float32 (len(frames), 2, P)``: the donor's departures at frames ``(offset + f) mod T_donor``."""
        m = self.motions[walk]
        return m[(offset + np.asarray(frames)) % len(m)]


def nearest_draw(draws: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Of ``draws`` ``(B, K, 2, P)``, the one nearest (mean absolute difference) ``target`` ``(B, 2, P)``."""
    dist = (draws - target[:, None]).abs().mean((2, 3))  # (B, K)
    return draws[torch.arange(len(draws)), dist.argmin(1)]


def box_normalize(x: torch.Tensor) -> torch.Tensor:
    """Contours ``(B, 2, P)`` moved so their bounding box is centred on 0 and scaled to height 1."""
    lo, hi = x.amin(dim=2, keepdim=True), x.amax(dim=2, keepdim=True)
    height = (hi[:, 1:2] - lo[:, 1:2]).clamp_min(1e-3)
    return (x - (lo + hi) / 2) / height


class NoiseDiscriminator(nn.Module):
    """DN: contours ``(B, 2, P)`` -> logits ``(B,)``."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(2 * POINTS, 2 * hidden), nn.LeakyReLU(0.2), nn.Linear(2 * hidden, hidden // 2),
            nn.LeakyReLU(0.2), nn.Linear(hidden // 2, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1)).squeeze(1)


class TemporalDiscriminator(nn.Module):
    """DT: clips ``(B, L, 2, P)`` -> logits ``(B,)``; LSTM outputs of all L steps concatenated -> FC."""

    def __init__(self, clip: int, hidden: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(2 * POINTS, hidden, batch_first=True)
        self.fc = nn.Linear(clip * hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x.flatten(2))  # (B, L, hidden)
        return self.fc(out.flatten(1)).squeeze(1)


def gn_quality(gn: nn.Module, real: np.ndarray, latent: int, draws: int = 64, seed: int = 0) -> dict[str, float]:
    """How person-like GN's contours are: mean height and width of ``draws`` draws against ``real`` contours
    ``(N, 2, P)`` (a sample of GN's training frames, in the networks' form: height 1), the mean pairwise L1
    difference among draws against that among real contours (``diversity``, ``real_diversity``: a collapsed GN
    draws the same contour for every seed) and the mean L1 difference from each draw to its nearest real contour
    (``nearest_real``)."""
    rng = np.random.default_rng(seed)
    real = np.asarray(real, np.float32)
    picked = real[rng.choice(len(real), min(draws, len(real)), replace=False)]
    with torch.no_grad():
        gen = gn(torch.from_numpy(rng.standard_normal((draws, latent)).astype(np.float32))).numpy()

    def pairwise(x: np.ndarray) -> float:
        d = np.abs(x[:, None] - x[None]).mean((2, 3))
        return float(d[~np.eye(len(x), dtype=bool)].mean()) if len(x) > 1 else 0.0

    ref = real[:: max(1, len(real) // 512)]
    nearest = np.array([np.abs(g[None] - ref).mean((1, 2)).min() for g in gen])
    return {"height": float(np.ptp(gen[:, 1], axis=1).mean()), "height_std": float(np.ptp(gen[:, 1], axis=1).std()),
            "width": float(np.ptp(gen[:, 0], axis=1).mean()), "real_height": float(np.ptp(picked[:, 1], axis=1).mean()),
            "real_width": float(np.ptp(picked[:, 0], axis=1).mean()), "diversity": pairwise(gen),
            "real_diversity": pairwise(picked), "nearest_real": float(nearest.mean())}


VALIDATION_SEED = 20190046  # the validation clips' noise: the same draws after every epoch


def _norm(grads: Sequence[torch.Tensor | None]) -> float:
    return math.sqrt(sum(float((g.detach() ** 2).sum()) for g in grads if g is not None))


def _accuracy(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> float:
    """A critic's accuracy at D = 0.5 over its real and fake inputs together."""
    right = (real_logits.detach() > 0).float().sum() + (fake_logits.detach() <= 0).float().sum()
    return float(right / (len(real_logits) + len(fake_logits)))


def _projection(y: torch.Tensor, fake: torch.Tensor, z: torch.Tensor) -> float:
    """How far G moved toward the noise: ``<Y_hat - Y, Z - Y> / |Z - Y|^2`` averaged over contours (0: stayed at
    Y, 1: reached Z; the blend objective's optimum is ``alpha / (1 + alpha)``)."""
    d, n = (fake - y).flatten(1), (z - y).flatten(1)
    return float(((d * n).sum(1) / (n * n).sum(1).clamp_min(1e-12)).mean())


class GNTask:
    """Stage 1: the plain GAN of GN over single contours."""

    def __init__(self, name: str, config: STGANConfig, data: ContourSet) -> None:
        self.name, self.config, self.data = name, config, data
        self.frames = np.flatnonzero(data.valid)[:: config.gn_frame_step]
        if not len(self.frames):
            raise ValueError("GN's subject group has no frame with a contour")

    def modules(self) -> dict[str, nn.Module]:
        c = self.config
        gn = NoiseGenerator(c.latent, c.gn_hidden, c.harmonics, c.gn_normalize, c.gn_basis)
        if c.gn_basis:
            sample = self.frames[:: max(1, len(self.frames) // 4000)]  # at most ~4000 frames, spread evenly
            gn.fit_basis(low_pass(torch.from_numpy(self.data.shapes[sample].astype(np.float32)), c.harmonics)
                         .numpy())
        self.mods = {"gn": gn,
                     "dn": NoiseDiscriminator(self.config.gn_hidden)}
        return self.mods

    def optimizers(self, modules: Mapping[str, nn.Module]) -> dict[str, torch.optim.Optimizer]:
        self.opt = {k: adam(m, self.config.gn_lr) for k, m in modules.items()}
        return self.opt

    def plan(self, epoch: int, rng: np.random.Generator) -> Sequence[Any]:
        order = rng.permutation(self.frames)
        size = self.config.gn_batch
        return [(order[i : i + size], int(rng.integers(2**31))) for i in range(0, len(order), size)]

    def step(self, models: Mapping[str, nn.Module], batch: Any, device: torch.device) -> Mapping[str, float]:
        index, seed = batch
        real = torch.from_numpy(self.data.shapes[index].astype(np.float32)).to(device)  # (B, 2, P)
        real = low_pass(real, self.config.harmonics)
        gen = torch.Generator().manual_seed(seed)
        z = torch.randn(len(index), self.config.latent, generator=gen).to(device)
        fake = models["gn"](z)
        d_loss = discriminator_loss(models["dn"](real), models["dn"](fake.detach()))
        self.opt["dn"].zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt["dn"].step()
        g_loss = generator_adversarial_loss(models["dn"](fake), "non-saturating")
        self.opt["gn"].zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt["gn"].step()
        return {"d": float(d_loss.detach()), "g": float(g_loss.detach())}

    def signature(self) -> Mapping[str, Any]:
        return data_signature(self.name, "gn", self.config, self.data)

    opt: dict[str, torch.optim.Optimizer]
    mods: dict[str, nn.Module]


class STGANTask:
    """Stage 2: G against DS and DT (Eqs. 2-8); ``noise(clips, seed)`` gives each clip's ``Z_hat`` ``(B, 2, P)``."""

    def __init__(self, owner: STGAN, data: ContourSet, gn: nn.Module | None,
                 val: ContourSet | None = None, donors: Donors | None = None, val_group: str = "") -> None:
        self.owner, self.config, self.data, self.gn = owner, owner.config, data, gn
        self.starts = clip_starts(data, self.config.clip)
        self.donors = donors
        # each training sequence's donor walk and phase offset (noise_motion = "donor")
        self.picks = [donors.pick(str(data.subjects[s]), int(data.views[s]),
                                  data.shapes[data.frames(s)].astype(np.float32)) for s in range(len(data))
                      ] if donors is not None else []
        self.val_y: torch.Tensor | None = None
        self.val_motion: torch.Tensor | None = None
        if val is not None:
            starts = clip_starts(val, self.config.clip)
            usable = [s for s, st in enumerate(starts) if len(st)]
            if not usable:
                raise ValueError(f"validation group {val_group or self.config.val_group!r} has no sequence with "
                                 f"{self.config.clip} consecutive frames with a contour")
            pick = np.array(usable)[np.linspace(0, len(usable) - 1, min(len(usable), self.config.val_clips))
                                    .round().astype(int)]
            firsts = np.array([starts[s][0] for s in pick], np.int64)
            self.val_y = gather_clips(val, pick, firsts, self.config.clip, torch.device("cpu"))
            if donors is not None:
                motions = []
                for s, first in zip(pick, firsts, strict=True):
                    walk, offset = donors.pick(str(val.subjects[s]), int(val.views[s]),
                                               val.shapes[val.frames(s)].astype(np.float32))
                    motions.append(donors.motion(walk, offset, first + np.arange(self.config.clip)))
                self.val_motion = torch.from_numpy(np.stack(motions))
            self.validate = self._validate  # the training loop scores each epoch with it (and selects)

    def modules(self) -> dict[str, nn.Module]:
        c = self.config
        mods: dict[str, nn.Module] = {
            "g": self.owner.build_generator(),
            "ds": SpatialDiscriminator(c.ds_channels, activation=c.ds_activation),
            "dt": TemporalDiscriminator(c.clip, c.lstm_hidden),
        }
        if self.gn is not None:
            mods["gn"] = self.gn  # frozen: moved and checkpointed with the rest, never optimised
        self.mods = mods
        return mods

    def optimizers(self, modules: Mapping[str, nn.Module]) -> dict[str, torch.optim.Optimizer]:
        self.opt = {k: adam(modules[k], self.config.lr) for k in ("g", "ds", "dt")}
        return self.opt

    def plan(self, epoch: int, rng: np.random.Generator) -> Sequence[Any]:
        return sample_clips(self.starts, self.config.batch, rng)

    def step(self, models: Mapping[str, nn.Module], batch: Any, device: torch.device) -> Mapping[str, float]:
        c = self.config
        seqs, firsts, seed = batch
        y = gather_clips(self.data, seqs, firsts, c.clip, device)  # (B, L, 2, P)
        b, length = y.shape[:2]
        with torch.no_grad():
            z_hat = self.owner.training_noise(len(seqs), seed, models.get("gn"), device, y)  # (B, 2, P)
            z_rep = self.noise_over_time(z_hat, y, seqs, firsts).reshape(b * length, 2, POINTS)
        y_flat = y.reshape(b * length, 2, POINTS)
        fake = models["g"](y_flat, z_rep)  # (B*L, 2, P)
        fake_clips = fake.view(b, length, 2, POINTS)

        # The discriminators see real contours through G's low-pass, so pixel staircases do not give fakes away.
        real = low_pass(y, c.harmonics)
        ds_real, ds_fake = models["ds"](real.flatten(0, 1)), models["ds"](fake.detach())
        dt_real, dt_fake = models["dt"](real), models["dt"](fake_clips.detach())
        ls_d = discriminator_loss(ds_real, ds_fake)  # minus Eq. 2
        lt_d = discriminator_loss(dt_real, dt_fake)  # minus Eq. 3
        for key, loss in (("ds", ls_d), ("dt", lt_d)):
            self.opt[key].zero_grad(set_to_none=True)
            loss.backward()
            self.opt[key].step()

        # The terms in the order the paper's form always computed them (the graph's order fixes the order in
        # which gradients are summed, so the same order keeps the paper's form bit-identical across versions).
        parts = {
            "S": generator_adversarial_loss(models["ds"](fake), c.gan_loss),  # Eq. 4
            "T": generator_adversarial_loss(models["dt"](fake_clips), c.gan_loss),  # Eq. 5
        }
        if c.objective == "paper":
            parts["rec"] = l1(y_flat, fake)  # Eq. 6
            parts["per"] = l1(z_rep, fake)  # Eq. 7
        else:  # squared: the optimum (Y + alpha Z_hat) / (1 + alpha) moves with alpha
            parts["rec"] = ((fake - y_flat) ** 2).mean()
            parts["per"] = ((fake - z_rep) ** 2).mean()
        weights = {"S": 1.0, "T": 1.0, "rec": c.content_weight, "per": c.alpha * c.content_weight}
        # Eq. 8, term by term, a weight of 1 not multiplied in (the same graph as the paper's form always had).
        g_loss = parts["S"] + parts["T"]
        for key in ("rec", "per"):
            g_loss = g_loss + (parts[key] if weights[key] == 1.0 else weights[key] * parts[key])
        # Diagnostics: how hard each weighted term pulls on G (gradient norm) and how well each critic tells real
        # from fake (accuracy at D = 0.5); autograd.grad leaves G's own gradients untouched.
        params = [p for p in models["g"].parameters() if p.requires_grad]
        grads = {f"grad_{k}": abs(weights[k]) * _norm(torch.autograd.grad(v, params, retain_graph=True,
                                                                          allow_unused=True))
                 for k, v in parts.items()}
        self.opt["g"].zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt["g"].step()
        logs = {k: float(v.detach()) for k, v in parts.items()}
        return {"G": float(g_loss.detach()), "DS": float(ls_d.detach()), "DT": float(lt_d.detach()), **logs,
                "acc_DS": _accuracy(ds_real, ds_fake), "acc_DT": _accuracy(dt_real, dt_fake), **grads,
                "toward_Z": _projection(y_flat.detach(), fake.detach(), z_rep)}

    def signature(self) -> Mapping[str, Any]:
        return data_signature(self.owner.name, "g", self.config, self.data)

    def noise_over_time(self, z_hat: torch.Tensor, y: torch.Tensor, seqs: Any, firsts: Any) -> torch.Tensor:
        """``Z_hat`` over the clips ``y`` ``(B, L, 2, P)`` (of training sequences ``seqs`` from frames
        ``firsts``), by ``noise_motion``: GN's contours ``z_hat`` ``(B, 2, P)`` copied, stepping with the walk, or
        stepping with a donor's walk."""
        b, length = y.shape[:2]
        motion = self.config.noise_motion
        if motion == "frozen":
            return z_hat[:, None].expand(b, length, 2, POINTS)
        if motion == "walk":
            return in_step(z_hat, y)
        assert self.donors is not None
        moves = np.stack([self.donors.motion(self.picks[s][0], self.picks[s][1], f + np.arange(length))
                          for s, f in zip(seqs, firsts, strict=True)])
        return z_hat[:, None] + torch.from_numpy(moves).to(z_hat.device)

    def content(self, y: torch.Tensor, fake: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``L_Rec + alpha L_Per`` in the config's objective (L1 terms, or squared for ``blend``)."""
        if self.config.objective == "paper":
            return l1(y, fake) + self.config.alpha * l1(z, fake)
        return ((fake - y) ** 2).mean() + self.config.alpha * ((fake - z) ** 2).mean()

    def _validate(self, models: Mapping[str, nn.Module], device: torch.device) -> Mapping[str, float]:
        """G on the validation clips with fixed noise: ``select`` (the content objective, lower is better),
        ``rec_clean`` (``|G(Y, Y) - Y|_1`` in body heights: G's reconstruction when the noise is the original
        itself) and ``toward_Z``."""
        assert self.val_y is not None
        c = self.config
        y = self.val_y.to(device)
        b, length = y.shape[:2]
        z_hat = self.owner.training_noise(b, VALIDATION_SEED, models.get("gn"), device, y)
        if c.noise_motion == "donor":
            assert self.val_motion is not None
            z = z_hat[:, None] + self.val_motion.to(device)
        else:
            z = (z_hat[:, None].expand(b, length, 2, POINTS) if c.noise_motion == "frozen" else in_step(z_hat, y))
        y_flat, z_flat = y.reshape(b * length, 2, POINTS), z.reshape(b * length, 2, POINTS)
        g = models["g"]
        fake = g(y_flat, z_flat)
        clean = g(y_flat, y_flat)
        return {"select": float(self.content(low_pass(y_flat, c.harmonics), fake, z_flat)),
                "rec_clean": float(l1(low_pass(y_flat, c.harmonics), clean)),
                "toward_Z": _projection(y_flat, fake, z_flat)}

    opt: dict[str, torch.optim.Optimizer]
    mods: dict[str, nn.Module]


class STGAN(ContourAnonymizer):
    """ST-GAN: ``Y_hat = G(Y, GN(Z))`` with one GN contour per sequence (see the module docstring)."""

    name = "stgan"
    title = "ST-GAN"
    Config = STGANConfig
    uses_gn = True
    inference_only = ("noise_off",)

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.gn: NoiseGenerator | None = None
        self.generator: Generator | None = None
        self.donors: Donors | None = None

    def parameters(self) -> str:
        params = {"alpha": f"{self.config.alpha:g}"}
        if self.config.noise_off:
            params["noise"] = "off"
        return format_parameters(params)

    def build_generator(self) -> Generator:
        c = self.config
        return Generator(c.channels, c.harmonics, circular=c.circular_decoder, residual=c.residual)

    # -------------------------------------------------------------- noise

    def training_noise(self, n: int, seed: int, gn: nn.Module | None, device: torch.device,
                       y: torch.Tensor | None = None) -> torch.Tensor:
        """``Z_hat`` for ``n`` clips ``y`` ``(n, L, 2, P)``: GN of Gaussian seeds drawn from ``seed`` (with
        ``gn_match``, the draw nearest each clip's mean contour)."""
        gen = torch.Generator().manual_seed(seed)
        assert gn is not None
        k = self.config.gn_match
        if k <= 1 or y is None:
            return gn(torch.randn(n, self.config.latent, generator=gen).to(device))
        draws = gn(torch.randn(n * k, self.config.latent, generator=gen).to(device)).view(n, k, 2, POINTS)
        return nearest_draw(draws, y.mean(1))

    def _noise(self, seq: GaitSequence, shapes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        assert self.gn is not None
        c = self.config
        if c.noise_off:
            return shapes
        k = max(1, c.gn_match)
        z = torch.from_numpy(rng.standard_normal((k, c.latent)).astype(np.float32))
        valid = np.abs(shapes).sum((1, 2)) > 0  # frames with a contour (the others are zeros)
        mean = torch.from_numpy(shapes[valid].mean(0) if valid.any() else shapes.mean(0)).float()
        with torch.no_grad():
            draws = self.gn.cpu().eval()(z)  # (k, 2, P)
            one = draws[0] if k == 1 else nearest_draw(draws[None], mean[None])[0]  # z_hat_1
        if c.noise_motion == "frozen":
            return np.broadcast_to(one.numpy(), shapes.shape)  # copied to every frame (Section 3.3)
        if c.noise_motion == "donor":
            assert self.donors is not None
            walk, offset = self.donors.pick(seq.subject, seq.view, shapes)
            moving = one.numpy()[None] + self.donors.motion(walk, offset, np.arange(len(shapes)))
        else:
            moving = one.numpy()[None] + (shapes - mean.numpy()[None])
        return np.where(valid[:, None, None], moving, one.numpy()[None]).astype(np.float32)

    # -------------------------------------------------------------- training

    def _log(self, options: FitOptions, text: str) -> None:
        if options.progress and distributed_env()[0] == 0:
            print(f"[{self.name}] {text}", file=sys.stderr)

    def _load(self, source: TrainSource, group: str, options: FitOptions) -> ContourSet:
        import time

        began = time.perf_counter()
        data = load_contours(source.root, source.subjects(group), views=source.views, workers=source.workers)
        self._log(options, f"group {group!r}: {len(data)} sequences, {len(data.valid)} frames of "
                           f"{len(set(data.subjects.tolist()))} subjects read in {time.perf_counter() - began:.1f} s")
        return data

    def validation_group(self, source: TrainSource) -> str:
        """The group G's epochs are selected on: ``val_group``, with "auto" resolved to ``validation`` where
        ``source`` has that group (the paper's protocols) and to none ("") where it does not."""
        group = self.config.val_group
        if group == "auto":
            return VALIDATION if VALIDATION in source.groups else ""
        return group

    def _fit(self, source: TrainSource, options: FitOptions) -> dict[str, Any]:
        c = self.config
        figures: dict[str, Any] = {"groups": {}}
        gn = None
        if self.uses_gn:
            gn_data = self._load(source, c.gn_group, options)
            figures["groups"]["gn"] = sorted(set(gn_data.subjects.tolist()))
            gn_task = GNTask(self.name, c, gn_data)
            result = train(gn_task, stage_settings(c, options, c.gn_epochs, "gn", f"{self.name} GN"))
            sample = gn_task.frames[:: max(1, len(gn_task.frames) // 2048)]
            real = low_pass(torch.from_numpy(gn_data.shapes[sample].astype(np.float32)), c.harmonics)
            figures["gn"] = {"epochs": result.epochs, "seconds": round(result.seconds, 3),
                             "final_losses": result.history[-1]["losses"] if result.history else {},
                             "quality": gn_quality(gn_task.mods["gn"].cpu().eval(), real.numpy(), c.latent)}
            if options.stop_after is not None and result.epochs < c.gn_epochs:
                figures["finished"] = False
                return figures
            gn = gn_task.mods["gn"].cpu().eval().requires_grad_(False)
        donors = None
        if c.noise_motion == "donor":  # other people's motions, from the GN group (never the test group)
            pool_data = gn_data if self.uses_gn else self._load(source, c.gn_group, options)
            donors = Donors(Pool.from_contours(pool_data, c.donor_conditions))
            self._log(options, f"donor motions: {len(donors.motions)} walks of the {c.gn_group!r} group")
            del pool_data
        if self.uses_gn:
            del gn_data
        data = self._load(source, c.train_group, options)
        figures["groups"]["g"] = sorted(set(data.subjects.tolist()))
        val = None
        val_group = self.validation_group(source)
        if val_group:
            val = self._load(source, val_group, options)
            figures["groups"]["validation"] = sorted(set(val.subjects.tolist()))
        task = STGANTask(self, data, gn, val, donors, val_group=val_group)
        settings = stage_settings(c, options, c.epochs, "g", self.name)
        result = train(task, dataclasses.replace(settings, select_best=val is not None))
        if result.selected_epoch is not None:
            figures["selected_epoch"] = result.selected_epoch
        self.gn = gn.cpu() if gn is not None else None  # type: ignore[assignment]
        self.generator = task.mods["g"].cpu().eval()  # type: ignore[assignment]
        self.donors = donors
        figures.update(
            epochs=result.epochs,
            epoch_seconds=[round(h["seconds"], 3) for h in result.history],
            final_losses=result.history[-1]["losses"] if result.history else {},
            history=[h["losses"] for h in result.history],
            **({"validation": [h.get("validation") for h in result.history]} if val is not None else {}),
            device=result.device,
            finished=result.epochs >= c.epochs,
        )
        return figures

    # -------------------------------------------------------------- checkpoints

    def state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        if self.generator is None:
            raise RuntimeError(f"{self.name} is not trained")
        mods: dict[str, nn.Module] = {"g": self.generator}
        if self.uses_gn:
            assert self.gn is not None
            mods["gn"] = self.gn
        arrays, extra = module_arrays(mods), {}
        if self.config.noise_motion == "donor":
            assert self.donors is not None
            pool = self.donors.pool
            arrays.update({"pool.shapes": pool.shapes, "pool.offsets": pool.offsets})
            extra = {"pool": {"subjects": list(pool.subjects), "conditions": list(pool.conditions),
                              "views": list(pool.views)}}
        return arrays, extra

    def set_state(self, arrays: Mapping[str, np.ndarray], extra: Mapping[str, Any]) -> None:
        c = self.config
        mods: dict[str, nn.Module] = {"g": self.build_generator()}
        if self.uses_gn:
            mods["gn"] = NoiseGenerator(c.latent, c.gn_hidden, c.harmonics, c.gn_normalize, c.gn_basis)
        load_module_arrays(self.name, mods, {k: v for k, v in arrays.items() if not k.startswith("pool.")})
        self.donors = None
        if c.noise_motion == "donor":
            try:
                meta = extra["pool"]
                pool = Pool(arrays["pool.shapes"], arrays["pool.offsets"], tuple(meta["subjects"]),
                            tuple(meta["conditions"]), tuple(int(v) for v in meta["views"]))
            except KeyError as exc:
                raise CheckpointError(f"{self.name} checkpoint with noise_motion 'donor' lacks its donor walks "
                                      f"({exc})") from None
            if len(pool.offsets) != len(pool.subjects) + 1:
                raise CheckpointError(f"{self.name} checkpoint has {len(pool.offsets) - 1} donor walks in its "
                                      f"arrays but {len(pool.subjects)} in its record")
            self.donors = Donors(pool)
        self.generator = mods["g"]  # type: ignore[assignment]
        self.gn = mods.get("gn")  # type: ignore[assignment]


class STGANPaper(STGAN):
    """ST-GAN in the literal paper's form (:class:`STGANPaperConfig`): the reference for the paper's own numbers
    and pictures; ``stgan`` is our form."""

    name = "stgan-paper"
    title = "ST-GAN (paper form)"
    Config = STGANPaperConfig


class STGANNoGN(STGAN):
    """The ablation of Fig. 7: ``Z_hat`` is a Gaussian seed ``N(0, noise_std^2)`` of the contour's shape."""

    name = "stgan-nogn"
    title = "ST-GAN without GN"
    uses_gn = False

    def parameters(self) -> str:
        params = {"alpha": f"{self.config.alpha:g}", "noise_std": f"{self.config.noise_std:g}"}
        if self.config.noise_off:
            params["noise"] = "off"
        return format_parameters(params)

    def training_noise(self, n: int, seed: int, gn: nn.Module | None, device: torch.device,
                       y: torch.Tensor | None = None) -> torch.Tensor:
        gen = torch.Generator().manual_seed(seed)
        return (torch.randn(n, 2, POINTS, generator=gen) * self.config.noise_std).to(device)

    def _noise(self, seq: GaitSequence, shapes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if self.config.noise_off:  # the control, as for ST-GAN: G's reconstruction of the original alone
            return shapes
        one = (rng.standard_normal((2, POINTS)) * self.config.noise_std).astype(np.float32)
        return np.broadcast_to(one, shapes.shape)
