"""Argument parsers and main functions for train.py / infer.py and the console scripts.

Only this module prints errors and picks exit codes: the package raises FastNSTError.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Callable, Sequence

from .errors import FastNSTError


def _run(main: Callable[[argparse.Namespace], int], parser: argparse.ArgumentParser,
         argv: Sequence[str] | None) -> int:
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        return main(args)
    except FastNSTError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _layers(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got '{text}'") from None


# ----------------------------------------------------------------------------------------- train
def get_train_parser() -> argparse.ArgumentParser:
    # Every default is None: unset flags fall back to TrainConfig's defaults, or on --resume to the
    # values stored in the checkpoint.
    p = argparse.ArgumentParser(prog="train.py", description="Train a fast style transfer network for one style image.",
                                argument_default=None)
    g = p.add_argument_group("style and data")
    g.add_argument("--style", help="style image (the painting)")
    g.add_argument("--data", help="training photos: a local folder (recursive) or a Hugging Face dataset id "
                   "(default: COCO streamed from the hub)")
    g.add_argument("--image-size", type=int, help="training crop size in pixels (default 256)")
    g.add_argument("--batch-size", type=int, help="images per step and process (default 4; under torchrun the "
                   "effective batch is this times the number of processes)")
    g.add_argument("--workers", type=int, help="data loader processes (default 2)")
    g.add_argument("--val-dir", help="images for the TensorBoard sample grid (default: the first training images)")
    g = p.add_argument_group("schedule")
    g.add_argument("--steps", type=int, help="optimizer steps (default 40000)")
    g.add_argument("--epochs", type=float, help="passes over a local --data folder, instead of --steps")
    g.add_argument("--lr", type=float, help="Adam learning rate (default 1e-3)")
    g.add_argument("--seed", type=int, help="random seed (default 0)")
    g.add_argument("--device", help="auto (default), cpu, cuda, cuda:N or mps")
    g.add_argument("--amp", choices=["auto", "off", "bf16", "fp16"], help="mixed precision (default auto: bf16 on "
                   "GPUs that have it, else fp16 with loss scaling; bf16 on CPUs with native bf16; else off)")
    g.add_argument("--arch", choices=["johnson", "light"], help="network: johnson (default, Johnson et al.) or "
                   "light (a tenth of the work, for real time on a CPU; some quality cost, see README)")
    g.add_argument("--compile", action="store_true", default=None, help="torch.compile the net and the loss net "
                   "(slow first steps, faster after)")
    g = p.add_argument_group("losses")
    g.add_argument("--loss-net", choices=["vgg16", "vgg19"], help="loss network (default vgg16)")
    g.add_argument("--loss-weights", help="local VGG weights (torchvision features state dict) instead of "
                   "downloading ImageNet weights; 'random' for an untrained net (tests only)")
    g.add_argument("--content-layers", type=_layers, help="comma-separated, e.g. relu2_2 (default) or relu3_3")
    g.add_argument("--style-layers", type=_layers, help="comma-separated (default relu1_2,relu2_2,relu3_3,relu4_3)")
    g.add_argument("--style-layer-weights", type=_floats, help="comma-separated weight per style layer (default 1 each)")
    g.add_argument("--content-weight", type=float, help="default 1")
    g.add_argument("--style-weight", type=float, help="default 1e4")
    g.add_argument("--tv-weight", type=float, help="total variation weight (default 1e-2)")
    g.add_argument("--stability-weight", type=float, help="video stability: penalize output changes under small "
                   "synthetic motion and noise, so frames flicker less (default 3e2; 0 turns it off)")
    g.add_argument("--style-size", type=int, help="long side the style image is seen at: sets the brush stroke "
                   "scale (default 512)")
    g = p.add_argument_group("output")
    g.add_argument("--out", help="small inference checkpoint (default <logdir>/<style>.pt)")
    g.add_argument("--logdir", help="TensorBoard folder (default runs/<style>-<time>)")
    g.add_argument("--sample-every", type=int, help="steps between sample grids (default 500)")
    g.add_argument("--log-every", type=int, help="steps between scalar logs (default 10)")
    g.add_argument("--ckpt-every", type=int, help="steps between training checkpoints (default 1000)")
    g.add_argument("--ckpt-path", help="training checkpoint (default <logdir>/checkpoint.pt)")
    g.add_argument("--resume", help="continue from a training checkpoint; its stored options apply unless given again")
    g.add_argument("--no-progress", dest="progress", action="store_false", default=None, help="no progress bar")
    return p


def _train(args: argparse.Namespace) -> int:
    from .training import train

    options = {k: v for k, v in vars(args).items() if v is not None}
    if "resume" not in options and "style" not in options:
        raise FastNSTError("no style image given: --style PATH")
    out = train(**options)
    if os.environ.get("RANK", "0") == "0":  # under torchrun, rank 0 speaks for the group
        print(f"saved {out}")
    return 0


def train_main(argv: Sequence[str] | None = None) -> int:
    return _run(_train, get_train_parser(), argv)


# ----------------------------------------------------------------------------------------- infer
def get_infer_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="infer.py", description="Stylize images and videos with a trained network, "
                                "or a camera live (--webcam).")
    # "*" and "+": `infer.py --ckpt a.pt photo.jpg` still works, see _infer.
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="image or video files (mp4, mov, mkv, webm, avi), "
                   "or folders of them")
    p.add_argument("--ckpt", required=True, nargs="+", help="checkpoint (fastnst .pt, or a PyTorch "
                   "fast_neural_style .pth/.model); with --webcam, several to switch between")
    p.add_argument("-o", "--output", help="output file (one input) or folder (several); default: beside each "
                   "input as <name>_<style>.<ext>")
    p.add_argument("--max-size", type=int, help="shrink inputs so the long side is at most this")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N or mps")
    p.add_argument("--preserve-color", action="store_true", help="keep the photo's colours (luminance-only transfer)")
    p.add_argument("--strength", type=float, default=1.0, help="0..1 blend of stylized and original (default 1)")
    g = p.add_argument_group("speed and size (images and videos)")
    g.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"], default="auto", help="auto (default): "
                   "fp16 on CUDA, bf16 on CPUs with AMX (where it is several times faster), else fp32")
    g.add_argument("--compile", action="store_true", help="torch.compile the net: a slow start (minutes on a small "
                   "CPU), then the fastest")
    g.add_argument("--tile", type=int, metavar="SIZE", help="stylize images in SIZE x SIZE tiles with blended "
                   "seams, in bounded memory (default: tiles of 1024 above 3840x2160 pixels; 0: never)")
    g.add_argument("--backend", choices=["torch", "onnxruntime"], default="torch", help="onnxruntime (CPU): "
                   "--ckpt is an .onnx file from fastnst-export, or a checkpoint exported on the fly")
    g = p.add_argument_group("video")
    g.add_argument("--crf", type=int, default=18, help="H.264 quality, 0 (lossless) .. 51; +6 halves the file "
                   "(default 18, visually lossless)")
    g.add_argument("--preset", default="medium", choices=["ultrafast", "superfast", "veryfast", "faster", "fast",
                   "medium", "slow", "slower", "veryslow"], metavar="PRESET",
                   help="x264 speed for size: ultrafast .. veryslow (default medium)")
    g.add_argument("--batch-size", type=int, default=4, help="video frames per forward pass (default 4)")
    g.add_argument("--frames", type=int, metavar="N", help="only the first N frames of each video (or of the webcam)")
    g = p.add_argument_group("webcam")
    g.add_argument("--webcam", nargs="?", const="0", metavar="INDEX|PATH", help="live demo from camera INDEX "
                   "(default 0), or a video file played as the camera; keys: n/p next/previous --ckpt, "
                   "o original side by side, s snapshot, q quit")
    g.add_argument("--no-window", action="store_true", help="with --webcam: no window, record to --output")
    return p


CHECKPOINT_SUFFIXES = {".pt", ".pth", ".model", ".ckpt", ".onnx"}


def _infer(args: argparse.Namespace) -> int:
    if args.webcam is not None:
        from .webcam import run_webcam

        if args.inputs:
            raise FastNSTError(f"--webcam takes no input files (got {args.inputs[0]}); use --webcam PATH for a file")
        return run_webcam(args)
    if args.no_window:
        raise FastNSTError("--no-window is for --webcam")
    # Files take one checkpoint; what argparse put after it are inputs (`--ckpt a.pt photo.jpg`).
    args.ckpt, extra = args.ckpt[0], args.ckpt[1:]
    if any(Path(e).suffix.lower() in CHECKPOINT_SUFFIXES for e in extra):
        raise FastNSTError("several checkpoints are for --webcam; stylize files with one --ckpt at a time")
    args.inputs = args.inputs + extra
    if not args.inputs:
        raise FastNSTError("no input given: image or video files, folders, or --webcam")
    from .infer import run_inference

    return run_inference(args)


def infer_main(argv: Sequence[str] | None = None) -> int:
    return _run(_infer, get_infer_parser(), argv)


# --------------------------------------------------------------------------------------- flicker
def get_flicker_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m fastnst.flicker",
                                description="Temporal flicker of stylized video: the warping error between "
                                "consecutive frames (optical flow on the original frames, occlusions left out), "
                                "for each checkpoint and for the unstylized video as the floor. Lower is steadier.")
    p.add_argument("videos", nargs="*", metavar="VIDEO", help="video files")
    p.add_argument("--ckpt", required=True, nargs="+", help="one or more checkpoints to compare")
    p.add_argument("--frames", type=int, default=60, help="first N frames of each video (default 60)")
    p.add_argument("--max-size", type=int, default=384, help="shrink frames to this long side (default 384)")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N or mps")
    return p


def _flicker(args: argparse.Namespace) -> int:
    from .flicker import measure
    from .video import is_video

    # `--ckpt a.pt clip.mp4`: argparse gives the clip to --ckpt; a checkpoint is never a video file.
    args.videos += [c for c in args.ckpt if is_video(c)]
    args.ckpt = [c for c in args.ckpt if not is_video(c)]
    if not args.videos or not args.ckpt:
        raise FastNSTError("give video files and at least one --ckpt, e.g. --ckpt mosaic.pt clip.mp4")
    for video in args.videos:
        report = measure(video, args.ckpt, frames=args.frames, max_size=args.max_size, device=args.device)
        print(f"{report.video.name}: {report.frames} frames at {report.width}x{report.height}, warping error")
        print(f"  {'original (unstylized)':<40} {report.original:.5f}")
        for label, error in report.stylized.items():
            print(f"  {label:<40} {error:.5f}")
    return 0


def flicker_main(argv: Sequence[str] | None = None) -> int:
    return _run(_flicker, get_flicker_parser(), argv)


# ----------------------------------------------------------------------------- optimize, evaluate
def _add_loss_arguments(p: argparse.ArgumentParser, defaults: str) -> None:
    g = p.add_argument_group("losses", f"unset options are {defaults}")
    g.add_argument("--loss-net", choices=["vgg16", "vgg19"], help="loss network")
    g.add_argument("--loss-weights", help="local VGG weights (torchvision features state dict); "
                   "'random' for an untrained net (tests only)")
    g.add_argument("--content-layers", type=_layers, help="comma-separated, e.g. relu2_2")
    g.add_argument("--style-layers", type=_layers, help="comma-separated, e.g. relu1_2,relu2_2,relu3_3,relu4_3")
    g.add_argument("--style-layer-weights", type=_floats, help="comma-separated weight per style layer")
    g.add_argument("--content-weight", type=float)
    g.add_argument("--style-weight", type=float)
    g.add_argument("--tv-weight", type=float, help="total variation weight")
    g.add_argument("--style-size", type=int, help="long side the style image is seen at")


_LOSS_OPTIONS = ("loss_net", "loss_weights", "content_layers", "style_layers", "style_layer_weights",
                 "content_weight", "style_weight", "tv_weight", "style_size")


def _loss_options(args: argparse.Namespace) -> dict:
    return {k: getattr(args, k) for k in _LOSS_OPTIONS if getattr(args, k) is not None}


def get_optimize_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m fastnst.optimize",
                                description="Stylize one image by optimizing its pixels (Gatys et al.): slow, "
                                "no trained network needed, the same losses as training.")
    p.add_argument("content", help="the photo")
    p.add_argument("--style", required=True, help="the style image")
    p.add_argument("-o", "--output", help="output image (default: beside the photo as <name>_<style>_optimized.<ext>)")
    p.add_argument("--steps", type=int, default=300, help="loss network passes, one per step (default 300)")
    p.add_argument("--size", type=int, default=512, help="resize the photo to this long side (default 512)")
    p.add_argument("--init", choices=["content", "noise"], default="content", help="start from the photo "
                   "(default) or from white noise")
    p.add_argument("--optimizer", choices=["lbfgs", "adam"], default="lbfgs", help="default lbfgs")
    p.add_argument("--lr", type=float, help="Adam's step size, pixels being 0..1 (default 0.02); "
                   "L-BFGS needs none (line search)")
    p.add_argument("--save-every", type=int, help="also save <output>_<step>.<ext> every N steps")
    p.add_argument("--preserve-color", action="store_true", help="keep the photo's colours (luminance-only transfer)")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise start (default 0)")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N or mps")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    _add_loss_arguments(p, "training's defaults (vgg16 with torchvision's ImageNet weights, relu2_2 content, "
                        "content 1, style 3e4, tv 1e-2, style size 512)")
    return p


def _optimize(args: argparse.Namespace) -> int:
    from .images import IMAGE_EXTENSIONS
    from .optimize import optimize

    output = args.output
    if output is None:
        content = Path(args.content)
        ext = content.suffix.lower() if content.suffix.lower() in IMAGE_EXTENSIONS else ".png"
        output = content.with_name(f"{content.stem}_{Path(args.style).stem}_optimized{ext}")
    _, history = optimize(args.content, args.style, output=output, steps=args.steps, size=args.size,
                          init=args.init, optimizer=args.optimizer, lr=args.lr, save_every=args.save_every,
                          preserve_color=args.preserve_color, device=args.device, seed=args.seed,
                          progress=args.progress, return_history=True, **_loss_options(args))
    first, last, steps = history[0], history[-1], max(len(history) - 1, 1)
    print(f"{args.content} -> {output}: {steps} steps in {last['seconds']:.1f} s "
          f"({last['seconds'] / steps:.3g} s/step), loss {first['total']:.4g} -> {last['total']:.4g} "
          f"(content {last['content']:.4g}, style {last['style']:.4g}, tv {last['tv']:.4g})")
    return 0


def optimize_main(argv: Sequence[str] | None = None) -> int:
    return _run(_optimize, get_optimize_parser(), argv)


def get_evaluate_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m fastnst.evaluate",
                                description="Content and style losses of a trained network's outputs, its speed, "
                                "and the optimizer steps it is worth.")
    p.add_argument("--ckpt", required=True, help="checkpoint to evaluate")
    p.add_argument("--content", required=True, help="folder of photos (or one photo)")
    p.add_argument("--style", help="style image (default: the one the checkpoint was trained on, if it is here)")
    p.add_argument("--size", type=int, default=256, help="resize photos to this long side (default 256)")
    p.add_argument("--images", type=int, help="use only the first N photos")
    p.add_argument("--json", help="also write the full report here")
    p.add_argument("--vs-optimize", type=int, metavar="N", help="run the optimizer up to N steps per photo and "
                   "report the step where its loss falls below the network's")
    p.add_argument("--vs-init", choices=["noise", "content"], default="noise", help="optimizer start (default "
                   "noise, as Johnson et al.'s baseline)")
    p.add_argument("--vs-optimizer", choices=["lbfgs", "adam"], default="lbfgs", help="default lbfgs")
    p.add_argument("--vs-lr", type=float, help="Adam's step size (default 0.02)")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N or mps")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    _add_loss_arguments(p, "the checkpoint's (its loss network, layers and training weights)")
    return p


def _evaluate(args: argparse.Namespace) -> int:
    from .evaluate import evaluate, format_table, write_json

    report = evaluate(args.ckpt, args.content, args.style, size=args.size, images=args.images,
                      vs_optimize=args.vs_optimize, vs_init=args.vs_init, vs_optimizer=args.vs_optimizer,
                      vs_lr=args.vs_lr, device=args.device, progress=args.progress, **_loss_options(args))
    print(format_table(report))
    if args.json:
        print(f"wrote {write_json(report, args.json)}")
    return 0


def evaluate_main(argv: Sequence[str] | None = None) -> int:
    return _run(_evaluate, get_evaluate_parser(), argv)


# ---------------------------------------------------------------------------------------- export
def get_export_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fastnst-export", description="Export a trained network to ONNX (dynamic "
                                "batch, height and width; for onnxruntime) and/or TorchScript. Each export is "
                                "checked against PyTorch on a 67x45 image.")
    p.add_argument("ckpt", help="checkpoint (fastnst .pt, or a PyTorch fast_neural_style .pth/.model)")
    p.add_argument("--onnx", metavar="PATH", help="write an ONNX model here")
    p.add_argument("--torchscript", metavar="PATH", help="write a TorchScript module here (torch.jit.load)")
    p.add_argument("--no-check", dest="check", action="store_false", help="skip the comparison with PyTorch")
    return p


def _export(args: argparse.Namespace) -> int:
    from .export import run_export

    for line in run_export(args.ckpt, args.onnx, args.torchscript, check=args.check):
        print(line)
    return 0


def export_main(argv: Sequence[str] | None = None) -> int:
    return _run(_export, get_export_parser(), argv)
