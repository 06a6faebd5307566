"""Training options. RunConfig holds what every kind of training has (data, schedule, precision,
output, resume); TrainConfig adds the loss options of LossConfig (same names, same defaults) and
what training a style network takes; the decoders' DecoderConfig (decoders.py) adds theirs.
Command-line flags use the same names. Each option's type is checked from its type hint."""

from __future__ import annotations

import math
import os
import typing
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, get_type_hints

from ..checks import field_problem, type_problem
from ..device import PRECISIONS
from ..errors import FastNSTError, OptionError
from ..files import ReadFiles, fit_name, safe_name
from ..images import IMAGE_EXTENSIONS
from ..loss import LossConfig
from ..model import ARCHS
from .data import DEFAULT_DATASET

DEFAULT_STEPS = 40_000  # 2 COCO epochs at batch 4, as Johnson et al.
# --init none: start from random weights, also where a run of minutes would start from a bundled net.
SCRATCH = "none"
# The style weight of a new run of minutes (without --style-weight): it starts from a bundled net that
# already keeps a photo's shapes (styles.WARM_START), so the budget can go to the painting. At 3 minutes
# on 2 cores 3e4 came closer to the paintings than 1e4, and than the arbitrary-style network, keeping
# more of the photo than that network (docs/recipe.md, "A new painting in ten minutes").
MINUTES_STYLE_WEIGHT = 3e4
# And its style boost (LossConfig.style_boost): up to twice that weight for a painting fainter than the
# photos. A muted painting of small figures (impressionist-dance-garden) pulls a quarter as hard as the
# photos at one weight and stayed short of the arbitrary network at 3e4; 6e4 for every painting cost a
# bright one its photo (content 1.13x the network's on digital-oil-mountain-lake).
MINUTES_STYLE_BOOST = 2.0
# Its crop size on a CPU (without --image-size): four times the steps of 256-px crops in the same minutes.
MINUTES_CPU_IMAGE_SIZE = 128

# A path option's type hint: a string or a Path (stored as a string).
PathLike = str | os.PathLike


def styles_name(names: list[str]) -> str:
    """A run's or a net's name: the style's, or the styles' joined by "+" (at most three, then a count),
    short enough for a file name (files.fit_name)."""
    return fit_name("+".join(names)) if len(names) <= 3 else f"{len(names)}-styles"


@dataclass
class RunConfig:
    """The options every training run has, whatever it trains."""

    data: PathLike = DEFAULT_DATASET     # local folder, or a Hugging Face dataset id (streamed)
    steps: int | None = None             # optimizer steps; with minutes, a cap
    minutes: float | None = None         # a wall-clock budget of training minutes, earlier runs' included (resume)
    image_size: int = 256                # training crop size
    batch_size: int = 4
    workers: int = 2
    lr: float = 3e-3
    lr_decay_at: float = 0.7             # fraction of the steps (or minutes) after which the rate drops tenfold; 1: never
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"              # device.PRECISIONS; mixed precision: autocast in bf16 or fp16
    logdir: PathLike | None = None       # TensorBoard logs and the training checkpoint
    log_every: int = 10
    sample_every: int = 500
    ckpt_every: int = 1000
    out: PathLike | None = None          # the small file written at the end
    resume: PathLike | None = None       # training checkpoint to continue from
    init: PathLike | None = None         # start from this trained file's weights, with a fresh optimizer; "none":
                                         # from random weights (a run of minutes otherwise starts from a bundled net)
    progress: bool | None = None         # a progress bar; None: only when stderr is a terminal

    MIN_IMAGE_SIZE = 16

    def __post_init__(self) -> None:
        parent = super()
        if hasattr(parent, "__post_init__"):
            parent.__post_init__()  # LossConfig's, for a TrainConfig
        for name in self.path_fields():  # stored as plain strings: checkpoints hold no Path objects
            if isinstance(getattr(self, name), os.PathLike):
                setattr(self, name, os.fspath(getattr(self, name)))

    @classmethod
    def path_fields(cls) -> list[str]:
        hints = get_type_hints(cls)
        return [f.name for f in fields(cls) if os.PathLike in typing.get_args(hints[f.name])]

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def check_types(self) -> None:
        """A FastNSTError naming the first option of the wrong type ("steps must be a whole number,
        got 2.5"), before any file is written."""
        problem = field_problem(self)
        if problem:
            name, _, rest = problem.partition(" ")
            raise OptionError(f"{{{name}}} {rest}")

    def check_run(self) -> None:
        """The values every run needs in range: counts at least 1, a finite positive rate, a known precision."""
        for name in ("steps", "batch_size", "log_every", "sample_every", "ckpt_every"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise OptionError(f"{{{name}}} must be at least 1{' step' if name.endswith('every') else ''}")
        if self.image_size < self.MIN_IMAGE_SIZE:
            raise OptionError(f"{{image_size}} must be at least {self.MIN_IMAGE_SIZE}")
        if self.workers < 0:
            raise OptionError("{workers} must be 0 (load in the training process) or more")
        if self.minutes is not None and not (self.minutes > 0 and math.isfinite(self.minutes)):
            raise OptionError("{minutes} must be a positive number of minutes")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise OptionError("{lr} must be a positive number")
        if not 0 < self.lr_decay_at <= 1:
            raise OptionError("{lr_decay_at} must be a fraction of the run, above 0 and at most 1")
        if self.precision not in PRECISIONS:
            raise OptionError(f"{{precision}} {self.precision}: choose one of {', '.join(PRECISIONS)}")
        if self.init not in (None, SCRATCH) and not Path(self.init).is_file():
            raise OptionError(f"{{init}} {self.init}: no such file")

    def plain(self) -> dict[str, Any]:
        """Every option as a plain value (lists for tuples), as checkpoints store them."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}


def minutes_defaults(options: dict[str, Any], on_cpu: bool) -> dict[str, Any]:
    """The options of a new run of minutes, with the quick recipe's defaults where they are not given: on a
    CPU 128-px crops, and for a style net (not a distillation, whose style is its teacher's) style weight
    MINUTES_STYLE_WEIGHT with MINUTES_STYLE_BOOST. Its start, a bundled net, is styles.starting_net's."""
    if options.get("minutes") is None or options.get("resume"):
        return options
    quick = {"image_size": MINUTES_CPU_IMAGE_SIZE} if on_cpu else {}
    if not options.get("distill") and options.get("style_weight") is None:
        quick.update(style_weight=MINUTES_STYLE_WEIGHT, style_boost=MINUTES_STYLE_BOOST)
    return {**quick, **options}


def refuse_init_with_resume(config: RunConfig, stored_init: str | None) -> None:
    """--init starts a new run; --resume goes on with one: both at once (an --init other than the
    resumed run's own) is refused."""
    if config.resume and config.init is not None and config.init != stored_init:
        raise OptionError(f"{{init}} {config.init} and {{resume}} {config.resume}: {{resume}} goes on with that run's "
                           f"own weights and optimizer, {{init}} starts a new run from a net's weights; give one of them")


@dataclass
class TrainConfig(RunConfig, LossConfig):
    """Training a style network; checkpoints store the loss options as "loss", the rest as "train_args"."""

    style: str | list[str] = ""          # path of the style image, or a list of them: one net, several styles;
                                         # distilling, the name of a style of the teacher
    epochs: float | None = None          # alternative to steps (default DEFAULT_STEPS), for local folders
    arch: str | None = None              # network: johnson (Johnson et al., the default), light or tiny (CPU
                                         # real time); None: johnson (tiny distilling), or the --init / --resume net's
    compile: bool = False                # torch.compile the net and the loss net
    val_dir: PathLike | None = None      # images for the sample grid; default: first training images
    ckpt_path: PathLike | None = None    # training checkpoint; default <logdir>/checkpoint.pt
    only_norms: bool = False             # with init: add the styles to the init net's, training only their norms
    distill: PathLike | None = None      # a trained net (the teacher) to imitate instead of a painting: then
                                         # style is one of its style names (needed if it holds several)
    teacher_weight: float = 0.0          # the universal model's stylization of each photo as a pixel target (teacher.py); 0: none
    teacher: PathLike | None = None      # the universal model that teaches; None: the bundled one
    # logdir: default runs/<style>-<time>; out: default <logdir>/<style>.pt; init: any fastnst or
    # PyTorch-example checkpoint (its architecture too)

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.style, (list, tuple)):
            self.style = [os.fspath(s) if isinstance(s, os.PathLike) else s for s in self.style]
            self.style = self.style if len(self.style) != 1 else self.style[0]
        elif isinstance(self.style, os.PathLike):
            self.style = os.fspath(self.style)

    @property
    def style_paths(self) -> list[str]:
        return list(self.style) if isinstance(self.style, list) else [self.style]

    @property
    def style_name(self) -> str:
        return styles_name([safe_name(Path(p).stem, f"style{i}") for i, p in enumerate(self.style_paths)])

    def check_types(self) -> None:
        super().check_types()
        for name in self.style_paths:  # a path or a list of them
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
        LossConfig.check(self)
        if not self.style and not self.distill:
            raise OptionError("no style image given: {style} PATH")
        if self.distill is not None and not Path(self.distill).is_file():
            raise OptionError(f"{{distill}} {self.distill}: no such file")
        if self.distill and self.only_norms:
            raise OptionError("{distill} trains a whole net; {only_norms} adds styles to a trained one: give one of them")
        if self.only_norms and not (self.init or self.resume):
            raise OptionError("{only_norms} adds styles to a trained net: give one with {init}")
        if not (self.teacher_weight >= 0 and math.isfinite(self.teacher_weight)):
            raise OptionError("{teacher_weight} must be a number, not negative")
        if self.teacher_weight and self.distill:
            raise OptionError("{distill} imitates a trained net; {teacher_weight} teaches with the universal model: "
                              "give one of them")
        if self.teacher is not None and not Path(self.teacher).is_file():
            raise OptionError(f"{{teacher}} {self.teacher}: no such file")
        if self.epochs is not None and self.epochs <= 0:
            raise OptionError("{epochs} must be positive")
        self.check_run()
        if self.arch is not None and self.arch not in ARCHS:
            raise OptionError(f"{{arch}} {self.arch}: choose one of {', '.join(ARCHS)}")

    def read_files(self) -> ReadFiles:
        """The files this run reads, which none of its outputs may replace: the style images (or
        the teacher), the --init net, local loss-net weights and the photos of local --data and
        --val-dir folders (--resume: see train's checks)."""
        paintings = [] if self.distill else self.style_paths
        weights = self.loss_weights if self.loss_weights != "random" else None
        reads = ReadFiles([*paintings, self.distill, self.init, weights, self.teacher])
        for folder in (self.data, self.val_dir):  # a local folder's photos
            reads.add_folder(folder, IMAGE_EXTENSIONS)
        return reads

    def train_args(self) -> dict[str, Any]:
        """The non-loss options as plain values, as checkpoints store them (without `resume`)."""
        loss = set(LossConfig.field_names())
        return {k: v for k, v in self.plain().items() if k not in loss and k != "resume"}
