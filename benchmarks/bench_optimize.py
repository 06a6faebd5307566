"""Seconds per optimization step (fastnst.optimize), Adam and L-BFGS side by side with their
baseline, one bare loss-network forward + backward pass, in the same process.

    python benchmarks/bench_optimize.py --loss-net vgg19 --loss-weights vgg19-imagenet-features.pth

The variants run in turn, round after round, so load from other programs hits them alike; each
number is the median over all timed steps (the first step of every run is left out: warm-up).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Sequence

import torch

from fastnst.device import resolve_device
from fastnst.errors import FastNSTError
from fastnst.images import open_rgb, resize_long_side, to_tensor
from fastnst.loss import LossConfig, Objective
from fastnst.optimization import run_optimization

SHARED = Path(__file__).resolve().parents[2] / "shared"


def bare_passes(objective: Objective, photo: torch.Tensor, steps: int) -> list[float]:
    """Seconds of each loss evaluation with its backward pass, and no optimizer at all."""
    targets = objective.content_targets(photo)
    image = photo.clone(memory_format=torch.contiguous_format).requires_grad_(True)
    times = []
    for _ in range(steps + 1):
        tick = time.perf_counter()
        objective(image, targets)["total"].backward()
        times.append(time.perf_counter() - tick)
    return times[1:]


def step_times(history: list[dict[str, float]]) -> list[float]:
    """Seconds between consecutive loss evaluations, less the first (warm-up) and the last (the
    final image is evaluated without a backward pass)."""
    seconds = [h["seconds"] for h in history]
    return [b - a for a, b in zip(seconds, seconds[1:])][1:-1]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--content", default=str(SHARED / "data" / "content" / "val" / "butterfly.jpg"))
    p.add_argument("--style", default=str(SHARED / "data" / "style" / "starry_night.jpg"))
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--steps", type=int, default=10, help="steps per run, at least 3 (default 10)")
    p.add_argument("--rounds", type=int, default=3, help="runs of each variant (default 3)")
    p.add_argument("--loss-net", default="vgg19")
    p.add_argument("--loss-weights", help="default: torchvision's ImageNet download")
    p.add_argument("--device", default="auto")
    args = p.parse_args(argv)
    if args.steps < 3 or args.rounds < 1:
        p.error("--steps must be at least 3 and --rounds at least 1")
    try:
        device = resolve_device(args.device)
        objective = Objective(args.style, LossConfig(loss_net=args.loss_net, loss_weights=args.loss_weights), device)
        photo = to_tensor(resize_long_side(open_rgb(args.content), args.size, enlarge=True)).to(device)
    except FastNSTError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    times: dict[str, list[float]] = {"loss pass (baseline)": [], "adam": [], "lbfgs": []}
    for _ in range(args.rounds):
        times["loss pass (baseline)"] += bare_passes(objective, photo, args.steps)
        for name in ("adam", "lbfgs"):
            _, history = run_optimization(objective, photo, steps=args.steps, optimizer=name)
            times[name] += step_times(history)
    print(f"{args.loss_net} at {tuple(photo.shape[-2:])} (HxW) on {device}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; medians of {args.rounds} runs of {args.steps} steps")
    print("| variant | s/step | steps/min |\n|---|---|---|")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"| {name} | {median:.3g} | {60 / median:.3g} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
