"""The perceptual loss: VGG feature taps, pure loss functions, the stability term, and the one
objective (LossConfig + Objective) that training, optimization and evaluation share."""

from .objective import STABILITY_WEIGHT, STYLE_LAYER_WEIGHTS, STYLE_LAYERS, LossConfig, Objective
from .vgg import LOSS_NETS, RANDOM_WEIGHTS, LossNet

__all__ = ["LOSS_NETS", "RANDOM_WEIGHTS", "STABILITY_WEIGHT", "STYLE_LAYER_WEIGHTS", "STYLE_LAYERS", "LossConfig", "LossNet", "Objective"]
