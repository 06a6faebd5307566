"""The decoders' stylization objective: decode the transformed features, then judge the picture.

Decoders trained to rebuild photos see only photos' features; after whitening and colouring they
decode a painting's, which they never saw (foreign colours, smeared faces). With this objective each
step stylizes a batch of photos with a painting (a random crop of a training painting at a random
scale), through the whole chain of levels, and the loss is what scripts/yardstick.py measures:

    style   d(output) / d(photo), where d(x) is the mean over VGG19 relu1_1 ... relu5_1 of
            ||G(x) - G(painting)||_F / ||G(painting)||_F: how much closer to the painting than the photo
            was (a ratio, so that paintings far from every photo do not outweigh the others)
    content content_weight * ||F(output) - F(photo)||^2 / ||F(photo)||^2 at relu4_1

(AdaIN's decoder is trained alike, Huang and Belongie 2017.) The loss network is the encoder's VGG19,
taken on to relu5_1, frozen.
"""

from __future__ import annotations

import random
from pathlib import Path

import torch
import torch.nn.functional as F

from ..errors import OptionError
from ..images import find_images
from ..loss.functional import gram_matrix
from ..universal import UniversalNet
from ..universal.encoder import Encoder
from ..universal.painting import read_painting

STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_LAYER = "relu4_1"
SMALLEST_CROP = 0.6  # of the painting's short side: crops of most of the painting, at about its own scale
# Crops are squares scaled to one size: each new shape costs the CPU backend a new plan (seconds).
CROP = 256


class PaintingCrops:
    """Random square crops of the paintings in a folder, each 1 x 3 x CROP x CROP in [0, 1], of a
    painting read as the universal model reads one (512 pixels on the long side at most). The crop of
    a step depends on the seed and the step alone, so a resumed run draws the same ones."""

    def __init__(self, folder: str | Path, seed: int) -> None:
        files = find_images(Path(folder)) if Path(folder).is_dir() else []
        if not files:
            raise OptionError(f"{{paintings}} {folder}: no paintings (jpg, png, webp, bmp) in this folder")
        self.paintings = [read_painting(path) for path in files]
        self.seed = seed

    def __len__(self) -> int:
        return len(self.paintings)

    def __call__(self, step: int) -> torch.Tensor:
        draw = random.Random(f"{self.seed}/{step}")
        painting = draw.choice(self.paintings)
        height, width = painting.shape[-2:]
        side = max(16, int(min(height, width) * draw.uniform(SMALLEST_CROP, 1.0)))
        top, left = draw.randint(0, height - side), draw.randint(0, width - side)
        crop = painting[..., top:top + side, left:left + side]
        return F.interpolate(crop, size=(CROP, CROP), mode="bilinear", antialias=True, align_corners=False)


class StylizeObjective:
    """What a stylization step of the decoders minimises (see the module's docstring)."""

    advice = "Try a lower --lr or --content-weight."

    def __init__(self, paintings: PaintingCrops, loss_net: Encoder, content_weight: float, image_size: int,
                 amp_dtype: torch.dtype | None) -> None:
        self.paintings, self.loss_net, self.content_weight = paintings, loss_net, content_weight
        self.image_size, self.amp_dtype = image_size, amp_dtype

    def _painting(self, net: UniversalNet, step: int, device: torch.device) -> tuple[list, dict[str, torch.Tensor]]:
        """A painting crop's statistics for the transform, and its Gram matrices at the photos' scale."""
        crop = self.paintings(step).to(device)
        with torch.no_grad():
            style = net.style(crop)
            seen = F.interpolate(crop, size=(self.image_size, self.image_size), mode="bilinear", antialias=True,
                                 align_corners=False)
            grams = {layer: gram_matrix(t.float()) for layer, t in self.loss_net.taps(seen.clamp(0, 1), STYLE_LAYERS).items()}
        return [(style, 1.0)], grams

    def __call__(self, net: UniversalNet, photos: torch.Tensor, step: int) -> dict[str, torch.Tensor]:
        styles, grams = self._painting(net, step, photos.device)
        with torch.autocast(photos.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
            output = net(photos, styles)
            taps = self.loss_net.taps(output, STYLE_LAYERS)
            with torch.no_grad():
                photo_taps = self.loss_net.taps(photos, STYLE_LAYERS)
        losses, output_distance, photo_distance = {}, 0.0, 0.0
        for layer in STYLE_LAYERS:
            with torch.autocast(photos.device.type, enabled=False):  # Grams in float32
                distance = (gram_matrix(taps[layer].float()) - grams[layer]).flatten(1).norm(dim=1) / grams[layer].norm()
                with torch.no_grad():
                    photo_distance += (gram_matrix(photo_taps[layer].float()) - grams[layer]).flatten(1).norm(dim=1) / grams[layer].norm()
            losses[f"style/{layer}"] = distance.mean()
            output_distance = output_distance + distance
        losses["style"] = (output_distance / photo_distance.clamp_min(1e-8)).mean()
        target = photo_taps[CONTENT_LAYER].float()
        losses["content"] = F.mse_loss(taps[CONTENT_LAYER].float(), target) / target.square().mean().clamp_min(1e-8)
        losses["total"] = losses["style"] + self.content_weight * losses["content"]
        return losses

    def group(self, step: int) -> int:
        return 0
