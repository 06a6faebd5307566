"""Training the universal model's decoders: photos only, each level learns to invert the frozen
VGG19 encoder (Li et al. 2017). No painting is needed; one may be given to watch stylizations.

    from fastnst.training.decoders import DecoderConfig, train_decoders
    train_decoders(DecoderConfig(data="photos/", encoder_weights="vgg19-features.pth", steps=4000))

The loss per level: pixel MSE between the photo and its reconstruction, plus `feature_weight`
times the relative MSE between the reconstruction's features and the photo's (at that level).
All levels train together on one encoder pass. The run goes through the training loop every
training uses (fit.py): resumable (`resume`: the training checkpoint <logdir>/decoders.pt, a
universal file plus the training state, state.py), or continuing from a small universal file (`init`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
import torchvision

from ..device import resolve_device
from ..errors import FastNSTError, OptionError
from ..files import ReadFiles, load_torch_file
from ..images import IMAGE_EXTENSIONS
from ..universal import UniversalConfig, UniversalNet, load_universal
from ..universal.net import FORMAT, universal_state
from ..universal.painting import read_painting
from ..universal.encoder import Encoder
from .config import SCRATCH, PathLike, RunConfig, refuse_init_with_resume
from .data import endless, make_loader, sample_batch
from .decoder_style import PaintingCrops, StylizeObjective
from .fit import Every, adam, fit, mixed_precision, on_device
from .logger import TrainLogger
from .schedule import run_schedule
from .state import TrainingState


DECODER_STEPS = 4000  # the default number of steps
# reconstruct: each level rebuilds photos from their features (Li et al. 2017);
# stylize: the whole chain stylizes photos with paintings, judged by content and style (decoder_style.py).
OBJECTIVES = ("reconstruct", "stylize")


@dataclass
class DecoderConfig(RunConfig):
    """The decoders' training options: RunConfig's (with the defaults below) and the decoders' own.
    Checked as it is made: a wrong type or value is a FastNSTError naming the option."""

    data: PathLike = ""                              # a photo folder (or a Hugging Face dataset id)
    steps: int | None = None                         # None: DECODER_STEPS, or with minutes no cap
    batch_size: int = 8
    lr: float = 5e-4
    lr_decay_at: float = 0.8
    logdir: PathLike = "runs/decoders"               # TensorBoard logs and the training checkpoint decoders.pt
    log_every: int = 50
    ckpt_every: int = 200
    # out: default <logdir>/universal.pt; init: a universal file whose decoders the run starts from
    encoder_weights: PathLike | None = None          # torchvision vgg19().features state dict; None: download
    levels: tuple[str, ...] = ("relu3_1", "relu2_1")
    width: float = 0.5
    feature_weight: float = 0.1
    sample_style: PathLike | None = None             # a painting whose stylizations TensorBoard shows
    objective: str = "reconstruct"                   # OBJECTIVES: rebuild photos, or stylize with paintings
    paintings: PathLike | None = None                # a folder of paintings (objective "stylize")
    content_weight: float = 1.0                      # the content term's weight (objective "stylize")

    MIN_IMAGE_SIZE = 32  # the encoder halves it three times

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_types()
        self.levels = UniversalConfig(tuple(self.levels), self.width).levels
        self.check_run()
        if not (math.isfinite(self.feature_weight) and self.feature_weight >= 0):
            raise OptionError("{feature_weight} must be a number, not negative")
        if self.objective not in OBJECTIVES:
            raise OptionError(f"{{objective}} {self.objective!r}: choose from {', '.join(OBJECTIVES)}")
        if self.objective == "stylize" and not self.paintings:
            raise OptionError("{objective} stylize needs {paintings} FOLDER (the paintings to learn from)")
        if not (math.isfinite(self.content_weight) and self.content_weight >= 0):
            raise OptionError("{content_weight} must be a number, not negative")
        if not self.data and not self.resume:
            raise OptionError("no training photos: {data} FOLDER (photos only, no paintings needed)")

    def read_files(self) -> ReadFiles:
        """The files the run reads, which none of its outputs may replace."""
        files = ReadFiles([self.init, self.encoder_weights, self.sample_style]).add_folder(self.data, IMAGE_EXTENSIONS)
        return files.add_folder(self.paintings, IMAGE_EXTENSIONS) if self.paintings else files


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


def train_decoders(config: DecoderConfig | None = None, /, **options: Any) -> Path:
    """Train (or go on training) the decoders; returns the small universal file written at the end.

    Either a DecoderConfig or its fields as keyword arguments; with resume=<logdir>/decoders.pt the
    keyword arguments given override the options the run was started with, the rest carry on."""
    unknown = set(options) - set(DecoderConfig.field_names())
    if unknown:
        raise FastNSTError(f"unknown decoder training option(s): {', '.join(sorted(unknown))}")
    resume = config.resume if config is not None else options.get("resume")
    resumed = _read_resume(resume) if resume else None
    stored = {k: v for k, v in resumed["train_args"].items() if k in DecoderConfig.field_names() and k != "progress"
              } if resumed else {}
    config = config if config is not None else DecoderConfig(**{**stored, **options})
    refuse_init_with_resume(config, stored.get("init"))
    if resumed:
        _same_decoders(config, resumed)
    painting = read_painting(config.sample_style) if config.sample_style else None
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    net = UniversalNet(UniversalConfig(config.levels, config.width), encoder_weights=config.encoder_weights)
    if config.init and config.init != SCRATCH:
        _start_from(net, config.init)
    net.to(device)
    amp_dtype, scaler = mixed_precision(config.precision, device)
    objective = _objective(config, net, amp_dtype)  # before any output: a folder with no paintings is one line
    state = DecoderState(net, adam(net.decoders.parameters(), config.lr, device), scaler, config)
    loader, _, _ = make_loader(config.data, config.image_size, config.batch_size, config.seed,
                               int(resumed["step"]) if resumed else 0, config.workers, pin_memory=device.type == "cuda")
    if resumed:
        state.load(resumed)  # last: after everything above that draws random numbers
    schedule = run_schedule(config, config.steps, spent=state.seconds, default_steps=DECODER_STEPS)
    samples = sample_batch(config.data, None, max(256, config.image_size))
    logger = TrainLogger(Path(config.logdir), "train decoders", schedule.total, config.progress, config.plain(),
                         shown=None, sampler=DecoderSamples(net, samples, painting))
    return fit(net, objective, on_device(endless(loader), device),
               schedule, state, logger, Every(config.log_every, config.sample_every, config.ckpt_every))


def _objective(config: DecoderConfig, net: UniversalNet, amp_dtype: torch.dtype | None) -> Any:
    if config.objective == "reconstruct":
        return DecoderObjective(config.feature_weight, amp_dtype)
    # the loss network: the encoder's VGG19 taken on to relu5_1
    loss_net = Encoder("relu5_1", config.encoder_weights).to(next(net.decoders.parameters()).device)
    return StylizeObjective(PaintingCrops(config.paintings, config.seed), loss_net, config.content_weight,
                            config.image_size, amp_dtype)


class DecoderObjective:
    """What a decoder training step minimises: every level's pixel loss plus feature_weight times its
    feature loss, in the run's precision."""

    advice = "Try a lower --lr or --feature-weight."

    def __init__(self, feature_weight: float, amp_dtype: torch.dtype | None) -> None:
        self.feature_weight, self.amp_dtype = feature_weight, amp_dtype

    def __call__(self, net: UniversalNet, photos: torch.Tensor, step: int) -> dict[str, torch.Tensor]:
        with torch.autocast(photos.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
            losses = level_losses(net, photos, self.feature_weight)
        losses["total"] = sum(v if k.endswith("pixel") else self.feature_weight * v for k, v in losses.items())
        return losses

    def group(self, step: int) -> int:
        return 0


class DecoderState(TrainingState):
    """The decoders' training state: the net (its decoders learn) and the run's options; saved as a
    universal file plus the training state to <logdir>/decoders.pt, the small universal file to `out`."""

    def __init__(self, net: UniversalNet, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
                 config: DecoderConfig) -> None:
        logdir = Path(config.logdir)
        super().__init__(net, optimizer, scaler, logdir / "decoders.pt", Path(config.out or logdir / "universal.pt"),
                         config.read_files())
        self.config = config

    def weights(self, half: bool) -> dict[str, Any]:
        return universal_state(self.model, self.config.plain(), self.step, half=half)

    def load_weights(self, raw: dict[str, Any]) -> None:
        for level, state in raw["decoders"].items():
            self.model.decoders[level].load_state_dict(state)


class DecoderSamples:
    """The sample photos and each level's reconstruction of them; with a painting, their stylization."""

    def __init__(self, net: UniversalNet, photos: torch.Tensor | None, painting: torch.Tensor | None) -> None:
        self.net, self.photos, self.painting = net, photos, painting

    @torch.no_grad()
    def __call__(self, writer: Any, step: int) -> None:
        if self.photos is None:
            return
        device = next(self.net.decoders.parameters()).device
        photos = self.photos.to(device)
        for level in self.net.config.levels:
            rebuilt = self.net.reconstruct(photos, level).clamp(0, 1)
            writer.add_image(f"reconstruction/{level}", _grid(photos, rebuilt), step)
        if self.painting is not None:
            styled = self.net(photos, [(self.net.style(self.painting.to(device)), 1.0)]).clamp(0, 1)
            writer.add_image("stylized", _grid(photos, styled), step)


def _grid(photos: torch.Tensor, below: torch.Tensor) -> torch.Tensor:
    return torchvision.utils.make_grid(torch.cat([photos, below]).float().cpu(), nrow=len(photos))


def _read_resume(path: str | Path) -> dict[str, Any]:
    raw = load_torch_file(Path(path), f"--resume {path}: no such file",
                          f"--resume {path}: not a readable training checkpoint (damaged, cut short, or another "
                          f"kind of file)")
    if not isinstance(raw, dict) or raw.get("format") != FORMAT or "optimizer" not in raw or "decoders" not in raw:
        raise OptionError(f"{{resume}} {path}: not a decoder training checkpoint (train-decoders writes "
                           f"<logdir>/decoders.pt)")
    return raw


def _same_decoders(config: DecoderConfig, resumed: dict[str, Any]) -> None:
    """Refuse to resume a run with other levels or another width than it trains: its weights fit no other."""
    stored = UniversalConfig(tuple(resumed["config"]["levels"]), float(resumed["config"]["width"]))
    if (stored.levels, stored.width) != (config.levels, config.width):
        raise OptionError(f"{{resume}} {config.resume}: that run trains the decoders of {', '.join(stored.levels)} "
                           f"at width {stored.width:g}; leave out {{levels}} and {{width}} (or give those)")


def _start_from(net: UniversalNet, path: str) -> None:
    """--init: the decoders of a universal file, for the levels it has (the others start fresh); its
    decoders must be of the run's width."""
    try:
        start = load_universal(path).net
    except FastNSTError as exc:
        raise OptionError(f"{{init}} {exc}") from None
    common = [level for level in net.config.levels if level in start.decoders]
    if start.config.width != net.config.width:
        raise OptionError(f"{{init}} {path} has decoders of width {start.config.width:g}, this run's are "
                           f"{net.config.width:g}: give {{width}} {start.config.width:g}, or another {{init}}")
    if not common:
        raise OptionError(f"{{init}} {path} has no decoder for {', '.join(net.config.levels)} (it has "
                           f"{', '.join(start.config.levels)}): give {{levels}} from those, or another {{init}}")
    for level in common:
        net.decoders[level].load_state_dict(start.decoders[level].state_dict())
