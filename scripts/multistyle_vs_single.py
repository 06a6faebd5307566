"""One network of several styles against one network per style, at the same training compute.

    python scripts/multistyle_vs_single.py --styles ../shared/data/style --data ../shared/data/content/train \
        --val ../shared/data/content/val --steps 600 --out runs/multistyle \
        --loss-net vgg19 --loss-weights ../shared/weights/vgg19-imagenet-features.pth

Trains a net of all the style images for --steps steps (each step trains one style, in turn) and
one net per style for steps / (number of styles) steps each: the same images seen, the same work.
Then evaluates every style of both on the val photos (content and style loss, and with --vs-optimize
the optimization steps each output is worth), and writes a table (table.md, report.json) and a
picture per style (photo | one-style net | net of several). Runs already trained are reused.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from PIL import Image

import fastnst
from fastnst.images import IMAGE_EXTENSIONS, find_images, open_rgb, resize_long_side


def train(out: Path, styles: list[Path], steps: int, args: argparse.Namespace, init: str | None = None) -> Path:
    name = "+".join(s.stem for s in styles) if len(styles) <= 3 else f"{len(styles)}-styles"
    target = out / f"{name}.pt"
    if target.is_file():
        return target
    return fastnst.train(style=[str(s) for s in styles], data=args.data, steps=steps, image_size=args.image_size,
                         batch_size=args.batch_size, loss_net=args.loss_net, loss_weights=args.loss_weights,
                         val_dir=args.val, logdir=str(out / f"log-{name}"), out=str(target), init=init,
                         workers=1, progress=False, sample_every=max(steps // 2, 1))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--styles", required=True, help="folder of style images")
    p.add_argument("--data", required=True, help="training photos")
    p.add_argument("--val", required=True, help="val photos")
    p.add_argument("--out", required=True)
    p.add_argument("--steps", type=int, default=600, help="steps of the net of several styles (default 600)")
    p.add_argument("--image-size", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--loss-net", default="vgg19")
    p.add_argument("--loss-weights")
    p.add_argument("--init", help="start every net from this one (--init of train.py)")
    p.add_argument("--size", type=int, default=256, help="evaluation size (default 256)")
    p.add_argument("--images", type=int, default=6, help="val photos evaluated (default 6)")
    p.add_argument("--vs-optimize", type=int, help="also count the optimization steps each output is worth")
    args = p.parse_args()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    styles = sorted(f for f in Path(args.styles).iterdir() if f.suffix.lower() in IMAGE_EXTENSIONS)
    singles = {s.stem: train(out, [s], max(args.steps // len(styles), 1), args, args.init) for s in styles}
    joint = train(out, styles, args.steps, args, args.init)

    rows, report = [], {"steps": args.steps, "styles": [s.stem for s in styles], "results": {}}
    loss = {"loss_net": args.loss_net, "loss_weights": args.loss_weights}
    for style in styles:
        result = {}
        for kind, ckpt, net_style in (("single", singles[style.stem], None), ("joint", joint, style.stem)):
            r = fastnst.evaluate(ckpt, args.val, style, size=args.size, images=args.images, net_style=net_style,
                                 vs_optimize=args.vs_optimize, **loss)
            result[kind] = {"content": r["mean"]["content"], "style": r["mean"]["style"],
                            "steps": (r.get("optimize") or {}).get("median_steps")}
        report["results"][style.stem] = result
        s, j = result["single"], result["joint"]
        rows.append(f"| {style.stem} | {s['content']:.3g} | {s['style']:.3g} | {s['steps'] or '-'} "
                    f"| {j['content']:.3g} | {j['style']:.3g} | {j['steps'] or '-'} |")
        # The picture: photo | the one-style net's output | the net of several's.
        photo = resize_long_side(open_rgb(find_images(args.val)[0]), args.size)
        tiles = [photo, fastnst.stylize(photo, singles[style.stem]), fastnst.stylize(photo, joint, style=style.stem)]
        strip = Image.new("RGB", (sum(t.width for t in tiles), photo.height), "white")
        for i, tile in enumerate(tiles):
            strip.paste(tile, (i * photo.width, 0))
        strip.save(out / f"{style.stem}.jpg", quality=90)

    per_style = max(args.steps // len(styles), 1)
    table = [f"{len(styles)} one-style nets of {per_style} steps each against one net of {len(styles)} styles "
             f"of {args.steps} steps; val photos at {args.size} px, losses as `fastnst.evaluate` reports them.", "",
             "| style | one-style content | style | opt. steps | several-style content | style | opt. steps |",
             "|---|---|---|---|---|---|---|", *rows]
    (out / "table.md").write_text("\n".join(table) + "\n")
    (out / "report.json").write_text(json.dumps(report, indent=2))
    print("\n".join(table))


if __name__ == "__main__":
    main()
