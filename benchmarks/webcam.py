"""The webcam demo's frame rate, latency and working size, headless, with a clip standing in for the camera.

    python benchmarks/webcam.py                                   # the bundled real-time nets, vtest.avi at 640x480
    python benchmarks/webcam.py checkpoints/mosaic.pt --fps 15 --frames 150 --isa AVX2 --json webcam.json
    python benchmarks/webcam.py checkpoints/mosaic.pt --isa all   # every CPU class of cpu_classes.py

The clip is scaled to --size once (H.264, into a temporary folder); then each checkpoint runs
`infer.py --webcam CLIP --no-window --frames N --fps F` in its own process, once per CPU class given
(ONEDNN_MAX_CPU_ISA, which oneDNN reads once per process: see cpu_classes.py for what this emulation
can and cannot stand for), and the lines the demo prints at the end are collected into one table:
frames shown per second after the warm-up, latency from capture to shown (median and 95th
percentile), and the working size the demo settled on. A file played as the camera gives every
frame, so the rate is what the demo sustains with capture, stylize and display overlapping.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Sequence

import cv2

from cpu_classes import ISAS  # benchmarks/cpu_classes.py, beside this script
from fastnst.video.writer import VideoWriter

ROOT = Path(__file__).resolve().parents[1]

DEFAULT_CLIP = ROOT.parent / "shared" / "data" / "video" / "vtest.avi"
MEASURED = re.compile(r"(?P<frames>\d+) frames at (?P<size>\d+x\d+): (?P<fps>[\d.]+) frames/s on (?P<device>\S+) "
                      r"\((?P<threads>\d+) threads\).*\nlatency capture -> shown: (?P<median>\d+) ms median, "
                      r"(?P<p95>\d+) ms p95; working size (?P<working>\d+x\d+)")


def scaled_clip(source: Path, size: tuple[int, int], frames: int, target: Path) -> Path:
    """The first `frames` frames of `source` at `size` (INTER_AREA), as H.264 at the source's rate."""
    capture = cv2.VideoCapture(str(source))
    if not capture.isOpened():
        raise SystemExit(f"error: cannot read {source}")
    rate = Fraction(capture.get(cv2.CAP_PROP_FPS) or 25).limit_denominator(1001)
    writer = VideoWriter(target, size[0], size[1], rate=rate, time_base=1 / rate)
    written = 0
    while written < frames:
        ok, bgr = capture.read()
        if not ok:
            break
        writer.write(cv2.cvtColor(cv2.resize(bgr, size, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB), written)
        written += 1
    capture.release()
    return writer.close()


def run_demo(clip: Path, ckpt: str, isa: str | None, frames: int, fps: float, max_size: int | None) -> dict:
    """One headless demo run in its own process; what it printed at the end."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    if isa:
        env["ONEDNN_MAX_CPU_ISA"] = isa
    command = [sys.executable, "-m", "fastnst", "stylize", "--webcam", str(clip), "--ckpt", ckpt, "--no-window",
               "--frames", str(frames), "--fps", str(fps), *(["--max-size", str(max_size)] if max_size else [])]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    found = MEASURED.search(done.stdout)
    if done.returncode or not found:
        raise SystemExit(f"error: {Path(ckpt).name} ({isa or 'this CPU'}): {done.stderr.strip() or done.stdout.strip()}")
    row = found.groupdict()
    return {"ckpt": Path(ckpt).name, "isa": isa or "native", "frames": int(row["frames"]), "size": row["size"],
            "frames_per_s": float(row["fps"]), "latency_median_ms": int(row["median"]),
            "latency_p95_ms": int(row["p95"]), "working_size": row["working"], "device": row["device"],
            "threads": int(row["threads"])}


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoints", nargs="*", help="default: the bundled real-time networks (checkpoints/realtime)")
    p.add_argument("--clip", type=Path, default=DEFAULT_CLIP, help="the video standing in for the camera "
                   "(default ../shared/data/video/vtest.avi)")
    p.add_argument("--size", default="640x480", help="the camera's size the clip is scaled to (default 640x480)")
    p.add_argument("--frames", type=int, default=150, help="frames per run (default 150; the first 10 or 1 s warm up)")
    p.add_argument("--fps", type=float, default=15, help="the target the demo holds (default 15)")
    p.add_argument("--max-size", type=int, help="a fixed working size instead of the adaptive one")
    p.add_argument("--isa", nargs="+", help=f"run under ONEDNN_MAX_CPU_ISA, one process per class: {', '.join(ISAS)}, "
                   "or all (default: this CPU as it is)")
    p.add_argument("--json", type=Path, help="also write the rows here")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    width, height = (int(side) for side in args.size.lower().split("x"))
    if not args.checkpoints:
        from fastnst.video.live import bundled_realtime_nets

        args.checkpoints = [str(path) for path in bundled_realtime_nets()]
    isas = list(ISAS) if args.isa == ["all"] else (args.isa or [None])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        clip = scaled_clip(args.clip, (width, height), args.frames, Path(tmp) / "camera.mp4")
        for ckpt in args.checkpoints:
            for isa in isas:
                row = run_demo(clip, ckpt, isa, args.frames, args.fps, args.max_size)
                rows.append(row)
                print(f"{row['ckpt']:<20} {row['isa']:<18} {row['size']} -> {row['working_size']:>9}: "
                      f"{row['frames_per_s']:5.1f} frames/s, latency {row['latency_median_ms']} ms median, "
                      f"{row['latency_p95_ms']} ms p95 ({row['device']}, {row['threads']} threads)", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
