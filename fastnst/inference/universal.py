"""The universal model as a runtime: called like a trained net (images in, stylized images out),
with the paintings' statistics computed once, so Stylizer, video and the webcam take it unchanged.

    runtime = UniversalRuntime(load_universal("universal.pt").net, parse_paintings("a.jpg=0.6,b.jpg=0.4"), device)
    out = runtime(x)                      # N x 3 x H x W in [0, 1]
    out = runtime(x, strength=0.5)        # the paper's feature-space blend (alpha): 0 the photo, 1 the full transfer

Large images go in tiles (`tiled`), every tile transformed with the whole image's content
statistics, measured on the image shrunk to STATS_SIZE: seamless at any size.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F

from ..bundled import bundled_path
from ..device import memory_format_for, resolve_precision
from ..errors import FastNSTError
from ..host_memory import keep_host_memory
from ..files import is_file, safe_name
from ..universal import MovingContentStats, UniversalNet
from ..universal.net import Style
from ..universal.painting import open_painting, painting_at, style_size
from .options import OptionError
from .runtime import Runtime
from .styles import normalized, split_blend
from .tiling import blend_weights, tile_starts

STATS_SIZE = 1024     # tiling: content statistics from the whole image at this long side
KEPT_SIZES = 4        # paintings' statistics kept for this many photo sizes
TILE_OVERLAP = 256    # the model sees about 80 pixels around each output pixel; tiles cross-fade in the middle


@dataclass
class Painting:
    path: Path
    weight: float

    @property
    def name(self) -> str:
        return safe_name(self.path.stem, "painting")


def parse_paintings(spec: str | Path | Sequence[str | Path]) -> list[Painting]:
    """"a.jpg", "a.jpg=0.6,b.jpg=0.4" or a list of paths -> paintings with weights summing to 1. A
    path that exists is a path, whatever it holds ("a,b=1.jpg"): styles.split_blend."""
    if isinstance(spec, (list, tuple)):
        entries = [(str(p), None) for p in spec]
    else:
        entries = split_blend(str(spec), is_file)
    paintings = []
    for path, weight in entries:
        if not path:
            raise OptionError(f"{{style}} {spec}: give painting files, e.g. a.jpg or a.jpg=0.6,b.jpg=0.4")
        try:
            value = float("1" if weight is None else weight)
        except ValueError:
            raise OptionError(f"{{style}} {path}={weight}: a painting's weight must be a number") from None
        if not math.isfinite(value) or value < 0:
            raise OptionError(f"{{style}} {path}={weight}: a painting's weight must be a number of 0 or more")
        paintings.append(Painting(Path(path), value))
    weights = normalized([p.weight for p in paintings], str(spec))
    return [Painting(p.path, weight) for p, weight in zip(paintings, weights)]


def bundled_universal() -> Path:
    """The bundled universal model, or a one-line error naming how to make one."""
    try:
        return bundled_path("universal.pt")
    except FastNSTError:
        raise FastNSTError("this install has no bundled universal model: train one (fastnst train-decoders "
                           "--data PHOTOS) and pass it with --ckpt") from None


def painting_label(paintings: Sequence[Painting]) -> str:
    if len(paintings) == 1:
        return paintings[0].name
    return "+".join(f"{p.name}{round(100 * p.weight)}" for p in paintings)


class UniversalRuntime(Runtime):
    """A UniversalNet on one device and precision, with its paintings' statistics: strength is the
    transform's alpha (a blend of features), and successive frames may share averaged content
    statistics (new_stream)."""

    blends_features = True
    can_tile = True
    cuda_graphs = False

    def __init__(self, net: UniversalNet, paintings: Sequence[Painting], device: torch.device,
                 precision: str = "auto") -> None:
        super().__init__(net, device, painting_label(paintings), [p.name for p in paintings], "universal",
                         [p.path for p in paintings])
        self.dtype = resolve_precision(precision, device)
        self.precision = {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[self.dtype]
        self.net = net.to(device, torch.float32).eval()  # one net may serve several runtimes (the webcam's)
        self.paintings = list(paintings)
        self.images = [open_painting(painting.path) for painting in self.paintings]  # bad files fail here
        # Statistics in fp32 (its own copy of the encoder), once per painting and size; the net runs
        # in the fast precision.
        self.measure = copy.deepcopy(self.net.encoder)
        self.measured: dict[int, list[tuple[Style, float]]] = {}
        self.net.to(dtype=self.dtype, memory_format=memory_format_for(device))

    def styles(self, height: int, width: int) -> list[tuple[Style, float]]:
        """The paintings' statistics for a photo of this size (painting.style_size), measured once
        per size; the last few sizes kept."""
        size = style_size(height, width)
        if size not in self.measured:
            with torch.inference_mode():
                self.measured[size] = [(self.net.style(painting_at(image, size).to(self.device), self.measure),
                                        painting.weight) for image, painting in zip(self.images, self.paintings)]
            while len(self.measured) > KEPT_SIZES:
                self.measured.pop(next(iter(self.measured)))
        return self.measured[size]

    def new_stream(self) -> MovingContentStats:
        """Content statistics averaged over a video's frames (universal/wct.py): a steadier look."""
        return MovingContentStats()

    def _run(self, images: torch.Tensor, strength: float, content=None, record=None, stream=None,
             whole: tuple[int, int] | None = None) -> torch.Tensor:
        """whole: the size of the image `images` are tiles of (the paintings' scale follows it)."""
        styles = self.styles(*(whole or images.shape[-2:]))
        self.net.to(dtype=self.dtype)  # a no-op unless another runtime sharing the net changed it
        x = images.to(self.device, self.dtype).contiguous(memory_format=memory_format_for(self.device))
        with keep_host_memory():  # each level's layers reuse the memory of the level before
            return self.net(x, styles, strength, content, record, stream).float()

    @torch.inference_mode()
    def __call__(self, images: torch.Tensor, strength: float = 1.0,
                 stream: MovingContentStats | None = None) -> torch.Tensor:
        """images: N x 3 x H x W in [0, 1]; strength: the transform's alpha; stream: for successive
        frames, statistics over time. fp32 on the images' device."""
        return self._run(images, strength, stream=stream).to(images.device)

    @torch.inference_mode()
    def tiled(self, images: torch.Tensor, tile: int, strength: float = 1.0,
              stream: MovingContentStats | None = None) -> torch.Tensor:
        """The images stylized tile by tile, with each image's content statistics from the whole
        image shrunk to STATS_SIZE (for frames, averaged over time by `stream`); fp32 on the
        images' device."""
        tile = max(64, tile // 8 * 8)
        overlap = min(TILE_OVERLAP, tile // 2) // 8 * 8
        out = torch.zeros(images.shape, device=images.device)
        for i in range(len(images)):
            image = images[i:i + 1]
            h, w = image.shape[-2:]
            scale = min(1.0, STATS_SIZE / max(h, w))
            small = F.interpolate(image, scale_factor=scale, mode="area") if scale < 1 else image
            record: list = []
            self._run(small, strength, record=record, stream=stream, whole=(h, w))
            ys = [s // 8 * 8 for s in tile_starts(h, tile, overlap)]
            xs = [s // 8 * 8 for s in tile_starts(w, tile, overlap)]
            for y0, row in zip(ys, blend_weights(ys, tile, h, overlap)):
                for x0, col in zip(xs, blend_weights(xs, tile, w, overlap)):
                    piece = image[..., y0:y0 + len(row), x0:x0 + len(col)]
                    weight = (row[:, None] * col[None, :]).to(out.device)
                    styled = self._run(piece, strength, record, whole=(h, w)).to(out.device)
                    out[i:i + 1, :, y0:y0 + len(row), x0:x0 + len(col)] += styled * weight
        return out
