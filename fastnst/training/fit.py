"""The training loop, one for every kind of training: a style network (loop.py), its distillation,
the universal model's decoders (decoders.py). They differ in what they pass in, not in how they
loop, resume, log, lock the run folder or stop on SIGTERM:

    model      what the objective runs (a style net wrapped for DDP or compiled; the universal net)
    objective  a batch and its step -> the weighted loss terms; "total" is what the step minimises
    data       endless batches of photos, already on the device
    schedule   the learning rate of each step, when the run is over (steps or minutes) and the
               training seconds so far (schedule.py)
    state      the trained weights, optimizer and loss scaler: saved, resumed, exported (state.py)
    logger     TensorBoard and the progress line (logger.py)
    every      how often to log, to sample and to save
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Protocol

import torch

from ..device import resolve_precision
from ..errors import FastNSTError, first_line
from ..files import ReadFiles, temporary_path
from . import distributed
from .guard import Terminated, folder_lock, sigterm_raises
from .logger import TrainLogger
from .schedule import Schedule
from .state import TrainingState
from .step import optimizer_step

log = logging.getLogger(__name__)


class StepObjective(Protocol):
    advice: str  # what to try when the loss stops being a number

    def __call__(self, model: torch.nn.Module, x: torch.Tensor, step: int) -> dict[str, torch.Tensor]: ...

    def group(self, step: int) -> int: ...  # which group of loss terms a step's are (a net of several styles)


@dataclass
class Every:
    """Steps between scalar logs, sample images and training checkpoints (all three at the last step)."""

    log: int
    sample: int
    ckpt: int


def fit(model: torch.nn.Module, objective: StepObjective, data: Iterator[torch.Tensor], schedule: Schedule,
        state: TrainingState, logger: TrainLogger, every: Every) -> Path:
    """Train from `state` (its step: 0, or a resumed run's) until the schedule says the run is over;
    returns the small file written at the end (state.out)."""
    if schedule.done(state.step):
        raise FastNSTError(_nothing_left(schedule, state))
    step = first_step = state.step  # the step under way when a run is stopped
    seconds_before = state.seconds  # a resumed run's
    try:
        with _run_folder(state, logger):
            model.train()
            data = _first_loaded(data)
            schedule.start(step)  # the clock starts here: the setup above (loss net, data, logs) is not training
            while not schedule.done(step):
                step += 1
                x = next(data)
                state.set_lr(schedule.lr(step))
                losses = objective(model, x, step)
                optimizer_step(state.optimizer, state.scaler, losses["total"])
                losses = {name: value.detach() for name, value in losses.items()}
                state.step, state.seconds = step, schedule.seconds()
                logger.record(losses, objective.group(step), x.shape[0])
                last = schedule.done(step)
                log_now, save_now = step % every.log == 0 or last, step % every.ckpt == 0 or last
                if log_now or save_now:  # not every step: reading the loss waits for the device
                    _stop_unless_finite(losses["total"], state, objective.advice, weights=save_now)
                if log_now:
                    logger.log(step, schedule.lr(step), state.seconds, schedule.total)
                if step % every.sample == 0 or last:
                    logger.sample(step)
                if save_now:
                    state.save()
            state.export()
            logger.finish()
    except KeyboardInterrupt:
        state.settle()
        raise FastNSTError(f"interrupted at step {step}; {state.resume_hint()}", exit_code=130) from None
    except Terminated:  # SIGTERM: kill, a scheduler, a container stopping
        state.settle()
        raise FastNSTError(f"terminated at step {step}; {state.resume_hint()}", exit_code=143) from None
    if distributed.is_main():
        log.info(_trained_line(step - first_step, state.seconds - seconds_before, step, state.seconds, schedule.budget))
    distributed.barrier()  # no process returns before rank 0 has written the checkpoint
    return state.out


def _nothing_left(schedule: Schedule, state: TrainingState) -> str:
    """Why a resumed run has no step to take: its budget is spent, or it is at its last step."""
    if schedule.budget is not None and state.seconds >= schedule.budget:
        return (f"{state.path} has already trained {_duration(state.seconds)} (step {state.step}) of its "
                f"{schedule.budget / 60:g}-minute budget; ask for more with --minutes")
    return f"{state.path} is already at step {state.step}; ask for more with --steps"


def _trained_line(steps: int, seconds: float, step: int, total_seconds: float, budget: float | None) -> str:
    """What a finished run says: the steps it took and how long, in all too for a resumed run, and its budget."""
    line = f"trained {steps} steps in {_duration(seconds)}"
    if step != steps:  # a resumed run
        line += f", {step} in {_duration(total_seconds)} in all"
    return line + (f" (budget {budget / 60:g} min)" if budget is not None else "")


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.1f} s"


def _first_loaded(data: Iterator[torch.Tensor]) -> Iterator[torch.Tensor]:
    """The batches, the first one already loaded: the loader's start (its processes, a stream's
    first files) is setup, not training time."""
    return itertools.chain([next(data)], data)


@contextlib.contextmanager
def _run_folder(state: TrainingState, logger: TrainLogger) -> Iterator[None]:
    """What a run holds while it trains, let go in reverse order at its end: the log folder's lock
    (one run at a time writes to a folder; then what a killed one left is cleared and the outputs
    are checked), the logger, and SIGTERM raising Terminated."""
    with contextlib.ExitStack() as held:
        if distributed.is_main():
            held.enter_context(folder_lock(Path(logger.logdir)))
            remove_stale_temporaries(state.path, state.out)
            check_outputs(state.path, state.out, state.inputs)
        logger.open(state.step)
        held.callback(logger.close)
        held.enter_context(sigterm_raises())
        yield


def check_outputs(checkpoint: Path, out: Path, inputs: ReadFiles | Iterable[str | Path | None]) -> None:
    """Before any step: a FastNSTError if the training checkpoint or the small file cannot be written
    there (a folder in the way, a folder that cannot be made or written), or would replace a file
    the run reads (the small file: the training checkpoint either)."""
    for path, reads in ((checkpoint, ReadFiles([inputs])), (out, ReadFiles([inputs, checkpoint]))):
        if path.is_dir():
            raise FastNSTError(f"{path} is a folder; the run writes a file there: give a file name")
        try:
            temporary_path(path, reads).unlink()  # refuses an input; makes the folder
        except OSError as exc:
            raise FastNSTError(f"cannot write {path} ({first_line(exc)})") from None


def remove_stale_temporaries(*paths: Path) -> None:
    """Delete the hidden temporary files (files.atomic_path) a run killed while saving left beside these."""
    for path in paths:
        for stale in path.parent.glob(f".{path.stem}.*.tmp{path.suffix}"):
            stale.unlink(missing_ok=True)


def _stop_unless_finite(total: torch.Tensor, state: TrainingState, advice: str, weights: bool) -> None:
    """Stop a run whose loss (or, before a save, whose weights) is no longer a number, before it logs or saves it."""
    value = distributed.mean(total).item()  # every process stops together, or none does
    if not math.isfinite(value):
        raise FastNSTError(f"training stopped: the loss became {value} at step {state.step}; "
                           f"{state.last_good()}. {advice}", exit_code=1)
    if weights and not state.weights_finite():
        raise FastNSTError(f"training stopped: the weights stopped being numbers at step {state.step}; "
                           f"{state.last_good()}. {advice}", exit_code=1)


def on_device(batches: Iterator[torch.Tensor], device: torch.device,
              memory_format: torch.memory_format = torch.preserve_format) -> Iterator[torch.Tensor]:
    """The batches on the device: from pinned memory the copy runs asynchronously, overlapping the previous step."""
    for x in batches:
        yield x.to(device, non_blocking=True, memory_format=memory_format)


def mixed_precision(precision: str, device: torch.device) -> tuple[torch.dtype | None, torch.amp.GradScaler]:
    """The autocast dtype of a run (None: fp32) and its loss scaler, enabled under fp16 (see step.train_step)."""
    dtype = resolve_precision(precision, device, training=True)
    dtype = None if dtype == torch.float32 else dtype
    return dtype, torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)


def adam(parameters: Iterable[torch.nn.Parameter], lr: float, device: torch.device) -> torch.optim.Adam:
    """Adam over the parameters that learn; fused on CUDA (one kernel for all of them instead of several each)."""
    return torch.optim.Adam([p for p in parameters if p.requires_grad], lr=lr, fused=device.type == "cuda")
