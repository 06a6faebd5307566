"""Short-budget sweep of training recipes: train each setting with the same budget, evaluate every
net against its own objective AND one fixed reference objective, and draw pictures at user size.

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 python scripts/sweep_recipe.py \
        --settings A B C --styles mosaic --steps 300 --image-size 128 --out ../exp-runs/sweep

Only public API: fastnst.train(**options), fastnst.evaluate(...), fastnst.stylize(...),
fastnst.load_checkpoint(...), with `init` for --init-from. Each (style, setting) goes to <out>/<style>/<setting>/; a finished one
(its result.json exists) is skipped, so the command can be rerun to add settings or styles. After
every setting the markdown table <out>/SWEEP.md and the pictures are rewritten from all results.

Reference objective (the same for every net, so numbers compare): VGG19, content relu2_2 weight 1,
style relu1_2/2_2/3_3/4_3 weights 1 each, style weight 1e4, TV 1e-2, the style image at 256 px,
photos at 256 px (= the bundled networks' objective and the README's table). A second reference
at user size: the same with the style image at 512 px, photos at 512 px (no optimizer run).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

import fastnst
from fastnst.images import open_rgb

from gallery import fit  # scripts/ is on sys.path when this file is run

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
VGG19 = SHARED / "weights" / "vgg19-imagenet-features.pth"

LAYERS_EQ = (0.5, 0.75, 4.0, 4.0)  # equal style gradient norms per layer at the bundled mosaic net's output

# Every setting is a change to the first recipe (A): equal layer weights, style image at 256,
# Adam at 1e-3 throughout. F is what train.py does by default now.
FIRST_RECIPE = dict(style_layer_weights=(1.0, 1.0, 1.0, 1.0), style_size=256, lr=1e-3, lr_decay_at=1.0)
LR_DROP = dict(lr=3e-3, lr_decay_at=0.7)

# name -> (description, TrainConfig overrides of FIRST_RECIPE)
SETTINGS: dict[str, tuple[str, dict[str, Any]]] = {
    "A": ("first recipe: layer weights 1 each, style 256, lr 1e-3", {}),
    "B": ("layer weights 0.5,0.75,4,4", {"style_layer_weights": LAYERS_EQ}),
    "C": ("style weight 5e4", {"style_weight": 5e4}),
    "C3": ("style weight 3e4", {"style_weight": 3e4}),
    "D": ("style image 512", {"style_size": 512}),
    "E": ("lr 3e-3, x0.1 at 70 %", LR_DROP),
    "E2": ("lr 3e-3 constant", {"lr": 3e-3}),
    "F": ("B + D + E: the defaults", {"style_layer_weights": LAYERS_EQ, "style_size": 512, **LR_DROP}),
    "BD": ("B + style 512", {"style_layer_weights": LAYERS_EQ, "style_size": 512}),
    "BCD": ("B + sw 3e4 + style 512", {"style_layer_weights": LAYERS_EQ, "style_weight": 3e4, "style_size": 512}),
    "G": ("B + sw 3e4 + style 512 + lr 3e-3 drop", {"style_layer_weights": LAYERS_EQ, "style_weight": 3e4,
                                                    "style_size": 512, **LR_DROP}),
}

REFERENCE = dict(content_layers=("relu2_2",), style_layers=("relu1_2", "relu2_2", "relu3_3", "relu4_3"),
                 style_layer_weights=(1.0, 1.0, 1.0, 1.0), content_weight=1.0, style_weight=1e4, tv_weight=1e-2)
PICTURE_PHOTOS = ("building.jpg", "grace_hopper.jpg", "002.jpg")


def train_setting(name: str, style: str, args: argparse.Namespace, folder: Path) -> tuple[Path, float]:
    description, overrides = SETTINGS[name]
    options = dict(style=str(SHARED / "data" / "style" / f"{style}.jpg"), data=str(SHARED / "data" / "content" / "train"),
                   val_dir=str(SHARED / "data" / "content" / "val"), loss_net="vgg19", loss_weights=str(VGG19),
                   image_size=args.image_size, batch_size=args.batch_size, workers=args.workers,
                   stability_weight=args.stability_weight, steps=args.steps, logdir=str(folder / "tb"),
                   ckpt_path=str(folder / "train.pt"), out=str(folder / f"{style}.pt"), log_every=10,
                   sample_every=args.steps, ckpt_every=args.steps, progress=False, seed=0)
    options.update({**FIRST_RECIPE, **overrides})
    if args.init_from:  # continue an existing network (fresh Adam) instead of starting from scratch
        options["init"] = args.init_from
    tick = time.perf_counter()
    out = fastnst.train(**options)
    return Path(out), (time.perf_counter() - tick) / args.steps


def evaluate_setting(ckpt: Path, style: str, args: argparse.Namespace) -> dict[str, Any]:
    style_path = SHARED / "data" / "style" / f"{style}.jpg"
    val = SHARED / "data" / "content" / "val"
    common = dict(images=args.eval_images, device="cpu", loss_weights=str(VGG19))
    own = fastnst.evaluate(ckpt, val, style_path, size=256, **common)
    ref = fastnst.evaluate(ckpt, val, style_path, size=256, vs_optimize=args.vs_optimize or None,
                           style_size=256, **REFERENCE, **common)
    ref512 = fastnst.evaluate(ckpt, val, style_path, size=512, style_size=512, **REFERENCE, **common)
    return {"own": own["mean"], "ref": ref["mean"], "ref_optimize": ref.get("optimize"), "ref512": ref512["mean"]}


def strip(columns: list[tuple[str, list[Image.Image]]], tile: int) -> Image.Image:
    """Columns of tiles, one row per photo, a name above each column."""
    header, gap = 18, 4
    rows = max(len(images) for _, images in columns)
    sheet = Image.new("RGB", (len(columns) * (tile + gap) - gap, header + rows * (tile + gap) - gap), "white")
    draw = ImageDraw.Draw(sheet)
    for col, (name, images) in enumerate(columns):
        draw.text((col * (tile + gap) + 4, 3), name, fill="black")
        for row, image in enumerate(images):
            sheet.paste(fit(image, tile), (col * (tile + gap), header + row * (tile + gap)))
    return sheet


def pictures(out: Path, style: str, pictures_dir: Path, size: int, tile: int) -> None:
    """Per setting: photo | style | output; per style: photo | style | every setting's output."""
    photos = [SHARED / "data" / "content" / "val" / name for name in PICTURE_PHOTOS]
    originals = [open_rgb(p) for p in photos]
    style_image = open_rgb(SHARED / "data" / "style" / f"{style}.jpg")
    outputs = {}
    for folder in sorted(p for p in (out / style).iterdir() if (p / "result.json").is_file()):
        cache = folder / "stylized"
        cache.mkdir(exist_ok=True)
        images = []
        for photo in photos:
            target = cache / f"{photo.stem}.png"
            if not target.is_file():
                ckpt = json.loads((folder / "result.json").read_text()).get("ckpt") or folder / f"{style}.pt"
                fastnst.stylize(photo, ckpt, max_size=size, device="cpu").save(target)
            images.append(open_rgb(target))
        outputs[folder.name] = images
        strip([("photo", originals), ("style", [style_image] * len(photos)), (folder.name, images)], tile).save(
            pictures_dir / f"{style}_{folder.name}.jpg", quality=90)
    columns = [("photo", originals), ("style", [style_image] * len(photos))]
    columns += [(name, images) for name, images in outputs.items()]
    strip(columns, tile).save(pictures_dir / f"{style}_all.jpg", quality=90)


def g(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def write_table(out: Path, command: str) -> Path:
    lines = [f"command: `{command}`", "",
             "own = the objective the net was trained with; ref = fixed reference (default layers/weights, style "
             "image 256, photos 256); ref512 = the same with style image 512 and photos 512. Means over the val "
             "photos. eq. steps = L-BFGS steps from noise to beat the net's ref total (median; '>N' = never).", "",
             "| style | setting | description | s/step | own style | own content | ref style | ref content | "
             "ref total | ref style per layer (1_2 / 2_2 / 3_3 / 4_3) | eq. steps (ref) | ref512 style | ref512 content | "
             "ref512 style per layer |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for result_path in sorted(out.glob("*/*/result.json")):
        r = json.loads(result_path.read_text())
        ref, ref512, opt = r["ref"], r["ref512"], r.get("ref_optimize")
        per = " / ".join(g(ref[f"style_{n}"]) for n in REFERENCE["style_layers"])
        per512 = " / ".join(g(ref512[f"style_{n}"]) for n in REFERENCE["style_layers"])
        if opt:
            med = opt["median_steps"]
            steps = f">{opt['max_steps']}" if med is None else f"{med:g}"
            steps += f" ({opt['matched']}/{opt['of']})"
        else:
            steps = "-"
        lines.append(f"| {r['style']} | {r['setting']} | {r['description']} | {g(r['seconds_per_step'])} | "
                     f"{g(r['own']['style'])} | {g(r['own']['content'])} | {g(ref['style'])} | {g(ref['content'])} | "
                     f"{g(ref['total'])} | {per} | {steps} | {g(ref512['style'])} | {g(ref512['content'])} | {per512} |")
    path = out / "SWEEP.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--settings", nargs="*", default=["A", "B", "C", "D", "E"], help=f"of {', '.join(SETTINGS)}")
    p.add_argument("--styles", nargs="+", default=["mosaic"], help="names of ../shared/data/style/<name>.jpg")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--image-size", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--stability-weight", type=float, default=0.0, help="0 (default): off, ~40 %% faster")
    p.add_argument("--eval-images", type=int, default=3)
    p.add_argument("--vs-optimize", type=int, default=100, help="0: skip the optimizer comparison")
    p.add_argument("--picture-size", type=int, default=512)
    p.add_argument("--tile", type=int, default=256)
    p.add_argument("--init-from", help="continue this inference checkpoint (fresh Adam) for --steps more "
                   "steps instead of training from scratch; results go to <setting>-ft<its step>")
    p.add_argument("--extra", nargs="*", default=[], metavar="NAME=CKPT",
                   help="also evaluate existing checkpoints as rows NAME (e.g. bundled=checkpoints/mosaic.pt)")
    p.add_argument("--out", default=str(ROOT / "runs" / "sweep"))
    p.add_argument("--pictures", default=None, help="default <out>/../pictures")
    args = p.parse_args(argv)
    out = Path(args.out)
    pictures_dir = Path(args.pictures) if args.pictures else out.parent / "pictures"
    pictures_dir.mkdir(parents=True, exist_ok=True)
    command = "python scripts/sweep_recipe.py " + " ".join(sys.argv[1:] if argv is None else argv)
    unknown = [s for s in args.settings if s not in SETTINGS]
    if unknown:
        p.error(f"unknown setting(s) {unknown}; known: {', '.join(SETTINGS)}")
    for item in args.extra:
        name, _, path = item.partition("=")
        checkpoint = fastnst.load_checkpoint(path)
        style = checkpoint.style_name
        folder = out / style / name
        if (folder / "result.json").is_file():
            continue
        folder.mkdir(parents=True, exist_ok=True)
        t = checkpoint.train_args
        result = {"style": style, "setting": name, "ckpt": str(Path(path).resolve()),
                  "description": f"existing {path}: {checkpoint.step} steps at {t.get('image_size')} px, "
                                 f"style {t.get('style_size')}, stability {t.get('stability_weight')}",
                  "seconds_per_step": None, **evaluate_setting(Path(path), style, args)}
        (folder / "result.json").write_text(json.dumps(result, indent=2) + "\n")
        pictures(out, style, pictures_dir, args.picture_size, args.tile)
        write_table(out, command)
    for style in args.styles:
        for name in args.settings:
            folder = out / style / (name + (f"-ft{fastnst.load_checkpoint(args.init_from).step}"
                                            if args.init_from else ""))
            result_path = folder / "result.json"
            if result_path.is_file():
                print(f"{style}/{name}: done already", flush=True)
                continue
            folder.mkdir(parents=True, exist_ok=True)
            print(f"{style}/{name}: training ({SETTINGS[name][0]})", flush=True)
            ckpt, seconds_per_step = train_setting(name, style, args, folder)
            print(f"{style}/{name}: {seconds_per_step:.2f} s/step; evaluating", flush=True)
            tick = time.perf_counter()
            result = {"style": style, "setting": folder.name,
                      "description": SETTINGS[name][0] + (f", from {args.init_from}" if args.init_from else ""),
                      "overrides": {k: list(v) if isinstance(v, tuple) else v for k, v in SETTINGS[name][1].items()},
                      "steps": args.steps, "image_size": args.image_size,
                      "batch_size": args.batch_size, "stability_weight": args.stability_weight,
                      "seconds_per_step": seconds_per_step, **evaluate_setting(ckpt, style, args)}
            result["eval_seconds"] = time.perf_counter() - tick
            result_path.write_text(json.dumps(result, indent=2) + "\n")
            pictures(out, style, pictures_dir, args.picture_size, args.tile)
            print(f"{style}/{name}: done; table {write_table(out, command)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
