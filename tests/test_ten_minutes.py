"""scripts/ten_minutes.py: networks trained for a budget of minutes per painting, by recipe, measured
beside the arbitrary-style network."""

import pytest

from .helpers import random_image
from .test_any_painting import _script

ten_minutes = _script("ten_minutes")

SMALL = "--image-size 32 --batch-size 2 --workers 0 --style-size 64 --loss-net vgg16"


def test_a_recipe_trains_a_net_per_painting_once_and_its_method_stylizes_with_it(tmp_path, photo_dir, style_file):
    out = tmp_path / "runs" / "small" / "tiles-0.02.pt"
    ten_minutes.train(style_file, SMALL, 0.02, out, photo_dir, "random")
    assert out.is_file()
    written = out.stat().st_mtime_ns
    ten_minutes.train(style_file, SMALL, 0.02, out, photo_dir, "random")  # already there: measured, not trained
    assert out.stat().st_mtime_ns == written
    tiny = tmp_path / "runs" / "small" / "tiles-0.02-tiny.pt"
    ten_minutes.train(style_file, f"--arch tiny {SMALL}", 0.02, tiny, photo_dir, "random", teacher=out)
    method = ten_minutes.trained_method({"tiles": out, "other": tiny})
    photo = random_image(40, 32)
    assert method(photo, style_file).size == (40, 32)
    assert method(photo, style_file.with_name("other.png")).size == (40, 32)


def test_a_failed_run_is_one_line_naming_its_command(tmp_path, photo_dir, style_file):
    with pytest.raises(ten_minutes.FastNSTError, match=r"train.py .* failed: error: --teacher-weight must be"):
        ten_minutes.train(style_file, f"{SMALL} --teacher-weight -1", 0.02, tmp_path / "x.pt", photo_dir, "random")


def test_the_real_time_nets_are_measured_against_their_teachers_painting_by_painting():
    results = {"a": {"512": {"tiny": {"style": 0.5, "content": 1}, "big": {"style": 0.4, "content": 1}}},
               "b": {"512": {"tiny": {"style": 0.3, "content": 1}, "big": {"style": 0.3, "content": 1}}}}
    line = ten_minutes.distilled(results, "512", "tiny", "big")
    assert line == ("tiny at 512 px: style / its teacher's 1.118 (geometric mean), worst 1.250 (a), "
                    "within 1.25x on 2/2")


def test_missing_weights_or_no_painting_is_one_line(tmp_path, capsys, style_file):
    assert ten_minutes.main(["--recipe", "a=", "--weights", str(tmp_path / "none.pth")]) != 0
    assert ten_minutes.main(["--recipe", "a=", "--weights", str(style_file), "--styles", str(tmp_path / "empty")]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("error: ") for line in err)
