"""Outputs that never destroy an input, never leave their folder, keep the permissions a user
expects; one broken input said once; error lines that start a line in a log file."""

from __future__ import annotations

import os
import re
import stat
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

import fastnst
from fastnst.checkpoint import atomic_save, build_checkpoint, load_checkpoint
from fastnst.cli import infer_main, train_main
from fastnst.files import safe_name
from fastnst.images import save_image
from fastnst.model import ModelConfig, TransformerNet
from fastnst.progress import show_progress
from fastnst.training.styles import style_names

from .helpers import make_clip, one_line, random_image, run_cli
from .train_helpers import as_flags, small_run


def styles_checkpoint(path: Path, names: list[str]) -> Path:
    """A random net of len(names) styles, with these (perhaps hostile) names stored as they are."""
    torch.manual_seed(0)
    model = TransformerNet(replace(ModelConfig(), num_styles=len(names)))
    state = build_checkpoint(model, styles=[(n, None) for n in names], train_args={}, loss={}, step=0, half=True)
    return atomic_save(state, path)


def files_under(folder: Path) -> set[Path]:
    return {p.relative_to(folder) for p in folder.rglob("*") if p.is_file()}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --------------------------------------------------------------------- an output that is its input
def test_stylize_video_refuses_an_output_that_is_its_input_or_a_hard_link_to_it(tmp_path, ckpt_file):
    clip = make_clip(tmp_path / "clip.mp4", frames=2, audio=None)
    os.link(clip, tmp_path / "linked.mp4")
    (tmp_path / "symlinked.mp4").symlink_to(clip)
    before = clip.read_bytes()
    for target in ("clip.mp4", "linked.mp4", "symlinked.mp4"):
        with pytest.raises(fastnst.FastNSTError, match="would overwrite the input"):
            fastnst.stylize_video(clip, tmp_path / target, ckpt_file)
    assert clip.read_bytes() == before
    assert not list(tmp_path.glob(".*"))  # no temporary file left either


def test_save_image_given_its_input_refuses_a_hard_link_to_it(tmp_path):
    photo = tmp_path / "photo.png"
    random_image(20, 16).save(photo)
    os.link(photo, tmp_path / "same.png")
    before = photo.read_bytes()
    with pytest.raises(fastnst.FastNSTError, match="would overwrite the input"):
        save_image(random_image(20, 16, seed=3), tmp_path / "same.png", inputs=[photo])
    assert photo.read_bytes() == before


def test_infer_refuses_an_output_that_is_a_hard_link_to_the_photo(tmp_path, ckpt_file, capsys):
    photo = tmp_path / "photo.jpg"
    random_image(24, 20).save(photo)
    os.link(photo, tmp_path / "out.jpg")
    before = photo.read_bytes()
    code, _, err = run_cli(infer_main, capsys, photo, "--ckpt", ckpt_file, "-o", tmp_path / "out.jpg")
    assert code == 1 and err.splitlines() == [f"error: {photo}: the output {tmp_path / 'out.jpg'} would overwrite an "
                                              f"input; choose another -o", "1 of 1 input(s) failed"]
    assert photo.read_bytes() == before


def test_optimize_refuses_an_output_that_is_a_hard_link_to_the_photo(tmp_path, style_file):
    photo = tmp_path / "photo.png"
    random_image(24, 20).save(photo)
    os.link(photo, tmp_path / "result.png")
    with pytest.raises(fastnst.FastNSTError, match="would overwrite the input"):
        fastnst.optimize(photo, style_file, output=tmp_path / "result.png", steps=1)


def test_an_export_refuses_to_replace_the_checkpoint_it_comes_from(tmp_path, ckpt_file):
    from fastnst.inference.export import export_torchscript

    before = ckpt_file.read_bytes()
    with pytest.raises(fastnst.FastNSTError, match="would overwrite the input"):
        export_torchscript(ckpt_file, ckpt_file)
    assert ckpt_file.read_bytes() == before


def test_a_webcam_recording_refuses_to_replace_the_video_it_plays(tmp_path, ckpt_file):
    pytest.importorskip("cv2")
    from fastnst.video.live import run_webcam

    clip = make_clip(tmp_path / "clip.mp4", frames=2, audio=None)
    before = clip.read_bytes()
    with pytest.raises(fastnst.FastNSTError, match="would overwrite the input"):
        run_webcam(str(clip), [ckpt_file], window=False, output=clip)
    assert clip.read_bytes() == before


def test_infer_refuses_an_output_that_is_the_painting_or_the_checkpoint_it_reads(tmp_path, universal_file,
                                                                                  ckpt_file, capsys):
    photo, painting = tmp_path / "photo.png", tmp_path / "painting.png"
    random_image(24, 20).save(photo)
    random_image(40, 40, seed=5).save(painting)
    kept = {painting: painting.read_bytes(), ckpt_file: ckpt_file.read_bytes()}
    for argv, replaced in [(["--style", painting, "--ckpt", universal_file, "-o", painting], painting),
                           (["--ckpt", ckpt_file, "-o", ckpt_file], ckpt_file)]:
        code, _, err = run_cli(infer_main, capsys, photo, *argv)
        assert code == 1 and err.splitlines() == [f"error: {photo}: the output {replaced} would overwrite {replaced}, "
                                                  f"a file this run reads; choose another -o", "1 of 1 input(s) failed"]
    assert {path: path.read_bytes() for path in kept} == kept and not list(tmp_path.glob(".*"))


def test_a_stylized_video_or_a_recording_refuses_to_replace_the_painting(tmp_path, universal_file):
    pytest.importorskip("cv2")
    from fastnst.video.live import run_webcam

    clip = make_clip(tmp_path / "clip.mp4", frames=2, audio=None)
    painting = tmp_path / "painting.mp4"  # a painting named like a video: a blunder the check must catch
    random_image(40, 40, seed=5).save(painting, format="PNG")
    before = painting.read_bytes()
    with pytest.raises(fastnst.FastNSTError, match="would overwrite the input"):
        fastnst.stylize_video(clip, painting, universal_file, style=str(painting), max_size=32)
    with pytest.raises(fastnst.FastNSTError, match="would overwrite the input"):
        run_webcam(str(clip), [universal_file], style=[str(painting)], window=False, output=painting)
    assert painting.read_bytes() == before and not list(tmp_path.glob(".*"))


@pytest.mark.parametrize("case", ["--out painting", "--ckpt-path painting", "--out teacher", "--out init",
                                  "--out resumed", "--out a training photo", "--out is --ckpt-path"])
def test_training_refuses_an_output_that_is_a_file_it_reads_before_any_work(tmp_path, photo_dir, style_file,
                                                                            ckpt_file, capsys, case):
    run = tmp_path / "run"
    if case == "--out resumed":
        assert run_cli(train_main, capsys, "--style", style_file, "--data", photo_dir, "--steps", 1,
                       *as_flags(small_run(run)))[0] == 0
    given = {"--out painting": ["--style", style_file, "--out", style_file],
             "--ckpt-path painting": ["--style", style_file, "--ckpt-path", style_file],
             "--out teacher": ["--distill", ckpt_file, "--out", ckpt_file],
             "--out init": ["--style", style_file, "--init", ckpt_file, "--out", ckpt_file],
             "--out resumed": ["--resume", run / "checkpoint.pt", "--out", run / "checkpoint.pt"],
             "--out a training photo": ["--style", style_file, "--out", photo_dir / "nested" / "deep.png"],
             "--out is --ckpt-path": ["--style", style_file, "--out", tmp_path / "a.pt", "--ckpt-path",
                                      tmp_path / "a.pt"]}[case]
    kept = {p: p.read_bytes() for p in (style_file, ckpt_file, run / "checkpoint.pt", photo_dir / "nested" / "deep.png")
            if p.exists()}
    logdir = tmp_path / "new-run"
    code, _, err = run_cli(train_main, capsys, *given, "--steps", 2, "--data", photo_dir,
                           *as_flags(small_run(logdir)))
    option, replaced = given[-2], given[-1]
    line = one_line(err)
    if case == "--out is --ckpt-path":
        assert line == (f"error: --out {replaced} is the training checkpoint (--ckpt-path): the small inference "
                        f"checkpoint would replace it; choose another --out")
    else:
        assert line == f"error: {option} {replaced} would overwrite the input {replaced}; choose another {option}"
    assert code == 2 and {p: p.read_bytes() for p in kept} == kept
    assert not logdir.exists() and not (tmp_path / "a.pt").exists()


# ------------------------------------------------------------------------------------ style names
@pytest.mark.parametrize("option", ["--out", "--ckpt-path"])
def test_training_refuses_an_output_that_is_the_painting_or_the_init_net(tmp_path, photo_dir, style_file, ckpt_file,
                                                                         capsys, option):
    painting = style_file.read_bytes()
    argv = ["--style", style_file, "--data", photo_dir, "--steps", 1, *as_flags(small_run(tmp_path / "r"))]
    code, _, err = run_cli(train_main, capsys, *argv, option, style_file)
    assert code == 2 and f"would overwrite the input {style_file}" in one_line(err)
    code, _, err = run_cli(train_main, capsys, *argv, "--init", ckpt_file, option, ckpt_file)
    assert code == 2 and f"would overwrite the input {ckpt_file}" in one_line(err)
    assert style_file.read_bytes() == painting and load_checkpoint(ckpt_file).step == 0


def test_ordinary_style_names_are_kept_and_unsafe_ones_made_safe_file_name_parts():
    for name in ("rain-princess", "starry_night", "La Muse", "mosaic", "v1.2"):
        assert safe_name(name, "style0") == name
    assert safe_name("../../../evil", "style0") == "_evil"
    assert safe_name("a/b\\c", "style0") == "a_b_c"
    assert safe_name(".hidden", "style0") == "hidden"
    assert safe_name("tab\there\nnewline", "style0") == "tab_here_newline"
    assert safe_name("..", "style0") == "_" and safe_name("", "style3") == "style3"


def test_a_checkpoint_style_named_with_a_path_is_written_inside_the_output_folder(tmp_path, capsys):
    ckpt = styles_checkpoint(tmp_path / "x.pt", ["../../../evil", "candy"])
    assert load_checkpoint(ckpt).style_names == ["_evil", "candy"]
    photo = tmp_path / "in" / "photo.jpg"
    photo.parent.mkdir()
    random_image(24, 20).save(photo)
    out = tmp_path / "out" / "sub"
    code, _, err = run_cli(infer_main, capsys, photo, "--ckpt", ckpt, "--style", "0", "-o", f"{out}/")
    assert code == 0, err
    assert files_under(tmp_path) == {Path("x.pt"), Path("in/photo.jpg"), Path("out/sub/photo__evil.jpg")}


def test_a_one_style_checkpoint_named_with_a_path_writes_beside_the_photo(tmp_path, capsys):
    ckpt = styles_checkpoint(tmp_path / "x.pt", ["../../evil"])
    photo = tmp_path / "in" / "photo.jpg"
    photo.parent.mkdir()
    random_image(24, 20).save(photo)
    code, _, err = run_cli(infer_main, capsys, photo, "--ckpt", ckpt)
    assert code == 0, err
    assert (tmp_path / "in" / "photo__evil.jpg").is_file()


def test_two_styles_of_one_name_get_a_suffix_2_so_style_all_writes_both(tmp_path, capsys):
    ckpt = styles_checkpoint(tmp_path / "x.pt", ["candy", "candy"])
    assert load_checkpoint(ckpt).style_names == ["candy", "candy_2"]
    photo = tmp_path / "photo.jpg"
    random_image(24, 20).save(photo)
    code, _, err = run_cli(infer_main, capsys, photo, "--ckpt", ckpt, "--style", "all")
    assert code == 0, err
    assert (tmp_path / "photo_candy.jpg").is_file() and (tmp_path / "photo_candy_2.jpg").is_file()


def test_training_names_styles_by_their_file_stems_made_safe(tmp_path):
    assert style_names(["styles/rain-princess.jpg", "x/.dotted.png", "y/tab\there.png"]) == \
        ["rain-princess", "dotted", "tab_here"]


def test_a_blend_of_long_style_names_makes_an_output_name_the_filesystem_takes_and_a_rerun_skips_it(tmp_path,
                                                                                                    capsys):
    names = ["_".join([word] * 6) for word in ("impressionist", "expressionist", "pointillist")]  # 70-83 chars
    ckpt = styles_checkpoint(tmp_path / "x.pt", names)
    photos = tmp_path / "photos"
    photos.mkdir()
    random_image(24, 20).save(photos / "photo.jpg")
    blend = ",".join(f"{name}=1" for name in names)
    code, _, err = run_cli(infer_main, capsys, photos, "--ckpt", ckpt, "--style", blend)
    assert code == 0, err
    written = [p.name for p in photos.iterdir() if p.name != "photo.jpg"]
    assert len(written) == 1 and len(written[0].encode()) <= 200
    assert written[0].startswith("photo_impressionist_impressionist_") and re.search(r"-[0-9a-f]{8}\.jpg$", written[0])
    code, _, err = run_cli(infer_main, capsys, photos, "--ckpt", ckpt, "--style", blend)  # the same name again,
    assert code == 0 and sorted(p.name for p in photos.iterdir()) == sorted(["photo.jpg", *written])  # not restyled


# ---------------------------------------------------------------------------------- permissions
def test_videos_images_and_checkpoints_honour_the_umask(tmp_path, ckpt_file):
    clip = make_clip(tmp_path / "clip.mp4", frames=2, audio=None)
    previous = os.umask(0o022)
    try:
        video = fastnst.stylize_video(clip, tmp_path / "a.mp4", ckpt_file)
        save_image(random_image(8, 8), tmp_path / "a.png")
        checkpoint = atomic_save({"x": 1}, tmp_path / "a.pt")
        assert [mode(p) for p in (video, tmp_path / "a.png", checkpoint)] == [0o644] * 3
        os.umask(0o007)
        video = fastnst.stylize_video(clip, tmp_path / "b.mp4", ckpt_file)
        assert mode(video) == 0o660
    finally:
        os.umask(previous)


# ---------------------------------------------------------------- one broken input, said once
def test_style_all_says_a_broken_input_once_and_counts_inputs(tmp_path, capsys):
    ckpt = styles_checkpoint(tmp_path / "x.pt", ["a", "b", "c"])
    folder = tmp_path / "photos"
    folder.mkdir()
    random_image(24, 20).save(folder / "good.jpg")
    (folder / "broken.jpg").write_text("not a picture")
    code, _, err = run_cli(infer_main, capsys, folder, "--ckpt", ckpt, "--style", "all", "-o", tmp_path / "out")
    assert code == 1
    lines = err.splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: ") and "broken.jpg" in lines[0]
    assert lines[1] == "1 of 2 input(s) failed"
    assert files_under(tmp_path / "out") == {Path("good_a.jpg"), Path("good_b.jpg"), Path("good_c.jpg")}


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


def test_training_into_a_log_draws_no_bar_and_reports_plain_lines(tmp_path, photo_dir, style_file, capsys):
    code = train_main(["--style", str(style_file), "--data", str(photo_dir), "--steps", "2",
                       *as_flags(small_run(tmp_path / "r", log_every=1, progress=True))])  # no --no-progress
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    assert [line.split(":")[0] for line in out.splitlines()[:2]] == ["step 1/2", "step 2/2"]
