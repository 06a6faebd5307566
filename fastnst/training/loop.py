"""Training a style network (or distilling one): the net, its styles and objective, the data and the
schedule, built from a TrainConfig and handed to the training loop (fit.py)."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel

from ..checkpoint import Checkpoint
from ..compat import upgrade_options
from ..device import memory_format_for, resolve_device
from ..errors import FastNSTError
from ..images import open_rgb
from ..files import ReadFiles, check_folder, check_writable, refuse_overwrite, same_file
from ..loss import DistillObjective, Objective
from . import distributed
from .config import TrainConfig, minutes_defaults, refuse_init_with_resume, styles_name
from .data import endless, make_loader, sample_batch
from .fit import Every, adam, fit, mixed_precision, on_device
from .logger import StyleSamples, TrainLogger
from .schedule import run_schedule, total_steps
from .state import NetState, read_resume, resumed_options
from .step import compute_losses
from .styles import (FrozenRows, StyleSet, Teacher, build_net, load_teacher, norm_parameters, painting_digest,
                     starting_net)
from .teacher import TaughtObjective

log = logging.getLogger(__name__)
# Photos measured for the style gains. One photo's Gram matrices pull up to 70 times as hard as another's:
# the mean of 16 of the 55 training photos ranged from 0.55 to 1.5 times all 55's (5th to 95th percentile).
GAIN_PHOTOS = 64


def train(config: TrainConfig | None = None, /, **options: Any) -> Path:
    """Train a style network; returns the path of the small inference checkpoint.

    Pass a TrainConfig, or its fields as keyword arguments, e.g.
    ``fastnst.train(style="mosaic.jpg", data="photos/", steps=2000)``, or to distill a trained net
    into a tiny one, ``fastnst.train(distill="mosaic.pt", data="photos/")``. With ``resume=PATH`` the
    options stored in that training checkpoint are used, overridden by any given here.
    """
    options = upgrade_options(options)
    unknown = set(options) - set(TrainConfig.field_names())
    if unknown:
        raise FastNSTError(f"unknown training option(s): {', '.join(sorted(unknown))}")
    resume = options.get("resume", config.resume if config else None)
    resumed = read_resume(resume) if resume else None
    # A TrainConfig is complete as it is; keyword options start from what a resumed run stored.
    style_stored = resumed is not None and config is None and "style" not in options  # the run's own
    base = asdict(config) if config else resumed_options(resumed) if resumed else {}
    if config is None and options.get("minutes") is not None:  # a new run of minutes: the quick recipe
        options = minutes_defaults(options, resolve_device(str(options.get("device", "auto"))).type == "cpu")
    config = TrainConfig(**{**base, **options})
    config.check()
    refuse_init_with_resume(config, resumed_options(resumed).get("init") if resumed else None)
    # Under torchrun: one process per GPU (or CPU process), each training on its own share of the
    # data; the gradients are averaged, so the effective batch is batch_size * world_size.
    device, own_group = distributed.setup(resolve_device(config.device))
    try:
        return _train(config, device, resumed, style_stored)
    finally:
        distributed.cleanup(own_group)


def _train(config: TrainConfig, device: torch.device, resumed: Checkpoint | None, style_stored: bool = False) -> Path:
    teacher = (load_teacher(config.distill, config.style, resumed.path if style_stored and resumed else None)
               if config.distill else None)
    if teacher:
        config.style = teacher.name  # the run's one style: the teacher's
    torch.manual_seed(config.seed)  # the same initial weights in every process (and with or without a teacher)
    # A warm start (--init, or a run of minutes) takes another net's weights, with a fresh optimizer.
    init = starting_net(config.init, config.minutes, config.arch, teacher is not None, resumed is not None)
    if init is not None and init != config.init:
        log.info(f"starting from {init} (a run of minutes starts from a bundled network; --init none: from scratch)")
        config.init = init  # stored: a resumed run goes on from the same start
    model, styles = build_net(config.style_paths, config.arch, init, config.only_norms, resumed, teacher)
    config.arch = model.config.arch
    ckpt_path, out_path = _output_paths(config, styles_name(styles.names))
    _refuse_replacing_inputs(config, ckpt_path, out_path)
    memory_format = memory_format_for(device)
    model = model.to(device, memory_format=memory_format)
    if config.only_norms:  # the shared weights stay as they are: only the new styles' norms learn
        model.requires_grad_(False)
        for parameter in norm_parameters(model):
            parameter.requires_grad_(True)
    optimizer = adam(model.parameters(), config.lr, device)
    amp_dtype, scaler = mixed_precision(config.precision, device)
    state = NetState(model, optimizer, scaler, styles, config)
    objective = _objective(config, teacher, styles, device, memory_format)
    step_model = _step_model(model, objective, config, device)
    loader, num_images, skipped = make_loader(config.data, config.image_size, config.batch_size, config.seed,
                                              resumed.step if resumed else 0, config.workers,
                                              pin_memory=device.type == "cuda",
                                              rank=distributed.rank(), world_size=distributed.world_size())
    steps = total_steps(config, num_images, distributed.world_size())
    if resumed:
        state.load(resumed.raw)  # last: after everything above that draws random numbers
    schedule = run_schedule(config, steps, spent=state.seconds)  # --minutes counts a resumed run's seconds
    frozen = FrozenRows(model, styles.frozen)  # as loaded: the init's norms, or the resumed run's
    optimizer.register_step_post_hook(lambda *_: frozen.restore())
    data = on_device(endless(loader), device, memory_format)
    if config.style_boost > 1 and config.style_gains is None and isinstance(objective, Objective):
        data = _measure_style_gains(config, objective, data)
    # Sample tiles of at least 256 px, whatever the crop size: readable in TensorBoard's grid.
    samples = sample_batch(config.data, config.val_dir, max(config.image_size, 256)) if distributed.is_main() else None
    sampler = StyleSamples(model, styles, samples, skipped)
    logger = TrainLogger(Path(config.logdir), f"train {config.style_name}", schedule.total, config.progress,
                         {**config.loss_only().to_dict(), **config.train_args()},
                         groups=styles.names if styles.several else None, sampler=sampler, first=sampler.first)
    return fit(step_model, StyleObjective(objective, styles, config.seed, amp_dtype), data, schedule, state, logger,
               Every(config.log_every, config.sample_every, config.ckpt_every))


class StyleObjective:
    """What a style network's step minimises (step.compute_losses): the objective of the style the
    step trains (a net of several: each in turn), in the run's precision."""

    advice = "Try a lower --lr or loss weights."

    def __init__(self, objective: Objective | DistillObjective, styles: StyleSet, seed: int,
                 amp_dtype: torch.dtype | None) -> None:
        self.objective, self.styles, self.seed, self.amp_dtype = objective, styles, seed, amp_dtype

    def __call__(self, model: torch.nn.Module, x: torch.Tensor, step: int) -> dict[str, torch.Tensor]:
        style = self.styles.style_for_step(step) if self.styles.several else None
        return compute_losses(model, self.objective, x, step, self.seed, self.amp_dtype, style)

    def group(self, step: int) -> int:
        return self.styles.style_for_step(step)[1] if self.styles.several else 0


def _output_paths(config: TrainConfig, net_name: str) -> tuple[Path, Path]:
    """Fill in the run's log folder and where its training and inference checkpoints go."""
    logdir = distributed.from_main(config.logdir or f"runs/{config.style_name}-{datetime.now():%Y%m%d-%H%M%S}")
    ckpt_path = Path(config.ckpt_path or Path(logdir) / "checkpoint.pt")
    out_path = Path(config.out or Path(logdir) / f"{net_name}.pt")
    config.logdir, config.ckpt_path, config.out = str(logdir), str(ckpt_path), str(out_path)
    return ckpt_path, out_path


def _refuse_replacing_inputs(config: TrainConfig, ckpt_path: Path, out_path: Path) -> None:
    """Before any work: no output of the run may replace a file it reads (a painting, the
    teacher, the --init net; --out not the --resume checkpoint either, which --ckpt-path goes on
    writing), nor one another; the log folder must be a folder. The state's writers check again
    (fit.check_outputs, atomic saves)."""
    reads = config.read_files()
    refuse_overwrite(ckpt_path, reads, "--ckpt-path")
    refuse_overwrite(out_path, ReadFiles([reads, config.resume]), "--out")
    if same_file(out_path, ckpt_path):
        raise FastNSTError(f"--out {out_path} is the training checkpoint (--ckpt-path): the small inference "
                           f"checkpoint would replace it; choose another --out")
    if distributed.is_main():
        check_folder(config.logdir, "--logdir")
        check_writable(ckpt_path, option="--ckpt-path")
        check_writable(out_path, option="--out")


def _objective(config: TrainConfig, teacher: Teacher | None, styles: StyleSet, device: torch.device,
               memory_format: torch.memory_format) -> Objective | DistillObjective:
    """What the run minimises: the perceptual objective of its style images (with --teacher-weight, and
    the universal model's pictures of the photos), or the teacher net's output (distillation). The style
    pictures it holds become the styles' pictures in the checkpoint."""
    if teacher is not None:
        styles.images[0] = teacher.image
        return DistillObjective(teacher.net, config, device, memory_format)
    objective = (TaughtObjective(config.style_paths, config, config.teacher_weight, config.teacher, device,
                                 memory_format) if config.teacher_weight
                 else Objective(config.style_paths, config, device, memory_format))
    for index, image, path in zip(styles.trained, objective.style_images, config.style_paths):
        styles.images[index] = image
        styles.digests[index] = painting_digest(open_rgb(path))  # what a resumed run compares its painting with
    return objective


def _measure_style_gains(config: TrainConfig, objective: Objective,
                         data: Iterator[torch.Tensor]) -> Iterator[torch.Tensor]:
    """Each style's factor on the style weight (Objective.style_gains_for), from the run's first
    GAIN_PHOTOS photos, which it then trains on as usual; stored with the loss options, so a resumed run
    and `evaluate` use the same. Under torchrun, rank 0's."""
    first = [next(data) for _ in range(-(-GAIN_PHOTOS // config.batch_size))]
    gains = distributed.from_main(objective.style_gains_for(first))
    objective.style_gains = gains
    config.style_gains = tuple(gains)
    log.info("style weight x " + ", ".join(f"{g:.2f}" for g in gains) + f" (--style-boost {config.style_boost:g}: "
             "the painting's Gram matrices against the photos')")
    return itertools.chain(first, data)


def _step_model(model: torch.nn.Module, objective: Objective | DistillObjective, config: TrainConfig,
                device: torch.device) -> torch.nn.Module:
    """What train_step runs: the net, wrapped for DDP and compiled (with the loss net) as asked."""
    step_model = model
    if distributed.world_size() > 1:
        step_model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    if config.compile:
        step_model, objective.lossnet = torch.compile(step_model), torch.compile(objective.lossnet)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # one crop size throughout: let cuDNN time its kernels once
    return step_model
