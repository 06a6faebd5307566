"""The training-step benchmark runs, and compares like with like. No timing assertions: speed is
measured by `python benchmarks/bench_train.py`, not by tests."""

import json

import torch

from bench_train import bench_training, main, plain_step
from fastnst.images import to_pil, to_tensor
from fastnst.loss import LossConfig, Objective
from fastnst.model import TransformerNet
from fastnst.training import train_step

KEYS = {"name", "seconds", "baseline_seconds", "ratio", "images_per_s", "baseline_images_per_s", "cpu_seconds",
        "baseline_cpu_seconds", "cpu_ratio", "precision", "device", "image_size", "batch_size", "loss_net", "repeats",
        "threads"}


def test_bench_training_rows_compare_each_variant_with_the_plain_loop():
    rows = bench_training(repeats=1, image_size=32, batch_size=1, ablation=True)
    assert [r["name"] for r in rows][-1] == "train step fast" and len(rows) == 6
    for row in rows:
        assert set(row) == KEYS
        assert row["seconds"] > 0 and abs(row["ratio"] - row["baseline_seconds"] / row["seconds"]) < 1e-9
    assert len({r["baseline_seconds"] for r in rows}) == 1  # one baseline for all


def test_plain_loop_and_fast_path_minimize_the_same_loss():
    gen = torch.Generator().manual_seed(0)
    x, style = torch.rand(2, 3, 32, 32, generator=gen), torch.rand(1, 3, 40, 40, generator=gen)
    objective = Objective(to_pil(style), LossConfig(loss_weights="random", stability_weight=0.0))
    style = to_tensor(objective.style_image)  # as the objective sees it (8-bit)
    losses = []
    for fast in (False, True):
        torch.manual_seed(0)
        model = TransformerNet()
        optimizer = torch.optim.Adam(model.parameters())
        if fast:
            scaler = torch.amp.GradScaler("cpu", enabled=False)
            losses.append(train_step(model, objective, optimizer, scaler, x)["total"])
        else:
            losses.append(plain_step(model, objective, optimizer, x, style))
    torch.testing.assert_close(losses[0], losses[1], rtol=1e-5, atol=0)


def test_module_writes_a_table_and_json(tmp_path, capsys):
    main(["--repeats", "1", "--image-size", "32", "--batch-size", "1", "--json", str(tmp_path / "t.json")])
    out = capsys.readouterr().out
    assert "train step fast" in out and "load average" in out
    assert json.loads((tmp_path / "t.json").read_text())[0]["name"] == "train step fast"
