"""How much each style layer (and content, TV) contributes to the loss and to the gradient w.r.t.
the output image, for a given objective, at several points of training.

    OMP_NUM_THREADS=1 PYTHONPATH=. python scripts/style_layer_shares.py \
        --style ../shared/data/style/mosaic.jpg --ckpt checkpoints/mosaic.pt \
        --loss-weights ../shared/weights/vgg19-imagenet-features.pth --sizes 128 256 --images 4

States (what the output image y is):
  init     the output of an untrained TransformerNet (seed 0): the start of training
  photo    y = the photo itself
  ckpt     the output of --ckpt (a typical point of training), if given

For each state and crop size: every weighted loss term, its share of the summed style loss, the
norm of its gradient w.r.t. y and its share of the summed gradient norms (style layers + content +
TV). Then the layer weights that would equalize the per-layer gradient norms (at the ckpt state,
else init) and the weights that would equalize the per-layer losses at init, both scaled so the
summed style gradient norm stays what it is now.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

import fastnst
from fastnst.images import center_crop
from fastnst.images import find_images, open_rgb
from fastnst.model import ModelConfig, TransformerNet
from fastnst.loss import LossConfig, Objective

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def terms_and_grads(objective: Objective, y: torch.Tensor, x: torch.Tensor) -> dict[str, tuple[float, float]]:
    """{term: (weighted loss, ||d term / d y||)} for content, each style layer and tv."""
    y = y.detach().clone().requires_grad_(True)
    terms = objective(y, objective.content_targets(x))
    names = ["content", *[k for k in terms if k.startswith("style_")], "tv"]
    out = {}
    for i, name in enumerate(names):
        (grad,) = torch.autograd.grad(terms[name], y, retain_graph=i < len(names) - 1)
        out[name] = (terms[name].item(), grad.norm().item())
    return out


def table(rows: dict[str, tuple[float, float]]) -> list[str]:
    style_keys = [k for k in rows if k.startswith("style_")]
    style_sum = sum(rows[k][0] for k in style_keys)
    grad_sum = sum(g for _, g in rows.values())
    style_grad_sum = sum(rows[k][1] for k in style_keys)
    lines = ["| term | loss | share of style loss | grad norm | share of all grad norms | share of style grad norms |",
             "|---|---|---|---|---|---|"]
    for name, (loss, grad) in rows.items():
        is_style = name in style_keys
        lines.append(f"| {name} | {loss:.4g} | {f'{100 * loss / style_sum:.1f} %' if is_style else '-'} | "
                     f"{grad:.3g} | {100 * grad / grad_sum:.1f} % | "
                     f"{f'{100 * grad / style_grad_sum:.1f} %' if is_style else '-'} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--style", default=str(SHARED / "data" / "style" / "mosaic.jpg"))
    p.add_argument("--content", default=str(SHARED / "data" / "content" / "train"))
    p.add_argument("--ckpt", default=str(ROOT / "checkpoints" / "mosaic.pt"), help="'' for none")
    p.add_argument("--loss-net", default="vgg19")
    p.add_argument("--loss-weights", default=str(SHARED / "weights" / "vgg19-imagenet-features.pth"))
    p.add_argument("--style-size", type=int, default=256)
    p.add_argument("--style-layer-weights", type=lambda s: tuple(float(v) for v in s.split(",")), default=None)
    p.add_argument("--style-weight", type=float, default=None)
    p.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    p.add_argument("--images", type=int, default=4)
    p.add_argument("--json", help="also write all numbers here")
    args = p.parse_args(argv)

    config = LossConfig(loss_net=args.loss_net, loss_weights=args.loss_weights, style_size=args.style_size,
                        style_layer_weights=args.style_layer_weights,
                        **({"style_weight": args.style_weight} if args.style_weight else {}))
    objective = Objective(args.style, config)
    photos = [open_rgb(path) for path in find_images(args.content)[: args.images]]
    torch.manual_seed(0)
    init_net = TransformerNet(ModelConfig.for_arch("johnson")).eval()
    ckpt_net = fastnst.load_checkpoint(args.ckpt).model.float().eval() if args.ckpt else None
    states = {"init": init_net, "photo": None, **({"ckpt": ckpt_net} if ckpt_net is not None else {})}

    print(f"objective: {config}\nphotos: {len(photos)} first of {args.content}, centre crops\n")
    results: dict[str, dict] = {}
    for size in args.sizes:
        x = torch.stack([center_crop(photo, size) for photo in photos])
        for state, net in states.items():
            with torch.no_grad():
                y = x if net is None else net(x).clamp(0, 1)
            rows = terms_and_grads(objective, y, x)
            results[f"{state}@{size}"] = rows
            print(f"### state {state}, {size} px crops\n")
            print("\n".join(table(rows)) + "\n")

    # Proposed layer weights (relative to the current ones).
    layers = list(config.style_layers)
    current = dict(zip(layers, config.style_layer_weights or (1.0,) * len(layers)))
    print("### proposed style layer weights (multiplying the current ones, keeping the summed style grad norm)\n")
    for size in args.sizes:
        for label, key, index in (("equal grad norms", f"{'ckpt' if ckpt_net is not None else 'init'}@{size}", 1),
                                  ("equal grad norms", f"init@{size}", 1),
                                  ("equal losses", f"init@{size}", 0)):
            rows = results[key]
            values = [rows[f"style_{n}"][index] for n in layers]
            grads = [rows[f"style_{n}"][1] for n in layers]
            raw = [1.0 / v for v in values]  # multipliers that make each layer's value equal
            scale = sum(grads) / sum(r * g for r, g in zip(raw, grads))
            mult = [r * scale for r in raw]
            weights = [current[n] * m for n, m in zip(layers, mult)]
            print(f"- {label} at {key}: " + ", ".join(f"{n} {w:.3g}" for n, w in zip(layers, weights))
                  + "  (relative to relu1_2: " + ", ".join(f"{w / weights[0]:.3g}" for w in weights) + ")")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
