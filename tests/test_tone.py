"""The look after transfer: --match-tone brings the output's brightness and contrast back to the photo's,
composes with preserve_color and strength, and on video changes slowly from frame to frame."""

import numpy as np
import pytest
import torch
from PIL import Image

import fastnst
from fastnst.checkpoint import atomic_save, build_checkpoint
from fastnst.cli import infer_main
from fastnst.inference import StylizeOptions, Stylizer
from fastnst.inference.tone import luminance, tone_stats
from fastnst.video.frames import FrameStylizer

from .helpers import contrasty_net, errors, make_clip, run_cli

CPU = torch.device("cpu")


def dim_photo(seed: int = 0, brightness: float = 0.3) -> torch.Tensor:
    """A dim, fairly contrasty 1 x 3 x 24 x 32 picture with some colour."""
    g = torch.Generator().manual_seed(seed)
    ramp = torch.linspace(0, 1, 32).expand(24, 32)
    base = brightness + 0.4 * (ramp - 0.5) + 0.05 * torch.randn(24, 32, generator=g)
    return torch.stack([base + 0.05, base, base - 0.05]).clamp(0, 1)[None]


def washed_out(x: torch.Tensor) -> torch.Tensor:
    """A stand-in style net: bright and flat whatever the photo's light, tinted, with its own texture."""
    texture = 0.05 * torch.sin(torch.arange(x.shape[-1], dtype=x.dtype) * 1.7)
    y = 0.75 + 0.3 * (x - x.mean(dim=(1, 2, 3), keepdim=True)) + texture
    return torch.cat([y[:, :1] + 0.1, y[:, 1:2], y[:, 2:] - 0.1], 1)


def mean_std(images: torch.Tensor) -> tuple[float, float]:
    return tuple(tone_stats(images)[0].tolist())


def same_chroma(a: torch.Tensor, b: torch.Tensor, atol: float) -> bool:
    """Whether a and b have the same colours (YCbCr chroma) where neither is clipped at 0 or 1."""
    def chroma(rgb):
        y = luminance(rgb)
        return torch.stack([(rgb[:, 2] - y) * 0.564, (rgb[:, 0] - y) * 0.713], 1)

    inside = ((a > 0) & (a < 1) & (b > 0) & (b < 1)).all(1, keepdim=True).expand(-1, 2, -1, -1)
    assert inside.float().mean() > 0.8
    return torch.allclose(chroma(a)[inside], chroma(b)[inside], atol=atol)


def test_match_tone_brings_the_luminance_mean_and_spread_back_to_the_photos():
    photo = dim_photo()
    plain = Stylizer(washed_out, CPU).stylize_tensor(photo, StylizeOptions())
    matched = Stylizer(washed_out, CPU).stylize_tensor(photo, StylizeOptions(match_tone=True))
    (photo_mean, photo_std), (plain_mean, plain_std), (mean, std) = map(mean_std, (photo, plain, matched))
    assert abs(plain_mean - photo_mean) > 0.3 and plain_std < 0.6 * photo_std  # the style's light
    assert abs(mean - photo_mean) < 0.01 and abs(std - photo_std) < 0.01      # the photo's light
    # only lighter or darker: the style's colours (chroma) are kept
    assert same_chroma(matched, plain, atol=1e-5)


def test_match_tone_composes_with_preserve_color_and_strength():
    photo = dim_photo()
    both = Stylizer(washed_out, CPU).stylize_tensor(photo, StylizeOptions(match_tone=True, preserve_color=True))
    assert same_chroma(both, photo, atol=1e-4)  # the photo's colours
    assert np.allclose(mean_std(both), mean_std(photo), atol=0.01)            # and its light
    matched = Stylizer(washed_out, CPU).stylize_tensor(photo, StylizeOptions(match_tone=True))
    half = Stylizer(washed_out, CPU).stylize_tensor(photo, StylizeOptions(match_tone=True, strength=0.5))
    inside = (matched > 0) & (matched < 1)  # (where matched is not clipped)
    assert torch.allclose(half[inside], (0.5 * matched + 0.5 * photo)[inside], atol=1e-6)


def test_match_tone_on_a_real_net_through_the_image_api():
    photo = Image.fromarray((dim_photo()[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8))
    net = contrasty_net()
    photo_stats = mean_std(torch.from_numpy(np.array(photo)).permute(2, 0, 1)[None] / 255)

    def distance(image: Image.Image) -> float:
        stats = mean_std(torch.from_numpy(np.array(image)).permute(2, 0, 1)[None] / 255)
        return abs(stats[0] - photo_stats[0]) + abs(stats[1] - photo_stats[1])

    assert distance(fastnst.stylize(photo, net, match_tone=True)) < 0.5 * distance(fastnst.stylize(photo, net))


def test_on_a_clip_the_adjustment_changes_little_from_frame_to_frame():
    # A dim scene, then a cut to a bright one: matching each frame on its own jumps at the cut.
    frames = [dim_photo(seed=i, brightness=0.25 if i < 12 else 0.65) for i in range(36)]
    clip = (torch.cat(frames).permute(0, 2, 3, 1) * 255).round().to(torch.uint8)
    stream = FrameStylizer(washed_out, CPU, match_tone=True)
    smoothed = np.concatenate([stream(clip[i:i + 4]) for i in range(0, len(clip), 4)])  # batches of 4, in order
    alone = np.concatenate([FrameStylizer(washed_out, CPU, match_tone=True)(clip[i:i + 1]) for i in range(len(clip))])
    plain = FrameStylizer(washed_out, CPU)(clip)

    def adjustment(out: np.ndarray) -> np.ndarray:  # how far each frame's brightness was moved
        return (out.astype(np.float32) - plain.astype(np.float32)).mean(axis=(1, 2, 3)) / 255

    steps_alone, steps_smoothed = np.abs(np.diff(adjustment(alone))), np.abs(np.diff(adjustment(smoothed)))
    assert steps_alone.max() > 0.3                      # per frame: a jump at the cut
    assert steps_smoothed.max() < 0.15 * steps_alone.max()
    assert steps_smoothed[:10].max() < 0.005            # and steady within a scene
    # it still gets there: 24 frames after the cut, within a tenth of the jump of where matching alone is
    assert abs(adjustment(smoothed)[-1] - adjustment(alone)[-1]) < 0.1 * steps_alone.max()
    # reset() starts a new stream: its first frame is matched on its own
    stream.reset()
    assert np.array_equal(stream(clip[:1]), alone[:1])


def test_match_tone_option_for_images_and_videos(tmp_path, capsys):
    ckpt = atomic_save(build_checkpoint(contrasty_net(), styles=[("bold", None)], train_args={}, loss={},
                                        step=0), tmp_path / "bold.pt")
    photo = tmp_path / "photo.png"
    Image.fromarray((dim_photo()[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)).save(photo)
    clip = make_clip(tmp_path / "clip.mp4", frames=6, audio=None)
    code, out, err = run_cli(infer_main, capsys, photo, clip, "--ckpt", ckpt, "--match-tone", "-o", tmp_path / "out")
    assert code == 0, err
    assert (tmp_path / "out" / "photo_bold.png").is_file() and (tmp_path / "out" / "clip_bold.mp4").is_file()


@pytest.mark.parametrize("value", [0, 255])
def test_match_tone_on_an_all_black_or_all_white_image_keeps_it_so(capsys, tmp_path, two_styles, value):
    source = tmp_path / "flat.png"
    Image.new("RGB", (20, 16), (value,) * 3).save(source)
    code, _, err = run_cli(infer_main, capsys, source, "--ckpt", two_styles, "--match-tone", "-o", tmp_path / "out")
    assert (code, errors(err)) == (0, [])
    with Image.open(tmp_path / "out" / "flat_candy.png") as result:
        assert abs(np.asarray(result, dtype=float).mean() - value) < 20  # no NaN (black), no blow-up
