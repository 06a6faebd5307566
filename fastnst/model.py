"""The image transformation network of Johnson et al. 2016, with Ulyanov's instance norm.

Layer names follow PyTorch's fast_neural_style example (conv1, in1, ..., deconv3) so that its
trained weights load with a one-line key rename (see checkpoint.py).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .errors import FastNSTError

# The default is Johnson et al.'s net; "light" is the same shape with half the channels and
# depthwise-separable 3x3 convolutions in the residual blocks and the upsampling layers: about a
# tenth of the multiply-adds, for real time on a CPU (see README, "Speed", for its quality cost).
ARCHS = {"johnson": {"channels": (32, 64, 128), "num_residual": 5},
         "light": {"channels": (16, 32, 64), "num_residual": 5}}


@dataclass
class ModelConfig:
    """Everything needed to rebuild a TransformerNet; stored in every checkpoint."""

    channels: tuple[int, int, int] = (32, 64, 128)
    num_residual: int = 5
    # Pixel scale the layers work at: the net takes and returns [0, 1] RGB but computes in
    # 0..255, as PyTorch's example does. With Adam's lr 1e-3 this trains markedly faster than
    # computing in [0, 1], where the output layer's steps are 255x larger relative to its weights.
    value_scale: float = 255.0
    arch: str = "johnson"  # a key of ARCHS; "light" makes the 3x3 convs depthwise-separable

    @classmethod
    def for_arch(cls, arch: str) -> "ModelConfig":
        """The config of a named architecture with its own channel widths."""
        if arch not in ARCHS:
            raise FastNSTError(f"unknown architecture '{arch}': choose one of {', '.join(ARCHS)}")
        return cls(**ARCHS[arch], arch=arch)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        d = dict(d)
        if "channels" in d:
            d["channels"] = tuple(d["channels"])
        return cls(**d)


def depthwise(channels: int, kernel: int, stride: int = 1) -> nn.Conv2d:
    """One reflection-padded k x k filter per channel (its bias would duplicate the pointwise one's)."""
    return nn.Conv2d(channels, channels, kernel, stride, padding=kernel // 2, padding_mode="reflect",
                     groups=channels, bias=False)


class ConvLayer(nn.Module):
    """Reflection-padded convolution (padding_mode='reflect' is ReflectionPad2d + Conv2d).

    separable: a depthwise k x k convolution then a pointwise 1 x 1 one, about k*k times fewer
    multiply-adds than a full convolution when the channels are many.
    """

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, separable: bool = False) -> None:
        super().__init__()
        if separable:
            self.conv2d = nn.Sequential(depthwise(c_in, kernel, stride), nn.Conv2d(c_in, c_out, 1))
        else:
            self.conv2d = nn.Conv2d(c_in, c_out, kernel, stride, padding=kernel // 2, padding_mode="reflect")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2d(x)


class UpsampleConvLayer(ConvLayer):
    """Nearest-neighbour 2x upsample then conv: no transposed conv, so no checkerboard artifacts.

    separable: pointwise first, and before the upsample (a 1 x 1 conv commutes with it), so the
    depthwise conv works on the fewer output channels at the doubled resolution: ~20% faster on
    a CPU than depthwise-then-pointwise after the upsample, whose memory traffic dominates there.
    """

    def __init__(self, c_in: int, c_out: int, kernel: int, separable: bool = False) -> None:
        super().__init__(c_in, c_out, kernel, separable=separable)
        if separable:
            self.conv2d = nn.Sequential(nn.Conv2d(c_in, c_out, 1), depthwise(c_out, kernel))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if isinstance(self.conv2d, nn.Sequential):
            pointwise, spatial = self.conv2d
            return spatial(F.interpolate(pointwise(x), scale_factor=2, mode="nearest"))
        return self.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"))


class ResidualBlock(nn.Module):
    def __init__(self, channels: int, separable: bool = False) -> None:
        super().__init__()
        self.conv1 = ConvLayer(channels, channels, 3, separable=separable)
        self.in1 = nn.InstanceNorm2d(channels, affine=True)
        self.conv2 = ConvLayer(channels, channels, 3, separable=separable)
        self.in2 = nn.InstanceNorm2d(channels, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.in1(self.conv1(x)))
        return x + self.in2(self.conv2(y))


class TransformerNet(nn.Module):
    """RGB in [0, 1] of any H x W -> stylized RGB of the same H x W (unclamped, roughly [0, 1])."""

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        self.config = config or ModelConfig()
        if self.config.arch not in ARCHS:
            raise FastNSTError(f"unknown architecture '{self.config.arch}': choose one of {', '.join(ARCHS)}")
        separable = self.config.arch == "light"
        c1, c2, c3 = self.config.channels
        self.conv1 = ConvLayer(3, c1, 9)
        self.in1 = nn.InstanceNorm2d(c1, affine=True)
        self.conv2 = ConvLayer(c1, c2, 3, stride=2)
        self.in2 = nn.InstanceNorm2d(c2, affine=True)
        self.conv3 = ConvLayer(c2, c3, 3, stride=2)
        self.in3 = nn.InstanceNorm2d(c3, affine=True)
        self.res = nn.Sequential(*[ResidualBlock(c3, separable) for _ in range(self.config.num_residual)])
        self.deconv1 = UpsampleConvLayer(c3, c2, 3, separable=separable)
        self.in4 = nn.InstanceNorm2d(c2, affine=True)
        self.deconv2 = UpsampleConvLayer(c2, c1, 3, separable=separable)
        self.in5 = nn.InstanceNorm2d(c1, affine=True)
        self.deconv3 = ConvLayer(c1, 3, 9)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        # Two stride-2 convs then two 2x upsamples: pad to a multiple of 4 (and at least 8, for
        # the reflection padding of the 9x9 conv) so the output matches the input's size
        # exactly, then crop the padding off again.
        pad_h, pad_w = max(8 - h, -h % 4), max(8 - w, -w % 4)
        if pad_h or pad_w:
            mode = "reflect" if pad_h < h and pad_w < w else "replicate"
            x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
        scale = self.config.value_scale
        if scale != 1.0:
            x = x * scale
        y = self.body(x)
        if scale != 1.0:
            y = y / scale
        return y[..., :h, :w]

    def body(self, x: torch.Tensor) -> torch.Tensor:
        """The layers alone: sides a multiple of 4 (and at least 8), pixels at value_scale.
        Export (export.py) pads with ops that stay symbolic in H and W, then calls this."""
        y = F.relu(self.in1(self.conv1(x)))
        y = F.relu(self.in2(self.conv2(y)))
        y = F.relu(self.in3(self.conv3(y)))
        y = self.res(y)
        y = F.relu(self.in4(self.deconv1(y)))
        y = F.relu(self.in5(self.deconv2(y)))
        return self.deconv3(y)
