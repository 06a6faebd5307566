"""What turns a batch of photos into stylized ones: the one interface every kind of model runs behind.

    runtime(images, strength=0.8)           # N x 3 x H x W in [0, 1] -> stylized, on the images' device
    runtime.tiled(images, tile=1024)        # in bounded memory, where runtime.can_tile

Implementations: `Runtime` itself runs a network trained for its styles (the torch fast path, one
style of a multi-style net, an onnxruntime session, an int8 one); `UniversalRuntime`
(inference/universal.py) runs the universal model with its paintings. Which one runs a file is
decided once, by the loader (inference/loader.py); the rest of the package asks the runtime what it
can do (`can_tile`, `blends_features`, `new_stream`) and never what it is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch import nn

from .fastpath import FastStylizer
from .tiling import can_tile, stylize_tiled

# A network called like the TransformerNet: N x 3 x H x W in [0, 1] in, the same shape out.
Net = Callable[[torch.Tensor], torch.Tensor]


class Runtime:
    """A network trained for its own style(s), prepared for one device and one style or blend.

    kind: "torch" (the fast path or a TransformerNet), "onnxruntime" or "int8", for messages;
    label: the style's name or blend label (file names, captions); style_names: every style the
    model holds; sources: the files it was made from (no output may replace one). strength is a blend of pixels here, which the Stylizer applies after its other
    options (blends_features False); the universal runtime blends features instead.
    """

    blends_features = False

    def __init__(self, net: Net, device: torch.device, label: str = "", style_names: Sequence[str] = (),
                 kind: str = "torch", sources: Sequence[Path] = ()) -> None:
        self.net, self.device, self.label = net, device, label
        self.style_names, self.kind, self.sources = list(style_names), kind, list(sources)

    @property
    def can_tile(self) -> bool:
        """Tiles need norms that take fixed statistics: our nets have them, an ONNX session not."""
        return can_tile(self.net)

    @property
    def cuda_graphs(self) -> bool:
        """Whether video frames may be replayed as a CUDA graph (the fast path on CUDA)."""
        return isinstance(self.net, FastStylizer) and self.device.type == "cuda"

    def new_stream(self) -> Any:
        """State that successive video frames share (None: frames are independent)."""
        return None

    def __call__(self, images: torch.Tensor, strength: float = 1.0, stream: Any = None) -> torch.Tensor:
        """The stylized images (fp32, unclamped) on the images' device; strength is the Stylizer's."""
        return self.net(images).to(images.device)

    def tiled(self, images: torch.Tensor, tile: int, strength: float = 1.0, stream: Any = None) -> torch.Tensor:
        """The same, tile by tile with the whole image's statistics (tiling.py)."""
        return stylize_tiled(self.net, images, tile)


def as_runtime(net: Runtime | Net, device: torch.device, names: Sequence[str] = ()) -> Runtime:
    """A runtime as it is; a network or anything called like one (FastStylizer, OnnxStylizer, a
    TransformerNet) run as it is on `device`."""
    if isinstance(net, Runtime):
        return net
    net = net.to(device).eval() if isinstance(net, nn.Module) else net
    names = list(names) or list(getattr(net, "style_names", []))
    return Runtime(net, device, names[0] if names else "", names, "torch" if can_tile(net) else "onnxruntime")
