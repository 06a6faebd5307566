"""The perceptual loss: VGG feature taps, pure loss functions, the stability term, and the one
objective (LossConfig + Objective) that training, optimization and evaluation share, and the
distillation objective (DistillObjective) that trains a net to imitate another."""

from .distill import DistillObjective
from .objective import STABILITY_WEIGHT, STYLE_LAYER_WEIGHTS, STYLE_LAYERS, LossConfig, Objective
from .vgg import LOSS_NETS, RANDOM_WEIGHTS, LossNet

__all__ = ["DistillObjective", "LOSS_NETS", "RANDOM_WEIGHTS", "STABILITY_WEIGHT", "STYLE_LAYER_WEIGHTS", "STYLE_LAYERS", "LossConfig", "LossNet", "Objective"]
