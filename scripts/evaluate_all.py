"""The README quality table: every bundled checkpoint evaluated on the shared val photos at 256 and
512 px, with Johnson et al.'s "equivalent optimization steps" (L-BFGS from noise, same loss).

    python scripts/evaluate_all.py                     # checkpoints/*.pt, sizes 256,512, up to 500 steps
    python scripts/evaluate_all.py checkpoints/mosaic.pt --vs-optimize 200 --json-dir runs/eval
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Sequence

import fastnst
from fastnst.errors import FastNSTError
from fastnst.loss import LossConfig
from fastnst.optimization.evaluate import format_table, steps_text, write_json

from gallery import ROOT, SHARED  # scripts/ is on sys.path when this file is run


def _style_file(checkpoint: fastnst.Checkpoint, styles_dir: Path, name: str) -> Path:
    """The file of the net's style `name` to measure style loss against (a thumbnail is too small)."""
    for ext in (".jpg", ".jpeg", ".png", ".webp", ".bmp"):
        if (styles_dir / f"{name}{ext}").is_file():
            return styles_dir / f"{name}{ext}"
    stored = checkpoint.train_args.get("style")
    for path in stored if isinstance(stored, list) else [stored] if stored else []:
        if Path(path).stem == name and Path(path).is_file():
            return Path(path)
    raise FastNSTError(f"{checkpoint.path}: style image {name} not found in {styles_dir}")


def today_objective() -> dict[str, Any]:
    """Today's default loss options (not the loss network or its weights): one objective for all."""
    defaults = LossConfig()
    return {k: getattr(defaults, k) for k in ("content_layers", "style_layers", "style_layer_weights",
                                              "content_weight", "style_weight", "tv_weight", "style_size")}


def markdown(reports: list[dict[str, Any]]) -> str:
    lines = ["| style | size | content | style | tv | total | net s/img | optimizer steps to match (median) "
             "| optimizer s to match (mean) | caught up |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in reports:
        m, o = r["mean"], r.get("optimize")
        opt_cells = (["-", "-", "-"] if o is None else
                     [steps_text(o["median_steps"], o["max_steps"]),
                      "-" if o["mean_seconds_to_match"] is None else f"{o['mean_seconds_to_match']:.3g}",
                      f"{o['matched']}/{o['of']}"])
        lines.append(f"| {r['style_name']} | {r['size']} | {m['content']:.3g} | {m['style']:.3g} | {m['tv']:.3g} "
                     f"| {m['total']:.3g} | {m['seconds']:.3g} | " + " | ".join(opt_cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoints", nargs="*", help="default: checkpoints/*.pt")
    p.add_argument("--content", default=str(SHARED / "data" / "content" / "val"))
    p.add_argument("--styles", default=str(SHARED / "data" / "style"), help="folder with <style name>.jpg")
    p.add_argument("--sizes", type=lambda text: [int(v) for v in text.split(",")], default=[256, 512],
                   help="comma-separated long sides (default 256,512)")
    p.add_argument("--images", type=int, help="use only the first N photos")
    p.add_argument("--vs-optimize", type=int, default=500, help="optimizer steps at most (default 500; 0: none)")
    p.add_argument("--vs-init", choices=["noise", "content"], default="noise")
    p.add_argument("--vs-optimizer", choices=["lbfgs", "adam"], default="lbfgs")
    p.add_argument("--loss-weights", help="override the checkpoints' stored loss network weights path")
    p.add_argument("--today", action="store_true", help="measure every net with today's default loss options "
                   "instead of each checkpoint's own, so nets trained with different recipes compare")
    p.add_argument("--json-dir", help="also write <style>_<size>.json reports here")
    p.add_argument("--device", default="auto")
    args = p.parse_args(argv)
    checkpoints = args.checkpoints or sorted(str(p) for p in (ROOT / "checkpoints").glob("*.pt"))
    reports = []
    try:
        if not checkpoints:
            raise FastNSTError("no checkpoints given and none in checkpoints/")
        objective = today_objective() if args.today else {}
        for path in checkpoints:
            checkpoint = fastnst.load_checkpoint(path)
            for name in checkpoint.style_names:  # a net of several styles: each of them
                style = _style_file(checkpoint, Path(args.styles), name)
                for size in args.sizes:
                    report = fastnst.evaluate(checkpoint, args.content, style, size=size, images=args.images,
                                              vs_optimize=args.vs_optimize or None, vs_init=args.vs_init,
                                              vs_optimizer=args.vs_optimizer, device=args.device, progress=True,
                                              net_style=name, loss_weights=args.loss_weights, **objective)
                    if len(checkpoint.style_names) > 1:
                        report["style_name"] = f"{checkpoint.style_name}: {name}"
                    print(format_table(report), end="\n\n", file=sys.stderr)
                    if args.json_dir:
                        write_json(report, Path(args.json_dir) / f"{checkpoint.style_name}_{name}_{size}.json")
                    reports.append(report)
    except FastNSTError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(markdown(reports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
