import urllib.error

import pytest
import torch

from fastnst.cli import train_main
from fastnst.errors import FastNSTError
from fastnst.loss.vgg import LossNet, layer_names, vgg_features

from .helpers import VGG19_WEIGHTS


def test_layer_names_follow_the_vgg_paper():
    names = layer_names(vgg_features("vgg16"))
    assert names[:5] == ["conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1"]
    assert names.index("relu2_2") == 8 and names.index("relu3_3") == 15 and names.index("relu4_3") == 22


def test_frozen_eval_and_truncated_after_the_deepest_layer():
    net = LossNet("vgg16", ["relu2_2", "relu1_2"], weights="random")
    assert len(net.features) == 9  # up to relu2_2
    assert not any(p.requires_grad for p in net.parameters())
    net.train()
    assert not net.training
    out = net(torch.rand(2, 3, 32, 32))
    assert set(out) == {"relu1_2", "relu2_2"} and out["relu2_2"].shape == (2, 128, 16, 16)


def test_unknown_layer_is_a_clear_error():
    with pytest.raises(FastNSTError, match="no layer relu9_9"):
        LossNet("vgg16", ["relu9_9"], weights="random")


def test_local_weights_file_loads(tmp_path):
    features = vgg_features("vgg16")
    path = tmp_path / "vgg16.pth"
    torch.save({k: v.half() for k, v in features.state_dict().items()}, path)
    net = LossNet("vgg16", ["relu1_2"], weights=path)
    assert torch.allclose(net.features[0].weight, features[0].weight.half().float())
    with pytest.raises(FastNSTError, match="not a vgg19"):
        LossNet("vgg19", ["relu1_2"], weights=path)


@pytest.mark.skipif(not VGG19_WEIGHTS.is_file(), reason="../shared weights not present")
def test_shared_imagenet_vgg19_loads():
    net = LossNet("vgg19", ["relu4_3"], weights=VGG19_WEIGHTS)
    assert net.names[-1] == "relu4_3"


def test_offline_message_names_the_local_file_option(monkeypatch, capsys, tmp_path, style_file):
    def no_network(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_network)
    code = train_main(["--style", str(style_file), "--data", str(tmp_path), "--steps", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and "--loss-weights PATH" in err[0] and "Traceback" not in err[0]
