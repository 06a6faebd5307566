"""Image in -> stylized image out, in one forward pass of a trained TransformerNet."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from PIL import Image
from torch import nn

from ..checkpoint import Checkpoint, load_checkpoint
from ..device import BACKENDS, INFERENCE_PRECISIONS, resolve_device
from ..errors import FastNSTError
from ..model import TransformerNet
from ..images import open_image, resize_long_side, to_pil, to_rgb, to_tensor
from .fastpath import FastStylizer, norms
from .styles import StyleSpec, StyleSwitch, net_style_names, parse_style, select_style
from .tiling import AUTO_TILE_PIXELS, DEFAULT_TILE, MIN_TILE, can_tile, stylize_tiled
from .tone import ToneSmoother, match_tone as _match_tone


# A TransformerNet, or anything called like one: FastStylizer, OnnxStylizer.
Stylizer = Callable[[torch.Tensor], torch.Tensor]


def as_model(checkpoint: Checkpoint | Stylizer | str | Path, style: StyleSpec = None,
             device: str | torch.device = "auto", precision: str = "auto",
             calibration: Sequence[Image.Image] = ()) -> Stylizer:
    """What to run on `device`: a checkpoint's net (`style` chosen among its styles) prepared as
    infer.py prepares it (load_stylizers, backend "auto"; int8: calibrated on `calibration`); a net
    or stylizer given is run as it is."""
    if isinstance(checkpoint, nn.Module) or (callable(checkpoint) and not isinstance(checkpoint, (str, Path))):
        if isinstance(checkpoint, TransformerNet) and (checkpoint.config.num_styles > 1 or style is not None):
            checkpoint = select_style(checkpoint, _one(parse_style(style, net_style_names(checkpoint))))
        elif style is not None:
            raise FastNSTError("a style can be chosen for a checkpoint or a TransformerNet, not for a prepared stylizer")
        return checkpoint.to(resolve_device(device)).eval() if isinstance(checkpoint, nn.Module) else checkpoint
    return _one(load_stylizers(checkpoint, device=device, precision=precision, style=style,
                               calibration=calibration)[0])[0]


def _one(choices: list) -> Any:
    if len(choices) > 1:
        raise FastNSTError("style 'all' makes one output per style: stylize once per name in the "
                           "checkpoint's style_names (infer.py --style all does)")
    return choices[0]


def preserve_colors(stylized: torch.Tensor, original: torch.Tensor) -> torch.Tensor:
    """Luminance of the stylized image with the chroma of the original (YCbCr, BT.601)."""
    def ycbcr(rgb):
        r, g, b = rgb.unbind(1)
        y = 0.299 * r + 0.587 * g + 0.114 * b
        return y, (b - y) * 0.564, (r - y) * 0.713

    y, _, _ = ycbcr(stylized)
    _, cb, cr = ycbcr(original)
    r = y + 1.403 * cr
    b = y + 1.773 * cb
    g = (y - 0.299 * r - 0.114 * b) / 0.587
    return torch.stack([r, g, b], 1)


@torch.inference_mode()
def stylize_tensor(model: Stylizer, images: torch.Tensor, *, preserve_color: bool = False,
                   strength: float = 1.0, tile: int = 0, match_tone: bool | ToneSmoother = False) -> torch.Tensor:
    """N x 3 x H x W in [0, 1] on the model's device -> stylized, same shape, clamped to [0, 1].

    tile: run the net on tiles of this size with blended seams (tiling.py), 0 for the whole image.
    match_tone: True brings each output's brightness and contrast back to its photo's (tone.py); a
    ToneSmoother does it for a stream of frames with statistics smoothed over time. Applied first,
    then preserve_color, then strength.
    """
    if tile:
        out = stylize_tiled(model, images, tile)
    else:
        out = model(images).to(images.device)
    if isinstance(match_tone, ToneSmoother):
        out = match_tone(out, images)
    elif match_tone:
        out = _match_tone(out, images)
    if preserve_color:
        out = preserve_colors(out, images)
    if strength != 1.0:
        out = strength * out + (1.0 - strength) * images
    return out.clamp_(0, 1)


def stylize(image: Image.Image | str | Path, checkpoint: Checkpoint | Stylizer | str | Path, *,
            max_size: int | None = None, device: str | torch.device = "auto",
            preserve_color: bool = False, strength: float = 1.0, tile: int | None = None,
            match_tone: bool = False, style: StyleSpec = None, precision: str = "auto") -> Image.Image:
    """Stylize one image with a trained network.

    Args:
        image: a PIL image (any mode) or the path of an image file (EXIF orientation applied).
        checkpoint: a loaded Checkpoint, a TransformerNet (or a fastpath.FastStylizer,
            export.OnnxStylizer), or the path of a checkpoint file (fastnst's or a PyTorch
            fast_neural_style example state dict).
        max_size: shrink the image first so its long side is at most this many pixels.
        device: "auto", "cpu", "cuda", "cuda:N" or "mps".
        preserve_color: keep the photo's colours, transfer only luminance.
        strength: 0..1, blend of stylized (1) and original (0).
        tile: stylize in tiles of this many pixels with blended seams, in bounded memory; 0 never;
            None (default) tiles images larger than 3840 x 2160 (tiling.AUTO_TILE_PIXELS) in
            tiles of 1024 (onnxruntime runs whole images).
        match_tone: bring the output's brightness and contrast (luminance mean and spread) back to
            the photo's; composes with preserve_color and strength.
        style: for a net of several styles, which: a name or index, or a blend such as
            "mosaic=0.6,candy=0.4" or {"mosaic": 0.6, "candy": 0.4}; None: the first.
        precision: for a checkpoint (or its path): "auto" runs it the device's fastest way, as
            infer.py does (the fast path: bf16 on CPUs with native bf16, fp16 on CUDA, fp32 on
            other CPUs: docs/speed.md); "fp32", "bf16" or "fp16" force one; "int8" quantizes the
            net for onnxruntime, calibrated on this image. A given net runs as it is.

    Returns:
        The stylized RGB image (RGBA if the input had transparency), the input's size unless
        max_size shrank it.
    """
    if not 0.0 <= strength <= 1.0:
        raise FastNSTError(f"strength must be between 0 and 1, got {strength}")
    rgb, alpha = open_image(image) if isinstance(image, (str, Path)) else to_rgb(image)
    rgb = resize_long_side(rgb, max_size)
    dev = resolve_device(device)
    model = as_model(checkpoint, style, dev, precision, calibration=[rgb])
    if tile is None:
        tile = DEFAULT_TILE if can_tile(model) and rgb.width * rgb.height > AUTO_TILE_PIXELS else 0
    # Tiled, the image stays in host memory and the tiles go to the device one at a time.
    x = to_tensor(rgb) if tile else to_tensor(rgb).to(dev)
    out = to_pil(stylize_tensor(model, x, preserve_color=preserve_color, strength=strength, tile=tile,
                                match_tone=match_tone))
    if alpha is not None:
        out.putalpha(alpha.resize(out.size))
    return out


def check_tile(tile: int | None) -> None:
    """Tiles are None (automatic), 0 (never) or at least MIN_TILE pixels."""
    if tile is not None and tile != 0 and not tile >= MIN_TILE:
        raise FastNSTError(f"--tile {tile}: tiles must be at least {MIN_TILE} pixels (0: never tile)")


def load_stylizer(checkpoint: Checkpoint | str | Path, *, device: str | torch.device = "auto",
                  precision: str = "auto", compile: bool = False, backend: str = "auto",
                  tile: int | None = None, style: StyleSpec = None,
                  calibration: Sequence[Image.Image] = ()) -> tuple[Stylizer, str, torch.device]:
    """(a stylizer: the net prepared the fastest way the options allow, its style's name, its device).

    backend "torch": the fast path (fastpath.FastStylizer) in `precision` on `device`;
    "onnxruntime" (CPU): `checkpoint` is an .onnx file from export, or a checkpoint exported
    once and then cached (export.cached_onnx_stylizer; precision, compile and tile do not apply
    there); "auto": onnxruntime for an .onnx file, else the fast path. `style`: see stylize().
    """
    stylizers, dev = load_stylizers(checkpoint, device=device, precision=precision, compile=compile,
                                    backend=backend, tile=tile, style=style, calibration=calibration)
    stylizer, name = _one(stylizers)
    return stylizer, name, dev


def load_stylizers(checkpoint: Checkpoint | str | Path, *, device: str | torch.device = "auto",
                   precision: str = "auto", compile: bool = False, backend: str = "auto",
                   tile: int | None = None, style: StyleSpec = None, shared: bool = False,
                   calibration: Sequence[Image.Image] = ()) -> tuple[list[tuple[Stylizer, str]], torch.device]:
    """([(stylizer, style name or blend label)] for each choice `style` makes ("all": every style), device).

    shared: the choices share one prepared net and switch its norms when called (StyleSwitch):
    one net in memory and no reload, for the webcam; else each choice is a net of its own.
    precision "int8": the net quantized for onnxruntime on the CPU, calibrated on `calibration`
    (a few of the photos to stylize; int8.py).
    """
    if backend not in BACKENDS:
        raise FastNSTError(f"backend {backend}: choose one of {', '.join(BACKENDS)}")
    if backend == "auto" and not isinstance(checkpoint, Checkpoint) and Path(checkpoint).suffix.lower() == ".onnx":
        backend = "onnxruntime"
    if precision not in INFERENCE_PRECISIONS:
        raise FastNSTError(f"--precision {precision}: choose one of {', '.join(INFERENCE_PRECISIONS)}")
    if precision == "int8":
        if resolve_device(device).type != "cpu" or backend == "onnxruntime" or compile or tile:
            raise FastNSTError("--precision int8 runs whole images on the CPU (onnxruntime): leave out --device, "
                               "--backend, --compile and --tile, or use --device cpu")
        from .int8 import quantize  # onnxruntime is an optional dependency

        loaded = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
        stylizer = quantize(loaded, list(calibration))
        return [(stylizer.with_style(c.mix), c.label) for c in parse_style(style, loaded.style_names)], \
            torch.device("cpu")
    if backend == "onnxruntime":
        from .export import OnnxStylizer, cached_onnx_stylizer  # onnxruntime is an optional dependency

        if str(device) not in ("auto", "cpu"):
            raise FastNSTError("--backend onnxruntime runs on the CPU: use --device cpu (or auto)")
        if compile or precision not in ("auto", "fp32") or tile:
            raise FastNSTError("--precision, --compile and --tile are for --backend torch")
        if isinstance(checkpoint, Checkpoint):  # loaded already (perhaps never saved): exported once, cached
            stylizer = cached_onnx_stylizer(checkpoint)
        elif Path(checkpoint).suffix.lower() == ".onnx":
            if not Path(checkpoint).is_file():
                raise FastNSTError(f"ONNX model not found: {checkpoint}")
            stylizer = OnnxStylizer(checkpoint)
        else:
            stylizer = cached_onnx_stylizer(load_checkpoint(checkpoint))
        # One session; each choice feeds its own style weights.
        return [(stylizer.with_style(c.mix), c.label) for c in parse_style(style, stylizer.style_names)], \
            torch.device("cpu")
    loaded = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
    dev = resolve_device(device)
    choices = parse_style(style, loaded.style_names)
    if shared and len(choices) > 1:
        net = FastStylizer(select_style(loaded.model, choices[0]), dev, precision, compile)
        targets, state = norms(net.net), {}
        return [(StyleSwitch(net, loaded.model, c, targets, state), c.label) for c in choices], dev
    return [(FastStylizer(select_style(loaded.model, c), dev, precision, compile), c.label) for c in choices], dev
