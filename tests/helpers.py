"""Plain helpers the tests share: tiny images, clips and nets, running a command, paths into ../shared.
(Fixtures live in conftest.py; tests import these from here, never from one another.)"""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path
from typing import Callable, Sequence

import av
import numpy as np
import pytest
import torch
from PIL import Image

from fastnst.model import ModelConfig, TransformerNet


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))  # the benchmark scripts, importable as bench, bench_train
SHARED = ROOT.parent / "shared"
TRAIN_DIR = SHARED / "data" / "content" / "train"
VAL_DIR = SHARED / "data" / "content" / "val"
STYLE_DIR = SHARED / "data" / "style"
VGG19_WEIGHTS = SHARED / "weights" / "vgg19-imagenet-features.pth"

needs_shared = pytest.mark.skipif(not TRAIN_DIR.is_dir(), reason="../shared data not present")


def random_image(width: int, height: int, mode: str = "RGB", seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), "RGB").convert(mode)


def run_cli(main: Callable[[Sequence[str]], int], capsys, *argv) -> tuple[int, str, str]:
    """Run a command's main as a user would type it: (exit code, stdout, stderr)."""
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def contrasty_net(arch: str = "johnson", seed: int = 0) -> TransformerNet:
    """A random net that makes a picture: random affine norms (so nothing passes on the identity)
    and an output layer with a trained net's contrast (a freshly initialized one gives flat gray)."""
    torch.manual_seed(seed)
    model = TransformerNet(ModelConfig.for_arch(arch)).eval()
    for m in model.modules():
        if isinstance(m, torch.nn.InstanceNorm2d):
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
    model.deconv3.conv2d.weight.data *= 100
    model.deconv3.conv2d.bias.data.fill_(0.5 * model.config.value_scale)
    return model


THREE_STYLE_NAMES = ["mosaic", "candy", "udnie"]


def three_style_net(seed: int = 0) -> TransformerNet:
    """A net of three styles (THREE_STYLE_NAMES) whose norms differ clearly from style to style."""
    torch.manual_seed(seed)
    net = TransformerNet(ModelConfig(num_styles=3)).eval()
    with torch.no_grad():
        for norm in net.norms():
            norm.weight.normal_(1.0, 0.5)
            norm.bias.normal_(0.0, 0.5)
    return net


NTSC_FILM = Fraction(24000, 1001)  # "23.976"


def make_clip(path: Path, *, frames: int = 12, rate: Fraction = NTSC_FILM, size: tuple[int, int] = (48, 32),
              video_codec: str = "libx264", pix_fmt: str = "yuv420p", audio: str | None = "aac",
              rotation: int | None = None) -> Path:
    """A clip of a moving colour ramp, with a 440 Hz tone exactly as long as the video."""
    sample_rate, samples_done = 48000, 0
    ys, xs = np.mgrid[0:size[1], 0:size[0]]
    with av.open(str(path), "w") as out:
        video = out.add_stream(video_codec, rate=rate)
        video.width, video.height, video.pix_fmt = size[0], size[1], pix_fmt
        if rotation is not None:
            video.set_display_rotation(rotation)
        sound = out.add_stream(audio, rate=sample_rate, layout="stereo") if audio else None
        for i in range(frames):
            rgb = np.stack([(xs * 5 + i * 8) % 256, (ys * 7) % 256, np.full_like(xs, 128)], -1).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = i, 1 / rate
            out.mux(video.encode(frame))
            if sound is not None:
                end = round((i + 1) / rate * sample_rate)
                tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(samples_done, end) / sample_rate)).astype(np.float32)
                chunk = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp", layout="stereo")
                chunk.sample_rate, chunk.pts, samples_done = sample_rate, samples_done, end
                out.mux(sound.encode(chunk))
        out.mux(video.encode(None))
        if sound is not None:
            out.mux(sound.encode(None))
    return path


def one_line(err: str) -> str:
    """The one `error: ...` line a command printed for a bad input (and no traceback)."""
    lines = [line for line in err.replace("\r", "\n").splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert "Traceback" not in err
    return lines[0]


TWO_STYLES_LISTING = "this net has 2 styles: 0 candy, 1 mosaic"


def errors(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error:")]
