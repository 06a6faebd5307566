"""fastnst: fast neural style transfer (Johnson et al. 2016) in plain PyTorch.

    import fastnst
    out = fastnst.train(style="mosaic.jpg", data="photos/", steps=2000)   # -> checkpoint path
    ckpt = fastnst.load_checkpoint(out)
    fastnst.stylize("photo.jpg", ckpt).save("photo_mosaic.jpg")
"""

from .checkpoint import Checkpoint, load_checkpoint
from .errors import FastNSTError
from .model import ModelConfig, TransformerNet
from .stylize import stylize
from .training import TrainConfig, train

__all__ = ["Checkpoint", "FastNSTError", "ModelConfig", "TrainConfig", "TransformerNet",
           "load_checkpoint", "stylize", "train"]
__version__ = "0.1.0"
