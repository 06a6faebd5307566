"""Shared fixtures: tiny images, a random-weight checkpoint, paths into ../shared."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fastnst.checkpoint import atomic_save, build_checkpoint
from fastnst.model import TransformerNet

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
TRAIN_DIR = SHARED / "data" / "content" / "train"
VAL_DIR = SHARED / "data" / "content" / "val"
STYLE_DIR = SHARED / "data" / "style"
VGG19_WEIGHTS = SHARED / "weights" / "vgg19-imagenet-features.pth"

needs_shared = pytest.mark.skipif(not TRAIN_DIR.is_dir(), reason="../shared data not present")


def random_image(width: int, height: int, mode: str = "RGB", seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), "RGB").convert(mode)


@pytest.fixture
def style_file(tmp_path: Path) -> Path:
    path = tmp_path / "style" / "tiles.png"
    path.parent.mkdir()
    random_image(48, 40, seed=1).save(path)
    return path


@pytest.fixture
def photo_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    (folder / "nested").mkdir(parents=True)
    for i in range(3):
        random_image(40 + 3 * i, 36, seed=10 + i).save(folder / f"p{i}.jpg")
    random_image(50, 44, seed=20).save(folder / "nested" / "deep.png")
    return folder


@pytest.fixture
def ckpt_file(tmp_path: Path) -> Path:
    """A fastnst inference checkpoint with random weights (style name 'tiles')."""
    torch.manual_seed(0)
    model = TransformerNet()
    state = build_checkpoint(model, style_name="tiles", style_image=random_image(64, 64),
                             train_args={"steps": 0}, loss_net={"name": "vgg16"}, step=0, half=True)
    return atomic_save(state, tmp_path / "tiles.pt")
