"""The command line: argument parsers and mains for train.py, infer.py, `python -m fastnst COMMAND`
and the console scripts. The only layer that prints errors and picks exit codes; nothing in the
package imports it."""

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

__all__ = ["COMMANDS", "app_main", "evaluate_main", "export_main", "flicker_main", "infer_main", "info_main", "optimize_main", "train_decoders_main", "train_main"]
