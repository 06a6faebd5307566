"""fastnst stylize (and infer.py): images, folders and videos in, stylized
files out (never overwriting an input, one failed file not stopping the rest), or the webcam demo."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

from tqdm import tqdm

from ..device import BACKENDS, DEVICE_HELP, INFERENCE_PRECISIONS
from ..errors import FastNSTError
from ..inference import RuntimeSpec, StylizeOptions, VideoOptions
from ..inference.tiling import DEFAULT_TILE
from ..progress import show_progress
from ..video.jobs import plan_jobs
from ..video.pacing import DEFAULT_FPS
from ..video.writer import DEFAULT_CRF, DEFAULT_PRESET, PRESETS
from .common import flag_message, run, say

CHECKPOINT_SUFFIXES = {".pt", ".pth", ".model", ".ckpt", ".onnx"}


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="infer.py", description="Stylize images and videos with a trained network, "
                                "or with any painting (--style PAINTING: the universal model), or a camera live "
                                "(--webcam).")
    # "*" and "+": `infer.py --ckpt a.pt photo.jpg` still works, see _infer.
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="image or video files (mp4, mov, mkv, webm, avi), "
                   "or folders of them")
    p.add_argument("--ckpt", nargs="+", help="checkpoint (fastnst .pt, or a PyTorch fast_neural_style "
                   ".pth/.model, or a universal model); with --webcam, several to switch between (default: with "
                   "--style PAINTING the bundled universal model, checkpoints/universal.pt; else with --webcam the "
                   "bundled real-time networks, checkpoints/realtime/*.pt)")
    p.add_argument("--style", nargs="+", metavar="STYLE", help="a painting (image file) for the universal model, "
                   "or a blend a.jpg=0.6,b.jpg=0.4; for a network of several styles: one by name or index, a blend "
                   "(mosaic=0.6,candy=0.4; weights normalized), or all (one output per style); default: its first "
                   "style. With --webcam: the paintings or styles n/p step through (default all)")
    p.add_argument("--list-styles", action="store_true", help="print the styles --ckpt holds, and exit")
    p.add_argument("-o", "--output", help="output file (one input) or folder (several); default: beside each "
                   "input as <name>_<style>.<ext>")
    p.add_argument("--max-size", type=int, help="shrink inputs so the long side is at most this (with --webcam: "
                   "a fixed working size instead of the one --fps picks)")
    p.add_argument("--device", default="auto", help=DEVICE_HELP)
    p.add_argument("--preserve-color", action="store_true", help="keep the photo's colours (luminance-only transfer)")
    p.add_argument("--strength", type=float, default=1.0, help="0..1 blend of stylized and original (default 1); "
                   "for the universal model the transform's alpha, a blend of features (0: the photo)")
    p.add_argument("--match-tone", action="store_true", help="bring the output's brightness and contrast back to "
                   "the photo's (luminance mean and spread; on video and the webcam smoothed over time)")
    p.add_argument("--no-steady", dest="steady", action="store_false", help="universal model, video and webcam: "
                   "whiten each frame with its own statistics (default: averaged over the recent frames, steadier)")
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
                   "--ckpt is an .onnx file from fastnst export, or a checkpoint exported once and cached")
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
                   "or just measure frames/s, latency and working size)")
    g.add_argument("--fps", metavar="TARGET", help=f"with --webcam: the frame rate to hold (default {DEFAULT_FPS:g}): "
                   "frames are stylized at the largest size that reaches it and shown at the camera's; "
                   "--max-size fixes that size instead")
    g.add_argument("--snapshot-dir", metavar="DIR", help="with --webcam: where the s key writes its PNGs "
                   "(default ~/Pictures/fastnst)")
    return p


def stylize_options(args: argparse.Namespace) -> StylizeOptions:
    """The StylizeOptions the flags give, checked before any work starts."""
    return StylizeOptions(max_size=args.max_size, preserve_color=args.preserve_color, strength=args.strength,
                          match_tone=args.match_tone, steady=args.steady, tile=args.tile).check()


def video_options(args: argparse.Namespace) -> VideoOptions:
    """The VideoOptions the flags give, checked before any work starts."""
    return VideoOptions(batch_size=args.batch_size, crf=args.crf, preset=args.preset, frames=args.frames,
                        allow_partial=args.allow_partial).check()


def runtime_spec(args: argparse.Namespace) -> RuntimeSpec:
    """How to run the model, as the flags give it, checked before any work starts."""
    return RuntimeSpec(device=args.device, precision=args.precision, backend=args.backend, compile=args.compile).check()


def _stylize_files(args: argparse.Namespace, options: StylizeOptions, video: VideoOptions) -> int:
    jobs = plan_jobs(args.inputs, args.ckpt, output=args.output, style=args.style, runtime=runtime_spec(args),
                     tile=args.tile)
    for message in jobs.errors:
        say(f"error: {message}")
    # A bar only on a terminal (in a log its carriage returns would glue the error lines to it).
    results = tqdm(jobs.run(options, video), total=len(jobs.jobs), desc=f"stylize {jobs.names}", unit="img",
                   disable=len(jobs.jobs) < 2 or not show_progress())
    failed_inputs, reported = set(), {}
    for job, error in results:
        if error is not None:
            failed_inputs.add(job.source)
            if id(error) not in reported:  # an unreadable input comes once per style: said once
                reported[id(error)] = error
                say(f"error: {flag_message(error)}")
        elif jobs.many:
            tqdm.write(f"{job.source} -> {job.target}")
        else:
            print(f"{job.source} -> {job.target}")
    failed = len(failed_inputs) + len(jobs.errors)
    if failed:  # inputs, not input x style outputs
        say(f"{failed} of {jobs.inputs + len(jobs.errors)} input(s) failed")
        return 1
    return 0


def _webcam(args: argparse.Namespace, options: StylizeOptions, video: VideoOptions) -> int:
    import torch

    from ..video.live import run_webcam  # needs OpenCV

    session = run_webcam(args.webcam, args.ckpt or (), options, video=video, style=args.style, window=not args.no_window,
                         output=args.output, fps=_fps(args.fps), snapshot_dir=args.snapshot_dir,
                         runtime=runtime_spec(args), say=print)
    if session.recorded is not None:
        print(f"recorded {session.frames} frames -> {session.recorded}")
    if session.frames_per_s is not None:
        print(f"{session.frames} frames at {session.width}x{session.height}: {session.frames_per_s:.2f} frames/s "
              f"on {session.device} ({torch.get_num_threads()} threads), after the warm-up")
    if session.latency_ms is not None:
        median, p95 = session.latency_ms
        width, height = session.working_size
        print(f"latency capture -> shown: {median:.0f} ms median, {p95:.0f} ms p95; working size {width}x{height}")
    if session.interrupted:
        say("interrupted")
        return 130
    return 0


def _fps(text: str | None) -> float:
    """--fps as a number (whether it is above 0 and finite, run_webcam checks)."""
    if text is None:
        return DEFAULT_FPS
    try:
        return float(text)
    except ValueError:
        raise FastNSTError(f"--fps must be a number of frames per second above 0, got '{text}'") from None


def _list_styles(args: argparse.Namespace) -> int:
    from ..checkpoint import load_checkpoint
    from ..inference.loader import file_kind

    for path in args.ckpt:
        if file_kind(path) == "onnx":
            from ..inference.onnx_runtime import describe_onnx  # onnxruntime is an optional dependency

            names = describe_onnx(path)[0]
        else:
            names = load_checkpoint(path).style_names
        print(f"{path}: {len(names)} style{'s' * (len(names) > 1)}")
        for i, name in enumerate(names):
            print(f"  {i}  {name}")
    return 0


def _choose_model(args: argparse.Namespace) -> None:
    """Fill in --ckpt where it may be left out (with a painting, the bundled universal model), and
    give files one --style value: what argparse put after it are inputs, as with `--style mosaic
    photo.jpg`. Which styles a model takes, the loader says (inference/loader.py)."""
    from ..inference.universal import bundled_universal

    if args.ckpt is None:
        if args.list_styles or (args.style is None and args.webcam is None):
            raise FastNSTError("give --ckpt CKPT (a trained network), or --style PAINTING for the universal model "
                               "(only --webcam has a default of its own: the bundled real-time networks)")
        if args.style is not None:
            args.ckpt = [str(bundled_universal())]
    if args.style is not None and (args.webcam is None or len(args.style) == 1):
        args.style, extra = args.style[0], args.style[1:]  # the webcam steps through several (n/p)
        args.inputs = extra + args.inputs


def _infer(args: argparse.Namespace) -> int:
    _choose_model(args)
    if args.list_styles:
        return _list_styles(args)
    options, video = stylize_options(args), video_options(args)
    if args.webcam is not None:
        if args.inputs:
            raise FastNSTError(f"--webcam takes no input files (got {args.inputs[0]}); use --webcam PATH for a file")
        return _webcam(args, options, video)
    webcam_only = [flag for flag, given in (("--no-window", args.no_window), ("--snapshot-dir", args.snapshot_dir),
                                            ("--fps", args.fps is not None)) if given]
    if webcam_only:
        raise FastNSTError(f"{webcam_only[0]} is for --webcam")
    # Files take one checkpoint; what argparse put after it are inputs (`--ckpt a.pt photo.jpg`).
    args.ckpt, extra = args.ckpt[0], args.ckpt[1:]
    if any(Path(e).suffix.lower() in CHECKPOINT_SUFFIXES for e in extra):
        raise FastNSTError("several checkpoints are for --webcam; stylize files with one --ckpt at a time")
    args.inputs = args.inputs + extra
    if not args.inputs:
        raise FastNSTError("no input given: image or video files, folders, or --webcam")
    return _stylize_files(args, options, video)


def main(argv: Sequence[str] | None = None) -> int:
    return run(_infer, get_parser(), argv)
