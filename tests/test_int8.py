"""int8 on the CPU: the net quantized for onnxruntime, calibrated on the photos it is about to stylize."""

from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image

import fastnst
from fastnst.checkpoint import Checkpoint, atomic_save, build_checkpoint, load_checkpoint
from fastnst.cli import infer_main
from fastnst.images import to_tensor
from fastnst.video.reader import read_frames

from .helpers import contrasty_net, errors, one_line, random_image, run_cli

ODD_IMAGES = {"tiny": ((1, 1), "RGB"), "wide": ((1000, 2), "RGB"), "tall": ((2, 1000), "RGB"),
              "gray": ((20, 16), "L"), "transparent": ((20, 16), "RGBA")}


def clip_opening_on_black(path, black: int = 3, frames: int = 16, size=(64, 48)):
    """A clip whose first `black` frames are black, then smooth moving colour fields (a film
    opening on black, like Megamind.avi)."""
    field = np.asarray(random_image(size[0] // 8 + 4, size[1] // 8, seed=3).resize((size[0] + 32, size[1]), 3))
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=24)
        video.width, video.height, video.pix_fmt = size[0], size[1], "yuv420p"
        for i in range(frames):
            rgb = np.zeros((size[1], size[0], 3), np.uint8) if i < black else field[:, 2 * i:2 * i + size[0]].copy()
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
    return path


def psnr_uint8(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(float) - b.astype(float)) ** 2)
    return float(10 * np.log10(255.0 ** 2 / max(mse, 1e-10)))


@pytest.fixture
def bold_net(tmp_path):
    return atomic_save(build_checkpoint(contrasty_net(), styles=[("bold", None)], train_args={}, loss={}, step=0),
                       tmp_path / "bold.pt")

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")


def smooth_photo(seed: int, width: int = 64, height: int = 48):
    """A photo-like picture: smooth colour fields, not noise (int8's activation ranges fit those)."""
    noise = random_image(width // 8, height // 8, seed=seed)
    return noise.resize((width, height), resample=3)


@pytest.fixture
def net_file(tmp_path):
    return atomic_save(build_checkpoint(contrasty_net(), styles=[("bold", None)], train_args={}, loss={}, step=0),
                       tmp_path / "bold.pt")


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(10 * torch.log10(1 / (a - b).pow(2).mean()))


def test_int8_output_stays_close_to_fp32(net_file):
    from fastnst.inference.int8 import quantize

    checkpoint = load_checkpoint(net_file)
    photos = [smooth_photo(seed) for seed in range(4)]
    int8 = quantize(checkpoint, photos)
    x = to_tensor(smooth_photo(9))
    with torch.no_grad():
        exact = checkpoint.model(x).clamp(0, 1)
    out = int8(x).clamp(0, 1)
    assert out.shape == exact.shape and 25 < psnr(out, exact) < 200  # close, and not fp32 in disguise


@pytest.mark.parametrize("vnni", [True, False])
def test_weights_keep_to_7_bits_where_the_cpus_int8_kernels_would_overflow(tmp_path, net_file, monkeypatch, vnni):
    import onnx
    from onnx.numpy_helper import to_array

    from fastnst.inference.int8 import quantize

    monkeypatch.setattr(torch.cpu, "_is_vnni_supported", lambda: vnni, raising=False)
    quantize(load_checkpoint(net_file), [smooth_photo(0)], path=tmp_path / "int8.onnx")
    graph = onnx.load(tmp_path / "int8.onnx").graph
    weights = [to_array(t) for t in graph.initializer if t.data_type == onnx.TensorProto.INT8]
    largest = max(int(np.abs(w.astype(int)).max()) for w in weights)
    assert largest > 64 if vnni else largest <= 64  # without VNNI: 7 bits, which pairs of products cannot overflow


@pytest.mark.slow  # a benchmark run end to end (16 s); CI runs it
def test_the_int8_benchmark_reports_quality_and_speed(tmp_path, net_file, capsys):
    import int8 as bench_int8  # benchmarks/int8.py

    for folder in ("val", "train"):
        (tmp_path / folder).mkdir()
        smooth_photo(len(folder)).save(tmp_path / folder / "p.png")
    assert bench_int8.main(["--ckpt", str(net_file), "--photos", str(tmp_path / "val"), "--calibrate",
                            str(tmp_path / "train"), "--size", "32", "--sizes", "32", "--repeats", "1",
                            "--json", str(tmp_path / "r.json")]) == 0
    report = __import__("json").loads((tmp_path / "r.json").read_text())
    assert 20 < report["quality"][0]["psnr"] < 200
    assert {"eager fp32", "fast fp32", "onnxruntime fp32", "onnxruntime int8"} <= set(report["speed"]["32"])


def test_int8_reads_the_cached_export_and_exports_a_damaged_one_again(net_file, monkeypatch):
    from fastnst.inference import int8 as int8_module
    from fastnst.inference import onnx_runtime
    from fastnst.inference.onnx_runtime import cached_onnx_path

    checkpoint = load_checkpoint(net_file)
    photos, x = [smooth_photo(0)], to_tensor(smooth_photo(9))
    first = int8_module.quantize(checkpoint, photos)(x)  # the cache holds the export now (or did already)
    cached = cached_onnx_path(checkpoint)
    good = cached.read_bytes()
    exports = []

    def export_again(checkpoint, path):  # what export_onnx writes, without the seconds it takes
        exports.append(path)
        Path(path).write_bytes(good)
        return Path(path)

    monkeypatch.setattr(int8_module, "export_onnx", export_again)
    monkeypatch.setattr(onnx_runtime, "export_onnx", export_again)
    assert torch.equal(int8_module.quantize(checkpoint, photos)(x), first) and exports == []  # read, not exported
    cached.write_bytes(b"cut short")  # e.g. a full disk while it was written
    assert torch.equal(int8_module.quantize(checkpoint, photos)(x), first)
    assert exports == [cached] and cached.read_bytes() == good  # exported again into the cache


def test_infer_precision_int8_calibrates_on_its_inputs(tmp_path, net_file, capsys):
    for i in range(2):
        smooth_photo(i).save(tmp_path / f"p{i}.png")
    code, _, err = run_cli(infer_main, capsys, tmp_path / "p0.png", tmp_path / "p1.png", "--ckpt", net_file,
                           "--precision", "int8", "-o", tmp_path / "out")
    assert code == 0, err
    got = np.asarray(fastnst.stylize(tmp_path / "p0.png", net_file, precision="fp32"), dtype=float)
    int8 = np.asarray(__import__("PIL.Image").Image.open(tmp_path / "out" / "p0_bold.png"), dtype=float)
    assert int8.shape == got.shape and np.abs(int8 - got).mean() < 8  # levels of 255


@pytest.mark.slow  # seconds of export or training; the default set covers the same path faster
def test_int8_blends_the_styles_of_a_net_of_several(tmp_path):
    from fastnst.inference import parse_style
    from fastnst.inference.int8 import quantize

    from .helpers import THREE_STYLE_NAMES as NAMES
    from .helpers import three_style_net

    net = three_style_net()
    checkpoint = Checkpoint(model=net, style_name="+".join(NAMES), style_names=NAMES)
    int8 = quantize(checkpoint, [smooth_photo(s) for s in range(3)])
    x, mix = to_tensor(smooth_photo(7)), parse_style("candy=0.5,udnie=0.5", NAMES)[0].mix
    with torch.no_grad():
        exact = net(x, mix).clamp(0, 1)
    assert psnr(int8.with_style(mix)(x).clamp(0, 1), exact) > 20
    assert int8.style_names == NAMES


def test_the_webcam_and_other_devices_refuse_int8_in_one_line(tmp_path, net_file, capsys):
    code, _, err = run_cli(infer_main, capsys, "--webcam", tmp_path / "none.mp4", "--ckpt", net_file,
                           "--precision", "int8", "--no-window")
    assert code == 2 and "--precision int8 is for images and videos" in err
    smooth_photo(0).save(tmp_path / "p.png")
    code, _, err = run_cli(infer_main, capsys, tmp_path / "p.png", "--ckpt", net_file, "--precision", "int8",
                           "--tile", "64")
    assert code == 2 and "--precision int8 runs whole images on the CPU" in err


@pytest.mark.parametrize("backend", [[], ["--backend", "onnxruntime"]])
def test_int8_for_an_onnx_model_is_refused_in_one_line(tmp_path, ckpt_file, capsys, backend):
    photo = tmp_path / "photo.png"
    random_image(16, 16).save(photo)
    onnx_file = tmp_path / "net.onnx"
    onnx_file.write_bytes(b"exported elsewhere")
    for ckpt in (onnx_file, ckpt_file) if backend else (onnx_file,):
        code, _, err = run_cli(infer_main, capsys, photo, "--ckpt", ckpt, "--precision", "int8", *backend)
        assert code == 2 and "--precision int8 runs whole images on the CPU" in one_line(err)


@pytest.mark.slow  # seconds of export or training; the default set covers the same path faster
def test_int8_stylizes_a_tiny_an_extreme_a_gray_or_a_transparent_image(capsys, tmp_path, two_styles):
    pytest.importorskip("onnxruntime")
    folder = tmp_path / "odd"
    folder.mkdir()
    for name, (size, mode) in ODD_IMAGES.items():  # calibrated on these very images, stylized each
        random_image(*size, mode=mode).save(folder / f"{name}.png")
    code, _, err = run_cli(infer_main, capsys, folder, "--ckpt", two_styles, "--precision", "int8",
                           "--device", "cpu", "-o", tmp_path / "out")
    assert (code, errors(err)) == (0, [])
    for name, (size, mode) in ODD_IMAGES.items():
        with Image.open(tmp_path / "out" / f"{name}_candy.png") as result:
            assert result.size == size and result.mode == ("RGBA" if mode == "RGBA" else "RGB"), name


def test_int8_on_a_folder_with_one_unreadable_file_stylizes_the_others(capsys, tmp_path, two_styles):
    pytest.importorskip("onnxruntime")
    folder = tmp_path / "photos"
    folder.mkdir()
    random_image(20, 16).save(folder / "a.jpg")
    random_image(24, 16, seed=3).save(folder / "b.png")
    (folder / "broken.jpg").write_text("not a picture")
    out = tmp_path / "out"
    code, _, err = run_cli(infer_main, capsys, folder, "--ckpt", two_styles, "--precision", "int8",
                           "--device", "cpu", "-o", out)
    assert code == 1
    assert errors(err) == [f"error: {folder / 'broken.jpg'}: not an image file (or a format Pillow cannot read)"]
    assert sorted(p.name for p in out.glob("*")) == ["a_candy.jpg", "b_candy.png"]


@pytest.mark.parametrize("way", ["infer.py", pytest.param("stylize_video", marks=pytest.mark.slow)])
def test_int8_on_a_video_calibrates_on_frames_spread_through_it_not_its_black_first_frame(tmp_path, net_file,
                                                                                          capsys, way):
    pytest.importorskip("onnxruntime")
    clip = clip_opening_on_black(tmp_path / "film.mp4")
    exact = fastnst.stylize_video(clip, tmp_path / "fp32.mp4", net_file, precision="fp32", progress=False)
    if way == "infer.py":
        code, _, err = run_cli(infer_main, capsys, clip, "--ckpt", net_file, "--precision", "int8",
                               "-o", tmp_path / "int8.mp4")
        assert code == 0, err
    else:
        fastnst.stylize_video(clip, tmp_path / "int8.mp4", net_file, precision="int8", progress=False)
    want, got = list(read_frames(exact)), list(read_frames(tmp_path / "int8.mp4"))
    assert len(got) == len(want) == 16
    assert min(psnr_uint8(a, b) for a, b in zip(got[3:], want[3:])) > 20  # calibrated on black: about 6 dB
