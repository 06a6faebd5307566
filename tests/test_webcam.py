"""The webcam demo's window as a person uses it: keys taken at once, the caption over the stylized
half on a dark backing, snapshots in their folder, Ctrl-C; and the real window under a virtual X
server, driven with keys."""

import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import fastnst
import fastnst.checkpoint
import fastnst.video.live as live
from fastnst.checkpoint import atomic_save, build_checkpoint
from fastnst.cli import infer_main
from fastnst.inference import Stylizer
from fastnst.model import TransformerNet
from fastnst.video import window as window_module

from .helpers import ROOT, make_clip, one_line, run_cli


# Outputs that cannot be written: (where, as the command line gives it; the words of its error).
def _unwritable(tmp_path):
    (tmp_path / "folder.mp4").mkdir(exist_ok=True)
    (tmp_path / "a-file").write_text("x")
    return [("/proc/fastnst/out.mp4", "cannot write /proc/fastnst/out.mp4: No such file or directory"),
            (tmp_path / "folder.mp4", f"cannot write {tmp_path / 'folder.mp4'}: it is a folder; give a file name"),
            (tmp_path / "a-file" / "out.mp4", f"cannot write {tmp_path / 'a-file' / 'out.mp4'}: {tmp_path / 'a-file'} "
                                              f"is a file, not a folder")]


@pytest.fixture
def candy(tmp_path: Path) -> Path:
    """A second checkpoint to switch to, style name 'candy'."""
    return atomic_save(build_checkpoint(TransformerNet(), styles=[("candy", None)], train_args={},
                                        loss={}, step=0), tmp_path / "candy.pt")


class ScriptedWindow:
    """Stands in for the Tk window: keeps every view it is asked to show, and presses each key of
    `script` once its condition holds, as a person watching the window would."""

    script: list = []
    shown: list = []      # (time, view, title)
    pressed: list = []    # (time, key)

    def __init__(self, on_key, on_close) -> None:
        self.on_key = on_key

    def show(self, rgb: np.ndarray, title: str) -> None:
        self.shown.append((time.monotonic(), rgb.copy(), title))

    def update(self) -> None:
        if self.script and self.script[0][1](self):
            key = self.script.pop(0)[0]
            self.pressed.append((time.monotonic(), key))
            self.on_key(key)

    def close(self) -> None:
        pass


def test_keys_show_at_once_though_a_frame_takes_half_a_second(tmp_path, ckpt_file, candy, capsys, monkeypatch):
    clip = make_clip(tmp_path / "cam.mp4", frames=40, audio=None)  # 48 x 32
    stylize = live.FrameStylizer.__call__
    monkeypatch.setattr(live.FrameStylizer, "__call__", lambda self, f: time.sleep(0.5) or stylize(self, f))
    captions = []
    monkeypatch.setattr(window_module, "overlay", lambda view, lines, left=0: captions.append((lines, left)) or view)
    window = ScriptedWindow
    window.shown, window.pressed = [], []
    window.script = [("o", lambda w: w.shown),
                     ("n", lambda w: w.shown[-1][1].shape[1] == 96),
                     ("s", lambda w: w.shown[-1][2] == "fastnst: candy"),
                     ("q", lambda w: True)]
    monkeypatch.setattr(live, "TkWindow", window)
    monkeypatch.setenv("DISPLAY", ":0")
    code, out, err = run_cli(infer_main, capsys, "--webcam", clip, "--ckpt", ckpt_file, candy,
                             "--snapshot-dir", tmp_path / "snaps")
    assert code == 0, err
    pressed = dict((key, t) for t, key in window.pressed)
    first_after = {key: next((t, view, title) for t, view, title in window.shown if t >= pressed[key])
                   for key in "on"}
    # o: the original beside the stylized frame at once, not half a second later with the next frame
    shown_at, view, _ = first_after["o"]
    assert shown_at - pressed["o"] < 0.2 and view.shape[:2] == (32, 96)
    # n: at once a line says which style comes; the frame is still the old style's until the next one
    shown_at, _, title = first_after["n"]
    assert shown_at - pressed["n"] < 0.2 and title == "fastnst: tiles"
    assert any("next style: candy" in lines and left == 48 for lines, left in captions)
    # side by side, the caption sits over the stylized half (from column 48), "original" over the photo
    assert ["original"] in [lines for lines, left in captions if left == 0]
    assert {left for lines, left in captions[-4:] if lines != ["original"]} == {48}
    # s: the frame on screen without the caption, in --snapshot-dir, its full path printed
    snapshot = next((tmp_path / "snaps").glob("candy_*.png"))
    assert f"snapshot -> {snapshot.resolve()}" in out
    assert Image.open(snapshot).size == (96, 32)


def test_overlay_reads_on_a_light_picture_through_its_dark_backing():
    light = np.full((60, 200, 3), 250, np.uint8)
    view = window_module.overlay(light.copy(), ["mosaic  5.0 fps", "saved a.png"], left=100)
    assert np.array_equal(view[:, :100], light[:, :100])          # nothing over the left half
    box = view[4:40, 104:190]
    assert (box < 100).mean() > 0.5 and (box > 200).any()          # white text on a dark backing
    assert (np.abs(box[..., 0].astype(int) - box[..., 2]) > 100).any()  # the second line in colour


def _interrupt_at_frame(monkeypatch, frame: int, times: int) -> None:
    """Ctrl-C (SIGINT to this process, `times` in a row) while the demo stylizes its frame-th frame.
    The frames are stylized in a thread of their own and Python runs signal handlers in the main
    thread, so each press waits for the handler to have run, as a person's presses are apart."""
    stylize, calls = live.FrameStylizer.__call__, []

    def call(self, frames):
        calls.append(1)
        if len(calls) == frame:
            for _ in range(times):
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.3)
        return stylize(self, frames)

    monkeypatch.setattr(live.FrameStylizer, "__call__", call)


@pytest.mark.usefixtures("ctrl_c_reaches_python")
def test_ctrl_c_stops_the_demo_like_q_and_keeps_the_recording(tmp_path, ckpt_file, capsys, monkeypatch):
    clip = make_clip(tmp_path / "cam.mp4", frames=20, audio=None)
    _interrupt_at_frame(monkeypatch, 3, times=1)
    before = signal.getsignal(signal.SIGINT)
    code, out, err = run_cli(infer_main, capsys, "--webcam", clip, "--ckpt", ckpt_file, "--no-window",
                             "--output", tmp_path / "rec.mp4")
    assert code == 130 and err.strip() == "interrupted"
    assert "recorded 3 frames" in out and (tmp_path / "rec.mp4").is_file()
    assert signal.getsignal(signal.SIGINT) is before  # Ctrl-C does what it did before the demo


@pytest.mark.usefixtures("ctrl_c_reaches_python")
def test_a_second_ctrl_c_interrupts_at_once_and_leaves_no_file(tmp_path, ckpt_file, capsys, monkeypatch):
    clip = make_clip(tmp_path / "cam.mp4", frames=20, audio=None)
    _interrupt_at_frame(monkeypatch, 3, times=2)
    code, out, err = run_cli(infer_main, capsys, "--webcam", clip, "--ckpt", ckpt_file, "--no-window",
                             "--output", tmp_path / "rec.mp4")
    assert code == 130 and err.strip() == "interrupted"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cam.mp4", "tiles.pt"]


def test_a_video_of_no_frames_played_as_the_camera_is_an_error_not_a_silent_success(tmp_path, ckpt_file, capsys):
    import av

    empty = tmp_path / "empty.avi"
    with av.open(str(empty), "w") as out:  # a header with a video stream, and not one frame
        stream = out.add_stream("mpeg4", rate=24)
        stream.width, stream.height, stream.pix_fmt = 16, 16, "yuv420p"
        out.start_encoding()
    code, out, err = run_cli(infer_main, capsys, "--webcam", empty, "--ckpt", ckpt_file, "--no-window",
                             "--output", tmp_path / "rec.mp4")
    assert code == 1 and err.strip() == f"error: {empty}: the video has no frames; nothing was recorded"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.avi", "tiles.pt"]


def test_snapshot_dir_is_an_option_of_the_webcam(tmp_path, ckpt_file, capsys):
    code, _, err = run_cli(infer_main, capsys, tmp_path / "a.jpg", "--ckpt", ckpt_file, "--snapshot-dir", tmp_path)
    assert code == 2 and "--snapshot-dir is for --webcam" in err


# --- the real window ---------------------------------------------------------------------------


@pytest.fixture
def x_display():
    """A virtual X server (Xvfb) on a free display number, for as long as the test runs."""
    missing = [tool for tool in ("Xvfb", "xdotool") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"no virtual X server here: {' and '.join(missing)} missing (apt-get install xvfb xdotool; "
                    f".ci/run installs them)")
    try:
        import tkinter  # noqa: F401
    except ImportError:
        pytest.skip("this Python has no tkinter, which the window needs (Debian, Ubuntu: apt-get install python3-tk)")
    read, write = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "800x600x24", "-nolisten", "tcp"],
                              pass_fds=[write], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    try:
        ready, _, _ = select.select([read], [], [], 30)
        number = os.read(read, 16).decode().strip() if ready else ""
        if not number:
            pytest.skip("Xvfb did not start a display within 30 s")
        yield f":{number}"
    finally:
        os.close(read)
        server.terminate()
        server.wait(timeout=10)


def test_the_real_window_under_a_virtual_x_server_takes_keys(tmp_path, ckpt_file, candy, x_display):
    env = {**os.environ, "DISPLAY": x_display, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    clip = make_clip(tmp_path / "cam.mp4", frames=480, audio=None)  # 20 s at 24 frames/s, the pace it plays at
    demo = subprocess.Popen([sys.executable, "-m", "fastnst", "stylize", "--webcam", clip, "--ckpt", ckpt_file,
                             candy, "--snapshot-dir", tmp_path / "snaps"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def xdotool(*args: str) -> str:
        done = subprocess.run(["xdotool", *args], env=env, capture_output=True, text=True, timeout=30)
        return done.stdout.strip()

    def wait_for(what: str, check, timeout: float = 90) -> str:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if demo.poll() is not None:
                pytest.fail(f"the demo ended while waiting for {what}: {demo.communicate()[1]}")
            found = check()
            if found:
                return found
            time.sleep(0.1)
        demo.kill()
        pytest.fail(f"no {what} after {timeout} s: {demo.communicate()[1]}")

    try:
        window = wait_for("window", lambda: xdotool("search", "--onlyvisible", "--name", "^fastnst: tiles$"))
        xdotool("windowfocus", window.split()[0])
        xdotool("key", "o")
        wait_for("side-by-side view", lambda: "96x32" in xdotool("getwindowgeometry", window.split()[0]))
        xdotool("key", "n")
        wait_for("second style", lambda: xdotool("search", "--onlyvisible", "--name", "^fastnst: candy$"))
        xdotool("key", "s")
        snapshot = wait_for("snapshot", lambda: next((tmp_path / "snaps").glob("candy_*.png"), None))
        xdotool("key", "q")
        out, err = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
    assert demo.returncode == 0, err
    assert f"snapshot -> {snapshot.resolve()}" in out and "frames/s" in out
    assert Image.open(snapshot).size == (96, 32)  # the original beside the candy frame


def test_n_steps_through_the_styles_of_one_network_and_names_each(tmp_path, capsys, monkeypatch):
    from .helpers import THREE_STYLE_NAMES as NAMES
    from .helpers import three_style_net

    three = atomic_save(build_checkpoint(three_style_net(), styles=[(n, None) for n in NAMES], train_args={},
                                        loss={}, step=0), tmp_path / "three.pt")
    clip = make_clip(tmp_path / "cam.mp4", frames=60, audio=None)
    prepared = []
    from_files = Stylizer.from_files
    monkeypatch.setattr(Stylizer, "from_files", lambda *a, **k: prepared.append(k) or from_files(*a, **k))
    window = ScriptedWindow
    window.shown, window.pressed = [], []
    window.script = [("n", lambda w: w.shown and w.shown[-1][2] == "fastnst: mosaic"),
                     ("n", lambda w: w.shown[-1][2] == "fastnst: candy"),
                     ("q", lambda w: w.shown[-1][2] == "fastnst: udnie")]
    monkeypatch.setattr(live, "TkWindow", window)
    monkeypatch.setenv("DISPLAY", ":0")
    code, _, err = run_cli(infer_main, capsys, "--webcam", clip, "--ckpt", three)
    assert code == 0, err
    assert len(prepared) == 1 and prepared[0]["shared"]  # one network for its three styles, never reloaded
    last = {title: view for _, view, title in window.shown}
    assert list(last) == ["fastnst: mosaic", "fastnst: candy", "fastnst: udnie"]
    views = list(last.values())
    assert not np.array_equal(views[0], views[1]) and not np.array_equal(views[1], views[2])


def test_a_webcam_recording_that_cannot_be_written_is_one_line_before_the_camera_starts(tmp_path, ckpt_file, capsys):
    pytest.importorskip("cv2")
    clip = make_clip(tmp_path / "cam.mp4", frames=3, audio=None)
    for output, words in _unwritable(tmp_path):
        before = sorted(tmp_path.rglob("*"))
        code, out, err = run_cli(infer_main, capsys, "--webcam", clip, "--ckpt", ckpt_file, "--no-window",
                                 "--output", output)
        assert code == 2 and one_line(err) == f"error: {words}" and out == ""
        assert sorted(tmp_path.rglob("*")) == before


def test_a_webcam_recording_refuses_to_replace_the_video_it_plays(tmp_path, ckpt_file):
    pytest.importorskip("cv2")
    from fastnst.video.live import run_webcam

    clip = make_clip(tmp_path / "clip.mp4", frames=2, audio=None)
    before = clip.read_bytes()
    with pytest.raises(fastnst.FastNSTError, match="would overwrite the input"):
        run_webcam(str(clip), [ckpt_file], window=False, output=clip)
    assert clip.read_bytes() == before
