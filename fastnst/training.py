"""The training loop: data -> TransformerNet -> frozen VGG -> perceptual losses -> Adam."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

import torch
import torchvision
from torch.utils.tensorboard import SummaryWriter
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from . import checkpoint as ckpt
from . import distributed
from .data import DEFAULT_DATASET, center_crop, make_loader
from .errors import FastNSTError
from .images import find_images, open_rgb, resize_max, to_tensor
from .losses import content_loss, gram_matrix, style_loss, total_variation_loss
from .lossnet import LossNet
from .model import ARCHS, ModelConfig, TransformerNet
from .stability import stability_loss
from .stylize import resolve_device

log = logging.getLogger(__name__)

STYLE_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")
# Weight of the stability term, from the flicker table in README: 3e2 cut flicker on a moving clip
# by half for a quarter more style loss; 1e3 cut it by two thirds but washed out the texture.
STABILITY_WEIGHT = 3e2
AMP_MODES = ("auto", "off", "bf16", "fp16")


@dataclass
class TrainConfig:
    """Every training option; stored in checkpoints as `train_args`. CLI flags use the same names."""

    style: str = ""                      # path of the style image
    data: str = DEFAULT_DATASET          # local folder, or a Hugging Face dataset id (streamed)
    steps: int | None = None             # optimizer steps; default 40000 (2 COCO epochs at batch 4)
    epochs: float | None = None          # alternative to steps, for local folders
    image_size: int = 256                # training crop size
    batch_size: int = 4
    workers: int = 2
    lr: float = 1e-3
    seed: int = 0
    device: str = "auto"
    arch: str = "johnson"                # network: johnson (Johnson et al.) or light (CPU real time)
    amp: str = "auto"                    # mixed precision: auto, off, bf16 or fp16 (see resolve_amp)
    compile: bool = False                # torch.compile the net and the loss net
    loss_net: str = "vgg16"
    loss_weights: str | None = None      # local VGG features state dict; None = torchvision download
    content_layers: tuple[str, ...] = ("relu2_2",)
    style_layers: tuple[str, ...] = STYLE_LAYERS
    style_layer_weights: tuple[float, ...] | None = None  # one per style layer; default all 1
    content_weight: float = 1.0
    style_weight: float = 1e4
    tv_weight: float = 1e-2
    stability_weight: float = STABILITY_WEIGHT  # video stability term (stability.py); 0 turns it off
    style_size: int | None = 512         # long side of the style image as the loss net sees it
    logdir: str | None = None            # default runs/<style>-<time>
    log_every: int = 10
    sample_every: int = 500
    val_dir: str | None = None           # images for the sample grid; default: first training images
    ckpt_every: int = 1000
    ckpt_path: str | None = None         # training checkpoint; default <logdir>/checkpoint.pt
    out: str | None = None               # small inference checkpoint; default <logdir>/<style>.pt
    resume: str | None = None            # training checkpoint to continue from
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("content_layers", "style_layers", "style_layer_weights"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, tuple(value))

    @property
    def style_name(self) -> str:
        return Path(self.style).stem


def _check(config: TrainConfig) -> None:
    if not config.style:
        raise FastNSTError("no style image given: --style PATH")
    if config.steps is not None and config.steps < 1:
        raise FastNSTError("--steps must be at least 1")
    if config.epochs is not None and config.epochs <= 0:
        raise FastNSTError("--epochs must be positive")
    if config.batch_size < 1 or config.image_size < 16:
        raise FastNSTError("--batch-size must be >= 1 and --image-size >= 16")
    if min(config.content_weight, config.style_weight, config.tv_weight, config.stability_weight) < 0:
        raise FastNSTError("loss weights must not be negative")
    if config.style_layer_weights is not None and len(config.style_layer_weights) != len(config.style_layers):
        raise FastNSTError(f"{len(config.style_layer_weights)} style layer weights given for "
                           f"{len(config.style_layers)} style layers")
    if not (config.lr > 0 and math.isfinite(config.lr)):
        raise FastNSTError("--lr must be a positive number")
    if config.arch not in ARCHS:
        raise FastNSTError(f"--arch {config.arch}: choose one of {', '.join(ARCHS)}")
    if config.amp not in AMP_MODES:
        raise FastNSTError(f"--amp {config.amp}: choose one of {', '.join(AMP_MODES)}")


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
    known = {f.name for f in fields(TrainConfig)}
    unknown = set(options) - known
    if unknown:
        raise FastNSTError(f"unknown training option(s): {', '.join(sorted(unknown))}")
    if config is not None:
        return TrainConfig(**{**asdict(config), **options})
    resume = options.get("resume")
    stored = {}
    if resume:
        path = Path(resume)
        if not path.is_file():
            raise FastNSTError(f"--resume {path}: no such file")
        raw = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(raw, dict) or "optimizer" not in raw:
            raise FastNSTError(f"--resume {path}: not a fastnst training checkpoint (one with optimizer state)")
        stored = {k: v for k, v in raw.get("train_args", {}).items() if k in known}
        stored.setdefault("logdir", str(path.parent))
        stored.setdefault("ckpt_path", str(path))
        stored.setdefault("stability_weight", 0.0)  # runs begun before the term existed go on without it
    return TrainConfig(**{**stored, **options})


def cpu_has_fast_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX); elsewhere bf16 is emulated,
    slower than fp32."""
    checks = (getattr(torch.cpu, "_is_avx512_bf16_supported", None), getattr(torch.cpu, "_is_amx_tile_supported", None))
    return any(check() for check in checks if check is not None)


def resolve_amp(amp: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype that --amp means on this device, or None for plain fp32.

    auto: bf16 on GPUs that have it (no loss scaling needed), else fp16 with a GradScaler; bf16 on
    CPUs with native bf16, where a step is several times faster than in fp32 (README); fp32 elsewhere.
    """
    if amp == "off":
        return None
    if device.type == "cuda":
        has_bf16 = torch.cuda.is_bf16_supported()
        if amp == "bf16" and not has_bf16:
            raise FastNSTError("--amp bf16: this GPU has no bf16; use --amp fp16")
        return torch.float16 if amp == "fp16" or (amp == "auto" and not has_bf16) else torch.bfloat16
    if device.type == "cpu":
        if amp == "fp16":
            raise FastNSTError("--amp fp16 needs a CUDA GPU; on the CPU use --amp bf16 or off")
        return torch.bfloat16 if amp == "bf16" or cpu_has_fast_bf16() else None
    if amp == "auto":
        return None
    raise FastNSTError(f"--amp {amp} works on CUDA GPUs and CPUs; on {device.type} use --amp off")


def memory_format_for(device: torch.device) -> torch.memory_format:
    """channels_last (NHWC): what tensor cores want, and on the CPU oneDNN's bf16 convolutions
    (a step 20% faster there; no slower in fp32). Not on Apple MPS, where support is patchy."""
    return torch.channels_last if device.type in ("cuda", "cpu") else torch.contiguous_format


@dataclass
class Objective:
    """What a training step minimizes, with what stays fixed computed once (the style's Grams)."""

    style_grams: dict[str, torch.Tensor]
    style_layer_weights: dict[str, float]
    content_layers: tuple[str, ...]
    content_upto: str                    # the deepest content layer: content targets stop there
    content_weight: float
    style_weight: float
    tv_weight: float
    stability_weight: float = 0.0
    seed: int = 0                        # of the stability term's random motions


def make_objective(config: TrainConfig, lossnet: LossNet, style: torch.Tensor) -> Objective:
    """The Objective of `config` for the style image `style` (1 x 3 x H x W on the loss net's device)."""
    with torch.no_grad():  # the style image never changes: its Gram matrices are computed once
        features = lossnet(style)
    return Objective(
        style_grams={name: gram_matrix(features[name]).float() for name in config.style_layers},
        style_layer_weights=dict(zip(config.style_layers,
                                     config.style_layer_weights or [1.0] * len(config.style_layers))),
        content_layers=tuple(config.content_layers),
        content_upto=max(config.content_layers, key=lossnet.names.index),
        content_weight=config.content_weight, style_weight=config.style_weight, tv_weight=config.tv_weight,
        stability_weight=config.stability_weight, seed=config.seed)


def compute_losses(model: torch.nn.Module, lossnet: torch.nn.Module, x: torch.Tensor, objective: Objective,
                   step: int = 0, amp_dtype: torch.dtype | None = None) -> dict[str, torch.Tensor]:
    """The weighted loss terms for a batch of photos x: content, style, style_<layer>..., tv,
    stability and their sum, total. The networks run in `amp_dtype` (None: fp32), the losses in fp32."""
    o = objective
    with torch.autocast(x.device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
        y = model(x)
        with torch.no_grad():  # content targets need no graph, and only the shallow layers
            content_targets = lossnet(x, upto=o.content_upto)
        features = lossnet(y)
        l_stability = torch.zeros((), device=x.device)
        if o.stability_weight > 0:  # its own generator: resuming must not shift the global RNG
            motion_rng = torch.Generator().manual_seed((o.seed << 32) + step)
            l_stability = o.stability_weight * stability_loss(model, x, y, motion_rng)
    # A Gram matrix sums H*W products: beyond fp16's range and bf16's precision, so fp32 from here.
    y = y.float()
    features = {name: f.float() for name, f in features.items()}
    content_targets = {name: content_targets[name].float() for name in o.content_layers}
    raw_style, per_layer = style_loss(features, o.style_grams, o.style_layer_weights)
    losses = {"content": o.content_weight * content_loss(features, content_targets),
              "style": o.style_weight * raw_style}
    losses.update({f"style_{name}": o.style_weight * value for name, value in per_layer.items()})
    losses["tv"] = o.tv_weight * total_variation_loss(y)
    losses["stability"] = l_stability.float()
    losses["total"] = losses["content"] + losses["style"] + losses["tv"] + losses["stability"]
    return losses


def train_step(model: torch.nn.Module, lossnet: torch.nn.Module, optimizer: torch.optim.Optimizer,
               scaler: torch.amp.GradScaler, x: torch.Tensor, objective: Objective, step: int = 0,
               amp_dtype: torch.dtype | None = None) -> dict[str, torch.Tensor]:
    """One optimizer step on the batch x; returns the loss terms of compute_losses, detached.

    With fp16 the scaler multiplies the loss so small gradients do not flush to zero, and skips
    a step whose gradients overflowed; otherwise it is disabled and passes everything through.
    """
    losses = compute_losses(model, lossnet, x, objective, step, amp_dtype)
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
    _check(config)
    # Under torchrun: one process per GPU (or CPU process), each training on its own share of the
    # data; the gradients are averaged, so the effective batch is batch_size * world_size.
    device, own_group = distributed.setup(resolve_device(config.device))
    try:
        return _train(config, device)
    finally:
        distributed.cleanup(own_group)


def _train(config: TrainConfig, device: torch.device) -> Path:
    main, world = distributed.is_main(), distributed.world_size()  # rank 0 writes logs and checkpoints
    style_name = config.style_name
    logdir = Path(distributed.from_main(config.logdir or f"runs/{style_name}-{datetime.now():%Y%m%d-%H%M%S}"))
    ckpt_path = Path(config.ckpt_path or logdir / "checkpoint.pt")
    out_path = Path(config.out or logdir / f"{style_name}.pt")
    config.logdir, config.ckpt_path, config.out = str(logdir), str(ckpt_path), str(out_path)

    torch.manual_seed(config.seed)  # the same initial weights in every process
    memory_format = memory_format_for(device)
    model = TransformerNet(ModelConfig.for_arch(config.arch)).to(device, memory_format=memory_format)
    # Fused Adam: one kernel for all parameters instead of several per parameter tensor.
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, fused=device.type == "cuda")
    amp_dtype = resolve_amp(config.amp, device)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    start_step = 0
    if config.resume:
        state = torch.load(config.resume, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if "scaler" in state:
            scaler.load_state_dict(state["scaler"])
        start_step = state["step"]

    style_image = resize_max(open_rgb(config.style), config.style_size)
    layers = list(dict.fromkeys(config.content_layers + config.style_layers))
    lossnet = LossNet(config.loss_net, layers, config.loss_weights).to(device, memory_format=memory_format)
    objective = make_objective(config, lossnet, to_tensor(style_image).to(device))
    layer_weights = objective.style_layer_weights

    step_model, step_lossnet = model, lossnet  # what train_step runs: wrapped for DDP and compiled
    if world > 1:
        step_model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    if config.compile:
        step_model, step_lossnet = torch.compile(step_model), torch.compile(lossnet)
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
        total_steps = 40_000
    if start_step >= total_steps:
        raise FastNSTError(f"{config.resume} is already at step {start_step}; ask for more with --steps")

    loss_net_info = {"name": config.loss_net, "weights": config.loss_weights or "imagenet",
                     "content_layers": list(config.content_layers), "style_layers": list(config.style_layers),
                     "style_layer_weights": [layer_weights[n] for n in config.style_layers]}
    train_args = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(config).items() if k != "resume"}

    def save_training(step: int) -> None:
        state = ckpt.build_checkpoint(model, style_name=style_name, style_image=style_image,
                                      train_args=train_args, loss_net=loss_net_info, step=step)
        state["optimizer"] = optimizer.state_dict()
        if scaler.is_enabled():
            state["scaler"] = scaler.state_dict()
        state["rng"] = {"torch": torch.get_rng_state(),
                        "cuda": torch.cuda.get_rng_state_all() if device.type == "cuda" else []}
        ckpt.atomic_save(state, ckpt_path)

    writer = SummaryWriter(str(logdir)) if main else None
    if writer and start_step == 0:
        writer.add_image("style", to_tensor(style_image)[0], 0)
        if skipped:
            writer.add_text("data", f"skipped {skipped} unreadable files", 0)
    val = _val_batch(config, config.image_size) if main else None
    batches = _endless(loader)
    last_saved = start_step if config.resume else None
    logs: dict[str, float] = {}
    bar = tqdm(total=total_steps, initial=start_step, desc=f"train {style_name}", unit="step",
               disable=not (config.progress and main), dynamic_ncols=True)
    if config.resume:  # restored last, after everything above that draws random numbers
        torch.set_rng_state(state["rng"]["torch"])
        if device.type == "cuda" and state["rng"].get("cuda"):
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
    tick, images_seen = time.perf_counter(), 0
    step_model.train()
    for step in range(start_step + 1, total_steps + 1):
        # From pinned memory the copy to the GPU runs asynchronously, overlapping the previous step.
        x = next(batches).to(device, non_blocking=True, memory_format=memory_format)
        losses = train_step(step_model, step_lossnet, optimizer, scaler, x, objective, step, amp_dtype)
        images_seen += x.shape[0] * world
        total = distributed.mean(losses["total"])  # every process stops together, or none does
        if not torch.isfinite(total):
            bar.close()
            if writer:
                writer.close()
            kept = (f"the last good checkpoint, step {last_saved}, is {ckpt_path}" if last_saved
                    else "no checkpoint was written yet")
            raise FastNSTError(f"training stopped: the loss became {total.item()} at step {step}; {kept}. "
                               f"Try a lower --lr or loss weights.", exit_code=1)

        if step % config.log_every == 0 or step == total_steps:
            elapsed = time.perf_counter() - tick
            values = distributed.mean(torch.stack(list(losses.values()))).tolist()  # one sync for all terms
            logs = {f"loss/{name}": value for name, value in zip(losses, values)}
            images_per_s = images_seen / max(elapsed, 1e-9)
            if writer:
                for tag, value in logs.items():
                    writer.add_scalar(tag, value, step)
                writer.add_scalar("lr", optimizer.param_groups[0]["lr"], step)
                writer.add_scalar("images_per_s", images_per_s, step)
            bar.set_postfix(content=f"{logs['loss/content']:.3g}", style=f"{logs['loss/style']:.3g}",
                            tv=f"{logs['loss/tv']:.3g}", img_s=f"{images_per_s:.1f}")
            tick, images_seen = time.perf_counter(), 0
        if val is not None and (step % config.sample_every == 0 or step == total_steps):
            model.eval()
            with torch.no_grad():
                styled = model(val.to(device)).clamp(0, 1).cpu()
            model.train()
            writer.add_image("samples", torchvision.utils.make_grid(torch.cat([val, styled]), nrow=len(val)), step)
        if step % config.ckpt_every == 0 or step == total_steps:
            if main:
                save_training(step)
            last_saved = step
        bar.update(1)
    bar.close()

    if main:
        model.eval()
        ckpt.atomic_save(ckpt.build_checkpoint(model, style_name=style_name, style_image=style_image,
                                               train_args=train_args, loss_net=loss_net_info,
                                               step=total_steps, half=True), out_path)
        hparams = {k: v for k, v in train_args.items() if isinstance(v, (int, float, str, bool))}
        writer.add_hparams(hparams, {f"hparam/{k.split('/', 1)[1]}": v for k, v in logs.items()}, run_name=".")
        writer.close()
    distributed.barrier()  # no process returns before rank 0 has written the checkpoint
    return out_path
