"""The universal model's speed and memory beside a per-style network's, on the same CPU.

    python benchmarks/universal.py                                  # 512², 1024² (timed) and 4000x3000 (tiled)
    python benchmarks/universal.py --sizes 512,1024 --repeats 5 --json universal.json
    ONEDNN_MAX_CPU_ISA=AVX2 python benchmarks/universal.py         # as an AVX2-only CPU (cpu_classes.py)
    python benchmarks/universal.py --designs --sizes 1024           # the cost of other levels and widths
    python benchmarks/universal.py --one-off 4 --sizes 1024         # fastnst.stylize called again and again

Both run through fastnst's Stylizer in the precision it picks (bf16 where the CPU has it natively,
fp32 elsewhere): the universal model with one painting (its statistics computed once, before
timing) against checkpoints/mosaic.pt, in turns, in one process; each number is the median of
`repeats` timed runs after a warm-up. Peak memory is each run's own process's peak resident size
(a fresh process per method and size; "loaded" is its resident size before the photo), and the
--tiled sizes run tiled at the default tile.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import tempfile

import numpy as np
import torch
from PIL import Image

import fastnst
from fastnst.inference.tiling import DEFAULT_TILE
from fastnst.universal import UniversalConfig, UniversalNet, save_universal

from bench import machine, parse_sizes  # benchmarks/bench.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
PAINTING = ROOT.parent / "shared" / "data" / "style" / "mosaic.jpg"


def load(method: str, universal: str, painting: str) -> fastnst.Stylizer:
    if method == "universal":
        return fastnst.Stylizer.load(universal, style=painting)
    return fastnst.Stylizer.load(ROOT / "checkpoints" / "mosaic.pt")


def one_run(method: str, universal: str, painting: str, width: int, height: int, tile: int) -> dict:
    """One stylization in this process: seconds and the process's peak resident memory."""
    stylizer = load(method, universal, painting)
    photo = torch.rand(1, 3, height, width)
    options = fastnst.StylizeOptions(tile=tile)
    with open("/proc/self/statm") as f:  # resident once loaded: Python, torch and the model
        loaded_mb = int(f.read().split()[1]) * resource.getpagesize() / 2**20
    start = time.perf_counter()
    stylizer.stylize_tensor(photo, options)
    seconds = time.perf_counter() - start
    # VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over from the parent across fork + exec.
    with open("/proc/self/status") as f:
        peak_kb = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    return {"seconds": seconds, "loaded_mb": loaded_mb, "peak_mb": peak_kb / 1024}


def one_off_run(method: str, universal: str, painting: str, width: int, height: int, calls: int) -> list[float]:
    """Seconds of each of `calls` one-off fastnst.stylize calls on a photo in this (fresh) process: the
    first loads the model (the universal model also the painting's statistics), the later ones find it
    loaded if fastnst keeps it."""
    photo = Image.fromarray(np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8))
    model, style = (universal, painting) if method == "universal" else (ROOT / "checkpoints" / "mosaic.pt", None)
    seconds = []
    for _ in range(calls):
        start = time.perf_counter()
        fastnst.stylize(photo, model, style=style, max_size=max(width, height))
        seconds.append(time.perf_counter() - start)
    return seconds


def timed(universal: str, painting: str, width: int, height: int, repeats: int) -> dict[str, float]:
    """Median seconds per method, the methods in turns, after a warm-up round."""
    stylizers = {method: load(method, universal, painting) for method in ("per-style", "universal")}
    photo = torch.rand(1, 3, height, width)
    times: dict[str, list[float]] = {method: [] for method in stylizers}
    for round_ in range(repeats + 1):
        for method, stylizer in stylizers.items():
            start = time.perf_counter()
            stylizer.stylize_tensor(photo, fastnst.StylizeOptions(tile=0))
            if round_:
                times[method].append(time.perf_counter() - start)
    return {method: statistics.median(t) for method, t in times.items()}


# Designs timed by --designs (random weights: speed does not depend on them): the paper's five levels
# at full width, the steps from it to three levels at half width, and the relu3_1 ones (the bundled model's).
DESIGNS = {
    "relu5_1..relu1_1, width 1 (the paper)": (("relu5_1", "relu4_1", "relu3_1", "relu2_1", "relu1_1"), 1.0),
    "relu5_1..relu1_1, width 0.5": (("relu5_1", "relu4_1", "relu3_1", "relu2_1", "relu1_1"), 0.5),
    "relu4_1..relu1_1, width 0.5": (("relu4_1", "relu3_1", "relu2_1", "relu1_1"), 0.5),
    "relu4_1, relu2_1, relu1_1, width 0.5": (("relu4_1", "relu2_1", "relu1_1"), 0.5),
    "relu4_1, relu1_1, width 0.5": (("relu4_1", "relu1_1"), 0.5),
    "relu3_1, relu2_1, relu1_1, width 0.5": (("relu3_1", "relu2_1", "relu1_1"), 0.5),
    "relu3_1, relu2_1, width 0.5 (bundled)": (("relu3_1", "relu2_1"), 0.5),
}


def design_times(painting: str, width: int, height: int, repeats: int) -> dict[str, float]:
    """Median seconds of each design and of the per-style network, in turns, in this process."""
    folder = Path(tempfile.mkdtemp())
    stylizers = {"per-style network": load("per-style", "", painting)}
    for name, (levels, scale) in DESIGNS.items():
        net = UniversalNet(UniversalConfig(levels, scale), encoder_weights="random")
        stylizers[name] = fastnst.Stylizer.load(save_universal(net, folder / f"{len(stylizers)}.pt", {}), style=painting)
    photo = torch.rand(1, 3, height, width)
    times: dict[str, list[float]] = {name: [] for name in stylizers}
    for round_ in range(repeats + 1):
        for name, stylizer in stylizers.items():
            start = time.perf_counter()
            stylizer.stylize_tensor(photo, fastnst.StylizeOptions(tile=0))
            if round_:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def in_child(args: argparse.Namespace, flag: str, method: str, width: int, height: int, last: int) -> Any:
    """This script run with `flag` (--one or --one-off-run) in a fresh process: what it printed last, as JSON."""
    done = subprocess.run([sys.executable, __file__, "--universal", args.universal, "--painting", args.painting,
                           flag, method, str(width), str(height), str(last)], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"error: {method} at {width}x{height}: {done.stderr.strip()}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--universal", default=str(ROOT / "checkpoints" / "universal.pt"))
    p.add_argument("--painting", default=str(PAINTING))
    p.add_argument("--sizes", default="512,1024", help="timed in one process (default 512,1024)")
    p.add_argument("--tiled", default="4000x3000", help="sizes run once each, tiled, for time and memory")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--memory", action="store_true", help="also each size's peak memory, a process per run")
    p.add_argument("--designs", action="store_true", help="time other level sets and decoder widths instead "
                   "(random weights) beside the per-style network, at --sizes")
    p.add_argument("--one-off", type=int, metavar="CALLS", help="time CALLS one-off fastnst.stylize calls per "
                   "method instead, each method in a fresh process, --repeats times in turns, at --sizes")
    p.add_argument("--json")
    p.add_argument("--one-off-run", nargs=4, metavar=("METHOD", "WIDTH", "HEIGHT", "CALLS"), help=argparse.SUPPRESS)
    p.add_argument("--one", nargs=4, metavar=("METHOD", "WIDTH", "HEIGHT", "TILE"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one:
        method, width, height, tile = args.one
        print(json.dumps(one_run(method, args.universal, args.painting, int(width), int(height), int(tile))))
        return 0
    if args.one_off_run:
        method, width, height, calls = args.one_off_run
        print(json.dumps(one_off_run(method, args.universal, args.painting, int(width), int(height), int(calls))))
        return 0
    if args.one_off:
        for width, height in parse_sizes(args.sizes):
            runs: dict[str, list[list[float]]] = {"per-style": [], "universal": []}
            for _ in range(args.repeats):
                for method in runs:
                    runs[method].append(in_child(args, "--one-off-run", method, width, height, args.one_off))
            first = {m: statistics.median(r[0] for r in rs) for m, rs in runs.items()}
            later = {m: statistics.median(t for r in rs for t in r[1:]) for m, rs in runs.items()}
            about = machine()
            print(f"{width}x{height}, one-off fastnst.stylize, {about['cpu']}, {about['threads']} threads, "
                  f"ISA limit {about['onednn_isa_limit']}:")
            for name, seconds in (("first call", first), ("later calls", later)):
                print(f"  {name:12s} per-style {seconds['per-style']:6.3f} s  universal {seconds['universal']:6.3f} s"
                      f"  {seconds['universal'] / seconds['per-style']:5.2f}x")
        return 0
    if args.designs:
        for width, height in parse_sizes(args.sizes):
            medians = design_times(args.painting, width, height, args.repeats)
            base = medians["per-style network"]
            about = machine()
            print(f"{width}x{height}, {about['cpu']}, {about['threads']} threads, {about['cpu_bf16']}, "
                  f"ISA limit {about['onednn_isa_limit']}:")
            for name, seconds in medians.items():
                print(f"  {name:50s} {seconds:7.3f} s  {seconds / base:5.2f}x")
        return 0
    rows = []

    def child(method: str, width: int, height: int, tile: int) -> dict:
        return in_child(args, "--one", method, width, height, tile)

    for width, height in parse_sizes(args.sizes):
        medians = timed(args.universal, args.painting, width, height, args.repeats)
        row = {"size": f"{width}x{height}", "tiled": False, **{f"{m}_s": s for m, s in medians.items()},
               "ratio": medians["universal"] / medians["per-style"]}
        if args.memory:
            for m in ("per-style", "universal"):
                run = child(m, width, height, 0)
                row.update({f"{m}_loaded_mb": run["loaded_mb"], f"{m}_peak_mb": run["peak_mb"]})
        rows.append(row)
        print(row, flush=True)
    for width, height in parse_sizes(args.tiled) if args.tiled else []:
        runs = {m: child(m, width, height, DEFAULT_TILE) for m in ("per-style", "universal")}
        row = {"size": f"{width}x{height}", "tiled": True, **{f"{m}_s": r["seconds"] for m, r in runs.items()},
               **{f"{m}_loaded_mb": r["loaded_mb"] for m, r in runs.items()},
               **{f"{m}_peak_mb": r["peak_mb"] for m, r in runs.items()},
               "ratio": runs["universal"]["seconds"] / runs["per-style"]["seconds"]}
        rows.append(row)
        print(row, flush=True)
    print(json.dumps({"machine": machine(), "rows": rows}, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
