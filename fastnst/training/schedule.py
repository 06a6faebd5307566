"""How long a run is and the learning rate at each of its steps: pure functions of the options."""

from __future__ import annotations

import math

from ..errors import FastNSTError
from .config import DEFAULT_STEPS, TrainConfig


def total_steps(config: TrainConfig, num_images: int | None, world_size: int = 1) -> int:
    """The run's optimizer steps: --steps, or --epochs over a local folder of `num_images`."""
    if config.steps is not None:
        return config.steps
    if config.epochs is None:
        return DEFAULT_STEPS
    if num_images is None:
        raise FastNSTError("--epochs needs a local --data folder (a streamed dataset has no known size); use --steps")
    return math.ceil(config.epochs * num_images / (config.batch_size * world_size))


def learning_rate(step: int, total_steps: int, lr: float, decay_at: float) -> float:
    """Constant, then a tenth for the last part of the run: the big rate finds the style's shapes
    fast, the small one settles the noise Adam leaves at the big rate (docs/recipe.md)."""
    drops = decay_at < 1 and step > math.ceil(decay_at * total_steps)
    return lr * 0.1 if drops else lr
