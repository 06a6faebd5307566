"""Inference: a Stylizer loaded once and called on images (with StylizeOptions), the fast path,
tiles for huge images, and export to ONNX / TorchScript."""

from .fastpath import FastStylizer
from .options import OptionError, StylizeOptions
from .styles import StyleChoice, StyleSpec, parse_style
from .stylizer import Stylizer, choose_runtime, preserve_colors, stylize
from .tone import ToneSmoother, match_tone

__all__ = ["FastStylizer", "OptionError", "StyleChoice", "StyleSpec", "StylizeOptions", "Stylizer", "ToneSmoother",
           "choose_runtime", "match_tone", "parse_style", "preserve_colors", "stylize"]
