"""Training a style network: TrainConfig, the data, the loop, and data parallelism under torchrun."""

from .config import TrainConfig
from .loop import compute_losses, train, train_step

__all__ = ["TrainConfig", "compute_losses", "train", "train_step"]
