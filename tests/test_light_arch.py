"""--arch light: the CPU real-time net. Same shape and interface as Johnson's, a fraction of the work."""

import pytest
import torch

import fastnst
from fastnst.checkpoint import atomic_save, build_checkpoint, load_checkpoint
from fastnst.errors import FastNSTError
from fastnst.model import ModelConfig, TransformerNet

from .helpers import random_image


def light_net(seed: int = 0) -> TransformerNet:
    torch.manual_seed(seed)
    return TransformerNet(ModelConfig.for_arch("light")).eval()


@pytest.mark.parametrize("size", [(33, 47), (5, 3), (1, 1), (64, 36)])
def test_light_net_keeps_any_input_size(size):
    x = torch.rand(2, 3, *size)
    with torch.no_grad():
        assert light_net()(x).shape == x.shape


def test_light_net_is_a_fraction_of_the_default():
    light, default = light_net(), TransformerNet()
    count = lambda net: sum(p.numel() for p in net.parameters())
    assert count(light) * 10 < count(default)
    depthwise = [m for m in light.modules() if isinstance(m, torch.nn.Conv2d) and m.groups > 1]
    assert len(depthwise) == 2 * 5 + 2  # both convs of each residual block, both upsampling convs
    assert all(m.padding_mode == "reflect" for m in depthwise)
    assert light.config.arch == "light" and TransformerNet().config.arch == "johnson"


def test_checkpoint_round_trip_rebuilds_the_light_net(tmp_path):
    net = light_net(seed=3)
    state = build_checkpoint(net, styles=[("tiles", random_image(32, 32))], train_args={},
                             loss={}, step=0)
    ckpt = load_checkpoint(atomic_save(state, tmp_path / "light.pt"))
    assert ckpt.model.config == net.config and ckpt.model.config.arch == "light"
    x = torch.rand(1, 3, 37, 29)
    with torch.no_grad():
        assert torch.allclose(ckpt.model(x), net(x), atol=1e-6)
    out = fastnst.stylize(random_image(37, 29), ckpt)
    assert out.size == (37, 29)


def test_checkpoints_without_arch_are_johnson_and_unknown_archs_are_one_line_errors(tmp_path):
    state = build_checkpoint(TransformerNet(), styles=[("s", None)], train_args={}, loss={}, step=0)
    del state["model_config"]["arch"]  # as written before the field existed
    assert load_checkpoint(atomic_save(state, tmp_path / "old.pt")).model.config.arch == "johnson"
    state["model_config"]["arch"] = "huge"
    with pytest.raises(FastNSTError, match="unknown architecture 'huge'"):
        load_checkpoint(atomic_save(state, tmp_path / "future.pt"))
    with pytest.raises(FastNSTError, match="unknown architecture"):
        ModelConfig.for_arch("huge")


def test_training_with_arch_light_stores_it(tmp_path, photo_dir, style_file):
    out = fastnst.train(style=str(style_file), data=str(photo_dir), steps=1, arch="light", image_size=32,
                        batch_size=1, loss_net="vgg16", loss_weights="random", workers=0, style_size=64,
                        progress=False, logdir=str(tmp_path / "run"))
    ckpt = load_checkpoint(out)
    assert ckpt.model.config.arch == "light" and ckpt.train_args["arch"] == "light"
    with pytest.raises(FastNSTError, match="^arch huge: choose one of"):
        fastnst.train(style=str(style_file), data=str(photo_dir), steps=1, arch="huge", loss_weights="random")
