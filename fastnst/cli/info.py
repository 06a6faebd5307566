"""fastnst info CKPT: what a checkpoint holds."""

from __future__ import annotations

import argparse
from typing import Sequence

from ..checkpoint import Checkpoint, load_checkpoint
from ..inference.loader import file_kind
from ..universal import LoadedUniversal, load_universal
from .common import run


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fastnst info", description="The styles, network and training "
                                "of checkpoints.")
    p.add_argument("ckpt", nargs="+", metavar="CKPT", help="fastnst checkpoints (per-style, universal, ONNX) or PyTorch "
                   "fast_neural_style ones")
    return p


def describe(path: str, ckpt: Checkpoint) -> list[str]:
    config, args = ckpt.model.config, ckpt.train_args
    count = len(ckpt.style_names)
    lines = [f"{path}: {ckpt.format} checkpoint, {count} style{'s' * (count > 1)}"]
    for i, (name, thumb) in enumerate(zip(ckpt.style_names, ckpt.style_thumbnails)):
        lines.append(f"  {i}  {name}" + (f"  (thumbnail {thumb.width}x{thumb.height})" if thumb else ""))
    params = sum(p.numel() for p in ckpt.model.parameters())
    lines.append(f"  network: {config.arch}, channels {'/'.join(map(str, config.channels))}, "
                 f"{config.num_residual} residual blocks, {params / 1e6:.2f} M parameters")
    if args:
        trained = f"  trained: {ckpt.step} steps"
        if args.get("image_size"):
            trained += f" at {args['image_size']} px, batch {args.get('batch_size')}"
        if args.get("init"):
            trained += f", from {args['init']}" + (" (norms only)" if args.get("only_norms") else "")
        if args.get("distill"):
            trained += f", distilled from {args['distill']}"
        lines.append(trained)
    shown = {"loss_net": "", "style_weight": "style weight ", "style_gains": "x ", "style_size": "style size ",
             "style_layer_weights": "layer weights "}
    if args.get("distill"):  # no painting: the teacher's output is the target
        shown = {"loss_net": "", "pixel_weight": "pixel weight ", "content_weight": "content weight "}
    loss = [f"{label}{_plain(ckpt.loss[key])}" for key, label in shown.items() if ckpt.loss.get(key) is not None]
    if loss:
        lines.append("  loss: " + ", ".join(loss))
    return lines


def _plain(value: object) -> str:
    """A loss option as info shows it: numbers short (a measured style gain has 16 digits)."""
    if isinstance(value, (list, tuple)):
        return ",".join(_plain(v) for v in value)
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 10 else f"{value:g}"
    return str(value)


def describe_universal(path: str, loaded: LoadedUniversal) -> list[str]:
    """A universal model: its levels, decoders, encoder and how the decoders were trained."""
    net, args = loaded.net, loaded.train_args
    encoder = sum(p.numel() for p in net.encoder.parameters())
    decoders = sum(p.numel() for p in net.decoders.parameters())
    lines = [f"{path}: universal model, any painting (infer.py PHOTO --style PAINTING --ckpt {path})",
             f"  levels: {', '.join(net.config.levels)} (coarse to fine), decoders at width {net.config.width:g}",
             f"  encoder: VGG19 to {net.config.deepest}, {encoder / 1e6:.2f} M parameters; decoders "
             f"{decoders / 1e6:.2f} M parameters"]
    # A file joined from several runs (scripts/compose_universal.py) holds each level's training options.
    runs = [(f"{level} decoder", args[level], args[level].get("step", 0))
            for level in net.config.levels if isinstance(args.get(level), dict)]
    if not runs and args:
        runs = [("decoders", args, loaded.step)]
    for label, run_args, step in runs:
        trained = f"  {label} trained: {step} steps"
        if run_args.get("image_size"):
            trained += f" at {run_args['image_size']} px, batch {run_args.get('batch_size')}, lr {run_args.get('lr')}"
        if run_args.get("data"):
            trained += f", on {run_args['data']}"
        lines.append(trained)
    return lines


def describe_onnx(path: str) -> list[str]:
    """An exported net: its styles and network, from the export's metadata."""
    from ..inference.onnx_runtime import describe_onnx as read  # onnxruntime is an optional dependency

    names, arch = read(path)
    lines = [f"{path}: ONNX model (run with infer.py --ckpt {path}), {len(names)} style{'s' * (len(names) > 1)}"]
    lines += [f"  {i}  {name}" for i, name in enumerate(names)]
    if arch:
        lines.append(f"  network: {arch}")
    return lines


def _info(args: argparse.Namespace) -> int:
    for path in args.ckpt:
        kind = file_kind(path)
        if kind == "onnx":
            print("\n".join(describe_onnx(path)))
        elif kind == "universal":
            print("\n".join(describe_universal(path, load_universal(path))))
        else:
            print("\n".join(describe(path, load_checkpoint(path))))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(_info, get_parser(), argv)
