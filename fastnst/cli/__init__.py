"""The command line: argument parsers and mains for `fastnst COMMAND` (the console script, also
`python -m fastnst COMMAND`), train.py and infer.py. The only layer that prints errors and picks exit
codes; nothing in the package imports it."""

import sys

from .app import main as app_main
from .train_decoders import main as train_decoders_main
from .evaluate import main as evaluate_main
from .export import main as export_main
from .flicker import main as flicker_main
from .info import main as info_main
from .optimize import main as optimize_main
from .stylize import main as infer_main
from .train import main as train_main

COMMANDS = {"train": train_main, "stylize": infer_main, "optimize": optimize_main, "evaluate": evaluate_main,
            "export": export_main, "flicker": flicker_main, "info": info_main,
            "train-decoders": train_decoders_main, "app": app_main}


def main(argv: list[str] | None = None) -> int:
    """`fastnst COMMAND [options]`: run one command's main with the rest of the arguments."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: fastnst {{{','.join(COMMANDS)}}} [options]   (fastnst COMMAND --help for each)",
              file=sys.stderr)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    return COMMANDS[argv[0]](argv[1:])


__all__ = ["COMMANDS", "main", "app_main", "evaluate_main", "export_main", "flicker_main", "infer_main", "info_main", "optimize_main", "train_decoders_main", "train_main"]
