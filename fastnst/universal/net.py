"""UniversalNet: the frozen encoder, one decoder per level and the transform between them; its file.

A universal checkpoint is a torch.save'd dict (loadable with weights_only=True):

    format      "fastnst-universal"
    version     1
    config      UniversalConfig as a dict (levels coarse to fine, decoder width, encoder)
    encoder     the VGG19 features state dict up to the deepest level (float16 in bundled files)
    decoders    {level: decoder state dict} (float16 in bundled files)
    train_args  the decoder training options, plain values
    step        optimizer steps taken
    optimizer, scaler, rng   (training checkpoints only, training/state.py) to resume exactly
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import FastNSTError
from ..files import load_torch_file
from ..loss.vgg import calibration_pattern
from .decoder import Decoder
from .encoder import LEVELS, Encoder, check_levels
from .wct import ContentStats, StyleStats, content_stats, style_stats, transform

FORMAT = "fastnst-universal"
VERSION = 1

# A style: for each level, the painting's statistics; several paintings blend with weights.
Style = dict[str, StyleStats]


@dataclass
class UniversalConfig:
    levels: tuple[str, ...] = ("relu3_1", "relu2_1")  # coarse to fine
    width: float = 0.5  # decoder channels relative to the encoder's

    def __post_init__(self) -> None:
        self.levels = check_levels(tuple(self.levels))
        self.levels = tuple(sorted(self.levels, key=LEVELS.index, reverse=True))
        if not 0.05 <= float(self.width) <= 1.0:
            raise FastNSTError(f"decoder width {self.width}: between 0.05 and 1")

    @property
    def deepest(self) -> str:
        return self.levels[0]


class UniversalNet(nn.Module):
    """`net(x, styles, alpha)`: images N x 3 x H x W in [0, 1] stylized level by level, coarse to fine.

    styles: [(Style, weight), ...] (weights summing to 1 for a blend). content: per image and level,
    ContentStats to use instead of each image's own (tiling: the whole image's, measured smaller).
    stream: `stream(level, features)` gives the statistics instead (video: MovingContentStats), the
    images being successive frames.
    """

    def __init__(self, config: UniversalConfig | None = None, encoder_weights: str | Path | None = None,
                 encoder_state: dict[str, torch.Tensor] | None = None) -> None:
        super().__init__()
        self.config = config or UniversalConfig()
        self.encoder = Encoder(self.config.deepest, encoder_weights, encoder_state)
        self.decoders = nn.ModuleDict({level: Decoder(level, self.config.width) for level in self.config.levels})
        with torch.no_grad():
            taps = self.encoder.taps(calibration_pattern(), self.config.levels)
        for level, decoder in self.decoders.items():
            decoder.input_scale.fill_(1.0 / float(taps[level].mean().clamp_min(1e-6)))

    def style(self, painting: torch.Tensor, encoder: Encoder | None = None) -> Style:
        """A painting (1 x 3 x H x W in [0, 1]) -> its statistics at every level, computed once;
        encoder: a float32 copy of this net's to measure with (the net may run in bf16)."""
        with torch.no_grad():
            taps = (encoder if encoder is not None else self.encoder).taps(painting.float(), self.config.levels)
        return {level: style_stats(taps[level][0]) for level in self.config.levels}

    def forward(self, x: torch.Tensor, styles: Sequence[tuple[Style, float]], alpha: float = 1.0,
                content: Sequence[dict[str, ContentStats]] | None = None,
                record: list[dict[str, ContentStats]] | None = None,
                stream: Callable[[str, torch.Tensor], ContentStats] | None = None) -> torch.Tensor:
        """record: a list to append each image's content statistics to (per level)."""
        outputs = []
        for i in range(len(x)):
            image, measured = x[i:i + 1], {}
            for level in self.config.levels:
                features, height, width = self._encode(image, level)
                if content is not None:
                    stats = content[i][level]
                else:
                    stats = stream(level, features[0]) if stream is not None else content_stats(features[0])
                measured[level] = stats
                level_styles = [(style[level], weight) for style, weight in styles]
                affine = transform(stats, level_styles, alpha)
                image = self.decoders[level](features, affine)[..., :height, :width]
            if record is not None:
                record.append(measured)
            outputs.append(image)
        return torch.cat(outputs)

    def _encode(self, image: torch.Tensor, level: str) -> tuple[torch.Tensor, int, int]:
        """The features of an image of any size: padded to a multiple of the level's stride, and to
        at least two feature pixels (the decoder pads by reflection); the decoder's output is
        cropped back to the returned height and width."""
        stride = 2 ** int(level[4]) // 2
        height, width = image.shape[-2:]
        pad_h, pad_w = (max(2 * stride, -(-side // stride) * stride) - side for side in (height, width))
        if pad_h or pad_w:
            mode = "reflect" if min(height, width) > max(pad_h, pad_w) else "replicate"
            image = F.pad(image, (0, pad_w, 0, pad_h), mode=mode)
        return self.encoder(image, level), height, width

    def reconstruct(self, x: torch.Tensor, level: str) -> torch.Tensor:
        """The decoder's reconstruction of the image from its own features (what training fits)."""
        return self.decoders[level](self.encoder(x, level))


def is_universal_file(path: str | Path) -> bool:
    """Whether a file is a universal checkpoint (read without unpickling anything but tensors)."""
    path = Path(path)
    if not path.is_file() or path.suffix.lower() == ".onnx":
        return False
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:
        return False
    return isinstance(raw, dict) and raw.get("format") == FORMAT


def universal_state(net: UniversalNet, train_args: dict[str, Any], step: int, half: bool = True,
                    extra: dict[str, Any] | None = None) -> dict[str, Any]:
    cast = (lambda t: t.detach().half().cpu()) if half else (lambda t: t.detach().cpu().clone())
    return {"format": FORMAT, "version": VERSION,
            "config": {"levels": list(net.config.levels), "width": net.config.width},
            "encoder": {k: cast(v) for k, v in net.encoder.features.state_dict().items()},
            "decoders": {level: {k: cast(v) for k, v in decoder.state_dict().items()}
                         for level, decoder in net.decoders.items()},
            "train_args": dict(train_args), "step": step, **(extra or {})}


def save_universal(net: UniversalNet, path: str | Path, train_args: dict[str, Any] | None = None, step: int = 0,
                   half: bool = True, extra: dict[str, Any] | None = None) -> Path:
    """Write `net` as a universal checkpoint, atomically (float16 unless half=False)."""
    from ..checkpoint import atomic_save

    return atomic_save(universal_state(net, train_args or {}, step, half, extra), path)


@dataclass
class LoadedUniversal:
    net: UniversalNet
    train_args: dict[str, Any] = field(default_factory=dict)
    step: int = 0
    path: Path | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


def load_universal(path: str | Path, levels: Sequence[str] | None = None) -> LoadedUniversal:
    """A universal checkpoint -> its net in float32 on the CPU, eval mode.

    levels: use only these of the file's levels (e.g. drop relu1_1 for speed).
    """
    path = Path(path)
    raw = load_torch_file(path, f"universal model not found: {path}",
                          f"{path}: not a readable checkpoint (not a PyTorch file, or a damaged one)")
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise FastNSTError(f"{path} is not a universal model (its format is {raw.get('format') if isinstance(raw, dict) else type(raw).__name__})")
    if raw.get("version", 0) > VERSION:
        raise FastNSTError(f"{path}: universal format {raw['version']} is newer than this fastnst reads ({VERSION}); upgrade fastnst")
    config = UniversalConfig(levels=tuple(raw["config"]["levels"]), width=float(raw["config"]["width"]))
    net = UniversalNet(config, encoder_state=raw["encoder"])
    for level, state in raw["decoders"].items():
        net.decoders[level].load_state_dict({k: v.float() for k, v in state.items()})
    if levels is not None:
        chosen = check_levels(tuple(levels))
        missing = [level for level in chosen if level not in config.levels]
        if missing:
            raise FastNSTError(f"{path} has no decoder for {', '.join(missing)}; it has {', '.join(config.levels)}")
        net.config = UniversalConfig(levels=chosen, width=config.width)
        net.decoders = nn.ModuleDict({level: net.decoders[level] for level in net.config.levels})
    return LoadedUniversal(net.eval(), dict(raw.get("train_args", {})), int(raw.get("step", 0)), path, raw)
