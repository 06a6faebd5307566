"""Failures from outside the run: a SIGTERM, a full disk, another run in the same folder, files of
another kind (an exported .onnx) and checkpoints that contradict themselves. Each ends in one line."""

import errno
import fcntl
import os
import signal
import threading
import time

import pytest
import torch

from fastnst.cli import train_main

from .conftest import run_cli

TINY = ["--image-size", "32", "--batch-size", "2", "--loss-net", "vgg16", "--loss-weights", "random",
        "--workers", "0", "--style-size", "64", "--no-progress"]


def one_line(err: str) -> str:
    lines = [line for line in err.replace("\r", "\n").splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert "Traceback" not in err
    return lines[0]


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
