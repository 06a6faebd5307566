"""Exported nets run by onnxruntime on the CPU: an ONNX file (OnnxStylizer), or a checkpoint
exported once and kept in a cache between runs (cached_onnx_stylizer).

    stylizer = OnnxStylizer("mosaic.onnx")          # call it like the TransformerNet
    stylizer = cached_onnx_stylizer(checkpoint)     # infer.py --backend onnxruntime --ckpt mosaic.pt
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from ..checkpoint import Checkpoint
from ..errors import FastNSTError, first_line
from ..files import safe_name, unique_names
from .export import MIN_SIDE, OPSET, export_onnx


def describe_onnx(path: str | Path) -> tuple[list[str], str | None]:
    """The style names of an exported net, and its architecture (None if its export did not say)."""
    stylizer = OnnxStylizer(path, threads=1)
    return stylizer.style_names, stylizer.metadata.get("arch")


class OnnxStylizer:
    """An exported net run by onnxruntime on the CPU; call it like the TransformerNet.

    Takes N x 3 x H x W float RGB in [0, 1] (any device; the result is on the CPU). Whole images
    only: tiling needs norms that take fixed statistics, which an ONNX session's do not.
    """

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise FastNSTError("--backend onnxruntime needs onnxruntime: pip install 'fastnst[export]'") from None
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise FastNSTError(f"{path} is not a readable ONNX model: {first_line(exc)}") from None
        self.input_name = self.session.get_inputs()[0].name
        meta = self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        self.style_name = meta.get("style_name") or Path(path).stem
        names = json.loads(meta["style_names"]) if "style_names" in meta else [self.style_name]
        # Names become parts of output file names: made safe and told apart, as checkpoint.py does.
        self.style_names = unique_names([safe_name(n, f"style{i}") for i, n in enumerate(names)])
        self.style_name = "+".join(self.style_names)
        self.takes_style = len(self.session.get_inputs()) > 1
        self.style_weights: np.ndarray | None = None  # None: the first style

    def with_style(self, mix: torch.Tensor) -> "OnnxStylizer":
        """This session, run with the style weights `mix` (one per style)."""
        other = copy.copy(self)
        other.style_weights = mix.detach().float().cpu().numpy() if self.takes_style else None
        return other

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        h, w = images.shape[-2:]
        if min(h, w) < MIN_SIDE:
            # The export takes at least MIN_SIDE pixels a side: pad as TransformerNet.forward does
            # below that (to a multiple of 4, replicating where reflection cannot), crop after.
            pad_h, pad_w = max(MIN_SIDE - h, -h % 4), max(MIN_SIDE - w, -w % 4)
            mode = "reflect" if pad_h < h and pad_w < w else "replicate"
            padded = torch.nn.functional.pad(images.detach().float().cpu(), (0, pad_w, 0, pad_h), mode=mode)
            return self(padded)[..., :h, :w].contiguous()
        feed = {self.input_name: images.detach().float().cpu().contiguous().numpy()}
        if self.takes_style:
            weights = self.style_weights
            if weights is None:
                weights = np.eye(len(self.style_names), dtype=np.float32)[0]
            feed["style_weights"] = weights
        return torch.from_numpy(self.session.run(None, feed)[0])


def onnx_cache_dir() -> Path:
    """Where exported nets are kept between runs: $FASTNST_CACHE, else $XDG_CACHE_HOME/fastnst,
    else ~/.cache/fastnst."""
    if os.environ.get("FASTNST_CACHE"):
        return Path(os.environ["FASTNST_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fastnst"


def cached_onnx_path(checkpoint: Checkpoint) -> Path:
    """Where the checkpoint's export is cached: named by a hash of the weights (and of what shapes
    the export), so a retrained net gets its own file."""
    digest = hashlib.sha256(repr((checkpoint.model.config, checkpoint.style_names, torch.__version__,
                                  OPSET)).encode())
    for name, tensor in checkpoint.model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    return onnx_cache_dir() / "onnx" / f"{digest.hexdigest()[:24]}.onnx"


def cached_onnx_export(checkpoint: Checkpoint) -> Path | None:
    """The checkpoint's fp32 ONNX export, exported once and then read from the cache (an export
    takes seconds); None where the cache cannot be written (a read-only home)."""
    path = cached_onnx_path(checkpoint)
    if path.is_file():
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        writable = os.access(path.parent, os.W_OK)
    except OSError:
        writable = False
    return export_onnx(checkpoint, path) if writable else None


def cached_onnx_stylizer(checkpoint: Checkpoint) -> OnnxStylizer:
    """The checkpoint's net in onnxruntime from the cached export. Where the cache cannot be
    written, the export is for this run only."""
    path = cached_onnx_export(checkpoint)
    if path is not None:
        try:
            return OnnxStylizer(path)
        except FastNSTError:  # damaged by something else: export it again
            path.unlink(missing_ok=True)
            path = cached_onnx_export(checkpoint)
    if path is not None:
        return OnnxStylizer(path)
    with tempfile.TemporaryDirectory() as tmp:  # onnxruntime has read it once the session exists
        return OnnxStylizer(export_onnx(checkpoint, Path(tmp) / "model.onnx"))
