"""Frames as decoders give them (N x H x W x 3 uint8 RGB) through a stylizer and back: the one
frame path of video files, the webcam and the flicker metric.

Each batch takes the image path of inference/stylizer.py (Stylizer.stylize_tensor), so max_size,
preserve_color, strength, tile and match_tone mean the same for frames as for photos; a stream's
tone adjustment is smoothed over its frames (inference/tone.py ToneSmoother), so it cannot flicker, and
so are the universal model's content statistics (universal/wct.py MovingContentStats). On CUDA, with the fast
path and whole frames, a video's frames all have one size: the ~100 kernel launches of a forward
pass (with the uint8 conversions and colour options) are recorded once as a CUDA graph and
replayed, and frames cross to the GPU and back through pinned buffers with asynchronous copies.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import FastNSTError
from ..inference import Runtime, StylizeOptions, Stylizer, ToneSmoother
from ..inference.runtime import Net


class FrameStylizer:
    """uint8 RGB frame batches (N x H x W x 3, numpy or torch) -> stylized uint8 frames of the
    same shape, as a numpy array on the host.

    stylizer: a Stylizer, a Runtime, or a net (a FastStylizer, an OnnxStylizer, a TransformerNet) on
    `device`. CUDA graphs are used where the runtime allows them (the fast path on CUDA) with whole
    frames (tile 0); elsewhere each batch runs eagerly. The frames of one call and of successive calls are one stream in order
    (match_tone smooths over it); reset() starts a new one.
    """

    def __init__(self, stylizer: Stylizer | Runtime | Net, device: torch.device, *, preserve_color: bool = False,
                 strength: float = 1.0, tile: int = 0, match_tone: bool = False, steady: bool = True,
                 cuda_graph: bool = True) -> None:
        self.device = torch.device(device)
        self.stylizer = stylizer if isinstance(stylizer, Stylizer) else Stylizer(stylizer, self.device)
        self.options = self.stylizer.check(StylizeOptions(preserve_color=preserve_color, strength=strength, tile=tile,
                                                          match_tone=match_tone))
        self.tone = ToneSmoother() if match_tone else None
        self.stream = self.stylizer.runtime.new_stream() if steady else None
        self.cuda_graph = cuda_graph and self.stylizer.runtime.cuda_graphs and not tile
        self.shape: tuple[int, ...] | None = None
        self.graph: torch.cuda.CUDAGraph | None = None

    def _step(self, frames: torch.Tensor) -> torch.Tensor:
        # NHWC uint8 permuted to NCHW is channels_last already: no copy before the net.
        x = frames.permute(0, 3, 1, 2).float().div_(255)
        y = self.stylizer.stylize_tensor(x, self.options, tone=self.tone, stream=self.stream)
        return y.mul_(255).round_().to(torch.uint8).permute(0, 2, 3, 1).contiguous()

    def _prepare(self, shape: tuple[int, ...]) -> None:
        """Pinned host buffers, device buffers and the CUDA graph for this shape."""
        self.shape = shape
        self.host_in = torch.empty(shape, dtype=torch.uint8).pin_memory()
        self.host_out = torch.empty(shape, dtype=torch.uint8).pin_memory()
        self.dev_in = torch.zeros(shape, dtype=torch.uint8, device=self.device)
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
        self.reset()  # the warm-up frames were not the video's

    def reset(self) -> None:
        """A new stream of frames: forget the tone and content statistics of the past ones."""
        if self.tone is not None:
            self.tone.reset()
        if self.stream is not None:
            self.stream.reset()

    @torch.inference_mode()
    def __call__(self, frames: np.ndarray | torch.Tensor) -> np.ndarray:
        frames = torch.as_tensor(frames)
        if frames.dim() != 4 or frames.shape[-1] != 3 or frames.dtype != torch.uint8:
            raise FastNSTError(f"frames must be N x H x W x 3 uint8, got {tuple(frames.shape)} {frames.dtype}")
        if not self.cuda_graph:
            if self.device.type == "cuda":
                frames = frames.pin_memory()
            return self._step(frames.to(self.device, non_blocking=True)).cpu().numpy()
        if tuple(frames.shape) != self.shape:
            self._prepare(tuple(frames.shape))
        self.host_in.copy_(frames)
        self.dev_in.copy_(self.host_in, non_blocking=True)  # queued on the stream, ordered before the replay
        self.graph.replay()
        self.host_out.copy_(self.dev_out, non_blocking=True)
        torch.cuda.current_stream(self.device).synchronize()  # the copy back has landed; buffers are reused
        return self.host_out.numpy().copy()
