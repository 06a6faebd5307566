"""A decoder for one level: relu{k}_1 features -> RGB, the encoder mirrored (Li et al. 2017).

Each of the encoder's 3x3 convolutions down to the level appears in reverse order, max pooling
becomes nearest-neighbour upsampling, padding is reflective; `width` scales the channels (0.5:
a quarter of the computation) except the input, which must take the encoder's features.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.vgg import cfgs

from .encoder import level_channels


def _convs(level: str) -> list[tuple[int, int] | str]:
    """The encoder's layers from the input to `level`: (in, out) channels per conv, "pool" per pool.
    Read from torchvision's VGG19 layout, not a built net (building one draws random weights)."""
    layers: list[tuple[int, int] | str] = []
    channels, block, index = 3, 1, 0
    for item in cfgs["E"]:  # VGG19
        if item == "M":
            layers.append("pool")
            block, index = block + 1, 0
            continue
        index += 1
        layers.append((channels, int(item)))
        channels = int(item)
        if f"relu{block}_{index}" == level:
            break
    return layers


class Decoder(nn.Sequential):
    def __init__(self, level: str, width: float = 0.5) -> None:
        def scaled(channels: int) -> int:
            return 3 if channels == 3 else max(8, int(round(channels * width)))

        modules: list[nn.Module] = []
        mirrored = list(reversed(_convs(level)))
        for i, layer in enumerate(mirrored):
            if layer == "pool":
                modules.append(nn.Upsample(scale_factor=2, mode="nearest"))
                continue
            c_in, c_out = layer
            source = level_channels(level) if i == 0 else scaled(c_out)
            target = scaled(c_in)
            modules += [nn.ReflectionPad2d(1), nn.Conv2d(source, target, 3)]
            if i < len(mirrored) - 1:
                modules.append(nn.ReLU(inplace=True))
        super().__init__(*modules)
        self.level, self.width = level, width
        # 1 / the encoder's mean activation at this level (UniversalNet sets it): features of any
        # scale (relu1_1 runs to hundreds) reach the first convolution near 1, so one learning
        # rate suits every level.
        self.register_buffer("input_scale", torch.ones(()))
        # Start near a grey image, not at the features' scale (relu1_1 runs to hundreds): the
        # first steps then fit the photo instead of shrinking a huge output.
        last = modules[-1]
        with torch.no_grad():
            last.weight.mul_(0.01)
            last.bias.fill_(0.45)

    def forward(self, features: torch.Tensor, affine: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """features N x C x H x W -> RGB. affine: (matrix C x C, bias C x 1), a map of each feature
        pixel to apply first (the whitening-colouring transform), folded into the first
        convolution's weights: exact, since reflection padding commutes with a per-pixel map, and
        it spares a pass over the largest feature maps."""
        scale = self.input_scale.float()
        if affine is None:
            return super().forward(features * scale.to(features.dtype))
        pad, first, *rest = self
        matrix, bias = affine
        weight = torch.einsum("oihw,ij->ojhw", first.weight.float(), matrix * scale)
        shift = first.bias.float() + torch.einsum("oihw,i->o", first.weight.float(), (bias * scale)[:, 0])
        weight = weight.to(features.dtype).contiguous(memory_format=torch.channels_last)
        x = F.conv2d(pad(features), weight, shift.to(features.dtype))
        for module in rest:
            x = module(x)
        return x
