"""The inference fast path: the same trained net, run the fastest way the device allows.

    fast = FastStylizer(model, "auto")     # a drop-in for the TransformerNet: float RGB in, float RGB out
    out = stylize_tensor(fast, x)          # so stylize(), video and webcam take it unchanged
    frames = FrameStylizer(model, "cuda")  # fixed-size uint8 frame batches: CUDA graphs, pinned copies
    stylized = frames(batch)               # N x H x W x 3 uint8 in and out

What it does, and why (numbers in README, "Speed"; `python -m fastnst.bench` measures them):
- inference_mode: no autograd bookkeeping.
- Instance norm as a group norm with one channel per group: the same arithmetic, but PyTorch's
  group norm has a fast kernel for channels_last, and InstanceNorm2d reshapes to a batch norm.
- channels_last: the layout oneDNN (CPU) and cuDNN (tensor cores) convolve fastest.
- Precision: fp16 on CUDA; bf16 on CPUs with AMX, where oneDNN's bf16 convolutions are several
  times faster than fp32 (other CPUs are not measured, so auto keeps fp32 there; --precision
  bf16 forces it).
- torch.compile (optional: minutes to compile on a small CPU, then the fastest of all).
- CUDA graphs: a video's frames all have one size, so the ~100 kernel launches of a forward pass
  are recorded once and replayed as one; frames cross to the GPU and back through pinned buffers
  with asynchronous copies.
Very large images: tiling.py.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .errors import FastNSTError
from .model import TransformerNet
from .stylize import resolve_device, stylize_tensor

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def cpu_has_fast_bf16() -> bool:
    """True on CPUs with AMX tiles (Intel Sapphire Rapids and later), where oneDNN's bf16 convs
    pay off (measured: README, "Speed"). AVX512-BF16 alone is not measured here, so not assumed."""
    check = getattr(torch.cpu, "_is_amx_tile_supported", None)
    return bool(check and check() and torch.backends.mkldnn.is_available())


def resolve_precision(precision: str, device: torch.device) -> torch.dtype:
    """'auto' -> fp16 on CUDA, bf16 on CPUs with AMX, else fp32; an explicit choice is checked."""
    if precision not in PRECISIONS:
        raise FastNSTError(f"--precision {precision}: choose one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        if device.type == "cuda":
            return torch.float16
        if device.type == "cpu" and cpu_has_fast_bf16():
            return torch.bfloat16
        return torch.float32
    if precision == "fp16" and device.type == "cpu":
        raise FastNSTError("--precision fp16 is for GPUs; on a CPU use bf16 or fp32")
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise FastNSTError("--precision bf16: this GPU has no bf16; use fp16 or fp32")
    return DTYPES[precision]


class StopForward(Exception):
    """Raised by a norm that measures moments for tiling.py: the layers after it are not needed."""


class InstanceNorm(nn.Module):
    """Instance norm (affine) that can also record its statistics or normalize with given ones.

    Normally it computes each image's per-channel mean and variance, like nn.InstanceNorm2d.
    tiling.py gives it the statistics of the whole image, and normalizes every tile with them.
    """

    def __init__(self, norm: nn.InstanceNorm2d) -> None:
        super().__init__()
        self.weight, self.bias, self.eps = norm.weight, norm.bias, norm.eps
        self.record = False
        self.stats: tuple[torch.Tensor, torch.Tensor] | None = None  # (mean, var), each N x C, fp32
        # tiling.py: add this tile's share of the whole image's moments (sum, sum of squares, count)
        # over `core`, given in the tile's input pixels as (top, bottom, left, right), None = to the
        # end, then raise StopForward.
        self.moments: list | None = None
        self.core: tuple[int, int | None, int, int | None] = (0, None, 0, None)
        self.input_height = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.moments is not None:
            step = round(self.input_height / x.shape[-2])  # 1, 2 or 4: this layer's resolution
            top, bottom, left, right = (None if v is None else v // step for v in self.core)
            core = x[..., top:bottom, left:right].double()
            self.moments[0] += core.sum(dim=(2, 3))
            self.moments[1] += core.square().sum(dim=(2, 3))
            self.moments[2] += core.shape[-2] * core.shape[-1]
            raise StopForward
        if not self.record and self.stats is None:
            return F.group_norm(x, x.shape[1], self.weight, self.bias, self.eps)
        if self.record:
            var, mean = torch.var_mean(x.float(), dim=(2, 3), correction=0)
            self.stats = (mean, var)
        mean, var = self.stats
        scale = self.weight.float() * torch.rsqrt(var + self.eps)  # N x C
        shift = self.bias.float() - mean * scale
        return torch.addcmul(shift[..., None, None].to(x.dtype), x, scale[..., None, None].to(x.dtype))


def norms(net: nn.Module) -> list[InstanceNorm]:
    return [m for m in net.modules() if isinstance(m, InstanceNorm)]


def _swap_norms(module: nn.Module) -> None:
    for name, child in module.named_children():
        if isinstance(child, nn.InstanceNorm2d):
            setattr(module, name, InstanceNorm(child))
        else:
            _swap_norms(child)


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
        self.config = net.config
        self.net = net.to(device, dtype, memory_format=torch.channels_last)
        # A separate callable, so tiling (which changes the norms' mode) can run the plain net
        # without making the compiled one recompile.
        self.compiled = torch.compile(self.net) if compile else None

    @property
    def device(self) -> torch.device:  # wherever .to() has put it
        return self.net.conv1.conv2d.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.net.conv1.conv2d.weight.dtype

    @property
    def precision(self) -> str:
        return {v: k for k, v in DTYPES.items()}[self.dtype]

    @torch.inference_mode()
    def forward(self, images: torch.Tensor, compiled: bool = True) -> torch.Tensor:
        x = images.to(self.device, self.dtype, non_blocking=True).contiguous(memory_format=torch.channels_last)
        run = self.compiled if compiled and self.compiled is not None else self.net
        return run(x).float()


class FrameStylizer:
    """Batches of same-size uint8 RGB frames (N x H x W x 3, as decoders give them) -> stylized
    uint8 frames of the same shape, on the host.

    On CUDA, frames travel through pinned host buffers with asynchronous copies (no staging copy
    by the driver), and the whole step (uint8 -> float, forward, colour options, -> uint8) is
    recorded as a CUDA graph at the first batch of each shape and replayed after. Elsewhere it runs
    the same step eagerly with the FastStylizer.
    """

    def __init__(self, model: TransformerNet | FastStylizer, device: str | torch.device = "auto",
                 precision: str = "auto", compile: bool = False, cuda_graph: bool = True,
                 preserve_color: bool = False, strength: float = 1.0) -> None:
        if not 0.0 <= strength <= 1.0:
            raise FastNSTError(f"strength must be between 0 and 1, got {strength}")
        self.fast = model if isinstance(model, FastStylizer) else FastStylizer(model, device, precision, compile)
        self.device = self.fast.device
        self.preserve_color, self.strength = preserve_color, strength
        self.cuda_graph = cuda_graph and self.device.type == "cuda"
        self.shape: tuple[int, ...] | None = None

    def _step(self, frames: torch.Tensor) -> torch.Tensor:
        # NHWC uint8 permuted to NCHW is channels_last already: no copy before the net.
        x = frames.permute(0, 3, 1, 2).float().div_(255)
        y = stylize_tensor(self.fast, x, preserve_color=self.preserve_color, strength=self.strength)
        return y.mul_(255).round_().to(torch.uint8).permute(0, 2, 3, 1).contiguous()

    def _prepare(self, shape: tuple[int, ...]) -> None:
        """Pinned host buffers, device buffers and (optionally) the CUDA graph for this shape."""
        self.shape = shape
        self.host_in = torch.empty(shape, dtype=torch.uint8).pin_memory()
        self.host_out = torch.empty(shape, dtype=torch.uint8).pin_memory()
        self.dev_in = torch.zeros(shape, dtype=torch.uint8, device=self.device)
        self.graph = None
        if not self.cuda_graph:
            return
        # Warm up on a side stream (cuDNN picks its kernels, the allocator fills its pool), as
        # CUDA graph capture requires, then record one step.
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side):
            for _ in range(3):
                self._step(self.dev_in)
        torch.cuda.current_stream(self.device).wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.dev_out = self._step(self.dev_in)

    @torch.inference_mode()
    def __call__(self, frames: np.ndarray | torch.Tensor) -> np.ndarray:
        frames = torch.as_tensor(frames)
        if frames.dim() != 4 or frames.shape[-1] != 3 or frames.dtype != torch.uint8:
            raise FastNSTError(f"frames must be N x H x W x 3 uint8, got {tuple(frames.shape)} {frames.dtype}")
        if self.device.type != "cuda":
            return self._step(frames.to(self.device)).cpu().numpy()
        if tuple(frames.shape) != self.shape:
            self._prepare(tuple(frames.shape))
        stream = torch.cuda.current_stream(self.device)
        self.host_in.copy_(frames)
        self.dev_in.copy_(self.host_in, non_blocking=True)  # queued on the stream, ordered before the step
        if self.graph is not None:
            self.graph.replay()
        else:
            self.dev_out = self._step(self.dev_in)
        self.host_out.copy_(self.dev_out, non_blocking=True)
        stream.synchronize()  # the copy back has landed; the buffers are reused next call
        return self.host_out.numpy().copy()
