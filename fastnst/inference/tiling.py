"""Very large images (8K and up) in bounded memory: stylize overlapping tiles, blend the seams.

Instance norm divides every feature map by its mean and spread over the *whole* image, so a tile
run on its own gets its own statistics and a visibly different look: seams. Statistics of the
image shrunk to fit are no cure either: the net responds differently at another scale (mosaic net,
photo shrunk 2x: off by 3 to 14 levels of 255 on average). So every tile is normalized with the
whole image's own statistics, measured over the tiles one norm at a time: a pass over the tiles
stops at norm k, whose moments it sums over each tile's core, the earlier norms fixed already.

With the statistics fixed the net is local: an output pixel depends on the input within
RECEPTIVE_RADIUS pixels. Tiles start on the net's stride-4 grid, neighbours overlap by `overlap`
pixels and cross-fade across the middle of each overlap, away from the tile edges, where the
reflection padding disturbs a tile's output. The result equals the untiled one up to float
rounding (tests/test_tiling.py).

Memory: the input and the output image at full size (3 floats per pixel each) plus one tile's
activations, whatever the image size. Time: about 7 passes for the default net (fewer for
images up to `stats_size`, which take one whole-image pass for the statistics).
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import FastNSTError
from ..model import TransformerNet
from .fastpath import FastStylizer, InstanceNorm

# Input pixels an output pixel depends on (each side) once the norms' statistics are fixed, at
# most: the 9x9 convs add 4 each, the stride-2 conv 1, the 3x3 convs at 1/2 and 1/4 resolution 2
# and 4 each (measured: 47 for both archs; a tile's edge changes nothing beyond 56 pixels in).
RECEPTIVE_RADIUS = 4 + 1 + 2 + 4 * 2 * 5 + 2 + 1 + 4
DEFAULT_TILE = 1024
MIN_TILE = 16
DEFAULT_OVERLAP = 128
DEFAULT_STATS_SIZE = 1024
# Above this many pixels stylize() tiles by default. Untiled, infer.py with the default net peaks
# at about 0.8 KB per pixel in fp32 (measured: 6.7 GB at 4K UHD; 3.9 GB in bf16), so 8K would
# take ~26 GB; tiled, 8K stays near 2 GB.
AUTO_TILE_PIXELS = 3840 * 2160


Stats = list[tuple[torch.Tensor, torch.Tensor]]  # each norm's (mean, var), each N x C, fp32


class StopForward(Exception):
    """Raised by a norm that measures moments: the layers after it are not needed."""


class WholeImageNorm(nn.Module):
    """Instance norm (affine) that can also record its statistics or normalize with given ones.

    Normally it computes each image's per-channel mean and variance, like nn.InstanceNorm2d.
    Tiling gives it the statistics of the whole image, and normalizes every tile with them.
    It shares the weight and bias of the norm it stands in for.
    """

    def __init__(self, norm: nn.Module) -> None:
        super().__init__()
        self.weight, self.bias, self.eps = norm.weight, norm.bias, norm.eps
        self.record = False
        self.stats: tuple[torch.Tensor, torch.Tensor] | None = None  # (mean, var), each N x C, fp32
        # Add this tile's share of the whole image's moments (sum, sum of squares, count) over
        # `core`, given in the tile's input pixels as (top, bottom, left, right), None = to the
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


@contextlib.contextmanager
def whole_image_norms(net: FastStylizer) -> Iterator[list[WholeImageNorm]]:
    """The fast path's norms replaced by WholeImageNorms (in the net's order) while tiling runs,
    and put back afterwards: the fast path itself stays a plain single pass."""
    swapped = []  # (parent, attribute, norm) in the order of net.modules(): the order of the forward pass
    for path, module in net.net.named_modules():
        if isinstance(module, InstanceNorm):
            parent, _, name = path.rpartition(".")
            swapped.append((net.net.get_submodule(parent), name, module))
    layers = [WholeImageNorm(child) for _, _, child in swapped]
    for (parent, name, _), layer in zip(swapped, layers):
        setattr(parent, name, layer)
    try:
        yield layers
    finally:
        for parent, name, child in swapped:
            setattr(parent, name, child)


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Tile offsets along one side, spread evenly from 0 to length - tile, on the net's stride-4 grid.
    The last tile runs to the end (up to 3 pixels longer than `tile`)."""
    if length < tile + 4:  # one tile, a few pixels longer at most
        return [0]
    count = -(-(length - overlap) // (tile - overlap))  # ceil: enough tiles to overlap by `overlap`
    span = (length - tile) // 4 * 4
    return [round(span * i / (count - 1) / 4) * 4 for i in range(count)]


def blend_weights(starts: list[int], tile: int, length: int, overlap: int) -> list[torch.Tensor]:
    """One 1-D weight profile per tile, summing to 1 at every position. A tile's weight is zero
    within `margin` of an edge it shares with a neighbour (where padding disturbs its output), then
    grows linearly inwards, so neighbours cross-fade over the middle of their overlap."""
    margin = min(RECEPTIVE_RADIUS, overlap * 3 // 8)
    ends = [start + tile for start in starts[:-1]] + [length]
    raw = []
    for i, (start, end) in enumerate(zip(starts, ends)):
        pos = torch.arange(start, end, dtype=torch.float64) + 0.5
        inside = torch.full_like(pos, float(length))  # distance to the nearest edge shared with a tile
        if i > 0:
            inside = torch.minimum(inside, pos - start)
        if i < len(starts) - 1:
            inside = torch.minimum(inside, end - pos)
        raw.append((inside - margin).clamp(min=1e-6))
    total = torch.zeros(length, dtype=torch.float64)
    for start, w in zip(starts, raw):
        total[start:start + len(w)] += w
    return [(w / total[start:start + len(w)]).float() for start, w in zip(starts, raw)]


def can_tile(model: object) -> bool:
    """Tiling needs norms that take fixed statistics: our nets yes, an ONNX session no (the
    universal runtime tiles its own way: UniversalRuntime.tiled)."""
    return isinstance(model, (TransformerNet, FastStylizer))


def _record_stats(net: FastStylizer, layers: list[WholeImageNorm], images: torch.Tensor) -> Stats:
    """Each norm's (mean, var) over the whole images, from one forward pass."""
    for norm in layers:
        norm.record, norm.stats = True, None
    try:
        net(images, compiled=False)
        return [norm.stats for norm in layers]
    finally:
        for norm in layers:
            norm.record, norm.stats = False, None


def tile_cores(starts: list[int], tile: int, length: int) -> list[tuple[int, int | None]]:
    """Each tile's share of the side, in its own coordinates: the tiles' cores split the side at
    the middle of each overlap (on the stride-4 grid), so every pixel is counted once. The last
    core runs to the end of the tile, including the padding the net adds (as the whole image has)."""
    ends = [start + tile for start in starts[:-1]] + [length]
    cuts = [0] + [(starts[i] + ends[i - 1]) // 8 * 4 for i in range(1, len(starts))]
    return [(cuts[i] - start, cuts[i + 1] - start if i + 1 < len(starts) else None)
            for i, start in enumerate(starts)]



def _tile_pass(net: FastStylizer, layers: list[WholeImageNorm], image: torch.Tensor, tile: int, overlap: int,
               stats: Stats, out: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Run every tile of one image (1 x 3 x H x W) with the first norms fixed to `stats`.

    If a norm is left without statistics, stop there and return its (mean, var) over the whole
    image, the tiles' cores together (exact: the earlier norms had the whole image's statistics).
    Otherwise add the blended outputs into `out`.
    """
    h, w = image.shape[-2:]
    ys, xs = tile_starts(h, tile, overlap), tile_starts(w, tile, overlap)
    rows = zip(ys, blend_weights(ys, tile, h, overlap), tile_cores(ys, tile, h))
    cols = list(zip(xs, blend_weights(xs, tile, w, overlap), tile_cores(xs, tile, w)))
    measured = layers[len(stats)] if len(stats) < len(layers) else None
    for norm, s in zip(layers, stats):
        norm.stats = s
    if measured is not None:
        measured.moments = [0.0, 0.0, 0]
    try:
        for y0, row_weight, (top, bottom) in rows:
            for x0, col_weight, (left, right) in cols:
                y1, x1 = y0 + len(row_weight), x0 + len(col_weight)
                piece = image[..., y0:y1, x0:x1]
                if measured is not None:
                    measured.core, measured.input_height = (top, bottom, left, right), y1 - y0
                    try:
                        net(piece, compiled=False)
                    except StopForward:
                        pass
                    continue
                weight = (row_weight[:, None] * col_weight[None, :]).to(out.device)
                out[..., y0:y1, x0:x1] += net(piece, compiled=False).to(out.device) * weight
        if measured is None:
            return None
        total, squares, count = measured.moments
        mean = total / count
        return mean.float(), (squares / count - mean.square()).clamp(min=0).float()
    finally:
        for norm in layers:
            norm.stats, norm.moments = None, None


@torch.inference_mode()
def stylize_tiled(net: FastStylizer | TransformerNet, images: torch.Tensor, tile: int = DEFAULT_TILE,
                  overlap: int | None = None, stats_size: int = DEFAULT_STATS_SIZE) -> torch.Tensor:
    """The net's output for N x 3 x H x W images in [0, 1], computed tile by tile.

    The norms' statistics are the whole image's: from one pass over the whole image when its long
    side is at most `stats_size`, else measured over the tiles norm by norm, each pass stopping at
    the norm it measures (about 7 passes' work for the default net: exact, and slower).
    Returns fp32 on the images' device, like the net (unclamped). `tile` and `overlap` are in
    pixels and rounded down to multiples of 4; overlap defaults to DEFAULT_OVERLAP or half a tile.
    An overlap under twice RECEPTIVE_RADIUS leaves small differences near the seams (64: up to
    1.5 levels of 255; 128: none).
    """
    if not can_tile(net):
        raise FastNSTError("tiling needs a fastnst network (the onnxruntime backend runs whole images)")
    if not isinstance(net, FastStylizer):  # whose norms whole_image_norms swaps
        net = FastStylizer(net, next(net.parameters()).device, "fp32")
    tile = tile // 4 * 4
    overlap = min(DEFAULT_OVERLAP, tile // 2) if overlap is None else overlap
    overlap = overlap // 4 * 4
    if tile < MIN_TILE or not 0 <= overlap < tile:
        raise FastNSTError(f"tiles need a size of at least 16 px and an overlap smaller than that "
                           f"(got tile {tile}, overlap {overlap})")
    out = torch.zeros(images.shape, device=images.device)
    with whole_image_norms(net) as layers:
        for i in range(len(images)):
            image = images[i:i + 1]
            if max(image.shape[-2:]) <= stats_size:
                stats = _record_stats(net, layers, image)
            else:
                stats = []
                for _ in layers:
                    stats.append(_tile_pass(net, layers, image, tile, overlap, stats))
            _tile_pass(net, layers, image, tile, overlap, stats, out[i:i + 1])
    return out
