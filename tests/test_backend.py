"""Backend "auto" runs a checkpoint on the fast path (on every CPU class it is as fast as
onnxruntime or faster) and an exported .onnx file in onnxruntime; "--backend onnxruntime" with a
checkpoint exports it once and keeps the export in a cache."""

import numpy as np
import pytest
import torch

import fastnst.device as device
from fastnst.checkpoint import atomic_save, build_checkpoint, load_checkpoint
from fastnst.cli import infer_main
from fastnst.device import cpu_bf16_class
from fastnst.errors import FastNSTError
from fastnst.inference import FastStylizer, Stylizer
from fastnst.inference import onnx_runtime
from fastnst.inference.onnx_runtime import OnnxStylizer

from fastnst.video.reader import read_frames

from .helpers import contrasty_net, make_clip, random_image

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

CPU = torch.device("cpu")


@pytest.fixture
def fp32_cpu(monkeypatch, tmp_path):
    """This CPU as one without native bf16 (AVX2, AVX-512 VNNI), with a cache of its own."""
    monkeypatch.setattr(device, "cpu_bf16_class", lambda: None)
    monkeypatch.setenv("FASTNST_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def johnson_ckpt(tmp_path):
    state = build_checkpoint(contrasty_net("johnson", seed=3), styles=[("tiles", random_image(32, 32))],
                             train_args={}, loss={}, step=0)
    return atomic_save(state, tmp_path / "tiles.pt")


def test_auto_backend_is_the_fast_path_for_a_checkpoint_and_onnxruntime_for_an_onnx_file(fp32_cpu, johnson_ckpt,
                                                                                       onnx_export):
    for precision in ("auto", "fp32"):  # on a CPU without native bf16 too
        assert isinstance(Stylizer.load(johnson_ckpt, precision=precision).net, FastStylizer)
    assert not list(fp32_cpu.glob("onnx/*.onnx"))  # nothing exported behind the user's back
    _, onnx_file = onnx_export("johnson")
    assert isinstance(Stylizer.load(onnx_file).net, OnnxStylizer)
    with pytest.raises(FastNSTError, match="choose one of"):
        Stylizer.load(johnson_ckpt, backend="tensorrt")


def test_onednn_limited_to_an_older_cpu_counts_as_that_cpu(monkeypatch):
    native = cpu_bf16_class()
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert cpu_bf16_class() is None  # oneDNN would emulate bf16: slower than fp32
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16")
    assert cpu_bf16_class() == (None if native is None else "avx512_bf16")
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "not-an-isa")  # oneDNN ignores what it does not know
    assert cpu_bf16_class() == native


def test_onnxruntime_gives_the_torch_picture_and_exports_once(fp32_cpu, johnson_ckpt, monkeypatch):
    stylizer = Stylizer.load(johnson_ckpt, backend="onnxruntime")
    assert isinstance(stylizer.net, OnnxStylizer) and stylizer.label == "tiles" and stylizer.device == CPU
    cached = list(fp32_cpu.glob("onnx/*.onnx"))
    assert len(cached) == 1
    x = torch.rand(1, 3, 37, 50)
    with torch.inference_mode():
        expected = load_checkpoint(johnson_ckpt).model(x)
    assert torch.allclose(stylizer(x), expected, atol=1e-4)

    def no_export(*args, **kwargs):
        raise AssertionError("exported again")

    monkeypatch.setattr(onnx_runtime, "export_onnx", no_export)
    again = Stylizer.load(johnson_ckpt, backend="onnxruntime")  # the next run reads the cache
    assert torch.allclose(again(x), expected, atol=1e-4)


@pytest.mark.slow  # seconds of export or training; the default set covers the same path faster
def test_a_retrained_net_gets_its_own_export(fp32_cpu, johnson_ckpt):
    Stylizer.load(johnson_ckpt, backend="onnxruntime")
    ckpt = load_checkpoint(johnson_ckpt)
    ckpt.model.conv1.conv2d.bias.data += 0.1
    Stylizer.load(ckpt, backend="onnxruntime")
    assert len(list(fp32_cpu.glob("onnx/*.onnx"))) == 2


def test_an_unwritable_cache_costs_an_export_per_run_not_an_error(fp32_cpu, johnson_ckpt, monkeypatch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("FASTNST_CACHE", str(blocker / "cache"))
    stylizer = Stylizer.load(johnson_ckpt, backend="onnxruntime")
    assert isinstance(stylizer.net, OnnxStylizer)
    assert stylizer(torch.rand(1, 3, 16, 16)).shape == (1, 3, 16, 16)


@pytest.mark.slow  # seconds of export or training; the default set covers the same path faster
def test_videos_and_photos_in_onnxruntime_read_the_same_cached_export(fp32_cpu, johnson_ckpt, tmp_path, monkeypatch):
    clip = make_clip(tmp_path / "clip.mp4", frames=4)
    photo = tmp_path / "photo.png"
    random_image(40, 30).save(photo)
    ort = ["--ckpt", str(johnson_ckpt), "--backend", "onnxruntime"]
    assert infer_main([str(clip), *ort, "-o", str(tmp_path / "first.mp4")]) == 0
    monkeypatch.setattr(onnx_runtime, "export_onnx", lambda *a, **k: pytest.fail("exported again"))
    assert infer_main([str(clip), *ort, "-o", str(tmp_path / "again.mp4")]) == 0
    assert infer_main([str(photo), *ort, "-o", str(tmp_path / "photo_out.png")]) == 0
    first, again = (list(read_frames(tmp_path / name)) for name in ("first.mp4", "again.mp4"))
    assert len(first) == len(again) == 4 and all(np.array_equal(a, b) for a, b in zip(first, again))


def test_onnxruntime_takes_a_checkpoint_loaded_in_memory(fp32_cpu, johnson_ckpt):
    ckpt = load_checkpoint(johnson_ckpt)
    ckpt.path = None  # e.g. built by fastnst.train() and never saved
    stylizer = Stylizer.load(ckpt, backend="onnxruntime")
    assert isinstance(stylizer.net, OnnxStylizer) and stylizer.label == "tiles"
