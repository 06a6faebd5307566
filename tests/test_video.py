import errno
import os
import time
from fractions import Fraction
from pathlib import Path

import av
import pytest

import fastnst
import fastnst.checkpoint
import fastnst.video
from fastnst import FastNSTError
from fastnst.cli import infer_main
from fastnst.video.frames import FrameStylizer
from fastnst.video.jobs import expand_inputs
from fastnst.video.writer import FrameClock, _Audio

from .helpers import NTSC_FILM, SHARED, make_clip, random_image, run_cli


def files_in(folder):
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}


def cut_video(tmp_path, keep=0.8):
    """An mp4 with its index at the front (40 frames declared) and its data cut to `keep`."""
    full = make_clip(tmp_path / "full.mp4", frames=40, size=(96, 64), audio=None)
    fast = tmp_path / "fast.mp4"
    with av.open(str(full)) as source, av.open(str(fast), "w", options={"movflags": "+faststart"}) as out:
        streams = {s.index: out.add_stream_from_template(s) for s in source.streams}
        for packet in source.demux():
            if packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                out.mux(packet)
    data = fast.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * keep)])
    full.unlink()
    fast.unlink()
    return cut

VIDEO_DIR = SHARED / "data" / "video"
def describe(path: Path) -> dict:
    """What a user checks in a player: frames (decoded), rate, size, rotation, audio codec and length."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        info = {"frames": len(frames), "fps": stream.average_rate, "size": (stream.width, stream.height),
                "rotation": frames[0].rotation, "audio": None}
    with av.open(str(path)) as container:
        if container.streams.audio:
            audio = container.streams.audio[0]
            samples = sum(f.samples for f in container.decode(audio))
            info["audio"], info["audio_seconds"] = audio.codec_context.name, samples / audio.rate
    return info


def run(capsys, *argv):
    return run_cli(infer_main, capsys, *argv)


def leftovers(folder: Path, before: set[str]) -> set[str]:
    return {p.name for p in folder.iterdir()} - before


def test_clip_with_audio_round_trips(tmp_path, ckpt_file, capsys):
    clip = make_clip(tmp_path / "clip.mp4", frames=24)
    code, out, err = run(capsys, clip, "--ckpt", ckpt_file)
    assert code == 0, err
    assert out.strip() == f"{clip} -> {tmp_path / 'clip_tiles.mp4'}"
    source, result = describe(clip), describe(tmp_path / "clip_tiles.mp4")
    assert result["frames"] == 24 and result["fps"] == NTSC_FILM and result["size"] == (48, 32)
    assert result["audio"] == "aac"  # copied, not re-encoded
    assert abs(result["audio_seconds"] - source["audio_seconds"]) < 1 / 24
    assert abs(result["audio_seconds"] - 24 / NTSC_FILM) < 1 / 24
    assert {p.name for p in tmp_path.iterdir()} == {"clip.mp4", "clip_tiles.mp4", "tiles.pt"}  # no temp file


def test_odd_size_rotation_and_pcm_audio_in_mov(tmp_path, ckpt_file, capsys, caplog):
    clip = make_clip(tmp_path / "phone.mov", size=(33, 25), video_codec="png", pix_fmt="rgb24",
                     audio="pcm_s16le", rotation=90)
    assert run(capsys, clip, "--ckpt", ckpt_file)[0] == 0
    assert "33x25 is odd; written as 32x24" in caplog.text  # said, as a warning
    result = describe(tmp_path / "phone_tiles.mov")
    assert result["size"] == (32, 24) and result["rotation"] == 90 and result["frames"] == 12
    assert result["audio"] == "pcm_s16le" and abs(result["audio_seconds"] - 12 / NTSC_FILM) < 1 / 24


def test_webm_becomes_mp4_and_audio_is_reencoded_where_it_must(tmp_path, ckpt_file, capsys):
    clip = make_clip(tmp_path / "web.webm", video_codec="libvpx-vp9", audio="libopus", frames=6)
    assert run(capsys, clip, "--ckpt", ckpt_file)[0] == 0
    mp4 = describe(tmp_path / "web_tiles.mp4")  # webm cannot hold H.264
    assert mp4["frames"] == 6 and mp4["fps"] == NTSC_FILM and mp4["audio"] == "opus"
    # .mov takes no Opus: the audio is re-encoded to AAC, its length kept within a frame
    assert run(capsys, clip, "--ckpt", ckpt_file, "-o", tmp_path / "web.mov")[0] == 0
    mov = describe(tmp_path / "web.mov")
    assert mov["audio"] == "aac" and abs(mov["audio_seconds"] - 6 / NTSC_FILM) < 1 / 24


@pytest.mark.skipif(not VIDEO_DIR.is_dir(), reason="../shared data not present")
def test_first_frames_of_a_real_clip(tmp_path, ckpt_file, capsys):
    # Megamind.avi: MPEG-4 with packed B-frames, 2997/125 fps, AC-3 audio
    code, _, err = run(capsys, VIDEO_DIR / "Megamind.avi", "--ckpt", ckpt_file, "--frames", 8,
                       "--max-size", 96, "-o", tmp_path / "mega.mp4")
    assert code == 0, err
    with av.open(str(tmp_path / "mega.mp4")) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert (video.width, video.height) == (96, 70) and video.average_rate == Fraction(2997, 125)
        assert sum(1 for _ in container.decode(video)) == 8
        assert audio.codec_context.name == "ac3"
        # the audio stops with the last frame written (give or take one 32 ms AC-3 packet)
        assert abs(float(audio.duration * audio.time_base) - 8 * 125 / 2997) < 0.04


def test_webcam_mode_driven_headless_by_a_video_file(tmp_path, ckpt_file, capsys):
    clip = make_clip(tmp_path / "cam.mp4", frames=10, audio=None)
    other = tmp_path / "other.pt"
    other.write_bytes(ckpt_file.read_bytes())
    code, out, err = run(capsys, "--webcam", clip, "--ckpt", ckpt_file, other, "--no-window",
                         "--output", tmp_path / "rec.mp4", "--frames", 6)
    assert code == 0, err
    assert "recorded 6 frames" in out and "frames/s on cpu" in out
    result = describe(tmp_path / "rec.mp4")
    assert result["frames"] == 6 and result["fps"] == NTSC_FILM and result["size"] == (48, 32)
    # a file played as the camera ends with the file
    assert run(capsys, "--webcam", clip, "--ckpt", ckpt_file, "--no-window", "--output", tmp_path / "all.mkv")[0] == 0
    assert describe(tmp_path / "all.mkv")["frames"] == 10


def test_webcam_without_camera_or_display_is_a_one_line_error(tmp_path, ckpt_file, capsys, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    clip = make_clip(tmp_path / "cam.mp4", frames=2, audio=None)
    for argv, message in [(["--webcam", "99"], "no camera"), (["--webcam", tmp_path / "none.mp4"], "no such file"),
                          (["--webcam", clip], "no display")]:
        code, _, err = run(capsys, *argv, "--ckpt", ckpt_file)
        assert code == 2 and message in err, err
        assert len(err.strip().splitlines()) == 1 and err.startswith("error: ")


def _not_a_video(path: Path) -> Path:
    path.write_text("not a video")
    return path


def _zero_frames(path: Path) -> Path:
    with av.open(str(path), "w") as out:  # a header with a video stream, and not one frame
        stream = out.add_stream("mpeg4", rate=24)
        stream.width, stream.height, stream.pix_fmt = 16, 16, "yuv420p"
        out.start_encoding()
    return path


def _unknown_codec(path: Path) -> Path:
    mpeg4 = make_clip(path.with_name("mpeg4.avi"), video_codec="mpeg4", audio=None, frames=2)
    path.write_bytes(mpeg4.read_bytes().replace(b"FMP4", b"QQQQ"))  # a FourCC no decoder knows
    mpeg4.unlink()
    return path


@pytest.mark.parametrize("name, make, message", [
    ("junk.mp4", _not_a_video, "not a video file"),
    ("empty.avi", _zero_frames, "has no frames"),
    ("odd.avi", _unknown_codec, "codec is unknown"),
])
def test_bad_videos_are_one_line_errors_and_leave_nothing_behind(tmp_path, ckpt_file, capsys, name, make, message):
    bad = make(tmp_path / name)
    before = {p.name for p in tmp_path.iterdir()}
    code, _, err = run(capsys, bad, "--ckpt", ckpt_file)
    assert code == 1 and "Traceback" not in err
    first = err.strip().splitlines()[0]
    assert first.startswith(f"error: {bad}") and message in first
    assert leftovers(tmp_path, before) == set()


def test_an_interrupted_run_leaves_no_file(tmp_path, ckpt_file, capsys, monkeypatch):
    clip = make_clip(tmp_path / "clip.mp4", frames=12)
    calls = []
    real = FrameStylizer.__call__

    def interrupt_on_the_second_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            deadline = time.monotonic() + 10
            while not list(tmp_path.glob(".clip_tiles.*.mp4")) and time.monotonic() < deadline:
                time.sleep(0.01)  # the writer has begun the file: Ctrl-C now must remove it
            assert list(tmp_path.glob(".clip_tiles.*.mp4"))
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(FrameStylizer, "__call__", interrupt_on_the_second_batch)
    before = {p.name for p in tmp_path.iterdir()}
    code, _, err = run(capsys, clip, "--ckpt", ckpt_file, "--batch-size", 2)
    assert code == 130 and "interrupted" in err
    assert leftovers(tmp_path, before) == set()


def test_folders_include_videos_and_skip_earlier_outputs(tmp_path):
    make_clip(tmp_path / "a.mkv", frames=1, audio=None)
    (tmp_path / "a_tiles.mkv").write_bytes(b"")
    (tmp_path / ".a.x1y2.mp4").write_bytes(b"")  # someone's temporary file
    random_image(8, 8).save(tmp_path / "b.png")
    files, errors = expand_inputs([str(tmp_path)], ["tiles"])
    assert [p.name for p, _ in files] == ["a.mkv", "b.png"] and errors == []
    assert fastnst.video.output_extension("x.webm") == ".mp4" and fastnst.video.output_extension("x.MOV") == ".mov"


def test_checkpoint_may_come_before_the_inputs_but_files_take_one(tmp_path, ckpt_file, capsys):
    photo = tmp_path / "photo.png"
    random_image(12, 10).save(photo)
    assert run(capsys, "--ckpt", ckpt_file, photo)[0] == 0 and (tmp_path / "photo_tiles.png").is_file()
    code, _, err = run(capsys, photo, "--ckpt", ckpt_file, ckpt_file)
    assert code == 2 and "--webcam" in err


def test_frame_clock_keeps_exact_rates_and_variable_timing():
    # webm counts milliseconds: 23.976 fps comes in as 0, 42, 83, 125 ms and goes out exact
    clock = FrameClock(Fraction(1, 1000), NTSC_FILM)
    assert clock.time_base == Fraction(1, 24000)
    assert [clock(ms) for ms in (0, 42, 83, 125)] == [0, 1001, 2002, 3003]
    # a frame far off the grid (variable frame rate) keeps its own time
    assert clock(300) == 300 * 24


# ------------------------------------------------------------------------------------------ video
def test_a_video_cut_short_is_an_error_and_writes_nothing(tmp_path, ckpt_file, capfd):
    cut = cut_video(tmp_path)
    before = files_in(tmp_path)
    code = infer_main([str(cut), "--ckpt", str(ckpt_file)])
    err = capfd.readouterr().err  # file descriptors: FFmpeg's own lines would show here too
    assert code == 1
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[0].startswith("error: ") and "of its 40 frames" in lines[0] and "cut short" in lines[0]
    assert lines[1:] == ["1 of 1 input(s) failed"]
    assert files_in(tmp_path) == before


def test_a_video_cut_short_is_written_with_a_warning_when_asked(tmp_path, ckpt_file, capfd):
    cut = cut_video(tmp_path)
    assert infer_main([str(cut), "--ckpt", str(ckpt_file), "--allow-partial"]) == 0
    err = capfd.readouterr().err
    assert "warning: " in err and "of its 40 frames" in err
    with av.open(str(tmp_path / "cut_tiles.mp4")) as written:
        assert 0 < written.streams.video[0].frames < 40


@pytest.mark.parametrize("arguments,message", [
    (dict(batch_size="2"), "batch_size must be a whole number, got '2' (a str)"),
    (dict(crf=1.5), "crf must be a whole number or None, got 1.5"),
    (dict(video={"crf": 3}), "video must be a VideoOptions (or its fields as keyword arguments), "
                             "got {'crf': 3} (a dict)"),
])
def test_stylize_video_names_a_video_option_of_the_wrong_type(tmp_path, ckpt_file, arguments, message):
    with pytest.raises(FastNSTError) as caught:
        fastnst.stylize_video(tmp_path / "clip.mp4", tmp_path / "out.mp4", ckpt_file, device="cpu", **arguments)
    assert str(caught.value).startswith(message)


def test_stylize_video_of_a_number_names_the_argument(ckpt_file, tmp_path):
    with pytest.raises(FastNSTError, match=r"^source must be a path \(a string or a Path\), got 123$"):
        fastnst.stylize_video(123, tmp_path / "out.mp4", ckpt_file)
    with pytest.raises(FastNSTError, match=r"^target must be a path \(a string or a Path\), got 123$"):
        fastnst.stylize_video(tmp_path / "in.mp4", 123, ckpt_file)
    assert [p.name for p in tmp_path.iterdir()] == ["tiles.pt"]  # the checkpoint only


def test_disk_full_while_writing_a_video_names_it_and_leaves_no_file(tmp_path, ckpt_file, capsys, monkeypatch):
    clip = make_clip(tmp_path / "clip.mp4")

    def full(self, seconds):
        raise av.error.OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_Audio, "write_until", full)
    code, _, err = run_cli(infer_main, capsys, clip, "--ckpt", ckpt_file, "-o", tmp_path / "out.mp4")
    assert code == 1
    assert f"error: {tmp_path / 'out.mp4'}: cannot write video: no space left on device" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "tiles.pt"]


# --------------------------------------------------------------------- an output that is its input
def test_stylize_video_refuses_an_output_that_is_its_input_or_a_hard_link_to_it(tmp_path, ckpt_file):
    clip = make_clip(tmp_path / "clip.mp4", frames=2, audio=None)
    os.link(clip, tmp_path / "linked.mp4")
    (tmp_path / "symlinked.mp4").symlink_to(clip)
    before = clip.read_bytes()
    for target in ("clip.mp4", "linked.mp4", "symlinked.mp4"):
        with pytest.raises(fastnst.FastNSTError, match="would overwrite the input"):
            fastnst.stylize_video(clip, tmp_path / target, ckpt_file)
    assert clip.read_bytes() == before
    assert not list(tmp_path.glob(".*"))  # no temporary file left either


def test_a_stylized_video_or_a_recording_refuses_to_replace_the_painting(tmp_path, universal_file):
    pytest.importorskip("cv2")
    from fastnst.video.live import run_webcam

    clip = make_clip(tmp_path / "clip.mp4", frames=2, audio=None)
    painting = tmp_path / "painting.mp4"  # a painting named like a video: a blunder the check must catch
    random_image(40, 40, seed=5).save(painting, format="PNG")
    before = painting.read_bytes()
    with pytest.raises(fastnst.FastNSTError, match="would overwrite the input"):
        fastnst.stylize_video(clip, painting, universal_file, style=str(painting), max_size=32)
    with pytest.raises(fastnst.FastNSTError, match="would overwrite the input"):
        run_webcam(str(clip), [universal_file], style=[str(painting)], window=False, output=painting)
    assert painting.read_bytes() == before and not list(tmp_path.glob(".*"))
