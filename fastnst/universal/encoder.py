"""The frozen VGG19 encoder of universal style transfer: RGB in [0, 1] -> relu{k}_1 features."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..errors import FastNSTError
from ..loss.vgg import IMAGENET_MEAN, IMAGENET_STD, _load_features, layer_names, vgg_features

LEVELS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


def check_levels(levels: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    unknown = [level for level in levels if level not in LEVELS]
    if unknown or not levels:
        raise FastNSTError(f"levels {', '.join(unknown) or '(none)'}: choose from {', '.join(LEVELS)}")
    if len(set(levels)) != len(levels):
        raise FastNSTError(f"levels {', '.join(levels)}: each level once")
    return tuple(levels)


def level_channels(level: str) -> int:
    return {"relu1_1": 64, "relu2_1": 128, "relu3_1": 256, "relu4_1": 512, "relu5_1": 512}[level]


class Encoder(nn.Module):
    """VGG19 `features` up to the deepest level, frozen; `forward(x, level)` stops there.

    weights: a torchvision vgg19().features state dict file, None (the ImageNet weights through
    torchvision's download) or "random" (tests of mechanics); ignored when `state` is given.
    """

    def __init__(self, deepest: str = "relu4_1", weights: str | Path | None = None,
                 state: dict[str, torch.Tensor] | None = None) -> None:
        super().__init__()
        names = layer_names(vgg_features("vgg19"))
        end = names.index(deepest) + 1
        if state is None:
            features = _load_features("vgg19", weights, "--encoder-weights")[:end]
        else:
            features = vgg_features("vgg19")[:end]
            own = features.state_dict()  # a deeper encoder's state holds these and more: the rest is left out
            features.load_state_dict({k: v.float() for k, v in state.items() if k in own})
        for module in features:
            if isinstance(module, nn.ReLU):
                module.inplace = True  # taps are relu outputs, read next by a conv or a pool: nothing overwrites them
        self.features, self.names, self.deepest = features, names[:end], deepest
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> "Encoder":
        return super().train(False)  # frozen whatever the caller asks

    def forward(self, x: torch.Tensor, level: str) -> torch.Tensor:
        return self.taps(x, (level,))[level]

    def taps(self, x: torch.Tensor, levels: tuple[str, ...] | list[str]) -> dict[str, torch.Tensor]:
        """The features at each of `levels`, in one pass that stops at the deepest of them."""
        x = (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        wanted, out = set(levels), {}
        for name, module in zip(self.names, self.features):
            x = module(x)
            if name in wanted:
                out[name] = x
                if len(out) == len(wanted):
                    break
        return out
