"""python -m fastnst export / fastnst-export: ONNX and TorchScript files of a trained network."""

from __future__ import annotations

import argparse
from typing import Sequence

from ..inference.export import run_export
from .common import run


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fastnst-export", description="Export a trained network to ONNX (dynamic "
                                "batch, height and width; for onnxruntime) and/or TorchScript. Each export is "
                                "checked against PyTorch on a 67x45 image.")
    p.add_argument("ckpt", help="checkpoint (fastnst .pt, or a PyTorch fast_neural_style .pth/.model)")
    p.add_argument("--onnx", metavar="PATH", help="write an ONNX model here")
    p.add_argument("--torchscript", metavar="PATH", help="write a TorchScript module here (torch.jit.load)")
    p.add_argument("--no-check", dest="check", action="store_false", help="skip the comparison with PyTorch")
    return p


def _export(args: argparse.Namespace) -> int:
    for line in run_export(args.ckpt, args.onnx, args.torchscript, check=args.check):
        print(line)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(_export, get_parser(), argv)
