"""Fixtures: tiny style images and photo folders; a random-weight checkpoint and ONNX exports built
once per session; the session's environment (an export cache, the fastnst child processes import).
Plain helpers (images, clips, nets, paths) are in helpers.py."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path
from typing import Callable, Iterator

import pytest
import torch

from fastnst.checkpoint import atomic_save, build_checkpoint
from fastnst.model import ModelConfig, TransformerNet

from .helpers import ROOT, contrasty_net, random_image


@pytest.fixture
def style_file(tmp_path: Path) -> Path:
    path = tmp_path / "style" / "tiles.png"
    path.parent.mkdir()
    random_image(48, 40, seed=1).save(path)
    return path


@pytest.fixture
def photo_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    (folder / "nested").mkdir(parents=True)
    for i in range(3):
        random_image(40 + 3 * i, 36, seed=10 + i).save(folder / f"p{i}.jpg")
    random_image(50, 44, seed=20).save(folder / "nested" / "deep.png")
    return folder


@pytest.fixture
def two_styles(tmp_path: Path) -> Path:
    """A random-weight checkpoint of two styles, candy and mosaic."""
    torch.manual_seed(0)
    state = build_checkpoint(TransformerNet(ModelConfig(num_styles=2)),
                             styles=[("candy", random_image(32, 32)), ("mosaic", random_image(32, 32, seed=2))],
                             train_args={"steps": 0}, loss={"loss_net": "vgg16"}, step=0)
    return atomic_save(state, tmp_path / "two.pt")


@pytest.fixture(scope="session")
def shared_ckpt(tmp_path_factory) -> Path:
    """A fastnst inference checkpoint with random weights (style name 'tiles'), built once per
    session: only for tests that read it; a test that changes or moves it takes `ckpt_file`."""
    torch.manual_seed(0)
    model = TransformerNet()
    state = build_checkpoint(model, styles=[("tiles", random_image(64, 64))],
                             train_args={"steps": 0}, loss={"loss_net": "vgg16"}, step=0, half=True)
    return atomic_save(state, tmp_path_factory.mktemp("shared_ckpt") / "tiles.pt")


@pytest.fixture(scope="session")
def universal_file(tmp_path_factory) -> Path:
    """A small universal model (relu2_1 and relu1_1, random weights), saved once per session."""
    from fastnst.universal import UniversalConfig, UniversalNet, save_universal

    torch.manual_seed(0)
    net = UniversalNet(UniversalConfig(levels=("relu2_1", "relu1_1")), encoder_weights="random")
    return save_universal(net, tmp_path_factory.mktemp("universal") / "universal.pt", {"steps": 0})


@pytest.fixture
def ckpt_file(shared_ckpt: Path, tmp_path: Path) -> Path:
    """The random-weight checkpoint as the test's own file, tmp_path/tiles.pt (a copy: cheap)."""
    return Path(shutil.copyfile(shared_ckpt, tmp_path / "tiles.pt"))


@pytest.fixture(scope="session")
def onnx_export(tmp_path_factory) -> Callable[[str], tuple[Path, Path]]:
    """onnx_export(arch) -> (checkpoint, its ONNX file) of contrasty_net(arch, seed=5), style 'tiles':
    each arch exported once per session (an export takes seconds), for tests that only read them."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from fastnst.inference.export import export_onnx

    exported: dict[str, tuple[Path, Path]] = {}

    def checkpoint_and_export(arch: str) -> tuple[Path, Path]:
        if arch not in exported:
            folder = tmp_path_factory.mktemp(f"onnx_{arch}")
            state = build_checkpoint(contrasty_net(arch, seed=5), styles=[("tiles", random_image(32, 32))],
                                     train_args={}, loss={}, step=0)
            ckpt = atomic_save(state, folder / "tiles.pt")
            exported[arch] = ckpt, export_onnx(ckpt, folder / "tiles.onnx")
        return exported[arch]

    return checkpoint_and_export


@pytest.fixture
def ctrl_c_reaches_python() -> Iterator[None]:
    """Ctrl-C raises KeyboardInterrupt, as in a terminal, even where the tests were started with SIGINT
    ignored (a shell's background job, nohup): there a simulated Ctrl-C would never arrive."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture(autouse=True, scope="session")
def onnx_cache(tmp_path_factory) -> Path:
    """Exported nets (backend "auto" caches them) go to a folder of the test session, not ~/.cache."""
    folder = tmp_path_factory.mktemp("cache")
    patch = pytest.MonkeyPatch()
    patch.setenv("FASTNST_CACHE", str(folder))
    yield folder
    patch.undo()


@pytest.fixture(autouse=True, scope="session")
def children_import_this_checkout() -> Iterator[None]:
    """Python processes the tests start (benchmark scripts, torchrun) import this checkout's fastnst,
    not one installed in editable mode from another checkout (a git worktree beside the main one)."""
    patch = pytest.MonkeyPatch()
    patch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
    yield
    patch.undo()


@pytest.fixture
def photo(tmp_path) -> Path:
    path = tmp_path / "in" / "photo.jpg"
    path.parent.mkdir()
    random_image(20, 16).save(path)
    return path
