"""The inference fast path computes what the plain net computes, only faster (speed: benchmarks/bench.py)."""

import numpy as np
import pytest
import torch
from torch import nn

import fastnst
from fastnst.errors import FastNSTError
from fastnst.device import cpu_bf16_class, resolve_precision
from fastnst.inference.fastpath import BlockConv, FastStylizer, InstanceNorm
from fastnst.inference.tiling import WholeImageNorm
from fastnst.video.frames import FrameStylizer
from fastnst.inference import StylizeOptions, Stylizer

from .helpers import contrasty_net, random_image

CPU = torch.device("cpu")


net = contrasty_net


def test_precision_auto_is_bf16_only_where_the_cpu_computes_it_natively_and_fp16_is_for_gpus():
    assert resolve_precision("auto", CPU) == (torch.bfloat16 if cpu_bf16_class() else torch.float32)
    assert resolve_precision("auto", CPU, training=True) == resolve_precision("auto", CPU)
    assert resolve_precision("fp32", CPU) == torch.float32
    assert resolve_precision("bf16", CPU) == torch.bfloat16
    with pytest.raises(FastNSTError, match="fp16 is for GPUs"):
        resolve_precision("fp16", CPU)
    with pytest.raises(FastNSTError, match="choose one of"):
        resolve_precision("int8", CPU)


@pytest.mark.parametrize("arch", ["johnson", "light"])
def test_fp32_fast_path_matches_the_plain_net(arch):
    model = net(arch)
    x = torch.rand(2, 3, 45, 62)
    with torch.no_grad():
        expected = model(x)
    out = FastStylizer(model, "cpu", "fp32")(x)
    assert out.dtype == torch.float32 and out.shape == x.shape
    assert (out - expected).abs().max() < 1e-4


@pytest.mark.parametrize("kernel", [5, 9])
def test_the_last_layer_on_blocks_of_pixels_computes_the_same_convolution(kernel):
    conv = nn.Conv2d(16, 3, kernel, padding=kernel // 2, padding_mode="reflect")
    x = torch.randn(2, 16, 36, 20)  # sides a multiple of 4, as the net pads them
    assert BlockConv.fits(conv)
    with torch.no_grad():
        assert torch.allclose(BlockConv(conv)(x), conv(x), atol=1e-5)
    assert not BlockConv.fits(nn.Conv2d(16, 32, 9, padding=4, padding_mode="reflect"))  # enough outputs already
    assert not BlockConv.fits(nn.Conv2d(16, 3, 9, padding=4))  # zero padding: not this layer


def test_bf16_fast_path_is_within_bf16_rounding_of_fp32():
    model = net()
    x = torch.rand(1, 3, 64, 48)
    with torch.no_grad():
        expected = model(x).clamp(0, 1)
    out = FastStylizer(model, "cpu", "bf16")(x).clamp(0, 1)
    assert expected.std() > 0.1  # a picture, not flat gray
    # bf16 keeps 8 bits of mantissa: about one 1/255 step on average, a few at worst.
    assert (out - expected).abs().mean() < 2 / 255
    assert (out - expected).abs().max() < 16 / 255


def test_the_given_model_is_left_as_it_was():
    model = net()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fast = FastStylizer(model, "cpu", "bf16")
    assert fast.precision == "bf16" and fast.device == CPU
    assert sum(isinstance(m, InstanceNorm) for m in fast.modules()) == 15
    assert not any(isinstance(m, nn.InstanceNorm2d) for m in fast.modules())
    assert sum(isinstance(m, nn.InstanceNorm2d) for m in model.modules()) == 15
    assert all(v.dtype == torch.float32 and torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_instance_norm_records_statistics_and_reuses_them_exactly():
    norm = nn.InstanceNorm2d(4, affine=True)
    norm.weight.data.uniform_(0.5, 1.5)
    fast = WholeImageNorm(norm)
    x = torch.randn(2, 4, 9, 7) * 3 + 1
    with torch.no_grad():
        expected = norm(x)
        assert torch.allclose(fast(x), expected, atol=1e-5)
        fast.record = True
        assert torch.allclose(fast(x), expected, atol=1e-5)
        fast.record = False
        assert fast.stats[0].shape == (2, 4)
        # With stored statistics a crop is normalized as part of the whole, not on its own.
        assert torch.allclose(fast(x[..., :4, :3]), expected[..., :4, :3], atol=1e-5)


def test_stylize_and_stylize_tensor_take_the_fast_path(tmp_path, ckpt_file):
    ckpt = fastnst.load_checkpoint(ckpt_file)
    fast = FastStylizer(ckpt.model, "cpu", "fp32")
    photo = random_image(40, 30)
    plain = np.asarray(fastnst.stylize(photo, ckpt), dtype=int)
    quick = np.asarray(fastnst.stylize(photo, fast), dtype=int)
    assert np.abs(plain - quick).max() <= 1
    x = torch.rand(1, 3, 20, 24)
    assert Stylizer(fast, CPU).stylize_tensor(x, StylizeOptions(strength=0.0)).equal(x)


def test_frame_stylizer_takes_and_gives_uint8_frames():
    model = net("light")
    frames = np.random.default_rng(0).integers(0, 256, (3, 36, 52, 3), dtype=np.uint8)
    stylizer = FrameStylizer(FastStylizer(model, "cpu", "fp32"), CPU, preserve_color=True, strength=0.8)
    out = stylizer(frames)
    assert out.shape == frames.shape and out.dtype == np.uint8
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255
    expected = Stylizer(model, CPU).stylize_tensor(x, StylizeOptions(preserve_color=True, strength=0.8))
    expected = (expected * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    assert np.abs(out.astype(int) - expected).max() <= 1
    with pytest.raises(FastNSTError, match="uint8"):
        stylizer(frames.astype(np.float32))


@pytest.mark.slow
def test_compiled_fast_path_matches():
    model = net("light")
    x = torch.rand(1, 3, 32, 32)
    fast = FastStylizer(model, "cpu", "fp32", compile=True)
    with torch.no_grad():
        assert (fast(x) - model(x)).abs().max() < 1e-3


def test_infer_precision_flag(tmp_path, ckpt_file, capsys):
    from fastnst.cli import infer_main

    photo = tmp_path / "photo.png"
    random_image(30, 22).save(photo)
    for precision in ("fp32", "auto"):
        assert infer_main([str(photo), "--ckpt", str(ckpt_file), "--precision", precision,
                           "-o", str(tmp_path / f"{precision}.png")]) == 0
    assert infer_main([str(photo), "--ckpt", str(ckpt_file), "--precision", "fp16"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "error: --precision fp16 is for GPUs; on a CPU use bf16 or fp32"
