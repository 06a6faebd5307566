"""fastnst: fast neural style transfer (Johnson et al. 2016) in plain PyTorch.

    import fastnst
    out = fastnst.train(style="mosaic.jpg", data="photos/", steps=2000)   # -> checkpoint path
    ckpt = fastnst.load_checkpoint(out)
    fastnst.stylize("photo.jpg", ckpt).save("photo_mosaic.jpg")
    stylizer = fastnst.Stylizer.load(out)                                # load once, call many times
    stylizer.stylize("photo.jpg", fastnst.StylizeOptions(max_size=1024)).save("small_mosaic.jpg")
    fastnst.stylize_video("clip.mp4", "clip_mosaic.mp4", ckpt)               # H.264, audio kept
    fastnst.optimize("photo.jpg", "mosaic.jpg", output="photo_gatys.png")  # no network: Gatys et al., slow
    fastnst.evaluate(out, "photos/", "mosaic.jpg", vs_optimize=300)      # losses, speed, optimizer steps
"""

from .checkpoint import Checkpoint, load_checkpoint
from .errors import FastNSTError
from .inference import RuntimeSpec, StylizeOptions, Stylizer, VideoOptions, stylize
from .loss import LossConfig
from .model import ModelConfig, TransformerNet
from .optimization import evaluate, optimize
from .training import TrainConfig, train
from .video import stylize_video

__all__ = ["Checkpoint", "FastNSTError", "LossConfig", "ModelConfig", "RuntimeSpec", "StylizeOptions", "Stylizer",
           "TrainConfig", "TransformerNet", "VideoOptions", "evaluate", "load_checkpoint", "optimize", "stylize", "stylize_video", "train"]
__version__ = "0.1.0"
