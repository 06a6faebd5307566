"""Failures from outside the run: a SIGTERM, a full disk, another run in the same folder, files of
another kind (an exported .onnx) and checkpoints that contradict themselves. Each ends in one line."""

import errno
import fcntl
import os
import signal
import threading
import time

import av
import pytest
import torch
from PIL import Image

import fastnst.checkpoint
from fastnst import FastNSTError
from fastnst.checkpoint import atomic_save, build_checkpoint, load_checkpoint
from fastnst.cli import export_main, infer_main, train_main
from fastnst.cli.info import main as info_main
from fastnst.model import ModelConfig, TransformerNet
from fastnst.errors import first_line
from fastnst.video.writer import _Audio

from .helpers import make_clip, one_line, random_image, run_cli
from .train_helpers import TINY_FLAGS as TINY


def test_sigterm_during_training_keeps_the_checkpoint_and_says_where_to_resume(tmp_path, photo_dir, style_file,
                                                                                capsys):
    run = tmp_path / "run"

    def terminate_after_the_first_checkpoint():
        deadline = time.monotonic() + 60
        while not (run / "checkpoint.pt").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGTERM)  # what kill, a scheduler or a container sends

    before = signal.getsignal(signal.SIGTERM)
    threading.Thread(target=terminate_after_the_first_checkpoint, daemon=True).start()
    code, _, err = run_cli(train_main, capsys, "--style", style_file, "--data", photo_dir, "--logdir", run,
                           "--steps", 2000, "--ckpt-every", 1, *TINY)  # ends with 0 if SIGTERM is lost
    line = one_line(err)
    assert code == 143 and line.startswith("error: terminated at step")
    assert f"--resume {run / 'checkpoint.pt'}" in line
    assert torch.load(run / "checkpoint.pt", weights_only=True)["step"] >= 1
    assert signal.getsignal(signal.SIGTERM) is before  # the handler is the run's only


def test_a_second_run_into_the_same_logdir_is_refused_before_any_work(tmp_path, photo_dir, style_file, capsys):
    run = tmp_path / "run"
    run.mkdir()
    fd = os.open(run, os.O_RDONLY)  # what a run in progress holds
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    (run / ".checkpoint.k3x9.tmp.pt").write_bytes(b"the first run, saving")
    try:
        code, _, err = run_cli(train_main, capsys, "--style", style_file, "--data", photo_dir, "--logdir", run,
                               "--steps", 1, *TINY)
    finally:
        os.close(fd)
    line = one_line(err)
    assert code == 2 and str(run) in line and "another training run is writing to this folder" in line
    assert sorted(p.name for p in run.iterdir()) == [".checkpoint.k3x9.tmp.pt"]  # its save left alone
    # A run killed meanwhile holds nothing: the OS dropped its lock.
    assert run_cli(train_main, capsys, "--style", style_file, "--data", photo_dir, "--logdir", run,
                   "--steps", 1, *TINY)[0] == 0


SERIALIZER_FULL = "[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598"


class _FullDisk:
    """A file that takes `room` bytes and then fails as a full disk does."""

    def __init__(self, path, mode, room=2000):
        self.file, self.room = open(path, mode), room

    def write(self, data):
        self.room -= len(data)
        if self.room < 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        return self.file.write(data)

    def __getattr__(self, name):
        return getattr(self.file, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.file.close()


@pytest.mark.parametrize("where", ["a file", "under /proc"])
def test_a_logdir_that_is_a_file_or_cannot_be_made_is_one_line(tmp_path, photo_dir, style_file, capsys, where):
    logdir = tmp_path / "file" if where == "a file" else "/proc/fastnst-run"
    (tmp_path / "file").write_text("not a folder")
    code, _, err = run_cli(train_main, capsys, "--style", style_file, "--data", photo_dir, "--logdir", logdir,
                           "--steps", 1, *TINY)
    assert code == 2 and f"--logdir {logdir}" in one_line(err)


def test_disk_full_while_saving_a_training_checkpoint_says_no_space_not_the_serializers_internals(
        tmp_path, photo_dir, style_file, capsys, monkeypatch):
    run = tmp_path / "run"
    argv = ["--style", style_file, "--data", photo_dir, "--logdir", run, "--ckpt-every", 1, *TINY]
    assert run_cli(train_main, capsys, *argv, "--steps", 1)[0] == 0
    kept = (run / "checkpoint.pt").read_bytes()
    monkeypatch.setattr(fastnst.checkpoint, "open", _FullDisk, raising=False)  # the real torch.save, a full disk
    code, _, err = run_cli(train_main, capsys, "--resume", run / "checkpoint.pt", "--steps", 3)
    line = one_line(err)
    assert code == 1 and "unexpected pos" not in line and "enforce" not in line
    assert f"could not write the training checkpoint {run / 'checkpoint.pt'} at step 2 (no space left on device)" in line
    assert (run / "checkpoint.pt").read_bytes() == kept and not list(run.glob(".*.tmp*"))


@pytest.mark.parametrize("error", [OSError(errno.ENOSPC, "No space left on device"), RuntimeError(SERIALIZER_FULL),
                                   RuntimeError("[enforce fail at inline_container.cc:471] . PytorchStreamWriter "
                                                "failed writing file data/0: file write failed")])
def test_every_way_a_full_disk_is_reported_reads_no_space_left_on_device(error):
    assert first_line(error) == "no space left on device"


def test_disk_full_while_writing_an_image_names_the_input_and_the_output(tmp_path, photo_dir, ckpt_file, capsys,
                                                                          monkeypatch):
    def full(self, fp, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", full)
    code, _, err = run_cli(infer_main, capsys, photo_dir / "p0.jpg", "--ckpt", ckpt_file, "-o", tmp_path / "out.jpg")
    assert code == 1
    assert f"error: {photo_dir / 'p0.jpg'}: could not write {tmp_path / 'out.jpg'}: no space left on device" in err
    assert not (tmp_path / "out.jpg").exists() and not list(tmp_path.glob(".*"))


def test_disk_full_while_writing_a_video_names_it_and_leaves_no_file(tmp_path, ckpt_file, capsys, monkeypatch):
    clip = make_clip(tmp_path / "clip.mp4")

    def full(self, seconds):
        raise av.error.OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_Audio, "write_until", full)
    code, _, err = run_cli(infer_main, capsys, clip, "--ckpt", ckpt_file, "-o", tmp_path / "out.mp4")
    assert code == 1
    assert f"error: {tmp_path / 'out.mp4'}: cannot write video: no space left on device" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "tiles.pt"]


@pytest.mark.parametrize("kind", ["--onnx", "--torchscript"])
def test_disk_full_while_exporting_says_so_and_leaves_no_file(tmp_path, ckpt_file, capsys, monkeypatch, kind):
    if kind == "--onnx":
        onnx = pytest.importorskip("onnx")
        pytest.importorskip("onnxscript")

        def full(proto, f, *args, **kwargs):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(onnx, "save", full)
    else:
        monkeypatch.setattr(type(tmp_path), "write_bytes", lambda self, data: (_ for _ in ()).throw(
            OSError(errno.ENOSPC, "No space left on device")))
    target = tmp_path / "exports" / "net.out"
    code, _, err = run_cli(export_main, capsys, ckpt_file, kind, target)
    line = one_line(err)
    assert code == 1 and "no space left on device" in line and str(target) in line
    assert not list(target.parent.iterdir())


def test_disk_full_while_writing_tensorboard_logs_names_the_log_folder(tmp_path, photo_dir, style_file, capsys,
                                                                       monkeypatch):
    from torch.utils.tensorboard import SummaryWriter

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(SummaryWriter, "add_scalar", full)
    run = tmp_path / "run"
    code, _, err = run_cli(train_main, capsys, "--style", style_file, "--data", photo_dir, "--logdir", run,
                           "--steps", 2, *TINY)
    assert code == 1 and one_line(err) == f"error: could not write the TensorBoard logs in {run} (no space left on device)"


def _five_style_checkpoint(tmp_path):
    net = TransformerNet(ModelConfig(num_styles=5))
    return build_checkpoint(net, styles=[(f"s{i}", None) for i in range(5)], train_args={}, loss={}, step=0)


def test_a_checkpoint_whose_config_and_norms_disagree_on_the_style_count_says_both(tmp_path, capsys):
    state = _five_style_checkpoint(tmp_path)
    state["model_config"]["num_styles"] = 3
    state["styles"] = state["styles"][:3]
    path = atomic_save(state, tmp_path / "three.pt")
    code, _, err = run_cli(info_main, capsys, path)
    line = one_line(err)
    assert code == 2 and line.startswith(f"error: {path}: weights do not fit the network: its config says 3 "
                                          f"styles but its norms hold 5 (")
    assert "Error(s) in loading state_dict" not in line


def test_a_checkpoint_with_a_tensor_of_another_shape_names_it_and_both_shapes(tmp_path):
    state = _five_style_checkpoint(tmp_path)
    state["model"]["conv1.conv2d.weight"] = torch.zeros(32, 3, 5, 5)
    path = atomic_save(state, tmp_path / "odd.pt")
    with pytest.raises(FastNSTError, match=r"conv1\.conv2d\.weight is \[32, 3, 5, 5\] where the network has "
                                           r"\[32, 3, 9, 9\]$"):
        load_checkpoint(path)


@pytest.fixture(scope="module")
def two_style_onnx(tmp_path_factory):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from fastnst.inference.export import export_onnx

    folder = tmp_path_factory.mktemp("onnx")
    net = TransformerNet(ModelConfig(**{**ModelConfig.for_arch("light").to_dict(), "num_styles": 2}))
    ckpt = atomic_save(build_checkpoint(net, styles=[("candy", None), ("mosaic", None)], train_args={}, loss={},
                                        step=0), folder / "two.pt")
    return export_onnx(ckpt, folder / "two.onnx")


def test_info_and_list_styles_describe_an_exported_onnx_file(two_style_onnx, capsys):
    code, out, err = run_cli(info_main, capsys, two_style_onnx)
    assert code == 0 and not err
    assert out.splitlines()[:3] == [f"{two_style_onnx}: ONNX model (run with infer.py --ckpt {two_style_onnx}), "
                                    f"2 styles", "  0  candy", "  1  mosaic"]
    assert "network: light" in out
    code, out, err = run_cli(infer_main, capsys, "--list-styles", "--ckpt", two_style_onnx)
    assert code == 0 and not err
    assert out.splitlines() == [f"{two_style_onnx}: 2 styles", "  0  candy", "  1  mosaic"]


def test_an_onnx_file_with_backend_torch_is_refused_in_one_line(two_style_onnx, tmp_path, capsys):
    photo = tmp_path / "photo.png"
    random_image(16, 16).save(photo)
    code, _, err = run_cli(infer_main, capsys, photo, "--ckpt", two_style_onnx, "--backend", "torch")
    assert code == 2
    assert one_line(err) == f"error: {two_style_onnx}: an .onnx file runs with --backend onnxruntime (or auto)"
    assert list(tmp_path.iterdir()) == [photo]


# Outputs that cannot be written: (where, as the command line gives it; the words of its error).
def _unwritable(tmp_path):
    (tmp_path / "folder.mp4").mkdir(exist_ok=True)
    (tmp_path / "a-file").write_text("x")
    return [("/proc/fastnst/out.mp4", "cannot write /proc/fastnst/out.mp4: No such file or directory"),
            (tmp_path / "folder.mp4", f"cannot write {tmp_path / 'folder.mp4'}: it is a folder; give a file name"),
            (tmp_path / "a-file" / "out.mp4", f"cannot write {tmp_path / 'a-file' / 'out.mp4'}: {tmp_path / 'a-file'} "
                                              f"is a file, not a folder")]


def test_a_webcam_recording_that_cannot_be_written_is_one_line_before_the_camera_starts(tmp_path, ckpt_file, capsys):
    pytest.importorskip("cv2")
    clip = make_clip(tmp_path / "cam.mp4", frames=3, audio=None)
    for output, words in _unwritable(tmp_path):
        before = sorted(tmp_path.rglob("*"))
        code, out, err = run_cli(infer_main, capsys, "--webcam", clip, "--ckpt", ckpt_file, "--no-window",
                                 "--output", output)
        assert code == 2 and one_line(err) == f"error: {words}" and out == ""
        assert sorted(tmp_path.rglob("*")) == before


def test_training_outputs_that_cannot_be_written_are_one_line_before_any_step(tmp_path, photo_dir, style_file,
                                                                             capsys):
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "folder.pt").mkdir()
    cases = [(["--out", "/proc/fastnst/net.pt"], "--out /proc/fastnst/net.pt: cannot write it: No such file or "
                                                 "directory"),
             (["--out", tmp_path / "folder.pt"], f"--out {tmp_path / 'folder.pt'}: cannot write it: it is a folder; "
                                                 f"give a file name"),
             (["--ckpt-path", tmp_path / "a-file" / "c.pt"], f"--ckpt-path {tmp_path / 'a-file' / 'c.pt'}: cannot "
                                                             f"write it: {tmp_path / 'a-file'} is a file, not a "
                                                             f"folder"),
             (["--logdir", tmp_path / "a-file"], f"--logdir {tmp_path / 'a-file'}: cannot make this folder: "
                                                 f"{tmp_path / 'a-file'} is a file, not a folder"),
             (["--logdir", "/proc/fastnst/run"], "--logdir /proc/fastnst/run: cannot make this folder: No such file "
                                                 "or directory")]
    for flags, words in cases:
        logdir = [] if "--logdir" in flags else ["--logdir", tmp_path / "run"]
        code, out, err = run_cli(train_main, capsys, "--style", style_file, "--data", photo_dir, "--steps", 1,
                                 *logdir, *flags, *TINY)
        assert code == 2 and one_line(err) == f"error: {words}" and "step 1" not in out, flags
    assert not (tmp_path / "run" / "checkpoint.pt").exists() and not list(tmp_path.rglob(".*.tmp*"))


def test_an_export_or_an_optimization_that_cannot_be_written_is_one_line_before_the_work(tmp_path, ckpt_file,
                                                                                         style_file, capsys):
    from fastnst.cli import optimize_main

    (tmp_path / "a-file").write_text("x")
    target = tmp_path / "a-file" / "net.ts"
    code, out, err = run_cli(export_main, capsys, ckpt_file, "--torchscript", target)
    assert code == 2 and out == "" and one_line(err) == (f"error: --torchscript {target}: cannot write it: "
                                                         f"{tmp_path / 'a-file'} is a file, not a folder")
    code, out, err = run_cli(export_main, capsys, ckpt_file, "--onnx", ckpt_file)
    assert code == 2 and one_line(err) == (f"error: --onnx {ckpt_file} would overwrite the input {ckpt_file}; "
                                           f"choose another --onnx")
    photo = tmp_path / "photo.png"
    random_image(24, 20).save(photo)
    code, out, err = run_cli(optimize_main, capsys, photo, "--style", style_file, "-o", "/proc/fastnst/out.png",
                             "--steps", 1, "--loss-weights", "random")
    assert code == 2 and one_line(err) == "error: cannot write /proc/fastnst/out.png: No such file or directory"
