"""A model loaded once, then called on images: image in, stylized image out.

    stylizer = Stylizer.from_file("mosaic.pt")            # the fast path on the best device
    stylizer("photo.jpg", StylizeOptions(max_size=1024)).save("photo_mosaic.jpg")
    y = stylizer.stylize_tensor(x, options)               # N x 3 x H x W in [0, 1]: frames, batches
    y = stylizer(x)                                       # the same through the runtime alone (no options)

What runs the model is chosen once, by the loader (loader.py); the Stylizer applies the options
around it. fastnst.stylize is the one-off form: loaded for the call, kept for the next (recent.py).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from PIL import Image

from ..checks import shown
from ..errors import FastNSTError
from ..images import open_image, open_rgb, resize_long_side, to_pil, to_rgb, to_tensor
from .loader import INT8_REFUSAL, ONNX_REFUSAL, Calibration, Model, load_runtimes
from .options import OptionError, RuntimeSpec, StylizeOptions, VideoOptions
from .recent import RECENT_STYLIZERS
from .runtime import Net, Runtime, as_runtime
from .styles import StyleSpec
from .tiling import AUTO_TILE_PIXELS, DEFAULT_TILE
from .tone import ToneSmoother, match_tone
from .universal import bundled_universal


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
    """A model prepared for one device and one style (or blend), loaded once and called many times.

        stylizer = Stylizer.from_file("mosaic.pt", runtime=RuntimeSpec(device="cpu"))
        stylizer("photo.jpg", StylizeOptions(max_size=1024)).save("photo_mosaic.jpg")

    `stylize_tensor(x, options)` and `stylize(image, options)` (also `stylizer(image, options)`)
    apply the options around the runtime (inference/runtime.py). Attributes: runtime; device,
    label (the style's name or blend label, for file names and captions), style_names (every
    style the model holds), net (what the runtime runs) and sources (the files it was made from:
    the checkpoint, the paintings; what no output may replace), the runtime's.
    """

    def __init__(self, runtime: Runtime | Net, device: torch.device | None = None) -> None:
        """A Runtime as it is; a net (or anything called like one) run as it is on `device` (CPU)."""
        self.runtime = as_runtime(runtime, device or torch.device("cpu"))

    device = property(lambda self: self.runtime.device)
    label = property(lambda self: self.runtime.label)
    style_names = property(lambda self: self.runtime.style_names)
    net = property(lambda self: self.runtime.net)
    sources = property(lambda self: self.runtime.sources)

    @classmethod
    def from_file(cls, model: Model, style: StyleSpec = None, runtime: RuntimeSpec | None = None,
                  calibration: Calibration = ()) -> Stylizer:
        """A model (a checkpoint's path, an .onnx file, a universal model, or one loaded) prepared
        the fastest way `runtime` allows (inference/options.py RuntimeSpec).

        style: for a net of several styles, which: a name or index, or a blend such as
            "mosaic=0.6,candy=0.4" or {"mosaic": 0.6, "candy": 0.4}; None: the first. For the
            universal model, the painting: "painting.jpg" or "a.jpg=0.6,b.jpg=0.4".
        calibration: for int8, a few of the photos to stylize.
        """
        if isinstance(model, Stylizer):
            return cls.from_files(model, style, runtime)[0]
        runtimes = load_runtimes(model, style, runtime, calibration=calibration)
        if len(runtimes) > 1 and isinstance(style, (list, tuple)):  # paintings, for the universal model
            raise OptionError(f"{{style}} {shown(style)}: one Stylizer takes one painting, or one blend of them "
                              f"(\"a.jpg=0.6,b.jpg=0.4\"); Stylizer.load_all makes one for each of a list")
        if len(runtimes) > 1:
            raise FastNSTError("style 'all' makes one output per style: stylize once per name in the "
                               "checkpoint's style_names (infer.py --style all does)")
        return cls(runtimes[0])

    @classmethod
    def from_files(cls, model: Model, style: StyleSpec | Sequence[str | Path] = "all",
                   runtime: RuntimeSpec | None = None, *, shared: bool = False,
                   calibration: Calibration = (), tile: int | None = None) -> list[Stylizer]:
        """A Stylizer for each choice `style` makes ("all": every style of the checkpoint; a list
        of paintings for the universal model). shared: the choices share one prepared net (the
        webcam's n/p: one net in memory, no reload). tile: the tiles that will be asked for,
        refused before any work where the runtime cannot tile."""
        if isinstance(model, Stylizer):
            if style not in (None, "all"):
                raise FastNSTError("a style is chosen when loading: give the checkpoint, not a loaded Stylizer")
            return [model]
        runtimes = load_runtimes(model, style, runtime, shared=shared, calibration=calibration, tile=tile)
        return [cls(r) for r in runtimes]

    @classmethod
    def load(cls, checkpoint: Model, *, style: StyleSpec = None, device: str | torch.device = "auto",
             precision: str = "auto", backend: str = "auto", compile: bool = False,
             calibration: Calibration = ()) -> Stylizer:
        """from_file with the RuntimeSpec's fields as keywords (device, precision, backend, compile)."""
        return cls.from_file(checkpoint, style, RuntimeSpec(device, precision, backend, compile), calibration)

    @classmethod
    def load_all(cls, checkpoint: Model, *, style: StyleSpec = "all", shared: bool = False,
                 device: str | torch.device = "auto", precision: str = "auto", backend: str = "auto",
                 compile: bool = False, calibration: Calibration = ()) -> list[Stylizer]:
        """from_files with the RuntimeSpec's fields as keywords."""
        return cls.from_files(checkpoint, style, RuntimeSpec(device, precision, backend, compile), shared=shared,
                              calibration=calibration)

    def __call__(self, image: Image.Image | np.ndarray | str | Path | torch.Tensor,
                 options: StylizeOptions | None = None) -> Image.Image | torch.Tensor:
        """stylize for an image or a file. A tensor (N x 3 x H x W in [0, 1]) is run through the
        runtime alone, unclamped, as the net gives it (stylize_tensor applies the options)."""
        if isinstance(image, torch.Tensor):
            if options is not None:
                raise FastNSTError("options apply to images; for a tensor with options use stylize_tensor")
            return self.runtime(image)
        return self.stylize(image, options)

    def check(self, options: StylizeOptions) -> StylizeOptions:
        """The options, checked, and checked against this runtime (only the torch nets tile)."""
        _options_given(options).check()
        if options.tile and not self.runtime.can_tile:
            raise OptionError(INT8_REFUSAL if self.runtime.kind == "int8" else ONNX_REFUSAL)
        return options

    def auto_tile(self, options: StylizeOptions, pixels: int) -> int:
        """The tile size for an image of `pixels` pixels: the option's, or when it is None, tiles
        of DEFAULT_TILE above AUTO_TILE_PIXELS where the runtime can tile."""
        if options.tile is not None:
            return options.tile
        return DEFAULT_TILE if self.runtime.can_tile and pixels > AUTO_TILE_PIXELS else 0

    @torch.inference_mode()
    def stylize_tensor(self, images: torch.Tensor, options: StylizeOptions | None = None,
                       tone: ToneSmoother | None = None, stream: Any = None) -> torch.Tensor:
        """N x 3 x H x W in [0, 1] -> stylized, same shape and device, clamped to [0, 1], with the
        options' tile, match_tone, preserve_color and strength (applied in that order).

        For a stream of frames: tone, match_tone with statistics smoothed over time (tone.py);
        stream, the runtime's state shared by successive frames (Runtime.new_stream).
        """
        options = self.check(options or StylizeOptions())
        _check_images(images)
        tile = self.auto_tile(options, images.shape[-2] * images.shape[-1])
        if tile:
            out = self.runtime.tiled(images, tile, options.strength, stream)
        else:
            out = self.runtime(images, options.strength, stream)
        if options.match_tone:
            out = tone(out, images) if tone is not None else match_tone(out, images)
        if options.preserve_color:
            out = preserve_colors(out, images)
        if options.strength != 1.0 and not self.runtime.blends_features:
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


# What loading takes besides the model: the RuntimeSpec's fields, the style and int8's photos.
LOAD_ARGUMENTS = RuntimeSpec.field_names() | {"style", "calibration"}


def _options_given(options: object) -> StylizeOptions:
    if not isinstance(options, StylizeOptions):
        raise FastNSTError(f"options must be a StylizeOptions (or its fields as keyword arguments), "
                           f"got {shown(options)}")
    return options


def stylizer_and_options(model: Stylizer | Model | None, options: StylizeOptions | None, arguments: dict,
                         calibration: Callable[[], list[Image.Image]] = list, video: VideoOptions | None = None,
                         ) -> tuple[Stylizer, StylizeOptions, VideoOptions | None]:
    """What fastnst.stylize and stylize_video take, sorted: keyword arguments that are fields of
    StylizeOptions (or, given `video`, of VideoOptions) update those options, RuntimeSpec's fields,
    style and calibration go to loading (a Stylizer given takes none). int8 calibrates on
    `calibration()` unless calibration photos are given. No model with style=PAINTING: the bundled
    universal model."""
    if model is None:
        if arguments.get("style") is None:
            raise FastNSTError("give a model (a checkpoint), or style=PAINTING for the bundled universal model")
        model = bundled_universal()
    kinds = [StylizeOptions] + ([VideoOptions] if video is not None else [])
    fields = set().union(*(kind.field_names() for kind in kinds))
    unknown = set(arguments) - fields - LOAD_ARGUMENTS
    if unknown:
        given = " or ".join(f"{kind.__name__} fields ({', '.join(sorted(kind.field_names()))})" for kind in kinds)
        raise FastNSTError(f"unknown option(s): {', '.join(sorted(unknown))}: give {given} or Stylizer.load's "
                           f"({', '.join(sorted(LOAD_ARGUMENTS))})")
    options = _updated(options, StylizeOptions, "options", arguments)
    video = _updated(video, VideoOptions, "video", arguments) if video is not None else None
    load = {k: v for k, v in arguments.items() if k not in fields}
    if isinstance(model, Stylizer):
        if load:
            raise FastNSTError(f"{', '.join(load)}: these apply when loading; give the checkpoint, or pass them "
                               f"to Stylizer.load")
        return model, options, video
    spec = RuntimeSpec(**{k: v for k, v in load.items() if k in RuntimeSpec.field_names()})
    if video is None and isinstance(model, (str, Path)) and spec.precision != "int8" and "calibration" not in load:
        key = (Path(model).resolve(), repr(load.get("style")), spec)
        return RECENT_STYLIZERS.get(key, lambda: Stylizer.from_file(model, load.get("style"), spec)), options, video
    photos = load.get("calibration", lambda labels: calibration())
    return Stylizer.from_file(model, load.get("style"), spec, photos), options, video


def _updated(given: object, kind: type, name: str, arguments: dict) -> Any:
    """`given` (an options object of `kind`, or None for the defaults) with the keyword arguments
    that are its fields, checked."""
    given = kind() if given is None else given
    if not isinstance(given, kind):
        raise FastNSTError(f"{name} must be a {kind.__name__} (or its fields as keyword arguments), "
                           f"got {shown(given)}")
    return dataclasses.replace(given, **{k: v for k, v in arguments.items() if k in kind.field_names()}).check()


def stylize(image: Image.Image | str | Path, model: Stylizer | Model | None = None,
            options: StylizeOptions | None = None, **arguments: Any) -> Image.Image:
    """Stylize one image: `model` a Stylizer, or what Stylizer.load takes (loaded, kept for the next call);
    None with style="painting.jpg": the bundled universal model, e.g. stylize("photo.jpg",
    style="painting.jpg").

    arguments: StylizeOptions fields (max_size, strength, tile, ...) and Stylizer.load's (style,
    device, precision, backend, ...), e.g. stylize("photo.jpg", "mosaic.pt", max_size=512,
    style="candy"). precision "int8" calibrates on this image.
    """
    def this_image() -> list[Image.Image]:
        rgb = open_rgb(image) if isinstance(image, (str, Path)) else to_rgb(as_pil(image))[0]
        return [rgb]

    stylizer, options, _ = stylizer_and_options(model, options, arguments, this_image)
    return stylizer.stylize(image, options)
