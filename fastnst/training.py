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
from tqdm import tqdm

from . import checkpoint as ckpt
from .data import DEFAULT_DATASET, center_crop, make_loader
from .errors import FastNSTError
from .images import find_images, open_rgb, resize_max, to_tensor
from .losses import content_loss, gram_matrix, style_loss, total_variation_loss
from .lossnet import LossNet
from .model import ModelConfig, TransformerNet
from .stylize import resolve_device

log = logging.getLogger(__name__)

STYLE_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")


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
    loss_net: str = "vgg16"
    loss_weights: str | None = None      # local VGG features state dict; None = torchvision download
    content_layers: tuple[str, ...] = ("relu2_2",)
    style_layers: tuple[str, ...] = STYLE_LAYERS
    style_layer_weights: tuple[float, ...] | None = None  # one per style layer; default all 1
    content_weight: float = 1.0
    style_weight: float = 3e4
    tv_weight: float = 1e-2
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
    if min(config.content_weight, config.style_weight, config.tv_weight) < 0:
        raise FastNSTError("loss weights must not be negative")
    if config.style_layer_weights is not None and len(config.style_layer_weights) != len(config.style_layers):
        raise FastNSTError(f"{len(config.style_layer_weights)} style layer weights given for "
                           f"{len(config.style_layers)} style layers")
    if not (config.lr > 0 and math.isfinite(config.lr)):
        raise FastNSTError("--lr must be a positive number")


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
    return TrainConfig(**{**stored, **options})


def train(config: TrainConfig | None = None, /, **options: Any) -> Path:
    """Train a style network; returns the path of the small inference checkpoint.

    Pass a TrainConfig, or its fields as keyword arguments, e.g.
    ``fastnst.train(style="mosaic.jpg", data="photos/", steps=2000)``. With ``resume=PATH`` the
    options stored in that training checkpoint are used, overridden by any given here.
    """
    config = _merge_resume(config, options)
    _check(config)
    device = resolve_device(config.device)
    style_name = config.style_name
    logdir = Path(config.logdir or f"runs/{style_name}-{datetime.now():%Y%m%d-%H%M%S}")
    ckpt_path = Path(config.ckpt_path or logdir / "checkpoint.pt")
    out_path = Path(config.out or logdir / f"{style_name}.pt")
    config.logdir, config.ckpt_path, config.out = str(logdir), str(ckpt_path), str(out_path)

    torch.manual_seed(config.seed)
    model = TransformerNet(ModelConfig()).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    start_step = 0
    if config.resume:
        state = torch.load(config.resume, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start_step = state["step"]

    style_image = resize_max(open_rgb(config.style), config.style_size)
    layers = list(dict.fromkeys(config.content_layers + config.style_layers))
    lossnet = LossNet(config.loss_net, layers, config.loss_weights).to(device)
    layer_weights = dict(zip(config.style_layers, config.style_layer_weights or [1.0] * len(config.style_layers)))
    with torch.no_grad():
        style_features = lossnet(to_tensor(style_image).to(device))
        style_grams = {name: gram_matrix(style_features[name]) for name in config.style_layers}

    loader, num_images, skipped = make_loader(config.data, config.image_size, config.batch_size, config.seed,
                                              start_step, config.workers, pin_memory=device.type == "cuda")
    if config.steps is not None:
        total_steps = config.steps
    elif config.epochs is not None:
        if num_images is None:
            raise FastNSTError("--epochs needs a local --data folder (a streamed dataset has no known size); use --steps")
        total_steps = math.ceil(config.epochs * num_images / config.batch_size)
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
        state["rng"] = {"torch": torch.get_rng_state(),
                        "cuda": torch.cuda.get_rng_state_all() if device.type == "cuda" else []}
        ckpt.atomic_save(state, ckpt_path)

    writer = SummaryWriter(str(logdir))
    if start_step == 0:
        writer.add_image("style", to_tensor(style_image)[0], 0)
        if skipped:
            writer.add_text("data", f"skipped {skipped} unreadable files", 0)
    val = _val_batch(config, config.image_size)
    batches = _endless(loader)
    content_only = lossnet.names[max(lossnet.names.index(n) for n in config.content_layers)]
    last_saved = start_step if config.resume else None
    logs: dict[str, float] = {}
    bar = tqdm(total=total_steps, initial=start_step, desc=f"train {style_name}", unit="step",
               disable=not config.progress, dynamic_ncols=True)
    if config.resume:  # restored last, after everything above that draws random numbers
        torch.set_rng_state(state["rng"]["torch"])
        if device.type == "cuda" and state["rng"].get("cuda"):
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
    tick, images_seen = time.perf_counter(), 0
    model.train()
    for step in range(start_step + 1, total_steps + 1):
        x = next(batches).to(device, non_blocking=True)
        y = model(x)
        with torch.no_grad():  # content targets need no graph, and only the shallow layers
            content_targets = {n: f for n, f in lossnet(x, upto=content_only).items() if n in config.content_layers}
        features = lossnet(y)
        l_content = config.content_weight * content_loss(features, content_targets)
        l_style_raw, per_layer = style_loss(features, style_grams, layer_weights)
        l_style = config.style_weight * l_style_raw
        l_tv = config.tv_weight * total_variation_loss(y)
        total = l_content + l_style + l_tv
        if not torch.isfinite(total):
            bar.close()
            writer.close()
            kept = (f"the last good checkpoint, step {last_saved}, is {ckpt_path}" if last_saved
                    else "no checkpoint was written yet")
            raise FastNSTError(f"training stopped: the loss became {total.item()} at step {step}; {kept}. "
                               f"Try a lower --lr or loss weights.", exit_code=1)
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()
        images_seen += x.shape[0]

        if step % config.log_every == 0 or step == total_steps:
            elapsed = time.perf_counter() - tick
            logs = {"loss/content": l_content.item(), "loss/style": l_style.item(), "loss/tv": l_tv.item(),
                    "loss/total": total.item()}
            logs.update({f"loss/style_{n}": config.style_weight * v.item() for n, v in per_layer.items()})
            for tag, value in logs.items():
                writer.add_scalar(tag, value, step)
            writer.add_scalar("lr", optimizer.param_groups[0]["lr"], step)
            writer.add_scalar("images_per_s", images_seen / max(elapsed, 1e-9), step)
            bar.set_postfix(content=f"{logs['loss/content']:.3g}", style=f"{logs['loss/style']:.3g}",
                            tv=f"{logs['loss/tv']:.3g}", img_s=f"{images_seen / max(elapsed, 1e-9):.1f}")
            tick, images_seen = time.perf_counter(), 0
        if val is not None and (step % config.sample_every == 0 or step == total_steps):
            model.eval()
            with torch.no_grad():
                styled = model(val.to(device)).clamp(0, 1).cpu()
            model.train()
            writer.add_image("samples", torchvision.utils.make_grid(torch.cat([val, styled]), nrow=len(val)), step)
        if step % config.ckpt_every == 0 or step == total_steps:
            save_training(step)
            last_saved = step
        bar.update(1)
    bar.close()

    model.eval()
    ckpt.atomic_save(ckpt.build_checkpoint(model, style_name=style_name, style_image=style_image,
                                           train_args=train_args, loss_net=loss_net_info,
                                           step=total_steps, half=True), out_path)
    hparams = {k: v for k, v in train_args.items() if isinstance(v, (int, float, str, bool))}
    writer.add_hparams(hparams, {f"hparam/{k.split('/', 1)[1]}": v for k, v in logs.items()}, run_name=".")
    writer.close()
    return out_path
