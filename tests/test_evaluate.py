import json

import pytest
import torch

import fastnst
from fastnst.checkpoint import atomic_save, build_checkpoint
from fastnst.cli import evaluate_main
from fastnst.model import TransformerNet

from .helpers import random_image, run_cli

RANDOM_VGG = dict(size=32, loss_weights="random", style_size=32)
LAYERS = ["style_relu1_2", "style_relu2_2", "style_relu3_3", "style_relu4_3"]


def test_losses_per_image_per_layer_and_mean(ckpt_file, photo_dir, style_file):
    report = fastnst.evaluate(ckpt_file, photo_dir, style_file, **RANDOM_VGG)
    assert [r["image"] for r in report["images"]] == ["nested/deep.png", "p0.jpg", "p1.jpg", "p2.jpg"]
    for row in report["images"]:
        assert max(row["width"], row["height"]) == 32 and row["seconds"] > 0
        assert row["content"] > 0 and row["style"] > 0
        assert row["style"] == pytest.approx(sum(row[k] for k in LAYERS), rel=1e-5)
        assert row["total"] == pytest.approx(row["content"] + row["style"] + row["tv"], rel=1e-5)
    assert report["mean"]["total"] == pytest.approx(sum(r["total"] for r in report["images"]) / 4)
    assert "optimize" not in report


def test_uses_the_checkpoints_loss_unless_overridden(tmp_path, photo_dir, style_file):
    torch.manual_seed(0)
    state = build_checkpoint(TransformerNet(), styles=[("tiles", random_image(32, 32))],
                             train_args={"style": str(style_file)},
                             loss={"loss_net": "vgg16", "loss_weights": "random", "content_layers": ["relu1_2"],
                                   "style_layers": ["relu2_2"], "style_layer_weights": [2.0], "style_weight": 5.0,
                                   "tv_weight": 0.0}, step=0)
    ckpt = atomic_save(state, tmp_path / "tiles.pt")
    report = fastnst.evaluate(ckpt, photo_dir, size=32, style_size=32)  # style image: the stored path
    assert report["style"] == str(style_file)
    loss = report["loss"]
    assert (loss["content_layers"], loss["style_layers"], loss["style_layer_weights"]) == (["relu1_2"], ["relu2_2"],
                                                                                           [2.0])
    assert loss["style_weight"] == 5.0 and loss["content_weight"] == 1.0
    assert [k for k in report["mean"] if k.startswith("style_")] == ["style_relu2_2"]
    assert report["mean"]["tv"] == 0.0
    doubled = fastnst.evaluate(ckpt, photo_dir, size=32, style_size=32, style_weight=10.0)
    assert doubled["mean"]["style"] == pytest.approx(2 * report["mean"]["style"], rel=1e-4)


def test_vs_optimize_finds_the_equivalent_step_or_none(ckpt_file, photo_dir, style_file):
    # From the photo itself with no style term the optimizer starts below the net: step 0.
    easy = fastnst.evaluate(ckpt_file, photo_dir / "p0.jpg", style_file, vs_optimize=3, vs_init="content",
                            style_weight=0.0, **RANDOM_VGG)
    assert easy["images"][0]["optimize"]["steps_to_match"] == 0
    assert easy["optimize"]["median_steps"] == 0 and easy["optimize"]["matched"] == 1
    # Judged on smoothness alone, one step from white noise cannot match the net: None.
    hard = fastnst.evaluate(ckpt_file, photo_dir / "p0.jpg", style_file, vs_optimize=1, vs_init="noise",
                            content_weight=0.0, style_weight=0.0, tv_weight=1.0, **RANDOM_VGG)
    result = hard["images"][0]["optimize"]
    assert result["steps_to_match"] is None and result["seconds_to_match"] is None
    assert hard["optimize"]["median_steps"] is None and hard["optimize"]["matched"] == 0
    assert result["best_total"] > hard["images"][0]["total"]


@pytest.mark.slow
def test_vs_optimize_matches_a_random_net_within_a_few_steps(ckpt_file, photo_dir, style_file):
    report = fastnst.evaluate(ckpt_file, photo_dir / "p1.jpg", style_file, vs_optimize=30, vs_init="content",
                              **RANDOM_VGG)
    steps = report["images"][0]["optimize"]["steps_to_match"]
    assert steps is not None and steps <= 30
    assert report["images"][0]["optimize"]["seconds_to_match"] > 0


def run(capsys, *argv):
    return run_cli(evaluate_main, capsys, *argv)


def test_cli_prints_a_table_and_writes_json(tmp_path, ckpt_file, photo_dir, style_file, capsys):
    out = tmp_path / "report" / "tiles.json"
    code, stdout, err = run(capsys, "--ckpt", ckpt_file, "--content", photo_dir, "--style", style_file,
                            "--size", 32, "--style-size", 32, "--loss-weights", "random", "--json", out,
                            "--vs-optimize", 1, "--vs-init", "content", "--images", 3, "--no-progress")
    assert code == 0, err
    header = stdout.splitlines()[1].split()
    assert header[:4] == ["image", "net", "s", "content"] and "style_relu3_3" in header and "total" in header
    assert any(line.startswith("mean ") for line in stdout.splitlines())
    report = json.loads(out.read_text())
    assert len(report["images"]) == 3 and set(LAYERS) <= set(report["mean"])  # --images 3: the first three
    assert report["optimize"]["max_steps"] == 1
    assert [p.name for p in out.parent.iterdir()] == ["tiles.json"]  # no temporary file left


@pytest.mark.parametrize("case", ["no style", "no folder", "empty folder", "bad ckpt", "missing weights"])
def test_cli_bad_input_is_one_line(case, tmp_path, ckpt_file, photo_dir, style_file, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "junk.pt").write_text("junk")
    argv = {"no style": ["--ckpt", ckpt_file, "--content", photo_dir],  # the fixture stores no style path
            "no folder": ["--ckpt", ckpt_file, "--content", tmp_path / "none", "--style", style_file],
            "empty folder": ["--ckpt", ckpt_file, "--content", tmp_path / "empty", "--style", style_file],
            "bad ckpt": ["--ckpt", tmp_path / "junk.pt", "--content", photo_dir, "--style", style_file],
            "missing weights": ["--ckpt", ckpt_file, "--content", photo_dir, "--style", style_file,
                                "--loss-weights", tmp_path / "vgg.pth"]}[case]
    extra = [] if case == "missing weights" else ["--loss-weights", "random"]
    code, _, err = run(capsys, *argv, *extra, "--size", 32, "--no-progress")
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ") and "Traceback" not in err


def test_cli_json_report_never_replaces_a_file_it_reads_and_is_refused_before_the_work(ckpt_file, photo_dir,
                                                                                       style_file, capsys):
    for target in (ckpt_file, style_file):
        before = target.read_bytes()
        code, stdout, err = run(capsys, "--ckpt", ckpt_file, "--content", photo_dir, "--style", style_file,
                                "--size", 32, "--loss-weights", "random", "--json", target, "--no-progress")
        assert code == 2
        assert err == f"error: --json {target} would overwrite the input {target}; choose another --json\n"
        assert stdout == "" and target.read_bytes() == before  # no table: nothing was evaluated
