"""fastnst export: ONNX and TorchScript files of a trained network,
each checked against PyTorch."""

from __future__ import annotations

import argparse
import warnings
from typing import Sequence

import torch

from ..checkpoint import load_checkpoint
from ..errors import FastNSTError
from ..files import check_writable
from ..inference.export import OPSET, export_onnx, export_torchscript
from .common import run


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fastnst export", description="Export a trained network to ONNX (dynamic "
                                "batch, height and width; for onnxruntime) and/or TorchScript. Each export is "
                                "checked against PyTorch on a 67x45 image.")
    p.add_argument("ckpt", help="checkpoint (fastnst .pt, or a PyTorch fast_neural_style .pth/.model)")
    p.add_argument("--onnx", metavar="PATH", help="write an ONNX model here")
    p.add_argument("--torchscript", metavar="PATH", help="write a TorchScript module here (torch.jit.load)")
    p.add_argument("--no-check", dest="check", action="store_false", help="skip the comparison with PyTorch")
    return p


def _export(args: argparse.Namespace) -> int:
    """A line per file written, with its largest difference from PyTorch unless --no-check."""
    if not args.onnx and not args.torchscript:
        raise FastNSTError("nothing to export: give --onnx PATH and/or --torchscript PATH")
    for option, path in (("--onnx", args.onnx), ("--torchscript", args.torchscript)):
        if path:  # before the export's work
            check_writable(path, [args.ckpt], option)
    checkpoint = load_checkpoint(args.ckpt)
    # An odd size, so the check covers the padding that makes any H x W work.
    probe = torch.rand(1, 3, 67, 45, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        expected = checkpoint.model.float().cpu().eval()(probe)
    if args.onnx:
        path = export_onnx(checkpoint, args.onnx)
        line = f"{args.ckpt} -> {path} (ONNX, opset {OPSET}, dynamic H x W)"
        if args.check:
            from ..inference.onnx_runtime import OnnxStylizer  # onnxruntime is an optional dependency

            error = (OnnxStylizer(path)(probe) - expected).abs().max().item()
            line += f"; onnxruntime vs PyTorch at 67x45: max abs difference {error:.1e}"
        print(line)
    if args.torchscript:
        path = export_torchscript(checkpoint, args.torchscript)
        line = f"{args.ckpt} -> {path} (TorchScript)"
        if args.check:
            with torch.inference_mode(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch.jit is deprecated upstream
                error = (torch.jit.load(str(path))(probe) - expected).abs().max().item()
            line += f"; vs PyTorch at 67x45: max abs difference {error:.1e}"
        print(line)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(_export, get_parser(), argv)
