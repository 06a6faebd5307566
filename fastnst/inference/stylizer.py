"""A trained net loaded once, then called on images: image in, stylized image out.

    stylizer = Stylizer.load("mosaic.pt")                 # the fast path on the best device
    stylizer.stylize("photo.jpg", StylizeOptions(max_size=1024)).save("photo_mosaic.jpg")
    y = stylizer(x)                                       # N x 3 x H x W in [0, 1]: the raw net

Which runtime runs the net (the torch fast path, onnxruntime, int8) is chosen in one place,
`choose_runtime`, which also refuses the combinations that cannot run.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from PIL import Image
from torch import nn

from ..checkpoint import Checkpoint, load_checkpoint
from ..device import BACKENDS, INFERENCE_PRECISIONS, resolve_device
from ..checks import shown
from ..errors import FastNSTError
from ..images import open_image, open_rgb, resize_long_side, to_pil, to_rgb, to_tensor
from ..model import TransformerNet
from ..universal import LoadedUniversal, MovingContentStats, UniversalNet, is_universal_file, load_universal
from .fastpath import FastStylizer, norms
from .options import OptionError, StylizeOptions
from .styles import StyleSpec, StyleSwitch, net_style_names, parse_style, select_style
from .tiling import AUTO_TILE_PIXELS, DEFAULT_TILE, can_tile, stylize_tiled
from .tone import ToneSmoother, match_tone
from .universal import UniversalRuntime, bundled_universal, parse_paintings

# What runs the net: a TransformerNet, or anything called like one (FastStylizer, OnnxStylizer).
Runtime = Callable[[torch.Tensor], torch.Tensor]

INT8_REFUSAL = ("{precision} int8 runs whole images on the CPU (onnxruntime): leave out {device}, {backend}, "
                "{compile} and {tile}, or use {device} cpu")
ONNX_REFUSAL = "{precision}, {compile} and {tile} are for {backend} torch"


def choose_runtime(checkpoint: object, *, device: str | torch.device = "auto", precision: str = "auto",
                   backend: str = "auto", compile: bool = False, tile: int | None = None) -> str:
    """What runs `checkpoint`: "torch" (the fast path), "onnxruntime" or "int8" (quantized, run by
    onnxruntime); an OptionError for a combination that cannot run.

    backend "auto": onnxruntime for an .onnx file, else the fast path.
    """
    if backend not in BACKENDS:
        raise OptionError(f"{{backend}} {backend}: choose one of {', '.join(BACKENDS)}")
    if precision not in INFERENCE_PRECISIONS:
        raise OptionError(f"{{precision}} {precision}: choose one of {', '.join(INFERENCE_PRECISIONS)}")
    if backend == "auto":
        onnx_file = isinstance(checkpoint, (str, Path)) and Path(checkpoint).suffix.lower() == ".onnx"
        backend = "onnxruntime" if onnx_file else "torch"
    elif backend == "torch" and isinstance(checkpoint, (str, Path)) and Path(checkpoint).suffix.lower() == ".onnx":
        raise OptionError(f"{checkpoint}: an .onnx file runs with {{backend}} onnxruntime (or auto)")
    if precision == "int8":
        if resolve_device(device).type != "cpu" or backend == "onnxruntime" or compile or tile:
            raise OptionError(INT8_REFUSAL)
        return "int8"
    if backend == "onnxruntime":
        if str(device) not in ("auto", "cpu"):
            raise OptionError("{backend} onnxruntime runs on the CPU: use {device} cpu (or auto)")
        if compile or precision not in ("auto", "fp32") or tile:
            raise OptionError(ONNX_REFUSAL)
    return backend


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


class Stylizer:
    """A net prepared for one device and one style (or blend), loaded once and called many times.

    `stylizer(x)` runs the raw net on N x 3 x H x W in [0, 1] (what video and the webcam feed it);
    `stylize_tensor(x, options)` and `stylize(image, options)` apply the options around it.
    Attributes: device, label (the style's name or blend label, for file names and captions),
    style_names (every style the checkpoint holds), runtime ("torch", "onnxruntime" or "int8"),
    sources (the files it was made from: the checkpoint, the paintings; what no output may replace).
    """

    def __init__(self, net: Runtime, device: torch.device, label: str = "", style_names: Sequence[str] = (),
                 runtime: str = "torch", sources: Sequence[Path] = ()) -> None:
        self.net, self.device, self.label = net, device, label
        self.style_names, self.runtime = list(style_names), runtime
        self.sources = list(sources)

    @classmethod
    def load(cls, checkpoint: Stylizer | Checkpoint | TransformerNet | Runtime | str | Path, *,
             style: StyleSpec = None, device: str | torch.device = "auto", precision: str = "auto",
             backend: str = "auto", compile: bool = False, calibration: Sequence[Image.Image] = ()) -> Stylizer:
        """A checkpoint (its path, an .onnx file, a loaded Checkpoint or a TransformerNet) prepared
        the fastest way the options allow.

        style: for a net of several styles, which: a name or index, or a blend such as
            "mosaic=0.6,candy=0.4" or {"mosaic": 0.6, "candy": 0.4}; None: the first.
        device: "auto", "cpu", "cuda", "cuda:N" or "mps".
        precision: "auto" runs the fast path in the device's fastest precision (bf16 on CPUs with
            native bf16, fp16 on CUDA, else fp32: docs/speed.md); "fp32", "bf16" or "fp16" force
            one; "int8" quantizes the net for onnxruntime on the CPU, calibrated on `calibration`
            (a few of the photos to stylize). A TransformerNet given runs as it is.
        backend: "torch" (the fast path), "onnxruntime" (CPU: an .onnx file from export, or a
            checkpoint exported once and cached), or "auto": onnxruntime for an .onnx file.
        compile: torch.compile the net (a slow start, then the fastest).
        """
        return _one(cls.load_all(checkpoint, style=style, device=device, precision=precision, backend=backend,
                                 compile=compile, calibration=calibration), style)

    @classmethod
    def load_all(cls, checkpoint: Stylizer | Checkpoint | TransformerNet | Runtime | str | Path, *,
                 style: StyleSpec = "all", shared: bool = False, device: str | torch.device = "auto",
                 precision: str = "auto", backend: str = "auto", compile: bool = False,
                 calibration: Sequence[Image.Image] = ()) -> list[Stylizer]:
        """A Stylizer for each choice `style` makes ("all": every style of the checkpoint).

        shared: the choices share one prepared net and switch its norms when called (StyleSwitch):
        one net in memory and no reload, for the webcam; else each choice is a net of its own.
        """
        stylizers = cls._load_all(checkpoint, style=style, shared=shared, device=device, precision=precision,
                                  backend=backend, compile=compile, calibration=calibration)
        source = (checkpoint.path if isinstance(checkpoint, (Checkpoint, LoadedUniversal))
                  else checkpoint if isinstance(checkpoint, (str, Path)) else None)
        for stylizer in stylizers:
            if source is not None and stylizer is not checkpoint:
                stylizer.sources = [Path(source), *stylizer.sources]
        return stylizers

    @classmethod
    def _load_all(cls, checkpoint: Stylizer | Checkpoint | TransformerNet | Runtime | str | Path, *,
                  style: StyleSpec, shared: bool, device: str | torch.device, precision: str, backend: str,
                  compile: bool, calibration: Sequence[Image.Image]) -> list[Stylizer]:
        if isinstance(checkpoint, Stylizer):
            if style not in (None, "all"):
                raise FastNSTError("a style is chosen when loading: give the checkpoint, not a loaded Stylizer")
            return [checkpoint]
        if isinstance(checkpoint, (UniversalNet, LoadedUniversal)) or (
                isinstance(checkpoint, (str, Path)) and is_universal_file(checkpoint)):
            # A list of paintings (or blends): one Stylizer each, sharing the net (the webcam's n/p).
            loaded = load_universal(checkpoint) if isinstance(checkpoint, (str, Path)) else checkpoint
            net = loaded.net if isinstance(loaded, LoadedUniversal) else loaded
            net = net if loaded is not checkpoint else copy.deepcopy(net)
            return [_universal(net, spec, device, precision, backend)
                    for spec in (style if isinstance(style, (list, tuple)) and style else [style])]
        if not isinstance(checkpoint, (Checkpoint, str, Path)):
            return _prepared(checkpoint, style, resolve_device(device))
        runtime = choose_runtime(checkpoint, device=device, precision=precision, backend=backend, compile=compile)
        cpu = torch.device("cpu")
        if runtime == "int8":
            from .int8 import quantize  # onnxruntime is an optional dependency

            loaded = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
            quantized = quantize(loaded, list(calibration))
            return [cls(quantized.with_style(c.mix), cpu, c.label, loaded.style_names, runtime)
                    for c in parse_style(style, loaded.style_names)]
        if runtime == "onnxruntime":
            session = _onnx_session(checkpoint)
            # One session; each choice feeds its own style weights.
            return [cls(session.with_style(c.mix), cpu, c.label, session.style_names, runtime)
                    for c in parse_style(style, session.style_names)]
        loaded = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
        dev = resolve_device(device)
        choices = parse_style(style, loaded.style_names)
        if shared and len(choices) > 1:
            net = FastStylizer(select_style(loaded.model, choices[0]), dev, precision, compile)
            targets, state = norms(net.net), {}
            return [cls(StyleSwitch(net, loaded.model, c, targets, state), dev, c.label, loaded.style_names)
                    for c in choices]
        return [cls(FastStylizer(select_style(loaded.model, c), dev, precision, compile), dev, c.label,
                    loaded.style_names) for c in choices]

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images)

    def check(self, options: StylizeOptions) -> StylizeOptions:
        """The options, checked, and checked against this runtime (only the torch nets tile)."""
        _options_given(options).check()
        if options.tile and not can_tile(self.net):
            raise OptionError(INT8_REFUSAL if self.runtime == "int8" else ONNX_REFUSAL)
        return options

    def auto_tile(self, options: StylizeOptions, pixels: int) -> int:
        """The tile size for an image of `pixels` pixels: the option's, or when it is None, tiles
        of DEFAULT_TILE above AUTO_TILE_PIXELS where the net can tile."""
        if options.tile is not None:
            return options.tile
        return DEFAULT_TILE if can_tile(self.net) and pixels > AUTO_TILE_PIXELS else 0

    @torch.inference_mode()
    def stylize_tensor(self, images: torch.Tensor, options: StylizeOptions | None = None,
                       tone: ToneSmoother | None = None, stream: MovingContentStats | None = None) -> torch.Tensor:
        """N x 3 x H x W in [0, 1] -> stylized, same shape and device, clamped to [0, 1], with the
        options' tile, match_tone, preserve_color and strength (applied in that order).

        For a stream of frames: tone, match_tone with statistics smoothed over time (tone.py);
        stream, the universal model's content statistics smoothed over time (universal/wct.py).
        """
        options = self.check(options or StylizeOptions())
        _check_images(images)
        tile = self.auto_tile(options, images.shape[-2] * images.shape[-1])
        universal = isinstance(self.net, UniversalRuntime)
        if universal:  # strength is the transform's alpha: a blend of features, not of pixels
            self.net.alpha = options.strength
            out = self.net.tiled(images, tile, stream) if tile else self.net(images, stream).to(images.device)
        else:
            out = stylize_tiled(self.net, images, tile) if tile else self.net(images).to(images.device)
        if options.match_tone:
            out = tone(out, images) if tone is not None else match_tone(out, images)
        if options.preserve_color:
            out = preserve_colors(out, images)
        if options.strength != 1.0 and not universal:
            out = options.strength * out + (1.0 - options.strength) * images
        return out.clamp_(0, 1)

    def stylize(self, image: Image.Image | np.ndarray | str | Path, options: StylizeOptions | None = None
                ) -> Image.Image:
        """One image (a PIL image in any mode, an H x W x 3 (or 4, or H x W) uint8 array, or a file's
        path: EXIF orientation applied) ->
        the stylized RGB image (RGBA if the input had transparency), the input's size unless
        max_size shrank it."""
        options = self.check(options or StylizeOptions())
        rgb, alpha = open_image(image) if isinstance(image, (str, Path)) else to_rgb(as_pil(image))
        rgb = resize_long_side(rgb, options.max_size)
        tile = self.auto_tile(options, rgb.width * rgb.height)
        # Tiled, the image stays in host memory and the tiles go to the device one at a time.
        x = to_tensor(rgb) if tile else to_tensor(rgb).to(self.device)
        out = to_pil(self.stylize_tensor(x, dataclasses.replace(options, tile=tile)))
        if alpha is not None:
            out.putalpha(alpha.resize(out.size))
        return out


def as_pil(image: object) -> Image.Image:
    """An image given from Python as a PIL image: a PIL image as it is, a numpy array of uint8
    (H x W x 3 RGB, H x W x 4 RGBA or H x W gray, as PIL and imageio read them) converted;
    anything else refused in one line."""
    if isinstance(image, Image.Image):
        return image
    if isinstance(image, np.ndarray):
        shape = " x ".join(map(str, image.shape))
        if image.dtype != np.uint8:
            raise FastNSTError(f"image: a numpy array must hold uint8 values 0..255, got {image.dtype} "
                               f"(for floats in 0..1: (array * 255).round().astype('uint8'))")
        if image.ndim == 3 and image.shape[2] == 1:
            image = image[:, :, 0]
        if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (3, 4))):
            raise FastNSTError(f"image: a numpy array must be H x W x 3 (RGB), H x W x 4 (RGBA) or H x W "
                               f"(gray), got {shape}")
        if 0 in image.shape[:2]:
            raise FastNSTError(f"image: the array is empty ({shape})")
        return Image.fromarray(np.ascontiguousarray(image))  # uint8: L, RGB or RGBA by its shape
    raise FastNSTError(f"image must be a PIL image, a numpy array (H x W x 3, uint8) or a file's path, "
                       f"got {shown(image)}")


def _check_images(images: object) -> None:
    """Stylizer.stylize_tensor's input: N x 3 x H x W, else one line saying what it got."""
    if not isinstance(images, torch.Tensor):
        raise FastNSTError(f"images must be a tensor N x 3 x H x W (values 0..1), got {shown(images)}; for a "
                           f"picture, use stylize")
    if images.dim() != 4 or images.shape[1] != 3:
        shape = " x ".join(map(str, images.shape))
        hint = "; for one image, images[None]" if images.dim() == 3 and images.shape[0] == 3 else ""
        raise FastNSTError(f"images must be a tensor N x 3 x H x W (values 0..1), got {shape}{hint}")
    if 0 in images.shape:
        raise FastNSTError(f"images: the tensor is empty ({' x '.join(map(str, images.shape))})")
    if not images.is_floating_point():
        raise FastNSTError(f"images must hold floats 0..1, got {images.dtype} (for bytes 0..255: images.float() / 255)")


def _one(stylizers: list[Stylizer], style: object = None) -> Stylizer:
    if len(stylizers) > 1 and isinstance(style, (list, tuple)):  # paintings, for the universal model
        raise OptionError(f"{{style}} {shown(style)}: one Stylizer takes one painting, or one blend of them "
                          f"(\"a.jpg=0.6,b.jpg=0.4\"); Stylizer.load_all makes one for each of a list")
    if len(stylizers) > 1:
        raise FastNSTError("style 'all' makes one output per style: stylize once per name in the "
                           "checkpoint's style_names (infer.py --style all does)")
    return stylizers[0]


def _prepared(net: TransformerNet | Runtime, style: StyleSpec, device: torch.device) -> list[Stylizer]:
    """A net or runtime given: run as it is on `device` (a TransformerNet: in the chosen style)."""
    if isinstance(net, TransformerNet):
        names = net_style_names(net)
        if net.config.num_styles == 1 and style is None:
            return [Stylizer(net.to(device).eval(), device, names[0], names)]
        return [Stylizer(select_style(net, c).to(device).eval(), device, c.label, names)
                for c in parse_style(style, names)]
    if style is not None and not (isinstance(style, str) and style == "all"):
        raise FastNSTError("a style can be chosen for a checkpoint or a TransformerNet, not for a prepared stylizer")
    if not callable(net):
        raise FastNSTError(f"cannot stylize with {shown(net)}: give a checkpoint, its path or a net")
    names = list(getattr(net, "style_names", []))
    runtime = "torch" if can_tile(net) else "onnxruntime"
    net = net.to(device).eval() if isinstance(net, nn.Module) else net
    return [Stylizer(net, device, names[0] if names else "", names, runtime)]


def _universal(net: UniversalNet, style: object, device: str | torch.device, precision: str,
               backend: str) -> Stylizer:
    """The universal model with the painting(s) `style` names: "a.jpg" or a blend "a.jpg=0.6,b.jpg=0.4"."""
    if style is not None and not isinstance(style, (str, Path)):
        raise OptionError(f"{{style}} must be a painting's path (a string or a Path), or a blend of them "
                          f"(\"a.jpg=0.6,b.jpg=0.4\"), got {shown(style)}")
    if style is None or style == "all":
        raise OptionError("the universal model stylizes with a painting: give {style} PAINTING (a file; "
                          "several blend: a.jpg=0.6,b.jpg=0.4)")
    if backend not in ("auto", "torch") or precision == "int8":
        raise OptionError("the universal model runs with {backend} torch (not onnxruntime or int8)")
    dev = resolve_device(device)
    runtime = UniversalRuntime(net, parse_paintings(style), dev, precision)
    return Stylizer(runtime, dev, runtime.label, [p.name for p in runtime.paintings], "universal",
                    [p.path for p in runtime.paintings])


def _onnx_session(checkpoint: Checkpoint | str | Path) -> Any:
    from .onnx_runtime import OnnxStylizer, cached_onnx_stylizer  # onnxruntime is an optional dependency

    if isinstance(checkpoint, Checkpoint):  # loaded already (perhaps never saved): exported once, cached
        return cached_onnx_stylizer(checkpoint)
    if Path(checkpoint).suffix.lower() == ".onnx":
        if not Path(checkpoint).is_file():
            raise FastNSTError(f"ONNX model not found: {checkpoint}")
        return OnnxStylizer(checkpoint)
    return cached_onnx_stylizer(load_checkpoint(checkpoint))


# What Stylizer.load takes besides the checkpoint, read off its signature so the two cannot drift.
LOAD_ARGUMENTS = set(inspect.signature(Stylizer.load).parameters) - {"checkpoint"}


def _options_given(options: object) -> StylizeOptions:
    if not isinstance(options, StylizeOptions):
        raise FastNSTError(f"options must be a StylizeOptions (or its fields as keyword arguments), "
                           f"got {shown(options)}")
    return options


def stylizer_and_options(model: Stylizer | Checkpoint | TransformerNet | str | Path | None,
                         options: StylizeOptions | None,
                         arguments: dict, calibration: Callable[[], list[Image.Image]] = list,
                         ) -> tuple[Stylizer, StylizeOptions]:
    """What fastnst.stylize and stylize_video take, sorted: keyword arguments that are
    StylizeOptions fields update `options`, the others go to Stylizer.load (a Stylizer given
    takes none). int8 calibrates on `calibration()` unless calibration photos are given. No model
    with style=PAINTING: the bundled universal model."""
    if model is None:
        if arguments.get("style") is None:
            raise FastNSTError("give a model (a checkpoint), or style=PAINTING for the bundled universal model")
        model = bundled_universal()
    fields = StylizeOptions.field_names()
    unknown = set(arguments) - fields - LOAD_ARGUMENTS
    if unknown:
        raise FastNSTError(f"unknown option(s): {', '.join(sorted(unknown))}: give StylizeOptions fields "
                           f"({', '.join(sorted(fields))}) or Stylizer.load's ({', '.join(sorted(LOAD_ARGUMENTS))})")
    options = dataclasses.replace(_options_given(options or StylizeOptions()),
                                  **{k: v for k, v in arguments.items() if k in fields}).check()
    load = {k: v for k, v in arguments.items() if k not in fields}
    if isinstance(model, Stylizer):
        if load:
            raise FastNSTError(f"{', '.join(load)}: these apply when loading; give the checkpoint, or pass them "
                               f"to Stylizer.load")
        return model, options
    if load.get("precision") == "int8" and "calibration" not in load:
        load["calibration"] = calibration()
    return Stylizer.load(model, **load), options


def stylize(image: Image.Image | str | Path, model: Stylizer | Checkpoint | TransformerNet | str | Path | None = None,
            options: StylizeOptions | None = None, **arguments: Any) -> Image.Image:
    """Stylize one image: `model` a Stylizer, or what Stylizer.load takes (then loaded for this call);
    None with style="painting.jpg": the bundled universal model, e.g. stylize("photo.jpg",
    style="painting.jpg").

    arguments: StylizeOptions fields (max_size, strength, tile, ...) and Stylizer.load's (style,
    device, precision, backend, ...), e.g. stylize("photo.jpg", "mosaic.pt", max_size=512,
    style="candy"). precision "int8" calibrates on this image.
    """
    def this_image() -> list[Image.Image]:
        rgb = open_rgb(image) if isinstance(image, (str, Path)) else to_rgb(as_pil(image))[0]
        return [rgb]

    stylizer, options = stylizer_and_options(model, options, arguments, this_image)
    return stylizer.stylize(image, options)
