"""The webcam demo holds its frame rate: the working size adapts to measured stylize times (fed
here as synthetic times), capture, stylize and display overlap, and the run ends with what a user
measures it by: frames shown per second, latency from capture to shown, the working size."""

from __future__ import annotations

import re
import time
from pathlib import Path

import av
import numpy as np
import pytest

import fastnst.bundled as bundled
import fastnst.video.live as live
from fastnst.checkpoint import atomic_save, build_checkpoint
from fastnst.cli import infer_main
from fastnst.model import ModelConfig, TransformerNet
from fastnst.video.pacing import MIN_LONG_SIDE, SIDE_STEP, Pacer

from .helpers import make_clip, one_line, run_cli


def drive(pacer: Pacer, seconds_at, frames: int, seed: int = 0) -> list[tuple[int, int]]:
    """The sizes a pacer picks over `frames` frames when a frame at (w, h) takes seconds_at(w, h),
    give or take 5 % of noise."""
    rng = np.random.default_rng(seed)
    sizes = []
    for _ in range(frames):
        width, height = pacer.size
        sizes.append(pacer.update(seconds_at(width, height) * rng.uniform(0.95, 1.05)))
    return sizes


def net_time(per_pixel: float, overhead: float = 0.005):
    """A net's time per frame: a fixed cost plus a cost per pixel."""
    return lambda width, height: overhead + per_pixel * width * height


def test_a_slow_machine_settles_on_the_size_that_reaches_the_target_and_stays_there():
    pacer = Pacer((640, 480), fps=15)
    sizes = drive(pacer, net_time(1e-6), frames=60)   # 640x480 would take 0.31 s: 3 frames/s
    width, height = sizes[-1]
    assert width % SIDE_STEP == 0 and height % SIDE_STEP == 0
    assert abs(width / height - 4 / 3) < 0.05                       # the camera's shape
    assert 0.8 / 15 < net_time(1e-6)(width, height) <= 1 / 15      # within the frame budget, not far under it
    assert len(set(sizes[20:])) == 1                                # settled: no oscillation


def test_a_fast_machine_stylizes_at_the_cameras_size():
    sizes = drive(Pacer((640, 480), fps=15), net_time(1e-8), frames=30)
    assert set(sizes) == {(640, 480)}


def test_the_working_size_never_drops_below_a_long_side_of_160():
    sizes = drive(Pacer((640, 480), fps=15), net_time(1e-4), frames=30)   # hopeless even at 160 px
    assert max(sizes[-1]) == MIN_LONG_SIDE and sizes[-1] == (160, 120)


def test_the_first_frame_warms_up_and_is_not_taken_as_the_pace():
    pacer = Pacer((640, 480), fps=15)
    assert pacer.update(5.0) == (640, 480)          # a first forward pass is slow everywhere
    assert pacer.update(0.01) == (640, 480)


def test_a_machine_that_slows_down_then_recovers_follows_it_without_pumping():
    pacer = Pacer((640, 480), fps=15)
    fast, slow = drive(pacer, net_time(1.5e-7), 30), drive(pacer, net_time(6e-7), 30)
    recovered = drive(pacer, net_time(1.5e-7), 30)
    assert fast[-1] == recovered[-1] == (640, 480)
    assert slow[-1][0] * slow[-1][1] < 0.5 * 640 * 480
    assert len(set(slow[15:])) == 1                 # a few frames to follow, then steady


def test_a_target_frame_rate_must_be_a_number_above_0():
    for bad in (0, -5, float("nan"), float("inf"), "15"):
        with pytest.raises(live.OptionError, match="fps"):
            live.check_fps(bad)


# --- the demo, headless, a clip standing in for the camera ---------------------------------------


MEASURED = re.compile(r"(\d+) frames at (\d+)x(\d+): ([\d.]+) frames/s on cpu .*\n"
                      r"latency capture -> shown: (\d+) ms median, (\d+) ms p95; working size (\d+)x(\d+)")


def test_headless_run_prints_frames_per_second_latency_and_working_size(tmp_path, ckpt_file, capsys):
    clip = make_clip(tmp_path / "cam.mp4", frames=30, audio=None, size=(64, 48))
    code, out, err = run_cli(infer_main, capsys, "--webcam", clip, "--ckpt", ckpt_file, "--no-window",
                             "--frames", 24, "--fps", 1000)
    assert code == 0, err
    frames, width, height, fps, median, p95, work_w, work_h = MEASURED.search(out).groups()
    assert (int(frames), int(width), int(height)) == (24, 64, 48)   # shown at the clip's size
    assert float(fps) > 0 and 0 <= int(median) <= int(p95)
    assert (int(work_w), int(work_h)) == (64, 48)                   # small: never below 160 px, so kept


def test_max_size_is_a_fixed_working_size_and_frames_are_still_shown_at_the_cameras(tmp_path, ckpt_file, capsys):
    clip = make_clip(tmp_path / "cam.mp4", frames=8, audio=None, size=(64, 48))
    code, out, err = run_cli(infer_main, capsys, "--webcam", clip, "--ckpt", ckpt_file, "--no-window",
                             "--max-size", 32, "--output", tmp_path / "rec.mp4")
    assert code == 0, err
    assert "8 frames at 64x48" in out and "working size 32x24" in out
    with av.open(str(tmp_path / "rec.mp4")) as recording:
        sizes = [(frame.width, frame.height) for frame in recording.decode(video=0)]
    assert sizes == [(64, 48)] * 8


def test_a_file_played_as_the_camera_gives_every_frame_in_order_though_stylizing_is_slow(
        tmp_path, ckpt_file, capsys, monkeypatch):
    clip = make_clip(tmp_path / "cam.mp4", frames=12, audio=None)
    seen, stylize = [], live.FrameStylizer.__call__

    def slow(self, frames):
        seen.append(int(frames[0].astype(int).sum()))
        time.sleep(0.05)
        return stylize(self, frames)

    monkeypatch.setattr(live.FrameStylizer, "__call__", slow)
    code, out, err = run_cli(infer_main, capsys, "--webcam", clip, "--ckpt", ckpt_file, "--no-window",
                             "--output", tmp_path / "rec.mp4", "--fps", 100)
    assert code == 0, err
    assert "recorded 12 frames" in out and len(seen) == 12 and len(set(seen)) == 12   # none dropped, none twice


@pytest.fixture
def realtime_nets(tmp_path: Path, monkeypatch) -> Path:
    """A bundled-networks folder of two small random nets, candy and mosaic, in place of checkpoints/realtime."""
    folder = tmp_path / "realtime"
    folder.mkdir()
    for name in ("candy", "mosaic"):
        net = TransformerNet(ModelConfig.for_arch("light"))
        atomic_save(build_checkpoint(net, styles=[(name, None)], train_args={}, loss={}, step=0), folder / f"{name}.pt")
    monkeypatch.setattr(bundled, "PLACES", (tmp_path,))
    return folder


def test_webcam_without_ckpt_uses_the_bundled_real_time_networks_mosaic_first(tmp_path, realtime_nets, capsys,
                                                                               monkeypatch):
    assert [p.stem for p in live.bundled_realtime_nets()] == ["mosaic", "candy"]
    loaded, from_files = [], live.Stylizer.from_files
    monkeypatch.setattr(live.Stylizer, "from_files", lambda model, *a, **k: loaded.append(Path(model).stem)
                        or from_files(model, *a, **k))
    clip = make_clip(tmp_path / "cam.mp4", frames=3, audio=None)
    code, out, err = run_cli(infer_main, capsys, "--webcam", clip, "--no-window")
    assert code == 0, err
    assert loaded == ["mosaic", "candy"] and "3 frames at 48x32" in out


def test_webcam_without_ckpt_and_nothing_bundled_says_to_pass_ckpt(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(bundled, "PLACES", (tmp_path / "nothing",))
    code, _, err = run_cli(infer_main, capsys, "--webcam", make_clip(tmp_path / "cam.mp4", frames=2, audio=None),
                           "--no-window")
    assert code == 2 and "pass --ckpt" in one_line(err)


@pytest.mark.parametrize("fps", ["0", "-3", "nan", "inf", "fast"])
def test_a_bad_fps_is_one_line_and_exit_2(tmp_path, ckpt_file, capsys, fps):
    clip = make_clip(tmp_path / "cam.mp4", frames=2, audio=None)
    code, out, err = run_cli(infer_main, capsys, "--webcam", clip, "--ckpt", ckpt_file, "--no-window",
                             "--output", tmp_path / "rec.mp4", f"--fps={fps}")
    assert code == 2 and one_line(err).startswith("error: --fps must be a number of frames per second above 0")
    assert not (tmp_path / "rec.mp4").exists()


def test_fps_is_an_option_of_the_webcam(tmp_path, ckpt_file, capsys):
    code, _, err = run_cli(infer_main, capsys, tmp_path / "a.jpg", "--ckpt", ckpt_file, "--fps", 10)
    assert code == 2 and one_line(err) == "error: --fps is for --webcam"


def test_files_need_a_ckpt_or_a_painting(tmp_path, capsys):
    code, _, err = run_cli(infer_main, capsys, tmp_path / "a.jpg")
    assert code == 2 and one_line(err).startswith("error: give --ckpt CKPT (a trained network), or --style PAINTING")


class FakeCamera:
    """A live camera at 100 frames/s: each read waits for the next frame, numbered in its pixels."""

    def __init__(self) -> None:
        self.next, self.count = time.perf_counter(), 0

    def read(self):
        self.next += 0.01
        time.sleep(max(0.0, self.next - time.perf_counter()))
        self.count += 1
        return True, np.full((32, 48, 3), self.count % 256, np.uint8)

    def release(self) -> None:
        pass


def test_a_live_camera_faster_than_the_stylizer_is_shown_newest_frame_first_within_two_frame_times(
        tmp_path, ckpt_file, monkeypatch):
    monkeypatch.setattr(live, "open_capture", lambda source: (FakeCamera(), False, 100))
    stylize, taken = live.FrameStylizer.__call__, []

    def slow(self, frames):  # 25 frames/s at most: the camera gives four frames for each one stylized
        taken.append(int(frames[0, 0, 0, 0]))
        time.sleep(0.04)
        return stylize(self, frames)

    monkeypatch.setattr(live.FrameStylizer, "__call__", slow)
    run = live.run_webcam("0", [ckpt_file], video=live.VideoOptions(frames=20), window=False, fps=25)
    assert run.frames == 20 and min(np.diff(taken)) >= 1 and max(np.diff(taken)) >= 3   # frames dropped, in order
    median, p95 = run.latency_ms
    assert median < 2 * 1000 / run.frames_per_s                     # no backlog: two frame times at most


def test_a_frame_that_fails_to_stylize_ends_the_demo_in_one_line_and_leaves_no_recording(
        tmp_path, ckpt_file, capsys, monkeypatch):
    clip = make_clip(tmp_path / "cam.mp4", frames=12, audio=None)
    stylize, calls = live.FrameStylizer.__call__, []

    def fails_third(self, frames):
        calls.append(1)
        if len(calls) == 3:
            raise live.FastNSTError("out of memory at frame 3")
        return stylize(self, frames)

    monkeypatch.setattr(live.FrameStylizer, "__call__", fails_third)
    code, _, err = run_cli(infer_main, capsys, "--webcam", clip, "--ckpt", ckpt_file, "--no-window",
                           "--output", tmp_path / "rec.mp4")
    assert code == 2 and one_line(err) == "error: out of memory at frame 3"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cam.mp4", "tiles.pt"]
