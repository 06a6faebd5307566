"""fastnst train-decoders: train the universal model's decoders on photos."""

from __future__ import annotations

import argparse
from typing import Sequence

from ..device import PRECISIONS
from ..training.decoders import DECODER_STEPS, OBJECTIVES, DecoderConfig, train_decoders
from ..universal.encoder import LEVELS
from .common import run

D = DecoderConfig.__dataclass_fields__


def _default(name: str) -> object:
    return D[name].default


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fastnst train-decoders", argument_default=None,
                                description="Train the decoders of the universal model (whitening-colouring "
                                "transform, Li et al. 2017): each level learns to rebuild a photo from its VGG19 "
                                "features (--objective reconstruct, photos only), or the whole chain learns to stylize "
                                "photos with paintings (--objective stylize --paintings FOLDER). The result stylizes "
                                "with any painting: infer.py photo.jpg --style painting.jpg --ckpt OUT.")
    p.add_argument("--data", help="training photos: a local folder (recursive) or a Hugging Face dataset id")
    p.add_argument("--encoder-weights", help="the ImageNet VGG19 weights, a torchvision vgg19().features state dict "
                   "(default: torchvision's download; offline, pass a local file)")
    p.add_argument("--levels", nargs="+", choices=LEVELS, help=f"the encoder levels, one decoder each (default "
                   f"{' '.join(_default('levels'))})")
    p.add_argument("--width", type=float, help=f"decoder channels relative to the encoder's (default {_default('width')})")
    p.add_argument("--steps", type=int, help=f"optimizer steps in all (default {DECODER_STEPS}; with --minutes: "
                   f"none, --steps then a cap)")
    p.add_argument("--minutes", type=float, help="train for a wall-clock budget of minutes, the learning rate's "
                   "drop fitted to it; with --steps: whichever ends first (docs/training.md)")
    p.add_argument("--image-size", type=int, help=f"training crop size (default {_default('image_size')})")
    p.add_argument("--batch-size", type=int, help=f"photos per step (default {_default('batch_size')})")
    p.add_argument("--lr", type=float, help=f"Adam learning rate (default {_default('lr')})")
    p.add_argument("--lr-decay-at", type=float, help=f"fraction of the steps (or of --minutes) after which the rate drops tenfold, "
                   f"to settle the noise Adam leaves at the big rate (default {_default('lr_decay_at')}; 1 keeps it "
                   f"constant)")
    p.add_argument("--feature-weight", type=float, help=f"weight of the feature reconstruction loss beside the "
                   f"pixel loss (default {_default('feature_weight')})")
    p.add_argument("--objective", choices=OBJECTIVES, help="reconstruct: rebuild photos from their features "
                   "(default); stylize: stylize photos with --paintings, judged by content and style")
    p.add_argument("--paintings", metavar="FOLDER", help="the paintings of --objective stylize")
    p.add_argument("--content-weight", type=float, help=f"weight of the content term of --objective stylize "
                   f"(default {_default('content_weight')})")
    p.add_argument("--seed", type=int, help=f"random seed (default {_default('seed')})")
    p.add_argument("--workers", type=int, help=f"data loader processes (default {_default('workers')})")
    p.add_argument("--precision", choices=PRECISIONS, help="mixed precision (default auto)")
    p.add_argument("--device", help="auto (default), cpu, cuda, cuda:N or mps")
    p.add_argument("--logdir", help=f"TensorBoard folder and training checkpoint (default {_default('logdir')})")
    p.add_argument("--out", help="the small universal file written at the end (default <logdir>/universal.pt)")
    p.add_argument("--resume", help="continue from a training checkpoint (<logdir>/decoders.pt); its stored "
                   "options apply unless given again")
    p.add_argument("--init", help="start from a universal file's decoders (a fresh optimizer)")
    p.add_argument("--sample-style", metavar="PAINTING", help="a painting whose stylizations of the sample photos "
                   "TensorBoard shows")
    p.add_argument("--log-every", type=int, help=f"steps between scalar logs (default {_default('log_every')})")
    p.add_argument("--sample-every", type=int, help=f"steps between sample images (default {_default('sample_every')})")
    p.add_argument("--ckpt-every", type=int, help=f"steps between training checkpoints (default {_default('ckpt_every')})")
    p.add_argument("--no-progress", dest="progress", action="store_false", default=None,
                   help="no progress bar: a line on stdout every --log-every steps instead")
    return p


def _train(args: argparse.Namespace) -> int:
    options = {k: v for k, v in vars(args).items() if v is not None}
    if "levels" in options:
        options["levels"] = tuple(options["levels"])
    out = train_decoders(**options)  # only the flags given: on --resume the rest carry on
    print(f"saved {out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(_train, get_parser(), argv)
