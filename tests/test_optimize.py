import dataclasses
import os

import numpy as np
import pytest
from PIL import Image

import fastnst
from fastnst.cli import optimize_main
from fastnst.images import resize_long_side
from fastnst.loss import LossConfig
from fastnst.training import TrainConfig

from .helpers import random_image, run_cli

TINY = dict(size=32, loss_net="vgg16", loss_weights="random", style_size=32)


def smooth_photo(width: int = 40, height: int = 30) -> Image.Image:
    """A colourful gradient: easy to tell its colours from a stylized image's."""
    x = np.linspace(0, 1, width)[None, :, None]
    y = np.linspace(0, 1, height)[:, None, None]
    rgb = np.concatenate([x.repeat(height, 0), y.repeat(width, 1), (1 - x * y)], axis=2)
    return Image.fromarray((rgb * 255).astype(np.uint8), "RGB")


def test_loss_defaults_are_trainings():
    """optimize and evaluate minimise/report the loss training uses, so their numbers compare."""
    train = TrainConfig()
    for f in dataclasses.fields(LossConfig):
        assert getattr(LossConfig(), f.name) == getattr(train, f.name), f.name


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_a_few_steps_lower_the_loss(optimizer, style_file):
    image, history = fastnst.optimize(smooth_photo(), style_file, steps=6, optimizer=optimizer,
                                      return_history=True, **TINY)
    assert image.size == (32, 24) and image.mode == "RGB"
    assert len(history) == 7  # the start and after each step
    # The image returned is the best one seen: L-BFGS's last evaluation may be a line-search trial.
    assert min(h["total"] for h in history[1:]) < history[0]["total"]
    assert {"content", "style", "tv", "total", "seconds", "style_relu1_2", "style_relu4_3"} <= set(history[0])
    first = history[0]
    assert first["total"] == pytest.approx(first["content"] + first["style"] + first["tv"], rel=1e-5)


def test_content_start_versus_noise_start(style_file):
    _, from_photo = fastnst.optimize(smooth_photo(), style_file, steps=1, init="content", return_history=True, **TINY)
    assert from_photo[0]["content"] == 0.0  # the photo itself: nothing of its content lost yet
    noise_a, from_noise = fastnst.optimize(smooth_photo(), style_file, steps=1, init="noise", return_history=True,
                                           **TINY)
    assert from_noise[0]["content"] > 0.0
    noise_b = fastnst.optimize(smooth_photo(), style_file, steps=1, init="noise", **TINY)
    noise_c = fastnst.optimize(smooth_photo(), style_file, steps=1, init="noise", seed=1, **TINY)
    assert np.array_equal(np.asarray(noise_a), np.asarray(noise_b))  # seeded: reproducible
    assert not np.array_equal(np.asarray(noise_a), np.asarray(noise_c))


def test_save_every_writes_intermediate_images(tmp_path, style_file):
    out = tmp_path / "out.png"
    result = fastnst.optimize(smooth_photo(), style_file, steps=5, save_every=2, output=out, **TINY)
    assert sorted(p.name for p in tmp_path.glob("out*")) == ["out.png", "out_0002.png", "out_0004.png"]
    assert not list(tmp_path.glob(".*"))  # no temporary files left
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(result))
    assert Image.open(tmp_path / "out_0002.png").size == (32, 24)


def test_preserve_color_keeps_the_photos_colours(style_file):
    photo = smooth_photo()

    def chroma(image):
        return np.asarray(image.convert("YCbCr"), dtype=float)[..., 1:]

    reference = chroma(resize_long_side(photo, 32))
    # Two steps already take on the style's colours; with preserve_color the photo's stay.
    plain = fastnst.optimize(photo, style_file, steps=2, **TINY)
    kept = fastnst.optimize(photo, style_file, steps=2, preserve_color=True, **TINY)
    assert np.abs(chroma(kept) - reference).mean() < 2
    assert np.abs(chroma(plain) - reference).mean() > 5


def test_size_is_the_long_side_up_or_down(style_file):
    options = {**TINY, "steps": 1}
    assert fastnst.optimize(random_image(40, 20), style_file, **{**options, "size": 64}).size == (64, 32)
    assert fastnst.optimize(random_image(20, 40), style_file, **{**options, "size": 16}).size == (8, 16)
    assert fastnst.optimize(random_image(20, 40), style_file, **{**options, "size": None}).size == (20, 40)
    # Images and video frames, by contrast, are only ever shrunk to fit a size.
    assert resize_long_side(random_image(40, 20), 64).size == (40, 20)
    assert resize_long_side(random_image(40, 20), 64, enlarge=True).size == (64, 32)


def run(capsys, *argv):
    return run_cli(optimize_main, capsys, *argv)


def test_cli_writes_beside_the_photo(tmp_path, style_file, capsys):
    photo = tmp_path / "photo.jpg"
    smooth_photo().save(photo)
    code, out, err = run(capsys, photo, "--style", style_file, "--steps", 2, "--size", 32, "--loss-weights", "random",
                         "--style-size", 32, "--no-progress")
    assert code == 0, err
    written = tmp_path / "photo_tiles_optimized.jpg"
    assert Image.open(written).size == (32, 24) and str(written) in out


@pytest.mark.parametrize("case", ["missing photo", "not an image", "bad style", "steps", "extension", "overwrite",
                                  "layer", "save-every", "lr for lbfgs"])
def test_cli_bad_input_is_one_line(case, tmp_path, style_file, capsys):
    photo = tmp_path / "photo.png"
    smooth_photo().save(photo)
    junk = tmp_path / "junk.jpg"
    junk.write_text("not an image")
    argv = {"missing photo": [tmp_path / "none.jpg", "--style", style_file],
            "not an image": [junk, "--style", style_file],
            "bad style": [photo, "--style", junk],
            "steps": [photo, "--style", style_file, "--steps", 0],
            "extension": [photo, "--style", style_file, "-o", tmp_path / "out.gif"],
            "overwrite": [photo, "--style", style_file, "-o", photo],
            "layer": [photo, "--style", style_file, "--style-layers", "relu9_9"],
            "save-every": [photo, "--style", style_file, "--save-every", 0],
            "lr for lbfgs": [photo, "--style", style_file, "--lr", 0.1]}[case]
    before = photo.read_bytes()
    # the case's own options come last and win: "--steps 0" overrides "--steps 2"
    code, _, err = run(capsys, "--steps", 2, "--size", 32, "--loss-weights", "random", "--no-progress", *argv)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ") and "Traceback" not in err
    assert photo.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.jpg", "photo.png", "style"]


def test_optimize_refuses_an_output_that_is_a_hard_link_to_the_photo(tmp_path, style_file):
    photo = tmp_path / "photo.png"
    random_image(24, 20).save(photo)
    os.link(photo, tmp_path / "result.png")
    with pytest.raises(fastnst.FastNSTError, match="would overwrite the input"):
        fastnst.optimize(photo, style_file, output=tmp_path / "result.png", steps=1)
