"""What a run shows while it trains: TensorBoard's scalars, sample grids and hyperparameters
(rank 0 writes them), and the progress bar, or without one a plain line every log step."""

from __future__ import annotations

import functools
import logging
import threading
import time
from pathlib import Path

import torch
import torchvision
from tqdm import tqdm

from ..errors import FastNSTError, first_line
from ..images import to_tensor
from ..model import one_hot
from ..progress import show_progress
from . import distributed
from .config import TrainConfig
from .data import sample_batch
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


class TrainLogger:
    """Call `record` every step, `log` every log step (on every process: the losses are averaged
    over them), `sample` every sample step, `finish` at the end, and `close` in any case."""

    @_writing_events
    def __init__(self, config: TrainConfig, styles: StyleSet, logdir: Path, start_step: int, total_steps: int,
                 skipped: int) -> None:
        self.styles, self.total_steps, self.logdir = styles, total_steps, logdir
        main = distributed.is_main()
        self.writer = None
        if main:
            # Imported here: `import fastnst` should not load TensorBoard.
            from torch.utils.tensorboard import SummaryWriter
            _quiet_writer_thread()
            self.writer = SummaryWriter(str(logdir))
            if start_step == 0:
                for index in (i for i in styles.trained if styles.images[i] is not None):
                    tag = f"style/{styles.names[index]}" if styles.several else "style"
                    self.writer.add_image(tag, to_tensor(styles.images[index])[0], 0)
                if skipped:
                    self.writer.add_text("data", f"skipped {skipped} unreadable files", 0)
        # Sample tiles of at least 256 px, whatever the crop size: readable in TensorBoard's grid.
        self.samples = sample_batch(config.data, config.val_dir, max(config.image_size, 256)) if main else None
        self.bar = tqdm(total=total_steps, initial=start_step, desc=f"train {config.style_name}", unit="step",
                        disable=not (show_progress(config.progress) and main), dynamic_ncols=True)
        self.plain_lines = self.bar.disable and main  # without a bar (a log file, a cluster job) a line instead
        self.latest: dict[int, dict[str, torch.Tensor]] = {}  # each style's loss terms at its last step
        self.logs: dict[str, float] = {}
        self.tick, self.images_seen = time.perf_counter(), 0

    def record(self, losses: dict[str, torch.Tensor], style: tuple[int, int] | None, batch_size: int) -> None:
        """A step's loss terms (kept on the device: read only at log steps) and its batch."""
        self.latest[style[1] if style else 0] = losses
        self.images_seen += batch_size * distributed.world_size()
        self.bar.update(1)

    @_writing_events
    def log(self, step: int, lr: float) -> None:
        """The loss terms (several styles: each style's as of its last step, and loss/ their mean),
        the learning rate and the speed."""
        images_per_s = self.images_seen / max(time.perf_counter() - self.tick, 1e-9)
        logged = [i for i in self.styles.trained if i in self.latest]
        names = list(self.latest[logged[0]])
        stacked = torch.stack([torch.stack(list(self.latest[i].values())) for i in logged])
        values = distributed.mean(stacked).tolist()  # one sync for all terms
        logs = {f"loss/{name}": sum(row[j] for row in values) / len(values) for j, name in enumerate(names)}
        if self.styles.several:
            for i, row in zip(logged, values):
                logs.update({f"{self.styles.names[i]}/{name}": v for name, v in zip(names, row)
                             if name in ("total", "content", "style")})
        if self.writer:
            for tag, value in logs.items():
                self.writer.add_scalar(tag, value, step)
            # under train/: TensorBoard sorts groups by name, so loss/ then samples come first
            self.writer.add_scalar("train/lr", lr, step)
            self.writer.add_scalar("train/images_per_s", images_per_s, step)
        # The headline terms (content, style, tv; distilling: pixel, content, tv), whichever the objective gives.
        shown = {name: logs[f"loss/{name}"] for name in names if name in ("pixel", "content", "style", "tv")}
        self.bar.set_postfix({**{name: f"{v:.3g}" for name, v in shown.items()}, "img_s": f"{images_per_s:.1f}"})
        if self.plain_lines:
            log.info("step %d/%d: %s, %.1f img/s", step, self.total_steps,
                     ", ".join(f"{name} {v:.3g}" for name, v in shown.items()), images_per_s)
        self.logs = logs
        self.tick, self.images_seen = time.perf_counter(), 0

    @_writing_events
    @torch.no_grad()
    def sample(self, model: torch.nn.Module, step: int) -> None:
        """The sample photos and, below them, what the net makes of them: one grid per trained style."""
        if self.samples is None:
            return
        device = next(model.parameters()).device
        model.eval()
        for index in self.styles.trained if self.styles.several else [None]:
            mix = one_hot(index, len(self.styles.names), device) if self.styles.several else None
            styled = model(self.samples.to(device), style=mix).clamp(0, 1).cpu()
            tag = f"samples/{self.styles.names[index]}" if self.styles.several else "samples"
            grid = torchvision.utils.make_grid(torch.cat([self.samples, styled]), nrow=len(self.samples))
            self.writer.add_image(tag, grid, step)
        model.train()

    @_writing_events
    def finish(self, hparams: dict[str, object]) -> None:
        """The HParams tab: the run's options, its metrics the run's own loss scalars (add_hparams
        would write them again as hparam/* scalars, single dots above the loss curves)."""
        if self.writer is None:
            return
        from torch.utils.tensorboard.summary import hparams as hparams_summary

        hparams = {k: v for k, v in hparams.items() if isinstance(v, (int, float, str, bool))}
        metrics = dict.fromkeys(sorted(self.logs, key=lambda tag: tag != "loss/total"))
        for summary in hparams_summary(hparams, metrics):
            self.writer.file_writer.add_summary(summary)

    @_writing_events
    def close(self) -> None:
        self.bar.close()
        if self.writer:
            self.writer.close()
