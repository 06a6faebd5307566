"""Batch inference over files and folders: output naming, never overwriting inputs, per-file errors."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch
from PIL import Image
from tqdm import tqdm

from . import video
from .checkpoint import load_checkpoint
from .errors import FastNSTError, first_line
from .files import atomic_path
from .images import IMAGE_EXTENSIONS, find_images
from .stylize import resolve_device, stylize

SAVE_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP", ".bmp": "BMP"}


def expand_inputs(inputs: list[str], style_name: str) -> tuple[list[tuple[Path, Path | None]], list[str]]:
    """(file, folder it came from or None) pairs, and errors for inputs that do not exist."""
    files, errors = [], []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            # Skip our own earlier outputs so a second run does not stylize them again.
            candidates = sorted(find_images(path) + video.find_videos(path))
            found = [p for p in candidates if not p.stem.endswith(f"_{style_name}")]
            if not found:
                errors.append(f"{path}: no images (jpg, png, webp, bmp) or videos (mp4, mov, mkv, webm, avi) "
                              f"in this folder")
            files += [(p, path) for p in found]
        elif path.exists():
            files.append((path, None))
        else:
            errors.append(f"{path}: no such file or folder")
    return files, errors


def output_path(source: Path, folder: Path | None, style_name: str, output: Path | None, many: bool) -> Path:
    if video.is_video(source):
        ext = video.output_extension(source)  # .webm cannot hold H.264: .mp4
    else:
        ext = source.suffix.lower() if source.suffix.lower() in IMAGE_EXTENSIONS else ".png"
    name = f"{source.stem}_{style_name}{ext}"
    if output is None:
        return source.with_name(name)
    if not many and not output.is_dir() and output.suffix:
        return output
    relative = source.relative_to(folder).with_name(name) if folder else Path(name)
    return output / relative


def save_image(image: Image.Image, path: Path) -> None:
    """Write to a temporary file beside `path`, then rename: never a half-written image."""
    fmt = SAVE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise FastNSTError(f"{path}: unsupported output extension (use .jpg, .png, .webp or .bmp)")
    if fmt in ("JPEG", "BMP") and image.mode == "RGBA":
        image = image.convert("RGB")  # these formats have no alpha
    with atomic_path(path) as tmp:
        image.save(tmp, format=fmt, **({"quality": 95} if fmt in ("JPEG", "WEBP") else {}))


def load_stylizer(args: argparse.Namespace) -> tuple[object, str, torch.device]:
    """(the net as the flags ask for it, its style name, its device): the fast path by default
    (fastpath.py), or onnxruntime on an .onnx file or a checkpoint exported on the fly."""
    if args.backend == "onnxruntime":
        from .export import OnnxStylizer, export_onnx

        if args.device not in ("auto", "cpu"):
            raise FastNSTError("--backend onnxruntime runs on the CPU: use --device cpu (or auto)")
        if args.compile or args.precision not in ("auto", "fp32") or args.tile:
            raise FastNSTError("--precision, --compile and --tile are for --backend torch")
        path = Path(args.ckpt)
        if path.suffix.lower() == ".onnx":
            if not path.is_file():
                raise FastNSTError(f"ONNX model not found: {path}")
            stylizer = OnnxStylizer(path)
        else:
            with tempfile.TemporaryDirectory() as tmp:  # onnxruntime has read it once the session exists
                stylizer = OnnxStylizer(export_onnx(load_checkpoint(path), Path(tmp) / "model.onnx"))
        return stylizer, stylizer.style_name, torch.device("cpu")
    from .fastpath import FastStylizer

    checkpoint = load_checkpoint(args.ckpt)
    device = resolve_device(args.device)
    return FastStylizer(checkpoint.model, device, args.precision, args.compile), checkpoint.style_name, device


def check_stylize_options(args: argparse.Namespace) -> None:
    """The options images, videos and the webcam share."""
    if not 0.0 <= args.strength <= 1.0:
        raise FastNSTError(f"--strength must be between 0 and 1, got {args.strength}")
    if args.max_size is not None and args.max_size < 1:
        raise FastNSTError("--max-size must be a positive number of pixels")


def run_inference(args: argparse.Namespace) -> int:
    check_stylize_options(args)
    if args.tile is not None and args.tile < 0:
        raise FastNSTError("--tile must be a number of pixels (0: never tile)")
    model, style, device = load_stylizer(args)
    files, errors = expand_inputs(args.inputs, style)
    for message in errors:
        print(f"error: {message}", file=sys.stderr)
    output = Path(args.output) if args.output else None
    many = len(files) > 1 or any(folder for _, folder in files)
    if output is not None and many and output.exists() and not output.is_dir():
        raise FastNSTError(f"-o {output}: several inputs need an output folder, and this is a file")
    inputs = {p.resolve() for p, _ in files}
    failed = len(errors)
    for source, folder in tqdm(files, desc=f"stylize {style}", unit="img", disable=len(files) < 2):
        target = output_path(source, folder, style, output, many)
        try:
            if target.resolve() in inputs:
                raise FastNSTError(f"{source}: the output {target} would overwrite an input; choose another -o")
            if video.is_video(source):
                video.stylize_video(source, target, model, device=device, max_size=args.max_size,
                                    preserve_color=args.preserve_color, strength=args.strength,
                                    tile=args.tile or 0, batch_size=args.batch_size, crf=args.crf, preset=args.preset, limit=args.frames)
            else:
                image = stylize(source, model, max_size=args.max_size, device=device,
                                preserve_color=args.preserve_color, strength=args.strength, tile=args.tile)
                save_image(image, target)
            tqdm.write(f"{source} -> {target}") if many else print(f"{source} -> {target}")
        except FastNSTError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
        except (OSError, RuntimeError) as exc:  # disk full, out of memory, ...
            print(f"error: {source}: {first_line(exc)}", file=sys.stderr)
            failed += 1
    if failed:
        print(f"{failed} of {len(files) + len(errors)} input(s) failed", file=sys.stderr)
        return 1
    return 0
