"""Backend "auto": a user gets the faster of our two runtimes without asking; on CPUs that compute
the default net in fp32 that is onnxruntime (exported once, then cached), elsewhere the fast path."""

import numpy as np
import pytest
import torch

import fastnst
import fastnst.device as device
from fastnst.checkpoint import atomic_save, build_checkpoint, load_checkpoint
from fastnst.cli import infer_main
from fastnst.device import cpu_bf16_class, resolve_backend
from fastnst.errors import FastNSTError
from fastnst.inference import FastStylizer, load_stylizer, stylize_tensor
from fastnst.inference import export
from fastnst.inference.export import OnnxStylizer

from fastnst.video.reader import read_frames

from .conftest import contrasty_net, make_clip, random_image

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


def test_auto_backend_is_onnxruntime_only_for_the_default_net_on_a_cpu_computing_fp32(monkeypatch):
    monkeypatch.setattr(device, "cpu_bf16_class", lambda: None)
    assert resolve_backend("auto", CPU, "auto", "johnson") == "onnxruntime"
    assert resolve_backend("auto", CPU, "fp32", "johnson") == "onnxruntime"
    assert resolve_backend("auto", CPU, "auto", "light") == "torch"  # as fast or faster on the fast path
    assert resolve_backend("auto", torch.device("cuda"), "auto", "johnson") == "torch"
    assert resolve_backend("torch", CPU, "auto", "johnson") == "torch"
    monkeypatch.setattr(device, "onnxruntime_available", lambda: False)
    assert resolve_backend("auto", CPU, "auto", "johnson") == "torch"  # not installed: the fast path
    monkeypatch.setattr(device, "cpu_bf16_class", lambda: "avx512_bf16")
    monkeypatch.setattr(device, "onnxruntime_available", lambda: True)
    assert resolve_backend("auto", CPU, "auto", "johnson") == "torch"  # bf16 on the fast path beats it
    assert resolve_backend("auto", CPU, "bf16", "johnson") == "torch"
    with pytest.raises(FastNSTError, match="choose one of"):
        resolve_backend("tensorrt", CPU, "auto", "johnson")


def test_onednn_limited_to_an_older_cpu_counts_as_that_cpu(monkeypatch):
    native = cpu_bf16_class()
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert cpu_bf16_class() is None  # oneDNN would emulate bf16: slower than fp32
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16")
    assert cpu_bf16_class() == (None if native is None else "avx512_bf16")
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "not-an-isa")  # oneDNN ignores what it does not know
    assert cpu_bf16_class() == native


def test_auto_runs_onnxruntime_with_the_torch_picture_and_exports_once(fp32_cpu, johnson_ckpt, monkeypatch):
    stylizer, name, dev = load_stylizer(johnson_ckpt)
    assert isinstance(stylizer, OnnxStylizer) and name == "tiles" and dev == CPU
    cached = list(fp32_cpu.glob("onnx/*.onnx"))
    assert len(cached) == 1
    x = torch.rand(1, 3, 37, 50)
    with torch.inference_mode():
        expected = load_checkpoint(johnson_ckpt).model(x)
    assert torch.allclose(stylizer(x), expected, atol=1e-4)

    def no_export(*args, **kwargs):
        raise AssertionError("exported again")

    monkeypatch.setattr(export, "export_onnx", no_export)
    again, _, _ = load_stylizer(johnson_ckpt)  # the next run reads the cache
    assert torch.allclose(again(x), expected, atol=1e-4)
    # The Python API takes the same path.
    photo = random_image(40, 30)
    api = np.asarray(fastnst.stylize(photo, johnson_ckpt), dtype=int)
    torch_fp32 = np.asarray(fastnst.stylize(photo, johnson_ckpt, precision="bf16"), dtype=int)
    assert np.abs(api - torch_fp32).mean() < 2  # bf16 rounding only


def test_a_retrained_net_gets_its_own_export(fp32_cpu, johnson_ckpt):
    load_stylizer(johnson_ckpt)
    ckpt = load_checkpoint(johnson_ckpt)
    ckpt.model.conv1.conv2d.bias.data += 0.1
    load_stylizer(ckpt)
    assert len(list(fp32_cpu.glob("onnx/*.onnx"))) == 2


def test_large_images_are_still_tiled_through_the_same_net_in_pytorch(fp32_cpu, johnson_ckpt):
    stylizer, _, _ = load_stylizer(johnson_ckpt)
    x = torch.rand(1, 3, 64, 96)
    tiled = stylize_tensor(stylizer, x, tile=32)
    expected = stylize_tensor(FastStylizer(load_checkpoint(johnson_ckpt).model, CPU, "fp32"), x, tile=32)
    assert torch.allclose(tiled, expected, atol=1e-5)


def test_an_unwritable_cache_costs_an_export_per_run_not_an_error(fp32_cpu, johnson_ckpt, monkeypatch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("FASTNST_CACHE", str(blocker / "cache"))
    stylizer, _, _ = load_stylizer(johnson_ckpt)
    assert isinstance(stylizer, OnnxStylizer)
    assert stylizer(torch.rand(1, 3, 16, 16)).shape == (1, 3, 16, 16)


def test_torch_compile_and_tile_options_keep_the_fast_path(fp32_cpu, johnson_ckpt, tmp_path, capsys):
    assert isinstance(load_stylizer(johnson_ckpt, backend="torch")[0], FastStylizer)
    assert isinstance(load_stylizer(johnson_ckpt, tile=64)[0], FastStylizer)
    photo = tmp_path / "photo.png"
    random_image(40, 30).save(photo)
    assert infer_main([str(photo), "--ckpt", str(johnson_ckpt), "-o", str(tmp_path / "out.png")]) == 0
    assert (tmp_path / "out.png").is_file() and list(fp32_cpu.glob("onnx/*.onnx"))


def test_videos_and_explicit_onnxruntime_read_the_same_cached_export(fp32_cpu, johnson_ckpt, tmp_path, monkeypatch):
    clip = make_clip(tmp_path / "clip.mp4", frames=4)
    assert infer_main([str(clip), "--ckpt", str(johnson_ckpt), "-o", str(tmp_path / "auto.mp4")]) == 0
    monkeypatch.setattr(export, "export_onnx", lambda *a, **k: pytest.fail("exported again"))
    assert infer_main([str(clip), "--ckpt", str(johnson_ckpt), "--backend", "onnxruntime",
                       "-o", str(tmp_path / "ort.mp4")]) == 0
    auto, ort = (list(read_frames(tmp_path / name)) for name in ("auto.mp4", "ort.mp4"))
    assert len(auto) == len(ort) == 4 and all(np.array_equal(a, b) for a, b in zip(auto, ort))


def test_onnxruntime_takes_a_checkpoint_loaded_in_memory(fp32_cpu, johnson_ckpt):
    ckpt = load_checkpoint(johnson_ckpt)
    ckpt.path = None  # e.g. built by fastnst.train() and never saved
    stylizer, name, _ = load_stylizer(ckpt, backend="onnxruntime")
    assert isinstance(stylizer, OnnxStylizer) and name == "tiles"
