"""Style choices and blends (inference/styles.py, the one resolver of names, paths and blends): by
name or index, weights that blend by their ratios, and what a trained net or the universal model
refuses, in one line."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import fastnst
from fastnst import FastNSTError, Stylizer
from fastnst.checkpoint import atomic_save, build_checkpoint
from fastnst.cli import infer_main
from fastnst.inference.styles import parse_style

from .helpers import THREE_STYLE_NAMES, TWO_STYLES_LISTING, errors, random_image, run_cli


def _three_style_net():
    from fastnst.model import ModelConfig, TransformerNet

    torch.manual_seed(0)
    return TransformerNet(ModelConfig(num_styles=3)).eval()


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


@pytest.mark.parametrize("style,message", [
    ("candy=-1,mosaic=2", "style weights must be numbers, not negative (got candy=-1.0)"),
    ("candy=0,mosaic=0", "a style blend needs a weight above 0"),
    ("candy=nan,mosaic=1", "style weights must be numbers, not negative (got candy=nan)"),
    ("candy=abc,mosaic=1", "--style candy=abc,mosaic=1: 'candy=abc' is not NAME=WEIGHT"),
    ("nosuch=1,mosaic=1", f"unknown style 'nosuch': {TWO_STYLES_LISTING}"),
    ("candy=1,candy=1", "--style: style candy is given twice in the blend (as candy and candy)"),
    ("candy=1,0=1", "--style: style candy is given twice in the blend (as candy and 0)"),
    ("can dy=1,mosaic=1", f"unknown style 'can dy': {TWO_STYLES_LISTING}"),
    ("candy,mosaic", f"unknown style 'candy,mosaic': {TWO_STYLES_LISTING}: a blend gives each style a weight (candy=0.5,...)"),
    ("nosuch", f"unknown style 'nosuch': {TWO_STYLES_LISTING}"),
    ("2", f"style index 2 is out of range: {TWO_STYLES_LISTING}"),
    ("-1", f"style index -1 is out of range: {TWO_STYLES_LISTING}"),
    ("", "--style is empty: give a style's name or index, a blend NAME=WEIGHT,... or all"),
])
def test_a_bad_style_choice_is_one_line_and_exit_2_before_any_output(capsys, tmp_path, two_styles, photo,
                                                                     style, message):
    code, _, err = run_cli(infer_main, capsys, photo, "--ckpt", two_styles, "--style", style, "-o", tmp_path / "out")
    assert (code, errors(err)) == (2, [f"error: {message}"])
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_style_names_holding_separators_or_spaces_are_chosen_whole_and_blended_by_the_last_equals_sign():
    names = ["a=b", "x,y", "my style"]
    assert [c.label for c in parse_style("x,y", names)] == ["x,y"]
    assert [c.label for c in parse_style("a=b", names)] == ["a=b"]
    assert [c.label for c in parse_style(" my style ", names)] == ["my style"]
    blend = parse_style("a=b=0.5,my style=0.5", names)[0]
    assert blend.label == "a=b50+my style50" and blend.mix.tolist() == [0.5, 0.0, 0.5]


def test_a_style_name_is_read_before_an_index_or_a_blend_so_every_trained_name_can_be_chosen():
    names = ["a", "0", "x=y", "x"]  # what train.py makes of a.jpg, 0.jpg, x=y.jpg and x.jpg
    assert [c.label for c in parse_style("0", names)] == ["0"]
    assert [c.label for c in parse_style(0, names)] == ["a"]  # a number from Python is an index
    assert [c.label for c in parse_style("3", names)] == ["x"]  # no style of that name: an index
    assert [c.label for c in parse_style("x=y", names)] == ["x=y"]
    assert parse_style("x=y=1,0=3", names)[0].mix.tolist() == [0.0, 0.75, 0.25, 0.0]


@pytest.mark.parametrize("style,code,outputs,message", [
    ("tiles", 0, ["photo_tiles.jpg"], None),
    ("0", 0, ["photo_tiles.jpg"], None),
    ("all", 0, ["photo_tiles.jpg"], None),
    ("1", 2, [], "style index 1 is out of range: this net has 1 style: 0 tiles"),
    ("candy", 2, [], "unknown style 'candy': this net has 1 style: 0 tiles"),
])
def test_style_on_a_one_style_net(capsys, tmp_path, ckpt_file, photo, style, code, outputs, message):
    out = tmp_path / "out"
    result, _, err = run_cli(infer_main, capsys, photo, "--ckpt", ckpt_file, "--style", style, "-o", out)
    assert (result, errors(err)) == (code, [f"error: {message}"] if message else [])
    assert sorted(p.name for p in out.glob("*")) == outputs


@pytest.mark.parametrize("spec", ["mosaic=1e39", "mosaic=3e38,candy=3e38", {"mosaic": 1e39, "candy": 1e39}])
def test_huge_style_weights_blend_like_their_ratios_instead_of_overflowing_to_a_black_picture(spec):
    mix = parse_style(spec, THREE_STYLE_NAMES)[0].mix
    assert torch.isfinite(mix).all() and abs(float(mix.sum()) - 1) < 1e-6
    assert mix[0] == (1.0 if spec == "mosaic=1e39" else 0.5)


def test_style_weights_whose_sum_no_number_holds_are_refused_in_one_line(tmp_path, capsys):
    with pytest.raises(FastNSTError, match="style weights too large"):
        parse_style("mosaic=1e308,candy=1e308", THREE_STYLE_NAMES)
    net = atomic_save(build_checkpoint(_three_style_net(), styles=[(n, None) for n in THREE_STYLE_NAMES], train_args={}, loss={},
                                       step=0), tmp_path / "three.pt")
    random_image(32, 24).save(tmp_path / "photo.jpg")
    code, _, err = run_cli(infer_main, capsys, tmp_path / "photo.jpg", "--ckpt", net, "--style",
                           "mosaic=1e308,candy=1e308")
    assert code == 2 and err.count("\n") == 1 and "style weights too large" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.jpg", "three.pt"]


def test_painting_weights_whose_sum_no_number_holds_are_refused_with_the_same_line(tmp_path, universal_file, capsys):
    from fastnst.inference.universal import parse_paintings

    for i in range(2):
        random_image(32, 32, seed=i).save(tmp_path / f"p{i}.png")
    a, b = tmp_path / "p0.png", tmp_path / "p1.png"
    assert [p.weight for p in parse_paintings(f"{a}=1e39,{b}=1e39")] == [0.5, 0.5]  # large: their ratio
    random_image(32, 24).save(tmp_path / "photo.jpg")
    code, _, err = run_cli(infer_main, capsys, tmp_path / "photo.jpg", "--ckpt", universal_file, "--style",
                           f"{a}=1e308,{b}=1e308")
    assert code == 2 and err == (f"error: style weights too large: they add up to more than a number can hold "
                                 f"({a}=1e308,{b}=1e308); give them as fractions\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p0.png", "p1.png", "photo.jpg"]
