"""Which styles a run trains, and the network that holds them.

One style image: the classic one-style net. Several: one net with a scale and bias per style in
every instance norm (conditional instance norm, Dumoulin et al. 2017); each step trains one style,
in turn (`style_for_step`). `--init` starts from a trained net: its shared weights carry over,
a style it already has keeps its norms, a new style starts from the norms of its first style.
With `only_norms` the run adds its styles to the init net's and trains nothing else: the shared
weights and the old styles' norms stay exactly as they were. Distilling (`Teacher`), the run's one
style is a style of the teacher net, with its name and picture.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
import hashlib
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..bundled import bundled_path
from ..checkpoint import Checkpoint, load_checkpoint
from ..errors import FastNSTError
from ..files import safe_name, same_file
from ..images import open_rgb
from ..model import ModelConfig, TransformerNet
from .config import SCRATCH


@dataclass
class StyleSet:
    """The styles of the net being trained: names and images (None where only a thumbnail of an
    inherited style is known) for every style of the net, and which of them this run trains."""

    names: list[str]
    images: list[Image.Image | None]
    trained: list[int]          # net style indices this run trains, in the order of the style images given
    frozen: int = 0             # styles 0..frozen-1 keep their norms bit for bit (only_norms)
    digests: list[str | None] = field(default_factory=list)  # painting_digest of each trained style's
                                # painting (None: not a painting, or not known); training checkpoints store them

    def __post_init__(self) -> None:
        if not self.digests:
            self.digests = [None] * len(self.names)

    @property
    def several(self) -> bool:
        """Whether the net holds several styles (and so takes a style with every call)."""
        return len(self.names) > 1

    def style_for_step(self, step: int) -> tuple[int, int]:
        """(index among the trained styles, index in the net) of the style step `step` trains:
        round robin, so every style gets the same share, and a resumed run picks up the turn."""
        k = (step - 1) % len(self.trained)
        return k, self.trained[k]


@dataclass
class Teacher:
    """The trained net a distillation run imitates: one style of it, as a one-style net."""

    net: TransformerNet
    name: str                   # the style's name, the student's too
    image: Image.Image | None   # its picture as the checkpoint stores it (a thumbnail), if any


def load_teacher(path: str, style: str | list[str], resumed: Path | None = None) -> Teacher:
    """The teacher of --distill PATH; `style` ("" for none) picks one of its styles by name and
    must be given for a net of several. resumed: the training checkpoint `style` was stored in,
    when it was not given (a resumed run goes on with its teacher's style)."""
    if Path(path).suffix.lower() == ".onnx":
        raise FastNSTError(f"--distill {path}: an exported network cannot teach; give the checkpoint (.pt) it "
                           f"was exported from")
    try:
        start = load_checkpoint(path)
    except FastNSTError as exc:
        raise FastNSTError(f"--distill {exc}") from None
    names = start.style_names
    if isinstance(style, list):
        raise FastNSTError(f"--distill trains a net of one style: give --style once, one of {', '.join(names)}")
    if style and style not in names and resumed is not None:
        raise FastNSTError(f"--resume {resumed}: that run distills the style '{style}', and --distill {path} has no "
                           f"such style ({_listing(names)}); give the teacher that run learned from")
    if style and style not in names:
        if Path(style).suffix or Path(style).exists():  # a painting, as normal training takes
            raise FastNSTError(f"--style {style}: a distilled net learns the teacher's style, not a painting; "
                               f"leave out --style, or choose one of the teacher's: {', '.join(names)}")
        raise FastNSTError(f"--distill {path} has no style '{style}': choose one of {', '.join(names)}")
    if not style and len(names) > 1:
        raise FastNSTError(f"--distill {path} holds {_listing(names)}: choose the one to distill with --style NAME")
    index = names.index(style) if style else 0
    net = start.model.single_style(index) if start.model.config.num_styles > 1 else start.model
    return Teacher(net, names[index], start.style_thumbnails[index])


def style_names(paths: list[str]) -> list[str]:
    """The styles' names: their files' stems, made safe as parts of output file names."""
    names = [safe_name(Path(p).stem, f"style{i}") for i, p in enumerate(paths)]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise FastNSTError(f"two style images share the name {repeated[0]}: rename one (a style is chosen by name)")
    return names


def _same_arch(arch: str | None, net: Checkpoint, option: str) -> None:
    """Refuse an --arch that the net a run starts from (--init, --resume) does not have."""
    if arch is not None and arch != net.model.config.arch:
        raise FastNSTError(f"--arch {arch}: the {option} net {net.path} is a {net.model.config.arch} net, and the "
                           f"run keeps its architecture; leave out --arch (or give --arch {net.model.config.arch})")


def _listing(names: list[str]) -> str:
    return f"{len(names)} style{'s' * (len(names) != 1)} ({', '.join(names)})"


def _same_styles(names: list[str], resume: Checkpoint, frozen: int) -> None:
    """Refuse a resumed run whose style images are not the ones it trained, in the same order: each
    style's norms would go on learning another painting under the old name (or none would fit)."""
    trained = resume.style_names[frozen:] if frozen >= 0 else []
    if trained != names:
        raise FastNSTError(f"--resume {resume.path}: that run trains {_listing(resume.style_names[max(frozen, 0):])}, "
                           f"and --style gives {_listing(names)}; give the same style images in the same order, "
                           f"or leave out --style")


def painting_digest(image: Image.Image) -> str:
    """The painting's pixels as a run reads them (decoded, as RGB, at the file's size), exactly:
    sha256 of their size and bytes. The same painting in another file format (a PNG of a JPEG's
    pixels) has the same digest; anything else, another."""
    pixels = np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))
    return hashlib.sha256(f"{image.width}x{image.height}:".encode() + pixels.tobytes()).hexdigest()


def _same_paintings(paths: list[str], resume: Checkpoint, frozen: int) -> None:
    """Refuse a resumed run whose style image of a name is another painting than the one the run
    trained under it: compared exactly, by the digest of its pixels the training checkpoint stores
    (painting_digest). A checkpoint written before digests were stored is compared by its thumbnail,
    and only for a file other than the one the run trained on."""
    digests = resume.raw.get("style_digests") or [None] * len(resume.style_names)
    stored = resume.train_args.get("style")
    stored = stored if isinstance(stored, list) else [stored]
    for i, (path, name, thumbnail, digest) in enumerate(zip(paths, resume.style_names[frozen:],
                                                             resume.style_thumbnails[frozen:], digests[frozen:])):
        if digest is None and (thumbnail is None or (i < len(stored) and isinstance(stored[i], str)
                                                     and same_file(path, stored[i]))):
            continue  # nothing to compare with, or the very file that run read
        try:
            image = open_rgb(path)
        except (FastNSTError, OSError):
            continue  # a style image that cannot be read: the loss says so, with its own message
        if painting_digest(image) != digest if digest is not None else not _alike(image, thumbnail):
            given = "--style" if path not in stored else "the painting"
            raise FastNSTError(f"--resume {resume.path}: {given} {path} is not the painting that run trained as "
                               f"{name}" + ("; give the same style images in the same order, or leave out --style"
                                            if given == "--style" else " (the file has changed since)"))


# The bundled net a run of minutes starts from, by architecture (docs/recipe.md, "Ten minutes"): it already
# keeps a photo's shapes, so the budget goes to the new painting's palette and strokes.
WARM_START = {"johnson": "mosaic.pt", "tiny": "realtime/mosaic.pt"}


def starting_net(init: str | None, minutes: float | None, arch: str | None, distilling: bool,
                 resumed: bool) -> str | None:
    """The file a run's weights start from: --init's; else, for a new run of minutes, the bundled net of its
    architecture (WARM_START), if this install has one; else none (random weights). --init none: none."""
    if init == SCRATCH or resumed:
        return None
    if init is not None or minutes is None:
        return init
    name = WARM_START.get(arch or ("tiny" if distilling else "johnson"))
    try:
        return str(bundled_path(name)) if name else None
    except FastNSTError:
        return None  # an install without the bundled nets: from random weights


def build_net(paths: list[str], arch: str | None, init: str | None, only_norms: bool,
              resume: Checkpoint | None = None, teacher: Teacher | None = None) -> tuple[TransformerNet, StyleSet]:
    """The net a run starts from (before any resume state is loaded into it) and its styles.
    arch: None for johnson (tiny when distilling), or the --init or --resume net's; another than
    theirs is refused. With a teacher, the one style is the teacher's, and `paths` are not read."""
    names = [teacher.name] if teacher else style_names(paths)
    paths = [] if teacher else paths  # no painting to compare a resumed run's style with
    if resume is not None:  # the stored net already holds every style: the trained ones come last
        frozen = resume.model.config.num_styles - len(names) if only_norms else 0
        _same_arch(arch, resume, "--resume")
        _same_styles(names, resume, frozen)
        _same_paintings(paths, resume, frozen)
        model = TransformerNet(resume.model.config)
        images = resume.style_thumbnails[:frozen] + [None] * len(names)
        digests = list(resume.raw.get("style_digests") or [None] * len(resume.style_names))[:frozen]
        return model, StyleSet(resume.style_names, images, list(range(frozen, frozen + len(names))), frozen,
                               digests + [None] * len(names))
    if init is None:
        if only_norms:
            raise FastNSTError("--only-norms adds styles to a trained net: give it with --init CKPT")
        model = TransformerNet(replace(ModelConfig.for_arch(arch or ("tiny" if teacher else "johnson")), num_styles=len(names)))
        return model, StyleSet(names, [None] * len(names), list(range(len(names))))

    start = load_checkpoint(init)
    _same_arch(arch, start, "--init")
    if only_norms:
        clash = sorted(set(names) & set(start.style_names))
        if clash:
            raise FastNSTError(f"{init} already has a style named {clash[0]}; --only-norms adds new styles")
        _no_painting_twice(paths, names, start)
        all_names = start.style_names + names
        images = list(start.style_thumbnails) + [None] * len(names)
        styles = StyleSet(all_names, images, list(range(len(start.style_names), len(all_names))),
                          frozen=len(start.style_names))
    else:
        styles = StyleSet(names, [None] * len(names), list(range(len(names))))
    model = TransformerNet(replace(start.model.config, num_styles=len(styles.names)))
    shared = {k: v for k, v in start.model.state_dict().items() if not _is_norm(start.model, k)}
    model.load_state_dict(shared, strict=False)
    # Each style's norms: its own if the init net has a style of that name, else the first style's.
    old = {name: i for i, name in enumerate(start.style_names)}
    with torch.no_grad():
        for norm, (scale, bias) in zip(model.norms(), start.model.norm_table(), strict=True):
            for j, name in enumerate(styles.names):
                norm.weight.view(-1, scale.shape[-1])[j] = scale[old.get(name, 0)]
                norm.bias.view(-1, bias.shape[-1])[j] = bias[old.get(name, 0)]
    return model, styles


def _alike(a: Image.Image, b: Image.Image) -> bool:
    """Whether two pictures are the same painting, at whatever size each was stored (a thumbnail,
    the file): the same shape, and at 32 x 32 within a few levels."""
    if abs(a.width / a.height - b.width / b.height) > 0.03 * a.width / a.height:
        return False
    small = [np.asarray(x.convert("RGB").resize((32, 32), Image.Resampling.BOX), dtype=np.float32) for x in (a, b)]
    return float(np.abs(small[0] - small[1]).mean()) < 4.0


def _no_painting_twice(paths: list[str], names: list[str], start: Checkpoint) -> None:
    """--only-norms: refuse a style image that is a style the init net already has, or another of
    the run's, under another name: two names for one painting, trained twice."""
    try:
        images = [open_rgb(p) for p in paths]
    except (FastNSTError, OSError):
        return  # a style image that cannot be read: the loss says so, with its own message
    known = [(n, t) for n, t in zip(start.style_names, start.style_thumbnails) if t is not None]
    for i, (path, image) in enumerate(zip(paths, images)):
        for name, thumbnail in known:
            if _alike(image, thumbnail):
                raise FastNSTError(f"--style {path}: {start.path} already has this painting, as the style {name}; "
                                   f"--only-norms adds new styles (choose that one by name)")
        for j in range(i):
            if _alike(image, images[j]):
                raise FastNSTError(f"--style {path} and {paths[j]} are the same painting under two names; "
                                   f"give it once")


def _is_norm(model: TransformerNet, key: str) -> bool:
    return model.get_submodule(key.rsplit(".", 1)[0]) in model.norms()


def norm_parameters(model: TransformerNet) -> list[torch.nn.Parameter]:
    return [p for norm in model.norms() for p in norm.parameters()]


class FrozenRows:
    """The norms of styles 0..count-1, put back after every optimizer step: bit for bit, whatever
    the optimizer does with their zero gradients."""

    def __init__(self, model: TransformerNet, count: int) -> None:
        self.count = count
        self.saved = [(n.weight.detach()[:count].clone(), n.bias.detach()[:count].clone()) for n in model.norms()]
        self.model = model

    @torch.no_grad()
    def restore(self) -> None:
        if self.count:
            for norm, (scale, bias) in zip(self.model.norms(), self.saved):
                norm.weight[:self.count] = scale
                norm.bias[:self.count] = bias

