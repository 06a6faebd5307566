"""The image transformation network of Johnson et al. 2016, with Ulyanov's instance norm.

Layer names follow PyTorch's fast_neural_style example (conv1, in1, ..., deconv3) so that its
trained weights load with a one-line key rename (see checkpoint.py).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from .errors import FastNSTError

# The default is Johnson et al.'s net; "light" is the same shape with half the channels and
# depthwise-separable 3x3 convolutions in the residual blocks and the upsampling layers: about a
# tenth of the multiply-adds, for real time on a CPU (see docs/speed.md for its quality cost).
# "tiny" is separable too, with 8 full-resolution channels (light's 16 dominate a CPU's time there)
# and 4 blocks: about twice light's frame rate on a 640x480 webcam; it is trained by distilling
# another net (train.py --distill).
ARCHS = {"johnson": {"channels": (32, 64, 128), "num_residual": 5},
         "light": {"channels": (16, 32, 64), "num_residual": 5, "separable": True},
         "tiny": {"channels": (8, 24, 64), "num_residual": 4, "separable": True}}


@dataclass
class ModelConfig:
    """Everything needed to rebuild a TransformerNet; stored in every checkpoint."""

    channels: tuple[int, int, int] = (32, 64, 128)
    num_residual: int = 5
    # Pixel scale the layers work at: the net takes and returns [0, 1] RGB but computes in
    # 0..255, as PyTorch's example does. With Adam's lr 1e-3 this trains markedly faster than
    # computing in [0, 1], where the output layer's steps are 255x larger relative to its weights.
    value_scale: float = 255.0
    arch: str = "johnson"  # a key of ARCHS; "light" and "tiny" make the 3x3 convs depthwise-separable
    # Styles the net holds (Dumoulin et al. 2017): above 1, every instance norm has one scale and
    # bias per style and everything else is shared. 1 is the classic one-style net.
    num_styles: int = 1

    @classmethod
    def for_arch(cls, arch: str) -> "ModelConfig":
        """The config of a named architecture with its own channel widths."""
        if arch not in ARCHS:
            raise FastNSTError(f"unknown architecture '{arch}': choose one of {', '.join(ARCHS)}")
        return cls(**{k: v for k, v in ARCHS[arch].items() if k != "separable"}, arch=arch)

    @property
    def separable(self) -> bool:
        """Whether the residual blocks and upsampling layers use depthwise-separable 3x3 convs."""
        return ARCHS[self.arch].get("separable", False)

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


class ConditionalInstanceNorm(nn.Module):
    """Instance norm with one scale and bias per style (Dumoulin et al. 2017, "A Learned
    Representation for Artistic Style"). `mix` weighs the styles: N x S (one mix per image) or S;
    a one-hot mix is exactly that style, a convex one blends the styles' scales and biases.
    """

    def __init__(self, channels: int, num_styles: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(num_styles, channels))
        self.bias = nn.Parameter(torch.zeros(num_styles, channels))
        self.eps = eps

    def forward(self, x: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
        mix = mix.to(self.weight.dtype)
        scale, shift = mix @ self.weight, mix @ self.bias  # C, or N x C
        if scale.dim() == 1:  # one mix for the batch: the very call nn.InstanceNorm2d makes
            return F.instance_norm(x, weight=scale.to(x.dtype), bias=shift.to(x.dtype), eps=self.eps)
        y = F.instance_norm(x, eps=self.eps)
        return y * scale[..., None, None].to(x.dtype) + shift[..., None, None].to(x.dtype)


def make_norm(channels: int, num_styles: int) -> nn.Module:
    return nn.InstanceNorm2d(channels, affine=True) if num_styles == 1 else ConditionalInstanceNorm(channels, num_styles)


def apply_norm(norm: nn.Module, x: torch.Tensor, mix: torch.Tensor | None) -> torch.Tensor:
    return norm(x, mix) if isinstance(norm, ConditionalInstanceNorm) else norm(x)


class ResidualBlock(nn.Module):
    def __init__(self, channels: int, separable: bool = False, num_styles: int = 1) -> None:
        super().__init__()
        self.conv1 = ConvLayer(channels, channels, 3, separable=separable)
        self.in1 = make_norm(channels, num_styles)
        self.conv2 = ConvLayer(channels, channels, 3, separable=separable)
        self.in2 = make_norm(channels, num_styles)

    def forward(self, x: torch.Tensor, mix: torch.Tensor | None = None) -> torch.Tensor:
        y = F.relu(apply_norm(self.in1, self.conv1(x), mix))
        return x + apply_norm(self.in2, self.conv2(y), mix)


class TransformerNet(nn.Module):
    """RGB in [0, 1] of any H x W -> stylized RGB of the same H x W (unclamped, roughly [0, 1]).

    A net of several styles (config.num_styles > 1) takes `style`, a mix over its styles (S, or
    N x S for one per image); without it, the one-hot mix of its first style.
    """

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        self.config = config or ModelConfig()
        if self.config.arch not in ARCHS:
            raise FastNSTError(f"unknown architecture '{self.config.arch}': choose one of {', '.join(ARCHS)}")
        if self.config.num_styles < 1:
            raise FastNSTError("a network needs at least one style")
        separable, styles = self.config.separable, self.config.num_styles
        c1, c2, c3 = self.config.channels
        self.conv1 = ConvLayer(3, c1, 9)
        self.in1 = make_norm(c1, styles)
        self.conv2 = ConvLayer(c1, c2, 3, stride=2)
        self.in2 = make_norm(c2, styles)
        self.conv3 = ConvLayer(c2, c3, 3, stride=2)
        self.in3 = make_norm(c3, styles)
        self.res = nn.Sequential(*[ResidualBlock(c3, separable, styles) for _ in range(self.config.num_residual)])
        self.deconv1 = UpsampleConvLayer(c3, c2, 3, separable=separable)
        self.in4 = make_norm(c2, styles)
        self.deconv2 = UpsampleConvLayer(c2, c1, 3, separable=separable)
        self.in5 = make_norm(c1, styles)
        self.deconv3 = ConvLayer(c1, 3, 9)

    def forward(self, x: torch.Tensor, style: torch.Tensor | None = None) -> torch.Tensor:
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
        y = self.body(x, style)
        if scale != 1.0:
            y = y / scale
        return y[..., :h, :w]

    def body(self, x: torch.Tensor, style: torch.Tensor | None = None) -> torch.Tensor:
        """The layers alone: sides a multiple of 4 (and at least 8), pixels at value_scale.
        Export (export.py) pads with ops that stay symbolic in H and W, then calls this."""
        mix = None
        if self.config.num_styles > 1:
            mix = style if style is not None else one_hot(0, self.config.num_styles, x.device)
        y = F.relu(apply_norm(self.in1, self.conv1(x), mix))
        y = F.relu(apply_norm(self.in2, self.conv2(y), mix))
        y = F.relu(apply_norm(self.in3, self.conv3(y), mix))
        for block in self.res:
            y = block(y, mix)
        y = F.relu(apply_norm(self.in4, self.deconv1(y), mix))
        y = F.relu(apply_norm(self.in5, self.deconv2(y), mix))
        return self.deconv3(y)

    def norms(self) -> list[nn.Module]:
        """The instance norms, in a fixed order: the only layers that differ between styles."""
        return [m for m in self.modules() if isinstance(m, (nn.InstanceNorm2d, ConditionalInstanceNorm))]

    def norm_table(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(scale, bias) of every norm, each S x C (one row per style)."""
        return [(n.weight.reshape(-1, n.weight.shape[-1]), n.bias.reshape(-1, n.bias.shape[-1])) for n in self.norms()]

    def single_style(self, mix: torch.Tensor | int = 0) -> "TransformerNet":
        """A one-style net that computes exactly this net with this style mix (an index or S
        weights): the mix's scales and biases become plain instance norm ones. Inference runs
        it, so the fast path, tiling and export need to know nothing about styles."""
        if isinstance(mix, int):
            mix = one_hot(mix, self.config.num_styles)
        net = TransformerNet(replace(self.config, num_styles=1)).to(self.conv1.conv2d.weight.device)
        shared = {k: v for k, v in self.state_dict().items() if not _is_norm_key(self, k)}
        net.load_state_dict(shared, strict=False)
        set_norms(net.norms(), self, mix)
        return net.train(self.training)


def one_hot(index: int, num_styles: int, device: torch.device | str | None = None) -> torch.Tensor:
    mix = torch.zeros(num_styles, device=device)
    mix[index] = 1.0
    return mix


def _is_norm_key(net: TransformerNet, key: str) -> bool:
    return isinstance(net.get_submodule(key.rsplit(".", 1)[0]), (nn.InstanceNorm2d, ConditionalInstanceNorm))


@torch.no_grad()
def set_norms(targets: list[nn.Module], source: TransformerNet, mix: torch.Tensor) -> None:
    """Give the norms of a one-style net (`net.norms()`, or the fast path's copies of them, in the
    same order) the scales and biases of `source` under `mix`, in place: switching a running
    net's style costs a few small copies, no reload."""
    mix = mix.detach().to(source.conv1.conv2d.weight.device, torch.float32).reshape(-1)
    for norm, (scale, bias) in zip(targets, source.norm_table(), strict=True):
        norm.weight.copy_((mix.to(scale.dtype) @ scale) if scale.shape[0] > 1 else scale[0])
        norm.bias.copy_((mix.to(bias.dtype) @ bias) if bias.shape[0] > 1 else bias[0])
