"""One objective: training minimises, optimize minimises and evaluate reports the same loss."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

import fastnst
from fastnst.checkpoint import atomic_save, build_checkpoint
from fastnst.images import open_rgb, to_tensor
from fastnst.loss import LossConfig, Objective
from fastnst.model import TransformerNet
from fastnst.training import TrainConfig, compute_losses

LOSS = LossConfig(loss_weights="random", stability_weight=0.0, style_size=32, content_layers=("relu1_2", "relu2_2"),
                  style_layer_weights=(1.0, 2.0, 0.5, 1.0), style_weight=3e3, tv_weight=0.1)


def gray_net() -> TransformerNet:
    """A net whose outputs stay well inside [0, 1], where evaluate's clamp changes nothing."""
    torch.manual_seed(0)
    model = TransformerNet()
    model.deconv3.conv2d.weight.data *= 0.05
    model.deconv3.conv2d.bias.data.fill_(0.5 * model.config.value_scale)
    return model.eval()


@pytest.mark.parametrize("loss", [LOSS, replace(LOSS, style_gains=(2.0,))], ids=["plain", "boosted style"])
def test_a_training_step_and_evaluate_measure_the_same_loss(tmp_path, photo_dir, style_file, loss):
    model = gray_net()
    path = atomic_save(build_checkpoint(model, styles=[("tiles", None)], train_args={"style": str(style_file)},
                                        loss=loss.to_dict(), step=0), tmp_path / "tiles.pt")
    photo = photo_dir / "p0.jpg"
    report = fastnst.evaluate(path, photo, size=None)  # the checkpoint's loss and style image
    x = to_tensor(open_rgb(photo))
    with torch.no_grad():
        assert 0.05 < model(x).min() and model(x).max() < 0.95
        trained = compute_losses(fastnst.load_checkpoint(path).model, Objective(style_file, loss), x)
    evaluated = report["images"][0]
    for term in ("content", "style", "style_relu3_3", "tv"):
        assert evaluated[term] == pytest.approx(trained[term].item(), rel=1e-5), term
    assert trained["stability"] == 0 and evaluated["total"] == pytest.approx(trained["total"].item(), rel=1e-5)


def test_optimize_starts_from_the_loss_evaluate_gives_the_photo_itself(photo_dir, style_file):
    photo = photo_dir / "p0.jpg"
    _, history = fastnst.optimize(photo, style_file, steps=1, size=None, init="content", return_history=True,
                                  **{k: v for k, v in LOSS.to_dict().items() if k != "stability_weight"})
    objective = Objective(style_file, LOSS)
    x = to_tensor(open_rgb(photo))
    with torch.no_grad():
        expected = objective(x, objective.content_targets(x))
    assert history[0]["total"] == pytest.approx(expected["total"].item(), rel=1e-5)


def test_a_style_gain_multiplies_the_style_terms_alone(style_file):
    x = torch.rand(1, 3, 32, 32)
    plain, boosted = (Objective(style_file, config) for config in (LOSS, replace(LOSS, style_gains=(2.0,))))
    with torch.no_grad():
        a, b = plain(x, plain.content_targets(x)), boosted(x, boosted.content_targets(x))
    assert b["style"] == pytest.approx(2 * a["style"].item()) and b["style_relu3_3"] == pytest.approx(2 * a["style_relu3_3"].item())
    assert b["content"] == a["content"] and b["tv"] == a["tv"]


def test_a_painting_fainter_than_the_photos_gets_up_to_style_boost_times_the_style_weight():
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8))
    flat = Image.new("RGB", (32, 32), (120, 110, 100))  # no contrast at all: the faintest painting
    photos = to_tensor(noise)
    boosting = Objective([flat, noise], replace(LOSS, style_boost=2.0))
    faint, as_strong = boosting.style_gains_for(photos)
    assert faint == 2.0 and as_strong == pytest.approx(1.0)  # capped at style_boost; as strong as the photos: 1
    assert Objective([flat, noise], LOSS).style_gains_for(photos) == [1.0, 1.0]  # style_boost 1: none


def test_training_options_reuse_the_loss_defaults():
    assert TrainConfig().loss_only() == LossConfig()
    assert TrainConfig(style_weight=5.0).loss_only().style_weight == 5.0


@pytest.mark.parametrize("options, message", [
    (dict(style_weight=-1.0), "must be numbers, not negative"),
    (dict(tv_weight=float("nan")), "must be numbers, not negative"),
    (dict(style_layer_weights=(1.0,)), "1 style layer weights given for 4"),
    (dict(style_size=8), "at least 16"),
    (dict(loss_net="alexnet"), "choose one of vgg16, vgg19"),
    (dict(style_boost=0.5), "--style-boost must be a number of at least 1"),
    (dict(style_gains=(1.0, 2.0)), "2 style gains stored for 1 styles"),
])
def test_bad_loss_options_are_refused_before_any_work(options, message, style_file):
    with pytest.raises(fastnst.FastNSTError, match=message):
        Objective(style_file, LossConfig(loss_weights="random", **options))
