"""Training the universal model's decoders: photos only, each level learns to invert the frozen
VGG19 encoder (Li et al. 2017). No painting is needed; one may be given to watch stylizations.

    from fastnst.training.decoders import DecoderConfig, train_decoders
    train_decoders(DecoderConfig(data="photos/", encoder_weights="vgg19-features.pth", steps=4000))

The loss per level: pixel MSE between the photo and its reconstruction, plus `feature_weight`
times the relative MSE between the reconstruction's features and the photo's (at that level).
All levels train together on one encoder pass. A run is resumable (`resume`: the training
checkpoint it writes every `ckpt_every` steps), or continues from a small universal file (`init`).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from ..device import resolve_device, resolve_precision
from ..errors import FastNSTError
from ..files import load_torch_file
from ..images import open_rgb, resize_long_side, to_tensor
from ..progress import show_progress
from ..universal import UniversalConfig, UniversalNet, load_universal, save_universal
from ..universal.net import universal_state
from .data import endless, make_loader, sample_batch
from .schedule import learning_rate


@dataclass
class DecoderConfig:
    data: str = ""                                   # a photo folder (or a Hugging Face dataset id)
    encoder_weights: str | None = None               # torchvision vgg19().features state dict; None: download
    levels: tuple[str, ...] = ("relu4_1", "relu2_1", "relu1_1")
    width: float = 0.5
    steps: int = 4000
    image_size: int = 256
    batch_size: int = 8
    lr: float = 5e-4
    lr_decay_at: float = 0.8                         # fraction of the steps after which the rate drops tenfold
    feature_weight: float = 0.1
    seed: int = 0
    workers: int = 2
    precision: str = "auto"
    device: str = "auto"
    logdir: str = "runs/decoders"
    out: str | None = None                           # default <logdir>/universal.pt
    resume: str | None = None                        # a training checkpoint (<logdir>/decoders.pt)
    init: str | None = None                          # start from a universal file's decoders
    sample_style: str | None = None                  # a painting whose stylizations TensorBoard shows
    log_every: int = 50
    sample_every: int = 500
    ckpt_every: int = 200
    progress: bool | None = None

    def __post_init__(self) -> None:
        self.levels = UniversalConfig(tuple(self.levels), self.width).levels
        for name in ("steps", "image_size", "batch_size", "log_every", "sample_every", "ckpt_every"):
            if int(getattr(self, name)) < 1:
                raise FastNSTError(f"--{name.replace('_', '-')} must be at least 1")
        if self.image_size < 32:
            raise FastNSTError("--image-size must be at least 32 (the encoder halves it three times)")
        if not self.lr > 0 or not self.feature_weight >= 0:
            raise FastNSTError("--lr must be positive and --feature-weight not negative")
        if not 0 < self.lr_decay_at <= 1:
            raise FastNSTError("--lr-decay-at must be a fraction of the run in (0, 1]")
        if not self.data and not self.resume:
            raise FastNSTError("no training photos: --data FOLDER (photos only, no paintings needed)")

    def plain(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}


def level_losses(net: UniversalNet, photos: torch.Tensor, feature_weight: float) -> dict[str, torch.Tensor]:
    """Each level's loss: pixel + feature_weight * relative feature reconstruction error."""
    with torch.no_grad():
        taps = net.encoder.taps(photos, net.config.levels)
    losses = {}
    for level in net.config.levels:
        target = taps[level]
        rebuilt = net.decoders[level](target)
        pixel = F.mse_loss(rebuilt.float(), photos.float())
        feature = F.mse_loss(net.encoder(rebuilt, level).float(), target.float()) / target.float().square().mean().clamp_min(1e-8)
        losses[f"{level}/pixel"], losses[f"{level}/feature"] = pixel, feature
    return losses


def _training_file(config: DecoderConfig) -> Path:
    return Path(config.logdir) / "decoders.pt"


def train_decoders(config: DecoderConfig | None = None, /, **options: Any) -> Path:
    """Train (or go on training) the decoders; returns the small universal file written at the end.

    Either a DecoderConfig or its fields as keyword arguments; with resume=<logdir>/decoders.pt the
    keyword arguments given override the options the run was started with, the rest carry on."""
    resume = config.resume if config is not None else options.get("resume")
    resumed = None
    if resume:
        resumed = load_torch_file(Path(resume), f"--resume {resume}: no such file",
                                  f"--resume {resume}: not a readable training checkpoint")
        if not isinstance(resumed, dict) or "optimizer" not in resumed or "decoders" not in resumed:
            raise FastNSTError(f"--resume {resume}: not a decoder training checkpoint (train-decoders writes "
                               f"<logdir>/decoders.pt)")
        if config is None:
            stored = {k: v for k, v in resumed["train_args"].items() if k in DecoderConfig.__dataclass_fields__}
            config = DecoderConfig(**{**stored, **options})
    config = config or DecoderConfig(**options)
    device = resolve_device(config.device)
    dtype = resolve_precision(config.precision, device, training=True)
    torch.manual_seed(config.seed)
    net = UniversalNet(UniversalConfig(config.levels, config.width), encoder_weights=config.encoder_weights)
    if config.init:
        loaded = load_universal(config.init).net
        for level in config.levels:
            if level in loaded.decoders and loaded.config.width == config.width:
                net.decoders[level].load_state_dict(loaded.decoders[level].state_dict())
    net.to(device)
    optimizer = torch.optim.Adam(net.decoders.parameters(), lr=config.lr)
    start = 0
    if resumed is not None:
        for level, state in resumed["decoders"].items():
            net.decoders[level].load_state_dict(state)
        optimizer.load_state_dict(resumed["optimizer"])
        torch.set_rng_state(resumed["rng"])
        start = int(resumed["step"])
    logdir = Path(config.logdir)
    logdir.mkdir(parents=True, exist_ok=True)
    out = Path(config.out) if config.out else logdir / "universal.pt"
    loader, _, _ = make_loader(config.data, config.image_size, config.batch_size, config.seed, start, config.workers)
    from torch.utils.tensorboard import SummaryWriter  # imported here: `import fastnst` should not load TensorBoard
    from tqdm import tqdm

    writer = SummaryWriter(str(logdir))
    samples = sample_batch(config.data, None, max(256, config.image_size))
    painting = to_tensor(resize_long_side(open_rgb(config.sample_style), 512)).to(device) if config.sample_style else None
    bar = tqdm(total=config.steps, initial=start, desc="train decoders", unit="step",
               disable=not show_progress(config.progress), dynamic_ncols=True)
    totals: dict[str, float] = {}
    seen, clock = 0, time.perf_counter()
    step = start
    try:
        for step, photos in zip(range(start + 1, config.steps + 1), endless(loader)):
            photos = photos.to(device)
            for group in optimizer.param_groups:  # set each step: a resumed run's state carries the old rate
                group["lr"] = learning_rate(step, config.steps, config.lr, config.lr_decay_at)
            with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
                losses = level_losses(net, photos, config.feature_weight)
            total = sum(v if k.endswith("pixel") else config.feature_weight * v for k, v in losses.items())
            if not torch.isfinite(total):
                raise FastNSTError(f"the loss became {float(total)} at step {step}: lower --lr (the last good "
                                   f"training checkpoint is {_training_file(config)})", exit_code=1)
            optimizer.zero_grad(set_to_none=True)
            total.backward()
            optimizer.step()
            for k, v in losses.items():
                totals[k] = totals.get(k, 0.0) + float(v.detach())
            seen += len(photos)
            bar.update(1)
            if step % config.log_every == 0 or step == config.steps:
                count = step - (step - 1) // config.log_every * config.log_every if step % config.log_every else config.log_every
                rate = seen / (time.perf_counter() - clock)
                for k, v in totals.items():
                    writer.add_scalar(f"loss/{k}", v / count, step)
                writer.add_scalar("lr", optimizer.param_groups[0]["lr"], step)
                writer.add_scalar("images_per_s", rate, step)
                line = ", ".join(f"{k} {v / count:.4g}" for k, v in totals.items())
                if bar.disable:
                    print(f"step {step}/{config.steps}: {line}, {rate:.2f} img/s", flush=True)
                else:
                    bar.set_postfix_str(f"{rate:.2f} img/s")
                totals, seen, clock = {}, 0, time.perf_counter()
            if samples is not None and (step % config.sample_every == 0 or step == config.steps):
                _log_samples(writer, net, samples.to(device), painting, step)
            if step % config.ckpt_every == 0 or step == config.steps:
                _save_training(net, optimizer, config, step)
    finally:
        bar.close()
        writer.close()
    return save_universal(net.cpu(), out, config.plain(), step)


def _save_training(net: UniversalNet, optimizer: torch.optim.Optimizer, config: DecoderConfig, step: int) -> None:
    from ..checkpoint import atomic_save

    atomic_save(universal_state(net, config.plain(), step, half=False,
                                extra={"optimizer": optimizer.state_dict(), "rng": torch.get_rng_state()}),
                _training_file(config))


@torch.no_grad()
def _log_samples(writer: Any, net: UniversalNet, photos: torch.Tensor, painting: torch.Tensor | None, step: int) -> None:
    import torchvision

    for level in net.config.levels:
        rebuilt = net.reconstruct(photos, level).clamp(0, 1)
        writer.add_image(f"reconstruction/{level}", torchvision.utils.make_grid(torch.cat([photos, rebuilt]),
                                                                                 nrow=len(photos)), step)
    if painting is not None:
        styled = net(photos, [(net.style(painting), 1.0)]).clamp(0, 1)
        writer.add_image("stylized", torchvision.utils.make_grid(torch.cat([photos, styled]), nrow=len(photos)), step)
