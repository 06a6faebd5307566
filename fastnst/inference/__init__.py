"""Inference: an image in, a stylized image out (stylize), the fast path, tiles for huge images,
and export to ONNX / TorchScript."""

from .fastpath import FastStylizer
from .stylizer import Stylizer, as_model, load_stylizer, preserve_colors, stylize, stylize_tensor
from .tone import ToneSmoother, match_tone

__all__ = ["FastStylizer", "Stylizer", "ToneSmoother", "as_model", "load_stylizer", "match_tone", "preserve_colors",
           "stylize", "stylize_tensor"]
