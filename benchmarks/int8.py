"""int8 (onnxruntime, calibrated on photos) against the other ways to run a net: quality and speed.

    python benchmarks/int8.py --ckpt checkpoints/mosaic.pt --photos val_photos/ --calibrate train_photos/
    python benchmarks/int8.py --ckpt checkpoints/mosaic.pt --photos val_photos/ --no-speed --json int8.json

Quality: each photo (long side --size) stylized in int8 against the fp32 output of the same net:
PSNR and SSIM (Gaussian window 11, sigma 1.5, on luminance), and a side-by-side picture (--picture).
Speed, in one process, median of --repeats (grouped as bench.py groups them), one forward pass
of batch 1 at each --sizes square: eager fp32, the fast path in each precision this CPU has (fp32,
and bf16 where native), onnxruntime fp32 and onnxruntime int8. Calibration uses other photos than the ones
measured (--calibrate), as a user's int8 run would calibrate on its own inputs.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image

import fastnst
from fastnst.device import cpu_bf16_class
from fastnst.images import find_images, open_rgb, resize_long_side, to_pil, to_tensor
from fastnst.inference import FastStylizer
from fastnst.inference.export import export_onnx
from fastnst.inference.onnx_runtime import OnnxStylizer
from fastnst.inference.int8 import CALIBRATION_PHOTOS, quantize

from bench import time_calls  # benchmarks/bench.py, beside this script


def luminance(x: torch.Tensor) -> torch.Tensor:
    return (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2])[:, None]


def ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    """Wang et al. 2004 on luminance in [0, 1]: Gaussian window 11, sigma 1.5, the usual constants."""
    coords = torch.arange(11, dtype=torch.float32) - 5
    g = torch.exp(-coords ** 2 / (2 * 1.5 ** 2))
    window = (g[:, None] * g[None, :] / g.sum() ** 2)[None, None]
    a, b = luminance(a), luminance(b)
    blur = lambda t: F.conv2d(t, window)  # noqa: E731
    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b, cov = blur(a * a) - mu_a ** 2, blur(b * b) - mu_b ** 2, blur(a * b) - mu_a * mu_b
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    value = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return float(value.mean())


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(10 * torch.log10(1 / (a - b).pow(2).mean().clamp_min(1e-12)))


def quality(checkpoint, int8, photos: list[Path], size: int, picture: str | None) -> list[dict]:
    rows, strips = [], []
    for path in photos:
        x = to_tensor(resize_long_side(open_rgb(path), size, enlarge=True))
        with torch.inference_mode():
            exact = checkpoint.model(x).clamp(0, 1)
        out = int8(x).clamp(0, 1)
        rows.append({"photo": path.name, "psnr": psnr(out, exact), "ssim": ssim(out, exact)})
        strips.append((to_pil(exact), to_pil(out)))
    if picture:
        width = max(a.width for a, _ in strips)
        sheet = Image.new("RGB", (2 * width, sum(a.height for a, _ in strips)), "white")
        top = 0
        for exact, out in strips:
            sheet.paste(exact, (0, top))
            sheet.paste(out, (width, top))
            top += exact.height
        sheet.save(picture, quality=90)
    return rows


def speed(checkpoint, int8, sizes: list[int], repeats: int) -> dict:
    import tempfile

    cpu = torch.device("cpu")
    runners = {"eager fp32": lambda x: checkpoint.model(x), "fast fp32": FastStylizer(checkpoint.model, cpu, "fp32")}
    if cpu_bf16_class():
        runners["fast bf16"] = FastStylizer(checkpoint.model, cpu, "bf16")
    with tempfile.TemporaryDirectory() as tmp:
        runners["onnxruntime fp32"] = OnnxStylizer(export_onnx(checkpoint, Path(tmp) / "fp32.onnx"))
    runners["onnxruntime int8"] = int8
    out = {}
    for size in sizes:
        x = torch.rand(1, 3, size, size)
        with torch.inference_mode():
            # eager and onnxruntime in turns, each fast path alone with its memory kept (as bench.py times them)
            times = time_calls({name: functools.partial(run, x) for name, run in runners.items()},
                               [name for name in runners if not name.startswith("fast")], repeats)
        out[size] = {name: statistics.median(wall for wall, _ in t) for name, t in times.items()}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ckpt", required=True)
    p.add_argument("--photos", required=True, help="photos to measure quality on")
    p.add_argument("--calibrate", required=True, help="other photos to calibrate on")
    p.add_argument("--size", type=int, default=512, help="long side for quality (default 512)")
    p.add_argument("--sizes", default="512,1024", help="squares timed (default 512,1024)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--no-speed", action="store_true")
    p.add_argument("--picture", help="write fp32 | int8 side by side here")
    p.add_argument("--json")
    args = p.parse_args(argv)

    checkpoint = fastnst.load_checkpoint(args.ckpt)
    checkpoint.model.float().eval()
    int8 = quantize(checkpoint, [open_rgb(f) for f in find_images(args.calibrate)[:CALIBRATION_PHOTOS]])
    report = {"checkpoint": args.ckpt, "threads": torch.get_num_threads(), "bf16_class": cpu_bf16_class(),
              "quality": quality(checkpoint, int8, find_images(args.photos), args.size, args.picture)}
    q = report["quality"]
    print(f"{checkpoint.style_name} at {args.size} px, int8 vs fp32 over {len(q)} photos: "
          f"PSNR {statistics.mean(r['psnr'] for r in q):.1f} dB (min {min(r['psnr'] for r in q):.1f}), "
          f"SSIM {statistics.mean(r['ssim'] for r in q):.4f} (min {min(r['ssim'] for r in q):.4f})")
    if not args.no_speed:
        report["speed"] = speed(checkpoint, int8, [int(s) for s in args.sizes.split(",")], args.repeats)
        for size, times in report["speed"].items():
            base = times["eager fp32"]
            print(f"{size}x{size}: " + ", ".join(f"{name} {1000 * t:.0f} ms ({base / t:.2f}x)"
                                                 for name, t in times.items()))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
