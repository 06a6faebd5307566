"""A painting file as the universal model measures it: at the photo's scale.

The transform gives the photo the painting's feature statistics at each level, and those depend on
the size the painting is seen at: measured at 512 pixels for a 256-pixel photo, its strokes come out
half as large, relative to the picture, as they are in the painting. So a painting is measured at
the long side of the photo it stylizes (`style_size`), as a whole painting would be scaled to cover
it, once per size.
"""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image

from ..errors import FastNSTError
from ..images import open_rgb, resize_long_side, to_tensor

MAX_STYLE_SIZE = 1024  # paintings are read at most this large, and measured at most at this long side
MIN_STYLE_SIZE = 128   # ... and at least at this one (a tiny photo still gets strokes to see)
STYLE_SIZE_STEP = 64   # photo sizes are rounded to this, so a folder of similar photos measures once
MIN_PAINTING = 16      # pixels on the short side: below, a painting has no texture to measure


def open_painting(path: str | Path) -> Image.Image:
    """A painting file as RGB (any mode: gray, RGBA, palette), long side at most MAX_STYLE_SIZE; too
    small or unreadable: one line."""
    image = open_rgb(path)
    if min(image.size) < MIN_PAINTING:
        raise FastNSTError(f"{path}: the painting is {image.width}x{image.height}; it needs at least "
                           f"{MIN_PAINTING} pixels on each side to have a style to transfer")
    return resize_long_side(image, MAX_STYLE_SIZE)


def read_painting(path: str | Path, long_side: int = 512) -> torch.Tensor:
    """A painting file -> 1 x 3 x H x W in [0, 1], long side at most `long_side` (training's view)."""
    return to_tensor(resize_long_side(open_painting(path), long_side))


def style_size(height: int, width: int) -> int:
    """The long side a painting is measured at for a photo of this size."""
    rounded = round(max(height, width) / STYLE_SIZE_STEP) * STYLE_SIZE_STEP
    return int(min(MAX_STYLE_SIZE, max(MIN_STYLE_SIZE, rounded)))


def painting_at(painting: Image.Image, long_side: int) -> torch.Tensor:
    """A painting scaled to `long_side` on its long side, up or down: 1 x 3 x H x W in [0, 1]."""
    return to_tensor(resize_long_side(painting, long_side, enlarge=True))
