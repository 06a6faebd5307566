"""The universal model as a teacher for a style network (--teacher-weight).

For every batch the universal model stylizes the photos with the run's painting; its output is a
pixel target beside the perceptual objective's terms:

    teacher_weight * MSE(net output, universal output)      in [0, 1] RGB

The idea (the universal model's picture already has the painting's palette and strokes where the photo's
shapes are, which a Gram loss finds only over hundreds of steps) did not pay at 3 minutes on 2 cores: from
a bundled net, weight 50, the nets ended as close to the paintings as without it, in 37 % fewer steps (the
teacher's own cost). The numbers: docs/recipe.md, "Ten minutes". The perceptual terms stay beside it.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..bundled import bundled_path
from ..images import to_tensor
from ..loss import LossConfig, Objective
from ..loss.objective import StyleImage
from ..universal import load_universal


class TaughtObjective(Objective):
    """The perceptual objective plus the teacher term: forward's terms gain "teacher", counted in "total"."""

    def __init__(self, style: StyleImage | list[StyleImage], config: LossConfig, weight: float,
                 teacher: str | Path | None = None, device: str | torch.device = "cpu",
                 memory_format: torch.memory_format = torch.contiguous_format) -> None:
        super().__init__(style, config, device, memory_format)
        self.teacher_weight = weight
        self.universal = load_universal(teacher or bundled_path("universal.pt")).net.to(device).eval()
        self.universal.requires_grad_(False)
        # Each style's statistics, from the painting as the objective sees it (--style-size).
        self.teacher_styles = [self.universal.style(to_tensor(image).to(device)) for image in self.style_images]

    @torch.no_grad()
    def content_targets(self, photos: torch.Tensor) -> dict[str, torch.Tensor]:
        """The photos' content targets, and the photos: the teacher paints them in forward, for the step's style."""
        return {**super().content_targets(photos), "photos": photos}

    def forward(self, image: torch.Tensor, content_targets: dict[str, torch.Tensor],
                style: int = 0) -> dict[str, torch.Tensor]:
        targets = dict(content_targets)
        photos = targets.pop("photos")
        terms = super().forward(image, targets, style=style)
        with torch.no_grad(), torch.autocast(image.device.type, enabled=False):
            painted = self.universal(photos.float(), [(self.teacher_styles[style], 1.0)]).clamp(0, 1)
        with torch.autocast(image.device.type, enabled=False):
            terms["teacher"] = self.teacher_weight * nn.functional.mse_loss(image.float(), painted)
        terms["total"] = terms["total"] + terms["teacher"]
        return terms
