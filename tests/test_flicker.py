import cv2
import numpy as np

from fastnst.cli import flicker_main
from fastnst.video.flicker import optical_flow, visible_in_both, warping_error

from .helpers import make_clip


def texture(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Smooth random RGB texture: something optical flow can follow."""
    noise = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return cv2.GaussianBlur(noise, (5, 5), 0)


def test_a_static_clip_does_not_flicker_and_a_noisy_one_does():
    still = [texture(48, 64)] * 4
    assert warping_error(still) < 1e-6
    rng = np.random.default_rng(1)
    noisy = [np.clip(f + rng.normal(0, 20, f.shape), 0, 255).astype(np.uint8) for f in still]
    assert warping_error(still, noisy) > 0.005  # about (20 / 255)^2, from either frame of a pair


def test_motion_is_followed_and_only_a_change_on_top_of_it_counts():
    wide = texture(48, 100)
    pan = [wide[:, 3 * i:3 * i + 64] for i in range(4)]  # the camera pans 3 px per frame
    assert warping_error(pan) < 1e-4
    blinking = [np.clip(f.astype(int) + 30 * (i % 2), 0, 255).astype(np.uint8) for i, f in enumerate(pan)]
    assert warping_error(pan, blinking) > 0.01


def test_pixels_that_enter_the_frame_are_left_out():
    wide = texture(48, 100)
    before, after = (cv2.cvtColor(wide[:, x:x + 64], cv2.COLOR_RGB2GRAY) for x in (0, 3))
    visible = visible_in_both(optical_flow(after, before), optical_flow(before, after))
    assert not visible[:, -3:].any()  # new on the right edge: not in the previous frame
    assert visible[:, :-6].mean() > 0.95


def test_command_reports_the_clip_and_each_checkpoint(tmp_path, ckpt_file, capsys):
    clip = make_clip(tmp_path / "clip.mp4", frames=5, audio=None)
    assert flicker_main(["--ckpt", str(ckpt_file), str(clip), "--frames", "4", "--max-size", "32"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "clip.mp4: 4 frames at 32x21, warping error"
    assert lines[1].split()[:2] == ["original", "(unstylized)"] and lines[2].split()[0] == str(ckpt_file)
    assert all(float(line.split()[-1]) >= 0 for line in lines[1:])


def test_command_errors_are_one_line(tmp_path, ckpt_file, capsys):
    (tmp_path / "junk.mp4").write_text("junk")
    one_frame = make_clip(tmp_path / "one.mp4", frames=1, audio=None)
    for video in (tmp_path / "junk.mp4", one_frame, tmp_path / "missing.mp4"):
        assert flicker_main([str(video), "--ckpt", str(ckpt_file)]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and err.startswith("error: ")
