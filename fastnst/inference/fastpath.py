"""The inference fast path: the same trained net, run the fastest way the device allows.

    fast = FastStylizer(model, "auto")     # a drop-in for the TransformerNet: float RGB in, float RGB out
    out = stylize_tensor(fast, x)          # so stylize(), video and webcam take it unchanged

What it does, and why (numbers in README, "Speed"; `python -m fastnst.bench` measures them):
- inference_mode: no autograd bookkeeping.
- Instance norm as a group norm with one channel per group: the same arithmetic, but PyTorch's
  group norm has a fast kernel for channels_last, and InstanceNorm2d reshapes to a batch norm.
- channels_last: the layout oneDNN (CPU) and cuDNN (tensor cores) convolve fastest.
- Precision: the device policy's (device.py): fp16 on CUDA, bf16 on CPUs with native bf16.
- On a CPU, the last layer (9x9, 3 outputs) as a 3x3 convolution on 4x4 blocks of pixels
  (BlockConv): 3 outputs leave most of a vector register idle, 48 fill it.
- On a CPU, freed memory is kept for the next layer while it runs (host_memory.py): without it
  every large layer output faults in fresh pages, a third of a 1024² forward pass.
- torch.compile (optional: minutes to compile on a small CPU, then the fastest of all).
Very large images: tiling.py; video frames (CUDA graphs, pinned copies): video/frames.py.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from ..device import precision_name, resolve_device, resolve_precision
from ..host_memory import keep_host_memory
from ..model import TransformerNet


class InstanceNorm(nn.Module):
    """Instance norm (affine) as a group norm with one channel per group: nn.InstanceNorm2d's
    arithmetic, on a kernel that is fast for channels_last."""

    def __init__(self, norm: nn.InstanceNorm2d) -> None:
        super().__init__()
        self.weight, self.bias, self.eps = norm.weight, norm.bias, norm.eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.group_norm(x, x.shape[1], self.weight, self.bias, self.eps)


def norms(net: nn.Module) -> list[InstanceNorm]:
    return [m for m in net.modules() if isinstance(m, InstanceNorm)]


def _swap_norms(module: nn.Module) -> None:
    for name, child in module.named_children():
        if isinstance(child, nn.InstanceNorm2d):
            setattr(module, name, InstanceNorm(child))
        else:
            _swap_norms(child)


class BlockConv(nn.Module):
    """A reflection-padded k x k convolution with few outputs, computed on r x r blocks of pixels
    (r = k // 2: the 9x9 output layer on 4x4 blocks). pixel_unshuffle makes the C input channels
    C·r² at 1/r the size, one 3x3 convolution gives each block's O·r² outputs, pixel_shuffle
    puts them in place: the same sums, in a shape the CPU's kernels fill. The last layer's 3
    outputs use 3 of a vector register's 8 or 16 lanes; its 48 use all (the light net is 20 %
    faster at 1024² on an AVX2 or AVX-512 CPU without bf16, docs/speed.md). Sides must be
    multiples of r: the net pads its input to a multiple of 4."""

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        out_channels, in_channels, k, _ = conv.weight.shape
        r = self.block = self.pad = k // 2
        weight = conv.weight.detach().float()
        # Output pixel (a, b) of a block takes input pixel (a + dy, b + dx): block offset and place
        # within the block by divmod, and the tap lands at that place of that neighbouring block.
        blocks = torch.zeros(out_channels, r, r, in_channels, r, r, 3, 3)
        for a in range(r):
            for b in range(r):
                for dy in range(-r, r + 1):
                    for dx in range(-r, r + 1):
                        (by, ry), (bx, rx) = divmod(a + dy, r), divmod(b + dx, r)
                        blocks[:, a, b, :, ry, rx, by + 1, bx + 1] += weight[:, :, dy + r, dx + r]
        self.weight = nn.Parameter(blocks.reshape(out_channels * r * r, in_channels * r * r, 3, 3), requires_grad=False)
        self.bias = nn.Parameter(conv.bias.detach().repeat_interleave(r * r), requires_grad=False)

    @staticmethod
    def fits(conv: nn.Module) -> bool:
        return (isinstance(conv, nn.Conv2d) and conv.padding_mode == "reflect" and conv.groups == 1
                and conv.stride == (1, 1) and conv.kernel_size in ((5, 5), (9, 9)) and conv.bias is not None
                and conv.padding == (conv.kernel_size[0] // 2,) * 2 and conv.out_channels < 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pixel_unshuffle(F.pad(x, (self.pad,) * 4, mode="reflect"), self.block)
        return F.pixel_shuffle(F.conv2d(x, self.weight, self.bias), self.block)


class FastStylizer(nn.Module):
    """A TransformerNet prepared for fast inference; call it like the net itself.

    Takes N x 3 x H x W float RGB in [0, 1] on any device, returns the net's output (fp32,
    unclamped) on this stylizer's device. The given model is copied, never changed.
    """

    def __init__(self, model: TransformerNet, device: str | torch.device = "auto", precision: str = "auto",
                 compile: bool = False) -> None:
        super().__init__()
        device = resolve_device(device)
        dtype = resolve_precision(precision, device)
        net = copy.deepcopy(model).eval().requires_grad_(False)
        _swap_norms(net)
        if device.type == "cpu" and BlockConv.fits(net.deconv3.conv2d):
            net.deconv3.conv2d = BlockConv(net.deconv3.conv2d)
        self.config = net.config
        self.net = net.to(device, dtype, memory_format=torch.channels_last)
        # A separate callable, so tiling (which swaps the norms for its own) can run the plain
        # net without making the compiled one recompile.
        self.compiled = torch.compile(self.net) if compile else None

    @property
    def device(self) -> torch.device:  # wherever .to() has put it
        return self.net.conv1.conv2d.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.net.conv1.conv2d.weight.dtype

    @property
    def precision(self) -> str:
        return precision_name(self.dtype)

    @torch.inference_mode()
    def forward(self, images: torch.Tensor, compiled: bool = True) -> torch.Tensor:
        x = images.to(self.device, self.dtype, non_blocking=True).contiguous(memory_format=torch.channels_last)
        run = self.compiled if compiled and self.compiled is not None else self.net
        if self.device.type != "cpu":
            return run(x).float()
        with keep_host_memory():
            return run(x).float()
