"""Universal style transfer (Li et al. 2017): any painting, no training per style.

A frozen VGG19 encodes the photo to relu{k}_1; the whitening-colouring transform gives those
features the painting's mean and covariance; a decoder trained on photos alone (reconstruction)
turns them back into an image. Levels run coarse to fine, each on the previous level's output.

    encoder.py   the VGG19 taps relu1_1 ... relu5_1
    decoder.py   the mirrored decoders, one per level
    wct.py       the whitening-colouring transform and the statistics it needs
    net.py       UniversalNet: encoder + decoders + the transform, and its checkpoint file
    painting.py  a painting file as the model measures it
"""

from .decoder import Decoder
from .encoder import LEVELS, Encoder
from .net import LoadedUniversal, UniversalConfig, UniversalNet, is_universal_file, load_universal, save_universal
from .wct import ContentStats, MovingContentStats, StyleStats, colour, content_stats, style_stats, transform

__all__ = ["ContentStats", "Decoder", "Encoder", "LEVELS", "LoadedUniversal", "MovingContentStats", "StyleStats", "UniversalConfig", "UniversalNet",
           "colour", "content_stats", "is_universal_file", "load_universal", "save_universal", "style_stats", "transform"]
