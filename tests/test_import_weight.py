"""`import fastnst` stays light: the libraries only some commands need (video, optical flow, ONNX,
optimization, datasets, TensorBoard, the webcam window) are imported where they are used."""

import subprocess
import sys

from .helpers import ROOT

ON_USE = ("av", "cv2", "onnx", "onnxruntime", "scipy", "datasets", "tensorboard", "tkinter")


def test_import_fastnst_leaves_the_optional_libraries_unloaded():
    code = ("import sys, fastnst; "
            "print(' '.join(sorted({m.split('.')[0] for m in sys.modules} & set(sys.argv[1:]))))")
    loaded = subprocess.run([sys.executable, "-c", code, *ON_USE], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout.split()
    assert loaded == []
