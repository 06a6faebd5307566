"""A painting file as the universal model measures it."""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import FastNSTError
from ..images import open_rgb, resize_long_side, to_tensor

STYLE_SIZE = 512      # paintings are measured at this long side (smaller ones as they are)
MIN_PAINTING = 16     # pixels on the short side: below, a painting has no texture to measure


def read_painting(path: str | Path) -> torch.Tensor:
    """A painting file -> 1 x 3 x H x W in [0, 1], long side at most STYLE_SIZE; any mode (gray,
    RGBA, palette) as RGB; too small or unreadable: one line."""
    image = open_rgb(path)
    if min(image.size) < MIN_PAINTING:
        raise FastNSTError(f"{path}: the painting is {image.width}x{image.height}; it needs at least "
                           f"{MIN_PAINTING} pixels on each side to have a style to transfer")
    return to_tensor(resize_long_side(image, STYLE_SIZE))
