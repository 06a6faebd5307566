"""Draw the --match-tone figure of docs/video.md: for each checkpoint a row of photo | stylized |
--match-tone | --match-tone --preserve-color, with each picture's luminance mean and spread.

    python scripts/match_tone_figure.py                                  # candy and mosaic on grace_hopper.jpg
    python scripts/match_tone_figure.py photo.jpg --ckpt checkpoints/starry_night.pt --size 320
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw

import fastnst
from fastnst.files import atomic_path
from fastnst.images import open_rgb, resize_long_side
from fastnst.inference.tone import tone_stats

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = ("photo", "stylized", "--match-tone", "--match-tone --preserve-color")
HEADER, CAPTION, GAP = 20, 16, 4


def stats(image: Image.Image) -> str:
    mean, std = tone_stats(torch.from_numpy(np.array(image)).permute(2, 0, 1)[None] / 255)[0].tolist()
    return f"mean {mean:.2f}  spread {std:.2f}"


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("photo", nargs="?", default=str(ROOT / "examples" / "grace_hopper.jpg"))
    p.add_argument("--ckpt", nargs="+", default=[str(ROOT / "checkpoints" / f"{n}.pt") for n in ("candy", "mosaic")])
    p.add_argument("--size", type=int, default=256, help="long side of each picture")
    p.add_argument("--out", default=str(ROOT / "docs" / "gallery" / "match_tone.jpg"))
    args = p.parse_args(argv)
    photo = resize_long_side(open_rgb(args.photo), args.size)
    rows = []
    for path in args.ckpt:
        ckpt = fastnst.load_checkpoint(path)
        stylizer = fastnst.Stylizer.load(ckpt)
        rows.append((ckpt.style_name, [photo, stylizer.stylize(photo),
                                       stylizer.stylize(photo, fastnst.StylizeOptions(match_tone=True)),
                                       stylizer.stylize(photo, fastnst.StylizeOptions(match_tone=True,
                                                                                     preserve_color=True))]))
    w, h = photo.size
    row_h = h + CAPTION + GAP
    sheet = Image.new("RGB", (len(COLUMNS) * (w + GAP) - GAP, HEADER + len(rows) * row_h - GAP), "white")
    draw = ImageDraw.Draw(sheet)
    for col, name in enumerate(COLUMNS):
        draw.text((col * (w + GAP) + w // 2, HEADER // 2), name, fill="black", anchor="mm")
    for row, (style, images) in enumerate(rows):
        top = HEADER + row * row_h
        for col, image in enumerate(images):
            sheet.paste(image, (col * (w + GAP), top))
            label = stats(image) if col == 0 else f"{style}: {stats(image)}"
            draw.text((col * (w + GAP) + w // 2, top + h + CAPTION // 2), label, fill="black", anchor="mm")
    with atomic_path(args.out) as tmp:
        sheet.save(tmp, format="JPEG", quality=85, optimize=True)
    print(f"{args.out}: {sheet.width}x{sheet.height}, {Path(args.out).stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
