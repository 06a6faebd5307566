"""Training images: a local folder or a Hugging Face dataset -> batches of square crops in [0, 1].

Crops are a pure function of (seed, sample position), so a resumed run sees exactly the
batches an uninterrupted one would, whatever the number of loader workers.
"""

from __future__ import annotations

import itertools
import logging
import socket
from pathlib import Path
from typing import Iterator

import torch
import torchvision.transforms.functional as TF
from PIL import Image
from torch.utils.data import DataLoader, Dataset, IterableDataset, Sampler

from ..errors import FastNSTError
from ..images import center_crop, find_images, open_rgb, to_rgb

log = logging.getLogger(__name__)

# COCO 2014 train images on the Hugging Face hub, streamed: no 13 GB download up front.
DEFAULT_DATASET = "detection-datasets/coco"


def random_crop(image: Image.Image, size: int, generator: torch.Generator) -> torch.Tensor:
    """Resize the short side to `size`, take a random size x size crop: 3 x size x size in [0, 1]."""
    image = TF.resize(image, size, interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
    top = int(torch.randint(0, image.height - size + 1, (1,), generator=generator))
    left = int(torch.randint(0, image.width - size + 1, (1,), generator=generator))
    crop = TF.crop(image, top, left, size, size)
    if torch.rand((), generator=generator) < 0.5:
        crop = TF.hflip(crop)
    return TF.pil_to_tensor(crop).float().div_(255)


class ImageFolder(Dataset):
    """Every readable image under a folder (recursive). Items are (index, position) pairs."""

    def __init__(self, root: str | Path, image_size: int, seed: int = 0) -> None:
        root = Path(root)
        if not root.is_dir():
            raise FastNSTError(f"--data {root}: no such folder")
        self.paths, self.skipped = [], []
        for path in find_images(root):
            try:  # header check only: cheap even for large folders
                with Image.open(path) as image:
                    image.size
                self.paths.append(path)
            except Exception:
                self.skipped.append(path)
        if not self.paths:
            unreadable = f" ({len(self.skipped)} unreadable)" if self.skipped else ""
            raise FastNSTError(f"--data {root}: no readable images (jpg, png, webp, bmp) found{unreadable}")
        if self.skipped:
            log.warning("skipped %d unreadable file(s) in %s, e.g. %s", len(self.skipped), root, self.skipped[0])
        # Headers can be fine and the data cut: decode images up front until one works, so a folder
        # of nothing but damaged files fails here, in one line, not inside a loader worker.
        for path in self.paths:
            try:
                open_rgb(path)
                break
            except FastNSTError:
                continue
        else:
            raise FastNSTError(f"--data {root}: none of its {len(self.paths)} images can be decoded (damaged or cut short)")
        self.image_size, self.seed = image_size, seed

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, item: tuple[int, int]) -> torch.Tensor:
        index, position = item
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + position)
        # A file that passed the header check can still be truncated: fall back to the next one.
        for offset in range(len(self.paths)):
            path = self.paths[(index + offset) % len(self.paths)]
            try:
                return random_crop(open_rgb(path), self.image_size, generator)
            except FastNSTError as exc:
                log.warning("skipping %s", exc)
        raise FastNSTError("no image in the training folder could be decoded")


class PositionSampler(Sampler):
    """Endless (index, position) stream: a fresh seeded permutation every epoch, starting at `start`.

    Under data-parallel training the one global stream is dealt out in batches: of `world_size`
    processes, `rank` takes positions step * world_size * batch_size + rank * batch_size + i, so
    the processes see disjoint images, together exactly the batches of one process with a
    world_size times bigger batch, and a resumed run continues where it stopped.
    """

    def __init__(self, size: int, seed: int, start: int = 0, rank: int = 0, world_size: int = 1,
                 batch_size: int = 1) -> None:
        self.size, self.seed, self.start = size, seed, start
        self.rank, self.world_size, self.batch_size = rank, world_size, batch_size

    def __iter__(self) -> Iterator[tuple[int, int]]:
        for position in itertools.count(self.start):
            epoch, offset = divmod(position, self.size)
            if offset == 0 or position == self.start:
                order = torch.randperm(self.size, generator=torch.Generator().manual_seed(self.seed + epoch))
            if (position // self.batch_size) % self.world_size == self.rank:
                yield int(order[offset]), position


def _check_hub_reachable() -> None:
    """Fail in a moment, not after a minute of retries, when the hub's host does not even resolve."""
    from urllib.parse import urlparse

    from huggingface_hub import constants

    host = urlparse(constants.ENDPOINT).hostname or "huggingface.co"
    try:
        socket.getaddrinfo(host, 443)
    except OSError as exc:
        raise ConnectionError(f"cannot resolve {host}") from exc


class HubImages(IterableDataset):
    """A Hugging Face dataset streamed with `datasets`; the image column is found by feature type."""

    def __init__(self, name: str, image_size: int, seed: int = 0, start: int = 0, split: str = "train",
                 rank: int = 0, world_size: int = 1) -> None:
        try:
            import datasets
            from datasets.distributed import split_dataset_by_node
        except ImportError:
            raise FastNSTError("the `datasets` package is needed for hub data: pip install datasets") from None
        try:
            _check_hub_reachable()
            stream = datasets.load_dataset(name, split=split, streaming=True)
            columns = [k for k, v in (stream.features or {}).items() if isinstance(v, datasets.Image)]
        except Exception as exc:
            raise FastNSTError(
                f"could not stream dataset '{name}' from the Hugging Face hub ({type(exc).__name__}); "
                f"offline, train on a local folder of photos instead: --data DIR") from None
        if not columns:
            raise FastNSTError(f"dataset '{name}' has no image column")
        self.column = columns[0]
        # Every process shuffles alike, then keeps its own share: disjoint data per rank.
        stream = split_dataset_by_node(stream.shuffle(seed=seed, buffer_size=1000), rank=rank,
                                       world_size=world_size)
        self.stream = stream.skip(start)
        self.image_size, self.seed, self.start = image_size, seed, start

    def __iter__(self) -> Iterator[torch.Tensor]:
        for position, row in enumerate(self.stream, start=self.start):
            try:
                image, _ = to_rgb(row[self.column])
                yield random_crop(image, self.image_size, torch.Generator().manual_seed(self.seed * 1_000_003 + position))
            except Exception as exc:  # one bad sample must not end a long run
                log.warning("skipping sample %d: %s", position, exc)


def is_local(data: str) -> bool:
    return Path(data).exists() or data.startswith((".", "/", "~")) or "\\" in data


def make_loader(data: str, image_size: int, batch_size: int, seed: int, start_step: int,
                workers: int, pin_memory: bool = False, rank: int = 0,
                world_size: int = 1) -> tuple[DataLoader, int | None, int]:
    """(endless loader, number of images or None when streamed, number skipped as unreadable).

    `batch_size` is per process; with `world_size` processes a step consumes world_size batches.
    """
    # Workers decode JPEGs ahead of the model: persistent (no restart cost per epoch) and each a
    # few batches ahead, so one slow, large image does not stall the step; pinned memory lets
    # the copy to the GPU run asynchronously.
    ahead = dict(num_workers=workers, pin_memory=pin_memory, drop_last=True, persistent_workers=workers > 0,
                 prefetch_factor=4 if workers > 0 else None)
    if is_local(data):
        folder = ImageFolder(Path(data).expanduser(), image_size, seed)
        sampler = PositionSampler(len(folder), seed, start_step * batch_size * world_size, rank, world_size,
                                  batch_size)
        return DataLoader(folder, batch_size=batch_size, sampler=sampler, **ahead), len(folder), len(folder.skipped)
    hub = HubImages(data, image_size, seed, start_step * batch_size, rank=rank, world_size=world_size)
    return DataLoader(hub, batch_size=batch_size, **ahead), None, 0


def endless(loader: DataLoader) -> Iterator[torch.Tensor]:
    """The loader's batches without end: a streamed dataset ends; a local one is endless already."""
    while True:
        yield from loader


def sample_batch(data: str, val_dir: str | None, size: int) -> torch.Tensor | None:
    """The photos of the sample grid, center crops of `size`: the first 8 of `val_dir`, else the
    first 4 of a local `data` folder; None for a streamed dataset without `val_dir`."""
    source = val_dir or (data if Path(data).is_dir() else None)
    if source is None:
        return None
    images = []
    for path in find_images(source)[:8 if val_dir else 4]:
        try:
            images.append(center_crop(open_rgb(path), size))
        except FastNSTError:
            continue
    return torch.stack(images) if images else None
