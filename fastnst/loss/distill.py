"""The distillation objective: a student net learns to make what a trained teacher net makes.

No painting: the teacher's output on each training crop is the target.

    pixel_weight * MSE(student, teacher)                      in [0, 1] RGB
  + content_weight * content loss of the student's output against the teacher's output's features
  + style_weight * style loss of the student's output against the Gram matrices of the teacher's
    output, image by image (the texture: pixel and feature terms alone give a blurred average of it)
  + tv_weight * TV(student)  (+ stability_weight * stability, as in Objective)

It answers the calls training makes of an Objective (content_targets, forward, stability), so one
train_step serves both.
"""

from __future__ import annotations

import torch
from torch import nn

from .functional import content_loss, gram_matrix, style_loss, total_variation_loss
from .objective import LossConfig
from .stability import weighted_stability
from .vgg import LossNet


class DistillObjective(nn.Module):
    """The loss terms of a student's output against a frozen teacher's; `teacher` is a one-style
    net. Terms, weighted, as 0-dim fp32 tensors: pixel, content, style, style_<layer>..., tv and
    their sum, total."""

    def __init__(self, teacher: nn.Module, config: LossConfig | None = None, device: str | torch.device = "cpu",
                 memory_format: torch.memory_format = torch.contiguous_format) -> None:
        super().__init__()
        self.config = config = (config or LossConfig()).loss_only()
        config.check()
        self.teacher = teacher.to(device, memory_format=memory_format).eval().requires_grad_(False)
        self.style_layer_weights = dict(zip(config.style_layers, config.style_layer_weights))
        layers = list(dict.fromkeys(config.content_layers + config.style_layers))
        self.lossnet = LossNet(config.loss_net, layers, config.loss_weights)
        self.lossnet = self.lossnet.to(device, memory_format=memory_format)

    @torch.no_grad()
    def content_targets(self, photos: torch.Tensor) -> dict[str, torch.Tensor]:
        """The teacher's output on the photos ("output"), its features at the content layers and
        its Gram matrices at the style layers ("gram_<layer>")."""
        output = self.teacher(photos)
        features = self.lossnet(output)
        with torch.autocast(output.device.type, enabled=False):
            grams = {f"gram_{n}": gram_matrix(features[n].float()) for n in self.config.style_layers}
        return {"output": output, **{n: features[n] for n in self.config.content_layers}, **grams}

    def forward(self, image: torch.Tensor, targets: dict[str, torch.Tensor], style: int = 0) -> dict[str, torch.Tensor]:
        """The loss terms of the student's output `image` against the teacher's (`content_targets`)."""
        c = self.config
        features = self.lossnet(image)
        with torch.autocast(image.device.type, enabled=False):
            features = {n: f.float() for n, f in features.items()}
            targets = {n: t.float() for n, t in targets.items()}
            output = targets.pop("output")
            grams = {n: targets.pop(f"gram_{n}") for n in c.style_layers}
            raw_style, per_layer = style_loss(features, grams, self.style_layer_weights)
            terms = {"pixel": c.pixel_weight * nn.functional.mse_loss(image.float(), output),
                     "content": c.content_weight * content_loss(features, targets),
                     "style": c.style_weight * raw_style}
            terms.update({f"style_{n}": c.style_weight * v for n, v in per_layer.items()})
            terms["tv"] = c.tv_weight * total_variation_loss(image.float())
            terms["total"] = terms["pixel"] + terms["content"] + terms["style"] + terms["tv"]
        return terms

    def stability(self, model: nn.Module, photos: torch.Tensor, stylized: torch.Tensor, step: int,
                  seed: int = 0) -> torch.Tensor:
        """The weighted stability term of the student, as in Objective.stability."""
        return weighted_stability(self.config.stability_weight, model, photos, stylized, step, seed)
