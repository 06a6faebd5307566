"""How long a run is and the learning rate at each of its steps: the schedule the training loop
(fit.py) follows. A schedule decides the rate of a step and whether the run is over after it, and
keeps the run's clock: the training seconds so far, earlier runs' included (a resumed run's), which
the training checkpoint stores. StepSchedule ends after a number of steps (--steps, --epochs);
TimeSchedule after a wall-clock budget (--minutes), --steps or --epochs then a cap."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Protocol

from ..errors import FastNSTError
from . import distributed
from .config import DEFAULT_STEPS, RunConfig, TrainConfig


class Schedule(Protocol):
    total: int | None     # the steps of the whole run: known in advance, or estimated so far (the progress bar's length)
    budget: float | None  # the training seconds the run may take in all; None: no time limit

    def start(self, step: int) -> None: ...  # the clock starts, at `step` (a resumed run's)

    def seconds(self) -> float: ...  # training seconds so far, earlier runs' included

    def lr(self, step: int) -> float: ...

    def done(self, step: int) -> bool: ...


@dataclass
class Clock:
    """A run's training seconds: `spent` by earlier runs (a resumed one's) plus this run's since
    `start`, which the loop calls just before the first step: the setup is not training."""

    clock: Callable[[], float] = field(default=time.monotonic, kw_only=True)  # injectable: tests pass a fake
    spent: float = field(default=0.0, kw_only=True)  # seconds of earlier runs
    first_step: int = field(default=0, init=False)  # the step this run starts from
    started: float | None = field(default=None, init=False)  # the clock's reading at the start

    def start(self, step: int) -> None:
        self.first_step, self.started = step, self.clock()

    def seconds(self) -> float:
        return self.spent + (self.clock() - self.started if self.started is not None else 0.0)


@dataclass
class StepSchedule(Clock):
    """`total` optimizer steps at `base_lr`, then a tenth of it after `decay_at` of them: the big rate
    finds the style's shapes fast, the small one settles the noise Adam leaves at the big rate
    (docs/recipe.md)."""

    total: int
    base_lr: float
    decay_at: float = 1.0
    budget = None  # no time limit

    def lr(self, step: int) -> float:
        return learning_rate(step, self.total, self.base_lr, self.decay_at)

    def done(self, step: int) -> bool:
        return step >= self.total


@dataclass
class TimeSchedule(Clock):
    """A wall-clock budget of `budget` training seconds (earlier runs' included) at `base_lr`, a tenth
    of it once `decay_at` of the budget is spent (or of `max_steps`, whichever is further along);
    `max_steps` (None: none) ends the run first if it comes first. Each step's rate and end are
    decided once, so the rate a step ran at is the one logged, and (under torchrun) every process
    ends at the same step."""

    budget: float
    base_lr: float
    decay_at: float = 1.0
    max_steps: int | None = None
    total: int | None = field(default=None, init=False)  # estimated from the steps timed so far
    _lr_at: tuple[int, float] | None = field(default=None, init=False, repr=False)
    _done_at: tuple[int, bool] | None = field(default=None, init=False, repr=False)

    def lr(self, step: int) -> float:
        if self._lr_at is None or self._lr_at[0] != step:
            # the rate a step starts at, by what was spent before it: of the budget, or of the cap if further
            past_cap = self.max_steps is not None and step > math.ceil(self.decay_at * self.max_steps)
            drops = self.decay_at < 1 and (self.seconds() > self.decay_at * self.budget or past_cap)
            self._lr_at = (step, self.base_lr * 0.1 if drops else self.base_lr)
        return self._lr_at[1]

    def done(self, step: int) -> bool:
        if self._done_at is None or self._done_at[0] != step:
            now = self.seconds()
            over = now >= self.budget or (self.max_steps is not None and step >= self.max_steps)
            over = distributed.flag_from_main(over)  # rank 0's clock decides for all (they would hang otherwise)
            self._done_at = (step, over)
            self.total = step if over else self._estimate(step, now)
        return self._done_at[1]

    def _estimate(self, step: int, now: float) -> int | None:
        """The step the run will end at, from this run's rate so far; None before a step is timed."""
        steps, elapsed = step - self.first_step, now - self.spent
        if self.started is None or steps < 1 or elapsed <= 0:
            return None
        estimate = step + max(round((self.budget - now) * steps / elapsed), 1)
        return min(estimate, self.max_steps) if self.max_steps is not None else estimate


def run_schedule(config: RunConfig, steps: int | None, spent: float = 0.0,
                 default_steps: int = DEFAULT_STEPS) -> Schedule:
    """The schedule of a run that has trained `spent` seconds before (a resumed one): `steps`
    (--steps or --epochs; None: `default_steps`), or with --minutes its budget, `steps` then a cap."""
    if config.minutes is None:
        return StepSchedule(steps or default_steps, config.lr, config.lr_decay_at, spent=spent)
    return TimeSchedule(config.minutes * 60, config.lr, config.lr_decay_at, max_steps=steps, spent=spent)


def total_steps(config: TrainConfig, num_images: int | None, world_size: int = 1) -> int | None:
    """The run's optimizer steps: --steps, or --epochs over a local folder of `num_images`; None: neither given."""
    if config.steps is not None:
        return config.steps
    if config.epochs is None:
        return None
    if num_images is None:
        raise FastNSTError("--epochs needs a local --data folder (a streamed dataset has no known size); use --steps")
    return math.ceil(config.epochs * num_images / (config.batch_size * world_size))


def learning_rate(step: int, total_steps: int, lr: float, decay_at: float) -> float:
    """Constant, then a tenth for the last part of the run."""
    drops = decay_at < 1 and step > math.ceil(decay_at * total_steps)
    return lr * 0.1 if drops else lr
