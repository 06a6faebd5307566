"""fastnst train (and train.py)."""

from __future__ import annotations

import argparse
import os
from typing import Sequence

from ..device import PRECISIONS
from ..errors import FastNSTError
from ..model import ARCHS
from ..training import TrainConfig
from ..training.config import DEFAULT_STEPS
from .common import add_loss_arguments, run

D = TrainConfig()


def get_parser() -> argparse.ArgumentParser:
    # Every default is None: unset flags fall back to TrainConfig's defaults, or on --resume to the
    # values stored in the checkpoint.
    p = argparse.ArgumentParser(prog="train.py", description="Train a fast style transfer network for one style "
                                "image, or one network for several.",
                                argument_default=None)
    _style_and_data(p.add_argument_group("style and data"))
    g = p.add_argument_group("schedule")
    g.add_argument("--steps", type=int, help=f"optimizer steps (default {DEFAULT_STEPS}; with --minutes: none, "
                   f"--steps then a cap)")
    g.add_argument("--epochs", type=float, help="passes over a local --data folder, instead of --steps")
    g.add_argument("--minutes", type=float, help="train for a wall-clock budget of minutes (a resumed run's "
                   "included), the learning rate's drop fitted to it; with --steps or --epochs: whichever ends "
                   "first. A new run of minutes is the quick recipe: from a bundled network, --style-weight 3e4 with "
                   "--style-boost 2, "
                   "on a CPU --image-size 128, where not given (docs/recipe.md)")
    g.add_argument("--lr", type=float, help=f"Adam learning rate (default {D.lr:g})")
    g.add_argument("--lr-decay-at", type=float, help=f"fraction of the steps (or of --minutes) after which the rate "
                   f"drops tenfold (default {D.lr_decay_at:g}; 1 keeps it constant)")
    g.add_argument("--seed", type=int, help=f"random seed (default {D.seed})")
    g.add_argument("--device", help="auto (default), cpu, cuda, cuda:N or mps")
    g.add_argument("--precision", choices=PRECISIONS, help="mixed precision (default auto: bf16 on GPUs that have "
                   "it, else fp16 with loss scaling; bf16 on CPUs with native bf16; else fp32)")
    # The older name; compat.upgrade_options turns its "off" into fp32.
    g.add_argument("--amp", dest="precision", choices=[*PRECISIONS, "off"], help=argparse.SUPPRESS)
    g.add_argument("--arch", choices=list(ARCHS), help="network: johnson (default, Johnson et al.), light (a "
                   "tenth of the work, for real time on a CPU; some quality cost, see docs/speed.md) or tiny (twice "
                   "light's frame rate; the default with --distill); with --init or --resume: that net's")
    g.add_argument("--compile", action="store_true", default=None, help="torch.compile the net and the loss net "
                   "(slow first steps, faster after)")
    add_loss_arguments(p, stability=True, distill=True)
    g = p.add_argument_group("output")
    g.add_argument("--out", help="small inference checkpoint (default <logdir>/<style>.pt)")
    g.add_argument("--logdir", help="TensorBoard folder (default runs/<style>-<time>)")
    g.add_argument("--sample-every", type=int, help=f"steps between sample grids (default {D.sample_every})")
    g.add_argument("--log-every", type=int, help=f"steps between scalar logs (default {D.log_every})")
    g.add_argument("--ckpt-every", type=int, help=f"steps between training checkpoints (default {D.ckpt_every})")
    g.add_argument("--ckpt-path", help="training checkpoint (default <logdir>/checkpoint.pt)")
    g.add_argument("--resume", help="continue from a training checkpoint; its stored options apply unless given again")
    g.add_argument("--init", metavar="CKPT", help="start from a trained network's weights (its architecture "
                   "too; any style), with a fresh optimizer: a new style converges faster, and a training goes on "
                   "from a small checkpoint; a run of --minutes starts from a bundled network unless given one "
                   "(none: from random weights)")
    g.add_argument("--only-norms", action="store_true", default=None, help="with --init: add the --style images "
                   "to that net's styles, training only their instance norm scales and biases (minutes, not hours); "
                   "the net's other styles stay exactly as they were")
    g.add_argument("--no-progress", dest="progress", action="store_false", default=None,
                   help="no progress bar: a line on stdout every --log-every steps instead")
    return p


def _style_and_data(g: argparse._ArgumentGroup) -> None:
    g.add_argument("--style", nargs="+", metavar="IMAGE", help="style image (the painting); several train one "
                   "network that holds them all (choose or blend them at inference with infer.py --style); with "
                   "--distill: which of the teacher's styles, by name")
    g.add_argument("--distill", metavar="TEACHER", help="train a network to imitate a trained one (TEACHER, a "
                   "checkpoint) instead of a painting: cheap, for a smaller --arch (default tiny); see "
                   "docs/training.md")
    g.add_argument("--teacher-weight", type=float, help="the universal model's picture of each photo with the "
                   "painting as a pixel target of this weight, beside the perceptual loss (default 0: none; what it "
                   "gives: docs/recipe.md)")
    g.add_argument("--teacher", metavar="UNIVERSAL", help="with --teacher-weight: the universal model that teaches "
                   "(default: the bundled one)")
    g.add_argument("--data", help=f"training photos: a local folder (recursive) or a Hugging Face dataset id "
                   f"(default: {D.data}, streamed from the hub)")
    g.add_argument("--image-size", type=int, help=f"training crop size in pixels (default {D.image_size})")
    g.add_argument("--batch-size", type=int, help=f"images per step and process (default {D.batch_size}; under "
                   f"torchrun the effective batch is this times the number of processes)")
    g.add_argument("--workers", type=int, help=f"data loader processes (default {D.workers})")
    g.add_argument("--val-dir", help="images for the TensorBoard sample grid (default: the first training images)")


def _train(args: argparse.Namespace) -> int:
    from ..training import train

    options = {k: v for k, v in vars(args).items() if v is not None}
    if not {"resume", "style", "distill"} & set(options):
        raise FastNSTError("no style image given: --style PATH")
    out = train(**options)
    if os.environ.get("RANK", "0") == "0":  # under torchrun, rank 0 speaks for the group
        print(f"saved {out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(_train, get_parser(), argv)
