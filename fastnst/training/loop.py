"""The training loop: data -> TransformerNet -> the objective (frozen VGG) -> Adam."""

from __future__ import annotations

import functools
import logging
import math
import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

import torch
import torchvision
from torch.nn.parallel import DistributedDataParallel
from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams as hparams_summary
from tqdm import tqdm

from .. import checkpoint as ckpt
from ..device import memory_format_for, resolve_device, resolve_precision
from ..errors import FastNSTError, first_line
from ..files import load_torch_file
from ..images import center_crop, find_images, open_rgb, to_tensor
from ..loss import Objective, stored_layer_weights
from ..model import one_hot
from . import distributed
from .config import DEFAULT_STEPS, TrainConfig, styles_name, upgrade_options
from .data import make_loader
from .styles import FrozenRows, build_net, norm_parameters

log = logging.getLogger(__name__)


def _endless(loader) -> Iterator[torch.Tensor]:
    while True:  # a streamed dataset ends; a local one is endless already
        yield from loader


def _val_batch(config: TrainConfig, size: int) -> torch.Tensor | None:
    source = config.val_dir or (config.data if Path(config.data).is_dir() else None)
    if source is None:
        return None
    images = []
    for path in find_images(source)[:8 if config.val_dir else 4]:
        try:
            images.append(center_crop(open_rgb(path), size))
        except FastNSTError:
            continue
    return torch.stack(images) if images else None


def _merge_resume(config: TrainConfig | None, options: dict[str, Any]) -> TrainConfig:
    options = upgrade_options(options)
    known = set(TrainConfig.field_names())
    unknown = set(options) - known
    if unknown:
        raise FastNSTError(f"unknown training option(s): {', '.join(sorted(unknown))}")
    if config is not None:
        return TrainConfig(**{**asdict(config), **options})
    resume = options.get("resume")
    stored = {}
    if resume:
        path = Path(resume)
        raw = load_torch_file(path, f"--resume {path}: no such file",
                              f"--resume {path}: not a readable fastnst training checkpoint (damaged, cut short, "
                              f"or another kind of file)")
        if not isinstance(raw, dict) or "optimizer" not in raw:
            raise FastNSTError(f"--resume {path}: not a fastnst training checkpoint (one with optimizer state)")
        # Checkpoints of format 1 kept the loss options among train_args.
        stored = upgrade_options({**raw.get("train_args", {}), **raw.get("loss", {})})
        stored = {k: v for k, v in stored.items() if k in known}
        stored.setdefault("logdir", str(path.parent))
        stored.setdefault("ckpt_path", str(path))
        stored.setdefault("stability_weight", 0.0)  # runs begun before the term existed go on without it
        stored.setdefault("lr_decay_at", 1.0)  # and before the schedule, without a drop
        stored = stored_layer_weights(stored)
    return TrainConfig(**{**stored, **options})


def remove_stale_temporaries(*paths: Path) -> None:
    """Delete the hidden temporary files (files.atomic_path) a run killed while saving left beside these."""
    for path in paths:
        for stale in path.parent.glob(f".{path.stem}.*.tmp{path.suffix}"):
            stale.unlink(missing_ok=True)


def compute_losses(model: torch.nn.Module, objective: Objective, x: torch.Tensor, step: int = 0, seed: int = 0,
                   amp_dtype: torch.dtype | None = None, style: tuple[int, int] | None = None) -> dict[str, torch.Tensor]:
    """The weighted loss terms for a batch of photos x: the objective's (content, style,
    style_<layer>..., tv), stability, and their sum, total. The networks run in `amp_dtype`
    (None: fp32), the losses in fp32. For a net of several styles, `style` is (the objective's
    style index, the net's): the net runs with that style and the loss measures it."""
    if style is not None:
        loss_style, net_style = style
        model = functools.partial(model, style=one_hot(net_style, num_styles(model), x.device))
    with torch.autocast(x.device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
        y = model(x)
        losses = objective(y, objective.content_targets(x), style=style[0] if style else 0)
        losses["stability"] = objective.stability(model, x, y, step, seed)
    losses["total"] = losses.pop("total") + losses["stability"]
    return losses


def num_styles(model: torch.nn.Module) -> int:
    net = getattr(model, "module", model)  # under DDP
    net = getattr(net, "_orig_mod", net)   # compiled
    return net.config.num_styles


def train_step(model: torch.nn.Module, objective: Objective, optimizer: torch.optim.Optimizer,
               scaler: torch.amp.GradScaler, x: torch.Tensor, step: int = 0, seed: int = 0,
               amp_dtype: torch.dtype | None = None, style: tuple[int, int] | None = None) -> dict[str, torch.Tensor]:
    """One optimizer step on the batch x; returns the loss terms of compute_losses, detached.

    With fp16 the scaler multiplies the loss so small gradients do not flush to zero, and skips
    a step whose gradients overflowed; otherwise it is disabled and passes everything through.
    """
    losses = compute_losses(model, objective, x, step, seed, amp_dtype, style)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(losses["total"]).backward()
    scaler.step(optimizer)
    scaler.update()
    return {name: value.detach() for name, value in losses.items()}


def train(config: TrainConfig | None = None, /, **options: Any) -> Path:
    """Train a style network; returns the path of the small inference checkpoint.

    Pass a TrainConfig, or its fields as keyword arguments, e.g.
    ``fastnst.train(style="mosaic.jpg", data="photos/", steps=2000)``. With ``resume=PATH`` the
    options stored in that training checkpoint are used, overridden by any given here.
    """
    config = _merge_resume(config, options)
    config.check()
    # Under torchrun: one process per GPU (or CPU process), each training on its own share of the
    # data; the gradients are averaged, so the effective batch is batch_size * world_size.
    device, own_group = distributed.setup(resolve_device(config.device))
    try:
        return _train(config, device)
    finally:
        distributed.cleanup(own_group)


def _train(config: TrainConfig, device: torch.device) -> Path:
    main, world = distributed.is_main(), distributed.world_size()  # rank 0 writes logs and checkpoints
    torch.manual_seed(config.seed)  # the same initial weights in every process
    resumed = ckpt.load_checkpoint(config.resume) if config.resume else None
    # A warm start (--init) takes another net's weights, with a fresh optimizer.
    model, styles = build_net(config.style_paths, config.arch, config.init, config.only_norms, resumed)
    config.arch = model.config.arch

    style_name = config.style_name  # the run's; the net's own name covers any styles it inherited
    net_name = styles_name(styles.names)
    logdir = Path(distributed.from_main(config.logdir or f"runs/{style_name}-{datetime.now():%Y%m%d-%H%M%S}"))
    ckpt_path = Path(config.ckpt_path or logdir / "checkpoint.pt")
    out_path = Path(config.out or logdir / f"{net_name}.pt")
    config.logdir, config.ckpt_path, config.out = str(logdir), str(ckpt_path), str(out_path)
    if main:
        remove_stale_temporaries(ckpt_path, out_path)
    memory_format = memory_format_for(device)
    many = model.config.num_styles > 1
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
    start_step = 0
    if config.resume:
        state = resumed.raw
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if "scaler" in state:
            scaler.load_state_dict(state["scaler"])
        start_step = state["step"]
    frozen = FrozenRows(model, styles.frozen)  # as loaded: the init's norms, or the resumed run's

    objective = Objective(config.style_paths, config, device, memory_format)
    for index, image in zip(styles.trained, objective.style_images):
        styles.images[index] = image

    step_model = model  # what train_step runs: wrapped for DDP and compiled
    if world > 1:
        step_model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    if config.compile:
        step_model, objective.lossnet = torch.compile(step_model), torch.compile(objective.lossnet)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # one crop size throughout: let cuDNN time its kernels once

    loader, num_images, skipped = make_loader(config.data, config.image_size, config.batch_size, config.seed,
                                              start_step, config.workers, pin_memory=device.type == "cuda",
                                              rank=distributed.rank(), world_size=world)
    if config.steps is not None:
        total_steps = config.steps
    elif config.epochs is not None:
        if num_images is None:
            raise FastNSTError("--epochs needs a local --data folder (a streamed dataset has no known size); use --steps")
        total_steps = math.ceil(config.epochs * num_images / (config.batch_size * world))
    else:
        total_steps = DEFAULT_STEPS
    if start_step >= total_steps:
        raise FastNSTError(f"{config.resume} is already at step {start_step}; ask for more with --steps")
    # Constant, then a tenth for the last part of the run: the big rate finds the style's shapes
    # fast, the small one settles the noise Adam leaves at the big rate (docs/recipe.md).
    drop_after = math.ceil(config.lr_decay_at * total_steps)

    def learning_rate(step: int) -> float:
        return config.lr * (0.1 if step > drop_after and config.lr_decay_at < 1 else 1.0)

    loss, train_args = config.loss_only().to_dict(), config.train_args()

    def save_training(step: int) -> None:
        state = ckpt.build_checkpoint(model, styles=list(zip(styles.names, styles.images)),
                                      train_args=train_args, loss=loss, step=step)
        state["optimizer"] = optimizer.state_dict()
        if scaler.is_enabled():
            state["scaler"] = scaler.state_dict()
        state["rng"] = {"torch": torch.get_rng_state(),
                        "cuda": torch.cuda.get_rng_state_all() if device.type == "cuda" else []}
        try:
            ckpt.atomic_save(state, ckpt_path)
        except (OSError, RuntimeError) as exc:  # disk full, folder gone, ...: torch reports it as either
            raise FastNSTError(f"could not write the training checkpoint {ckpt_path} at step {step} "
                               f"({first_line(exc)}); {kept()}", exit_code=1) from None

    def kept() -> str:
        return (f"the last good checkpoint, step {last_saved}, is {ckpt_path}" if last_saved
                else "no checkpoint was written yet")

    writer = SummaryWriter(str(logdir)) if main else None
    if writer and start_step == 0:
        for index in styles.trained:
            writer.add_image(f"style/{styles.names[index]}" if many else "style", to_tensor(styles.images[index])[0], 0)
        if skipped:
            writer.add_text("data", f"skipped {skipped} unreadable files", 0)
    # Sample tiles of at least 256 px, whatever the crop size: readable in TensorBoard's grid.
    val = _val_batch(config, max(config.image_size, 256)) if main else None
    batches = _endless(loader)
    last_saved = start_step if config.resume else None
    logs: dict[str, float] = {}
    latest: dict[int, dict[str, torch.Tensor]] = {}  # several styles: each one's loss terms at its last step
    bar = tqdm(total=total_steps, initial=start_step, desc=f"train {style_name}", unit="step",
               disable=not (config.progress and main), dynamic_ncols=True)
    if config.resume:  # restored last, after everything above that draws random numbers
        torch.set_rng_state(state["rng"]["torch"])
        if device.type == "cuda" and state["rng"].get("cuda"):
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
    tick, images_seen = time.perf_counter(), 0
    step_model.train()
    step = start_step
    finished = False
    try:
        for step in range(start_step + 1, total_steps + 1):
            # From pinned memory the copy to the GPU runs asynchronously, overlapping the previous step.
            x = next(batches).to(device, non_blocking=True, memory_format=memory_format)
            for group in optimizer.param_groups:  # set each step: a resumed run's state carries the old rate
                group["lr"] = learning_rate(step)
            style = styles.style_for_step(step) if many else None
            losses = train_step(step_model, objective, optimizer, scaler, x, step, config.seed, amp_dtype, style)
            frozen.restore()
            images_seen += x.shape[0] * world
            if style is not None:
                latest[style[1]] = losses
            total = distributed.mean(losses["total"])  # every process stops together, or none does
            if not torch.isfinite(total):
                raise FastNSTError(f"training stopped: the loss became {total.item()} at step {step}; "
                                   f"{kept()}. Try a lower --lr or loss weights.", exit_code=1)

            if step % config.log_every == 0 or step == total_steps:
                elapsed = time.perf_counter() - tick
                # Several styles: each style's terms as of its last step, and loss/ their mean.
                per_style = [latest[i] for i in styles.trained if i in latest] if many else [losses]
                stacked = torch.stack([torch.stack(list(terms.values())) for terms in per_style])
                values = distributed.mean(stacked).tolist()  # one sync for all terms
                logs = {f"loss/{name}": sum(row[j] for row in values) / len(values) for j, name in enumerate(losses)}
                if many:
                    for i, row in zip([i for i in styles.trained if i in latest], values):
                        logs.update({f"{styles.names[i]}/{name}": v for name, v in zip(losses, row)
                                     if name in ("total", "content", "style")})
                images_per_s = images_seen / max(elapsed, 1e-9)
                if writer:
                    for tag, value in logs.items():
                        writer.add_scalar(tag, value, step)
                    # under train/: TensorBoard sorts groups by name, so loss/ then samples come first
                    writer.add_scalar("train/lr", optimizer.param_groups[0]["lr"], step)
                    writer.add_scalar("train/images_per_s", images_per_s, step)
                bar.set_postfix(content=f"{logs['loss/content']:.3g}", style=f"{logs['loss/style']:.3g}",
                                tv=f"{logs['loss/tv']:.3g}", img_s=f"{images_per_s:.1f}")
                if bar.disable and main:  # without a bar (a log file, a cluster job) a line instead
                    log.info("step %d/%d: content %.3g, style %.3g, tv %.3g, %.1f img/s", step, total_steps,
                             logs["loss/content"], logs["loss/style"], logs["loss/tv"], images_per_s)
                tick, images_seen = time.perf_counter(), 0
            if val is not None and (step % config.sample_every == 0 or step == total_steps):
                model.eval()
                for index in styles.trained if many else [None]:
                    with torch.no_grad():
                        mix = one_hot(index, model.config.num_styles, device) if many else None
                        styled = model(val.to(device), style=mix).clamp(0, 1).cpu()
                    tag = f"samples/{styles.names[index]}" if many else "samples"
                    writer.add_image(tag, torchvision.utils.make_grid(torch.cat([val, styled]), nrow=len(val)), step)
                model.train()
            if step % config.ckpt_every == 0 or step == total_steps:
                if main:
                    save_training(step)
                last_saved = step
            bar.update(1)
        finished = True
    except KeyboardInterrupt:
        resume = (f"resume from step {last_saved} with --resume {ckpt_path}" if last_saved
                  else "no checkpoint was written yet")
        raise FastNSTError(f"interrupted at step {step}; {resume}", exit_code=130) from None
    finally:
        bar.close()
        if writer and not finished:
            writer.close()

    if main:
        model.eval()
        try:
            ckpt.atomic_save(ckpt.build_checkpoint(model, styles=list(zip(styles.names, styles.images)),
                                                   train_args=train_args, loss=loss,
                                                   step=total_steps, half=True), out_path)
        except (OSError, RuntimeError) as exc:
            writer.close()
            raise FastNSTError(f"could not write {out_path} ({first_line(exc)}); the training checkpoint "
                               f"{ckpt_path} holds the same weights", exit_code=1) from None
        # The HParams tab only: its metrics are the run's own loss scalars (add_hparams would write
        # them again as hparam/* scalars, single dots above the loss curves in the Scalars tab).
        hparams = {k: v for k, v in {**loss, **train_args}.items() if isinstance(v, (int, float, str, bool))}
        for summary in hparams_summary(hparams, dict.fromkeys(sorted(logs, key=lambda tag: tag != "loss/total"))):
            writer.file_writer.add_summary(summary)
        writer.close()
    distributed.barrier()  # no process returns before rank 0 has written the checkpoint
    return out_path
