"""scripts/vs_arbitrary.py measures a network and another stylizer with the network's own loss."""

import importlib.util
import sys

from PIL import Image

from .helpers import ROOT

sys.path.insert(0, str(ROOT / "scripts"))  # it imports evaluate_all and gallery from beside it
spec = importlib.util.spec_from_file_location("vs_arbitrary", ROOT / "scripts" / "vs_arbitrary.py")
vs_arbitrary = importlib.util.module_from_spec(spec)
spec.loader.exec_module(vs_arbitrary)
HEADER = sys.modules["gallery"].HEADER  # the height of the column names above the tiles


class PhotoBack:
    """A stand-in for the arbitrary-style network that gives the photo back unchanged."""

    def stylize_with(self, image, style_image, max_size=None):
        return image.copy()


def test_both_outputs_measured_with_the_networks_loss(ckpt_file, photo_dir, style_file):
    photos = sorted(photo_dir.glob("*.jpg"))
    result, rows = vs_arbitrary.compare(str(ckpt_file), photos, style_file.parent, 48, PhotoBack(),
                                        loss_weights="random")
    ours, other = result["fastnst"], result["arbitrary"]
    assert other["content"] < 1e-6 < ours["content"]  # the photo itself keeps all of its content
    assert other["style"] > 0 and ours["style"] > 0
    for terms in (ours, other):
        assert abs(terms["total"] - (terms["content"] + terms["style"] + terms["tv"])) < 1e-4 * terms["total"]
    assert len(rows) == len(photos)
    for painting, photo, net_output, other_output in rows:  # a figure row: painting | photo | fastnst | other
        assert painting.size == Image.open(style_file).size
        assert photo.size == net_output.size == other_output.size and max(photo.size) == 48


def test_one_figure_of_every_style_and_photo(tmp_path, ckpt_file, photo_dir, style_file, monkeypatch):
    monkeypatch.setattr(vs_arbitrary, "arbitrary_stylizer", PhotoBack)
    picture = tmp_path / "vs.jpg"
    assert vs_arbitrary.main([str(ckpt_file), str(ckpt_file), "--content", str(photo_dir), "--styles",
                              str(style_file.parent), "--size", "48", "--images", "2", "--tile", "40",
                              "--loss-weights", "random", "--picture", str(picture)]) == 0
    tile, gap = 40, 4
    assert Image.open(picture).size == (4 * (tile + gap) - gap, HEADER + 4 * (tile + gap) - gap)  # 2 nets x 2 photos
    assert not list(tmp_path.glob(".vs.*"))  # no temporary file left beside it


def test_a_missing_photo_folder_is_one_line(tmp_path, ckpt_file, capsys):
    assert vs_arbitrary.main([str(ckpt_file), "--content", str(tmp_path / "none")]) != 0
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ")
