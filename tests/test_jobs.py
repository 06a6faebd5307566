"""What infer.py does with its inputs (video/jobs.py): each output named <name>_<style>.<ext> beside
its input or in -o, never a file the run reads, one failed input said once and the others written."""

from __future__ import annotations

import errno
import os
import re
from dataclasses import replace
from pathlib import Path

import torch
from PIL import Image

from fastnst.checkpoint import atomic_save, build_checkpoint, load_checkpoint
from fastnst.cli import infer_main
from fastnst.model import ModelConfig, TransformerNet

from .helpers import errors, make_clip, random_image, run_cli


def styles_checkpoint(path: Path, names: list[str]) -> Path:
    """A random net of len(names) styles, with these (perhaps hostile) names stored as they are."""
    torch.manual_seed(0)
    model = TransformerNet(replace(ModelConfig(), num_styles=len(names)))
    state = build_checkpoint(model, styles=[(n, None) for n in names], train_args={}, loss={}, step=0, half=True)
    return atomic_save(state, path)


def files_under(folder: Path) -> set[Path]:
    return {p.relative_to(folder) for p in folder.rglob("*") if p.is_file()}


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


def test_style_all_with_a_video_and_a_folder_writes_each_input_in_each_style(capsys, tmp_path, two_styles, photo):
    make_clip(tmp_path / "in" / "clip.mp4", frames=3)
    random_image(24, 18, seed=4).save(tmp_path / "in" / "other.png")
    out = tmp_path / "out"
    code, _, err = run_cli(infer_main, capsys, tmp_path / "in", "--ckpt", two_styles, "--style", "all", "-o", out)
    assert (code, errors(err)) == (0, [])
    assert sorted(p.name for p in out.glob("*")) == ["clip_candy.mp4", "clip_mosaic.mp4", "other_candy.png",
                                                     "other_mosaic.png", "photo_candy.jpg", "photo_mosaic.jpg"]


def test_disk_full_while_writing_an_image_names_the_input_and_the_output(tmp_path, photo_dir, ckpt_file, capsys,
                                                                          monkeypatch):
    def full(self, fp, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", full)
    code, _, err = run_cli(infer_main, capsys, photo_dir / "p0.jpg", "--ckpt", ckpt_file, "-o", tmp_path / "out.jpg")
    assert code == 1
    assert f"error: {photo_dir / 'p0.jpg'}: could not write {tmp_path / 'out.jpg'}: no space left on device" in err
    assert not (tmp_path / "out.jpg").exists() and not list(tmp_path.glob(".*"))


def test_infer_refuses_an_output_that_is_a_hard_link_to_the_photo(tmp_path, ckpt_file, capsys):
    photo = tmp_path / "photo.jpg"
    random_image(24, 20).save(photo)
    os.link(photo, tmp_path / "out.jpg")
    before = photo.read_bytes()
    code, _, err = run_cli(infer_main, capsys, photo, "--ckpt", ckpt_file, "-o", tmp_path / "out.jpg")
    assert code == 1 and err.splitlines() == [f"error: {photo}: the output {tmp_path / 'out.jpg'} would overwrite an "
                                              f"input; choose another -o", "1 of 1 input(s) failed"]
    assert photo.read_bytes() == before


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
