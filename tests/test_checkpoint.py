import threading
from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import fastnst
import fastnst.checkpoint
from fastnst.checkpoint import atomic_save, build_checkpoint, load_checkpoint
from fastnst.cli import infer_main
from fastnst.cli.info import main as info_main
from fastnst.compat import resumed_run_options
from fastnst.errors import FastNSTError
from fastnst.loss import LossConfig
from fastnst.model import ModelConfig, TransformerNet

from .helpers import one_line, random_image, run_cli


def _five_style_checkpoint(tmp_path):
    net = TransformerNet(ModelConfig(num_styles=5))
    return build_checkpoint(net, styles=[(f"s{i}", None) for i in range(5)], train_args={}, loss={}, step=0)


def test_round_trip_keeps_weights_and_metadata(tmp_path):
    torch.manual_seed(1)
    model = TransformerNet()
    state = build_checkpoint(model, styles=[("mosaic", random_image(300, 200))],
                             train_args={"steps": 7, "style": "mosaic.jpg"},
                             loss={"loss_net": "vgg19", "style_layers": ["relu1_2"]}, step=7)
    path = atomic_save(state, tmp_path / "sub" / "m.pt")
    ckpt = load_checkpoint(path)
    assert ckpt.style_name == "mosaic" and ckpt.step == 7 and ckpt.format == "fastnst"
    assert ckpt.train_args["steps"] == 7 and ckpt.loss["loss_net"] == "vgg19"
    assert max(ckpt.style_thumbnail.size) == 128
    for name, tensor in model.state_dict().items():
        assert torch.equal(ckpt.model.state_dict()[name], tensor)
    assert not ckpt.model.training


def test_inference_checkpoint_is_small_fp16(tmp_path):
    state = build_checkpoint(TransformerNet(), styles=[("s", None)], train_args={},
                             loss={}, step=0, half=True)
    path = atomic_save(state, tmp_path / "s.pt")
    assert path.stat().st_size < 4_000_000
    assert load_checkpoint(path).model.conv1.conv2d.weight.dtype == torch.float32


def test_interrupted_save_keeps_the_previous_file(tmp_path, monkeypatch):
    path = atomic_save({"format": "fastnst", "v": 1}, tmp_path / "c.pt")
    before = path.read_bytes()

    def crash(obj, f):
        f.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        atomic_save({"format": "fastnst", "v": 2}, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]  # no temp file left behind


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", None])
def test_bad_files_are_clear_errors(tmp_path, content):
    path = tmp_path / "bad.pt"
    if content is None:
        torch.save({"some": torch.zeros(1)}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(FastNSTError, match="bad.pt"):
        load_checkpoint(path)
    with pytest.raises(FastNSTError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")


# --- PyTorch's fast_neural_style example network, written from its documented layout ---------
class ExConv(nn.Module):
    def __init__(self, cin, cout, k, stride):
        super().__init__()
        self.reflection_pad = nn.ReflectionPad2d(k // 2)
        self.conv2d = nn.Conv2d(cin, cout, k, stride)

    def forward(self, x):
        return self.conv2d(self.reflection_pad(x))


class ExUpConv(ExConv):
    def forward(self, x):
        return super().forward(F.interpolate(x, mode="nearest", scale_factor=2))


class ExRes(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1, self.in1 = ExConv(c, c, 3, 1), nn.InstanceNorm2d(c, affine=True)
        self.conv2, self.in2 = ExConv(c, c, 3, 1), nn.InstanceNorm2d(c, affine=True)

    def forward(self, x):
        return x + self.in2(self.conv2(F.relu(self.in1(self.conv1(x)))))


class ExampleTransformerNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.in1 = ExConv(3, 32, 9, 1), nn.InstanceNorm2d(32, affine=True)
        self.conv2, self.in2 = ExConv(32, 64, 3, 2), nn.InstanceNorm2d(64, affine=True)
        self.conv3, self.in3 = ExConv(64, 128, 3, 2), nn.InstanceNorm2d(128, affine=True)
        for i in range(1, 6):
            setattr(self, f"res{i}", ExRes(128))
        self.deconv1, self.in4 = ExUpConv(128, 64, 3, 1), nn.InstanceNorm2d(64, affine=True)
        self.deconv2, self.in5 = ExUpConv(64, 32, 3, 1), nn.InstanceNorm2d(32, affine=True)
        self.deconv3 = ExConv(32, 3, 9, 1)

    def forward(self, x):  # 0..255 in, 0..255 out
        y = F.relu(self.in1(self.conv1(x)))
        y = F.relu(self.in2(self.conv2(y)))
        y = F.relu(self.in3(self.conv3(y)))
        for i in range(1, 6):
            y = getattr(self, f"res{i}")(y)
        y = F.relu(self.in4(self.deconv1(y)))
        y = F.relu(self.in5(self.deconv2(y)))
        return self.deconv3(y)


@pytest.mark.parametrize("stale_keys", [False, True])
def test_pytorch_example_state_dicts_compute_what_that_network_computes(tmp_path, stale_keys):
    torch.manual_seed(3)
    reference = ExampleTransformerNet().eval()
    for m in reference.modules():  # non-trivial affine parameters, as after training
        if isinstance(m, nn.InstanceNorm2d):
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.uniform_(m.bias, -0.2, 0.2)
    state = OrderedDict(reference.state_dict())
    if stale_keys:  # files from old PyTorch versions
        for name in ["in1", "in4", "res2.in1"]:
            state[f"{name}.running_mean"] = torch.zeros(3)
            state[f"{name}.running_var"] = torch.ones(3)
    path = tmp_path / "udnie.pth"
    torch.save(state, path)

    ckpt = load_checkpoint(path)
    assert ckpt.format == "pytorch-example" and ckpt.style_name == "udnie"
    x = torch.rand(2, 3, 48, 64)
    with torch.no_grad():
        expected = reference(x * 255) / 255
        assert torch.allclose(ckpt.model(x), expected, atol=1e-4)
        # and through the public API, as an image
        image = random_image(64, 48)
        ours = fastnst.stylize(image, ckpt)
        theirs = reference(torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].float())
    theirs = theirs[0].clamp(0, 255).permute(1, 2, 0).round().byte().numpy()
    diff = abs(np.asarray(ours).astype(int) - theirs.astype(int))
    assert diff.max() <= 1


def test_format_1_checkpoints_still_load_with_their_loss_options(tmp_path):
    """Networks saved before the loss options got their own entry kept them among train_args and,
    renamed, in "loss_net"; they still load with the options they were trained with."""
    train_args = {"style": "starry_night.jpg", "steps": 3000, "loss_net": "vgg19",
                  "loss_weights": "../shared/weights/vgg19-imagenet-features.pth",
                  "content_layers": ["relu2_2"], "style_layers": ["relu1_2", "relu2_2", "relu3_3", "relu4_3"],
                  "style_layer_weights": None, "content_weight": 1.0, "style_weight": 1e4,
                  "tv_weight": 0.01, "stability_weight": 300.0, "style_size": 256}
    state = build_checkpoint(TransformerNet(), styles=[("starry_night", None)], train_args=train_args,
                             loss={}, step=3000)
    del state["loss"]
    state["version"] = 1
    state["loss_net"] = {"name": "vgg19", "weights": train_args["loss_weights"],
                         "content_layers": ["relu2_2"], "style_layers": train_args["style_layers"],
                         "style_layer_weights": [1.0, 1.0, 1.0, 1.0]}
    ckpt = load_checkpoint(atomic_save(state, tmp_path / "starry_night.pt"))
    assert ckpt.style_name == "starry_night" and ckpt.step == 3000
    loss = LossConfig.from_dict(ckpt.loss)
    assert loss.loss_net == "vgg19" and loss.loss_weights.endswith("vgg19-imagenet-features.pth")
    assert loss.style_weight == 1e4 and loss.style_size == 256 and loss.tv_weight == 0.01
    assert loss.style_layer_weights == (1.0, 1.0, 1.0, 1.0)  # stored None meant 1 each, and still does


def test_a_run_begun_by_an_older_version_resumes_with_what_its_options_meant():
    stored = {"amp": "off", "style_layers": ["relu1_2", "relu2_2"], "style_layer_weights": None}
    assert resumed_run_options(stored) == {
        "precision": "fp32",  # --amp off, as it was called
        "style_layers": ["relu1_2", "relu2_2"], "style_layer_weights": (1.0, 1.0),  # None meant 1 each
        "stability_weight": 0.0, "lr_decay_at": 1.0,  # begun before the stability term and the schedule
    }


# -------------------------------------------------------------------------------------- checkpoints
@pytest.mark.parametrize("content", [b"\x89random bytes" * 50, "code", "partial"])
def test_a_checkpoint_that_is_not_one_is_named_without_torchs_advice(tmp_path, capsys, content):
    photo = tmp_path / "photo.png"
    random_image(16, 16).save(photo)
    bad = tmp_path / "bad.pt"
    if content == "code":
        torch.save({"format": "fastnst", "payload": threading.Lock}, bad, _use_new_zipfile_serialization=True)
    elif content == "partial":
        torch.save({"format": "fastnst", "version": 1}, bad)  # says it is ours, holds nothing
    else:
        bad.write_bytes(content)
    code, _, err = run_cli(infer_main, capsys, photo, "--ckpt", bad)
    line = one_line(err)
    assert code == 2 and str(bad) in line and "weights_only" not in line
    assert ("damaged fastnst checkpoint" if content == "partial" else "not a fastnst or PyTorch checkpoint") in line


def test_a_checkpoint_whose_config_and_norms_disagree_on_the_style_count_says_both(tmp_path, capsys):
    state = _five_style_checkpoint(tmp_path)
    state["model_config"]["num_styles"] = 3
    state["styles"] = state["styles"][:3]
    path = atomic_save(state, tmp_path / "three.pt")
    code, _, err = run_cli(info_main, capsys, path)
    line = one_line(err)
    assert code == 2 and line.startswith(f"error: {path}: weights do not fit the network: its config says 3 "
                                          f"styles but its norms hold 5 (")
    assert "Error(s) in loading state_dict" not in line


def test_a_checkpoint_with_a_tensor_of_another_shape_names_it_and_both_shapes(tmp_path):
    state = _five_style_checkpoint(tmp_path)
    state["model"]["conv1.conv2d.weight"] = torch.zeros(32, 3, 5, 5)
    path = atomic_save(state, tmp_path / "odd.pt")
    with pytest.raises(FastNSTError, match=r"conv1\.conv2d\.weight is \[32, 3, 5, 5\] where the network has "
                                           r"\[32, 3, 9, 9\]$"):
        load_checkpoint(path)
