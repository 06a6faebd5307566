"""bf16 against fp32 on each class of CPU: the measurement behind device.py's precision "auto".

    python benchmarks/precision.py                              # every ISA class oneDNN can act as
    python benchmarks/precision.py --isa AVX512_CORE_BF16 --size 512 --repeats 5

oneDNN can be told to use no more than an older CPU's instructions (ONEDNN_MAX_CPU_ISA), so one
machine stands in for several classes: AVX512_CORE_AMX (AMX tiles), AVX512_CORE_BF16 (AVX-512 with
BF16, no AMX: Intel Cooper Lake, AMD Zen 4), AVX512_CORE_VNNI (Cascade Lake) and AVX2 (most
laptops). Each class runs in its own process, since oneDNN reads the variable once. The emulation
limits the instructions oneDNN's kernels use, not the CPU's caches, clocks or memory bandwidth:
it stands for the kernels' arithmetic, not for another chip's speed. Per class and precision the
script times one fast-path forward pass of the default net (batch 1, size x size) and one
training step (batch 4 x 128², VGG19 layout, random weights), interleaved, median of --repeats.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ISAS = ("AVX512_CORE_AMX", "AVX512_CORE_BF16", "AVX512_CORE_VNNI", "AVX2")


def measure(size: int, repeats: int, train_size: int) -> dict:
    """This process's timings: {"inference": {fp32, bf16}, "training": {fp32, bf16}} in seconds."""
    import torch

    from fastnst.device import resolve_precision
    from fastnst.images import to_pil
    from fastnst.inference import FastStylizer
    from fastnst.loss import LossConfig, Objective
    from fastnst.model import TransformerNet
    from fastnst.training import train_step

    cpu = torch.device("cpu")
    torch.manual_seed(0)
    net = TransformerNet().eval()
    x = torch.rand(1, 3, size, size)
    stylizers = {p: FastStylizer(net, cpu, p) for p in ("fp32", "bf16")}
    batch = torch.rand(4, 3, train_size, train_size).contiguous(memory_format=torch.channels_last)
    objective = Objective(to_pil(torch.rand(3, train_size, train_size)),
                          LossConfig(loss_net="vgg19", loss_weights="random", stability_weight=0.0), cpu,
                          torch.channels_last)
    steps = {}
    for precision in ("fp32", "bf16"):
        torch.manual_seed(0)
        model = TransformerNet().to(memory_format=torch.channels_last)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        scaler = torch.amp.GradScaler("cpu", enabled=False)
        dtype = resolve_precision(precision, cpu, training=True)
        amp = None if dtype == torch.float32 else dtype
        steps[precision] = (lambda m=model, o=optimizer, s=scaler, a=amp:
                            train_step(m, objective, o, s, batch, 1, 0, a))
    times: dict[str, dict[str, list[float]]] = {"inference": {"fp32": [], "bf16": []},
                                                "training": {"fp32": [], "bf16": []}}
    for run in range(repeats + 1):  # the first round warms up
        for precision in ("fp32", "bf16"):
            for section, fn in (("inference", lambda: stylizers[precision](x)), ("training", steps[precision])):
                start = time.perf_counter()
                fn()
                if run:
                    times[section][precision].append(time.perf_counter() - start)
    return {section: {p: statistics.median(v) for p, v in d.items()} for section, d in times.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/precision.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--isa", nargs="+", default=list(ISAS), help="oneDNN ISA classes (default: all four)")
    p.add_argument("--size", type=int, default=1024, help="inference image side (default 1024)")
    p.add_argument("--train-size", type=int, default=128, help="training crop side (default 128)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", help="also write the results here")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.size, args.repeats, args.train_size)))
        return 0
    results = {}
    for isa in args.isa:
        env = {**os.environ, "ONEDNN_MAX_CPU_ISA": isa}
        done = subprocess.run([sys.executable, __file__, "--child", "--size", str(args.size), "--train-size",
                               str(args.train_size), "--repeats", str(args.repeats)],
                              env=env, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"{isa}: failed: {done.stderr.strip().splitlines()[-1]}", file=sys.stderr)
            continue
        results[isa] = json.loads(done.stdout.strip().splitlines()[-1])
    import torch

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, median of {args.repeats}")
    print(f"| ISA class | inference {args.size}² fp32 | bf16 | bf16 speed-up | training step 4x{args.train_size}² fp32 "
          f"| bf16 | bf16 speed-up |\n|---|---|---|---|---|---|---|")
    for isa, r in results.items():
        inf, tr = r["inference"], r["training"]
        print(f"| {isa} | {inf['fp32'] * 1000:.0f} ms | {inf['bf16'] * 1000:.0f} ms | {inf['fp32'] / inf['bf16']:.2f}x "
              f"| {tr['fp32'] * 1000:.0f} ms | {tr['bf16'] * 1000:.0f} ms | {tr['fp32'] / tr['bf16']:.2f}x |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
