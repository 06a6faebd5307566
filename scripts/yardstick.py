"""One objective for "how close to the painting, how much of the photo", independent of any training loss.

- style ratio: the Gram distance between the output and the painting over ImageNet VGG19 relu1_1 ...
  relu5_1, divided by the same distance between the photo and the painting (1: no closer to the painting
  than the photo itself; 0: the painting's Gram matrices exactly). The Gram distance is the mean over the
  five layers of ||G(a) - G(p)||_F / ||G(p)||_F, G the Gram matrix (relative, so
  its normalization cancels).
- content distance: ||F(output) - F(photo)||^2 / ||F(photo)||^2 at relu4_1 (0: the photo's content).

The painting is measured at the output's long side (a 256-px output against the painting at 256 px),
so strokes are compared at the scale they are drawn. Used by scripts/any_painting.py and
scripts/minutes_recipe.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from fastnst.images import open_rgb, resize_long_side, to_tensor
from fastnst.loss.functional import gram_matrix
from fastnst.universal.encoder import Encoder

LEVELS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT = "relu4_1"


@dataclass
class Yardstick:
    """`Yardstick(weights)`, then `.painting(path, size)` once and `.measure(output, photo, painting)`."""

    weights: str | Path

    def __post_init__(self) -> None:
        self.encoder = Encoder("relu5_1", self.weights)

    @torch.no_grad()
    def features(self, image: Image.Image | torch.Tensor) -> dict[str, torch.Tensor]:
        x = to_tensor(image) if isinstance(image, Image.Image) else image
        return self.encoder.taps(x.float().clamp(0, 1), LEVELS)

    def painting(self, path: str | Path, size: int) -> dict[str, torch.Tensor]:
        """The painting's Gram matrices at long side `size` (enlarged if smaller)."""
        taps = self.features(resize_long_side(open_rgb(path), size, enlarge=True))
        return {level: _gram(taps[level]) for level in LEVELS}

    def style_distance(self, taps: dict[str, torch.Tensor], painting: dict[str, torch.Tensor]) -> float:
        return sum(float((_gram(taps[level]) - painting[level]).norm() / painting[level].norm())
                   for level in LEVELS) / len(LEVELS)

    def measure(self, output: Image.Image | torch.Tensor, photo: Image.Image | torch.Tensor,
                painting: dict[str, torch.Tensor]) -> dict[str, float]:
        """{"style": style ratio, "content": content distance} of one output of one photo."""
        out, src = self.features(output), self.features(photo)
        content = float((out[CONTENT] - src[CONTENT]).pow(2).sum() / src[CONTENT].pow(2).sum())
        return {"style": self.style_distance(out, painting) / self.style_distance(src, painting),
                "content": content}


def _gram(features: torch.Tensor) -> torch.Tensor:
    """One image's Gram matrix, in float64 (the yardstick sums over up to a quarter million pixels)."""
    return gram_matrix(features.double())[0]
