"""Options that used to finish with exit 0 and a wrong result: int8 calibrated on a clip's black
first frame, style weights that overflow float32, and training runs that silently dropped or
mixed up what they were given (--resume with another style list, --init with --arch or --resume)."""

from __future__ import annotations

import av
import numpy as np
import pytest
import torch

import fastnst
from fastnst.checkpoint import atomic_save, build_checkpoint
from fastnst.cli import infer_main
from fastnst.errors import FastNSTError
from fastnst.inference import parse_style
from fastnst.video.reader import read_frames

from .conftest import contrasty_net, random_image, run_cli

NAMES = ["mosaic", "candy", "udnie"]


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


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(float) - b.astype(float)) ** 2)
    return float(10 * np.log10(255.0 ** 2 / max(mse, 1e-10)))


@pytest.fixture
def bold_net(tmp_path):
    return atomic_save(build_checkpoint(contrasty_net(), styles=[("bold", None)], train_args={}, loss={}, step=0),
                       tmp_path / "bold.pt")


@pytest.mark.parametrize("way", ["infer.py", "stylize_video"])
def test_int8_on_a_video_calibrates_on_frames_spread_through_it_not_its_black_first_frame(tmp_path, bold_net,
                                                                                          capsys, way):
    pytest.importorskip("onnxruntime")
    clip = clip_opening_on_black(tmp_path / "film.mp4")
    exact = fastnst.stylize_video(clip, tmp_path / "fp32.mp4", bold_net, precision="fp32", progress=False)
    if way == "infer.py":
        code, _, err = run_cli(infer_main, capsys, clip, "--ckpt", bold_net, "--precision", "int8",
                               "-o", tmp_path / "int8.mp4")
        assert code == 0, err
    else:
        fastnst.stylize_video(clip, tmp_path / "int8.mp4", bold_net, precision="int8", progress=False)
    want, got = list(read_frames(exact)), list(read_frames(tmp_path / "int8.mp4"))
    assert len(got) == len(want) == 16
    assert min(psnr(a, b) for a, b in zip(got[3:], want[3:])) > 20  # calibrated on black: about 6 dB


@pytest.mark.parametrize("spec", ["mosaic=1e39", "mosaic=3e38,candy=3e38", {"mosaic": 1e39, "candy": 1e39}])
def test_huge_style_weights_blend_like_their_ratios_instead_of_overflowing_to_a_black_picture(spec):
    mix = parse_style(spec, NAMES)[0].mix
    assert torch.isfinite(mix).all() and abs(float(mix.sum()) - 1) < 1e-6
    assert mix[0] == (1.0 if spec == "mosaic=1e39" else 0.5)


def test_style_weights_whose_sum_no_number_holds_are_refused_in_one_line(tmp_path, capsys):
    with pytest.raises(FastNSTError, match="style weights too large"):
        parse_style("mosaic=1e308,candy=1e308", NAMES)
    net = atomic_save(build_checkpoint(_three_style_net(), styles=[(n, None) for n in NAMES], train_args={}, loss={},
                                       step=0), tmp_path / "three.pt")
    random_image(32, 24).save(tmp_path / "photo.jpg")
    code, _, err = run_cli(infer_main, capsys, tmp_path / "photo.jpg", "--ckpt", net, "--style",
                           "mosaic=1e308,candy=1e308")
    assert code == 2 and err.count("\n") == 1 and "style weights too large" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.jpg", "three.pt"]


def _three_style_net():
    from fastnst.model import ModelConfig, TransformerNet

    torch.manual_seed(0)
    return TransformerNet(ModelConfig(num_styles=3)).eval()
