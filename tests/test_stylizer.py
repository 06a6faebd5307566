"""The Stylizer and fastnst.stylize: options checked where they are made, images of every kind in
(PIL, numpy, paths, tensors), and one-line errors that name the argument as Python callers know it."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

import fastnst
from fastnst import FastNSTError, StylizeOptions, Stylizer

from .helpers import random_image


def test_the_python_api_names_options_as_python_does(tmp_path, ckpt_file):
    photo = random_image(16, 16)
    with pytest.raises(FastNSTError, match=r"^strength must be between 0 and 1, got 2$"):
        fastnst.stylize(photo, ckpt_file, strength=2)
    with pytest.raises(FastNSTError, match=r"^max_size must be a positive number of pixels$"):
        fastnst.stylize(photo, ckpt_file, options=fastnst.StylizeOptions(max_size=0))
    with pytest.raises(FastNSTError, match=r"^precision int8 runs whole images on the CPU .*leave out device, backend"):
        fastnst.Stylizer.load(tmp_path / "net.onnx", precision="int8")
    with pytest.raises(FastNSTError, match=r"^tile 3: tiles must be at least"):
        fastnst.Stylizer.load(ckpt_file).stylize(photo, fastnst.StylizeOptions(tile=3))


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


def test_a_video_option_given_for_an_image_is_named_as_one(ckpt_file):
    with pytest.raises(FastNSTError, match=r"^unknown option\(s\): crf: give StylizeOptions fields"):
        fastnst.stylize(random_image(20, 16), ckpt_file, device="cpu", crf=18)


def test_stylizer_checks_the_types_of_options_made_by_hand(ckpt_file):
    stylizer = Stylizer.load(ckpt_file, device="cpu")
    with pytest.raises(FastNSTError, match=r"^max_size must be a whole number or None, got '512' \(a str\)$"):
        stylizer.stylize(random_image(20, 16), StylizeOptions(max_size="512"))


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


def test_one_off_calls_load_a_model_once_until_its_files_or_the_loading_arguments_change(
        ckpt_file, universal_file, style_file, monkeypatch):
    loads = []
    load = Stylizer.from_file.__func__
    monkeypatch.setattr(Stylizer, "from_file", classmethod(lambda cls, *a, **k: loads.append(a[0]) or load(cls, *a, **k)))
    photo = random_image(16, 16)
    first = fastnst.stylize(photo, ckpt_file)
    assert np.array_equal(np.asarray(fastnst.stylize(photo, ckpt_file)), np.asarray(first)) and len(loads) == 1
    fastnst.stylize(photo, ckpt_file, precision="fp32")  # other loading arguments: loaded again
    assert len(loads) == 2
    stat = ckpt_file.stat()
    os.utime(ckpt_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # the checkpoint rewritten
    fastnst.stylize(photo, ckpt_file, precision="fp32")
    assert len(loads) == 3
    fastnst.stylize(photo, universal_file, style=str(style_file))
    fastnst.stylize(photo, ckpt_file, precision="fp32")  # two are kept: going back and forth loads neither again
    fastnst.stylize(photo, universal_file, style=str(style_file))
    assert len(loads) == 4
    random_image(64, 64).save(style_file)  # another painting in the same file: its statistics again
    fastnst.stylize(photo, universal_file, style=str(style_file))
    assert len(loads) == 5
