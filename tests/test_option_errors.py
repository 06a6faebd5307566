"""The newer options tried with bad values and odd inputs, as a user types them: `--style` choices
and blends, `--precision int8` on odd images, `--match-tone` on flat images, an exported net of
several styles. Each refusal is one `error:` line and exit 2, before any output is written; what
can run, runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fastnst.cli import export_main, infer_main
from fastnst.inference.styles import parse_style

from .helpers import make_clip, random_image, run_cli

NAMES = "this net has 2 styles: 0 candy, 1 mosaic"


@pytest.fixture
def photo(tmp_path) -> Path:
    path = tmp_path / "in" / "photo.jpg"
    path.parent.mkdir()
    random_image(20, 16).save(path)
    return path


def errors(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error:")]


@pytest.mark.parametrize("style,message", [
    ("candy=-1,mosaic=2", "style weights must be numbers, not negative (got candy=-1.0)"),
    ("candy=0,mosaic=0", "a style blend needs a weight above 0"),
    ("candy=nan,mosaic=1", "style weights must be numbers, not negative (got candy=nan)"),
    ("candy=abc,mosaic=1", "--style candy=abc,mosaic=1: 'candy=abc' is not NAME=WEIGHT"),
    ("nosuch=1,mosaic=1", f"unknown style 'nosuch': {NAMES}"),
    ("candy=1,candy=1", "--style: style candy is given twice in the blend (as candy and candy)"),
    ("candy=1,0=1", "--style: style candy is given twice in the blend (as candy and 0)"),
    ("can dy=1,mosaic=1", f"unknown style 'can dy': {NAMES}"),
    ("candy,mosaic", f"unknown style 'candy,mosaic': {NAMES}: a blend gives each style a weight (candy=0.5,...)"),
    ("nosuch", f"unknown style 'nosuch': {NAMES}"),
    ("2", f"style index 2 is out of range: {NAMES}"),
    ("-1", f"style index -1 is out of range: {NAMES}"),
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


def test_several_outputs_into_an_image_file_name_are_refused_instead_of_making_a_folder_of_that_name(
        capsys, tmp_path, two_styles, photo):
    out = tmp_path / "x.png"
    for argv, count in [([photo, "--style", "all"], "1 input in 2 styles"),
                        ([photo, photo.parent, "--style", "candy"], "2 inputs in 1 style")]:
        code, _, err = run_cli(infer_main, capsys, *argv, "--ckpt", two_styles, "-o", out)
        assert (code, errors(err)) == (2, [f"error: -o {out}: several outputs ({count}) need an output folder, and "
                                           f"this names a file; give a folder (x/)"])
        assert not out.exists()
    code, _, err = run_cli(infer_main, capsys, photo, "--ckpt", two_styles, "--style", "all", "-o", f"{out}/")
    assert code == 0 and sorted(p.name for p in out.iterdir()) == ["photo_candy.jpg", "photo_mosaic.jpg"]


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


def test_style_all_with_a_video_and_a_folder_writes_each_input_in_each_style(capsys, tmp_path, two_styles, photo):
    make_clip(tmp_path / "in" / "clip.mp4", frames=3)
    random_image(24, 18, seed=4).save(tmp_path / "in" / "other.png")
    out = tmp_path / "out"
    code, _, err = run_cli(infer_main, capsys, tmp_path / "in", "--ckpt", two_styles, "--style", "all", "-o", out)
    assert (code, errors(err)) == (0, [])
    assert sorted(p.name for p in out.glob("*")) == ["clip_candy.mp4", "clip_mosaic.mp4", "other_candy.png",
                                                     "other_mosaic.png", "photo_candy.jpg", "photo_mosaic.jpg"]


ODD_IMAGES = {"tiny": ((1, 1), "RGB"), "wide": ((1000, 2), "RGB"), "tall": ((2, 1000), "RGB"),
              "gray": ((20, 16), "L"), "transparent": ((20, 16), "RGBA")}


def test_int8_stylizes_a_tiny_an_extreme_a_gray_or_a_transparent_image(capsys, tmp_path, two_styles):
    pytest.importorskip("onnxruntime")
    folder = tmp_path / "odd"
    folder.mkdir()
    for name, (size, mode) in ODD_IMAGES.items():  # calibrated on these very images, stylized each
        random_image(*size, mode=mode).save(folder / f"{name}.png")
    code, _, err = run_cli(infer_main, capsys, folder, "--ckpt", two_styles, "--precision", "int8",
                           "--device", "cpu", "-o", tmp_path / "out")
    assert (code, errors(err)) == (0, [])
    for name, (size, mode) in ODD_IMAGES.items():
        with Image.open(tmp_path / "out" / f"{name}_candy.png") as result:
            assert result.size == size and result.mode == ("RGBA" if mode == "RGBA" else "RGB"), name


def test_int8_on_a_folder_with_one_unreadable_file_stylizes_the_others(capsys, tmp_path, two_styles):
    pytest.importorskip("onnxruntime")
    folder = tmp_path / "photos"
    folder.mkdir()
    random_image(20, 16).save(folder / "a.jpg")
    random_image(24, 16, seed=3).save(folder / "b.png")
    (folder / "broken.jpg").write_text("not a picture")
    out = tmp_path / "out"
    code, _, err = run_cli(infer_main, capsys, folder, "--ckpt", two_styles, "--precision", "int8",
                           "--device", "cpu", "-o", out)
    assert code == 1
    assert errors(err) == [f"error: {folder / 'broken.jpg'}: not an image file (or a format Pillow cannot read)"]
    assert sorted(p.name for p in out.glob("*")) == ["a_candy.jpg", "b_candy.png"]


@pytest.mark.parametrize("value", [0, 255])
def test_match_tone_on_an_all_black_or_all_white_image_keeps_it_so(capsys, tmp_path, two_styles, value):
    source = tmp_path / "flat.png"
    Image.new("RGB", (20, 16), (value,) * 3).save(source)
    code, _, err = run_cli(infer_main, capsys, source, "--ckpt", two_styles, "--match-tone", "-o", tmp_path / "out")
    assert (code, errors(err)) == (0, [])
    with Image.open(tmp_path / "out" / "flat_candy.png") as result:
        assert abs(np.asarray(result, dtype=float).mean() - value) < 20  # no NaN (black), no blow-up


def test_an_exported_net_of_two_styles_refuses_a_bad_style_name_in_one_line(capsys, tmp_path, two_styles, photo):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    onnx = tmp_path / "two.onnx"
    assert run_cli(export_main, capsys, two_styles, "--onnx", onnx)[0] == 0
    twice = "--style: style candy is given twice in the blend (as candy and candy)"
    for style, message in [("nosuch", f"unknown style 'nosuch': {NAMES}"), ("candy=1,candy=1", twice)]:
        code, _, err = run_cli(infer_main, capsys, photo, "--ckpt", onnx, "--style", style, "-o", tmp_path / "out")
        assert (code, errors(err)) == (2, [f"error: {message}"])
    code, _, err = run_cli(infer_main, capsys, photo, "--ckpt", onnx, "--style", "mosaic", "-o", tmp_path / "out")
    assert (code, errors(err)) == (0, [])
    assert sorted(p.name for p in (tmp_path / "out").glob("*")) == ["photo_mosaic.jpg"]
