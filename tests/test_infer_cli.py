import sys

import numpy as np
import pytest
import torch
from PIL import Image

import fastnst
from fastnst.cli import infer_main
from fastnst.inference import preserve_colors
from fastnst.progress import show_progress

from .helpers import one_line, random_image, run_cli


def run(capsys, *argv):
    return run_cli(infer_main, capsys, *argv)


def test_writes_name_style_beside_the_input(tmp_path, ckpt_file, capsys):
    photo = tmp_path / "photo.jpg"
    random_image(37, 29).save(photo)
    code, out, err = run(capsys, photo, "--ckpt", ckpt_file)
    assert code == 0 and err == ""
    result = Image.open(tmp_path / "photo_tiles.jpg")
    assert result.size == (37, 29) and result.mode == "RGB"


def test_output_file_and_output_folder(tmp_path, ckpt_file, photo_dir, capsys):
    photo = photo_dir / "p0.jpg"
    code, *_ = run(capsys, photo, "--ckpt", ckpt_file, "-o", tmp_path / "one.png")
    assert code == 0 and Image.open(tmp_path / "one.png").format == "PNG"
    code, *_ = run(capsys, photo_dir, "--ckpt", ckpt_file, "-o", tmp_path / "out")
    assert code == 0
    written = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.*"))
    assert written == ["nested/deep_tiles.png", "p0_tiles.jpg", "p1_tiles.jpg", "p2_tiles.jpg"]


def test_folder_input_skips_earlier_outputs(photo_dir, ckpt_file, capsys):
    assert run(capsys, photo_dir, "--ckpt", ckpt_file)[0] == 0
    before = sorted(p.name for p in photo_dir.rglob("*.*"))
    assert run(capsys, photo_dir, "--ckpt", ckpt_file)[0] == 0
    assert sorted(p.name for p in photo_dir.rglob("*.*")) == before


def test_bad_inputs_are_reported_and_the_rest_still_processed(tmp_path, ckpt_file, capsys):
    good = tmp_path / "good.png"
    random_image(20, 20).save(good)
    bad = tmp_path / "bad.jpg"
    bad.write_text("not an image")
    code, out, err = run(capsys, bad, tmp_path / "missing.png", good, "--ckpt", ckpt_file, "-o", tmp_path / "o")
    assert code == 1
    assert (tmp_path / "o" / "good_tiles.png").is_file()
    lines = err.strip().splitlines()
    assert any("bad.jpg" in line and "not an image" in line for line in lines)
    assert any("missing.png" in line for line in lines)
    assert "Traceback" not in err
    assert not (tmp_path / "o" / "bad_tiles.jpg").exists()


def test_never_overwrites_an_input(tmp_path, ckpt_file, capsys):
    photo = tmp_path / "photo.png"
    random_image(20, 20).save(photo)
    before = photo.read_bytes()
    code, _, err = run(capsys, photo, "--ckpt", ckpt_file, "-o", photo)
    assert code == 1 and "overwrite" in err
    assert photo.read_bytes() == before


def test_bad_checkpoint_and_bad_options(tmp_path, capsys):
    photo = tmp_path / "photo.png"
    random_image(20, 20).save(photo)
    (tmp_path / "junk.pt").write_text("junk")
    for argv in [(photo, "--ckpt", tmp_path / "junk.pt"), (photo, "--ckpt", tmp_path / "none.pt")]:
        code, _, err = run(capsys, *argv)
        assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "I;16", "LA", "CMYK", "1"])
def test_colour_modes(tmp_path, ckpt_file, mode, capsys):
    if mode == "I;16":  # 16-bit grayscale PNG
        image = Image.fromarray(np.arange(24 * 18, dtype=np.uint16).reshape(18, 24) * 150)
        assert image.mode == "I;16"
    else:
        image = random_image(24, 18).convert(mode)
    ext = ".jpg" if mode == "CMYK" else ".png"
    path = tmp_path / f"img{ext}"
    image.save(path)
    code, _, err = run(capsys, path, "--ckpt", ckpt_file)
    assert code == 0, err
    out = Image.open(tmp_path / f"img_tiles{ext}")
    assert out.size == (24, 18)
    assert out.mode == ("RGBA" if mode in ("RGBA", "LA") else "RGB")


def test_exif_orientation_is_applied(tmp_path, ckpt_file, capsys):
    image = random_image(40, 20)
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    path = tmp_path / "phone.jpg"
    image.save(path, exif=exif)
    assert run(capsys, path, "--ckpt", ckpt_file)[0] == 0
    assert Image.open(tmp_path / "phone_tiles.jpg").size == (20, 40)


def test_max_size_strength_and_preserve_color(tmp_path, ckpt_file):
    photo = random_image(64, 32)
    small = fastnst.stylize(photo, ckpt_file, max_size=32)
    assert small.size == (32, 16)
    assert np.array_equal(np.asarray(fastnst.stylize(photo, ckpt_file, strength=0.0)), np.asarray(photo))
    assert fastnst.stylize(photo, ckpt_file, preserve_color=True).size == (64, 32)


def test_preserve_color_keeps_chroma_and_takes_luminance():
    torch.manual_seed(0)
    original, stylized = 0.3 + 0.4 * torch.rand(1, 3, 8, 8), 0.3 + 0.4 * torch.rand(1, 3, 8, 8)
    mixed = preserve_colors(stylized, original)

    def ycbcr(rgb):
        return [Image.fromarray((rgb[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).convert("YCbCr")]

    y_mixed, cb_mixed, cr_mixed = np.asarray(ycbcr(mixed)[0], dtype=float).transpose(2, 0, 1)
    y_styl = np.asarray(ycbcr(stylized)[0], dtype=float)[..., 0]
    chroma_orig = np.asarray(ycbcr(original)[0], dtype=float)[..., 1:].transpose(2, 0, 1)
    assert np.abs(y_mixed - y_styl).max() <= 2
    assert np.abs(np.stack([cb_mixed, cr_mixed]) - chroma_orig).max() <= 2


def test_strength_out_of_range(tmp_path, ckpt_file, capsys):
    photo = tmp_path / "p.png"
    random_image(20, 20).save(photo)
    code, _, err = run(capsys, photo, "--ckpt", ckpt_file, "--strength", "1.5")
    assert code == 2 and "strength" in err


def test_a_bad_tile_size_fails_up_front_naming_the_flag(tmp_path, ckpt_file, capsys):
    photos = [tmp_path / f"{i}.png" for i in range(2)]
    for p in photos:
        random_image(16, 16).save(p)
    code, _, err = run_cli(infer_main, capsys, *photos, "--ckpt", ckpt_file, "--tile", 3)
    assert code == 2 and "--tile 3" in one_line(err)


def test_errors_during_a_progress_bar_start_their_own_line(tmp_path, ckpt_file, capsys):
    random_image(16, 16).save(tmp_path / "good.png")
    (tmp_path / "bad.png").write_bytes(b"not a png")
    code, _, err = run_cli(infer_main, capsys, tmp_path / "good.png", tmp_path / "bad.png", "--ckpt", ckpt_file)
    assert code == 1
    assert any(line.startswith(f"error: {tmp_path / 'bad.png'}") for line in err.replace("\r", "\n").splitlines())


def test_an_unexpected_failure_is_one_line_with_a_debug_hint(tmp_path, ckpt_file, capsys, monkeypatch):
    import fastnst.cli.stylize as command

    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(command, "plan_jobs", broken)
    photo = tmp_path / "photo.png"
    random_image(16, 16).save(photo)
    code, _, err = run_cli(infer_main, capsys, photo, "--ckpt", ckpt_file)
    line = one_line(err)
    assert code == 1 and "ZeroDivisionError" in line and "--debug" in line
    with pytest.raises(ZeroDivisionError):
        infer_main([str(photo), "--ckpt", str(ckpt_file), "--debug"])


# --------------------------------------------------------------------------- bars in a log file
def test_error_lines_start_a_line_when_stderr_is_a_log(tmp_path, ckpt_file, capsys):
    # `infer.py folder/ -o out/ 2> log.txt`: no bar there (pip's and cargo's convention), so
    # `grep '^error:' log.txt` finds every error.
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(2):
        random_image(24, 20, seed=i).save(folder / f"good{i}.jpg")
    (folder / "text.jpg").write_text("hello")
    random_image(64, 48).save(folder / "cut.jpg")
    (folder / "cut.jpg").write_bytes((folder / "cut.jpg").read_bytes()[:300])
    (folder / "empty.png").write_bytes(b"")
    code, _, err = run_cli(infer_main, capsys, folder, "--ckpt", ckpt_file, "-o", tmp_path / "out")
    assert code == 1 and "\r" not in err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 3 and all(line.startswith("error: ") for line in errors)
    assert err.splitlines()[-1] == "3 of 5 input(s) failed"


def test_a_bar_is_drawn_only_on_a_terminal_unless_a_caller_decides(monkeypatch):
    class Terminal:
        def isatty(self) -> bool:
            return True

    assert show_progress() is False  # pytest captures stderr: not a terminal
    assert show_progress(True) is True
    monkeypatch.setattr(sys, "stderr", Terminal())
    assert show_progress() is True and show_progress(False) is False
