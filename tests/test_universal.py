"""Universal style transfer: any painting, no training per style (Li et al. 2017). Mechanics on a
random-weight model; the bundled model's quality is measured by scripts/any_painting.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import fastnst
from fastnst.cli import flicker_main, info_main, infer_main, train_decoders_main
from fastnst.errors import FastNSTError
from fastnst.inference.universal import parse_paintings
from fastnst.universal.painting import open_painting, painting_at, style_size
from fastnst.universal import Decoder, MovingContentStats, colour, content_stats, load_universal, style_stats, transform

from .helpers import ROOT, make_clip, random_image, run_cli


@pytest.fixture
def paintings(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    random_image(48, 40, seed=1).save(a)
    Image.new("RGB", (40, 40), (200, 40, 30)).save(b)
    return a, b


def covariance(features: torch.Tensor) -> torch.Tensor:
    flat = features.reshape(features.shape[0], -1).double()
    flat = flat - flat.mean(1, keepdim=True)
    return flat @ flat.T / (flat.shape[1] - 1)


def test_the_transform_gives_the_photos_features_the_paintings_mean_and_covariance():
    torch.manual_seed(0)
    photo = torch.randn(8, 20, 20) * torch.linspace(0.5, 3, 8)[:, None, None]
    painting = (torch.randn(8, 8) @ torch.randn(8, 900)).reshape(8, 30, 30) + 2  # correlated channels
    out = colour(photo, content_stats(photo), [(style_stats(painting), 1.0)])
    assert torch.allclose(out.mean((1, 2)), painting.mean((1, 2)), atol=1e-3)
    assert torch.allclose(covariance(out), covariance(painting), rtol=1e-3, atol=1e-3)


def test_alpha_zero_keeps_the_photos_features_and_half_is_between():
    photo, painting = torch.rand(4, 10, 10), torch.rand(4, 12, 12) * 3
    stats, style = content_stats(photo), [(style_stats(painting), 1.0)]
    assert torch.allclose(colour(photo, stats, style, alpha=0.0), photo, atol=1e-6)
    half = colour(photo, stats, style, alpha=0.5)
    assert torch.allclose(half, 0.5 * photo + 0.5 * colour(photo, stats, style), atol=1e-5)


def test_a_decoder_applies_the_transform_inside_its_first_convolution_with_the_same_result():
    torch.manual_seed(0)
    decoder = Decoder("relu1_1").eval()  # one convolution, so every difference shows
    decoder.input_scale.fill_(0.3)
    torch.nn.init.normal_(decoder[-1].weight, std=0.1)
    photo, painting = torch.rand(1, 64, 12, 10), torch.rand(64, 16, 16) * 2
    stats, style = content_stats(photo[0]), [(style_stats(painting), 1.0)]
    with torch.no_grad():
        folded = decoder(photo, transform(stats, style, alpha=0.8))
        applied = decoder(colour(photo, stats, style, alpha=0.8))
    assert torch.allclose(folded, applied, atol=1e-4)


@pytest.mark.parametrize("shape", [(16, 1, 1), (16, 7, 5)], ids=["one pixel", "flat"])
def test_flat_or_one_pixel_features_take_the_paintings_mean_without_failing(shape):
    flat = torch.full(shape, 0.7)
    painting = torch.rand(16, 9, 9)
    out = colour(flat, content_stats(flat), [(style_stats(painting), 1.0)])
    assert torch.isfinite(out).all()
    assert torch.allclose(out, painting.mean((1, 2))[:, None, None].expand(shape), atol=1e-4)
    assert torch.isfinite(style_stats(flat).colour).all()  # a flat painting too


@pytest.mark.parametrize("size", [(1, 1), (61, 37), (8, 9)])
def test_any_photo_size_comes_out_at_its_size(universal_file, paintings, size):
    stylizer = fastnst.Stylizer.load(universal_file, style=str(paintings[0]), device="cpu")
    out = stylizer.stylize(random_image(*size))
    assert out.size == size


def test_the_file_is_self_describing_half_precision_and_holds_its_encoder(universal_file):
    raw = torch.load(universal_file, weights_only=True)
    assert raw["format"] == "fastnst-universal" and raw["config"]["levels"] == ["relu2_1", "relu1_1"]
    assert all(t.dtype == torch.float16 for t in raw["encoder"].values())
    loaded = load_universal(universal_file)
    assert loaded.net.config.levels == ("relu2_1", "relu1_1") and loaded.train_args == {"steps": 0}


def test_info_describes_a_universal_file(universal_file, capsys):
    code, out, err = run_cli(info_main, capsys, universal_file)
    assert code == 0, err
    assert "universal model" in out and "levels: relu2_1, relu1_1" in out and "VGG19 to relu2_1" in out


def test_a_blend_weighted_all_to_one_painting_is_that_painting(universal_file, paintings):
    a, b = map(str, paintings)
    photo = random_image(40, 32, seed=3)
    alone = fastnst.stylize(photo, universal_file, style=a, device="cpu", precision="fp32")
    blend = fastnst.stylize(photo, universal_file, style=f"{a}=1,{b}=0", device="cpu", precision="fp32")
    mixed = fastnst.stylize(photo, universal_file, style=f"{a}=0.5,{b}=0.5", device="cpu", precision="fp32")
    assert np.array_equal(np.asarray(alone), np.asarray(blend))
    assert not np.array_equal(np.asarray(alone), np.asarray(mixed))


def test_strength_is_the_transforms_alpha(universal_file, paintings):
    stylizer = fastnst.Stylizer.load(universal_file, style=str(paintings[1]), device="cpu", precision="fp32")
    photo = torch.rand(1, 3, 32, 32)
    full = stylizer.stylize_tensor(photo, fastnst.StylizeOptions(strength=1.0))
    none = stylizer.stylize_tensor(photo, fastnst.StylizeOptions(strength=0.0))
    net = stylizer.net  # the UniversalNet the runtime runs
    rebuilt = net(photo, [], alpha=0.0).clamp(0, 1)  # the photo's own features, decoded
    assert torch.allclose(none, rebuilt, atol=1e-5)
    assert (full - none).abs().mean() > 0.01


@pytest.mark.parametrize("height, width, size", [(256, 192, 256), (300, 500, 512), (40, 30, 128), (3000, 4000, 1024)])
def test_a_painting_is_measured_at_the_photos_long_side_rounded_and_bounded(height, width, size):
    assert style_size(height, width) == size


def test_a_painting_is_measured_once_per_photo_size_and_its_scale_follows_the_photo(universal_file, paintings):
    stylizer = fastnst.Stylizer.load(universal_file, style=str(paintings[0]), device="cpu", precision="fp32")
    runtime, small = stylizer.runtime, torch.rand(1, 3, 96, 128)
    stylizer.stylize_tensor(small)
    stylizer.stylize_tensor(torch.rand(1, 3, 100, 120))  # rounds to the same size: measured once
    assert list(runtime.measured) == [128]
    big = stylizer.stylize_tensor(torch.nn.functional.interpolate(small, scale_factor=2))
    assert list(runtime.measured) == [128, 256]
    measured_at = {size: runtime.net.style(painting_at(open_painting(paintings[0]), size))
                   for size in (128, 256)}  # the painting seen at 128 and at 256 pixels
    for level, stats in runtime.measured[256][0][0].items():
        assert torch.allclose(stats.colour, measured_at[256][level].colour, atol=1e-5)
        assert not torch.allclose(stats.colour, measured_at[128][level].colour, atol=1e-3)
    assert big.shape[-1] == 256


def test_video_frames_are_whitened_with_statistics_averaged_over_time(universal_file, paintings):
    stylizer = fastnst.Stylizer.load(universal_file, style=paintings[0])
    torch.manual_seed(0)
    still = torch.rand(1, 3, 32, 32)
    frames = torch.cat([still, (still + 0.1 * torch.randn_like(still)).clamp(0, 1)])  # the same shot, with noise
    stream = MovingContentStats(smoothing=0.5)
    steady = stylizer.stylize_tensor(frames, stream=stream)
    alone = stylizer.stylize_tensor(frames)
    assert torch.allclose(steady[0], alone[0], atol=1e-4)  # the first frame has only its own statistics
    assert not torch.allclose(steady[1], alone[1], atol=1e-3)  # the second shares the first's
    stream.reset()
    assert torch.allclose(stylizer.stylize_tensor(frames[1:], stream=stream), alone[1:], atol=1e-4)


def test_a_cut_in_the_video_starts_the_averaged_statistics_afresh(universal_file, paintings):
    stylizer = fastnst.Stylizer.load(universal_file, style=paintings[0])
    torch.manual_seed(0)
    dark, bright = torch.rand(1, 3, 32, 32) * 0.1, torch.rand(1, 3, 32, 32)  # a dim shot, then a bright one
    frames = torch.cat([dark, bright])
    steady = stylizer.stylize_tensor(frames, stream=MovingContentStats(smoothing=0.5))
    alone = stylizer.stylize_tensor(frames)
    assert torch.allclose(steady[1], alone[1], atol=1e-4)  # the bright shot is not whitened with the dim one's


def test_tiles_use_the_whole_images_statistics_so_the_seams_do_not_show(universal_file, paintings):
    stylizer = fastnst.Stylizer.load(universal_file, style=str(paintings[0]), device="cpu", precision="fp32")
    photo = torch.rand(1, 3, 96, 160)
    whole = stylizer.stylize_tensor(photo)
    tiled = stylizer.stylize_tensor(photo, fastnst.StylizeOptions(tile=64))
    assert (whole - tiled).abs().max() < 0.02


def test_infer_with_a_painting_and_a_universal_model_writes_the_stylized_photo(universal_file, paintings, tmp_path, capsys):
    photo = tmp_path / "photo.jpg"
    random_image(40, 30).save(photo)
    code, out, err = run_cli(infer_main, capsys, photo, "--style", paintings[0], "--ckpt", universal_file)
    assert code == 0, err
    assert Image.open(tmp_path / "photo_a.jpg").size == (40, 30)


def test_a_painting_without_a_model_uses_the_bundled_universal_model(paintings, tmp_path, capsys):
    assert (ROOT / "checkpoints" / "universal.pt").is_file()
    photo = tmp_path / "photo.jpg"
    random_image(40, 30).save(photo)
    styled = fastnst.stylize(photo, style=paintings[0])
    assert styled.size == (40, 30)
    code, _, err = run_cli(infer_main, capsys, photo, "--style", paintings[0], "-o", tmp_path / "out.png")
    assert code == 0, err
    assert Image.open(tmp_path / "out.png").size == (40, 30)


def test_a_painting_whose_file_name_holds_a_comma_or_an_equals_sign_is_that_painting(universal_file, tmp_path,
                                                                                     capsys):
    odd, plain = tmp_path / "we,ird=1.png", tmp_path / "x=y.png"
    random_image(40, 40, seed=1).save(odd)
    random_image(40, 40, seed=2).save(plain)
    photo = tmp_path / "photo.png"
    random_image(24, 20).save(photo)
    for style, output in [(odd, "a.png"), (plain, "b.png"), (f"{odd}=0.3,{plain}=0.7", "c.png")]:
        code, _, err = run_cli(infer_main, capsys, photo, "--style", style, "--ckpt", universal_file,
                               "-o", tmp_path / output)
        assert code == 0 and err == "", (style, err)
    assert Image.open(tmp_path / "a.png").tobytes() != Image.open(tmp_path / "b.png").tobytes()
    assert [(p.path, p.weight) for p in parse_paintings(f"{odd}=0.3,{plain}=0.7")] == [(odd, 0.3), (plain, 0.7)]
    assert [p.path for p in parse_paintings(str(odd))] == [odd]


def test_the_python_api_needs_a_model_or_a_painting(tmp_path):
    photo = tmp_path / "photo.jpg"
    random_image(40, 30).save(photo)
    with pytest.raises(FastNSTError, match="style=PAINTING"):
        fastnst.stylize(photo)


@pytest.mark.parametrize("mode", ["L", "RGBA", "P"])
def test_a_gray_transparent_or_palette_painting_is_used_as_rgb(universal_file, tmp_path, mode, capsys):
    painting = tmp_path / f"painting_{mode}.png"
    random_image(40, 40, mode=mode).save(painting)
    photo = tmp_path / "photo.png"
    random_image(24, 24).save(photo)
    code, _, err = run_cli(infer_main, capsys, photo, "--style", painting, "--ckpt", universal_file, "-o",
                           tmp_path / "out.png")
    assert code == 0, err and (tmp_path / "out.png").is_file()


def test_bad_paintings_and_weights_are_one_line_and_write_nothing(universal_file, shared_ckpt, paintings, tmp_path, capsys):
    photo = tmp_path / "photo.png"
    random_image(24, 24).save(photo)
    tiny, broken = tmp_path / "tiny.png", tmp_path / "broken.jpg"
    Image.new("RGB", (1, 1)).save(tiny)
    broken.write_bytes(b"not an image")
    damaged = tmp_path / "damaged.pt"  # a universal model cut short
    damaged.write_bytes(universal_file.read_bytes()[:5000])
    cases = [
        ([photo, "--style", tiny, "--ckpt", universal_file], "at least 16 pixels"),
        ([photo, "--style", broken, "--ckpt", universal_file], "broken.jpg"),
        ([photo, "--style", f"{paintings[0]}=heavy", "--ckpt", universal_file], "must be a number"),
        ([photo, "--style", paintings[0], "--ckpt", shared_ckpt], "a painting is for the universal model"),
        ([photo, "--style", paintings[0], "--ckpt", damaged], "damaged.pt is not a fastnst or PyTorch checkpoint "
                                                             "(or it is damaged)"),
        ([photo, "--ckpt", universal_file], "stylizes with a painting"),
    ]
    for argv, words in cases:
        code, _, err = run_cli(infer_main, capsys, *argv, "-o", tmp_path / "out.png")
        assert code != 0 and words in err and len(err.strip().splitlines()) == 1, err
        assert not (tmp_path / "out.png").exists()


def test_training_the_decoders_logs_each_level_and_resumes(tmp_path, photo_dir, capsys):
    logdir = tmp_path / "run"
    common = ["--data", photo_dir, "--encoder-weights", "random", "--levels", "relu2_1", "relu1_1",
              "--image-size", "32", "--batch-size", "2", "--workers", "0", "--logdir", logdir, "--no-progress",
              "--log-every", "1", "--ckpt-every", "1", "--lr", "1e-3"]
    code, out, err = run_cli(train_decoders_main, capsys, *common, "--steps", "2", "--lr-decay-at", "1")
    assert code == 0, err
    assert "relu2_1/pixel" in out and "relu1_1/feature" in out
    code, out, err = run_cli(train_decoders_main, capsys, "--resume", logdir / "decoders.pt", "--steps", "3",
                             "--lr-decay-at", "0.8")  # given again: it applies (even at its default value)
    assert code == 0, err
    assert "step 3/3" in out and "step 1/" not in out
    loaded = load_universal(logdir / "universal.pt")
    assert loaded.step == 3 and loaded.train_args["levels"] == ["relu2_1", "relu1_1"]
    assert loaded.train_args["lr_decay_at"] == 0.8 and loaded.train_args["lr"] == 1e-3
    events = list(logdir.glob("events.out.tfevents.*"))
    assert events


def test_decoder_training_needs_photos(capsys):
    code, _, err = run_cli(train_decoders_main, capsys, "--encoder-weights", "random")
    assert code == 2 and "--data" in err


def test_flicker_measures_the_universal_model_with_its_painting(universal_file, ckpt_file, paintings, tmp_path, capsys):
    clip = make_clip(tmp_path / "clip.mp4", frames=4, audio=None)
    code, out, err = run_cli(flicker_main, capsys, clip, "--ckpt", ckpt_file, universal_file, "--style", paintings[0],
                             "--frames", 3, "--max-size", 32)
    assert code == 0, err  # the trained network beside it runs its own style
    assert f"  {ckpt_file} " in out and f"{universal_file} (a) " in out and f"{universal_file} (a, each frame's own statistics)" in out
    code, _, err = run_cli(flicker_main, capsys, clip, "--ckpt", universal_file, "--frames", 3)
    assert code == 2 and "--style PAINTING" in err and len(err.strip().splitlines()) == 1

