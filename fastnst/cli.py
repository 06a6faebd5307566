"""Argument parsers and main functions for train.py / infer.py and the console scripts.

Only this module prints errors and picks exit codes: the package raises FastNSTError.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Callable, Sequence

from .errors import FastNSTError


def _run(main: Callable[[argparse.Namespace], int], parser: argparse.ArgumentParser,
         argv: Sequence[str] | None) -> int:
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        return main(args)
    except FastNSTError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _layers(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got '{text}'") from None


# ----------------------------------------------------------------------------------------- train
def get_train_parser() -> argparse.ArgumentParser:
    # Every default is None: unset flags fall back to TrainConfig's defaults, or on --resume to the
    # values stored in the checkpoint.
    p = argparse.ArgumentParser(prog="train.py", description="Train a fast style transfer network for one style image.",
                                argument_default=None)
    g = p.add_argument_group("style and data")
    g.add_argument("--style", help="style image (the painting)")
    g.add_argument("--data", help="training photos: a local folder (recursive) or a Hugging Face dataset id "
                   "(default: COCO streamed from the hub)")
    g.add_argument("--image-size", type=int, help="training crop size in pixels (default 256)")
    g.add_argument("--batch-size", type=int, help="images per step (default 4)")
    g.add_argument("--workers", type=int, help="data loader processes (default 2)")
    g.add_argument("--val-dir", help="images for the TensorBoard sample grid (default: the first training images)")
    g = p.add_argument_group("schedule")
    g.add_argument("--steps", type=int, help="optimizer steps (default 40000)")
    g.add_argument("--epochs", type=float, help="passes over a local --data folder, instead of --steps")
    g.add_argument("--lr", type=float, help="Adam learning rate (default 1e-3)")
    g.add_argument("--seed", type=int, help="random seed (default 0)")
    g.add_argument("--device", help="auto (default), cpu, cuda, cuda:N or mps")
    g = p.add_argument_group("losses")
    g.add_argument("--loss-net", choices=["vgg16", "vgg19"], help="loss network (default vgg16)")
    g.add_argument("--loss-weights", help="local VGG weights (torchvision features state dict) instead of "
                   "downloading ImageNet weights; 'random' for an untrained net (tests only)")
    g.add_argument("--content-layers", type=_layers, help="comma-separated, e.g. relu2_2 (default) or relu3_3")
    g.add_argument("--style-layers", type=_layers, help="comma-separated (default relu1_2,relu2_2,relu3_3,relu4_3)")
    g.add_argument("--style-layer-weights", type=_floats, help="comma-separated weight per style layer (default 1 each)")
    g.add_argument("--content-weight", type=float, help="default 1")
    g.add_argument("--style-weight", type=float, help="default 3e4")
    g.add_argument("--tv-weight", type=float, help="total variation weight (default 1e-2)")
    g.add_argument("--style-size", type=int, help="long side the style image is seen at: sets the brush stroke "
                   "scale (default 512)")
    g = p.add_argument_group("output")
    g.add_argument("--out", help="small inference checkpoint (default <logdir>/<style>.pt)")
    g.add_argument("--logdir", help="TensorBoard folder (default runs/<style>-<time>)")
    g.add_argument("--sample-every", type=int, help="steps between sample grids (default 500)")
    g.add_argument("--log-every", type=int, help="steps between scalar logs (default 10)")
    g.add_argument("--ckpt-every", type=int, help="steps between training checkpoints (default 1000)")
    g.add_argument("--ckpt-path", help="training checkpoint (default <logdir>/checkpoint.pt)")
    g.add_argument("--resume", help="continue from a training checkpoint; its stored options apply unless given again")
    g.add_argument("--no-progress", dest="progress", action="store_false", default=None, help="no progress bar")
    return p


def _train(args: argparse.Namespace) -> int:
    from .training import train

    options = {k: v for k, v in vars(args).items() if v is not None}
    if "resume" not in options and "style" not in options:
        raise FastNSTError("no style image given: --style PATH")
    out = train(**options)
    print(f"saved {out}")
    return 0


def train_main(argv: Sequence[str] | None = None) -> int:
    return _run(_train, get_train_parser(), argv)


# ----------------------------------------------------------------------------------------- infer
def get_infer_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="infer.py", description="Stylize images with a trained network.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders")
    p.add_argument("--ckpt", required=True, help="checkpoint (fastnst .pt, or a PyTorch fast_neural_style .pth/.model)")
    p.add_argument("-o", "--output", help="output file (one input) or folder (several); default: beside each "
                   "input as <name>_<style>.<ext>")
    p.add_argument("--max-size", type=int, help="shrink inputs so the long side is at most this")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N or mps")
    p.add_argument("--preserve-color", action="store_true", help="keep the photo's colours (luminance-only transfer)")
    p.add_argument("--strength", type=float, default=1.0, help="0..1 blend of stylized and original (default 1)")
    return p


def _infer(args: argparse.Namespace) -> int:
    from .infer import run_inference

    return run_inference(args)


def infer_main(argv: Sequence[str] | None = None) -> int:
    return _run(_infer, get_infer_parser(), argv)
