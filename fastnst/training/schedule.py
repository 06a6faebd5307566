"""How long a run is and the learning rate at each of its steps: the schedule the training loop
(fit.py) follows. A schedule decides two things: the rate of a step, and whether the run is over
after it; a wall-clock budget would be another schedule of the same shape."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from ..errors import FastNSTError
from .config import DEFAULT_STEPS, TrainConfig


class Schedule(Protocol):
    total: int | None  # the steps of the whole run, where known in advance (the progress bar's length)

    def lr(self, step: int) -> float: ...

    def done(self, step: int) -> bool: ...


@dataclass
class StepSchedule:
    """`total` optimizer steps at `base_lr`, then a tenth of it after `decay_at` of them: the big rate
    finds the style's shapes fast, the small one settles the noise Adam leaves at the big rate
    (docs/recipe.md)."""

    total: int
    base_lr: float
    decay_at: float = 1.0

    def lr(self, step: int) -> float:
        return learning_rate(step, self.total, self.base_lr, self.decay_at)

    def done(self, step: int) -> bool:
        return step >= self.total


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
    """Constant, then a tenth for the last part of the run."""
    drops = decay_at < 1 and step > math.ceil(decay_at * total_steps)
    return lr * 0.1 if drops else lr
