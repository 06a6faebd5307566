"""The whitening-colouring transform (Li et al. 2017) and the statistics it needs.

Whitening removes the photo's feature correlations (cov -> I), colouring gives the painting's
(I -> the painting's covariance), and the painting's mean is added back. Covariances are
eigen-decomposed in float64 with a floor under the eigenvalues: a flat image or a single pixel
has a zero covariance, which the floor turns into a whitening that maps its (zero) deviations to
zero, so such inputs take the painting's mean instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

# Eigenvalues below EPS relative to the largest (and below EPS absolutely) are floored there.
EPS = 1e-5


@dataclass
class ContentStats:
    """One image's features: mean (C x 1) and whitening matrix (C x C), float32."""
    mean: torch.Tensor
    whiten: torch.Tensor


@dataclass
class StyleStats:
    """A painting's features: mean (C x 1) and colouring matrix (C x C), float32."""
    mean: torch.Tensor
    colour: torch.Tensor


def _mean_and_eig(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """features C x H x W (one image) -> mean C x 1, eigenvalues (floored) and eigenvectors of the covariance."""
    flat = features.detach().reshape(features.shape[0], -1).double()
    mean = flat.mean(1, keepdim=True)
    centered = flat - mean
    cov = centered @ centered.T / max(1, flat.shape[1] - 1)
    values, vectors = torch.linalg.eigh(cov)
    floor = max(EPS, EPS * float(values.max()))
    return mean, values.clamp_min(floor), vectors


def content_stats(features: torch.Tensor) -> ContentStats:
    mean, values, vectors = _mean_and_eig(features)
    whiten = vectors @ torch.diag(values.rsqrt()) @ vectors.T
    return ContentStats(mean.float(), whiten.float())


def style_stats(features: torch.Tensor) -> StyleStats:
    mean, values, vectors = _mean_and_eig(features)
    colour_matrix = vectors @ torch.diag(values.sqrt()) @ vectors.T
    return StyleStats(mean.float(), colour_matrix.float())


def colour(features: torch.Tensor, content: ContentStats, styles: Sequence[tuple[StyleStats, float]],
           alpha: float = 1.0) -> torch.Tensor:
    """One image's features (C x H x W) with the styles' statistics: sum over styles of
    weight * (colour @ whiten @ (f - mean) + style mean), blended with the features by alpha
    (0: the photo's features, 1: the full transfer). Returns the features' dtype."""
    c, h, w = features.shape
    flat = features.reshape(c, -1).float()
    whitened = content.whiten @ (flat - content.mean)
    coloured = sum(weight * (stats.colour @ whitened + stats.mean) for stats, weight in styles)
    out = alpha * coloured + (1.0 - alpha) * flat
    return out.reshape(c, h, w).to(features.dtype)
