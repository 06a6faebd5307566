"""The training loop: data -> TransformerNet -> the objective (frozen VGG; or a teacher net's
output, distilling) -> Adam."""

from __future__ import annotations

import contextlib
import math
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel

from ..checkpoint import Checkpoint
from ..compat import upgrade_options
from ..device import memory_format_for, resolve_device, resolve_precision
from ..errors import FastNSTError
from ..images import open_rgb
from ..files import ReadFiles, check_folder, check_writable, refuse_overwrite, same_file
from ..loss import DistillObjective, Objective
from . import distributed
from .config import TrainConfig, styles_name
from .data import endless, make_loader
from .guard import Terminated, folder_lock, sigterm_raises
from .logger import TrainLogger
from .schedule import learning_rate, total_steps
from .state import TrainingState, read_resume, resumed_options
from .step import train_step
from .styles import FrozenRows, StyleSet, Teacher, build_net, load_teacher, norm_parameters, painting_digest


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
    config = TrainConfig(**{**base, **options})
    config.check()
    if resumed is not None and config.init is not None and config.init != resumed_options(resumed).get("init"):
        raise FastNSTError(f"--init {config.init} and --resume {resume}: --resume goes on with that run's own "
                           f"weights and optimizer, --init starts a new run from a net's weights; give one of them")
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
    # A warm start (--init) takes another net's weights, with a fresh optimizer.
    model, styles = build_net(config.style_paths, config.arch, config.init, config.only_norms, resumed, teacher)
    config.arch = model.config.arch
    ckpt_path, out_path = _output_paths(config, styles_name(styles.names))
    reads = _refuse_replacing_inputs(config, ckpt_path, out_path)
    memory_format = memory_format_for(device)
    model = model.to(device, memory_format=memory_format)
    if config.only_norms:  # the shared weights stay as they are: only the new styles' norms learn
        model.requires_grad_(False)
        for parameter in norm_parameters(model):
            parameter.requires_grad_(True)
    # Fused Adam: one kernel for all parameters instead of several per parameter tensor.
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=config.lr,
                                 fused=device.type == "cuda")
    amp_dtype = resolve_precision(config.precision, device, training=True)
    amp_dtype = None if amp_dtype == torch.float32 else amp_dtype
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    state = TrainingState(model, optimizer, scaler, styles, ckpt_path, reads=reads)

    objective = _objective(config, teacher, styles, device, memory_format)
    step_model = _step_model(model, objective, config, device)
    start_step = resumed.step if resumed else 0
    loader, num_images, skipped = make_loader(config.data, config.image_size, config.batch_size, config.seed,
                                              start_step, config.workers, pin_memory=device.type == "cuda",
                                              rank=distributed.rank(), world_size=distributed.world_size())
    last_step = total_steps(config, num_images, distributed.world_size())
    if start_step >= last_step:
        raise FastNSTError(f"{config.resume} is already at step {start_step}; ask for more with --steps")
    if resumed:
        state.load(resumed)  # last: after everything above that draws random numbers
    frozen = FrozenRows(model, styles.frozen)  # as loaded: the init's norms, or the resumed run's
    batches = endless(loader)
    guard = contextlib.ExitStack()  # what the run holds, let go in reverse order at its end
    step = start_step
    try:
        if distributed.is_main():  # one run at a time writes to a log folder; then clear what a killed one left
            guard.enter_context(folder_lock(Path(config.logdir)))
            remove_stale_temporaries(ckpt_path, out_path)
        logger = TrainLogger(config, styles, Path(config.logdir), start_step, last_step, skipped)
        guard.callback(logger.close)
        step_model.train()
        guard.enter_context(sigterm_raises())
        try:
            for step in range(start_step + 1, last_step + 1):
                # From pinned memory the copy to the GPU runs asynchronously, overlapping the previous step.
                x = next(batches).to(device, non_blocking=True, memory_format=memory_format)
                for group in optimizer.param_groups:  # set each step: a resumed run's state carries the old rate
                    group["lr"] = learning_rate(step, last_step, config.lr, config.lr_decay_at)
                style = styles.style_for_step(step) if styles.several else None
                losses = train_step(step_model, objective, optimizer, scaler, x, step, config.seed, amp_dtype, style)
                frozen.restore()
                state.step = step
                logger.record(losses, style, x.shape[0])
                log_now = step % config.log_every == 0 or step == last_step
                save_now = step % config.ckpt_every == 0 or step == last_step
                if log_now or save_now:  # not every step: reading the loss waits for the device
                    _stop_unless_finite(losses["total"], state)
                if log_now:
                    logger.log(step, optimizer.param_groups[0]["lr"])
                if step % config.sample_every == 0 or step == last_step:
                    logger.sample(model, step)
                if save_now:
                    state.save(config)
        except KeyboardInterrupt:
            state.settle()
            raise FastNSTError(f"interrupted at step {step}; {state.resume_hint()}", exit_code=130) from None
        state.export(out_path, config)
        logger.finish({**config.loss_only().to_dict(), **config.train_args()})
    except Terminated:  # SIGTERM: kill, a scheduler, a container stopping
        state.settle()
        raise FastNSTError(f"terminated at step {step}; {state.resume_hint()}", exit_code=143) from None
    finally:
        guard.close()
    distributed.barrier()  # no process returns before rank 0 has written the checkpoint
    return out_path


def _output_paths(config: TrainConfig, net_name: str) -> tuple[Path, Path]:
    """Fill in the run's log folder and where its training and inference checkpoints go."""
    logdir = distributed.from_main(config.logdir or f"runs/{config.style_name}-{datetime.now():%Y%m%d-%H%M%S}")
    ckpt_path = Path(config.ckpt_path or Path(logdir) / "checkpoint.pt")
    out_path = Path(config.out or Path(logdir) / f"{net_name}.pt")
    config.logdir, config.ckpt_path, config.out = str(logdir), str(ckpt_path), str(out_path)
    return ckpt_path, out_path


def _refuse_replacing_inputs(config: TrainConfig, ckpt_path: Path, out_path: Path) -> ReadFiles:
    """Before any work: no output of the run may replace a file it reads (a painting, the
    teacher, the --init net; --out not the --resume checkpoint either, which --ckpt-path goes on
    writing), nor one another; the log folder must be a folder. Returns what the run reads, for
    its writers to check again."""
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
    return reads


def remove_stale_temporaries(*paths: Path) -> None:
    """Delete the hidden temporary files (files.atomic_path) a run killed while saving left beside these."""
    for path in paths:
        for stale in path.parent.glob(f".{path.stem}.*.tmp{path.suffix}"):
            stale.unlink(missing_ok=True)


def _objective(config: TrainConfig, teacher: Teacher | None, styles: StyleSet, device: torch.device,
               memory_format: torch.memory_format) -> Objective | DistillObjective:
    """What the run minimises: the perceptual objective of its style images, or the teacher's
    output (distillation). The style pictures it holds become the styles' pictures in the checkpoint."""
    if teacher is not None:
        styles.images[0] = teacher.image
        return DistillObjective(teacher.net, config, device, memory_format)
    objective = Objective(config.style_paths, config, device, memory_format)
    for index, image, path in zip(styles.trained, objective.style_images, config.style_paths):
        styles.images[index] = image
        styles.digests[index] = painting_digest(open_rgb(path))  # what a resumed run compares its painting with
    return objective


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


def _stop_unless_finite(total: torch.Tensor, state: TrainingState) -> None:
    """Stop a run whose loss is no longer a number, before it logs or saves it."""
    value = distributed.mean(total).item()  # every process stops together, or none does
    if not math.isfinite(value):
        raise FastNSTError(f"training stopped: the loss became {value} at step {state.step}; "
                           f"{state.last_good()}. Try a lower --lr or loss weights.", exit_code=1)
