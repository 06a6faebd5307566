"""Every training option in one dataclass: the loss options of LossConfig (same names, same
defaults) plus data, schedule, precision and output. Command-line flags use the same names."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from ..checks import type_problem
from ..device import PRECISIONS
from ..errors import FastNSTError
from ..files import ReadFiles, fit_name, safe_name
from ..images import IMAGE_EXTENSIONS
from ..loss import LossConfig
from ..model import ARCHS
from .data import DEFAULT_DATASET

DEFAULT_STEPS = 40_000  # 2 COCO epochs at batch 4, as Johnson et al.


def styles_name(names: list[str]) -> str:
    """A run's or a net's name: the style's, or the styles' joined by "+" (at most three, then a count),
    short enough for a file name (files.fit_name)."""
    return fit_name("+".join(names)) if len(names) <= 3 else f"{len(names)}-styles"


@dataclass
class TrainConfig(LossConfig):
    """Training options; checkpoints store the loss options as "loss", the rest as "train_args"."""

    style: str | list[str] = ""          # path of the style image, or a list of them: one net, several styles;
                                         # distilling, the name of a style of the teacher
    data: str = DEFAULT_DATASET          # local folder, or a Hugging Face dataset id (streamed)
    steps: int | None = None             # optimizer steps; default DEFAULT_STEPS
    epochs: float | None = None          # alternative to steps, for local folders
    image_size: int = 256                # training crop size
    batch_size: int = 4
    workers: int = 2
    lr: float = 3e-3
    lr_decay_at: float = 0.7             # fraction of the steps after which the rate drops tenfold; 1: never
    seed: int = 0
    device: str = "auto"
    arch: str | None = None              # network: johnson (Johnson et al., the default), light or tiny (CPU
                                         # real time); None: johnson (tiny distilling), or the --init / --resume net's
    precision: str = "auto"              # device.PRECISIONS; mixed precision: autocast in bf16 or fp16
    compile: bool = False                # torch.compile the net and the loss net
    logdir: str | None = None            # default runs/<style>-<time>
    log_every: int = 10
    sample_every: int = 500
    val_dir: str | None = None           # images for the sample grid; default: first training images
    ckpt_every: int = 1000
    ckpt_path: str | None = None         # training checkpoint; default <logdir>/checkpoint.pt
    out: str | None = None               # small inference checkpoint; default <logdir>/<style>.pt
    resume: str | None = None            # training checkpoint to continue from
    init: str | None = None              # start from this trained net's weights (any fastnst or PyTorch-example
                                         # checkpoint; its architecture too), with a fresh optimizer
    only_norms: bool = False             # with init: add the styles to the init net's, training only their norms
    distill: str | None = None           # a trained net (the teacher) to imitate instead of a painting: then
                                         # style is one of its style names (needed if it holds several)
    progress: bool | None = None          # a progress bar; None: only when stderr is a terminal

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.style, (list, tuple)):
            self.style = [str(s) for s in self.style] if len(self.style) != 1 else str(self.style[0])

    @property
    def style_paths(self) -> list[str]:
        return list(self.style) if isinstance(self.style, list) else [self.style]

    @property
    def style_name(self) -> str:
        return styles_name([safe_name(Path(p).stem, f"style{i}") for i, p in enumerate(self.style_paths)])

    # Each option's type, checked before anything else (Python callers can pass anything):
    # (kind, None allowed); the style is checked on its own (a path or a list of them).
    KINDS = {"data": ("path", False), "steps": ("int", True), "epochs": ("float", True),
             "image_size": ("int", False), "batch_size": ("int", False), "workers": ("int", False),
             "lr": ("float", False), "lr_decay_at": ("float", False), "seed": ("int", False),
             "arch": ("str", True), "precision": ("str", False), "compile": ("bool", False),
             "logdir": ("path", True), "log_every": ("int", False), "sample_every": ("int", False),
             "val_dir": ("path", True), "ckpt_every": ("int", False), "ckpt_path": ("path", True),
             "out": ("path", True), "resume": ("path", True), "init": ("path", True),
             "only_norms": ("bool", False), "distill": ("path", True), "progress": ("bool", True),
             "loss_net": ("str", False), "loss_weights": ("path", True), "content_weight": ("float", False),
             "style_weight": ("float", False), "tv_weight": ("float", False),
             "stability_weight": ("float", False), "pixel_weight": ("float", False), "style_size": ("int", True)}

    def check_types(self) -> None:
        """A FastNSTError naming the first option of the wrong type ("steps must be a whole number,
        got 2.5"), before any file is written."""
        for name, (kind, optional) in self.KINDS.items():
            problem = type_problem(getattr(self, name), kind, optional)
            if problem:
                raise FastNSTError(f"{name} {problem}")
        for name in self.style_paths:
            problem = type_problem(name, "path")
            if problem:
                raise FastNSTError(f"style {problem}")
        for name, kind in (("content_layers", "str"), ("style_layers", "str"), ("style_layer_weights", "float")):
            for item in getattr(self, name) or ():
                problem = type_problem(item, kind)
                if problem:
                    raise FastNSTError(f"{name}: each {problem}")

    def check(self) -> None:
        self.check_types()
        super().check()
        if not self.style and not self.distill:
            raise FastNSTError("no style image given: --style PATH")
        if self.distill is not None and not Path(self.distill).is_file():
            raise FastNSTError(f"--distill {self.distill}: no such file")
        if self.distill and self.only_norms:
            raise FastNSTError("--distill trains a whole net; --only-norms adds styles to a trained one: give one of them")
        if self.only_norms and not (self.init or self.resume):
            raise FastNSTError("--only-norms adds styles to a trained net: give it with --init CKPT")
        if self.steps is not None and self.steps < 1:
            raise FastNSTError("--steps must be at least 1")
        if self.epochs is not None and self.epochs <= 0:
            raise FastNSTError("--epochs must be positive")
        if self.batch_size < 1 or self.image_size < 16:
            raise FastNSTError("--batch-size must be >= 1 and --image-size >= 16")
        for name in ("log_every", "sample_every", "ckpt_every"):
            if getattr(self, name) < 1:
                raise FastNSTError(f"--{name.replace('_', '-')} must be at least 1 step")
        if self.workers < 0:
            raise FastNSTError("--workers must be 0 (load in the training process) or more")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise FastNSTError("--lr must be a positive number")
        if not 0 < self.lr_decay_at <= 1:
            raise FastNSTError("--lr-decay-at must be a fraction of the run, above 0 and at most 1")
        if self.arch is not None and self.arch not in ARCHS:
            raise FastNSTError(f"--arch {self.arch}: choose one of {', '.join(ARCHS)}")
        if self.init is not None and not Path(self.init).is_file():
            raise FastNSTError(f"--init {self.init}: no such file")
        if self.precision not in PRECISIONS:
            raise FastNSTError(f"--precision {self.precision}: choose one of {', '.join(PRECISIONS)}")

    def read_files(self) -> ReadFiles:
        """The files this run reads, which none of its outputs may replace: the style images (or
        the teacher), the --init net, local loss-net weights and the photos of local --data and
        --val-dir folders (--resume: see train's checks)."""
        paintings = [] if self.distill else self.style_paths
        weights = self.loss_weights if self.loss_weights != "random" else None
        reads = ReadFiles([*paintings, self.distill, self.init, weights])
        for folder in (self.data, self.val_dir):  # a local folder's photos
            reads.add_folder(folder, IMAGE_EXTENSIONS)
        return reads

    def train_args(self) -> dict[str, Any]:
        """The non-loss options as plain values, as checkpoints store them (without `resume`)."""
        loss = set(LossConfig.field_names())
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()
                if k not in loss and k != "resume"}

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

