"""The web page's latency for one photo against the command line's and the Python API's (docs/app.md).

    python benchmarks/bench_app.py                                  # a 1024-px photo, mosaic, 3 rounds
    python benchmarks/bench_app.py --photo my.jpg --ckpt checkpoints/candy.pt --repeats 5

Round after round, in turn: the command line (`python infer.py PHOTO --ckpt CKPT --max-size 1024`, a
fresh process: start, load, stylize, write), a Stylizer loaded once and called in this process, and
the page served here and called through gradio_client (upload, stylize, PNG written, download). Each
number is the median of `repeats` rounds after one untimed warm-up, so load from other programs hits
the three alike.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the checkout's fastnst, not an installed one

from PIL import Image  # noqa: E402

from fastnst import StylizeOptions, Stylizer  # noqa: E402
from fastnst.app import StyleService, workspace  # noqa: E402
from fastnst.images import resize_long_side  # noqa: E402


def cpu_name() -> str:
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--photo", type=Path, default=ROOT.parent / "shared" / "data" / "content" / "val" / "building.jpg",
                   help="scaled so its long side is --size pixels")
    p.add_argument("--ckpt", type=Path, default=ROOT / "checkpoints" / "mosaic.pt")
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    times: dict[str, list[float]] = {"command line": [], "Stylizer in process": [], "page (gradio_client)": []}
    with workspace() as folder, tempfile.TemporaryDirectory() as scratch:
        from gradio_client import Client, handle_file

        from fastnst.app.page import build_page, launch

        photo = Path(scratch) / "photo.jpg"
        resize_long_side(Image.open(args.photo).convert("RGB"), args.size, enlarge=True).save(photo, quality=95)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        service = StyleService(folder, [args.ckpt])
        page = build_page(service)
        client = Client(launch(page, "127.0.0.1", port), verbose=False, download_files=scratch)
        stylizer = Stylizer.load(args.ckpt)
        name = service.networks[0].name
        env = {**os.environ, "PYTHONPATH": str(ROOT)}

        def command_line() -> None:
            subprocess.run([sys.executable, str(ROOT / "infer.py"), str(photo), "--ckpt", str(args.ckpt), "--max-size",
                            str(args.size), "-o", str(Path(scratch) / f"cli_{time.monotonic_ns()}.jpg")],
                           check=True, env=env, capture_output=True)

        def in_process() -> None:
            stylizer.stylize(photo, StylizeOptions(max_size=args.size))

        def through_page() -> None:
            client.predict(handle_file(str(photo)), "a trained network", name, "none", None, None, 0.5, 1.0, False,
                           False, args.size, api_name="/stylize")

        runs = {"command line": command_line, "Stylizer in process": in_process, "page (gradio_client)": through_page}
        try:
            for round_ in range(args.repeats + 1):
                for label, run in runs.items():
                    started = time.perf_counter()
                    run()
                    if round_:  # the first round warms up
                        times[label].append(time.perf_counter() - started)
        finally:
            page.close()
    width, height = Image.open(args.photo).size
    print(f"{cpu_name()}, {os.cpu_count()} cores; {args.ckpt.name}, {args.photo.name} scaled to {args.size} px "
          f"on the long side (from {width}x{height}); median of {args.repeats}")
    for label, values in times.items():
        print(f"  {label:22s} {statistics.median(values):6.2f} s   ({', '.join(f'{v:.2f}' for v in values)})")


if __name__ == "__main__":
    main()
