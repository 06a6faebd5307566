"""What a user sees when something is wrong: one line, a non-zero exit, and nothing lost or half-written.

Each test runs a command as typed and checks the exit code, the message and what is (not) left on disk.
"""

import _thread
import threading
import time

import av
import pytest
import torch

import fastnst
from fastnst import FastNSTError
from fastnst.cli import infer_main, train_main

from .helpers import make_clip, one_line, random_image, run_cli
from .train_helpers import TINY_FLAGS as TINY


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


# --------------------------------------------------------------------------------------- training
@pytest.mark.parametrize("flag, value, message", [
    ("--ckpt-every", "0", "--ckpt-every must be at least 1"),
    ("--log-every", "0", "--log-every must be at least 1"),
    ("--sample-every", "0", "--sample-every must be at least 1"),
    ("--workers", "-1", "--workers must be 0"),
    ("--style-size", "0", "--style-size must be at least 16"),
    ("--tv-weight", "-1", "must be numbers, not negative"),
])
def test_bad_training_options_fail_before_any_work(tmp_path, photo_dir, style_file, capsys, flag, value, message):
    code, _, err = run_cli(train_main, capsys, "--style", style_file, "--data", photo_dir, "--steps", 2,
                           "--logdir", tmp_path / "run", *TINY, flag, value)
    assert code == 2 and message in one_line(err)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("content, message", [
    (b"\x00garbage" * 100, "not a readable fastnst training checkpoint"),
    ("truncated", "not a readable fastnst training checkpoint"),
    ("inference", "not a fastnst training checkpoint"),
])
def test_resume_of_a_damaged_or_foreign_file_is_one_line(tmp_path, ckpt_file, capsys, content, message):
    bad = tmp_path / "bad.pt"
    if content == "truncated":
        bad.write_bytes(ckpt_file.read_bytes()[:5000])
    elif content == "inference":
        bad.write_bytes(ckpt_file.read_bytes())  # a small checkpoint: no optimizer state to resume
    else:
        bad.write_bytes(content)
    code, _, err = run_cli(train_main, capsys, "--resume", bad)
    assert code == 2 and message in one_line(err)


def test_a_style_checkpoint_given_as_loss_weights_is_named_as_such(tmp_path, photo_dir, style_file, ckpt_file, capsys):
    code, _, err = run_cli(train_main, capsys, "--style", style_file, "--data", photo_dir, "--loss-weights", ckpt_file,
                           "--logdir", tmp_path / "run")
    assert code == 2 and "is a style network checkpoint, not loss network weights" in one_line(err)


def test_a_folder_where_no_image_decodes_is_named_and_leaves_no_logs(tmp_path, style_file, capsys):
    photos = tmp_path / "broken"
    photos.mkdir()
    for i in range(3):
        random_image(64, 48, seed=i).save(tmp_path / "whole.jpg")
        data = (tmp_path / "whole.jpg").read_bytes()
        (photos / f"{i}.jpg").write_bytes(data[: len(data) // 2])  # the header is fine, the data cut
    code, _, err = run_cli(train_main, capsys, "--style", style_file, "--data", photos, "--steps", 2,
                           "--logdir", tmp_path / "run", *TINY)
    line = one_line(err)
    assert code == 2 and str(photos) in line and "none of its 3 images can be decoded" in line
    assert not (tmp_path / "run").exists()


def test_disk_full_while_saving_names_the_checkpoint_that_survived(tmp_path, photo_dir, style_file, capsys,
                                                                   monkeypatch):
    run = tmp_path / "run"
    argv = ["--style", style_file, "--data", photo_dir, "--logdir", run, "--ckpt-every", 1, *TINY]
    assert run_cli(train_main, capsys, *argv, "--steps", 1)[0] == 0
    kept = (run / "checkpoint.pt").read_bytes()
    real_save = torch.save

    def disk_full(obj, f, *args, **kwargs):
        real_save(obj, f, *args, **kwargs)  # part of it lands on disk, then the disk is full
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", disk_full)
    code, _, err = run_cli(train_main, capsys, "--resume", run / "checkpoint.pt", "--steps", 3)
    line = one_line(err)
    assert code == 1 and "no space left on device" in line
    assert f"the last good checkpoint, step 1, is {run / 'checkpoint.pt'}" in line
    assert (run / "checkpoint.pt").read_bytes() == kept
    assert not list(run.glob(".*.tmp*"))


@pytest.mark.usefixtures("ctrl_c_reaches_python")
def test_ctrl_c_during_training_says_where_to_resume(tmp_path, photo_dir, style_file, capsys):
    run = tmp_path / "run"

    def interrupt_after_the_first_checkpoint():
        deadline = time.monotonic() + 60
        while not (run / "checkpoint.pt").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        _thread.interrupt_main()  # what Ctrl-C does

    threading.Thread(target=interrupt_after_the_first_checkpoint, daemon=True).start()
    code, _, err = run_cli(train_main, capsys, "--style", style_file, "--data", photo_dir, "--logdir", run,
                           "--steps", 2000, "--ckpt-every", 1, *TINY)  # ends with 0 if Ctrl-C is lost
    line = one_line(err)
    assert code == 130 and f"--resume {run / 'checkpoint.pt'}" in line



def test_ctrl_c_just_after_a_checkpoint_landed_still_points_at_it(tmp_path, photo_dir, style_file, capsys,
                                                                  monkeypatch):
    run = tmp_path / "run"
    real_save = fastnst.checkpoint.atomic_save

    def save_then_ctrl_c(obj, path, *args):  # Ctrl-C after the rename, before the run has noted the save
        real_save(obj, path, *args)
        raise KeyboardInterrupt

    monkeypatch.setattr(fastnst.checkpoint, "atomic_save", save_then_ctrl_c)
    code, _, err = run_cli(train_main, capsys, "--style", style_file, "--data", photo_dir, "--logdir", run,
                           "--steps", 5, "--ckpt-every", 1, *TINY)
    assert code == 130
    assert f"resume from step 1 with --resume {run / 'checkpoint.pt'}" in one_line(err)

def test_a_temporary_file_left_by_a_killed_save_is_cleaned_up_by_the_next_run(tmp_path, photo_dir, style_file,
                                                                               capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / ".checkpoint.k3x9.tmp.pt").write_bytes(b"half a checkpoint")
    (run / ".tiles.q1w2.tmp.pt").write_bytes(b"half a checkpoint")
    assert run_cli(train_main, capsys, "--style", style_file, "--data", photo_dir, "--logdir", run, "--steps", 1,
                   *TINY)[0] == 0
    assert not list(run.glob(".*"))


# -------------------------------------------------------------------------------------- checkpoints
@pytest.mark.parametrize("content", [b"\x89random bytes" * 50, "code", "partial"])
def test_a_checkpoint_that_is_not_one_is_named_without_torchs_advice(tmp_path, capsys, content):
    photo = tmp_path / "photo.png"
    random_image(16, 16).save(photo)
    bad = tmp_path / "bad.pt"
    if content == "code":
        torch.save({"format": "fastnst", "payload": threading.Lock}, bad, _use_new_zipfile_serialization=True)
    elif content == "partial":
        torch.save({"format": "fastnst", "version": 1}, bad)  # says it is ours, holds nothing
    else:
        bad.write_bytes(content)
    code, _, err = run_cli(infer_main, capsys, photo, "--ckpt", bad)
    line = one_line(err)
    assert code == 2 and str(bad) in line and "weights_only" not in line
    assert ("damaged fastnst checkpoint" if content == "partial" else "not a fastnst or PyTorch checkpoint") in line


def test_a_bad_tile_size_fails_up_front_naming_the_flag(tmp_path, ckpt_file, capsys):
    photos = [tmp_path / f"{i}.png" for i in range(2)]
    for p in photos:
        random_image(16, 16).save(p)
    code, _, err = run_cli(infer_main, capsys, *photos, "--ckpt", ckpt_file, "--tile", 3)
    assert code == 2 and "--tile 3" in one_line(err)


def test_errors_during_a_progress_bar_start_their_own_line(tmp_path, ckpt_file, capsys):
    random_image(16, 16).save(tmp_path / "good.png")
    (tmp_path / "bad.png").write_bytes(b"not a png")
    code, _, err = run_cli(infer_main, capsys, tmp_path / "good.png", tmp_path / "bad.png", "--ckpt", ckpt_file)
    assert code == 1
    assert any(line.startswith(f"error: {tmp_path / 'bad.png'}") for line in err.replace("\r", "\n").splitlines())


def test_an_unexpected_failure_is_one_line_with_a_debug_hint(tmp_path, ckpt_file, capsys, monkeypatch):
    import fastnst.cli.stylize as command

    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(command, "plan_jobs", broken)
    photo = tmp_path / "photo.png"
    random_image(16, 16).save(photo)
    code, _, err = run_cli(infer_main, capsys, photo, "--ckpt", ckpt_file)
    line = one_line(err)
    assert code == 1 and "ZeroDivisionError" in line and "--debug" in line
    with pytest.raises(ZeroDivisionError):
        infer_main([str(photo), "--ckpt", str(ckpt_file), "--debug"])


@pytest.mark.parametrize("backend", [[], ["--backend", "onnxruntime"]])
def test_int8_for_an_onnx_model_is_refused_in_one_line(tmp_path, ckpt_file, capsys, backend):
    photo = tmp_path / "photo.png"
    random_image(16, 16).save(photo)
    onnx_file = tmp_path / "net.onnx"
    onnx_file.write_bytes(b"exported elsewhere")
    for ckpt in (onnx_file, ckpt_file) if backend else (onnx_file,):
        code, _, err = run_cli(infer_main, capsys, photo, "--ckpt", ckpt, "--precision", "int8", *backend)
        assert code == 2 and "--precision int8 runs whole images on the CPU" in one_line(err)


def test_the_python_api_names_options_as_python_does(tmp_path, ckpt_file):
    photo = random_image(16, 16)
    with pytest.raises(FastNSTError, match=r"^strength must be between 0 and 1, got 2$"):
        fastnst.stylize(photo, ckpt_file, strength=2)
    with pytest.raises(FastNSTError, match=r"^max_size must be a positive number of pixels$"):
        fastnst.stylize(photo, ckpt_file, options=fastnst.StylizeOptions(max_size=0))
    with pytest.raises(FastNSTError, match=r"^precision int8 runs whole images on the CPU .*leave out device, backend"):
        fastnst.Stylizer.load(tmp_path / "net.onnx", precision="int8")
    with pytest.raises(FastNSTError, match=r"^tile 3: tiles must be at least"):
        fastnst.Stylizer.load(ckpt_file).stylize(photo, fastnst.StylizeOptions(tile=3))
