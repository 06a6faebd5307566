"""Quality cost of --arch light: the style and content losses of checkpoints' outputs on the same
photos, measured with one loss network and the first checkpoint's layers and weights.

    python scripts/compare_arch.py /work/runs-speed/mosaic-johnson.pt /work/runs-speed/mosaic-light.pt \\
        --style ../shared/data/style/mosaic.jpg --loss-weights ../shared/weights/vgg19-imagenet-features.pth

Lower is better for both; the losses are training's (weighted as in training), averaged over the photos.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

import fastnst
from fastnst.images import find_images, open_rgb, resize_max, to_tensor
from fastnst.losses import content_loss, gram_matrix, style_loss
from fastnst.lossnet import LossNet

ROOT = Path(__file__).resolve().parents[1]


@torch.inference_mode()
def val_losses(model: torch.nn.Module, photos: list[torch.Tensor], lossnet: LossNet, style_grams: dict,
               layer_weights: dict[str, float], content_layers: list[str], content_weight: float,
               style_weight: float) -> dict[str, float]:
    """Mean weighted content and style loss of the model's (clamped) outputs over the photos."""
    content, style = [], []
    for photo in photos:
        out = model(photo).clamp(0, 1)
        features, targets = lossnet(out), lossnet(photo)
        content.append(content_weight * content_loss(features, {n: targets[n] for n in content_layers}).item())
        style.append(style_weight * style_loss(features, style_grams, layer_weights)[0].item())
    return {"content": sum(content) / len(content), "style": sum(style) / len(style)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("ckpts", nargs="+", help="checkpoints to compare")
    p.add_argument("--style", required=True, help="the style image they were trained on")
    p.add_argument("--val", default=str(ROOT.parent / "shared" / "data" / "content" / "val"), help="photos")
    p.add_argument("--size", type=int, default=256, help="resize photos to this long side (default 256)")
    p.add_argument("--loss-weights", help="VGG weights file (default: the first checkpoint's)")
    args = p.parse_args(argv)

    checkpoints = [fastnst.load_checkpoint(c) for c in args.ckpts]
    train, info = checkpoints[0].train_args, checkpoints[0].loss_net
    content_layers, style_layers = list(info["content_layers"]), list(info["style_layers"])
    lossnet = LossNet(info["name"], list(dict.fromkeys(content_layers + style_layers)),
                      args.loss_weights or info["weights"])
    style = to_tensor(resize_max(open_rgb(args.style), train.get("style_size")))
    with torch.inference_mode():
        style_features = lossnet(style)
    layer_weights = dict(zip(style_layers, info.get("style_layer_weights") or [1.0] * len(style_layers)))
    style_grams = {n: gram_matrix(style_features[n]) for n in style_layers}
    photos = [to_tensor(resize_max(open_rgb(p), args.size)) for p in find_images(args.val)]
    print(f"{len(photos)} photos from {args.val} at {args.size} px; {info['name']} losses, content weight "
          f"{train['content_weight']}, style weight {train['style_weight']}")
    print(f"{'checkpoint':<40} {'arch':<8} {'params':>8} {'steps':>6} {'content':>9} {'style':>9} {'total':>9}")
    for ckpt, path in zip(checkpoints, args.ckpts):
        model = ckpt.model.eval()
        losses = val_losses(model, photos, lossnet, style_grams, layer_weights, content_layers,
                            train["content_weight"], train["style_weight"])
        params = sum(p.numel() for p in model.parameters())
        print(f"{Path(path).name:<40} {model.config.arch:<8} {params:>8} {ckpt.step:>6} {losses['content']:9.3f} "
              f"{losses['style']:9.3f} {losses['content'] + losses['style']:9.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
