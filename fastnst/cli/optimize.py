"""fastnst optimize: Gatys et al.'s optimization for one photo."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

from ..images import IMAGE_EXTENSIONS
from ..optimization import optimize
from ..optimization.optimize import ADAM_LR, INITS, OPTIMIZERS
from .common import add_device_argument, add_loss_arguments, loss_options, run


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fastnst optimize",
                                description="Stylize one image by optimizing its pixels (Gatys et al.): slow, "
                                "no trained network needed, the same losses as training.")
    p.add_argument("content", help="the photo")
    p.add_argument("--style", required=True, help="the style image")
    p.add_argument("-o", "--output", help="output image (default: beside the photo as <name>_<style>_optimized.<ext>)")
    p.add_argument("--steps", type=int, default=300, help="loss network passes, one per step (default 300)")
    p.add_argument("--size", type=int, default=512, help="resize the photo to this long side (default 512)")
    p.add_argument("--init", choices=INITS, default="content", help="start from the photo "
                   "(default) or from white noise")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="lbfgs", help="default lbfgs")
    p.add_argument("--lr", type=float, help=f"Adam's step size, pixels being 0..1 (default {ADAM_LR:g}); "
                   "L-BFGS needs none (line search)")
    p.add_argument("--save-every", type=int, help="also save <output>_<step>.<ext> every N steps")
    p.add_argument("--preserve-color", action="store_true", help="keep the photo's colours (luminance-only transfer)")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise start (default 0)")
    add_device_argument(p)
    p.add_argument("--no-progress", dest="progress", action="store_false", default=None,
                   help="no progress bar")
    add_loss_arguments(p)
    return p


def _optimize(args: argparse.Namespace) -> int:
    output = args.output
    if output is None:
        content = Path(args.content)
        ext = content.suffix.lower() if content.suffix.lower() in IMAGE_EXTENSIONS else ".png"
        output = content.with_name(f"{content.stem}_{Path(args.style).stem}_optimized{ext}")
    _, history = optimize(args.content, args.style, output=output, steps=args.steps, size=args.size,
                          init=args.init, optimizer=args.optimizer, lr=args.lr, save_every=args.save_every,
                          preserve_color=args.preserve_color, device=args.device, seed=args.seed,
                          progress=args.progress, return_history=True, **loss_options(args))
    first, last, steps = history[0], history[-1], max(len(history) - 1, 1)
    print(f"{args.content} -> {output}: {steps} steps in {last['seconds']:.1f} s "
          f"({last['seconds'] / steps:.3g} s/step), loss {first['total']:.4g} -> {last['total']:.4g} "
          f"(content {last['content']:.4g}, style {last['style']:.4g}, tv {last['tv']:.4g})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(_optimize, get_parser(), argv)
