"""What every command shares: running a main with one-line errors and exit codes, argument types,
and the loss options (their defaults come from LossConfig, not retyped)."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Callable, Sequence

from tqdm import tqdm

from ..device import DEVICE_HELP
from ..errors import FastNSTError, first_line
from ..inference import OptionError
from ..loss import LOSS_NETS, LossConfig
from ..training.config import MINUTES_STYLE_BOOST

LOSS_DEFAULTS = LossConfig()


def run(main: Callable[[argparse.Namespace], int], parser: argparse.ArgumentParser,
        argv: Sequence[str] | None) -> int:
    """Parse argv and run main: a FastNSTError becomes one line on stderr and its exit code; so
    does any other exception (exit 1), with a hint to rerun with --debug for the traceback."""
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an unexpected error")
    args = parser.parse_args(argv)
    debug = vars(args).pop("debug")
    package_log = logging.getLogger("fastnst")
    if not any(isinstance(h, _Lines) for h in package_log.handlers):
        package_log.addHandler(_Lines())
        package_log.setLevel(logging.INFO)
    try:
        return main(args)
    except FastNSTError as exc:
        say(f"error: {flag_message(exc)}")
        return exc.exit_code
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    except Exception as exc:  # the last line of defence: a bug, or a failure nobody foresaw
        if debug:
            raise
        say(f"error: unexpected {type(exc).__name__}: {first_line(exc)} (rerun with --debug for the traceback)")
        return 1


class _Lines(logging.Handler):
    """The package's warnings as "warning: ..." lines on stderr, like our errors; its progress reports
    (info) as plain lines on stdout, so that stderr stays for what went wrong."""

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno <= logging.INFO:
            tqdm.write(record.getMessage(), file=sys.stdout)
        else:
            say(f"{record.levelname.lower()}: {record.getMessage()}")


# Options whose flag is not --<name with dashes>.
FLAGS = {"output": "-o", "model": "--ckpt"}


def flag_message(exc: FastNSTError) -> str:
    """The error as the command line words it: an option's name as its flag ("--max-size")."""
    if isinstance(exc, OptionError):
        return exc.worded(lambda field: FLAGS.get(field, "--" + field.replace("_", "-")))
    return str(exc)


def say(line: str) -> None:
    """A line on stderr, on a line of its own even while a progress bar is drawn."""
    tqdm.write(line, file=sys.stderr)


def layers(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got '{text}'") from None


def add_device_argument(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    p.add_argument("--device", default="auto", help=DEVICE_HELP)


def add_loss_arguments(p: argparse.ArgumentParser, unset: str | None = None, stability: bool = False,
                       distill: bool = False) -> None:
    """The LossConfig options as flags, all defaulting to None (unset). `unset` says what an unset
    option falls back to; None: LossConfig's defaults, which the help texts then show. `stability`
    and `distill` add the options only training has."""
    d = LOSS_DEFAULTS

    def default(value: object) -> str:
        if unset is not None:
            return ""
        text = ",".join(map(str, value)) if isinstance(value, tuple) else f"{value:g}" if isinstance(value, float) else value
        return f" (default {text})"

    g = p.add_argument_group("losses", f"unset options are {unset}" if unset else None)
    g.add_argument("--loss-net", choices=list(LOSS_NETS), help="loss network" + default(d.loss_net))
    g.add_argument("--loss-weights", help="local VGG weights (a torchvision vgg16().features / vgg19().features "
                   "state dict) instead of downloading the ImageNet ones; 'random' for an untrained net (tests only)")
    g.add_argument("--content-layers", type=layers, help="comma-separated, e.g. relu2_2 or relu3_3"
                   + default(d.content_layers))
    g.add_argument("--style-layers", type=layers, help="comma-separated" + default(d.style_layers))
    g.add_argument("--style-layer-weights", type=floats, help="comma-separated weight per style layer"
                   + default(d.style_layer_weights))
    g.add_argument("--content-weight", type=float, help="content loss weight" + default(d.content_weight))
    g.add_argument("--style-weight", type=float, help="style loss weight" + default(d.style_weight))
    g.add_argument("--tv-weight", type=float, help="total variation weight" + default(d.tv_weight))
    g.add_argument("--style-size", type=int, help="long side the style image is seen at: sets the brush stroke "
                   "scale" + default(d.style_size))
    if stability:
        g.add_argument("--stability-weight", type=float, help="video stability: penalize output changes under "
                       "small synthetic motion and noise, so frames flicker less; 0 turns it off"
                       + default(d.stability_weight))
        g.add_argument("--style-boost", type=float, help="up to this many times --style-weight for a painting whose "
                       "Gram matrices are fainter than the photos' (measured on the run's first photos); 1: none"
                       + (" (default 1; a new run of minutes without --style-weight: "
                          f"{MINUTES_STYLE_BOOST:g})" if unset is None else ""))
    if distill:
        g.add_argument("--pixel-weight", type=float, help="with --distill: weight of the pixel term, the squared "
                       "difference from the teacher's output (--content-weight weighs the content term against the "
                       "teacher's output)" + default(d.pixel_weight))


def loss_options(args: argparse.Namespace) -> dict:
    """The loss options given on the command line (unset ones left out)."""
    return {k: getattr(args, k) for k in LossConfig.field_names() if getattr(args, k, None) is not None}
