"""The per-image objective of Johnson et al. (eq. 5): what training minimises on average, what
`optimize` minimises directly for one image, and what `evaluate` reports for a net's outputs.

Built from the same pieces and the same defaults as training (TrainConfig), so a loss printed by
any of the three means the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch import nn

from .errors import FastNSTError
from .images import open_rgb, resize_max, to_tensor
from .losses import content_loss, gram_matrix, style_loss, total_variation_loss
from .lossnet import LossNet
from .training import TrainConfig

_TRAIN_DEFAULTS = TrainConfig()


@dataclass
class LossConfig:
    """The loss options of TrainConfig (same names, same defaults)."""

    loss_net: str = _TRAIN_DEFAULTS.loss_net
    loss_weights: str | None = _TRAIN_DEFAULTS.loss_weights
    content_layers: tuple[str, ...] = _TRAIN_DEFAULTS.content_layers
    style_layers: tuple[str, ...] = _TRAIN_DEFAULTS.style_layers
    style_layer_weights: tuple[float, ...] | None = _TRAIN_DEFAULTS.style_layer_weights
    content_weight: float = _TRAIN_DEFAULTS.content_weight
    style_weight: float = _TRAIN_DEFAULTS.style_weight
    tv_weight: float = _TRAIN_DEFAULTS.tv_weight
    style_size: int | None = _TRAIN_DEFAULTS.style_size

    def __post_init__(self) -> None:
        for name in ("content_layers", "style_layers", "style_layer_weights"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, tuple(value))
        if self.loss_weights is not None:
            self.loss_weights = str(self.loss_weights)
        if not self.content_layers or not self.style_layers:
            raise FastNSTError("at least one content layer and one style layer are needed")
        if min(self.content_weight, self.style_weight, self.tv_weight) < 0:
            raise FastNSTError("loss weights must not be negative")
        if self.style_layer_weights is not None and len(self.style_layer_weights) != len(self.style_layers):
            raise FastNSTError(f"{len(self.style_layer_weights)} style layer weights given for "
                               f"{len(self.style_layers)} style layers")
        if self.style_size is not None and self.style_size < 16:
            raise FastNSTError("--style-size must be at least 16 pixels")

    @classmethod
    def from_checkpoint(cls, train_args: dict[str, Any], loss_net: dict[str, Any],
                        **overrides: Any) -> "LossConfig":
        """The loss a checkpoint was trained with (its stored loss_net and train_args), with
        overrides (None values are ignored); anything not stored falls back to the defaults."""
        stored: dict[str, Any] = {k: train_args[k] for k in (f.name for f in fields(cls)) if k in train_args}
        renamed = {"name": "loss_net", "weights": "loss_weights", "content_layers": "content_layers",
                   "style_layers": "style_layers", "style_layer_weights": "style_layer_weights"}
        stored.update({ours: loss_net[theirs] for theirs, ours in renamed.items() if theirs in loss_net})
        if stored.get("loss_weights") == "imagenet":  # how training records "torchvision's download"
            stored["loss_weights"] = None
        stored.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**stored)


class StyleObjective(nn.Module):
    """content_weight * content + style_weight * style + tv_weight * TV through a frozen LossNet,
    with the style image's Gram matrices computed once.

    Call it on an image batch and the content targets of the photos it should keep; it returns
    every term (already weighted) as 0-dim tensors: content, style, style_<layer>..., tv, total.
    """

    def __init__(self, style: Image.Image | str | Path, config: LossConfig | None = None,
                 device: str | torch.device = "cpu") -> None:
        super().__init__()
        self.config = config = config or LossConfig()
        style_image = open_rgb(style) if isinstance(style, (str, Path)) else style.convert("RGB")
        style_image = resize_max(style_image, config.style_size)
        layers = list(dict.fromkeys(config.content_layers + config.style_layers))
        self.lossnet = LossNet(config.loss_net, layers, config.loss_weights).to(device)
        weights = config.style_layer_weights or (1.0,) * len(config.style_layers)
        self.layer_weights = dict(zip(config.style_layers, weights))
        # The deepest content layer: content targets need the loss net only up to there.
        self._content_upto = self.lossnet.names[max(self.lossnet.names.index(n) for n in config.content_layers)]
        with torch.no_grad():
            features = self.lossnet(to_tensor(style_image).to(device))
            self.style_grams = {n: gram_matrix(features[n]) for n in config.style_layers}

    @torch.no_grad()
    def content_targets(self, content: torch.Tensor) -> dict[str, torch.Tensor]:
        features = self.lossnet(content, upto=self._content_upto)
        return {n: f for n, f in features.items() if n in self.config.content_layers}

    def forward(self, image: torch.Tensor, content_targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        c = self.config
        features = self.lossnet(image)
        raw_style, per_layer = style_loss(features, self.style_grams, self.layer_weights)
        terms = {"content": c.content_weight * content_loss(features, content_targets),
                 "style": c.style_weight * raw_style}
        terms.update({f"style_{n}": c.style_weight * v for n, v in per_layer.items()})
        terms["tv"] = c.tv_weight * total_variation_loss(image)
        terms["total"] = terms["content"] + terms["style"] + terms["tv"]
        return terms
