"""infer.py / fastnst-stylize / python -m fastnst stylize: images, folders and videos in, stylized
files out (never overwriting an input, one failed file not stopping the rest), or the webcam demo."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

import torch
from PIL import Image
from tqdm import tqdm

from ..checkpoint import load_checkpoint
from ..device import BACKENDS, DEVICE_HELP, INFERENCE_PRECISIONS
from ..errors import FastNSTError, first_line
from ..host_memory import keep_host_memory
from ..images import IMAGE_EXTENSIONS, find_images, open_rgb, save_image
from ..inference import load_stylizers, parse_style, stylize
from ..inference.stylizer import check_tile
from ..inference.tiling import DEFAULT_TILE
from ..video import find_videos, is_video, output_extension, stylize_video
from ..video.reader import read_frames
from ..video.writer import DEFAULT_CRF, DEFAULT_PRESET, PRESETS
from .common import run, say

CHECKPOINT_SUFFIXES = {".pt", ".pth", ".model", ".ckpt", ".onnx"}


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="infer.py", description="Stylize images and videos with a trained network, "
                                "or a camera live (--webcam).")
    # "*" and "+": `infer.py --ckpt a.pt photo.jpg` still works, see _infer.
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="image or video files (mp4, mov, mkv, webm, avi), "
                   "or folders of them")
    p.add_argument("--ckpt", required=True, nargs="+", help="checkpoint (fastnst .pt, or a PyTorch "
                   "fast_neural_style .pth/.model); with --webcam, several to switch between")
    p.add_argument("--style", metavar="NAME|INDEX|a=w,b=w|all", help="for a network of several styles: one "
                   "by name or index, a blend (weights normalized), or all (one output per style); default: its "
                   "first style. With --webcam: the styles n/p step through (default all)")
    p.add_argument("--list-styles", action="store_true", help="print the styles --ckpt holds, and exit")
    p.add_argument("-o", "--output", help="output file (one input) or folder (several); default: beside each "
                   "input as <name>_<style>.<ext>")
    p.add_argument("--max-size", type=int, help="shrink inputs so the long side is at most this")
    p.add_argument("--device", default="auto", help=DEVICE_HELP)
    p.add_argument("--preserve-color", action="store_true", help="keep the photo's colours (luminance-only transfer)")
    p.add_argument("--strength", type=float, default=1.0, help="0..1 blend of stylized and original (default 1)")
    p.add_argument("--match-tone", action="store_true", help="bring the output's brightness and contrast back to "
                   "the photo's (luminance mean and spread; on video and the webcam smoothed over time)")
    g = p.add_argument_group("speed and size (images and videos)")
    g.add_argument("--precision", choices=INFERENCE_PRECISIONS, default="auto", help="auto (default): fp16 on CUDA, "
                   "bf16 on CPUs with native bf16 (where it is several times faster), else fp32; int8: CPU, "
                   "onnxruntime, calibrated on the inputs (docs/speed.md)")
    g.add_argument("--compile", action="store_true", help="torch.compile the net: a slow start (minutes on a small "
                   "CPU), then the fastest")
    g.add_argument("--tile", type=int, metavar="SIZE", help="stylize images in SIZE x SIZE tiles with blended "
                   f"seams, in bounded memory (default: tiles of {DEFAULT_TILE} above 3840x2160 pixels; 0: never)")
    g.add_argument("--backend", choices=BACKENDS, default="auto", help="auto (default): onnxruntime for an .onnx "
                   "--ckpt, else torch (the fast path: as fast or faster on every CPU measured); onnxruntime (CPU): "
                   "--ckpt is an .onnx file from fastnst-export, or a checkpoint exported once and cached")
    g = p.add_argument_group("video")
    g.add_argument("--crf", type=int, default=DEFAULT_CRF, help=f"H.264 quality, 0 (lossless) .. 51; +6 halves "
                   f"the file (default {DEFAULT_CRF}, visually lossless)")
    g.add_argument("--preset", default=DEFAULT_PRESET, choices=PRESETS, metavar="PRESET",
                   help=f"x264 speed for size: {PRESETS[0]} .. {PRESETS[-1]} (default {DEFAULT_PRESET})")
    g.add_argument("--batch-size", type=int, default=4, help="video frames per forward pass (default 4)")
    g.add_argument("--frames", type=int, metavar="N", help="only the first N frames of each video (or of the webcam)")
    g.add_argument("--allow-partial", action="store_true", help="a video that ends before the frames it declares "
                   "(damaged or cut short): write the frames read, with a warning, instead of failing")
    g = p.add_argument_group("webcam")
    g.add_argument("--webcam", nargs="?", const="0", metavar="INDEX|PATH", help="live demo from camera INDEX "
                   "(default 0), or a video file played as the camera; keys: n/p next/previous style (of every --ckpt), "
                   "o original side by side, s snapshot, q quit; Ctrl-C stops it too")
    g.add_argument("--no-window", action="store_true", help="with --webcam: no window (record with --output, "
                   "or just measure the frame rate)")
    g.add_argument("--snapshot-dir", metavar="DIR", help="with --webcam: where the s key writes its PNGs "
                   "(default ~/Pictures/fastnst)")
    return p


def expand_inputs(inputs: list[str], style_names: list[str]) -> tuple[list[tuple[Path, Path | None]], list[str]]:
    """(file, folder it came from or None) pairs, and errors for inputs that do not exist."""
    files, errors = [], []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            # Skip our own earlier outputs so a second run does not stylize them again.
            candidates = sorted(find_images(path) + find_videos(path))
            found = [p for p in candidates if not any(p.stem.endswith(f"_{name}") for name in style_names)]
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
    if is_video(source):
        ext = output_extension(source)  # .webm cannot hold H.264: .mp4
    else:
        ext = source.suffix.lower() if source.suffix.lower() in IMAGE_EXTENSIONS else ".png"
    name = f"{source.stem}_{style_name}{ext}"
    if output is None:
        return source.with_name(name)
    if not many and not output.is_dir() and output.suffix:
        return output
    relative = source.relative_to(folder).with_name(name) if folder else Path(name)
    return output / relative


def check_options(args: argparse.Namespace) -> None:
    """Options every input shares, checked before any work starts."""
    if not 0.0 <= args.strength <= 1.0:
        raise FastNSTError(f"--strength must be between 0 and 1, got {args.strength}")
    if args.max_size is not None and args.max_size < 1:
        raise FastNSTError("--max-size must be a positive number of pixels")
    if args.frames is not None and args.frames < 1:
        raise FastNSTError("--frames must be at least 1")
    if args.batch_size < 1:
        raise FastNSTError("--batch-size must be at least 1")
    if not 0 <= args.crf <= 51:
        raise FastNSTError(f"--crf must be between 0 and 51, got {args.crf}")
    check_tile(args.tile)


def calibration_photos(files: list[tuple[Path, Path | None]], count: int = 8) -> list[Image.Image]:
    """Up to `count` of the inputs as pictures (a video: its first frame), for int8 calibration."""
    photos = []
    for source, _ in files:
        if len(photos) == count:
            break
        try:
            photos.append(Image.fromarray(next(read_frames(source, limit=1))) if is_video(source) else open_rgb(source))
        except (FastNSTError, OSError, StopIteration):
            continue  # it fails again, with its error, when its turn comes
    if not photos:
        raise FastNSTError("--precision int8 calibrates on the inputs, and none of them could be read")
    return photos


def _stylize_files(args: argparse.Namespace) -> int:
    onnx = args.backend == "onnxruntime" or Path(args.ckpt).suffix.lower() == ".onnx"
    checkpoint = args.ckpt if onnx else load_checkpoint(args.ckpt)
    calibration = []
    if args.precision == "int8":  # calibrated on the photos about to be stylized
        labels = [choice.label for choice in parse_style(args.style, checkpoint.style_names)]
        calibration = calibration_photos(expand_inputs(args.inputs, labels)[0])
    stylizers, device = load_stylizers(checkpoint, device=args.device, precision=args.precision, compile=args.compile,
                                       backend=args.backend, tile=args.tile, style=args.style, calibration=calibration)
    files, errors = expand_inputs(args.inputs, [label for _, label in stylizers])
    for message in errors:
        say(f"error: {message}")
    output = Path(args.output) if args.output else None
    many = len(files) * len(stylizers) > 1 or any(folder for _, folder in files)
    if output is not None and many and output.exists() and not output.is_dir():
        raise FastNSTError(f"-o {output}: several inputs need an output folder, and this is a file")
    inputs = {p.resolve() for p, _ in files}
    failed = len(errors)
    jobs = [(source, folder, model, style) for source, folder in files for model, style in stylizers]
    names = "+".join(label for _, label in stylizers) if len(stylizers) <= 3 else f"{len(stylizers)} styles"
    with keep_host_memory():  # each photo reuses the memory of the one before
        failed += _run_jobs(jobs, names, args, device, output, many, inputs)
    if failed:
        what = "output(s)" if len(stylizers) > 1 else "input(s)"
        say(f"{failed} of {len(jobs) + len(errors)} {what} failed")
        return 1
    return 0


def _run_jobs(jobs: list, names: str, args: argparse.Namespace, device: torch.device, output: Path | None,
              many: bool, inputs: set[Path]) -> int:
    """Stylize every (source, folder, stylizer, style) job; the number that failed."""
    failed = 0
    for source, folder, model, style in tqdm(jobs, desc=f"stylize {names}", unit="img", disable=len(jobs) < 2):
        target = output_path(source, folder, style, output, many)
        try:
            if target.resolve() in inputs:
                raise FastNSTError(f"{source}: the output {target} would overwrite an input; choose another -o")
            if is_video(source):
                stylize_video(source, target, model, device=device, max_size=args.max_size,
                              preserve_color=args.preserve_color, strength=args.strength, tile=args.tile or 0,
                              match_tone=args.match_tone,
                              batch_size=args.batch_size, crf=args.crf, preset=args.preset, limit=args.frames,
                              allow_partial=args.allow_partial)
            else:
                image = stylize(source, model, max_size=args.max_size, device=device,
                                preserve_color=args.preserve_color, strength=args.strength, tile=args.tile,
                                match_tone=args.match_tone)
                save_image(image, target)
            tqdm.write(f"{source} -> {target}") if many else print(f"{source} -> {target}")
        except FastNSTError as exc:
            say(f"error: {exc}")
            failed += 1
        except (OSError, RuntimeError) as exc:  # disk full, out of memory, ...
            say(f"error: {source}: {first_line(exc)}")
            failed += 1
    return failed


def _webcam(args: argparse.Namespace) -> int:
    import torch

    from ..video.webcam import run_webcam  # needs OpenCV

    session = run_webcam(args.webcam, args.ckpt, style=args.style, window=not args.no_window, output=args.output,
                         snapshot_dir=args.snapshot_dir, max_size=args.max_size, preserve_color=args.preserve_color,
                         strength=args.strength, match_tone=args.match_tone, frames=args.frames, device=args.device,
                         precision=args.precision, compile=args.compile, backend=args.backend, crf=args.crf,
                         preset=args.preset, say=print)
    if session.recorded is not None:
        print(f"recorded {session.frames} frames -> {session.recorded}")
    if session.frames_per_s is not None:
        print(f"{session.frames} frames at {session.width}x{session.height}: {session.frames_per_s:.2f} frames/s "
              f"on {session.device} ({torch.get_num_threads()} threads)")
    if session.interrupted:
        say("interrupted")
        return 130
    return 0


def _list_styles(args: argparse.Namespace) -> int:
    from ..checkpoint import load_checkpoint

    for path in args.ckpt:
        names = load_checkpoint(path).style_names
        print(f"{path}: {len(names)} style{'s' * (len(names) > 1)}")
        for i, name in enumerate(names):
            print(f"  {i}  {name}")
    return 0


def _infer(args: argparse.Namespace) -> int:
    if args.list_styles:
        return _list_styles(args)
    check_options(args)
    if args.webcam is not None:
        if args.inputs:
            raise FastNSTError(f"--webcam takes no input files (got {args.inputs[0]}); use --webcam PATH for a file")
        return _webcam(args)
    if args.no_window or args.snapshot_dir:
        raise FastNSTError(f"{'--no-window' if args.no_window else '--snapshot-dir'} is for --webcam")
    # Files take one checkpoint; what argparse put after it are inputs (`--ckpt a.pt photo.jpg`).
    args.ckpt, extra = args.ckpt[0], args.ckpt[1:]
    if any(Path(e).suffix.lower() in CHECKPOINT_SUFFIXES for e in extra):
        raise FastNSTError("several checkpoints are for --webcam; stylize files with one --ckpt at a time")
    args.inputs = args.inputs + extra
    if not args.inputs:
        raise FastNSTError("no input given: image or video files, folders, or --webcam")
    return _stylize_files(args)


def main(argv: Sequence[str] | None = None) -> int:
    return run(_infer, get_parser(), argv)
