"""What the page takes in: style requests and photo options, the gallery of trained networks with
their thumbnails, the checks on an uploaded picture, and the webcam's frame-rate meter."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from ..checkpoint import Checkpoint, load_checkpoint
from ..errors import FastNSTError
from ..images import fit_size, to_pil
from ..inference import Stylizer

MAX_PHOTO_PIXELS = 64_000_000    # what the page opens at all (a 9000 x 7000 photo)
MAX_OUTPUT_PIXELS = 16_000_000   # what it stylizes: a 4096-px result takes about 20 s on two cores
MAX_CLIP_SECONDS = 60.0          # longer videos: python -m fastnst stylize, which shows its own progress
OUTPUT_SIZES = (512, 1024, 2048, 4096)   # the long sides offered; 0 keeps the photo's size
CACHED_STYLIZERS = 8             # paintings and blends kept; each holds a copy of its net
THUMBNAIL_SIZE = 160


@dataclass(frozen=True)
class NetworkStyle:
    """One style a trained network holds, as the page offers it."""

    name: str                    # shown under its thumbnail, unique on the page
    checkpoint: Path
    style: str                   # the style's name inside the checkpoint
    thumbnail: Image.Image = field(compare=False, repr=False)


@dataclass(frozen=True)
class StyleRequest:
    """Which style: a network's (`network`, optionally blended with `blend_with`), or the user's
    painting(s) through the universal model (`paintings`, one or two files). `mix` is the first's
    share of a blend, 0..1."""

    network: str = ""
    blend_with: str = ""
    paintings: tuple[str, ...] = ()
    mix: float = 0.5


@dataclass(frozen=True)
class PhotoOptions:
    """The page's controls: size is the result's long side in pixels (0: the photo's own)."""

    strength: float = 1.0
    preserve_color: bool = False
    match_tone: bool = False
    size: int = 1024


class FrameRate:
    """Frames per second over the last few seconds of a stream."""

    def __init__(self, window: float = 3.0) -> None:
        self.window, self.times = window, deque()

    def tick(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        self.times.append(now)
        while now - self.times[0] > self.window:
            self.times.popleft()
        span = self.times[-1] - self.times[0]
        return (len(self.times) - 1) / span if span > 0 else 0.0


def network_styles(checkpoints: Sequence[str | Path], taken: Sequence[str] = (), repeats: bool = False,
                   load: Callable[[Path], Checkpoint] = load_checkpoint) -> list[NetworkStyle]:
    """The styles the checkpoints hold, each with the thumbnail of its painting stored in the
    checkpoint (or else its look on a gradient). A name met again is left out (five.pt repeats the
    single-style nets), or with `repeats` kept as "name (file)"; so is a name in `taken`."""
    styles: dict[str, NetworkStyle] = {}
    for path in map(Path, checkpoints):
        loaded = load(path)
        for name, thumbnail in zip(loaded.style_names, loaded.style_thumbnails):
            shown = name
            if name in styles or name in taken:
                if not repeats and name in styles:
                    continue
                shown = f"{name} ({path.name})"
            if thumbnail is None:
                thumbnail = swatch(Stylizer.load(loaded, style=name, device="cpu"))
            thumbnail = thumbnail.convert("RGB")
            thumbnail.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
            styles[shown] = NetworkStyle(shown, path, name, thumbnail)
    return list(styles.values())


def swatch(stylizer: Stylizer) -> Image.Image:
    """A network's look, for one stored without its painting: a colour gradient stylized."""
    ramp = torch.linspace(0, 1, 96)
    x = torch.stack([ramp[None, :].expand(96, 96), ramp[:, None].expand(96, 96), 1 - ramp[None, :].expand(96, 96)])
    return to_pil(stylizer.stylize_tensor(x[None].to(stylizer.device)))


def probe_picture(path: str | Path, what: str, max_pixels: int = MAX_PHOTO_PIXELS) -> tuple[int, int]:
    """(width, height) of a picture file, read from its header; a one-line FastNSTError for a file
    that is not a picture or holds more than `max_pixels` pixels. `what` names it ("photo")."""
    name = Path(path).name
    try:
        with Image.open(path) as image:
            width, height = image.size
    except Image.DecompressionBombError:
        raise FastNSTError(f"{what} {name}: too large to open (over {megapixels(max_pixels)}); shrink it first") from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise FastNSTError(f"{what} {name}: not a picture this page can read (use JPEG, PNG or WebP)") from None
    if width * height > max_pixels:
        raise FastNSTError(f"{what} {name}: {width}x{height} is {megapixels(width * height)}, more than the page "
                           f"opens ({megapixels(max_pixels)}); shrink it first")
    return width, height


def megapixels(pixels: float) -> str:
    return f"{pixels / 1e6:.1f} MP" if pixels < 1e7 else f"{pixels / 1e6:.0f} MP"


def largest_size_within(width: int, height: int, max_pixels: int) -> int | None:
    """The largest of OUTPUT_SIZES whose result stays within `max_pixels`; None if none does."""
    fitting = [s for s in OUTPUT_SIZES if np.prod(fit_size(width, height, s)) <= max_pixels]
    return max(fitting) if fitting else None
