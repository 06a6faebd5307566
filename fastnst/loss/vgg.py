"""Frozen VGG feature taps by layer name (relu2_2, ...), the perceptual loss network."""

from __future__ import annotations

import contextlib
import copy
import functools
import io
import sys
from pathlib import Path

import torch
import torchvision
from torch import nn
from torchvision.models.vgg import cfgs, make_layers

from ..errors import FastNSTError, first_line
from ..files import load_torch_file

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# torchvision's layer configurations ("D": 16 layers, "E": 19) and ImageNet weights. Only the
# convolutional `features` are built: the classifier, 124M parameters, is never used.
LOSS_NETS = {
    "vgg16": ("D", torchvision.models.VGG16_Weights.IMAGENET1K_V1),
    "vgg19": ("E", torchvision.models.VGG19_Weights.IMAGENET1K_V1),
}
# Passing this instead of a weights file gives an untrained network: for tests of mechanics only.
RANDOM_WEIGHTS = "random"


def layer_names(features: nn.Sequential) -> list[str]:
    """Name every module of a torchvision VGG `features`: conv1_1, relu1_1, ..., pool1, conv2_1, ..."""
    names, block, index = [], 1, 0
    for module in features:
        if isinstance(module, nn.Conv2d):
            index += 1
            names.append(f"conv{block}_{index}")
        elif isinstance(module, nn.ReLU):
            names.append(f"relu{block}_{index}")
        else:
            names.append(f"pool{block}")
            block, index = block + 1, 0
    return names


def vgg_features(name: str) -> nn.Sequential:
    """An untrained torchvision `vgg16().features` or `vgg19().features` (PyTorch's default init)."""
    return make_layers(cfgs[LOSS_NETS[name][0]])


# The random numbers torchvision's VGG draws for its classifier (weights and biases of three
# linear layers) between building the features and initializing them.
CLASSIFIER_DRAWS = (512 * 7 * 7 + 1) * 4096 + (4096 + 1) * 4096 + (4096 + 1) * 1000


@functools.cache
def _random_features(name: str) -> nn.Sequential:
    """The same untrained net every time, RNG untouched; built once per process (tests build dozens).

    Exactly the features of torchvision's `vgg16(weights=None)` (or vgg19) after manual_seed(0), as
    always: the classifier's draws are made and dropped, in blocks, instead of building it.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        features = vgg_features(name)
        block = torch.empty(1 << 22)
        for start in range(0, CLASSIFIER_DRAWS, len(block)):
            block[:min(len(block), CLASSIFIER_DRAWS - start)].uniform_()
        for module in features:
            if isinstance(module, nn.Conv2d):  # torchvision's VGG init
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(module.bias)
    return features


def _imagenet_state(name: str, option: str = "--loss-weights") -> dict[str, torch.Tensor]:
    """The ImageNet weights from torchvision's download cache (downloaded on first use)."""
    # torch.hub announces the download on stdout; hold that line back so a failed download
    # shows only our one-line message, and pass it on when the download works.
    announcement = io.StringIO()
    try:
        with contextlib.redirect_stdout(announcement):
            state = LOSS_NETS[name][1].get_state_dict(progress=False, check_hash=True)
        sys.stdout.write(announcement.getvalue())
        return state
    except Exception as exc:  # no network, hub down, corrupt cache, ...
        raise FastNSTError(
            f"could not get the ImageNet {name.upper()} weights ({type(exc).__name__}); "
            f"offline, pass a local file: {option} PATH (a torchvision {name}().features "
            f"state dict), e.g. {'--loss-net vgg19 ' if option == '--loss-weights' else ''}{option} "
            f"vgg19-imagenet-features.pth"
        ) from None


def _file_state(name: str, path: Path, option: str = "--loss-weights") -> dict[str, torch.Tensor]:
    what = "loss network weights" if option == "--loss-weights" else "encoder weights"
    state = load_torch_file(path, f"{what} not found: {path} ({option} takes a torchvision {name}().features "
                            f"state dict)", f"{path}: not readable {what} (not a PyTorch file, or a damaged one)")
    if isinstance(state, dict) and (state.get("format") == "fastnst" or "conv1.conv2d.weight" in state):
        raise FastNSTError(f"{path} is a style network checkpoint, not {what}: {option} takes "
                           f"a torchvision {name}().features state dict")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise FastNSTError(f"{path} is not a {name}().features state dict")
    return state


def _load_features(name: str, weights: str | Path | None, option: str = "--loss-weights") -> nn.Sequential:
    """The VGG features of `weights` (None: the ImageNet download; "random"); a message names `option`."""
    if name not in LOSS_NETS:
        raise FastNSTError(f"unknown loss network '{name}': choose one of {', '.join(LOSS_NETS)}")
    if str(weights) == RANDOM_WEIGHTS:
        return copy.deepcopy(_random_features(name))  # LossNet truncates and changes its copy
    state = _imagenet_state(name, option) if weights is None else _file_state(name, Path(weights), option)
    # Accept both a `features` state dict and a whole-model one (keys features.0.weight, ...).
    state = {k.removeprefix("features."): v.float() for k, v in state.items() if not k.startswith("classifier.")}
    features = vgg_features(name)
    try:
        features.load_state_dict(state)
    except RuntimeError as exc:
        source = f"the ImageNet {name.upper()} weights" if weights is None else str(Path(weights))
        raise FastNSTError(f"{source} is not a {name}().features state dict: {first_line(exc)}") from None
    return features


class LossNet(nn.Module):
    """Frozen VGG in eval mode, truncated after the deepest tapped layer.

    Takes RGB in [0, 1] (ImageNet normalization happens here, once) and returns a dict of the
    tapped layers' activations.
    """

    def __init__(self, name: str = "vgg16", layers: list[str] | tuple[str, ...] = ("relu2_2",),
                 weights: str | Path | None = None) -> None:
        super().__init__()
        features = _load_features(name, weights)
        names = layer_names(features)
        unknown = [layer for layer in layers if layer not in names]
        if unknown:
            relus = ", ".join(n for n in names if n.startswith("relu"))
            raise FastNSTError(f"{name} has no layer {', '.join(unknown)}; its layers are {relus}")
        deepest = max(names.index(layer) for layer in layers)
        self.features = features[: deepest + 1]
        self.names = names[: deepest + 1]
        self.layers = set(layers)
        self._order = sorted(self.layers, key=self.names.index)
        for module in self.features:
            if isinstance(module, nn.ReLU):
                module.inplace = False  # tapped activations must not be overwritten
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()
        # Weights from different sources differ wildly in activation scale (the Caffe-derived
        # VGG19 runs ~100x hotter than torchvision's), which would make loss weights mean
        # different things per network. Like Gatys et al., divide each tapped layer by its mean
        # activation (here on a fixed calibration pattern) so the defaults fit every network.
        with torch.no_grad():
            raw = self._taps(calibration_pattern())
        self.register_buffer("scales", torch.tensor([raw[n].mean().clamp_min(1e-8).item() for n in self._order]))

    def train(self, mode: bool = True) -> "LossNet":
        return super().train(False)  # always frozen: eval mode whatever the caller asks

    def _taps(self, x: torch.Tensor, upto: str | None = None) -> dict[str, torch.Tensor]:
        x = (x - self.mean) / self.std
        taps = {}
        for name, module in zip(self.names, self.features):
            x = module(x)
            if name in self.layers:
                taps[name] = x
            if name == upto:
                break
        return taps

    def forward(self, x: torch.Tensor, upto: str | None = None) -> dict[str, torch.Tensor]:
        """Activations of the tapped layers, each divided by its calibration scale; with `upto`,
        stop after that layer (cheaper when only shallow layers are needed)."""
        taps = self._taps(x, upto)
        return {name: taps[name] / scale for name, scale in zip(self._order, self.scales) if name in taps}


def calibration_pattern(size: int = 128) -> torch.Tensor:
    """A fixed, deterministic 1x3xSxS image with structure at several scales, values in [0, 1]."""
    gen = torch.Generator().manual_seed(0)
    image = torch.zeros(1, 3, size, size)
    for cells in (4, 16, 64):
        noise = torch.rand(1, 3, cells, cells, generator=gen)
        image += torch.nn.functional.interpolate(noise, size=(size, size), mode="bilinear", align_corners=False)
    return image / 3
