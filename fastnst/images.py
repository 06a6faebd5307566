"""Image files in and out: opened once, correctly (EXIF orientation, every common colour mode),
resized by their long side, written atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np
import torch
import torchvision.transforms.functional as TF
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import FastNSTError
from .files import atomic_path

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}
SAVE_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP", ".bmp": "BMP"}


def to_rgb(image: Image.Image) -> tuple[Image.Image, Image.Image | None]:
    """Any PIL image -> (8-bit RGB, alpha channel or None)."""
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # 16/32-bit grayscale: PIL's convert('L') clips instead of scaling, so scale by hand.
        values = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if values.max() > 255 or image.mode.startswith("I;16") else 255.0
        image = Image.fromarray(np.clip(values / peak * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    elif image.mode == "F":
        values = np.asarray(image, dtype=np.float64)
        peak = 1.0 if values.max() <= 1.0 else 255.0
        image = Image.fromarray(np.clip(values / peak * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    alpha = None
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        alpha = image.getchannel("A")
    return image.convert("RGB"), alpha


def open_image(path: str | Path) -> tuple[Image.Image, Image.Image | None]:
    """Open, apply EXIF orientation, convert to RGB: (rgb, alpha or None). Raises FastNSTError."""
    path = Path(path)
    try:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image)
            image.load()
            return to_rgb(image)
    except FileNotFoundError:
        raise FastNSTError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise FastNSTError(f"{path}: is a folder, not an image") from None
    except UnidentifiedImageError:
        raise FastNSTError(f"{path}: not an image file (or a format Pillow cannot read)") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise FastNSTError(f"{path}: cannot read image: {exc}") from None


def open_rgb(path: str | Path) -> Image.Image:
    return open_image(path)[0]


def to_tensor(image: Image.Image) -> torch.Tensor:
    """PIL RGB -> 1 x 3 x H x W float in [0, 1]."""
    return TF.pil_to_tensor(image).unsqueeze(0).float().div_(255)


def to_pil(tensor: torch.Tensor) -> Image.Image:
    """1 x 3 x H x W (or 3 x H x W) float -> PIL RGB, clamped to [0, 1]."""
    if tensor.dim() == 4:
        tensor = tensor[0]
    return TF.to_pil_image(tensor.detach().float().clamp(0, 1).cpu())


def fit_size(width: int, height: int, long_side: int | None, enlarge: bool = False) -> tuple[int, int]:
    """(width, height) scaled so the long side is `long_side` pixels: only ever shrunk unless
    `enlarge`; None keeps the size."""
    if long_side is None or max(width, height) == long_side or (max(width, height) < long_side and not enlarge):
        return width, height
    scale = long_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def resize_long_side(image: Image.Image, long_side: int | None, enlarge: bool = False) -> Image.Image:
    """The image resized (Lanczos) so its long side is at most `long_side` pixels (exactly that
    with `enlarge`); None keeps it as it is."""
    size = fit_size(image.width, image.height, long_side, enlarge)
    return image if size == image.size else image.resize(size, Image.Resampling.LANCZOS)


def save_image(image: Image.Image, path: str | Path, inputs: Iterable[object] = ()) -> None:
    """Write to a temporary file beside `path`, then rename: never a half-written image.
    inputs: files it must not replace (a FastNSTError instead), such as the photo it came from."""
    path = Path(path)
    fmt = SAVE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise FastNSTError(f"{path}: unsupported output extension (use .jpg, .png, .webp or .bmp)")
    if fmt in ("JPEG", "BMP") and image.mode == "RGBA":
        image = image.convert("RGB")  # these formats have no alpha
    with atomic_path(path, inputs) as tmp:
        image.save(tmp, format=fmt, **({"quality": 95} if fmt in ("JPEG", "WEBP") else {}))


def find_images(folder: str | Path, recursive: bool = True) -> list[Path]:
    """Image files under folder (by extension), sorted for a stable order."""
    folder = Path(folder)
    pattern = folder.rglob("*") if recursive else folder.glob("*")
    return sorted(p for p in pattern if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
                  and not p.name.startswith("."))


def image_files(path: str | Path) -> list[Path]:
    """One image file, or the images under a folder; a one-line error when there are none."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FastNSTError(f"{path}: no such file or folder")
    files = find_images(path)
    if not files:
        raise FastNSTError(f"{path}: no images (jpg, png, webp, bmp) in this folder")
    return files


def center_crop(image: Image.Image, size: int) -> torch.Tensor:
    """3 x size x size in [0, 1]: the short side scaled to `size`, the center kept."""
    image = TF.resize(image, size, interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
    return TF.pil_to_tensor(TF.center_crop(image, size)).float().div_(255)
