"""Training-step benchmark: training.py's fast path vs. a plain eager fp32 loop with the same losses.

    python -m fastnst.bench_train                      # batch 4 x 256², VGG16, 5 timed steps each
    python -m fastnst.bench_train --ablation           # plus what each piece of the fast path buys
    python -m fastnst.bench_train --compile --json out.json

The loss net has random weights (`loss_weights="random"`): the arithmetic is the same as with
ImageNet weights, and the benchmark runs offline. Steps of all variants are interleaved (plain,
fast, plain, fast, ...) so that load from other programs on the machine hits them alike; each
result is the median of `repeats` timed steps after a warm-up step.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import time
from typing import Callable

import torch
import torch.nn.functional as F

from .losses import gram_matrix, total_variation_loss
from .lossnet import RANDOM_WEIGHTS, LossNet
from .model import TransformerNet
from .stylize import resolve_device
from .training import Objective, TrainConfig, make_objective, memory_format_for, resolve_amp, train_step


def plain_step(model: TransformerNet, lossnet: LossNet, optimizer: torch.optim.Optimizer, x: torch.Tensor,
               style: torch.Tensor, objective: Objective, style_grams: dict | None = None) -> torch.Tensor:
    """One step the way straightforward code writes it: fp32, NCHW, the loss net run in full on
    the photos for the content targets, and the style image's Gram matrices recomputed every step
    (unless `style_grams` are given)."""
    o = objective
    y = model(x)
    features_y = lossnet(y)
    features_x = lossnet(x)
    if style_grams is None:
        style_grams = {name: gram_matrix(f) for name, f in lossnet(style).items()}
    content = sum(F.mse_loss(features_y[name], features_x[name]) for name in o.content_layers)
    style_terms = [o.style_layer_weights[name] * F.mse_loss(gram_matrix(features_y[name]),
                                                            style_grams[name].expand(x.shape[0], -1, -1))
                   for name in o.style_layer_weights]
    total = o.content_weight * content + o.style_weight * sum(style_terms) + o.tv_weight * total_variation_loss(y)
    optimizer.zero_grad()
    total.backward()
    optimizer.step()
    return total.detach()


def _variant(name: str, device: torch.device, lossnet: LossNet, x: torch.Tensor, style: torch.Tensor,
             fast: bool, grams_once: bool = False, amp: str = "off", channels_last: bool = False,
             fused: bool = False, compile: bool = False) -> tuple[str, Callable[[], object], str]:
    """(name, a function doing one step with its own net and optimizer, precision in words)."""
    config = TrainConfig(style="bench", stability_weight=0.0)  # the loss weights and layers of `train`
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    torch.manual_seed(0)  # every variant starts from the same weights
    model = TransformerNet().to(device, memory_format=memory_format)
    lossnet = copy.deepcopy(lossnet).to(device, memory_format=memory_format)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, fused=fused or None)
    objective = make_objective(config, lossnet, style)
    if not fast:
        grams = objective.style_grams if grams_once else None
        return name, lambda: plain_step(model, lossnet, optimizer, x, style, objective, grams), "fp32"
    amp_dtype = resolve_amp(amp, device)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    step_model, step_lossnet = (torch.compile(model), torch.compile(lossnet)) if compile else (model, lossnet)
    x_fast = x.contiguous(memory_format=memory_format)
    precision = str(amp_dtype).removeprefix("torch.") if amp_dtype else "fp32"
    return name, lambda: train_step(step_model, step_lossnet, optimizer, scaler, x_fast, objective, 1,
                                    amp_dtype), precision


def bench_training(repeats: int = 5, image_size: int = 256, batch_size: int = 4, loss_net: str = "vgg16",
                   device: str = "auto", compile: bool = False, ablation: bool = False,
                   threads: int | None = None) -> list[dict]:
    """Median time of one training step, fast path vs. the plain eager fp32 loop, in this process.

    The fast path is what `train` runs on this device by default: `train_step` with --amp auto,
    channels_last (CUDA, CPU), fused Adam on CUDA, content targets from a no-grad pass that stops at
    the content layer, style Grams computed once (and torch.compile when `compile`). The plain loop
    (`plain_step`) has the same losses and the same Adam, without any of that. The stability term
    is off in both (stability_weight=0): these are Johnson et al.'s losses. `threads` sets
    torch's CPU threads for the run (then restores them).

    Returns one dict per fast variant, each compared with the same plain-loop timings:
        name                   "train step fast" (with `ablation`, more rows before it, each adding
                               one piece to the plain loop: "+ style Grams once", "+ content no-grad
                               pass", "+ <dtype> autocast", "+ channels_last", "+ fused Adam")
        seconds                median seconds per step of this variant
        baseline_seconds       median seconds per step of the plain loop
        ratio                  baseline_seconds / seconds (2.0 = twice as fast)
        images_per_s           batch_size / seconds
        baseline_images_per_s  batch_size / baseline_seconds
        cpu_seconds, baseline_cpu_seconds, cpu_ratio
                               the same in CPU time of this process (all its threads): on a CPU
                               shared with other programs, what the step costs whatever the load
        precision              "bfloat16", "float16" or "fp32"
        device, image_size, batch_size, loss_net, repeats, threads   the setting
    """
    old_threads = torch.get_num_threads()
    torch.set_num_threads(threads or old_threads)
    try:
        return _bench(repeats, image_size, batch_size, loss_net, resolve_device(device), compile, ablation)
    finally:
        torch.set_num_threads(old_threads)


def _bench(repeats: int, image_size: int, batch_size: int, loss_net: str, dev: torch.device, compile: bool,
           ablation: bool) -> list[dict]:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(batch_size, 3, image_size, image_size, generator=gen).to(dev)
    style = torch.rand(1, 3, image_size, image_size, generator=gen).to(dev)
    default_amp = resolve_amp("auto", dev)
    cuda, cl = dev.type == "cuda", memory_format_for(dev) == torch.channels_last
    config = TrainConfig(style="bench")
    lossnet = LossNet(loss_net, list(dict.fromkeys(config.content_layers + config.style_layers)), RANDOM_WEIGHTS)
    common = dict(device=dev, lossnet=lossnet, x=x, style=style)
    variants = [_variant("plain", fast=False, **common)]
    if ablation:
        amp_name = str(default_amp).removeprefix("torch.") if default_amp else "no"
        variants += [
            _variant("+ style Grams once", fast=False, grams_once=True, **common),
            _variant("+ content no-grad pass", fast=True, **common),
            _variant(f"+ {amp_name} autocast", fast=True, amp="auto", **common),
            _variant("+ channels_last", fast=True, amp="auto", channels_last=True, **common),
            _variant("+ fused Adam", fast=True, amp="auto", channels_last=True, fused=True, **common),
        ]
    variants.append(_variant("train step fast", fast=True, amp="auto", channels_last=cl, fused=cuda,
                             compile=compile, **common))

    sync = torch.cuda.synchronize if cuda else (lambda: None)
    wall: dict[str, list[float]] = {name: [] for name, _, _ in variants}
    cpu: dict[str, list[float]] = {name: [] for name, _, _ in variants}
    warmup = 2 if compile else 1  # compilation, allocator, cuDNN's kernel choice
    for run in range(warmup + repeats):
        for name, step, _ in variants:
            sync()
            start, start_cpu = time.perf_counter(), time.process_time()
            step()
            sync()
            if run >= warmup:
                wall[name].append(time.perf_counter() - start)
                cpu[name].append(time.process_time() - start_cpu)

    baseline, baseline_cpu = statistics.median(wall["plain"]), statistics.median(cpu["plain"])
    rows = []
    for name, _, precision in variants[1:]:
        seconds, cpu_seconds = statistics.median(wall[name]), statistics.median(cpu[name])
        rows.append({"name": name, "seconds": seconds, "baseline_seconds": baseline, "ratio": baseline / seconds,
                     "images_per_s": batch_size / seconds, "baseline_images_per_s": batch_size / baseline,
                     "cpu_seconds": cpu_seconds, "baseline_cpu_seconds": baseline_cpu,
                     "cpu_ratio": baseline_cpu / cpu_seconds, "precision": precision, "device": str(dev),
                     "image_size": image_size, "batch_size": batch_size, "loss_net": loss_net, "repeats": repeats,
                     "threads": torch.get_num_threads()})
    return rows


def format_table(rows: list[dict]) -> str:
    lines = [f"{'variant':<24} {'s/step':>7} {'plain':>7} {'img/s':>6} {'ratio':>6}   "
             f"{'CPU s/step':>10} {'plain':>7} {'ratio':>6}"]
    for r in rows:
        lines.append(f"{r['name']:<24} {r['seconds']:7.3f} {r['baseline_seconds']:7.3f} {r['images_per_s']:6.2f} "
                     f"{r['ratio']:5.2f}x   {r['cpu_seconds']:10.3f} {r['baseline_cpu_seconds']:7.3f} "
                     f"{r['cpu_ratio']:5.2f}x")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m fastnst.bench_train", description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=5, help="timed steps per variant (default 5)")
    p.add_argument("--image-size", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--loss-net", choices=["vgg16", "vgg19"], default="vgg16")
    p.add_argument("--device", default="auto")
    p.add_argument("--compile", action="store_true", help="torch.compile the fast path")
    p.add_argument("--ablation", action="store_true", help="also time each piece of the fast path on its own")
    p.add_argument("--threads", type=int, help="CPU threads (default: torch's, one per core)")
    p.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    args = p.parse_args(argv)
    load_before = os.getloadavg()[0]
    rows = bench_training(args.repeats, args.image_size, args.batch_size, args.loss_net, args.device,
                          args.compile, args.ablation, args.threads)
    r = rows[-1]
    print(f"training step, batch {r['batch_size']} x {r['image_size']}², {r['loss_net']} loss net (random weights), "
          f"{r['device']}, torch {torch.__version__}, {r['threads']} threads, "
          f"median of {r['repeats']}; load average {load_before:.1f} -> {os.getloadavg()[0]:.1f}")
    print(format_table(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
