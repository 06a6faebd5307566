"""Export: ONNX (any H x W, run by onnxruntime) and TorchScript give the PyTorch net's output."""

import errno
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

import fastnst
import fastnst.checkpoint
from fastnst.checkpoint import atomic_save, build_checkpoint, load_checkpoint
from fastnst.cli import export_main, infer_main
from fastnst.cli.info import main as info_main
from fastnst.inference.export import export_onnx, export_torchscript
from fastnst.inference.onnx_runtime import OnnxStylizer, cached_onnx_path
from fastnst.model import ModelConfig, TransformerNet

from .helpers import TWO_STYLES_LISTING
from .helpers import contrasty_net as net
from .helpers import errors, one_line, random_image, run_cli


@pytest.fixture(scope="module")
def two_style_onnx(tmp_path_factory):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from fastnst.inference.export import export_onnx

    folder = tmp_path_factory.mktemp("onnx")
    net = TransformerNet(ModelConfig(**{**ModelConfig.for_arch("light").to_dict(), "num_styles": 2}))
    ckpt = atomic_save(build_checkpoint(net, styles=[("candy", None), ("mosaic", None)], train_args={}, loss={},
                                        step=0), folder / "two.pt")
    return export_onnx(ckpt, folder / "two.onnx")

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

# onnxruntime vs PyTorch, on [0, 1] pixels: float rounding only (measured ~1e-6).
TOLERANCE = 1e-4
SIZES = [(1, 67, 45), (2, 8, 9), (1, 64, 130)]  # odd, the smallest, wide: the padding is dynamic too


@pytest.fixture(scope="module")
def light_ckpt(tmp_path_factory):
    state = build_checkpoint(net("light", seed=5), styles=[("tiles", random_image(32, 32))],
                             train_args={}, loss={}, step=0)
    return atomic_save(state, tmp_path_factory.mktemp("ckpt") / "tiles.pt")


@pytest.fixture(scope="module")
def onnx_file(light_ckpt):
    """The net's one export, written where infer.py --backend onnxruntime looks for it (the test
    session's cache), so that running the checkpoint in onnxruntime does not export it again."""
    return export_onnx(light_ckpt, cached_onnx_path(load_checkpoint(light_ckpt)))


@pytest.mark.parametrize("n,h,w", SIZES)
def test_onnx_matches_pytorch_at_any_size(onnx_file, light_ckpt, n, h, w):
    model = load_checkpoint(light_ckpt).model
    x = torch.rand(n, 3, h, w)
    with torch.no_grad():
        expected = model(x)
    assert expected.std() > 0.1
    out = OnnxStylizer(onnx_file)(x)
    assert out.shape == x.shape and (out - expected).abs().max() < TOLERANCE


@pytest.mark.parametrize("h,w", [(7, 20), (1, 1), (2, 1001)])
def test_onnx_carries_the_style_name_and_stylizes_tiny_images_as_pytorch_does(onnx_file, light_ckpt, h, w):
    """Below the export's 8 pixels a side, the input is padded as TransformerNet.forward pads it."""
    stylizer = OnnxStylizer(onnx_file)
    assert stylizer.style_name == "tiles"
    x = torch.rand(1, 3, h, w)
    with torch.no_grad():
        expected = load_checkpoint(light_ckpt).model(x)
    out = stylizer(x)
    assert out.shape == x.shape and (out - expected).abs().max() < TOLERANCE


def test_torchscript_matches_pytorch_without_fastnst_code(tmp_path, ckpt_file):
    path = export_torchscript(ckpt_file, tmp_path / "tiles.ts")
    model = load_checkpoint(ckpt_file).model
    extra = {"style_name": ""}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scripted = torch.jit.load(str(path), _extra_files=extra)
    assert extra["style_name"] == b"tiles"
    for n, h, w in SIZES:
        x = torch.rand(n, 3, h, w)
        with torch.no_grad():
            assert (scripted(x) - model(x)).abs().max() < 1e-5


def test_export_cli_checks_each_export(tmp_path, light_ckpt, capsys):
    code = export_main([str(light_ckpt), "--torchscript", str(tmp_path / "a.ts")])
    out = capsys.readouterr().out
    assert code == 0 and "max abs difference" in out and (tmp_path / "a.ts").is_file()
    assert not list(tmp_path.glob(".*.tmp"))  # written under a temporary name, then renamed


def test_export_cli_errors(tmp_path, capsys):
    for argv in ([str(tmp_path / "none.pt"), "--onnx", str(tmp_path / "x.onnx")], [str(tmp_path / "none.pt")]):
        assert export_main(argv) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and err.startswith("error:")
    assert not (tmp_path / "x.onnx").exists()


def test_infer_with_onnxruntime_gives_the_torch_fp32_picture(tmp_path, onnx_file, light_ckpt, capsys):
    photo = tmp_path / "photo.png"
    random_image(45, 37).save(photo)
    assert infer_main([str(photo), "--ckpt", str(onnx_file), "--backend", "onnxruntime",
                       "-o", str(tmp_path / "ort.png")]) == 0
    assert infer_main([str(photo), "--ckpt", str(light_ckpt), "--precision", "fp32",
                       "-o", str(tmp_path / "torch.png")]) == 0
    ort, ref = (np.asarray(Image.open(tmp_path / f"{n}.png"), dtype=int) for n in ("ort", "torch"))
    assert ort.shape == (37, 45, 3) and np.abs(ort - ref).max() <= 1
    assert infer_main([str(photo), "--ckpt", str(onnx_file), "--backend", "onnxruntime", "--tile", "64"]) == 2
    assert "--backend torch" in capsys.readouterr().err


def test_infer_with_onnxruntime_runs_a_checkpoint_through_its_cached_export(tmp_path, light_ckpt, onnx_file):
    photo = tmp_path / "photo.png"
    random_image(30, 20).save(photo)
    assert infer_main([str(photo), "--ckpt", str(light_ckpt), "--backend", "onnxruntime"]) == 0
    assert Image.open(tmp_path / "photo_tiles.png").size == (30, 20)
    assert not list(tmp_path.glob("*.onnx"))  # the export lives in the cache, not beside the photo


def test_an_exported_net_of_two_styles_refuses_a_bad_style_name_in_one_line(capsys, tmp_path, two_styles, photo):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    onnx = tmp_path / "two.onnx"
    assert run_cli(export_main, capsys, two_styles, "--onnx", onnx)[0] == 0
    twice = "--style: style candy is given twice in the blend (as candy and candy)"
    for style, message in [("nosuch", f"unknown style 'nosuch': {TWO_STYLES_LISTING}"), ("candy=1,candy=1", twice)]:
        code, _, err = run_cli(infer_main, capsys, photo, "--ckpt", onnx, "--style", style, "-o", tmp_path / "out")
        assert (code, errors(err)) == (2, [f"error: {message}"])
    code, _, err = run_cli(infer_main, capsys, photo, "--ckpt", onnx, "--style", "mosaic", "-o", tmp_path / "out")
    assert (code, errors(err)) == (0, [])
    assert sorted(p.name for p in (tmp_path / "out").glob("*")) == ["photo_mosaic.jpg"]


@pytest.mark.slow  # seconds of export or training; the default set covers the same path faster
@pytest.mark.parametrize("kind", ["--onnx", "--torchscript"])
def test_disk_full_while_exporting_says_so_and_leaves_no_file(tmp_path, ckpt_file, capsys, monkeypatch, kind):
    if kind == "--onnx":
        onnx = pytest.importorskip("onnx")
        pytest.importorskip("onnxscript")

        def full(proto, f, *args, **kwargs):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(onnx, "save", full)
    else:
        monkeypatch.setattr(type(tmp_path), "write_bytes", lambda self, data: (_ for _ in ()).throw(
            OSError(errno.ENOSPC, "No space left on device")))
    target = tmp_path / "exports" / "net.out"
    code, _, err = run_cli(export_main, capsys, ckpt_file, kind, target)
    line = one_line(err)
    assert code == 1 and "no space left on device" in line and str(target) in line
    assert not list(target.parent.iterdir())


def test_info_and_list_styles_describe_an_exported_onnx_file(two_style_onnx, capsys):
    code, out, err = run_cli(info_main, capsys, two_style_onnx)
    assert code == 0 and not err
    assert out.splitlines()[:3] == [f"{two_style_onnx}: ONNX model (run with infer.py --ckpt {two_style_onnx}), "
                                    f"2 styles", "  0  candy", "  1  mosaic"]
    assert "network: light" in out
    code, out, err = run_cli(infer_main, capsys, "--list-styles", "--ckpt", two_style_onnx)
    assert code == 0 and not err
    assert out.splitlines() == [f"{two_style_onnx}: 2 styles", "  0  candy", "  1  mosaic"]


def test_an_onnx_file_with_backend_torch_is_refused_in_one_line(two_style_onnx, tmp_path, capsys):
    photo = tmp_path / "photo.png"
    random_image(16, 16).save(photo)
    code, _, err = run_cli(infer_main, capsys, photo, "--ckpt", two_style_onnx, "--backend", "torch")
    assert code == 2
    assert one_line(err) == f"error: {two_style_onnx}: an .onnx file runs with --backend onnxruntime (or auto)"
    assert list(tmp_path.iterdir()) == [photo]


def test_an_export_or_an_optimization_that_cannot_be_written_is_one_line_before_the_work(tmp_path, ckpt_file,
                                                                                         style_file, capsys):
    from fastnst.cli import optimize_main

    (tmp_path / "a-file").write_text("x")
    target = tmp_path / "a-file" / "net.ts"
    code, out, err = run_cli(export_main, capsys, ckpt_file, "--torchscript", target)
    assert code == 2 and out == "" and one_line(err) == (f"error: --torchscript {target}: cannot write it: "
                                                         f"{tmp_path / 'a-file'} is a file, not a folder")
    code, out, err = run_cli(export_main, capsys, ckpt_file, "--onnx", ckpt_file)
    assert code == 2 and one_line(err) == (f"error: --onnx {ckpt_file} would overwrite the input {ckpt_file}; "
                                           f"choose another --onnx")
    photo = tmp_path / "photo.png"
    random_image(24, 20).save(photo)
    code, out, err = run_cli(optimize_main, capsys, photo, "--style", style_file, "-o", "/proc/fastnst/out.png",
                             "--steps", 1, "--loss-weights", "random")
    assert code == 2 and one_line(err) == "error: cannot write /proc/fastnst/out.png: No such file or directory"


def test_an_export_refuses_to_replace_the_checkpoint_it_comes_from(tmp_path, ckpt_file):
    from fastnst.inference.export import export_torchscript

    before = ckpt_file.read_bytes()
    with pytest.raises(fastnst.FastNSTError, match="would overwrite the input"):
        export_torchscript(ckpt_file, ckpt_file)
    assert ckpt_file.read_bytes() == before
