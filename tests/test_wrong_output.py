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

from .helpers import contrasty_net, random_image, run_cli

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


@pytest.mark.parametrize("way", ["infer.py", pytest.param("stylize_video", marks=pytest.mark.slow)])
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


def test_painting_weights_whose_sum_no_number_holds_are_refused_with_the_same_line(tmp_path, universal_file, capsys):
    from fastnst.inference.universal import parse_paintings

    for i in range(2):
        random_image(32, 32, seed=i).save(tmp_path / f"p{i}.png")
    a, b = tmp_path / "p0.png", tmp_path / "p1.png"
    assert [p.weight for p in parse_paintings(f"{a}=1e39,{b}=1e39")] == [0.5, 0.5]  # large: their ratio
    random_image(32, 24).save(tmp_path / "photo.jpg")
    code, _, err = run_cli(infer_main, capsys, tmp_path / "photo.jpg", "--ckpt", universal_file, "--style",
                           f"{a}=1e308,{b}=1e308")
    assert code == 2 and err == (f"error: style weights too large: they add up to more than a number can hold "
                                 f"({a}=1e308,{b}=1e308); give them as fractions\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p0.png", "p1.png", "photo.jpg"]


def _three_style_net():
    from fastnst.model import ModelConfig, TransformerNet

    torch.manual_seed(0)
    return TransformerNet(ModelConfig(num_styles=3)).eval()


# --- training: what --resume and --init are given must fit the run they go on from ---------------------------------

def _styles(folder, names):
    folder.mkdir(exist_ok=True)
    paths = []
    for i, name in enumerate(names):
        paths.append(folder / f"{name}.png")
        random_image(48, 40, seed=i + 1).save(paths[-1])
    return [str(p) for p in paths]


def _files(folder):
    return sorted((p.relative_to(folder), p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*"))


def test_resuming_a_run_of_several_styles_with_another_style_list_is_refused_before_any_work(tmp_path, photo_dir,
                                                                                          capsys):
    from fastnst.cli import train_main

    from .train_helpers import as_flags, small_run

    fastnst.train(style=_styles(tmp_path / "s", ["mosaic", "candy"]), data=str(photo_dir), steps=2,
                  **small_run(tmp_path / "run"))
    before = _files(tmp_path / "run")
    for styles in [["candy", "mosaic"], ["udnie", "autumn"], ["mosaic", "candy", "udnie"], ["mosaic"]]:
        code, _, err = run_cli(train_main, capsys, "--resume", tmp_path / "run" / "checkpoint.pt", "--steps", 4,
                               "--style", *_styles(tmp_path / "s", styles))
        assert code == 2 and err.count("\n") == 1, (styles, err)
        assert "that run trains 2 styles (mosaic, candy)" in err and "same style images in the same order" in err
        assert _files(tmp_path / "run") == before, styles  # no events file, no checkpoint touched
    other = _styles(tmp_path / "other", ["mosaic", "candy"])
    random_image(48, 40, seed=7).save(other[1])  # another painting under the old name
    code, _, err = run_cli(train_main, capsys, "--resume", tmp_path / "run" / "checkpoint.pt", "--steps", 4,
                           "--style", *other)
    assert code == 2 and err.count("\n") == 1 and "candy.png is not the painting that run trained as candy" in err
    assert _files(tmp_path / "run") == before
    # The same list (or none: the stored one) goes on.
    code, _, err = run_cli(train_main, capsys, "--resume", tmp_path / "run" / "checkpoint.pt", "--steps", 3,
                           *as_flags({"progress": False}))
    assert code == 0, err


def test_init_with_another_arch_or_together_with_resume_is_refused_in_one_line(tmp_path, photo_dir, ckpt_file, capsys):
    from fastnst.cli import train_main

    from .train_helpers import as_flags, small_run

    style = _styles(tmp_path / "s", ["autumn"])
    code, _, err = run_cli(train_main, capsys, "--style", *style, "--init", ckpt_file, "--arch", "light",
                           *as_flags(small_run(tmp_path / "a", data=str(photo_dir), steps=1)))
    assert code == 2 and err.count("\n") == 1 and "--arch light: the --init net" in err and "is a johnson net" in err
    assert not (tmp_path / "a").exists()
    fastnst.train(style=style, data=str(photo_dir), steps=2, **small_run(tmp_path / "run"))
    code, _, err = run_cli(train_main, capsys, "--resume", tmp_path / "run" / "checkpoint.pt", "--steps", 4,
                           "--init", ckpt_file)
    assert code == 2 and err.count("\n") == 1 and "give one of them" in err, err
    code, _, err = run_cli(train_main, capsys, "--resume", tmp_path / "run" / "checkpoint.pt", "--steps", 4,
                           "--arch", "light")
    assert code == 2 and "the --resume net" in err and "is a johnson net" in err, err


def test_init_without_arch_keeps_the_init_nets_architecture_and_its_run_resumes(tmp_path, photo_dir):
    from fastnst.checkpoint import load_checkpoint

    from .train_helpers import small_run

    light = atomic_save(build_checkpoint(contrasty_net("light"), styles=[("bold", None)], train_args={}, loss={},
                                         step=0), tmp_path / "light.pt")
    style = _styles(tmp_path / "s", ["autumn"])
    fastnst.train(style=style, init=str(light), data=str(photo_dir), steps=2, **small_run(tmp_path / "run"))
    out = fastnst.train(resume=str(tmp_path / "run" / "checkpoint.pt"), steps=3)
    assert load_checkpoint(out).model.config.arch == "light"


def test_only_norms_refuses_a_style_list_that_repeats_a_painting_or_renames_one_the_net_has(tmp_path, photo_dir,
                                                                                        ckpt_file, capsys):
    from fastnst.cli import train_main

    from .train_helpers import as_flags, small_run

    flags = as_flags(small_run(tmp_path / "run", data=str(photo_dir), steps=1))
    (tmp_path / "s").mkdir()
    random_image(64, 64).save(tmp_path / "s" / "renamed.png")  # the painting ckpt_file holds as "tiles"
    random_image(40, 40, seed=9).save(tmp_path / "s" / "autumn.png")
    random_image(40, 40, seed=9).save(tmp_path / "s" / "fall.png")
    (tmp_path / "t").mkdir()
    random_image(40, 40, seed=8).save(tmp_path / "t" / "autumn.png")
    cases = {("renamed.png",): "already has this painting, as the style tiles",
             ("autumn.png", "fall.png"): "are the same painting under two names",
             ("autumn.png", "../t/autumn.png"): "two style images share the name autumn"}
    for styles, message in cases.items():
        code, _, err = run_cli(train_main, capsys, "--style", *[tmp_path / "s" / s for s in styles], "--init",
                               ckpt_file, "--only-norms", *flags)
        assert code == 2 and err.count("\n") == 1 and message in err, (styles, err)
        assert not (tmp_path / "run").exists()


def test_init_from_a_net_of_another_width_keeps_that_width(tmp_path, photo_dir):
    from fastnst.checkpoint import load_checkpoint
    from fastnst.model import ModelConfig, TransformerNet

    from .train_helpers import small_run

    torch.manual_seed(0)
    narrow = atomic_save(build_checkpoint(TransformerNet(ModelConfig(channels=(8, 16, 32), num_residual=2)),
                                          styles=[("thin", random_image(40, 40, seed=5))], train_args={}, loss={},
                                          step=0), tmp_path / "thin.pt")
    for only_norms in (False, True):
        out = fastnst.train(style=_styles(tmp_path / "s", ["autumn"]), init=str(narrow), only_norms=only_norms,
                            data=str(photo_dir), steps=1, **small_run(tmp_path / f"run{only_norms}"))
        config = load_checkpoint(out).model.config
        assert (config.channels, config.num_residual, config.num_styles) == ((8, 16, 32), 2, 1 + only_norms)
