import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn

import fastnst
from fastnst.loss.stability import random_motion, stability_loss, warp

from .train_helpers import small_run


class Constant(nn.Module):
    def forward(self, x):
        return torch.full_like(x, 0.5)


class Identity(nn.Module):
    def forward(self, x):
        return x


class Watermark(nn.Module):
    """Adds a pattern fixed to the frame: it does not move with the picture."""

    def __init__(self, height, width):
        super().__init__()
        self.pattern = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(5))

    def forward(self, x):
        return x + self.pattern


def loss(model, x, seed=0, **kwargs):
    return stability_loss(model, x, model(x), torch.Generator().manual_seed(seed), **kwargs)


def test_zero_for_a_model_that_moves_with_the_picture_and_ignores_noise():
    x = torch.rand(2, 3, 32, 40)
    assert loss(Constant(), x) < 1e-12  # bilinear sampling of a constant: rounding only
    assert loss(Identity(), x, noise_std=0.0) == 0  # T(warp(x)) == warp(T(x)) exactly


def test_identity_pays_exactly_for_the_noise_it_passes_through():
    x = torch.rand(4, 3, 64, 64)
    assert loss(Identity(), x, noise_std=0.1).item() == pytest.approx(0.1 ** 2, rel=0.05)


def test_positive_for_a_model_that_does_not_move_with_the_picture():
    x = torch.rand(2, 3, 32, 40)
    assert loss(Watermark(32, 40), x, noise_std=0.0) > 1e-3


def test_motion_is_small_and_seeded():
    a = random_motion(8, 64, 64, torch.Generator().manual_seed(3))
    assert torch.equal(a, random_motion(8, 64, 64, torch.Generator().manual_seed(3)))
    identity = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]])
    assert (a - identity).abs().max() < 0.2  # a few pixels, a few percent: frame-to-frame motion
    _, inside = warp(torch.rand(8, 3, 64, 64), a)
    assert inside.mean() > 0.8


def test_training_logs_it_and_zero_weight_turns_it_off(tmp_path, photo_dir, style_file):
    for weight, name in ((None, "on"), (0.0, "off")):
        options = small_run(tmp_path / name, steps=1, style=str(style_file), data=str(photo_dir))
        fastnst.train(**(options if weight is None else {**options, "stability_weight": weight}))
        values = [e.value for e in EventAccumulator(str(tmp_path / name)).Reload().Scalars("loss/stability")]
        assert values[0] > 0 if weight is None else values == [0.0]
