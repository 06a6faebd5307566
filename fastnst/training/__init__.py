"""Training: the one loop every kind of training runs (fit.py) with its state, schedule and logger;
a style network (TrainConfig, train: loop.py), distillation, and the universal model's decoders
(decoders.py); the data, one step, and data parallelism under torchrun."""

from .config import TrainConfig
from .loop import train
from .step import compute_losses, train_step

__all__ = ["TrainConfig", "compute_losses", "train", "train_step"]
