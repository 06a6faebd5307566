"""Regenerate the README gallery: for each checkpoint, one figure with a row per photo showing
content | style | output (a net of several styles: content | each style's output, under a row of
the style images), saved small under docs/gallery/, and the markdown that shows them.

    python scripts/gallery.py                        # every checkpoints/*.pt on ../shared/data/content/val
    python scripts/gallery.py checkpoints/mosaic.pt --images 3 --size 512
    python scripts/gallery.py a.pt b.pt --compare "10 min" "1 h" --name budgets    # nets side by side
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path
from typing import Sequence

from PIL import Image, ImageDraw

import fastnst
from fastnst.checkpoint import Checkpoint
from fastnst.errors import FastNSTError
from fastnst.files import atomic_path
from fastnst.images import IMAGE_EXTENSIONS, image_files, open_rgb

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
HEADER = 20  # pixels above the tiles for the column names


def style_image_for(checkpoint: Checkpoint, styles_dir: Path | None, index: int = 0) -> Image.Image:
    """The image of the net's style `index`: <styles_dir>/<style name>.*, else the file it was
    trained on if it is here, else the thumbnail stored in the checkpoint."""
    name = checkpoint.style_names[index]
    candidates = [styles_dir / f"{name}{ext}" for ext in sorted(IMAGE_EXTENSIONS)] if styles_dir else []
    stored = checkpoint.train_args.get("style")
    candidates += [Path(p) for p in (stored if isinstance(stored, list) else [stored] if stored else [])
                   if Path(p).stem == name]
    for path in candidates:
        if path.is_file():
            return open_rgb(path)
    if checkpoint.style_thumbnails[index] is not None:
        return checkpoint.style_thumbnails[index]
    raise FastNSTError(f"{checkpoint.path}: no style image found and none stored in the checkpoint")


def fit(image: Image.Image, tile: int) -> Image.Image:
    """The image scaled to fit a tile x tile square, centred on white."""
    image = image.copy()
    image.thumbnail((tile, tile), Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (tile, tile), "white")
    canvas.paste(image, ((tile - image.width) // 2, (tile - image.height) // 2))
    return canvas


def figure(rows: list[Sequence[Image.Image | None]], tile: int,
           columns: Sequence[str] = ("content", "style", "output")) -> Image.Image:
    """One row of tiles per entry of `rows` (None: an empty tile), with column names on top."""
    gap = 4
    sheet = Image.new("RGB", (len(columns) * (tile + gap) - gap, HEADER + len(rows) * (tile + gap) - gap), "white")
    draw = ImageDraw.Draw(sheet)
    for col, name in enumerate(columns):
        draw.text((col * (tile + gap) + tile // 2, HEADER // 2), name, fill="black", anchor="mm")
    for row, images in enumerate(rows):
        for col, image in enumerate(images):
            if image is not None:
                sheet.paste(fit(image, tile), (col * (tile + gap), HEADER + row * (tile + gap)))
    return sheet


def encode_small(image: Image.Image, fmt: str, max_bytes: int) -> bytes:
    """The image encoded in under max_bytes: JPEG at the best quality that fits, PNG in full colour
    else 256 colours; shrunk by steps of 20% while even that is too big."""
    while True:
        if fmt == "JPEG":
            tries = [(image, {"quality": q, "optimize": True}) for q in (90, 80, 70, 60, 50)]
        else:
            tries = [(image, {"optimize": True}), (image.quantize(256), {"optimize": True})]
        for candidate, options in tries:
            buffer = io.BytesIO()
            candidate.save(buffer, format=fmt, **options)
            if buffer.tell() <= max_bytes or min(image.size) < 64:
                return buffer.getvalue()
        image = image.resize((round(image.width * 0.8), round(image.height * 0.8)), Image.Resampling.LANCZOS)


def describe(checkpoint: Checkpoint) -> str:
    args, loss = checkpoint.train_args, checkpoint.loss
    parts = [f"{checkpoint.step} steps"]
    if args.get("batch_size") and args.get("image_size"):
        parts.append(f"batch {args['batch_size']} at {args['image_size']} px")
    if loss.get("loss_net"):
        parts.append(loss["loss_net"])
    return ", ".join(parts)


def make_gallery(checkpoints: Sequence[str | Path], content: str | Path, out_dir: str | Path, *,
                 styles_dir: str | Path | None = None, images: int | None = None, size: int = 512,
                 tile: int = 200, fmt: str = "jpg", max_kb: int = 300, device: str = "auto") -> str:
    """Write one figure per checkpoint into out_dir; return the README markdown showing them."""
    photos = image_files(content)[:images]
    out_dir = Path(out_dir)
    styles_dir = Path(styles_dir) if styles_dir else None
    pil_format = {"jpg": "JPEG", "png": "PNG"}[fmt]
    lines = []
    for path in checkpoints:
        checkpoint = fastnst.load_checkpoint(path)
        names = checkpoint.style_names
        stylizers = fastnst.Stylizer.load_all(checkpoint, device=device)  # loaded once, one per style
        options = fastnst.StylizeOptions(max_size=size)
        if len(names) == 1:
            style = style_image_for(checkpoint, styles_dir)
            rows = [(open_rgb(photo), style, stylizers[0].stylize(photo, options)) for photo in photos]
            sheet = figure(rows, tile)
        else:  # the style images on top, then each photo and its output in every style
            rows = [[None] + [style_image_for(checkpoint, styles_dir, i) for i in range(len(names))]]
            rows += [[open_rgb(photo)] + [stylizer.stylize(photo, options) for stylizer in stylizers]
                     for photo in photos]
            sheet = figure(rows, tile, ["content", *names])
        target = out_dir / f"{checkpoint.style_name}.{fmt}"
        with atomic_path(target) as tmp:  # never a half-written figure
            tmp.write_bytes(encode_small(sheet, pil_format, max_kb * 1024))
        link = Path(os.path.relpath(target, ROOT)).as_posix() if target.resolve().is_relative_to(ROOT) else target
        lines += [f"**{checkpoint.style_name}** ({describe(checkpoint)})", "",
                  f"![{checkpoint.style_name}: content, style, output]({link})", ""]
    return "\n".join(lines)


def make_comparison(checkpoints: Sequence[str | Path], labels: Sequence[str], content: str | Path,
                    target: str | Path, *, styles_dir: str | Path | None = None, images: int | None = None,
                    size: int = 512, tile: int = 200, max_kb: int = 300, device: str = "auto") -> Path:
    """One figure: a row per photo, content | each net's output (column `labels`) | the first net's
    style; for nets trained on the same style at different budgets or with different recipes."""
    photos = image_files(content)[:images]
    if len(labels) != len(checkpoints):
        raise FastNSTError(f"--compare: {len(labels)} label(s) for {len(checkpoints)} checkpoint(s)")
    nets = [fastnst.load_checkpoint(path) for path in checkpoints]
    style = style_image_for(nets[0], Path(styles_dir) if styles_dir else None)
    stylizers = [fastnst.Stylizer.load(net, device=device) for net in nets]
    options = fastnst.StylizeOptions(max_size=size)
    rows = [[open_rgb(photo)] + [stylizer.stylize(photo, options) for stylizer in stylizers] + [style]
            for photo in photos]
    sheet = figure(rows, tile, ["content", *labels, "style"])
    target = Path(target)
    with atomic_path(target) as tmp:  # never a half-written figure
        tmp.write_bytes(encode_small(sheet, "PNG" if target.suffix.lower() == ".png" else "JPEG", max_kb * 1024))
    return target


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoints", nargs="*", help="default: checkpoints/*.pt")
    p.add_argument("--content", default=str(SHARED / "data" / "content" / "val"), help="a folder of photos or one photo (default shared val)")
    p.add_argument("--styles", default=str(SHARED / "data" / "style"),
                   help="folder with <style name>.jpg (default shared styles); else the stored path or thumbnail")
    p.add_argument("--out", default=str(ROOT / "docs" / "gallery"), help="output folder (default docs/gallery)")
    p.add_argument("--images", type=int, help="use only the first N photos")
    p.add_argument("--size", type=int, default=512, help="stylize photos at this long side (default 512)")
    p.add_argument("--tile", type=int, default=200, help="tile size in the figure (default 200)")
    p.add_argument("--format", choices=["jpg", "png"], default="jpg")
    p.add_argument("--max-kb", type=int, default=300, help="size limit per figure (default 300 KB)")
    p.add_argument("--device", default="auto")
    p.add_argument("--compare", nargs="+", metavar="LABEL", help="one figure of the given checkpoints side by "
                   "side, each column named by its label (written to <out>/<name>.<format>)")
    p.add_argument("--name", default="comparison", help="the --compare figure's file name (default comparison)")
    args = p.parse_args(argv)
    checkpoints = args.checkpoints or sorted(str(p) for p in (ROOT / "checkpoints").glob("*.pt"))
    try:
        if not checkpoints:
            raise FastNSTError("no checkpoints given and none in checkpoints/")
        if args.compare:
            target = Path(args.out) / f"{args.name}.{args.format}"
            print(make_comparison(checkpoints, args.compare, args.content, target, styles_dir=args.styles,
                                  images=args.images, size=args.size, tile=args.tile, max_kb=args.max_kb,
                                  device=args.device))
            return 0
        print(make_gallery(checkpoints, args.content, args.out, styles_dir=args.styles, images=args.images,
                           size=args.size, tile=args.tile, fmt=args.format, max_kb=args.max_kb, device=args.device))
    except FastNSTError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
