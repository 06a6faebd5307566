"""The one checkpoint format: save atomically, load ours and PyTorch example's state dicts.

A fastnst checkpoint is a ``torch.save``d dict (loadable with ``weights_only=True``):

    format          "fastnst"
    version         FORMAT_VERSION
    model_config    ModelConfig as a dict
    model           the TransformerNet state dict (float16 in inference checkpoints)
    style           {"name": str, "thumbnail": uint8 tensor H x W x 3 (long side <= 128)}: the first style
    styles          (format 3, nets of several styles) [{"name", "thumbnail"}, ...], one per style
    train_args      the training options (TrainConfig less the loss options), plain values
    loss            the loss options (LossConfig) as plain values; format 1 kept them in train_args,
                    plus "loss_net": {"name", "weights", "content_layers", ...}
    step            optimizer steps taken
    optimizer       (training checkpoints only) Adam state dict
    rng             (training checkpoints only) {"torch": cpu RNG state, "cuda": [...]}
    style_digests   (training checkpoints only) sha256 of each style's painting pixels, or None
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import torch
from PIL import Image

from .compat import format_1_loss_options
from .errors import FastNSTError, first_line
from .files import atomic_path, load_torch_file, safe_name, unique_names
from .model import ConditionalInstanceNorm, ModelConfig, TransformerNet

FORMAT_VERSION = 3  # written for nets of several styles; one-style nets are still written as format 2
THUMBNAIL_SIZE = 128


@dataclass
class Checkpoint:
    """A loaded checkpoint: the model ready for inference plus what it was trained with."""

    model: TransformerNet
    style_name: str  # the style's name; for a net of several, their names joined by "+"
    style_thumbnail: Image.Image | None = None
    style_names: list[str] = field(default_factory=list)  # one per style the net holds
    style_thumbnails: list[Image.Image | None] = field(default_factory=list)
    train_args: dict[str, Any] = field(default_factory=dict)
    loss: dict[str, Any] = field(default_factory=dict)  # the LossConfig fields it was trained with
    step: int = 0
    path: Path | None = None
    format: str = "fastnst"
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not self.style_names:
            self.style_names = [self.style_name]
        if not self.style_thumbnails:
            self.style_thumbnails = [self.style_thumbnail] + [None] * (len(self.style_names) - 1)


def thumbnail_tensor(image: Image.Image) -> torch.Tensor:
    thumb = image.convert("RGB")
    thumb.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE), Image.Resampling.LANCZOS)
    return torch.from_numpy(np.asarray(thumb).copy())


def atomic_save(obj: Any, path: str | Path, inputs: Iterable[object] = ()) -> Path:
    """torch.save to a temporary file beside ``path``, then rename: an interrupted save never
    leaves a damaged file under ``path``. inputs: files it must not replace (files.ReadFiles)."""
    path = Path(path)
    with atomic_path(path, inputs) as tmp:
        with open(tmp, "wb") as f:
            writer = _KeepsWriteErrors(f)
            try:
                torch.save(obj, writer)
            except RuntimeError:  # torch's serializer words a failed write "unexpected pos ..."
                if writer.error is not None:
                    raise writer.error from None  # the OS's reason: disk full, quota, I/O error
                raise
            f.flush()
            os.fsync(f.fileno())
    return path


class _KeepsWriteErrors:
    """A file for torch.save that keeps the OSError of a failed write, which torch replaces with its own words."""

    def __init__(self, file: Any) -> None:
        self.file, self.error = file, None

    def write(self, data: Any) -> int:
        try:
            return self.file.write(data)
        except OSError as exc:
            self.error = exc
            raise

    def flush(self) -> None:
        self.file.flush()


def build_checkpoint(model: TransformerNet, *, styles: list[tuple[str, Image.Image | None]],
                     train_args: dict, loss: dict, step: int, half: bool = False) -> dict:
    """The dict of the format above (without training state); `styles` holds (name, image or
    None) for each style of the net, in its order."""
    if len(styles) != model.config.num_styles:
        raise ValueError(f"{len(styles)} style names for a net of {model.config.num_styles} styles")
    state = {k: (v.half() if half and v.is_floating_point() else v).detach().cpu().clone()
             for k, v in model.state_dict().items()}
    described = [{"name": name, "thumbnail": thumbnail_tensor(image) if image is not None else None}
                 for name, image in styles]
    out = {
        "format": "fastnst",
        "version": FORMAT_VERSION if len(styles) > 1 else 2,
        "model_config": model.config.to_dict(),
        "model": state,
        "style": described[0],
        "train_args": train_args,
        "loss": loss,
        "step": step,
    }
    if len(styles) > 1:
        out["styles"] = described
    return out


# PyTorch's fast_neural_style example: res1..res5 are our res.0..res.4; old files carry stale
# InstanceNorm running stats that current PyTorch rejects.
_EXAMPLE_RES = re.compile(r"^res(\d+)\.")
_STALE = re.compile(r"\.running_(mean|var)$|\.num_batches_tracked$")


def _from_example_state_dict(state: dict[str, torch.Tensor]) -> tuple[ModelConfig, dict]:
    renamed = {}
    for key, value in state.items():
        if _STALE.search(key):
            continue
        key = _EXAMPLE_RES.sub(lambda m: f"res.{int(m.group(1)) - 1}.", key)
        renamed[key] = value.float()
    num_residual = len({k.split(".")[1] for k in renamed if k.startswith("res.")})
    channels = (renamed["conv1.conv2d.weight"].shape[0], renamed["conv2.conv2d.weight"].shape[0],
                renamed["conv3.conv2d.weight"].shape[0])
    return ModelConfig(channels=channels, num_residual=num_residual, value_scale=255.0), renamed


def _misfit(model: TransformerNet, state: dict[str, Any]) -> str | None:
    """What does not fit, in one phrase: the style count its config and its norms disagree on, or the
    first tensor missing, extra or of another shape."""
    expected = model.state_dict()
    for key, want in expected.items():
        got = state.get(key)
        if got is None:
            return f"it has no {key}"
        if tuple(got.shape) == tuple(want.shape):
            continue
        module = model.get_submodule(key.rpartition(".")[0])
        if isinstance(module, (torch.nn.InstanceNorm2d, ConditionalInstanceNorm)) and got.ndim in (1, 2):
            held, styles = (got.shape[0] if got.ndim == 2 else 1), model.config.num_styles
            if held != styles:
                return (f"its config says {styles} style{'s' * (styles > 1)} but its norms hold {held} "
                        f"({key} is {list(got.shape)})")
        return f"{key} is {list(got.shape)} where the network has {list(want.shape)}"
    extra = [key for key in state if key not in expected]
    return f"it has {extra[0]}, which the network lacks" if extra else None


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> Checkpoint:
    """Load a fastnst checkpoint (inference or training) or a PyTorch-example state dict."""
    path = Path(path)
    raw = load_torch_file(path, f"checkpoint not found: {path}",
                          f"{path} is not a fastnst or PyTorch checkpoint (or it is damaged)", map_location)
    if not isinstance(raw, dict):
        raise FastNSTError(f"{path} is not a fastnst checkpoint or a TransformerNet state dict")
    return parse_checkpoint(raw, path)


def parse_checkpoint(raw: dict[str, Any], path: Path) -> Checkpoint:
    """The Checkpoint of a dict already read from `path` (named in messages)."""
    if raw.get("format") == "fastnst-universal":
        raise FastNSTError(f"{path} is the universal model, which stylizes with any painting: "
                           f"Stylizer.load({path.name!r}, style='painting.jpg') (infer.py --style PAINTING)")
    if raw.get("format") == "fastnst":
        if raw.get("version", 0) > FORMAT_VERSION:
            raise FastNSTError(f"{path} was written by a newer fastnst (format {raw['version']}); upgrade fastnst")
        try:
            config, state, kind = ModelConfig.from_dict(raw["model_config"]), raw["model"], "fastnst"
            state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
            styles = raw.get("styles") or [raw.get("style") or {}]
            # Names become parts of output file names: made safe ("../x" is "_x") and told apart.
            names = unique_names([safe_name(style.get("name") or (path.stem if len(styles) == 1 else ""), f"style{i}")
                                  for i, style in enumerate(styles)])
            thumbnails = [Image.fromarray(s["thumbnail"].numpy()) if s.get("thumbnail") is not None else None
                          for s in styles]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            missing = f"no {exc.args[0]!r}" if isinstance(exc, KeyError) else first_line(exc)
            raise FastNSTError(f"{path}: a damaged fastnst checkpoint ({missing})") from None
    elif "conv1.conv2d.weight" in raw and "deconv3.conv2d.weight" in raw:
        config, state = _from_example_state_dict(raw)
        kind, names, thumbnails = "pytorch-example", [safe_name(path.stem, "style0")], [None]
    else:
        raise FastNSTError(f"{path} is not a fastnst checkpoint or a TransformerNet state dict")

    try:
        model = TransformerNet(config)
    except FastNSTError as exc:  # an architecture this fastnst does not know
        raise FastNSTError(f"{path}: {exc}; a newer fastnst may read it") from None
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise FastNSTError(f"{path}: weights do not fit the network: {_misfit(model, state) or first_line(exc)}"
                           ) from None
    if len(names) != config.num_styles:
        raise FastNSTError(f"{path}: a damaged fastnst checkpoint ({len(names)} style names for "
                           f"{config.num_styles} styles)")
    model.eval()
    loss = dict(raw["loss"]) if "loss" in raw else format_1_loss_options(raw)
    return Checkpoint(model=model, style_name="+".join(names), style_thumbnail=thumbnails[0],
                      style_names=names, style_thumbnails=thumbnails, train_args=raw.get("train_args", {}), loss=loss,
                      step=raw.get("step", 0), path=path, format=kind, raw=raw)
