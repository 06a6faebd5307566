"""Inference: a Stylizer loaded once and called on images (with StylizeOptions), the fast path,
tiles for huge images, and export to ONNX / TorchScript."""

from .fastpath import FastStylizer
from .loader import choose_runtime, load_runtimes
from .options import OptionError, RuntimeSpec, StylizeOptions, VideoOptions
from .runtime import Runtime
from .styles import StyleChoice, StyleSpec, parse_style
from .stylizer import Stylizer, preserve_colors, stylize
from .tone import ToneSmoother, match_tone

__all__ = ["FastStylizer", "OptionError", "Runtime", "RuntimeSpec", "StyleChoice", "StyleSpec", "StylizeOptions",
           "Stylizer", "ToneSmoother", "VideoOptions", "choose_runtime", "load_runtimes", "match_tone", "parse_style",
           "preserve_colors", "stylize"]
