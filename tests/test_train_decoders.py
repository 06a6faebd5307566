"""Training the universal model's decoders (`python -m fastnst train-decoders`, train_decoders):
the same loop as a style network's, so the same care: refusals in one line before any work,
outputs that never replace an input, SIGTERM, stale temporaries, resuming older files."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
import torch
from PIL import Image

from fastnst.cli import train_decoders_main
from fastnst.errors import FastNSTError
from fastnst.loss.vgg import vgg_features
from fastnst.training.decoders import DecoderConfig, train_decoders
from fastnst.training.config import RunConfig, TrainConfig
from fastnst.universal import UniversalConfig, UniversalNet, load_universal, save_universal

from .helpers import one_line, random_image, run_cli


def flags(photo_dir, logdir, *more):
    """A run that takes seconds: two small levels of a random encoder, 32-px crops."""
    return ["--data", photo_dir, "--encoder-weights", "random", "--levels", "relu2_1", "relu1_1", "--image-size", "32",
            "--batch-size", "2", "--workers", "0", "--logdir", logdir, "--no-progress", "--lr", "1e-3", *more]


@pytest.fixture
def finished_run(tmp_path, photo_dir, capsys):
    """A decoder run of two steps, a checkpoint at each."""
    logdir = tmp_path / "run"
    code, _, err = run_cli(train_decoders_main, capsys, *flags(photo_dir, logdir, "--steps", 2, "--ckpt-every", 1))
    assert code == 0, err
    return logdir


def test_decoder_config_shares_the_run_options_of_train_config():
    shared = set(RunConfig.field_names())
    assert len(shared) >= 18 and shared <= set(DecoderConfig.field_names()) and shared <= set(TrainConfig.field_names())
    assert DecoderConfig.__mro__[1] is RunConfig


def test_train_decoders_checks_option_types_before_making_the_log_folder(tmp_path, photo_dir):
    for options, message in [(dict(steps=1.5), "steps must be a whole number or None, got 1.5"),
                             (dict(lr="0.1"), "lr must be a number, got '0.1' (a str)"),
                             (dict(sample_style=3), "sample_style must be a path (a string or a Path) or None, got 3"),
                             (dict(bogus=1), "unknown decoder training option(s): bogus")]:
        with pytest.raises(FastNSTError) as caught:
            train_decoders(data=str(photo_dir), encoder_weights="random", logdir=str(tmp_path / "run"), **options)
        assert str(caught.value) == message
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("flag, value, message", [
    ("--lr", "inf", "--lr must be a positive number"),
    ("--lr", "nan", "--lr must be a positive number"),
    ("--feature-weight", "inf", "--feature-weight must be a number, not negative"),
    ("--minutes", "0", "--minutes must be a positive number of minutes"),
    ("--minutes", "nan", "--minutes must be a positive number of minutes"),
])
def test_an_infinite_rate_or_feature_weight_or_no_budget_is_refused_before_any_work(tmp_path, photo_dir, capsys, flag, value,
                                                                       message):
    code, _, err = run_cli(train_decoders_main, capsys, *flags(photo_dir, tmp_path / "run", "--steps", 1, flag, value))
    assert code == 2 and message in one_line(err)
    assert not (tmp_path / "run").exists()


def test_a_rate_that_blows_the_weights_up_stops_without_writing_a_universal_file(tmp_path, photo_dir, capsys):
    code, _, err = run_cli(train_decoders_main, capsys, *flags(photo_dir, tmp_path / "run", "--steps", 3,
                                                               "--lr", "1e30", "--lr-decay-at", "1"))
    line = one_line(err)
    assert code == 1 and "training stopped" in line and "no checkpoint was written yet" in line
    assert not (tmp_path / "run" / "universal.pt").exists() and not (tmp_path / "run" / "decoders.pt").exists()


def test_init_of_another_width_or_beside_resume_is_refused_in_one_line(tmp_path, photo_dir, finished_run, capsys):
    torch.manual_seed(0)
    narrow = save_universal(UniversalNet(UniversalConfig(("relu2_1", "relu1_1"), 0.25), encoder_weights="random"),
                            tmp_path / "narrow.pt")
    code, _, err = run_cli(train_decoders_main, capsys, *flags(photo_dir, tmp_path / "new", "--steps", 1,
                                                               "--init", narrow))
    assert code == 2 and "has decoders of width 0.25, this run's are 0.5: give --width 0.25" in one_line(err)
    code, _, err = run_cli(train_decoders_main, capsys, "--resume", finished_run / "decoders.pt", "--steps", 3,
                           "--init", finished_run / "universal.pt")
    assert code == 2 and "--resume goes on with that run's own weights" in one_line(err)
    assert not (tmp_path / "new").exists()


def test_init_of_the_same_width_starts_from_its_decoders(tmp_path, photo_dir, finished_run, capsys):
    code, _, err = run_cli(train_decoders_main, capsys, *flags(photo_dir, tmp_path / "warm", "--steps", 1,
                                                               "--lr", "1e-12", "--init", finished_run / "universal.pt"))
    assert code == 0, err
    start, end = load_universal(finished_run / "universal.pt").net, load_universal(tmp_path / "warm" / "universal.pt").net
    for name, value in start.decoders.state_dict().items():
        torch.testing.assert_close(end.decoders.state_dict()[name], value, atol=1e-3, rtol=1e-3)


@pytest.mark.parametrize("given", [["--levels", "relu1_1"], ["--width", "0.25"]])
def test_resume_with_other_levels_or_width_is_one_line(finished_run, capsys, given):
    code, _, err = run_cli(train_decoders_main, capsys, "--resume", finished_run / "decoders.pt", "--steps", 3, *given)
    assert code == 2 and "that run trains the decoders of relu2_1, relu1_1 at width 0.5" in one_line(err)


@pytest.mark.parametrize("where", ["out under /proc", "logdir under /proc", "out is a folder", "logdir is a file",
                                   "out under a file"])
def test_an_output_or_log_folder_that_cannot_be_written_is_one_line(tmp_path, photo_dir, capsys, where):
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("not a folder")
    logdir, out = tmp_path / "run", tmp_path / "u.pt"
    if where.startswith("logdir"):
        logdir = "/proc/fastnst-run" if "proc" in where else tmp_path / "file"
    else:
        out = {"out under /proc": "/proc/fastnst/u.pt", "out is a folder": tmp_path / "folder",
               "out under a file": tmp_path / "file" / "u.pt"}[where]
    code, _, err = run_cli(train_decoders_main, capsys, *flags(photo_dir, logdir, "--steps", 1, "--out", out))
    line = one_line(err)
    assert code == 2 and str(out if where.startswith("out") else logdir) in line
    assert not list((tmp_path / "folder").iterdir())


@pytest.mark.parametrize("which", ["init", "encoder_weights", "sample_style"])
def test_out_never_replaces_a_file_the_run_reads(tmp_path, photo_dir, finished_run, capsys, which):
    reads = {"init": finished_run / "universal.pt", "encoder_weights": tmp_path / "vgg.pth",
             "sample_style": tmp_path / "painting.png"}[which]
    if which == "encoder_weights":
        torch.save(vgg_features("vgg19").state_dict(), reads)
    if which == "sample_style":
        random_image(48, 48).save(reads)
    before = reads.read_bytes()
    argv = flags(photo_dir, tmp_path / "new", "--steps", 1, "--out", reads, f"--{which.replace('_', '-')}", reads)
    if which == "encoder_weights":
        argv.remove("random")
        argv.remove("--encoder-weights")
    code, _, err = run_cli(train_decoders_main, capsys, *argv)
    assert code == 2 and f"would overwrite the input {reads}" in one_line(err)
    assert reads.read_bytes() == before


def test_a_sample_painting_too_small_to_measure_is_refused_before_any_work(tmp_path, photo_dir, capsys):
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (4, 4)).save(tiny)
    code, _, err = run_cli(train_decoders_main, capsys, *flags(photo_dir, tmp_path / "run", "--steps", 1,
                                                               "--sample-style", tiny))
    assert code == 2 and "the painting is 4x4" in one_line(err)
    assert not (tmp_path / "run").exists()


def test_a_sample_painting_shows_its_stylizations(tmp_path, photo_dir, capsys):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    painting = tmp_path / "painting.png"
    random_image(20, 24).save(painting)
    code, _, err = run_cli(train_decoders_main, capsys, *flags(photo_dir, tmp_path / "run", "--steps", 1,
                                                               "--sample-style", painting))
    assert code == 0, err
    images = EventAccumulator(str(tmp_path / "run"), size_guidance={"images": 0}).Reload().Tags()["images"]
    assert {"stylized", "reconstruction/relu2_1", "reconstruction/relu1_1"} <= set(images)


def test_a_missing_encoder_file_is_named_as_encoder_weights(tmp_path, photo_dir, capsys, monkeypatch):
    argv = flags(photo_dir, tmp_path / "run", "--steps", 1)
    argv[argv.index("random")] = tmp_path / "missing.pth"
    code, _, err = run_cli(train_decoders_main, capsys, *argv)
    line = one_line(err)
    assert code == 2 and "encoder weights not found" in line and "--encoder-weights" in line
    assert "--loss-weights" not in line

    import fastnst.loss.vgg as vgg

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(vgg.LOSS_NETS["vgg19"][1], "get_state_dict", offline)
    argv.remove(tmp_path / "missing.pth")
    argv.remove("--encoder-weights")
    code, _, err = run_cli(train_decoders_main, capsys, *argv)
    line = one_line(err)
    assert code == 2 and "--encoder-weights PATH" in line and "--loss-weights" not in line


def test_sigterm_ends_decoder_training_saying_where_to_resume(tmp_path, photo_dir, capsys):
    run = tmp_path / "run"

    def terminate_after_the_first_checkpoint():
        deadline = time.monotonic() + 60
        while not (run / "decoders.pt").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGTERM)

    before = signal.getsignal(signal.SIGTERM)
    threading.Thread(target=terminate_after_the_first_checkpoint, daemon=True).start()
    code, _, err = run_cli(train_decoders_main, capsys, *flags(photo_dir, run, "--steps", 2000, "--ckpt-every", 1))
    line = one_line(err)
    assert code == 143 and line.startswith("error: terminated at step")
    assert f"--resume {run / 'decoders.pt'}" in line
    assert signal.getsignal(signal.SIGTERM) is before
    assert not list(run.glob(".*.tmp*"))


def test_a_temporary_left_by_a_killed_save_is_removed_by_the_next_run(tmp_path, photo_dir, finished_run, capsys):
    (finished_run / ".decoders.k3x9.tmp.pt").write_bytes(b"half a checkpoint")
    (finished_run / ".universal.q1w2.tmp.pt").write_bytes(b"half a file")
    code, _, err = run_cli(train_decoders_main, capsys, "--resume", finished_run / "decoders.pt", "--steps", 3)
    assert code == 0, err
    assert not list(finished_run.glob(".*"))


def test_a_decoder_checkpoint_of_the_older_format_resumes(finished_run, capsys):
    raw = torch.load(finished_run / "decoders.pt", weights_only=True)
    raw["rng"] = raw["rng"]["torch"]  # older versions stored the CPU generator's state alone, and no scaler
    raw.pop("scaler", None)
    torch.save(raw, finished_run / "decoders.pt")
    code, out, err = run_cli(train_decoders_main, capsys, "--resume", finished_run / "decoders.pt", "--steps", 3)
    assert code == 0, err
    assert load_universal(finished_run / "universal.pt").step == 3


def test_a_second_decoder_run_into_the_same_logdir_is_refused(tmp_path, photo_dir, capsys):
    import fcntl

    run = tmp_path / "run"
    run.mkdir()
    fd = os.open(run, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        code, _, err = run_cli(train_decoders_main, capsys, *flags(photo_dir, run, "--steps", 1))
    finally:
        os.close(fd)
    assert code == 2 and "another training run is writing to this folder" in one_line(err)
    assert not list(run.iterdir())


def test_decoder_training_resumes_to_identical_weights(tmp_path, photo_dir, capsys):
    straight, halves = tmp_path / "straight", tmp_path / "halves"
    assert run_cli(train_decoders_main, capsys, *flags(photo_dir, straight, "--steps", 4))[0] == 0
    assert run_cli(train_decoders_main, capsys, *flags(photo_dir, halves, "--steps", 2))[0] == 0
    assert run_cli(train_decoders_main, capsys, "--resume", halves / "decoders.pt", "--steps", 4)[0] == 0
    a, b = (torch.load(run / "decoders.pt", weights_only=True) for run in (straight, halves))
    assert a["step"] == b["step"] == 4
    for level, state in a["decoders"].items():
        for name, value in state.items():
            assert torch.equal(value, b["decoders"][level][name]), (level, name)


@pytest.fixture
def painting_dir(tmp_path):
    folder = tmp_path / "paintings"
    folder.mkdir()
    random_image(48, 40, seed=3).save(folder / "a.png")
    random_image(30, 36, seed=4).save(folder / "b.jpg")
    return folder


def test_the_stylize_objective_trains_on_paintings_and_logs_style_and_content(tmp_path, photo_dir, painting_dir,
                                                                             capsys):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logdir = tmp_path / "run"
    code, _, err = run_cli(train_decoders_main, capsys, *flags(photo_dir, logdir, "--steps", 2, "--log-every", 1,
                                                               "--objective", "stylize", "--paintings", painting_dir))
    assert code == 0, err
    scalars = set(EventAccumulator(str(logdir)).Reload().Tags()["scalars"])
    assert {"loss/style", "loss/content", "loss/style/relu5_1", "loss/total"} <= scalars
    assert load_universal(logdir / "universal.pt").train_args["objective"] == "stylize"


def test_a_stylize_step_draws_the_same_painting_crop_after_a_resume(painting_dir):
    from fastnst.training.decoder_style import CROP, PaintingCrops

    first, again = PaintingCrops(painting_dir, seed=0), PaintingCrops(painting_dir, seed=0)
    assert first(7).shape == (1, 3, CROP, CROP)
    assert torch.equal(first(7), again(7)) and not torch.equal(first(7), first(8))


@pytest.mark.parametrize("more, message", [
    ((), "--objective stylize needs --paintings FOLDER"),
    (("--paintings", "EMPTY"), "no paintings"),
    (("--content-weight", "-1", "--paintings", "PAINTINGS"), "--content-weight must be a number, not negative"),
])
def test_the_stylize_objective_without_paintings_is_one_line_before_any_work(tmp_path, photo_dir, painting_dir,
                                                                            capsys, more, message):
    (tmp_path / "empty").mkdir()
    more = [{"EMPTY": tmp_path / "empty", "PAINTINGS": painting_dir}.get(m, m) for m in more]
    code, _, err = run_cli(train_decoders_main, capsys, *flags(photo_dir, tmp_path / "run", "--steps", 1,
                                                               "--objective", "stylize", *more))
    assert code == 2 and message in one_line(err)
    assert not (tmp_path / "run").exists()
