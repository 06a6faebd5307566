"""Distillation (train.py --distill TEACHER): a small student net learns to make what a trained
net makes, with no painting; the student is a net of the teacher's style like any other."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import fastnst
from fastnst.checkpoint import atomic_save, build_checkpoint
from fastnst.cli import train_main
from fastnst.images import open_rgb, to_tensor
from fastnst.model import ModelConfig, TransformerNet

from .helpers import THREE_STYLE_NAMES, contrasty_net, one_line, random_image, run_cli, three_style_net
from .train_helpers import TINY_FLAGS, small_run


def save_net(net: TransformerNet, names: list[str], path: Path) -> Path:
    styles = [(name, random_image(40, 32, seed=i)) for i, name in enumerate(names)]
    return atomic_save(build_checkpoint(net, styles=styles, train_args={}, loss={}, step=0), path)


@pytest.fixture
def teacher(tmp_path: Path) -> Path:
    """A one-style net that makes a picture, its style named 'tiles'."""
    return save_net(contrasty_net("light", seed=3), ["tiles"], tmp_path / "tiles.pt")


@pytest.fixture
def three_teacher(tmp_path: Path) -> Path:
    return save_net(three_style_net(), THREE_STYLE_NAMES, tmp_path / "three.pt")


def distance_to_teacher(student: TransformerNet, teacher: TransformerNet, photo_dir: Path) -> float:
    photos = [to_tensor(open_rgb(p)) for p in sorted(photo_dir.glob("*.jpg"))]
    with torch.no_grad():
        return sum(float((student(x) - teacher(x)).pow(2).mean()) for x in photos) / len(photos)


def test_a_distilled_student_makes_what_its_teacher_makes_more_closely_than_before(tmp_path, teacher, photo_dir):
    out = fastnst.train(distill=str(teacher), data=str(photo_dir), steps=30, **small_run(tmp_path / "run"))
    torch.manual_seed(0)  # the run's seed: the student as it started
    before = TransformerNet(ModelConfig.for_arch("tiny"))
    teacher_net = fastnst.load_checkpoint(teacher).model
    after = fastnst.load_checkpoint(out).model
    assert distance_to_teacher(after, teacher_net, photo_dir) < 0.8 * distance_to_teacher(before, teacher_net, photo_dir)
    events = EventAccumulator(str(tmp_path / "run"), size_guidance={"scalars": 0}).Reload()
    assert {"loss/pixel", "loss/content", "loss/style", "loss/tv", "loss/stability", "loss/total"} <= set(
        events.Tags()["scalars"])
    pixel = [e.value for e in events.Scalars("loss/pixel")]
    assert pixel[-1] < pixel[0]


def test_a_distillation_trains_for_a_budget_of_minutes(tmp_path, teacher, photo_dir):
    out = fastnst.train(distill=str(teacher), data=str(photo_dir), minutes=0.01, **small_run(tmp_path / "run"))
    state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert state["seconds"] >= 0.6 and state["step"] >= 1 and state["train_args"]["minutes"] == 0.01
    assert fastnst.load_checkpoint(out).model.config.arch == "tiny"


def test_the_student_is_a_tiny_net_of_the_teachers_style_that_stylizes(tmp_path, teacher, photo_dir):
    out = fastnst.train(distill=str(teacher), data=str(photo_dir), steps=2, **small_run(tmp_path / "run"))
    assert out == tmp_path / "run" / "tiles.pt"
    student = fastnst.load_checkpoint(out)
    assert student.style_names == ["tiles"] and student.style_thumbnail is not None
    assert student.model.config.arch == "tiny" and student.train_args["distill"] == str(teacher)
    photo = next(photo_dir.glob("*.jpg"))
    assert fastnst.stylize(photo, out).size == open_rgb(photo).size


def test_distilling_resumes_to_identical_weights(tmp_path, teacher, photo_dir):
    straight = fastnst.train(distill=str(teacher), data=str(photo_dir), steps=4, **small_run(tmp_path / "a"))
    fastnst.train(distill=str(teacher), data=str(photo_dir), steps=2, **small_run(tmp_path / "b"))
    resumed = fastnst.train(resume=str(tmp_path / "b" / "checkpoint.pt"), steps=4)
    a, b = fastnst.load_checkpoint(straight), fastnst.load_checkpoint(resumed)
    assert b.step == 4 and b.train_args["distill"] == str(teacher)
    for name, value in a.model.state_dict().items():
        assert torch.equal(value, b.model.state_dict()[name]), name


def test_one_style_of_a_net_of_several_is_distilled_by_name_and_a_student_warm_starts_another(
        tmp_path, three_teacher, photo_dir):
    first = fastnst.train(distill=str(three_teacher), style="mosaic", data=str(photo_dir), steps=2,
                          **small_run(tmp_path / "mosaic"))
    second = fastnst.train(distill=str(three_teacher), style="candy", init=str(first), data=str(photo_dir),
                           steps=2, **small_run(tmp_path / "candy"))
    student = fastnst.load_checkpoint(second)
    assert student.style_names == ["candy"] and student.model.config.num_styles == 1
    assert student.model.config.arch == "tiny" and student.train_args["init"] == str(first)


@pytest.mark.parametrize("case, expected", [
    ("missing", "no such file"),
    ("not a checkpoint", "not a fastnst"),
    ("several styles, none chosen", "holds 3 styles (mosaic, candy, udnie): choose the one to distill with --style"),
    ("an unknown style", "has no style 'starry'"),
    ("a painting", "learns the teacher's style, not a painting"),
    ("only norms", "--only-norms"),
    ("an onnx export", "an exported network cannot teach; give the checkpoint (.pt) it was exported from"),
])
def test_a_bad_distillation_is_one_line_and_writes_nothing(tmp_path, teacher, three_teacher, photo_dir, capsys,
                                                           case, expected):
    not_a_checkpoint = tmp_path / "notes.pt"
    not_a_checkpoint.write_text("hello")
    onnx = tmp_path / "tiles.onnx"  # what fastnst-export writes: the name is enough to tell
    onnx.write_bytes(b"\x08\x09\x12\x07pytorch")
    argv = {"missing": ["--distill", tmp_path / "gone.pt"],
            "not a checkpoint": ["--distill", not_a_checkpoint],
            "several styles, none chosen": ["--distill", three_teacher],
            "an unknown style": ["--distill", three_teacher, "--style", "starry"],
            "a painting": ["--distill", teacher, "--style", tmp_path / "mosaic.jpg"],
            "only norms": ["--distill", teacher, "--init", teacher, "--only-norms"],
            "an onnx export": ["--distill", onnx]}[case]
    logdir = tmp_path / "run"
    code, _, err = run_cli(train_main, capsys, *argv, "--data", photo_dir, "--logdir", logdir, *TINY_FLAGS)
    assert code == 2 and expected in one_line(err)
    assert not logdir.exists()


def test_a_resumed_distillation_given_another_teacher_names_the_run_not_a_style_option(tmp_path, teacher,
                                                                                      three_teacher, photo_dir, capsys):
    fastnst.train(distill=str(teacher), data=str(photo_dir), steps=1, **small_run(tmp_path / "run"))
    code, _, err = run_cli(train_main, capsys, "--resume", tmp_path / "run" / "checkpoint.pt", "--distill",
                           three_teacher, "--steps", 2)
    assert code == 2 and one_line(err) == (f"error: --resume {tmp_path / 'run' / 'checkpoint.pt'}: that run distills "
                                           f"the style 'tiles', and --distill {three_teacher} has no such style (3 "
                                           f"styles (mosaic, candy, udnie)); give the teacher that run learned from")
