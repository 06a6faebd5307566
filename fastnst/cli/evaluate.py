"""fastnst evaluate: how good a trained network is."""

from __future__ import annotations

import argparse
from typing import Sequence

from ..files import check_writable
from ..optimization import evaluate
from ..optimization.evaluate import format_table, write_json
from ..optimization.optimize import ADAM_LR, INITS, OPTIMIZERS
from .common import add_device_argument, add_loss_arguments, loss_options, run


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fastnst evaluate",
                                description="Content and style losses of a trained network's outputs, its speed, "
                                "and the optimizer steps it is worth.")
    p.add_argument("--ckpt", required=True, help="checkpoint to evaluate")
    p.add_argument("--content", required=True, help="folder of photos (or one photo)")
    p.add_argument("--style", help="style image (default: the one the checkpoint was trained on, if it is here)")
    p.add_argument("--net-style", metavar="NAME|INDEX", help="for a network of several styles: the one to evaluate "
                   "(default its first)")
    p.add_argument("--size", type=int, default=256, help="resize photos to this long side (default 256)")
    p.add_argument("--images", type=int, help="use only the first N photos")
    p.add_argument("--json", help="also write the full report here")
    p.add_argument("--vs-optimize", type=int, metavar="N", help="run the optimizer up to N steps per photo and "
                   "report the step where its loss falls below the network's")
    p.add_argument("--vs-init", choices=INITS, default="noise", help="optimizer start (default "
                   "noise, as Johnson et al.'s baseline)")
    p.add_argument("--vs-optimizer", choices=OPTIMIZERS, default="lbfgs", help="default lbfgs")
    p.add_argument("--vs-lr", type=float, help=f"Adam's step size (default {ADAM_LR:g})")
    add_device_argument(p)
    p.add_argument("--no-progress", dest="progress", action="store_false", default=None,
                   help="no progress bar")
    add_loss_arguments(p, unset="the checkpoint's (its loss network, layers and training weights)")
    return p


def _evaluate(args: argparse.Namespace) -> int:
    reads = [args.ckpt, args.content, args.style, args.loss_weights]
    if args.json:  # before the work, not after it
        check_writable(args.json, reads, "--json")
    report = evaluate(args.ckpt, args.content, args.style, size=args.size, images=args.images,
                      vs_optimize=args.vs_optimize, vs_init=args.vs_init, vs_optimizer=args.vs_optimizer,
                      vs_lr=args.vs_lr, device=args.device, progress=args.progress, net_style=args.net_style,
                      **loss_options(args))
    print(format_table(report))
    if args.json:
        print(f"wrote {write_json(report, args.json, reads)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(_evaluate, get_parser(), argv)
