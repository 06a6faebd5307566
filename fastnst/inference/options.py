"""The three option objects, each passed whole and checked once, where it is built: how to run a
model (RuntimeSpec), how to stylize an image or frame (StylizeOptions), how to read and write a
video (VideoOptions).

    stylizer = Stylizer.from_file("mosaic.pt", runtime=RuntimeSpec(precision="fp32"))
    options = StylizeOptions(max_size=1024, strength=0.8)
    stylizer.stylize("photo.jpg", options)

Its errors name the fields as Python callers know them ("strength must be between 0 and 1, got 2");
the command line words the same error with its flags ("--strength ...", cli/common.py).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from ..checks import field_problem
from ..device import BACKENDS, INFERENCE_PRECISIONS
from ..errors import OptionError
from .tiling import MIN_TILE


class Options:
    """A small dataclass of options, checked once where it is built: each field against its type
    hint first (Python callers can pass anything), then `check_values` for ranges."""

    def check(self):
        """Raise an OptionError for the first value of the wrong type or out of range; else return self."""
        problem = field_problem(self)
        if problem:
            name, _, rest = problem.partition(" ")
            raise OptionError(f"{{{name}}} {rest}")
        self.check_values()
        return self

    def check_values(self) -> None:
        """Ranges and combinations; the types are right already."""

    @classmethod
    def field_names(cls) -> set[str]:
        return {f.name for f in dataclasses.fields(cls)}


@dataclass
class StylizeOptions(Options):
    """What to do to each image or frame (images, videos, webcam).

    max_size: shrink first so the long side is at most this many pixels (None: as it is).
    preserve_color: keep the photo's colours, transfer only luminance.
    strength: 0..1, blend of stylized (1) and original (0); for the universal model, the transform's
        alpha (a blend of features, Li et al. 2017).
    match_tone: bring the output's brightness and contrast back to the photo's (smoothed over time
        on video and the webcam); applied first, then preserve_color, then strength.
    steady: video and webcam with the universal model: the transform's content statistics averaged
        over the recent frames, so the look holds still from frame to frame; False: each frame's own.
    tile: stylize in tiles of this many pixels with blended seams, in bounded memory; 0 never;
        None: tiles of 1024 for images above 3840 x 2160 (onnxruntime runs whole images).
    """

    max_size: int | None = None
    preserve_color: bool = False
    strength: float = 1.0
    match_tone: bool = False
    steady: bool = True
    tile: int | None = None

    def check_values(self) -> None:
        if not 0.0 <= self.strength <= 1.0:
            raise OptionError(f"{{strength}} must be between 0 and 1, got {self.strength}")
        if self.max_size is not None and self.max_size < 1:
            raise OptionError("{max_size} must be a positive number of pixels")
        if self.tile is not None and self.tile != 0 and not self.tile >= MIN_TILE:
            raise OptionError(f"{{tile}} {self.tile}: tiles must be at least {MIN_TILE} pixels (0: never tile)")


@dataclass
class VideoOptions(Options):
    """How to read and write a video (files, and the webcam's recording).

    batch_size: frames per forward pass; crf (H.264 quality, 0..51) and preset (x264 speed), None
    for the writer's defaults; frames: only the first N (of a file, or of the webcam);
    allow_partial: a video that ends before the frames it declares is written with a warning
    instead of failing.
    """

    batch_size: int = 4
    crf: int | None = None
    preset: str | None = None
    frames: int | None = None
    allow_partial: bool = False

    def check_values(self) -> None:
        if self.frames is not None and self.frames < 1:
            raise OptionError("{frames} must be at least 1")
        if self.batch_size < 1:
            raise OptionError("{batch_size} must be at least 1")
        if self.crf is not None and not 0 <= self.crf <= 51:
            raise OptionError(f"{{crf}} must be between 0 and 51, got {self.crf}")


@dataclass(frozen=True)
class RuntimeSpec(Options):
    """How to run a model: on which device, in which precision, by which backend.

    device: "auto", "cpu", "cuda", "cuda:N" or "mps" (or a torch.device).
    precision: "auto" runs the fast path in the device's fastest precision (bf16 on CPUs with
        native bf16, fp16 on CUDA, else fp32: docs/speed.md); "fp32", "bf16" or "fp16" force one;
        "int8" quantizes the net for onnxruntime on the CPU, calibrated on photos.
    backend: "torch" (the fast path), "onnxruntime" (CPU: an .onnx file from export, or a
        checkpoint exported once and cached), or "auto": onnxruntime for an .onnx file.
    compile: torch.compile the net (a slow start, then the fastest).
    """

    device: str | torch.device = "auto"
    precision: str = "auto"
    backend: str = "auto"
    compile: bool = False

    def check_values(self) -> None:
        if self.backend not in BACKENDS:
            raise OptionError(f"{{backend}} {self.backend}: choose one of {', '.join(BACKENDS)}")
        if self.precision not in INFERENCE_PRECISIONS:
            raise OptionError(f"{{precision}} {self.precision}: choose one of {', '.join(INFERENCE_PRECISIONS)}")
