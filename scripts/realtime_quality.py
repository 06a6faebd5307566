"""How close the real-time networks come to the networks they were distilled from, at webcam size.

    python scripts/realtime_quality.py                      # checkpoints/realtime/*.pt vs checkpoints/<style>.pt
    python scripts/realtime_quality.py --size 640 --figure docs/gallery/realtime.jpg --json runs/realtime.json

For each style: the style loss of the teacher's and of the real-time net's outputs on the val photos
(long side `--size`), both against the same objective (today's defaults, the ImageNet VGG19), their
ratio, and the PSNR of the real-time output against the teacher's. The figure shows, per style, a
photo, the teacher's output, the real-time net's and the painting.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image

import fastnst
from fastnst.errors import FastNSTError
from fastnst.files import atomic_path
from fastnst.images import image_files, open_rgb

from evaluate_all import today_objective  # scripts/ is on sys.path when this file is run
from gallery import ROOT, SHARED, encode_small, figure, style_image_for


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio of two uint8 images, in dB."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def compare(student_path: Path, teacher_path: Path, photos: list[Path], styles_dir: Path, size: int,
            loss: dict[str, Any], device: str) -> dict[str, Any]:
    student, teacher = fastnst.load_checkpoint(student_path), fastnst.load_checkpoint(teacher_path)
    name = student.style_names[0]
    style_file = next((p for p in sorted(styles_dir.glob(f"{name}.*"))), None)
    if style_file is None:
        raise FastNSTError(f"{styles_dir}: no painting named {name}")
    folder = photos[0].parent
    reports = {label: fastnst.evaluate(ckpt, folder, style_file, size=size, images=len(photos), device=device,
                                       **loss)
               for label, ckpt in (("teacher", teacher), ("realtime", student))}
    options = fastnst.StylizeOptions(max_size=size)
    runs = {label: fastnst.Stylizer.load(ckpt, device=device) for label, ckpt in (("teacher", teacher),
                                                                                   ("realtime", student))}
    outputs = {label: [np.asarray(stylizer.stylize(photo, options)) for photo in photos]
               for label, stylizer in runs.items()}
    scores = [psnr(s, t) for s, t in zip(outputs["realtime"], outputs["teacher"])]
    return {"style": name, "size": size,
            "teacher_style_loss": reports["teacher"]["mean"]["style"],
            "realtime_style_loss": reports["realtime"]["mean"]["style"],
            "teacher_content_loss": reports["teacher"]["mean"]["content"],
            "realtime_content_loss": reports["realtime"]["mean"]["content"],
            "style_ratio": reports["realtime"]["mean"]["style"] / reports["teacher"]["mean"]["style"],
            "psnr_db": float(np.mean(scores)),
            "outputs": outputs, "painting": style_image_for(teacher, styles_dir)}


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| style | style loss, teacher | style loss, real-time | ratio | content loss, teacher "
             "| content loss, real-time | PSNR vs teacher (dB) |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['style']} | {r['teacher_style_loss']:.3g} | {r['realtime_style_loss']:.3g} "
                     f"| {r['style_ratio']:.2f} | {r['teacher_content_loss']:.3g} | {r['realtime_content_loss']:.3g} "
                     f"| {r['psnr_db']:.1f} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("students", nargs="*", help="real-time checkpoints (default checkpoints/realtime/*.pt)")
    p.add_argument("--teachers", default=str(ROOT / "checkpoints"), help="folder of the per-style nets")
    p.add_argument("--content", default=str(SHARED / "data" / "content" / "val"))
    p.add_argument("--styles", default=str(SHARED / "data" / "style"))
    p.add_argument("--images", type=int, default=None, help="only the first N photos")
    p.add_argument("--size", type=int, default=640, help="long side of the photos (default 640: webcam size)")
    p.add_argument("--loss-weights", default=str(SHARED / "weights" / "vgg19-imagenet-features.pth"))
    p.add_argument("--figure", default=None, help="write the side-by-side figure here (.jpg or .png)")
    p.add_argument("--json", default=None, help="write the numbers here")
    p.add_argument("--device", default="auto")
    args = p.parse_args(argv)
    students = [Path(s) for s in args.students] or sorted((ROOT / "checkpoints" / "realtime").glob("*.pt"))
    if not students:
        raise SystemExit("error: no real-time checkpoints given or found in checkpoints/realtime")
    photos = image_files(args.content)[:args.images]
    loss = {**today_objective(), "loss_net": "vgg19", "loss_weights": args.loss_weights}
    rows = []
    for student in students:
        name = fastnst.load_checkpoint(student).style_names[0]
        teacher = Path(args.teachers) / f"{name}.pt"
        print(f"{name}: {student} against {teacher} ...", file=sys.stderr, flush=True)
        rows.append(compare(student, teacher, photos, Path(args.styles), args.size, loss, args.device))
    print(markdown(rows))
    if args.figure:
        sheet_rows = [(open_rgb(photos[i % len(photos)]).resize(r["outputs"]["teacher"][i % len(photos)].shape[1::-1]),
                       *(Image.fromarray(r["outputs"][k][i % len(photos)]) for k in ("teacher", "realtime")),
                       r["painting"]) for i, r in enumerate(rows)]
        sheet = figure(sheet_rows, 256, ["photo", "teacher (default net)", "real-time net", "painting"])
        target = Path(args.figure)
        with atomic_path(target) as tmp:
            tmp.write_bytes(encode_small(sheet, "PNG" if target.suffix.lower() == ".png" else "JPEG", 400 * 1024))
        print(f"figure -> {target}", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps([{k: v for k, v in r.items() if k not in ("outputs", "painting")}
                                               for r in rows], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
