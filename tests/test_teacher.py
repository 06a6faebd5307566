"""The universal model as a teacher (--teacher-weight): its picture of each photo is a pixel target
beside the perceptual loss."""

from __future__ import annotations

import pytest
import torch

import fastnst
from fastnst.checkpoint import load_checkpoint
from fastnst.cli.train import main as train_main
from fastnst.images import open_rgb, to_tensor
from fastnst.loss import LossConfig
from fastnst.training.teacher import TaughtObjective
from fastnst.universal import load_universal

from .train_helpers import TINY_FLAGS, small_run


@pytest.fixture
def taught(style_file, universal_file) -> TaughtObjective:
    torch.manual_seed(0)
    return TaughtObjective(style_file, LossConfig(loss_weights="random", style_size=64), 30.0, universal_file)


def test_the_teacher_term_is_its_weight_times_the_squared_distance_to_the_universal_models_picture(
        taught, style_file, universal_file):
    photos = torch.rand(2, 3, 32, 32)
    universal = load_universal(universal_file).net
    style = universal.style(to_tensor(open_rgb(style_file)))
    with torch.no_grad():
        painted = universal(photos, [(style, 1.0)]).clamp(0, 1)
        output = torch.rand(2, 3, 32, 32)
        terms = taught(output, taught.content_targets(photos))
        at_the_teacher = taught(painted, taught.content_targets(photos))
    expected = 30.0 * torch.nn.functional.mse_loss(output, painted)
    assert torch.allclose(terms["teacher"], expected, rtol=1e-5)
    assert torch.allclose(terms["total"], terms["content"] + terms["style"] + terms["tv"] + terms["teacher"])
    assert at_the_teacher["teacher"].item() == pytest.approx(0.0, abs=1e-7)


def test_a_net_trained_on_the_teacher_alone_moves_towards_its_pictures(tmp_path, photo_dir, style_file, universal_file):
    options = small_run(tmp_path / "logs", style=str(style_file), data=str(photo_dir), steps=12, lr=1e-2,
                        teacher_weight=1.0, teacher=str(universal_file), content_weight=0.0, style_weight=0.0,
                        tv_weight=0.0, stability_weight=0.0, log_every=1)
    out = fastnst.train(**options)
    stored = load_checkpoint(out)
    assert stored.train_args["teacher_weight"] == 1.0 and stored.train_args["teacher"] == str(universal_file)
    # The teacher term of the first and the last steps, from TensorBoard's scalars.
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tmp_path / "logs")).Reload()
    teacher = [e.value for e in events.Scalars("loss/teacher")]
    assert len(teacher) == 12 and teacher[-1] < 0.7 * teacher[0]


def test_a_run_with_a_teacher_resumes_with_it(tmp_path, photo_dir, style_file, universal_file):
    options = small_run(tmp_path / "logs", style=str(style_file), data=str(photo_dir), steps=2,
                        teacher_weight=5.0, teacher=str(universal_file))
    fastnst.train(**options)
    out = fastnst.train(resume=str(tmp_path / "logs" / "checkpoint.pt"), steps=3)
    assert load_checkpoint(out).step == 3 and load_checkpoint(out).train_args["teacher_weight"] == 5.0


@pytest.mark.parametrize("flags, message", [
    (["--teacher-weight", "-1"], "--teacher-weight must be a number, not negative"),
    (["--teacher-weight", "nan"], "--teacher-weight must be a number, not negative"),
    (["--teacher-weight", "1", "--teacher", "missing.pt"], "--teacher missing.pt: no such file"),
])
def test_bad_teacher_options_are_one_line_before_any_work(tmp_path, photo_dir, style_file, capsys, flags, message):
    code = train_main(["--style", str(style_file), "--data", str(photo_dir), "--logdir", str(tmp_path / "logs"),
                       *TINY_FLAGS, *flags])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err == f"error: {message}" and not (tmp_path / "logs").exists()


def test_a_teacher_with_distillation_is_refused(tmp_path, ckpt_file, photo_dir, capsys):
    code = train_main(["--distill", str(ckpt_file), "--data", str(photo_dir), "--teacher-weight", "1",
                       "--logdir", str(tmp_path / "logs"), *TINY_FLAGS])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "give one of them" in err and "\n" not in err


def test_a_teacher_file_that_is_not_a_universal_model_is_one_line(tmp_path, photo_dir, style_file, ckpt_file, capsys):
    code = train_main(["--style", str(style_file), "--data", str(photo_dir), "--logdir", str(tmp_path / "logs"),
                       "--teacher-weight", "1", "--teacher", str(ckpt_file), *TINY_FLAGS])
    err = capsys.readouterr().err.strip()
    assert code != 0 and "is not a universal model" in err and "\n" not in err
