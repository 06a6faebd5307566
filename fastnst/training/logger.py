"""What a run shows while it trains: TensorBoard's scalars, sample grids and hyperparameters
(rank 0 writes them), and the progress bar, or without one a plain line every log step. Whatever
the run trains, the loop (fit.py) calls the same TrainLogger; what differs is passed in: the loss
terms the line shows, the groups the terms are kept per (several styles) and the samples' maker."""

from __future__ import annotations

import functools
import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable

import torch
import torchvision
from tqdm import tqdm

from ..errors import FastNSTError, first_line
from ..images import to_tensor
from ..model import one_hot
from ..progress import show_progress
from . import distributed
from .styles import StyleSet

log = logging.getLogger(__name__)


def _writing_events(method):
    """A failed write of the TensorBoard files (a full disk: TensorBoard's writer thread raises it
    at the next call) as a FastNSTError naming the log folder."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except OSError as exc:
            raise FastNSTError(f"could not write the TensorBoard logs in {self.logdir} ({first_line(exc)})",
                               exit_code=1) from None
    return wrapper


def _quiet_writer_thread() -> None:
    """TensorBoard's writer thread prints a traceback for a failed write, which the main thread then
    reports again: keep only the report."""
    previous = threading.excepthook
    if getattr(previous, "fastnst", False):
        return

    def hook(args):
        if not (type(args.thread).__name__ == "_AsyncWriterThread" and isinstance(args.exc_value, OSError)):
            previous(args)

    hook.fastnst = True
    threading.excepthook = hook


# The loss terms a line (and the bar) shows by default: a style network's headline terms.
HEADLINE = ("pixel", "teacher", "content", "style", "tv")

Sampler = Callable[[Any, int], None]  # (the SummaryWriter, the step): add the sample images


class TrainLogger:
    """`open` it (at the run's first step) before anything is written, then call `record` every step,
    `log` every log step (on every process: the losses are averaged over them), `sample` every
    sample step, `finish` at the end, and `close` in any case.

    groups: the names the loss terms are kept per (a net of several styles: its styles), None for one
    group; shown: the terms the line shows (None: all); sampler: makes the sample images;
    first: what to add to a new run's logs (images, text) once they are open."""

    def __init__(self, logdir: Path, title: str, total_steps: int | None, progress: bool | None,
                 hparams: dict[str, Any], *, groups: list[str] | None = None,
                 shown: tuple[str, ...] | None = HEADLINE, sampler: Sampler | None = None,
                 first: Sampler | None = None) -> None:
        self.logdir, self.title, self.total_steps, self.progress = logdir, title, total_steps, progress
        self.hparams, self.groups, self.shown, self.sampler, self.first = hparams, groups, shown, sampler, first
        self.writer, self.bar = None, None
        self.latest: dict[int, dict[str, torch.Tensor]] = {}  # each group's loss terms at its last step
        self.logs: dict[str, float] = {}
        self.tick, self.images_seen = time.perf_counter(), 0

    @_writing_events
    def open(self, start_step: int) -> None:
        """Start the TensorBoard files (rank 0) and the progress bar."""
        main = distributed.is_main()
        if main:
            # Imported here: `import fastnst` should not load TensorBoard.
            from torch.utils.tensorboard import SummaryWriter
            _quiet_writer_thread()
            self.writer = SummaryWriter(str(self.logdir))
            if start_step == 0 and self.first:
                self.first(self.writer, 0)
        self.bar = tqdm(total=self.total_steps, initial=start_step, desc=self.title, unit="step",
                        disable=not (show_progress(self.progress) and main), dynamic_ncols=True)
        self.plain_lines = self.bar.disable and main  # without a bar (a log file, a cluster job) a line instead
        self.tick = time.perf_counter()

    def record(self, losses: dict[str, torch.Tensor], group: int, batch_size: int) -> None:
        """A step's loss terms (kept on the device: read only at log steps) and its batch."""
        self.latest[group] = losses
        self.images_seen += batch_size * distributed.world_size()
        self.bar.update(1)

    @_writing_events
    def log(self, step: int, lr: float, seconds: float = 0.0, total_steps: int | None = None) -> None:
        """The loss terms (several groups: each group's as of its last step, and loss/ their mean),
        the learning rate, the speed and the training time (`seconds`, earlier runs' included);
        `total_steps`: the run's steps as the schedule now sees them (a time budget's: an estimate)."""
        images_per_s = self.images_seen / max(time.perf_counter() - self.tick, 1e-9)
        logged = sorted(self.latest)
        names = list(self.latest[logged[0]])
        stacked = torch.stack([torch.stack([v.float() for v in self.latest[i].values()]) for i in logged])
        values = distributed.mean(stacked).tolist()  # one sync for all terms
        logs = {f"loss/{name}": sum(row[j] for row in values) / len(values) for j, name in enumerate(names)}
        if self.groups:
            for i, row in zip(logged, values):
                logs.update({f"{self.groups[i]}/{name}": v for name, v in zip(names, row)
                             if name in ("total", "content", "style")})
        if self.writer:
            for tag, value in logs.items():
                self.writer.add_scalar(tag, value, step)
            # under train/: TensorBoard sorts groups by name, so loss/ then samples come first
            self.writer.add_scalar("train/lr", lr, step)
            self.writer.add_scalar("train/images_per_s", images_per_s, step)
            self.writer.add_scalar("train/minutes", seconds / 60, step)
        if total_steps is not None and total_steps != self.total_steps:  # a time budget's estimate, as it firms up
            self.total_steps = self.bar.total = total_steps
            self.bar.refresh()
        shown = {name: logs[f"loss/{name}"] for name in names if self.shown is None or name in self.shown}
        self.bar.set_postfix({**{name: f"{v:.3g}" for name, v in shown.items()}, "img_s": f"{images_per_s:.1f}"})
        if self.plain_lines:
            log.info("step %d/%s: %s, %.1f img/s", step, self.total_steps or "?",
                     ", ".join(f"{name} {v:.3g}" for name, v in shown.items()), images_per_s)
        self.logs = logs
        self.tick, self.images_seen = time.perf_counter(), 0

    @_writing_events
    def sample(self, step: int) -> None:
        if self.writer is not None and self.sampler is not None:
            self.sampler(self.writer, step)

    @_writing_events
    def finish(self) -> None:
        """The HParams tab: the run's options, its metrics the run's own loss scalars (add_hparams
        would write them again as hparam/* scalars, single dots above the loss curves)."""
        if self.writer is None:
            return
        from torch.utils.tensorboard.summary import hparams as hparams_summary

        hparams = {k: v for k, v in self.hparams.items() if isinstance(v, (int, float, str, bool))}
        metrics = dict.fromkeys(sorted(self.logs, key=lambda tag: tag != "loss/total"))
        for summary in hparams_summary(hparams, metrics):
            self.writer.file_writer.add_summary(summary)

    @_writing_events
    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.writer:
            self.writer.close()


class StyleSamples:
    """A style network's sample images: the styles' pictures at a run's start, and the sample photos
    with, below them, what the net makes of them (one grid per trained style)."""

    def __init__(self, model: torch.nn.Module, styles: StyleSet, samples: torch.Tensor | None, skipped: int) -> None:
        self.model, self.styles, self.samples, self.skipped = model, styles, samples, skipped

    def first(self, writer: Any, step: int) -> None:
        for index in (i for i in self.styles.trained if self.styles.images[i] is not None):
            tag = f"style/{self.styles.names[index]}" if self.styles.several else "style"
            writer.add_image(tag, to_tensor(self.styles.images[index])[0], step)
        if self.skipped:
            writer.add_text("data", f"skipped {self.skipped} unreadable files", step)

    @torch.no_grad()
    def __call__(self, writer: Any, step: int) -> None:
        if self.samples is None:
            return
        device = next(self.model.parameters()).device
        self.model.eval()
        for index in self.styles.trained if self.styles.several else [None]:
            mix = one_hot(index, len(self.styles.names), device) if self.styles.several else None
            styled = self.model(self.samples.to(device), style=mix).clamp(0, 1).cpu()
            tag = f"samples/{self.styles.names[index]}" if self.styles.several else "samples"
            grid = torchvision.utils.make_grid(torch.cat([self.samples, styled]), nrow=len(self.samples))
            writer.add_image(tag, grid, step)
        self.model.train()
