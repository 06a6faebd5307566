import _thread
import errno
import fcntl
import os
import signal
import threading
import time

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import fastnst
import fastnst.checkpoint
from fastnst import TrainConfig
from fastnst.checkpoint import atomic_save, build_checkpoint, load_checkpoint
from fastnst.cli import info_main, train_main
from fastnst.errors import FastNSTError
from fastnst.training.config import minutes_defaults
from fastnst.training.styles import style_names

from .helpers import (STYLE_DIR, TRAIN_DIR, VAL_DIR, VGG19_WEIGHTS, contrasty_net, needs_shared, one_line, random_image,
                      run_cli)
from .train_helpers import TINY_FLAGS as TINY
from .train_helpers import as_flags, small_run


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


def _styles(folder, names):
    folder.mkdir(exist_ok=True)
    paths = []
    for i, name in enumerate(names):
        paths.append(folder / f"{name}.png")
        random_image(48, 40, seed=i + 1).save(paths[-1])
    return [str(p) for p in paths]


def _files(folder):
    return sorted((p.relative_to(folder), p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*"))


def weights(path):
    return torch.load(path, weights_only=True)["model"]


def test_resume_gives_identical_weights(tmp_path, photo_dir, style_file):
    straight = fastnst.train(style=str(style_file), data=str(photo_dir), steps=6, **small_run(tmp_path / "a"))
    fastnst.train(style=str(style_file), data=str(photo_dir), steps=3, **small_run(tmp_path / "b"))
    # resume picks up the stored options; a different worker count must not change the data
    resumed = fastnst.train(resume=str(tmp_path / "b" / "checkpoint.pt"), steps=6, workers=1)
    assert resumed == tmp_path / "b" / "tiles.pt"
    a, b = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=True), torch.load(
        tmp_path / "b" / "checkpoint.pt", weights_only=True)
    assert a["step"] == b["step"] == 6
    for name in a["model"]:
        assert torch.equal(a["model"][name], b["model"][name]), name
    assert all(torch.equal(x, y) for x, y in zip(weights(straight).values(), weights(resumed).values()))


def test_a_run_on_a_small_painting_resumes_without_style_and_after_ctrl_c(tmp_path, photo_dir, monkeypatch):
    import fastnst.training.loop as loop

    painting = tmp_path / "noise.png"  # about 100 px of fine detail: no thumbnail tells it apart reliably
    random_image(140, 100, seed=3).save(painting)
    run = tmp_path / "run"
    fastnst.train(style=str(painting), data=str(photo_dir), steps=2, ckpt_every=1, **small_run(run))
    real_step = loop.compute_losses

    def ctrl_c_at_step_4(*args):
        if args[3] == 4:  # the step number
            raise KeyboardInterrupt
        return real_step(*args)

    monkeypatch.setattr(loop, "compute_losses", ctrl_c_at_step_4)
    with pytest.raises(FastNSTError, match="interrupted at step 4; resume from step 3") as stopped:
        fastnst.train(resume=str(run / "checkpoint.pt"), steps=8)  # its own painting, as stored: resumed
    assert stopped.value.exit_code == 130
    monkeypatch.setattr(loop, "compute_losses", real_step)
    fastnst.train(resume=str(run / "checkpoint.pt"), steps=4)  # what the Ctrl-C message says to do
    assert torch.load(run / "checkpoint.pt", weights_only=True)["step"] == 4
    random_image(140, 100, seed=4).save(painting)  # another painting under the same name: refused
    with pytest.raises(FastNSTError, match="the painting .*noise.png is not the painting that run trained as noise "
                                           r"\(the file has changed since\)"):
        fastnst.train(resume=str(run / "checkpoint.pt"), steps=5)


def test_tensorboard_logs_every_loss_term_and_sample_images(tmp_path, photo_dir, style_file):
    fastnst.train(style=str(style_file), data=str(photo_dir), steps=2, **small_run(tmp_path / "tb"))
    events = EventAccumulator(str(tmp_path / "tb"), size_guidance={"images": 0, "scalars": 0}).Reload()
    scalars = set(events.Tags()["scalars"])
    expected = {"loss/content", "loss/style", "loss/tv", "loss/total", "train/lr", "train/images_per_s",
                "loss/style_relu1_2", "loss/style_relu2_2", "loss/style_relu3_3", "loss/style_relu4_3"}
    assert expected <= scalars
    assert [e.step for e in events.Scalars("loss/total")] == [1, 2]
    assert {"samples", "style"} <= set(events.Tags()["images"])
    assert (tmp_path / "tb" / "tiles.pt").is_file() and (tmp_path / "tb" / "checkpoint.pt").is_file()


def test_checkpoint_describes_itself(tmp_path, photo_dir, style_file):
    out = fastnst.train(style=str(style_file), data=str(photo_dir), steps=1, out=str(tmp_path / "x.pt"),
                        **small_run(tmp_path / "r"))
    ckpt = fastnst.load_checkpoint(out)
    assert ckpt.style_name == "tiles" and ckpt.step == 1 and ckpt.style_thumbnail is not None
    assert ckpt.train_args["image_size"] == 32 and ckpt.train_args["style"] == str(style_file)
    loss = {k: ckpt.loss[k] for k in ("loss_net", "loss_weights", "content_layers", "style_layers")}
    assert loss == {"loss_net": "vgg16", "loss_weights": "random", "content_layers": ["relu2_2"],
                    "style_layers": ["relu1_2", "relu2_2", "relu3_3", "relu4_3"]}
    expected = fastnst.LossConfig(loss_net="vgg16", loss_weights="random", style_size=64)
    assert fastnst.LossConfig.from_dict(ckpt.loss) == expected
    assert not set(ckpt.loss) & set(ckpt.train_args)  # each option stored once
    assert "optimizer" not in ckpt.raw  # the --out file is the small one


def test_a_loss_that_is_not_finite_stops_and_keeps_the_last_good_checkpoint(tmp_path, photo_dir, style_file):
    fastnst.train(style=str(style_file), data=str(photo_dir), steps=2, **small_run(tmp_path / "n"))
    good = (tmp_path / "n" / "checkpoint.pt").read_bytes()
    # A learning rate far too large: the update of step 3 blows the weights up, step 4's loss is not finite.
    with pytest.raises(FastNSTError, match="became nan at step 4.*last good checkpoint, step 2") as info:
        fastnst.train(resume=str(tmp_path / "n" / "checkpoint.pt"), steps=6, lr=1e37)
    assert info.value.exit_code == 1
    assert (tmp_path / "n" / "checkpoint.pt").read_bytes() == good


def test_resume_takes_a_new_learning_rate(tmp_path, photo_dir, style_file):
    fastnst.train(style=str(style_file), data=str(photo_dir), steps=1, **small_run(tmp_path / "r"))
    fastnst.train(resume=str(tmp_path / "r" / "checkpoint.pt"), steps=2, lr=5e-4)
    state = torch.load(tmp_path / "r" / "checkpoint.pt", weights_only=True)
    assert state["optimizer"]["param_groups"][0]["lr"] == 5e-4 and state["train_args"]["lr"] == 5e-4


def test_bad_options_are_one_line_errors(tmp_path, photo_dir, style_file, capsys):
    cases = [
        ["--style", str(tmp_path / "missing.jpg"), "--data", str(photo_dir)],
        ["--style", str(style_file), "--data", str(tmp_path / "nowhere")],
        ["--style", str(style_file), "--steps", "0"],
        ["--style", str(style_file), "--style-layers", "relu1_2,relu2_2", "--style-layer-weights", "1"],
        ["--style", str(style_file), "--data", str(photo_dir), "--loss-weights", "random", "--content-layers", "relu7_1"],
        ["--data", str(photo_dir)],
    ]
    for argv in cases:
        assert train_main(argv + ["--no-progress", "--logdir", str(tmp_path / "r")]) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: "), err


def test_without_a_progress_bar_a_training_reports_a_line_every_log_step(tmp_path, photo_dir, style_file, capsys):
    # A run in the background (nohup, a cluster job) writes its progress to the log file as plain lines.
    code = train_main(["--style", str(style_file), "--data", str(photo_dir), "--steps", "4",
                       *as_flags(small_run(tmp_path / "r", log_every=2))])
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert [line.split(":")[0] for line in lines[:2]] == ["step 2/4", "step 4/4"]
    assert "content " in lines[0] and "style " in lines[0] and "img/s" in lines[0]
    assert lines[-1].startswith("saved ")


def test_a_run_of_minutes_ends_by_its_budget_says_its_steps_and_resumes_to_a_larger_budget(tmp_path, photo_dir,
                                                                                          style_file, capsys):
    run = tmp_path / "run"
    code, out, err = run_cli(train_main, capsys, "--style", style_file, "--data", photo_dir, "--minutes", 0.02,
                             *as_flags(small_run(run, log_every=1000)))
    assert code == 0 and err == ""
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    assert state["seconds"] >= 1.2 and state["step"] >= 1 and state["train_args"]["minutes"] == 0.02
    assert out.splitlines()[-2:] == [f"trained {state['step']} steps in {state['seconds']:.1f} s (budget 0.02 min)",
                                     f"saved {run / 'tiles.pt'}"]
    minutes = EventAccumulator(str(run), size_guidance={"scalars": 0}).Reload().Scalars("train/minutes")
    assert minutes[-1].step == state["step"] and minutes[-1].value == pytest.approx(state["seconds"] / 60)
    # --resume goes on until the seconds of both runs reach the new budget
    code, out, err = run_cli(train_main, capsys, "--resume", run / "checkpoint.pt", "--minutes", 0.04, "--no-progress")
    resumed = torch.load(run / "checkpoint.pt", weights_only=True)
    assert code == 0 and resumed["seconds"] >= 2.4 and resumed["step"] > state["step"]
    assert resumed["loss"]["style_gains"] == state["loss"]["style_gains"] and "style weight x" not in out  # kept
    assert out.splitlines()[-2].startswith(f"trained {resumed['step'] - state['step']} steps in ")
    assert out.splitlines()[-2].endswith(f", {resumed['step']} in {resumed['seconds']:.1f} s in all (budget 0.04 min)")
    code, _, err = run_cli(train_main, capsys, "--resume", run / "checkpoint.pt")  # the stored budget: spent
    assert code == 2 and "of its 0.04-minute budget; ask for more with --minutes" in one_line(err)


@pytest.mark.parametrize("arch, init, bundled", [
    (None, None, "mosaic.pt"),          # a run of minutes starts from the bundled net of its architecture
    ("tiny", None, "realtime/mosaic.pt"),
    ("light", None, None),              # no bundled light net: from random weights
    (None, "none", None),               # --init none: from random weights
])
def test_a_run_of_minutes_starts_from_the_bundled_net_of_its_architecture(tmp_path, photo_dir, style_file, capsys,
                                                                           arch, init, bundled):
    flags = as_flags(small_run(tmp_path / "run", log_every=1000, arch=arch, init=init, lr=1e-9))
    code, out, err = run_cli(train_main, capsys, "--style", style_file, "--data", photo_dir, "--minutes", 0.005, *flags)
    stored = load_checkpoint(tmp_path / "run" / "tiles.pt")
    assert code == 0 and stored.train_args["init"] == (str(fastnst.bundled.bundled_path(bundled)) if bundled else init)
    assert ("starting from " in out) == (bundled is not None)
    assert stored.loss["style_weight"] == 3e4  # the quick recipe's, where --style-weight is not given
    assert stored.loss["style_boost"] == 2 and 1 <= stored.loss["style_gains"][0] <= 2 and "style weight x " in out
    code, out, _ = run_cli(info_main, capsys, tmp_path / "run" / "tiles.pt")
    assert f"style weight 30000, x {stored.loss['style_gains'][0]:.3g}," in out
    if bundled:  # the bundled net's weights, a step too small to move them
        start = load_checkpoint(fastnst.bundled.bundled_path(bundled)).model.state_dict()
        name = next(n for n in start if n.endswith("weight") and start[n].dim() == 4)
        torch.testing.assert_close(stored.model.state_dict()[name], start[name], atol=1e-3, rtol=1e-3)


def test_the_quick_recipe_fills_in_only_what_a_new_run_of_minutes_leaves_out():
    quick = {"minutes": 10, "style_weight": 3e4, "style_boost": 2.0, "image_size": 128}
    assert minutes_defaults({"minutes": 10}, on_cpu=True) == quick
    assert minutes_defaults({"minutes": 10}, on_cpu=False) == {"minutes": 10, "style_weight": 3e4, "style_boost": 2.0}
    assert minutes_defaults({"minutes": 10, "style_weight": 1e4}, on_cpu=False) == {"minutes": 10, "style_weight": 1e4}
    assert minutes_defaults({"minutes": 10, "style_boost": 1.0}, on_cpu=False)["style_boost"] == 1.0
    assert minutes_defaults({"minutes": 10, "image_size": 256}, on_cpu=True)["image_size"] == 256
    assert minutes_defaults({"minutes": 10, "distill": "t.pt"}, on_cpu=True) == {"minutes": 10, "distill": "t.pt",
                                                                                 "image_size": 128}
    for options in ({"steps": 10}, {"minutes": 10, "resume": "c.pt"}):
        assert minutes_defaults(options, on_cpu=True) == options


def test_a_run_of_steps_starts_from_random_weights_and_a_given_style_weight_holds(tmp_path, photo_dir, style_file):
    out = fastnst.train(style=str(style_file), data=str(photo_dir), steps=1, **small_run(tmp_path / "steps"))
    assert load_checkpoint(out).train_args["init"] is None and load_checkpoint(out).loss["style_weight"] == 1e4
    assert load_checkpoint(out).loss["style_gains"] is None  # no boost: nothing measured
    out = fastnst.train(style=str(style_file), data=str(photo_dir), minutes=0.005, style_weight=2e3,
                        **small_run(tmp_path / "minutes"))
    assert load_checkpoint(out).loss["style_weight"] == 2e3


@needs_shared
@pytest.mark.slow
def test_short_real_run_lowers_the_style_loss(tmp_path):
    weights_file = VGG19_WEIGHTS if VGG19_WEIGHTS.is_file() else "random"
    logdir = tmp_path / "real"
    code = train_main(["--style", str(STYLE_DIR / "mosaic.jpg"), "--data", str(TRAIN_DIR), "--val-dir", str(VAL_DIR),
                       "--loss-net", "vgg19", "--loss-weights", str(weights_file), "--image-size", "64",
                       "--style-size", "128", "--steps", "40", "--log-every", "1", "--workers", "0",
                       "--logdir", str(logdir), "--no-progress"])
    assert code == 0
    style = [e.value for e in EventAccumulator(str(logdir)).Reload().Scalars("loss/style")]
    # The recipe's guard. Measured: 0.55 (bf16) and 0.56 (fp32) with the defaults; 0.67 with the
    # first recipe (layer weights 1 each, lr 1e-3 throughout), which this bound rejects.
    assert sum(style[-5:]) / 5 < 0.62 * sum(style[:5]) / 5


def test_init_starts_from_another_networks_weights_with_a_fresh_optimizer(tmp_path, photo_dir, style_file):
    first = fastnst.train(style=str(style_file), data=str(photo_dir), steps=2,
                          **small_run(tmp_path / "a", arch="light"))
    warm = fastnst.train(style=str(style_file), data=str(photo_dir), steps=1, init=str(first),
                         **small_run(tmp_path / "b", lr=1e-9))  # a step too small to move the weights
    started, ended = fastnst.load_checkpoint(first), fastnst.load_checkpoint(warm)
    assert ended.model.config.arch == "light" and ended.train_args["init"] == str(first)
    for name, value in started.model.state_dict().items():
        torch.testing.assert_close(ended.model.state_dict()[name], value, atol=1e-3, rtol=1e-3)
    state = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)
    assert state["step"] == 1 and all(s["step"] == 1 for s in state["optimizer"]["state"].values())


# --------------------------------------------------------------------------------------- training
@pytest.mark.parametrize("flag, value, message", [
    ("--ckpt-every", "0", "--ckpt-every must be at least 1"),
    ("--log-every", "0", "--log-every must be at least 1"),
    ("--sample-every", "0", "--sample-every must be at least 1"),
    ("--workers", "-1", "--workers must be 0"),
    ("--style-size", "0", "--style-size must be at least 16"),
    ("--tv-weight", "-1", "must be numbers, not negative"),
    ("--minutes", "0", "--minutes must be a positive number of minutes"),
    ("--minutes", "-1", "--minutes must be a positive number of minutes"),
    ("--minutes", "nan", "--minutes must be a positive number of minutes"),
    ("--minutes", "inf", "--minutes must be a positive number of minutes"),
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


@pytest.mark.parametrize("options,message", [
    (dict(steps="3"), "steps must be a whole number or None, got '3' (a str)"),
    (dict(steps=2.5), "steps must be a whole number or None, got 2.5"),
    (dict(lr="0.1"), "lr must be a number, got '0.1' (a str)"),
    (dict(image_size=32.0), "image_size must be a whole number, got 32.0"),
    (dict(seed="1"), "seed must be a whole number, got '1' (a str)"),
    (dict(epochs="1"), "epochs must be a number or None, got '1' (a str)"),
    (dict(style_weight="1e4"), "style_weight must be a number, got '1e4' (a str)"),
    (dict(content_layers=["relu2_2", 3]), "content_layers: each must be a string, got 3"),
])
def test_train_with_an_option_of_the_wrong_type_raises_before_any_file_is_written(tmp_path, style_file, photo_dir,
                                                                                   options, message):
    logdir = tmp_path / "run"
    with pytest.raises(FastNSTError) as caught:
        fastnst.train(style=str(style_file), data=str(photo_dir), logdir=str(logdir), workers=0, progress=False,
                      **options)
    assert str(caught.value) == message
    assert not logdir.exists()  # no events file, no checkpoint


def test_train_config_check_names_the_wrong_type_and_accepts_paths_and_numpy_numbers(tmp_path, style_file):
    with pytest.raises(FastNSTError, match=r"^steps must be a whole number or None, got 2.5$"):
        TrainConfig(style=str(style_file), steps=2.5).check()
    TrainConfig(style=style_file, data=tmp_path, logdir=tmp_path / "run", steps=np.int64(3), lr=np.float32(1e-3),
                progress=True).check()


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


def test_resuming_a_run_of_several_styles_with_another_style_list_is_refused_before_any_work(tmp_path, photo_dir,
                                                                                          capsys):
    from fastnst.cli import info_main, train_main

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
    from fastnst.cli import info_main, train_main

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
    from fastnst.cli import info_main, train_main

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


@pytest.mark.parametrize("case", ["--out painting", "--ckpt-path painting", "--out teacher", "--out init",
                                  "--out resumed", "--out a training photo", "--out is --ckpt-path"])
def test_training_refuses_an_output_that_is_a_file_it_reads_before_any_work(tmp_path, photo_dir, style_file,
                                                                            ckpt_file, capsys, case):
    run = tmp_path / "run"
    if case == "--out resumed":
        assert run_cli(train_main, capsys, "--style", style_file, "--data", photo_dir, "--steps", 1,
                       *as_flags(small_run(run)))[0] == 0
    given = {"--out painting": ["--style", style_file, "--out", style_file],
             "--ckpt-path painting": ["--style", style_file, "--ckpt-path", style_file],
             "--out teacher": ["--distill", ckpt_file, "--out", ckpt_file],
             "--out init": ["--style", style_file, "--init", ckpt_file, "--out", ckpt_file],
             "--out resumed": ["--resume", run / "checkpoint.pt", "--out", run / "checkpoint.pt"],
             "--out a training photo": ["--style", style_file, "--out", photo_dir / "nested" / "deep.png"],
             "--out is --ckpt-path": ["--style", style_file, "--out", tmp_path / "a.pt", "--ckpt-path",
                                      tmp_path / "a.pt"]}[case]
    kept = {p: p.read_bytes() for p in (style_file, ckpt_file, run / "checkpoint.pt", photo_dir / "nested" / "deep.png")
            if p.exists()}
    logdir = tmp_path / "new-run"
    code, _, err = run_cli(train_main, capsys, *given, "--steps", 2, "--data", photo_dir,
                           *as_flags(small_run(logdir)))
    option, replaced = given[-2], given[-1]
    line = one_line(err)
    if case == "--out is --ckpt-path":
        assert line == (f"error: --out {replaced} is the training checkpoint (--ckpt-path): the small inference "
                        f"checkpoint would replace it; choose another --out")
    else:
        assert line == f"error: {option} {replaced} would overwrite the input {replaced}; choose another {option}"
    assert code == 2 and {p: p.read_bytes() for p in kept} == kept
    assert not logdir.exists() and not (tmp_path / "a.pt").exists()


# ------------------------------------------------------------------------------------ style names
@pytest.mark.parametrize("option", ["--out", "--ckpt-path"])
def test_training_refuses_an_output_that_is_the_painting_or_the_init_net(tmp_path, photo_dir, style_file, ckpt_file,
                                                                         capsys, option):
    painting = style_file.read_bytes()
    argv = ["--style", style_file, "--data", photo_dir, "--steps", 1, *as_flags(small_run(tmp_path / "r"))]
    code, _, err = run_cli(train_main, capsys, *argv, option, style_file)
    assert code == 2 and f"would overwrite the input {style_file}" in one_line(err)
    code, _, err = run_cli(train_main, capsys, *argv, "--init", ckpt_file, option, ckpt_file)
    assert code == 2 and f"would overwrite the input {ckpt_file}" in one_line(err)
    assert style_file.read_bytes() == painting and load_checkpoint(ckpt_file).step == 0


def test_training_names_styles_by_their_file_stems_made_safe(tmp_path):
    assert style_names(["styles/rain-princess.jpg", "x/.dotted.png", "y/tab\there.png"]) == \
        ["rain-princess", "dotted", "tab_here"]


def test_training_into_a_log_draws_no_bar_and_reports_plain_lines(tmp_path, photo_dir, style_file, capsys):
    code = train_main(["--style", str(style_file), "--data", str(photo_dir), "--steps", "2",
                       *as_flags(small_run(tmp_path / "r", log_every=1, progress=True))])  # no --no-progress
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    assert [line.split(":")[0] for line in out.splitlines()[:2]] == ["step 1/2", "step 2/2"]
