"""The Python API given wrong values or wrong types: a FastNSTError whose message names the argument
as Python callers know it, before any work and before any file is written; never a bare TypeError
or AttributeError from deep inside, never a wrong result."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import fastnst
from fastnst import FastNSTError, StylizeOptions, Stylizer, TrainConfig

from .helpers import random_image


@pytest.mark.parametrize("max_size", [0, -1])
def test_stylize_with_max_size_zero_or_negative_raises_instead_of_making_a_1x1_image(ckpt_file, max_size):
    with pytest.raises(FastNSTError, match=r"^max_size must be a positive number of pixels$"):
        fastnst.stylize(random_image(20, 16), ckpt_file, max_size=max_size, device="cpu")


@pytest.mark.parametrize("arguments,message", [
    (dict(max_size=1.5), "max_size must be a whole number or None, got 1.5"),
    (dict(max_size="10"), "max_size must be a whole number or None, got '10' (a str)"),
    (dict(strength="a"), "strength must be a number, got 'a' (a str)"),
    (dict(tile="a"), "tile must be a whole number or None, got 'a' (a str)"),
    (dict(options={"max_size": 3}), "options must be a StylizeOptions (or its fields as keyword arguments), "
                                    "got {'max_size': 3} (a dict)"),
    (dict(foo=1), "unknown option(s): foo: give StylizeOptions fields"),
])
def test_stylize_names_an_option_of_the_wrong_type(ckpt_file, arguments, message):
    with pytest.raises(FastNSTError) as caught:
        fastnst.stylize(random_image(20, 16), ckpt_file, device="cpu", **arguments)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize("arguments,message", [
    (dict(batch_size="2"), "batch_size must be a whole number, got '2' (a str)"),
    (dict(crf=1.5), "crf must be a whole number or None, got 1.5"),
    (dict(video={"crf": 3}), "video must be a VideoOptions (or its fields as keyword arguments), "
                             "got {'crf': 3} (a dict)"),
])
def test_stylize_video_names_a_video_option_of_the_wrong_type(tmp_path, ckpt_file, arguments, message):
    with pytest.raises(FastNSTError) as caught:
        fastnst.stylize_video(tmp_path / "clip.mp4", tmp_path / "out.mp4", ckpt_file, device="cpu", **arguments)
    assert str(caught.value).startswith(message)


def test_a_video_option_given_for_an_image_is_named_as_one(ckpt_file):
    with pytest.raises(FastNSTError, match=r"^unknown option\(s\): crf: give StylizeOptions fields"):
        fastnst.stylize(random_image(20, 16), ckpt_file, device="cpu", crf=18)


def test_stylizer_checks_the_types_of_options_made_by_hand(ckpt_file):
    stylizer = Stylizer.load(ckpt_file, device="cpu")
    with pytest.raises(FastNSTError, match=r"^max_size must be a whole number or None, got '512' \(a str\)$"):
        stylizer.stylize(random_image(20, 16), StylizeOptions(max_size="512"))


@pytest.mark.parametrize("style,message", [
    (1.5, "style must be a style's name or index, a blend such as {'candy': 0.6, ...} or 'all', got 1.5"),
    (3.5, "style must be a style's name or index, a blend such as {'candy': 0.6, ...} or 'all', got 3.5"),
    (True, "style must be a style's name or index, a blend such as {'candy': 0.6, ...} or 'all', got True (a bool)"),
    (["candy"], "style must be a style's name or index, a blend such as {'candy': 0.6, ...} or 'all', "
                "got ['candy'] (a list)"),
    ({"candy": "abc"}, "style: the weight of candy must be a number, got 'abc' (a str)"),
    ({1.5: 1.0}, "style: a style is a name or an index, got 1.5"),
    ({"candy": 1.0, 0: 1.0}, "style: style candy is given twice in the blend (as candy and 0)"),
    (5, "style index 5 is out of range: this net has 2 styles: 0 candy, 1 mosaic"),
])
def test_a_style_of_the_wrong_type_or_value_is_named_in_api_terms(two_styles, style, message):
    with pytest.raises(FastNSTError) as caught:
        fastnst.stylize(random_image(20, 16), two_styles, style=style, device="cpu")
    assert str(caught.value) == message


def test_a_numpy_style_index_and_weights_are_taken_like_python_numbers(two_styles):
    image = random_image(20, 16)
    by_int = fastnst.stylize(image, two_styles, style=1, device="cpu")
    assert np.array_equal(np.asarray(fastnst.stylize(image, two_styles, style=np.int64(1), device="cpu")),
                          np.asarray(by_int))
    fastnst.stylize(image, two_styles, style={"candy": np.float32(0.5), "mosaic": 0.5}, device="cpu")


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L"])
def test_a_numpy_uint8_array_is_stylized_like_the_same_pil_image(ckpt_file, mode):
    image = random_image(20, 16, mode)
    stylizer = Stylizer.load(ckpt_file, device="cpu")
    from_array = stylizer.stylize(np.asarray(image))
    assert from_array.mode == image.convert("RGBA" if mode == "RGBA" else "RGB").mode
    assert np.array_equal(np.asarray(from_array), np.asarray(stylizer.stylize(image)))
    assert fastnst.stylize(np.asarray(image), ckpt_file, device="cpu").size == (20, 16)


@pytest.mark.parametrize("array,message", [
    (np.zeros((16, 20, 3)), "image: a numpy array must hold uint8 values 0..255, got float64"),
    (np.zeros((3, 16, 20), np.uint8), "image: a numpy array must be H x W x 3 (RGB), H x W x 4 (RGBA) or H x W "
                                      "(gray), got 3 x 16 x 20"),
    (np.zeros((0, 20, 3), np.uint8), "image: the array is empty (0 x 20 x 3)"),
])
def test_a_numpy_array_of_another_type_or_shape_is_refused_in_one_line(ckpt_file, array, message):
    with pytest.raises(FastNSTError) as caught:
        fastnst.stylize(array, ckpt_file, device="cpu")
    assert str(caught.value).startswith(message)


def test_stylize_of_a_number_says_what_an_image_is(ckpt_file):
    message = r"^image must be a PIL image, a numpy array \(H x W x 3, uint8\) or a file's path, got 123$"
    with pytest.raises(FastNSTError, match=message):
        fastnst.stylize(123, ckpt_file, device="cpu")
    with pytest.raises(FastNSTError, match=message):
        Stylizer.load(ckpt_file, device="cpu").stylize(123)
    with pytest.raises(FastNSTError, match=r"^cannot stylize with 123: give a checkpoint"):
        fastnst.stylize(random_image(20, 16), 123)


def test_a_numpy_array_as_style_is_named_in_one_line_for_a_net_and_for_the_universal_model(two_styles,
                                                                                         universal_file):
    picture = np.zeros((10, 10, 3), np.uint8)  # a painting as pixels: styles are chosen by name or path
    for model, start in [(two_styles, "style must be a style's name or index, a blend such as {'candy': 0.6, ...} "
                                      "or 'all', got array("),
                         (universal_file, "style must be a painting's path (a string or a Path), or a blend of them "
                                          "(\"a.jpg=0.6,b.jpg=0.4\"), got array(")]:
        with pytest.raises(FastNSTError) as caught:
            fastnst.stylize(random_image(20, 16), model, style=picture, device="cpu")
        assert str(caught.value).startswith(start) and "\n" not in str(caught.value)


def test_a_list_of_paintings_for_one_stylizer_says_to_blend_them_or_load_all(universal_file, tmp_path):
    paintings = [tmp_path / "a.png", tmp_path / "b.png"]
    for i, path in enumerate(paintings):
        random_image(32, 32, seed=i).save(path)
    with pytest.raises(FastNSTError) as caught:
        fastnst.stylize(random_image(20, 16), universal_file, style=[str(p) for p in paintings], device="cpu")
    assert str(caught.value).startswith("style ['") and str(caught.value).endswith(
        "(a list): one Stylizer takes one painting, or one blend of them (\"a.jpg=0.6,b.jpg=0.4\"); "
        "Stylizer.load_all makes one for each of a list")
    assert len(Stylizer.load_all(universal_file, style=[str(p) for p in paintings], device="cpu")) == 2


@pytest.mark.parametrize("images,message", [
    (torch.rand(3, 16, 16), "images must be a tensor N x 3 x H x W (values 0..1), got 3 x 16 x 16; for one image, "
                            "images[None]"),
    (torch.rand(16, 16), "images must be a tensor N x 3 x H x W (values 0..1), got 16 x 16"),
    (torch.rand(1, 4, 16, 16), "images must be a tensor N x 3 x H x W (values 0..1), got 1 x 4 x 16 x 16"),
    ([[0.5]], "images must be a tensor N x 3 x H x W (values 0..1), got [[0.5]] (a list); for a picture, use "
              "stylize"),
    (torch.zeros(1, 3, 16, 16, dtype=torch.uint8), "images must hold floats 0..1, got torch.uint8 (for bytes "
                                                   "0..255: images.float() / 255)"),
])
def test_stylize_tensor_of_another_shape_or_type_says_what_it_takes(ckpt_file, images, message):
    with pytest.raises(FastNSTError) as caught:
        Stylizer.load(ckpt_file, device="cpu").stylize_tensor(images)
    assert str(caught.value) == message


def test_stylize_video_of_a_number_names_the_argument(ckpt_file, tmp_path):
    with pytest.raises(FastNSTError, match=r"^source must be a path \(a string or a Path\), got 123$"):
        fastnst.stylize_video(123, tmp_path / "out.mp4", ckpt_file)
    with pytest.raises(FastNSTError, match=r"^target must be a path \(a string or a Path\), got 123$"):
        fastnst.stylize_video(tmp_path / "in.mp4", 123, ckpt_file)
    assert [p.name for p in tmp_path.iterdir()] == ["tiles.pt"]  # the checkpoint only


@pytest.mark.parametrize("options,message", [
    (dict(steps="3"), "steps must be a whole number or None, got '3' (a str)"),
    (dict(steps=2.5), "steps must be a whole number or None, got 2.5"),
    (dict(lr="0.1"), "lr must be a number, got '0.1' (a str)"),
    (dict(image_size=32.0), "image_size must be a whole number, got 32.0"),
    (dict(seed="1"), "seed must be a whole number, got '1' (a str)"),
    (dict(epochs="1"), "epochs must be a number or None, got '1' (a str)"),
    (dict(style_weight="1e4"), "style_weight must be a number, got '1e4' (a str)"),
    (dict(content_layers=["relu2_2", 3]), "content_layers: each must be a string, got 3"),
])
def test_train_with_an_option_of_the_wrong_type_raises_before_any_file_is_written(tmp_path, style_file, photo_dir,
                                                                                   options, message):
    logdir = tmp_path / "run"
    with pytest.raises(FastNSTError) as caught:
        fastnst.train(style=str(style_file), data=str(photo_dir), logdir=str(logdir), workers=0, progress=False,
                      **options)
    assert str(caught.value) == message
    assert not logdir.exists()  # no events file, no checkpoint


def test_train_config_check_names_the_wrong_type_and_accepts_paths_and_numpy_numbers(tmp_path, style_file):
    with pytest.raises(FastNSTError, match=r"^steps must be a whole number or None, got 2.5$"):
        TrainConfig(style=str(style_file), steps=2.5).check()
    TrainConfig(style=style_file, data=tmp_path, logdir=tmp_path / "run", steps=np.int64(3), lr=np.float32(1e-3),
                progress=True).check()
