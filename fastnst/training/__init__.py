"""Training a style network: TrainConfig, the data, one step, the loop (its state and its logger),
and data parallelism under torchrun."""

from .config import TrainConfig
from .loop import train
from .step import compute_losses, train_step

__all__ = ["TrainConfig", "compute_losses", "train", "train_step"]
