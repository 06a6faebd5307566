"""Files (fastnst/files.py): atomic writes that honour the umask and never replace an input, safe
name parts, and a full disk said as one."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

import fastnst
import fastnst.checkpoint
from fastnst.checkpoint import atomic_save
from fastnst.errors import first_line
from fastnst.files import safe_name
from fastnst.images import save_image

from .helpers import make_clip, random_image

SERIALIZER_FULL = "[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("error", [OSError(errno.ENOSPC, "No space left on device"), RuntimeError(SERIALIZER_FULL),
                                   RuntimeError("[enforce fail at inline_container.cc:471] . PytorchStreamWriter "
                                                "failed writing file data/0: file write failed")])
def test_every_way_a_full_disk_is_reported_reads_no_space_left_on_device(error):
    assert first_line(error) == "no space left on device"


def test_save_image_given_its_input_refuses_a_hard_link_to_it(tmp_path):
    photo = tmp_path / "photo.png"
    random_image(20, 16).save(photo)
    os.link(photo, tmp_path / "same.png")
    before = photo.read_bytes()
    with pytest.raises(fastnst.FastNSTError, match="would overwrite the input"):
        save_image(random_image(20, 16, seed=3), tmp_path / "same.png", inputs=[photo])
    assert photo.read_bytes() == before


def test_ordinary_style_names_are_kept_and_unsafe_ones_made_safe_file_name_parts():
    for name in ("rain-princess", "starry_night", "La Muse", "mosaic", "v1.2"):
        assert safe_name(name, "style0") == name
    assert safe_name("../../../evil", "style0") == "_evil"
    assert safe_name("a/b\\c", "style0") == "a_b_c"
    assert safe_name(".hidden", "style0") == "hidden"
    assert safe_name("tab\there\nnewline", "style0") == "tab_here_newline"
    assert safe_name("..", "style0") == "_" and safe_name("", "style3") == "style3"


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
