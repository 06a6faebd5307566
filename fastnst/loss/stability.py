"""A training term for video: the net should move with the picture and ignore sensor noise.

A style net applied frame by frame flickers because tiny changes of its input (a pixel of motion,
a little noise) change its output a lot (Gupta et al. 2017, "Characterizing and Improving Stability
in Neural Style Transfer"). This term shows it a second, synthetic "next frame" of every training
crop, the crop moved by a small random motion plus noise, and asks that stylizing the moved crop
give the moved stylization:

    stability = mean over pixels visible in both frames of (T(warp(x) + noise) - warp(T(x)))^2

With no motion this is Gupta et al.'s noise-robustness loss; the motion makes it the two-frame
temporal loss of Huang et al. 2017 / Ruder et al. 2016 with a flow we know exactly, so no optical
flow or video data is needed. The randomness comes from a generator the caller seeds (training
seeds it by (seed, step), so a resumed run draws the same motions).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

# How far the synthetic next frame moves: about what a handheld camera or a walking person does
# between two frames at 25-30 fps. Noise is roughly the grain of a phone video (5/255).
MAX_SHIFT_PX = 4.0
MAX_ZOOM = 0.03
MAX_ROTATION_DEG = 1.0
NOISE_STD = 0.02


def random_motion(batch: int, height: int, width: int, generator: torch.Generator) -> torch.Tensor:
    """B x 2 x 3 affine matrices (for F.affine_grid): a small random shift, zoom and rotation each."""
    def uniform(limit: float) -> torch.Tensor:
        return (torch.rand(batch, generator=generator) * 2 - 1) * limit

    zoom = 1 + uniform(MAX_ZOOM)
    angle = uniform(math.radians(MAX_ROTATION_DEG))
    # affine_grid works in [-1, 1] coordinates: a shift of one pixel is 2 / side.
    shift_x, shift_y = uniform(MAX_SHIFT_PX) * 2 / width, uniform(MAX_SHIFT_PX) * 2 / height
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    return torch.stack([torch.stack([cos, -sin, shift_x], 1), torch.stack([sin, cos, shift_y], 1)], 1)


def warp(images: torch.Tensor, motion: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(images moved by `motion`, B x 1 x H x W mask of the pixels that came from inside the frame)."""
    grid = F.affine_grid(motion.to(images), list(images.shape), align_corners=False)
    moved = F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    inside = (grid.abs() <= 1).all(-1, keepdim=True).permute(0, 3, 1, 2)
    return moved, inside.to(images.dtype)


def stability_loss(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor,
                   generator: torch.Generator, noise_std: float = NOISE_STD) -> torch.Tensor:
    """Mean squared difference between T(warp(x) + noise) and warp(y), where y = T(x) is the
    output the training step computed already (gradients flow through both)."""
    b, _, h, w = x.shape
    motion = random_motion(b, h, w, generator)
    noise = torch.randn(x.shape, generator=generator).to(x) * noise_std
    x_next, inside = warp(x, motion)
    y_expected, _ = warp(y, motion)
    diff = (model(x_next + noise) - y_expected).pow(2) * inside
    return diff.sum() / (inside.sum() * x.shape[1]).clamp_min(1)


def weighted_stability(weight: float, model: torch.nn.Module, photos: torch.Tensor, stylized: torch.Tensor,
                       step: int, seed: int = 0) -> torch.Tensor:
    """weight * stability_loss, 0-dim fp32; its random motions come from (seed, step), so a
    resumed run draws the same ones."""
    if weight == 0:
        return torch.zeros((), device=photos.device)
    motion_rng = torch.Generator().manual_seed((seed << 32) + step)  # own generator: global RNG untouched
    return weight * stability_loss(model, photos, stylized, motion_rng).float()
