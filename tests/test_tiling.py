"""Tiled inference: bounded memory for huge images, and the same picture as the untiled net."""

import numpy as np
import pytest
import torch
from PIL import Image

import fastnst
from fastnst.inference import runtime as runtime_module
from fastnst.inference import stylizer as stylize_module
from fastnst.inference import tiling
from fastnst.errors import FastNSTError
from fastnst.inference import FastStylizer
from fastnst.inference.tiling import blend_weights, stylize_tiled, tile_cores, tile_starts

from .helpers import random_image
from .helpers import contrasty_net as net


@pytest.mark.parametrize("length,tile,overlap", [(1921, 1024, 128), (5000, 1024, 128), (1030, 1024, 128),
                                                 (100, 64, 16), (300, 64, 0), (64, 64, 16)])
def test_tiles_cover_the_side_on_the_stride_grid_and_weights_sum_to_one(length, tile, overlap):
    starts = tile_starts(length, tile, overlap)
    weights = blend_weights(starts, tile, length, overlap)
    assert starts[0] == 0 and all(s % 4 == 0 for s in starts)
    assert starts[-1] + len(weights[-1]) == length and all(len(w) <= tile + 3 for w in weights)
    total = torch.zeros(length)
    for s, w in zip(starts, weights):
        total[s:s + len(w)] += w
    assert torch.allclose(total, torch.ones(length), atol=1e-6)
    # The cores split the side exactly once between the tiles.
    covered = torch.zeros(length, dtype=torch.int)
    for s, (lo, hi), w in zip(starts, tile_cores(starts, tile, length), weights):
        covered[s + lo:s + (len(w) if hi is None else hi)] += 1
    assert covered.eq(1).all()


@pytest.mark.parametrize("arch", ["johnson", "light"])
def test_tiled_equals_untiled_when_the_whole_image_gives_the_statistics(arch):
    model = net(arch)
    x = torch.rand(1, 3, 200, 262)
    with torch.no_grad():
        expected = model(x)
    out = stylize_tiled(model, x, tile=160, overlap=112)  # 2 x 4 tiles; <= stats_size: one whole-image pass
    assert expected.std() > 0.1
    assert (out - expected).abs().max() < 1e-3  # float rounding; 1/255 is 4e-3


@pytest.mark.slow
def test_tiled_equals_untiled_when_the_tiles_measure_the_statistics():
    """An image larger than stats_size: its statistics come from the tiles, norm by norm."""
    model = net("light")
    x = torch.rand(1, 3, 170, 202)
    with torch.no_grad():
        expected = model(x)
    out = stylize_tiled(model, x, tile=160, overlap=112, stats_size=64)  # 2 x 2 tiles
    assert (out - expected).abs().max() < 1e-3


def test_seams_are_invisible_even_with_a_small_overlap():
    """Each tile normalized on its own would differ from its neighbour; with the whole image's
    statistics, even a small overlap leaves differences far below one level of 255."""
    model = net()
    x = torch.rand(1, 3, 96, 200)
    with torch.no_grad():
        expected = model(x)
    out = stylize_tiled(model, x, tile=96, overlap=64)
    assert (out - expected).abs().mean() < 0.5 / 255


def test_batches_bf16_and_bad_tile_sizes():
    model = net("light")
    x = torch.rand(2, 3, 70, 90)
    fast = FastStylizer(model, "cpu", "bf16")
    out = stylize_tiled(fast, x, tile=64, overlap=48)
    assert out.shape == x.shape and out.dtype == torch.float32
    assert (out - fast(x)).abs().mean() < 2 / 255
    with pytest.raises(FastNSTError, match="overlap"):
        stylize_tiled(model, x, tile=64, overlap=64)
    with pytest.raises(FastNSTError, match="at least 16"):
        stylize_tiled(model, x, tile=8, overlap=0)


def test_stylize_tiles_above_the_auto_threshold(monkeypatch, ckpt_file):
    calls = []
    real = tiling.stylize_tiled
    monkeypatch.setattr(runtime_module, "stylize_tiled", lambda *a, **k: calls.append(a[2]) or real(*a, **k))
    monkeypatch.setattr(stylize_module, "AUTO_TILE_PIXELS", 60 * 50 - 1)
    photo = random_image(60, 50)
    tiled = np.asarray(fastnst.stylize(photo, ckpt_file), dtype=int)
    assert calls == [tiling.DEFAULT_TILE]
    untiled = np.asarray(fastnst.stylize(photo, ckpt_file, tile=0), dtype=int)
    assert len(calls) == 1 and np.abs(tiled - untiled).max() <= 1
    fastnst.stylize(photo, ckpt_file, tile=32)
    assert calls[-1] == 32


def test_infer_tile_flag(tmp_path, ckpt_file, capsys):
    from fastnst.cli import infer_main

    photo = tmp_path / "photo.png"
    random_image(90, 70).save(photo)
    for tile in ("48", "0"):
        assert infer_main([str(photo), "--ckpt", str(ckpt_file), "--precision", "fp32", "--tile", tile,
                           "-o", str(tmp_path / f"t{tile}.png")]) == 0
    tiled, whole = (np.asarray(Image.open(tmp_path / f"t{t}.png"), dtype=int) for t in ("48", "0"))
    assert tiled.shape == (70, 90, 3) and np.abs(tiled - whole).mean() < 1
    assert infer_main([str(photo), "--ckpt", str(ckpt_file), "--tile", "-5"]) == 2
    assert "--tile" in capsys.readouterr().err
