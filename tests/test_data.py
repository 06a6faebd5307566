import pytest
import torch

from fastnst.training.data import ImageFolder, PositionSampler, make_loader
from fastnst.errors import FastNSTError

from .helpers import random_image


def test_folder_is_recursive_and_skips_unreadable_files(photo_dir):
    (photo_dir / "broken.jpg").write_bytes(b"this is not a jpeg")
    (photo_dir / "notes.txt").write_text("ignored: not an image extension")
    random_image(40, 40).save(photo_dir / "nested" / "w.webp")
    random_image(40, 40).save(photo_dir / "b.bmp")
    data = ImageFolder(photo_dir, image_size=32)
    names = sorted(p.name for p in data.paths)
    assert names == ["b.bmp", "deep.png", "p0.jpg", "p1.jpg", "p2.jpg", "w.webp"]
    assert [p.name for p in data.skipped] == ["broken.jpg"]


def test_truncated_file_is_skipped_at_load_time(photo_dir):
    good = photo_dir / "p0.jpg"
    good.write_bytes(good.read_bytes()[:-300])  # header fine, pixels missing
    data = ImageFolder(photo_dir, image_size=32)
    index = [p.name for p in data.paths].index("p0.jpg")
    assert data[(index, 0)].shape == (3, 32, 32)


def test_crops_are_a_function_of_seed_and_position(photo_dir):
    data = ImageFolder(photo_dir, image_size=24, seed=5)
    assert torch.equal(data[(1, 7)], data[(1, 7)])
    assert data[(1, 7)].min() >= 0 and data[(1, 7)].max() <= 1


def test_sampler_resumes_mid_epoch():
    full = PositionSampler(5, seed=3)
    straight = [next(it) for it in [iter(full)] for _ in range(12)]
    resumed = [item for item, _ in zip(PositionSampler(5, seed=3, start=7), range(5))]
    assert straight[7:12] == resumed
    assert sorted(i for i, _ in straight[:5]) == list(range(5))


def test_loader_gives_batches(photo_dir):
    loader, count, skipped = make_loader(str(photo_dir), 16, 2, seed=0, start_step=0, workers=0)
    assert count == 4 and skipped == 0
    assert next(iter(loader)).shape == (2, 3, 16, 16)


def test_missing_folder_and_empty_folder(tmp_path):
    with pytest.raises(FastNSTError, match="no such folder"):
        make_loader(str(tmp_path / "nope"), 16, 2, 0, 0, 0)
    with pytest.raises(FastNSTError, match="no readable images"):
        make_loader(str(tmp_path), 16, 2, 0, 0, 0)


def test_hub_dataset_offline_message(monkeypatch):
    datasets = pytest.importorskip("datasets")

    def offline(*args, **kwargs):
        raise ConnectionError("no network")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(FastNSTError, match="--data DIR"):
        make_loader("detection-datasets/coco", 16, 2, 0, 0, 0)
