"""The options of a training run small enough for a test: one place, so every test trains alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any


# The same small run as train.py flags, for tests of the command line's refusals.
TINY_FLAGS = ["--image-size", "32", "--batch-size", "2", "--loss-net", "vgg16", "--loss-weights", "random",
              "--workers", "0", "--style-size", "64", "--no-progress"]


def small_run(logdir: Path, **overrides: Any) -> dict[str, Any]:
    """Options for `fastnst.train` that finish in seconds, logging to `logdir`: 32-px crops, a
    random-weight VGG16, a log line every step and one sample grid, at the last step."""
    options = dict(image_size=32, batch_size=2, workers=0, style_size=64, loss_net="vgg16", loss_weights="random",
                   progress=False, log_every=1, sample_every=1000, logdir=str(logdir))
    return {**options, **overrides}


def as_flags(options: dict[str, Any]) -> list[str]:
    """The same options as train.py's flags."""
    flags = []
    for name, value in options.items():
        flag = f"--{name.replace('_', '-')}"
        if name == "progress":
            flags += [] if value else ["--no-progress"]
        elif value is True:
            flags.append(flag)
        elif value is not None and value is not False:
            flags += [flag, str(value)]
    return flags
