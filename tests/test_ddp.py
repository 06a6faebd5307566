"""Data-parallel training: `torchrun --nproc-per-node 2 train.py ...` on CPU processes (gloo)."""

import os
import subprocess
import sys
from itertools import islice

import pytest
import torch

import fastnst
from fastnst.checkpoint import load_checkpoint
from fastnst.training.data import PositionSampler
from fastnst.model import TransformerNet

from .helpers import ROOT, random_image

TINY = ["--image-size", "32", "--steps", "3", "--loss-net", "vgg16", "--loss-weights", "random", "--workers", "0",
        "--style-size", "64", "--log-every", "1", "--no-progress",
        # fp32, so that one process and two agree to rounding; no stability term, whose random
        # motions are drawn per batch and so differ between one batch of 2 and two batches of 1;
        # lr 1e-3: Adam's first steps (about lr in every weight, whatever the gradient's size) turn
        # rounding into differences that grow with the rate, 7e-3 at the default 3e-3
        "--amp", "off", "--stability-weight", "0", "--lr", "1e-3"]


def test_ranks_share_out_the_stream_of_one_process_with_the_whole_batch():
    def take(sampler, n):
        return list(islice(iter(sampler), n))

    batch, world = 2, 3
    single = take(PositionSampler(5, seed=1, batch_size=batch * world), 4 * batch * world)
    ranks = [take(PositionSampler(5, seed=1, rank=r, world_size=world, batch_size=batch), 4 * batch)
             for r in range(world)]
    for step in range(4):  # step s of the whole group = the concatenated batches of its ranks
        together = sum((ranks[r][step * batch:(step + 1) * batch] for r in range(world)), [])
        assert together == single[step * batch * world:(step + 1) * batch * world]
    resumed = take(PositionSampler(5, seed=1, start=2 * batch * world, rank=1, world_size=world, batch_size=batch), batch)
    assert resumed == ranks[1][2 * batch:3 * batch]  # resuming at step 2 continues rank 1 exactly


@pytest.mark.slow
def test_torchrun_two_processes_train_the_net_one_process_trains_on_the_whole_batch(tmp_path, photo_dir,
                                                                                      style_file):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--standalone",
                          str(ROOT / "train.py"), "--style", str(style_file), "--data", str(photo_dir), *TINY,
                          "--batch-size", "1", "--logdir", str(tmp_path / "ddp")],
                         capture_output=True, text=True, timeout=900, env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.count("saved ") == 1  # rank 0 alone reports, logs and saves
    written = {p.name for p in (tmp_path / "ddp").iterdir()}
    events = {name for name in written if name.startswith("events.out.tfevents.")}
    assert written - events == {"checkpoint.pt", "tiles.pt"}
    assert len({name.split(".")[-2] for name in events}) == 1  # TensorBoard files of one process (by pid)

    fastnst.train(style=str(style_file), data=str(photo_dir), batch_size=2, logdir=str(tmp_path / "one"),
                  image_size=32, steps=3, loss_net="vgg16", loss_weights="random", workers=0, style_size=64,
                  amp="off", stability_weight=0.0, lr=1e-3, progress=False)
    ddp, one = load_checkpoint(tmp_path / "ddp" / "checkpoint.pt"), load_checkpoint(tmp_path / "one" / "checkpoint.pt")
    assert ddp.step == one.step == 3 and ddp.train_args["batch_size"] == 1
    # Compare what the nets do rather than their weights: a bias right before an instance norm has
    # no effect, and Adam turns its rounding-level gradient into an arbitrary step.
    image = torch.rand(1, 3, 40, 40, generator=torch.Generator().manual_seed(3))
    torch.manual_seed(0)
    initial = TransformerNet()  # what both started from
    with torch.no_grad():
        out_ddp, out_one, out_initial = ddp.model(image), one.model(image), initial(image)
    # Agree to rounding: measured 9e-5 here, against 7e-3 when both ranks read the same images,
    # and 1.7e-2 for how far the 3 steps moved the output.
    moved = (out_one - out_initial).abs().max()
    assert (out_ddp - out_one).abs().max() < 0.05 * moved


@pytest.mark.slow
def test_torchrun_trains_a_net_of_several_styles(tmp_path, photo_dir):
    style_file, second = tmp_path / "mosaic.png", tmp_path / "candy.png"
    random_image(48, 40, seed=1).save(style_file)
    random_image(40, 40, seed=4).save(second)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--standalone",
                          str(ROOT / "train.py"), "--style", str(style_file), str(second), "--data", str(photo_dir),
                          *TINY, "--batch-size", "1", "--logdir", str(tmp_path / "ddp")],
                         capture_output=True, text=True, timeout=900, env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert load_checkpoint(tmp_path / "ddp" / "mosaic+candy.pt").style_names == ["mosaic", "candy"]
