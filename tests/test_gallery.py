import importlib.util
import shutil

from PIL import Image

import fastnst
from fastnst.checkpoint import atomic_save, build_checkpoint

from .helpers import ROOT, THREE_STYLE_NAMES, random_image, three_style_net

spec = importlib.util.spec_from_file_location("gallery", ROOT / "scripts" / "gallery.py")
gallery = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gallery)


def test_one_small_figure_per_checkpoint_and_markdown(tmp_path, ckpt_file, photo_dir, style_file, capsys):
    second = shutil.copy(ckpt_file, tmp_path / "copy.pt")  # same style name "tiles": same figure name
    out = tmp_path / "gallery"
    code = gallery.main([str(ckpt_file), str(second), "--content", str(photo_dir), "--out", str(out),
                         "--images", "2", "--size", "48", "--tile", "40", "--styles", str(tmp_path / "none")])
    assert code == 0
    figure = Image.open(out / "tiles.jpg")
    assert figure.format == "JPEG"
    assert figure.size == (3 * 40 + 2 * 4, gallery.HEADER + 2 * 40 + 4)  # content | style | output, 2 rows
    assert (out / "tiles.jpg").stat().st_size < 300 * 1024
    markdown = capsys.readouterr().out
    assert "**tiles**" in markdown and f"]({out / 'tiles.jpg'})" in markdown
    assert sorted(p.name for p in out.iterdir()) == ["tiles.jpg"]  # no temporary files left


def test_style_image_from_styles_folder_else_thumbnail(tmp_path, ckpt_file, style_file):
    checkpoint = fastnst.load_checkpoint(ckpt_file)
    assert gallery.style_image_for(checkpoint, style_file.parent).size == Image.open(style_file).size
    assert gallery.style_image_for(checkpoint, tmp_path / "none").size == checkpoint.style_thumbnail.size


def test_figures_stay_under_the_size_limit():
    noisy = Image.effect_noise((300, 300), 100).convert("RGB")  # noise: the worst case for compression
    for fmt, magic in (("PNG", b"\x89PNG"), ("JPEG", b"\xff\xd8")):
        data = gallery.encode_small(noisy, fmt, 20 * 1024)
        assert data.startswith(magic) and len(data) <= 20 * 1024


def test_no_checkpoints_is_one_line(tmp_path, capsys):
    code = gallery.main(["--content", str(tmp_path / "none"), str(tmp_path / "missing.pt")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and err.startswith("error: ")


def test_a_net_of_several_styles_gets_a_column_per_style_under_its_style_images(tmp_path, photo_dir):
    ckpt = atomic_save(build_checkpoint(three_style_net(), styles=[(n, random_image(30, 20, seed=i))
                                                                   for i, n in enumerate(THREE_STYLE_NAMES)],
                                        train_args={}, loss={}, step=0), tmp_path / "three.pt")
    out = tmp_path / "gallery"
    assert gallery.main([str(ckpt), "--content", str(photo_dir), "--out", str(out), "--images", "2", "--size", "48",
                         "--tile", "40", "--styles", str(tmp_path / "none")]) == 0
    figure = Image.open(out / "mosaic+candy+udnie.jpg")
    assert figure.size == (4 * 40 + 3 * 4, gallery.HEADER + 3 * 40 + 2 * 4)  # content + 3 styles; styles + 2 photos


def test_compare_puts_nets_of_one_style_side_by_side_under_their_labels(tmp_path, ckpt_file, photo_dir, capsys):
    second = shutil.copy(ckpt_file, tmp_path / "longer.pt")
    out = tmp_path / "figures"
    code = gallery.main([str(ckpt_file), str(second), "--compare", "10 min", "1 h", "--name", "budgets",
                         "--content", str(photo_dir), "--out", str(out), "--images", "2", "--size", "48",
                         "--tile", "40"])
    assert code == 0
    figure = Image.open(out / "budgets.jpg")
    assert figure.size == (4 * 40 + 3 * 4, gallery.HEADER + 2 * 40 + 4)  # content | 10 min | 1 h | style
    assert str(out / "budgets.jpg") in capsys.readouterr().out
    assert gallery.main([str(ckpt_file), "--compare", "a", "b", "--content", str(photo_dir), "--out", str(out)]) == 2
    assert "2 label(s) for 1 checkpoint(s)" in capsys.readouterr().err
