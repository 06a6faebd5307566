"""Schedules (fastnst/training/schedule.py): how long a run is and the learning rate of each step.
StepSchedule counts steps; TimeSchedule spends a wall-clock budget (--minutes), here on a fake clock."""

from __future__ import annotations

import math

import pytest

from fastnst.errors import OptionError
from fastnst.training.config import DEFAULT_STEPS, RunConfig, TrainConfig
from fastnst.training.schedule import StepSchedule, TimeSchedule, run_schedule, total_steps


class FakeClock:
    """A clock that moves only when told: `tick(s)` is s seconds of training."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += seconds


def run(schedule, clock: FakeClock, seconds_per_step: float, first: int = 0, limit: int = 10_000) -> list[float]:
    """Drive a schedule as the training loop does; the rates of the steps it took."""
    rates, step = [], first
    schedule.done(step)  # the loop's check before it starts
    schedule.start(step)
    while not schedule.done(step):
        step += 1
        rates.append(schedule.lr(step))
        clock.tick(seconds_per_step)
        assert step < limit
    return rates


def test_a_step_schedule_ends_after_its_steps_and_drops_the_rate_after_its_fraction():
    clock = FakeClock()
    rates = run(StepSchedule(10, 1.0, 0.7, clock=clock), clock, 2.0)
    assert rates == [1.0] * 7 + [0.1] * 3


def test_a_time_budget_ends_the_run_at_the_first_step_that_ends_past_it():
    clock = FakeClock()
    schedule = TimeSchedule(60.0, 1.0, clock=clock)
    rates = run(schedule, clock, 7.0)
    assert len(rates) == 9 and schedule.seconds() == 63.0  # 8 steps end at 56 s, short of the minute
    assert schedule.total == 9


def test_the_setup_before_start_is_not_counted():
    clock = FakeClock()
    schedule = TimeSchedule(60.0, 1.0, clock=clock)
    clock.tick(500)  # the loss net, the data loader: before the loop starts the clock
    assert schedule.seconds() == 0
    assert len(run(schedule, clock, 10.0)) == 6


def test_the_rate_drops_once_its_fraction_of_the_budget_is_spent():
    clock = FakeClock()
    rates = run(TimeSchedule(100.0, 1.0, 0.7, clock=clock), clock, 10.0)
    # step n starts after (n - 1) * 10 s: 70 s is not past 70 %, 80 s is
    assert rates == [1.0] * 8 + [0.1] * 2


def test_a_step_starts_and_is_logged_at_the_same_rate_and_its_end_is_decided_once():
    clock = FakeClock()
    schedule = TimeSchedule(100.0, 1.0, 0.5, clock=clock)
    schedule.start(0)
    assert schedule.lr(1) == 1.0 and not schedule.done(1)
    clock.tick(200)  # the step ran long: the loop asks again for its log line and its loop test
    assert schedule.lr(1) == 1.0 and not schedule.done(1)
    assert schedule.lr(2) == 0.1 and schedule.done(2)


def test_steps_cap_a_time_budget_and_the_rate_follows_whichever_is_further_along():
    clock = FakeClock()
    schedule = TimeSchedule(1000.0, 1.0, 0.5, max_steps=10, clock=clock)
    rates = run(schedule, clock, 1.0)
    assert rates == [1.0] * 5 + [0.1] * 5 and schedule.seconds() == 10.0  # the steps ran out first
    clock = FakeClock()
    rates = run(TimeSchedule(20.0, 1.0, 0.5, max_steps=100, clock=clock), clock, 2.0)
    assert rates == [1.0] * 6 + [0.1] * 4  # the budget ran out first: its half decides the drop


def test_the_total_is_estimated_from_the_steps_timed_so_far():
    clock = FakeClock()
    schedule = TimeSchedule(100.0, 1.0, clock=clock)
    assert not schedule.done(0)
    assert schedule.total is None  # nothing timed yet: the progress bar has no length
    schedule.start(0)
    for step, seconds in ((1, 4.0), (2, 6.0)):  # 10 s for 2 steps: 5 s a step
        schedule.lr(step)
        clock.tick(seconds)
        assert not schedule.done(step)
    assert schedule.total == 20
    capped = TimeSchedule(100.0, 1.0, max_steps=12, clock=clock)
    capped.start(0)
    clock.tick(5.0)
    capped.done(1)
    assert capped.total == 12


def test_a_resumed_budget_counts_the_seconds_spent_before():
    clock = FakeClock()
    schedule = TimeSchedule(100.0, 1.0, 0.5, spent=60.0, clock=clock)
    assert schedule.seconds() == 60.0
    rates = run(schedule, clock, 10.0, first=30)
    assert rates == [0.1] * 4  # past half the budget already: the small rate throughout
    assert schedule.seconds() == 100.0 and schedule.first_step == 30
    spent = TimeSchedule(100.0, 1.0, spent=100.0, clock=clock)
    assert spent.done(30)  # nothing left: the loop refuses before it starts


def test_run_schedule_counts_steps_unless_given_minutes_then_steps_are_a_cap():
    by_steps = run_schedule(RunConfig(lr=0.5, lr_decay_at=0.8), None)
    assert isinstance(by_steps, StepSchedule) and by_steps.total == DEFAULT_STEPS and by_steps.budget is None
    assert run_schedule(RunConfig(), None, default_steps=7).total == 7
    timed = run_schedule(RunConfig(minutes=1.5, lr=0.5, lr_decay_at=0.8), None, spent=12.0)
    assert isinstance(timed, TimeSchedule) and (timed.budget, timed.max_steps, timed.spent) == (90.0, None, 12.0)
    assert (timed.base_lr, timed.decay_at) == (0.5, 0.8)
    assert run_schedule(RunConfig(minutes=1.5), 300).max_steps == 300
    # what stands for --steps: --epochs over a folder of 10 photos, 4 a batch; neither: None (no cap)
    assert total_steps(TrainConfig(style="x.jpg", epochs=2), 10) == 5
    assert total_steps(TrainConfig(style="x.jpg", minutes=3), 10) is None


@pytest.mark.parametrize("minutes", [0, -1, math.nan, math.inf])
def test_a_budget_that_is_not_a_positive_number_of_minutes_is_refused(minutes):
    with pytest.raises(OptionError, match="^minutes must be a positive number of minutes$"):
        TrainConfig(style="x.jpg", minutes=minutes).check_run()
