"""The whitening-colouring transform (Li et al. 2017) and the statistics it needs.

Whitening removes the photo's feature correlations (cov -> I), colouring gives the painting's
(I -> the painting's covariance), and the painting's mean is added back. Covariances are
eigen-decomposed in float64 with a floor under the eigenvalues: a flat image or a single pixel
has a zero covariance, which the floor turns into a whitening that maps its (zero) deviations to
zero, so such inputs take the painting's mean instead of failing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch

# Eigenvalues below EPS relative to the largest (and below EPS absolutely) are floored there.
EPS = 1e-5
# Whitening floors the photo's eigenvalues higher, at 1e-2 of the largest: directions that weak hold
# mostly noise, which whitening would amplify up to 300x. Measured on the five paintings and two videos
# against 1e-5: flicker 20-24 % lower, content loss 3-5 % lower, style loss lower on four (docs/universal.md).
WHITEN_EPS = 1e-2
# Statistics come from at most this many feature pixels (a regular grid over the image).
STATS_PIXELS = 512 * 512
# A frame whose covariance differs from the running average by more than this (relative, Frobenius)
# starts a new shot. Measured at 384 px: within a shot, frames differ from the average by at most
# 0.2-0.26 at any level (motion included); cuts by 0.48 to 8 at relu4_1.
CUT = 0.35


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


def moments(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """features C x H x W (one image) -> mean C x 1 and covariance C x C, float64.

    Measured on a regular grid of at most STATS_PIXELS of the feature pixels (a 1024 x 1024
    photo has a million at relu1_1: its 64 x 64 covariance needs far fewer), accumulated in
    float32 (matrix products; float64 ones are many times slower on CPUs)."""
    c, h, w = features.shape
    stride = max(1, math.ceil(math.sqrt(h * w / STATS_PIXELS)))
    # Pixels x channels: for channels_last features (what the runtime uses) a view, not a copy.
    pixels = features.detach()[:, ::stride, ::stride].permute(1, 2, 0).reshape(-1, c).float()
    mean = pixels.mean(0, keepdim=True)
    centered = pixels - mean
    cov = centered.T @ centered / max(1, centered.shape[0] - 1)
    return mean.T.double(), cov.double()


def _eig(cov: torch.Tensor, eps: float = EPS) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues (floored) and eigenvectors of a covariance."""
    values, vectors = torch.linalg.eigh(cov)
    floor = max(EPS, eps * float(values.max()))
    return values.clamp_min(floor), vectors


def whitening(mean: torch.Tensor, cov: torch.Tensor) -> ContentStats:
    values, vectors = _eig(cov, WHITEN_EPS)
    return ContentStats(mean.float(), (vectors @ torch.diag(values.rsqrt()) @ vectors.T).float())


def content_stats(features: torch.Tensor) -> ContentStats:
    return whitening(*moments(features))


def style_stats(features: torch.Tensor) -> StyleStats:
    mean, cov = moments(features)
    values, vectors = _eig(cov)
    return StyleStats(mean.float(), (vectors @ torch.diag(values.sqrt()) @ vectors.T).float())


class MovingContentStats:
    """Content statistics for a stream of frames: each level's mean and covariance averaged over
    the frames so far (exponential moving average, `smoothing` the weight of each new frame).
    Every frame is then whitened alike, so noise and small motions do not change the transform
    from one frame to the next: steadier video. A cut (a level's covariance far from its average,
    see CUT) forgets the past, so a new shot is not whitened with the last one's statistics.
    Call it as `content(level, features)`."""

    def __init__(self, smoothing: float = 0.1) -> None:
        if not 0.0 < smoothing <= 1.0:
            raise ValueError(f"smoothing must be in (0, 1], got {smoothing}")
        self.smoothing = smoothing
        self.state: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def reset(self) -> None:
        """Forget the past frames (a new clip, or a cut)."""
        self.state.clear()

    def __call__(self, level: str, features: torch.Tensor) -> ContentStats:
        mean, cov = moments(features)
        if level in self.state and self.state[level][0].shape == mean.shape:
            old_mean, old_cov = self.state[level]
            if (cov - old_cov).norm() > CUT * old_cov.norm():
                self.state.clear()  # every level starts afresh from here
            else:
                mean, cov = torch.lerp(old_mean, mean, self.smoothing), torch.lerp(old_cov, cov, self.smoothing)
        self.state[level] = (mean, cov)
        return whitening(mean, cov)


def transform(content: ContentStats, styles: Sequence[tuple[StyleStats, float]],
              alpha: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """The whole transform as one affine map of each feature pixel, f -> matrix @ f + bias (C x C,
    C x 1, float32): sum over styles of weight * (colour @ whiten @ (f - mean) + style mean),
    blended with f by alpha (0: the photo's features, 1: the full transfer)."""
    mixed, target_mean = torch.zeros_like(content.whiten), torch.zeros_like(content.mean)
    for stats, weight in styles:
        mixed += weight * (stats.colour @ content.whiten)
        target_mean += weight * stats.mean
    identity = torch.eye(len(mixed), device=mixed.device)
    return alpha * mixed + (1.0 - alpha) * identity, alpha * (target_mean - mixed @ content.mean)


def colour(features: torch.Tensor, content: ContentStats, styles: Sequence[tuple[StyleStats, float]],
           alpha: float = 1.0) -> torch.Tensor:
    """One image's features (C x H x W, or 1 x C x H x W) through `transform`, in the features'
    dtype. (UniversalNet does not call it: a decoder applies the map inside its first convolution.)"""
    c = features.shape[-3]
    matrix, bias = transform(content, styles, alpha)
    pixels = features.movedim(-3, -1).reshape(-1, c).float()
    out = torch.addmm(bias.T, pixels, matrix.T)
    return out.reshape(features.movedim(-3, -1).shape).movedim(-1, -3).to(features.dtype)
