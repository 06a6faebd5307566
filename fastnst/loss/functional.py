"""Perceptual losses as pure functions on tensors (Johnson et al. 2016, section 3)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """B x C x H x W -> B x C x C, normalized by C*H*W so it does not grow with image size."""
    b, c, h, w = features.shape
    flat = features.reshape(b, c, h * w)
    return flat @ flat.transpose(1, 2) / (c * h * w)


def content_loss(features: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean squared feature difference, summed over the content layers."""
    return sum(F.mse_loss(features[name], targets[name]) for name in targets)


def style_loss(features: dict[str, torch.Tensor], target_grams: dict[str, torch.Tensor],
               layer_weights: dict[str, float] | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Weighted sum over layers of the MSE between Gram matrices; also returns each layer's term.

    A target Gram of batch size 1 (the style image) is compared with every image of the batch.
    """
    per_layer = {}
    for name, target in target_grams.items():
        gram = gram_matrix(features[name])
        weight = 1.0 if layer_weights is None else layer_weights[name]
        per_layer[name] = weight * F.mse_loss(gram, target.expand_as(gram))
    return sum(per_layer.values()), per_layer


def total_variation_loss(image: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between neighbouring pixels, horizontally plus vertically."""
    dx = (image[..., :, 1:] - image[..., :, :-1]).abs().mean()
    dy = (image[..., 1:, :] - image[..., :-1, :]).abs().mean()
    return dx + dy
