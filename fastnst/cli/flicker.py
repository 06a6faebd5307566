"""fastnst flicker: how much stylized video flickers."""

from __future__ import annotations

import argparse
from typing import Sequence

from ..errors import FastNSTError
from ..video import is_video
from ..video.flicker import measure
from .common import add_device_argument, run


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fastnst flicker",
                                description="Temporal flicker of stylized video: the warping error between "
                                "consecutive frames (optical flow on the original frames, occlusions left out), "
                                "for each checkpoint and for the unstylized video as the floor. Lower is steadier.")
    p.add_argument("videos", nargs="*", metavar="VIDEO", help="video files")
    p.add_argument("--ckpt", required=True, nargs="+", help="one or more checkpoints to compare")
    p.add_argument("--style", metavar="PAINTING", help="the painting, for a universal model among --ckpt")
    p.add_argument("--frames", type=int, default=60, help="first N frames of each video (default 60)")
    p.add_argument("--max-size", type=int, default=384, help="shrink frames to this long side (default 384)")
    add_device_argument(p)
    return p


def _flicker(args: argparse.Namespace) -> int:
    # `--ckpt a.pt clip.mp4`: argparse gives the clip to --ckpt; a checkpoint is never a video file.
    args.videos += [c for c in args.ckpt if is_video(c)]
    args.ckpt = [c for c in args.ckpt if not is_video(c)]
    if not args.videos or not args.ckpt:
        raise FastNSTError("give video files and at least one --ckpt, e.g. --ckpt mosaic.pt clip.mp4")
    for video in args.videos:
        report = measure(video, args.ckpt, frames=args.frames, max_size=args.max_size, device=args.device,
                         style=args.style)
        print(f"{report.video.name}: {report.frames} frames at {report.width}x{report.height}, warping error")
        print(f"  {'original (unstylized)':<40} {report.original:.5f}")
        for label, error in report.stylized.items():
            print(f"  {label:<40} {error:.5f}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(_flicker, get_parser(), argv)
