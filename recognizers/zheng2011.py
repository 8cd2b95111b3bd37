"""Zheng et al., "Robust view transformation model for gait recognition", ICIP 2011: GEI -> robust PCA low-rank
features -> a learned projection, with a view transformation model for cross-view matching; nearest neighbour.

Published: robust PCA (principal component pursuit) separates the GEIs of training sequences into a low-rank part
and sparse errors (bags, coats, segmentation faults); a PLS-based view transformation model maps features between
views; nearest-neighbour matching. Rapid, CPU only.

Our reconstruction, per training view: RPCA (inexact ALM, :func:`recognizers.linear.robust_pca`) of the view's
GEI matrix (64x44 GEIs as rows); the right singular vectors of the low-rank part that it really spans, completed
up to ``rank`` by the GEIs' principal directions outside that subspace (:func:`recognizers.linear.principal_basis`:
no arbitrary null-space vectors, so the features are the same on every CPU), form the view's basis; a GEI's
feature is its robust projection on that basis (sparse residuals above ``sparse_tau`` ignored); PCA+LDA on those
features, learned per view from the training subjects. Cross-view, gallery features are first
moved to the probe's view by an SVD view transformation model (Makihara 2006 / Kusakunniran 2009) instead of
Zheng's PLS one; each view's LDA then compares them by Euclidean distance.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from benchmark.api import CheckpointError, Embedding, FitOptions, Recognizer, Sequences
from recognizers.linear import (
    LinearMap,
    ViewTransform,
    pairwise_euclidean,
    pca_lda,
    principal_basis,
    robust_pca,
    robust_project,
)


@dataclasses.dataclass(frozen=True)
class Zheng2011Config:
    height: int = 64
    width: int = 44
    rank: int = 60
    rpca_lambda_scale: float = 1.0  # times Candès et al.'s 1 / sqrt(max(m, n))
    sparse_tau: float = 0.25
    vtm_rank: int = 0  # 0 = as many as training subjects
    seed: int = 0  # unused: training is deterministic; kept so every recognizer config has one


class Zheng2011(Recognizer):
    """RPCA features, per-view PCA+LDA and an SVD view transformation model (see the module docstring)."""

    name = "zheng2011"
    Config = Zheng2011Config
    input_kind = "gei"
    config: Zheng2011Config

    def __init__(self, config: Zheng2011Config | None = None) -> None:
        super().__init__(config)
        self.views: list[int] = []
        self.mean: dict[int, np.ndarray] = {}  # view -> (D,)
        self.basis: dict[int, np.ndarray] = {}  # view -> (r, D)
        self.lda: dict[int, LinearMap] = {}  # view -> (r,) -> (k,)
        self.vtm: ViewTransform | None = None


    def _fit(self, train: Sequences, options: FitOptions) -> dict[str, Any]:
        cfg = self.config
        x = train.geis().reshape(len(train), -1).astype(np.float64)  # (N, D)
        feats = np.zeros((len(train), cfg.rank))
        iterations, spanned = {}, {}
        self.views = sorted(set(train.views.tolist()))
        for v in self.views:
            rows = train.views == v
            xv = x[rows]
            lam = cfg.rpca_lambda_scale / np.sqrt(max(xv.shape))
            low, _, iterations[v] = robust_pca(xv, lam)
            # The low-rank part's directions, completed by the data's own principal directions outside them
            # (zero rows where the view has fewer sequences than `rank`).
            self.basis[v], self.mean[v], spanned[v] = principal_basis(low, xv, cfg.rank)
            feats[rows] = robust_project(xv - self.mean[v], self.basis[v], cfg.sparse_tau)
            self.lda[v] = pca_lda(feats[rows], train.subjects[rows])
        nm = train.condition_types == "nm"
        use = nm if len(set(train.subjects[nm].tolist())) >= 2 else np.ones(len(train), bool)
        rank = cfg.vtm_rank or len(set(train.subjects.tolist()))
        self.vtm = ViewTransform.fit(feats[use], train.subjects[use], train.views[use], rank) if len(self.views) > 1 \
            else None
        return {"rpca_iterations": {str(v): int(i) for v, i in iterations.items()},
                "low_rank_dims": {str(v): int(k) for v, k in spanned.items()}}

    def embed(self, data: Sequences) -> Embedding:
        self._check_fitted()
        x = data.geis().reshape(len(data), -1).astype(np.float64)
        out = np.zeros((len(data), self.config.rank))
        for v in sorted(set(data.views.tolist())):
            if v not in self.basis:
                raise ValueError(f"{self.name} was trained on views {self.views}; it cannot embed view {v}")
            rows = data.views == v
            out[rows] = robust_project(x[rows] - self.mean[v], self.basis[v], self.config.sparse_tau)
        return Embedding(out, data.views.copy())

    def compare(self, gallery: Embedding, probes: Embedding) -> np.ndarray:
        out = np.zeros((len(probes), len(gallery)))
        for pv in np.unique(probes.views):
            prow = probes.views == pv
            p = self.lda[int(pv)](probes.features[prow])  # (p, k) in the probe view's discriminant space
            for gv in np.unique(gallery.views):
                gcol = gallery.views == gv
                g = gallery.features[gcol]
                if gv != pv:
                    if self.vtm is None:
                        raise ValueError(f"{self.name} was trained on one view only; it cannot compare views")
                    g = self.vtm.transform(g, int(gv), int(pv))
                out[np.ix_(prow, gcol)] = pairwise_euclidean(self.lda[int(pv)](g), p)
        return out

    def state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays: dict[str, np.ndarray] = {}
        for v in self.views:
            arrays[f"view{v:03d}.mean"] = self.mean[v]
            arrays[f"view{v:03d}.basis"] = self.basis[v]
            arrays[f"view{v:03d}.lda_mean"] = self.lda[v].mean
            arrays[f"view{v:03d}.lda_weights"] = self.lda[v].weights
        if self.vtm is not None:
            arrays.update(vtm_views=self.vtm.views, vtm_means=self.vtm.means, vtm_blocks=self.vtm.blocks)
        return arrays, {"views": self.views}

    def set_state(self, arrays: Mapping[str, np.ndarray], extra: Mapping[str, Any]) -> None:
        d = self.config.height * self.config.width
        self.views = [int(v) for v in extra.get("views", [])]
        try:
            for v in self.views:
                self.mean[v] = arrays[f"view{v:03d}.mean"]
                self.basis[v] = arrays[f"view{v:03d}.basis"]
                self.lda[v] = LinearMap(arrays[f"view{v:03d}.lda_mean"], arrays[f"view{v:03d}.lda_weights"])
                if self.mean[v].shape != (d,) or self.basis[v].shape != (self.config.rank, d):
                    raise CheckpointError(
                        f"{self.name} checkpoint arrays of view {v} have shapes {self.mean[v].shape}, "
                        f"{self.basis[v].shape}; its config builds ({d},) and ({self.config.rank}, {d})"
                    )
            self.vtm = None
            if "vtm_blocks" in arrays:
                self.vtm = ViewTransform(arrays["vtm_views"], arrays["vtm_means"], arrays["vtm_blocks"])
        except KeyError as exc:
            raise CheckpointError(f"{self.name} checkpoint lacks the array {exc.args[0]!r}") from None
