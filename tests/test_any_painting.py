"""scripts/yardstick.py and scripts/any_painting.py: how close to the painting, how much of the photo,
painting by painting, for universal models beside the arbitrary-style network."""

import importlib.util
import sys

import pytest
from PIL import Image

from .helpers import ROOT, random_image

sys.path.insert(0, str(ROOT / "scripts"))  # the scripts import each other from beside them


def _script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


any_painting = _script("any_painting")


@pytest.fixture(scope="module")
def yardstick():
    return any_painting.Yardstick("random")


def test_the_photo_is_as_far_as_itself_and_the_painting_is_at_distance_zero(yardstick, tmp_path):
    painting_file = tmp_path / "painting.png"
    random_image(48, 40, seed=1).save(painting_file)
    photo, painting = random_image(48, 40, seed=2), Image.open(painting_file).convert("RGB")
    target = yardstick.painting(painting_file, 48)
    itself = yardstick.measure(photo, photo, target)
    assert itself["style"] == pytest.approx(1.0) and itself["content"] == 0.0
    assert yardstick.measure(painting, photo, target)["style"] < 1e-6


def test_each_painting_and_size_has_each_methods_means_and_a_figure_row(yardstick, tmp_path, photo_dir,
                                                                        universal_file):
    for i in range(2):
        random_image(40, 30 + 8 * i, seed=i).save(tmp_path / f"p{i}.png")
    paintings, photos = sorted(tmp_path.glob("p*.png")), sorted(photo_dir.glob("*.jpg"))[:2]
    methods = {"universal": any_painting.universal_method(universal_file),
               "photo": lambda photo, painting: photo.copy()}
    rows, lines = [], []
    results = any_painting.compare(methods, paintings, photos, [32, 48], yardstick, rows, lines.append)
    assert set(results) == {"p0", "p1"} and set(results["p0"]) == {"32", "48"}
    assert results["p1"]["48"]["photo"] == {"style": pytest.approx(1.0), "content": 0.0}
    assert results["p0"]["32"]["universal"]["content"] > 0 and len(lines) == 4
    assert len(rows) == 2 and all(len(row) == 4 and max(row[1].size) == 32 for row in rows)


def test_the_pass_table_has_geometric_means_against_the_reference_and_counts_of_passes():
    results = {"a": {"512": {"new": {"style": 0.2, "content": 0.5}, "arbitrary": {"style": 0.4, "content": 0.5}}},
               "b": {"512": {"new": {"style": 0.8, "content": 1.0}, "arbitrary": {"style": 0.4, "content": 0.5}}}}
    assert any_painting.pass_table(results, "512")[2] == "| new | 1.000 | 1.414 | 1/2 | 1/2 |"


def test_a_missing_photo_folder_is_one_line(tmp_path, capsys):
    assert any_painting.main(["--content", str(tmp_path / "none"), "--styles", str(tmp_path)]) != 0
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ")


def test_compose_takes_each_level_from_the_first_file_that_has_it(tmp_path, capsys):
    import torch
    from fastnst.universal import UniversalConfig, UniversalNet, load_universal, save_universal

    from fastnst.cli import info_main

    compose = _script("compose_universal")
    torch.manual_seed(0)
    coarse = save_universal(UniversalNet(UniversalConfig(("relu3_1",)), encoder_weights="random"), tmp_path / "c.pt")
    fine = save_universal(UniversalNet(UniversalConfig(("relu2_1", "relu1_1")), encoder_weights="random"),
                          tmp_path / "f.pt", {"steps": 7})
    assert compose.run([str(tmp_path / "u.pt"), str(coarse), str(fine), "--levels", "relu3_1", "relu1_1"]) == 0
    made, parts = load_universal(tmp_path / "u.pt"), {p: load_universal(tmp_path / p).net for p in ("c.pt", "f.pt")}
    assert made.net.config.levels == ("relu3_1", "relu1_1")
    for level, source in (("relu3_1", "c.pt"), ("relu1_1", "f.pt")):
        for key, value in made.net.decoders[level].state_dict().items():
            assert torch.equal(value, parts[source].decoders[level].state_dict()[key])
    assert made.train_args["relu1_1"]["steps"] == 7 and made.train_args["relu3_1"]["from"] == "c.pt"
    capsys.readouterr()
    assert info_main([str(tmp_path / "u.pt")]) == 0
    assert "relu3_1 decoder trained: 0 steps" in capsys.readouterr().out  # each level's run, in `fastnst info`
    with pytest.raises(compose.FastNSTError, match="relu4_1"):
        compose.run([str(tmp_path / "v.pt"), str(fine), "--levels", "relu4_1"])
