"""Inference: an image in, a stylized image out (stylize), the fast path, tiles for huge images,
and export to ONNX / TorchScript."""

from .fastpath import FastStylizer
from .styles import StyleChoice, StyleSpec, parse_style
from .stylizer import Stylizer, as_model, load_stylizer, load_stylizers, preserve_colors, stylize, stylize_tensor
from .tone import ToneSmoother, match_tone

__all__ = ["FastStylizer", "StyleChoice", "StyleSpec", "Stylizer", "ToneSmoother", "as_model", "load_stylizer",
           "load_stylizers", "match_tone", "parse_style", "preserve_colors", "stylize", "stylize_tensor"]
