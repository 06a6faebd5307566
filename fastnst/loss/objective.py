"""THE perceptual objective (Johnson et al. 2016, eq. 5, plus a video stability term): what
training minimises on average over photos, what `optimize` minimises directly for one image, and
what `evaluate` reports for a network's outputs. All three build it from one LossConfig, so a loss
printed by any of them means the same thing.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch import nn

from ..compat import stored_layer_weights
from ..errors import FastNSTError
from ..images import open_rgb, resize_long_side, to_tensor
from .functional import content_loss, gram_matrix, style_loss, total_variation_loss
from .stability import weighted_stability
from .vgg import LOSS_NETS, LossNet

STYLE_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")
# Weight of the stability term, from the flicker table in docs/training.md: 3e2 cut flicker on a
# moving clip by half for a quarter more style loss; 1e3 cut it by two thirds but washed out the texture.
STABILITY_WEIGHT = 3e2
# Per-layer style weights. Grams normalized by C*H*W and averaged over their C*C entries make the
# deep layers count 64x less than relu1_2: with equal weights relu3_3 and relu4_3 got 3 % of the
# style gradient, and the style's large shapes (the mosaic's outlines, the stars' swirls) never
# formed. These weights gave the lowest style loss at a fixed budget (docs/recipe.md); a layer not
# named here weighs 1.
STYLE_LAYER_WEIGHTS = {"relu1_2": 0.5, "relu2_2": 0.75, "relu3_3": 4.0, "relu4_3": 4.0}
# Weight of distillation's pixel term (distill.py), against the content term's 1. Distilling the
# mosaic net into a tiny one (300 steps, batch 4 at 128 px, VGG19), 10 ended closer to the teacher
# in pixels and in content (MSE 0.026, content 9.0) than 100 (0.029, 13.4), whose pixel term held
# the texture back; 1 left the colours off (MSE 0.29 at step 180).
PIXEL_WEIGHT = 10.0


StyleImage = Image.Image | str | Path


@dataclass
class LossConfig:
    """Every loss option, with the defaults; stored in checkpoints as "loss"."""

    loss_net: str = "vgg16"              # a key of vgg.LOSS_NETS
    loss_weights: str | os.PathLike | None = None      # local VGG features state dict; None: torchvision's ImageNet download
    content_layers: tuple[str, ...] = ("relu2_2",)
    style_layers: tuple[str, ...] = STYLE_LAYERS
    style_layer_weights: tuple[float, ...] | None = None  # one per style layer; None: STYLE_LAYER_WEIGHTS
    content_weight: float = 1.0
    style_weight: float = 1e4
    tv_weight: float = 1e-2
    stability_weight: float = STABILITY_WEIGHT  # training only (it needs the network); 0 turns it off
    pixel_weight: float = PIXEL_WEIGHT   # distillation only (distill.py): the pixel term's weight
    style_size: int | None = 512         # long side of the style image as the loss net sees it
    style_boost: float = 1.0             # up to this many times style_weight for a painting fainter than the photos
    style_gains: tuple[float, ...] | None = None  # each style's factor, measured by style_gains_for at a run's start

    def __post_init__(self) -> None:
        for name in ("content_layers", "style_layers", "style_layer_weights", "style_gains"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, tuple(value))
        if self.loss_weights is not None:
            self.loss_weights = str(self.loss_weights)
        if self.style_layer_weights is None:
            self.style_layer_weights = tuple(STYLE_LAYER_WEIGHTS.get(n, 1.0) for n in self.style_layers)

    def check(self) -> None:
        """Raise FastNSTError for options no loss can be built from."""
        if self.loss_net not in LOSS_NETS:
            raise FastNSTError(f"unknown loss network '{self.loss_net}': choose one of {', '.join(LOSS_NETS)}")
        if not self.content_layers or not self.style_layers:
            raise FastNSTError("at least one content layer and one style layer are needed")
        weights = (self.content_weight, self.style_weight, self.tv_weight, self.stability_weight, self.pixel_weight)
        if not all(math.isfinite(w) and w >= 0 for w in weights):
            raise FastNSTError("loss weights must be numbers, not negative")
        if self.style_layer_weights is not None and len(self.style_layer_weights) != len(self.style_layers):
            raise FastNSTError(f"{len(self.style_layer_weights)} style layer weights given for "
                               f"{len(self.style_layers)} style layers")
        if self.style_gains is not None and not all(math.isfinite(g) and g > 0 for g in self.style_gains):
            raise FastNSTError("style gains must be positive numbers")
        if not (math.isfinite(self.style_boost) and self.style_boost >= 1):
            raise FastNSTError("--style-boost must be a number of at least 1 (1: none)")
        if self.style_size is not None and self.style_size < 16:
            raise FastNSTError("--style-size must be at least 16 pixels")

    def to_dict(self) -> dict[str, Any]:
        """Plain values (lists for tuples), as checkpoints store them."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(LossConfig))

    @classmethod
    def from_dict(cls, stored: dict[str, Any], **overrides: Any) -> "LossConfig":
        """A stored configuration (a checkpoint's `loss`) with overrides (None values ignored);
        anything not stored falls back to the defaults."""
        values = {k: v for k, v in stored.items() if k in cls.field_names()}
        values = stored_layer_weights(values)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return LossConfig(**values)

    def loss_only(self) -> "LossConfig":
        """Just the loss options of this config (of a TrainConfig, say)."""
        return LossConfig(**{k: getattr(self, k) for k in LossConfig.field_names()})


class Objective(nn.Module):
    """content_weight * content + style_weight * style + tv_weight * TV (+ stability_weight *
    stability, in training) through a frozen VGG, each style image's Gram matrices computed once
    (one style, or several for a net of several styles: `style` picks one per call).

    Call it on an image batch and the content targets of the photos it should keep
    (`content_targets(photos)`); it returns every term, weighted, as 0-dim fp32 tensors:
    content, style, style_<layer>..., tv and their sum, total. Under autocast the loss network runs
    in the autocast dtype and the losses in fp32 (a Gram matrix sums H*W products: beyond fp16's
    range and bf16's precision).
    """

    def __init__(self, style: StyleImage | list[StyleImage], config: LossConfig | None = None,
                 device: str | torch.device = "cpu",
                 memory_format: torch.memory_format = torch.contiguous_format) -> None:
        super().__init__()
        self.config = config = (config or LossConfig()).loss_only()
        config.check()
        styles = style if isinstance(style, (list, tuple)) else [style]
        self.style_images = [resize_long_side(open_rgb(s) if isinstance(s, (str, Path)) else s.convert("RGB"),
                                              config.style_size) for s in styles]
        self.style_image = self.style_images[0]
        layers = list(dict.fromkeys(config.content_layers + config.style_layers))
        self.lossnet = LossNet(config.loss_net, layers, config.loss_weights).to(device, memory_format=memory_format)
        self.style_layer_weights = dict(zip(config.style_layers, config.style_layer_weights))
        # The deepest content layer: content targets need the loss net only up to there.
        self.content_upto = max(config.content_layers, key=self.lossnet.names.index)
        # Each style's Gram matrices, computed once.
        self.grams_per_style = []
        with torch.no_grad():
            for image in self.style_images:
                features = self.lossnet(to_tensor(image).to(device))
                self.grams_per_style.append({n: gram_matrix(features[n].float()) for n in config.style_layers})
        self.style_grams = self.grams_per_style[0]
        self.style_gains = list(config.style_gains or [1.0] * len(self.style_images))
        if len(self.style_gains) != len(self.style_images):
            raise FastNSTError(f"{len(self.style_gains)} style gains stored for {len(self.style_images)} styles")

    def _pull(self, grams: dict[str, torch.Tensor]) -> torch.Tensor:
        """How hard Gram matrices pull under the style loss: its value against all-zero targets, per image."""
        return sum(w * gram.flatten(1).square().mean(1) for gram, w in
                   zip(grams.values(), self.style_layer_weights.values()))

    @torch.no_grad()
    def style_gains_for(self, photos: torch.Tensor | list[torch.Tensor]) -> list[float]:
        """Each style's factor on style_weight, from 1 to style_boost: the square root of how much fainter
        the painting's Gram matrices are than the photos' (their mean). The Gram loss grows with the
        square of the painting's features, so at one weight a faint painting (muted, soft, small
        strokes) pulled a quarter as hard as the photos' own statistics and its network stayed
        near the photo (docs/recipe.md, "What each part contributes"). `photos`: a batch, or a list of
        batches, measured one at a time (the memory of a training step's loss pass, not of all at once)."""
        pulls = []
        for batch in photos if isinstance(photos, list) else [photos]:
            features = self.lossnet(batch)
            pulls.append(self._pull({n: gram_matrix(features[n].float()) for n in self.config.style_layers}))
        photos_pull = torch.cat(pulls).mean().item()
        return [min(self.config.style_boost, max(1.0, math.sqrt(photos_pull / max(self._pull(grams).item(), 1e-12))))
                for grams in self.grams_per_style]

    @torch.no_grad()
    def content_targets(self, photos: torch.Tensor) -> dict[str, torch.Tensor]:
        features = self.lossnet(photos, upto=self.content_upto)
        return {n: features[n] for n in self.config.content_layers}

    def forward(self, image: torch.Tensor, content_targets: dict[str, torch.Tensor],
                style: int = 0) -> dict[str, torch.Tensor]:
        """The loss terms of `image` against the photos' content targets and the style of index `style`."""
        c = self.config
        features = self.lossnet(image)
        with torch.autocast(image.device.type, enabled=False):
            features = {n: f.float() for n, f in features.items()}
            targets = {n: t.float() for n, t in content_targets.items()}
            raw_style, per_layer = style_loss(features, self.grams_per_style[style], self.style_layer_weights)
            style_weight = c.style_weight * self.style_gains[style]
            terms = {"content": c.content_weight * content_loss(features, targets),
                     "style": style_weight * raw_style}
            terms.update({f"style_{n}": style_weight * v for n, v in per_layer.items()})
            terms["tv"] = c.tv_weight * total_variation_loss(image.float())
            terms["total"] = terms["content"] + terms["style"] + terms["tv"]
        return terms

    def stability(self, model: nn.Module, photos: torch.Tensor, stylized: torch.Tensor, step: int,
                  seed: int = 0) -> torch.Tensor:
        """The weighted stability term (loss/stability.py) of `model`, which turned `photos` into
        `stylized`; its random motions come from (seed, step), so a resumed run draws the same."""
        return weighted_stability(self.config.stability_weight, model, photos, stylized, step, seed)
