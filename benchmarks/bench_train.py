"""Training-step benchmark: the training loop's fast path vs. a plain eager fp32 loop with the same losses.

    python benchmarks/bench_train.py                      # batch 4 x 256², VGG16, 5 timed steps each
    python benchmarks/bench_train.py --ablation           # plus what each piece of the fast path buys
    python benchmarks/bench_train.py --compile --json out.json

The loss net has random weights (`loss_weights="random"`): the arithmetic is the same as with
ImageNet weights, and the benchmark runs offline. Steps of all variants are interleaved (plain,
fast, plain, fast, ...) so that load from other programs on the machine hits them alike; each
result is the median of `repeats` timed steps after a warm-up step.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from typing import Callable

import torch
import torch.nn.functional as F

from fastnst.device import memory_format_for, precision_name, resolve_device, resolve_precision
from fastnst.images import to_pil
from fastnst.loss import RANDOM_WEIGHTS, LossConfig, Objective
from fastnst.loss.functional import gram_matrix, total_variation_loss
from fastnst.model import TransformerNet
from fastnst.training import train_step


def plain_step(model: TransformerNet, objective: Objective, optimizer: torch.optim.Optimizer, x: torch.Tensor,
               style: torch.Tensor, style_grams: dict | None = None) -> torch.Tensor:
    """One step the way straightforward code writes it: fp32, NCHW, the loss net run in full on
    the photos for the content targets, and the style image's Gram matrices recomputed every step
    (unless `style_grams` are given). The same losses and weights as `objective`."""
    c, lossnet, layer_weights = objective.config, objective.lossnet, objective.style_layer_weights
    y = model(x)
    features_y = lossnet(y)
    features_x = lossnet(x)
    if style_grams is None:
        style_grams = {name: gram_matrix(f) for name, f in lossnet(style).items()}
    content = sum(F.mse_loss(features_y[name], features_x[name]) for name in c.content_layers)
    style_terms = [layer_weights[name] * F.mse_loss(gram_matrix(features_y[name]),
                                                    style_grams[name].expand(x.shape[0], -1, -1))
                   for name in layer_weights]
    total = c.content_weight * content + c.style_weight * sum(style_terms) + c.tv_weight * total_variation_loss(y)
    optimizer.zero_grad()
    total.backward()
    optimizer.step()
    return total.detach()


def _variant(name: str, device: torch.device, loss: LossConfig, x: torch.Tensor, style: torch.Tensor,
             objectives: dict[torch.memory_format, Objective], fast: bool, grams_once: bool = False,
             precision: str = "fp32", channels_last: bool = False, fused: bool = False,
             compile: bool = False) -> tuple[str, Callable[[], object], str]:
    """(name, a function doing one step with its own net and optimizer, precision in words).

    Variants of one memory format share an Objective (`objectives`, filled as needed): it is
    frozen, and building a loss net takes seconds. A compiled variant gets its own."""
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    if compile:  # compiling swaps in a compiled loss net: not one to share
        objective = Objective(to_pil(style), loss, device, memory_format)
    else:
        if memory_format not in objectives:
            objectives[memory_format] = Objective(to_pil(style), loss, device, memory_format)
        objective = objectives[memory_format]
    torch.manual_seed(0)  # every variant starts from the same weights
    model = TransformerNet().to(device, memory_format=memory_format)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=fused or None)
    if not fast:
        grams = objective.style_grams if grams_once else None
        return name, lambda: plain_step(model, objective, optimizer, x, style, grams), "fp32"
    dtype = resolve_precision(precision, device, training=True)
    amp_dtype = None if dtype == torch.float32 else dtype
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    step_model = model
    if compile:
        step_model, objective.lossnet = torch.compile(model), torch.compile(objective.lossnet)
    x_fast = x.contiguous(memory_format=memory_format)
    return name, lambda: train_step(step_model, objective, optimizer, scaler, x_fast, 1, 0, amp_dtype), \
        precision_name(dtype)


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
        precision              "bf16", "fp16" or "fp32"
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
    default = resolve_precision("auto", dev, training=True)
    cuda, cl = dev.type == "cuda", memory_format_for(dev) == torch.channels_last
    # Training's losses and weights, without the stability term: Johnson et al.'s losses.
    loss = LossConfig(loss_net=loss_net, loss_weights=RANDOM_WEIGHTS, stability_weight=0.0)
    common = dict(device=dev, loss=loss, x=x, style=style, objectives={})
    variants = [_variant("plain", fast=False, **common)]
    if ablation:
        amp_name = precision_name(default) if default != torch.float32 else "no"
        variants += [
            _variant("+ style Grams once", fast=False, grams_once=True, **common),
            _variant("+ content no-grad pass", fast=True, **common),
            _variant(f"+ {amp_name} autocast", fast=True, precision="auto", **common),
            _variant("+ channels_last", fast=True, precision="auto", channels_last=True, **common),
            _variant("+ fused Adam", fast=True, precision="auto", channels_last=True, fused=True, **common),
        ]
    variants.append(_variant("train step fast", fast=True, precision="auto", channels_last=cl, fused=cuda,
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
    p = argparse.ArgumentParser(prog="python benchmarks/bench_train.py", description=__doc__.split("\n")[0])
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
