"""Export a trained net for runtimes without fastnst: ONNX (any H x W) and TorchScript.

    python -m fastnst export mosaic.pt --onnx mosaic.onnx --torchscript mosaic.ts
    fastnst-export mosaic.pt --onnx mosaic.onnx          # the same, as a console script

Both take and return N x 3 x H x W float RGB in [0, 1] ("image" -> "stylized"; the output is not
clamped), any batch size and any H, W of at least 8. A net of several styles takes a second input,
"style_weights": one float per style (a one-hot vector picks a style, a convex one blends). ONNX
files carry the style names in their metadata ("style_names", a JSON list); infer.py --backend
onnxruntime runs them (OnnxStylizer below).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..checkpoint import Checkpoint, load_checkpoint
from ..errors import FastNSTError, first_line
from ..files import atomic_path
from ..model import TransformerNet, one_hot

MIN_SIDE = 8  # the net's smallest input once exported (below it, PyTorch's forward replicate-pads)
OPSET = 18


class _Body(nn.Module):
    def __init__(self, net: TransformerNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor, style: torch.Tensor | None = None) -> torch.Tensor:
        return self.net.body(x, style)


class ExportNet(nn.Module):
    """TransformerNet.forward with its pad-to-a-multiple-of-4 computed from the input's shape by
    ops that an exported graph keeps symbolic (the net's own forward uses Python ints)."""

    def __init__(self, body: nn.Module, value_scale: float) -> None:
        super().__init__()
        self.body = body
        self.value_scale = value_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[2], x.shape[3]
        x = F.pad(x, [0, (4 - w % 4) % 4, 0, (4 - h % 4) % 4], mode="reflect")
        y = self.body(x * self.value_scale) / self.value_scale
        return y[:, :, :h, :w]


class ExportStylesNet(nn.Module):
    """ExportNet of a net of several styles: `style` (S weights) defaults to the first style."""

    def __init__(self, body: nn.Module, value_scale: float, num_styles: int) -> None:
        super().__init__()
        self.body, self.value_scale, self.num_styles = body, value_scale, num_styles

    def forward(self, x: torch.Tensor, style: torch.Tensor | None = None) -> torch.Tensor:
        if style is None:
            style = torch.zeros(self.num_styles, device=x.device)
            style[0] = 1.0
        h, w = x.shape[2], x.shape[3]
        x = F.pad(x, [0, (4 - w % 4) % 4, 0, (4 - h % 4) % 4], mode="reflect")
        y = self.body(x * self.value_scale, style) / self.value_scale
        return y[:, :, :h, :w]


def _atomic_write(path: str | Path, write: Callable[[str], None]) -> Path:
    """write(tmp) then rename to path: an interrupted export never leaves a damaged file."""
    with atomic_path(path) as tmp:
        write(str(tmp))
    return Path(path)


def _as_checkpoint(checkpoint: Checkpoint | str | Path) -> Checkpoint:
    return checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)


def export_onnx(checkpoint: Checkpoint | str | Path, path: str | Path, opset: int = OPSET) -> Path:
    """Write an ONNX model with dynamic batch, height and width; returns its path."""
    try:
        import onnx
        import onnxscript  # noqa: F401  (torch.onnx's exporter needs it)
    except ImportError:
        raise FastNSTError("ONNX export needs onnx and onnxscript: pip install 'fastnst[export]'") from None
    ckpt = _as_checkpoint(checkpoint)
    net = copy.deepcopy(ckpt.model).float().cpu().eval()
    scale, styles = float(net.config.value_scale), net.config.num_styles
    model = ExportStylesNet(_Body(net), scale, styles) if styles > 1 else ExportNet(_Body(net), scale)
    dim = torch.export.Dim
    shapes = {"x": {0: dim("batch"), 2: dim("height", min=MIN_SIDE), 3: dim("width", min=MIN_SIDE)}}
    inputs, names = (torch.rand(1, 3, 64, 64),), ["image"]
    if net.config.num_styles > 1:
        inputs, names = inputs + (one_hot(0, net.config.num_styles),), names + ["style_weights"]
        shapes["style"] = None

    def write(tmp: str) -> None:
        # The exporter reports its stages on stdout and warns about internals: keep the CLI quiet.
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            program = torch.onnx.export(model, inputs, dynamic_shapes=shapes, dynamo=True,
                                        input_names=names, output_names=["stylized"], opset_version=opset,
                                        verbose=False)
        proto = program.model_proto
        meta = {"style_name": ckpt.style_name, "style_names": json.dumps(ckpt.style_names),
                "arch": net.config.arch, "producer": "fastnst"}
        for key, value in meta.items():
            proto.metadata_props.add(key=key, value=value)
        onnx.save(proto, tmp)

    try:
        return _atomic_write(path, write)
    except FastNSTError:
        raise
    except Exception as exc:
        raise FastNSTError(f"ONNX export failed: {first_line(exc)}", exit_code=1) from None


def onnx_cache_dir() -> Path:
    """Where exported nets are kept between runs: $FASTNST_CACHE, else $XDG_CACHE_HOME/fastnst,
    else ~/.cache/fastnst."""
    if os.environ.get("FASTNST_CACHE"):
        return Path(os.environ["FASTNST_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fastnst"


def cached_onnx_stylizer(checkpoint: Checkpoint) -> "OnnxStylizer":
    """The checkpoint's net in onnxruntime, exported once and then read from the cache: an export
    takes seconds, and the file is named by a hash of the weights, so a retrained net gets its own.
    Where the cache cannot be written (a read-only home), the export is for this run only."""
    digest = hashlib.sha256(repr((checkpoint.model.config, checkpoint.style_names, torch.__version__,
                                  OPSET)).encode())
    for name, tensor in checkpoint.model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    folder = onnx_cache_dir() / "onnx"
    path = folder / f"{digest.hexdigest()[:24]}.onnx"
    if path.is_file():
        try:
            return OnnxStylizer(path)
        except FastNSTError:  # damaged by something else: export it again
            path.unlink(missing_ok=True)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        writable = os.access(folder, os.W_OK)
    except OSError:
        writable = False
    if writable:
        return OnnxStylizer(export_onnx(checkpoint, path))
    with tempfile.TemporaryDirectory() as tmp:  # onnxruntime has read it once the session exists
        return OnnxStylizer(export_onnx(checkpoint, Path(tmp) / "model.onnx"))


def export_torchscript(checkpoint: Checkpoint | str | Path, path: str | Path) -> Path:
    """Write a TorchScript module (torch.jit.load, no fastnst needed); returns its path.

    The layers are traced (they have no shape-dependent code), the padding around them scripted.
    """
    ckpt = _as_checkpoint(checkpoint)
    net = copy.deepcopy(ckpt.model).float().cpu().eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit is deprecated upstream, and still works
        if net.config.num_styles > 1:
            body = torch.jit.trace(_Body(net), (torch.rand(1, 3, 64, 64), one_hot(0, net.config.num_styles)))
            scripted = torch.jit.script(ExportStylesNet(body, float(net.config.value_scale), net.config.num_styles))
        else:
            body = torch.jit.trace(_Body(net), torch.rand(1, 3, 64, 64))
            scripted = torch.jit.script(ExportNet(body, float(net.config.value_scale)))
    extra = {"style_name": ckpt.style_name, "style_names": json.dumps(ckpt.style_names), "arch": net.config.arch}

    def write(tmp: str) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.jit.save(scripted, tmp, _extra_files=extra)

    return _atomic_write(path, write)


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
        meta = self.session.get_modelmeta().custom_metadata_map
        self.style_name = meta.get("style_name") or Path(path).stem
        self.style_names = json.loads(meta["style_names"]) if "style_names" in meta else [self.style_name]
        self.takes_style = len(self.session.get_inputs()) > 1
        self.style_weights: np.ndarray | None = None  # None: the first style

    def with_style(self, mix: torch.Tensor) -> "OnnxStylizer":
        """This session, run with the style weights `mix` (one per style)."""
        other = copy.copy(self)
        other.style_weights = mix.detach().float().cpu().numpy() if self.takes_style else None
        return other

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        if min(images.shape[-2:]) < MIN_SIDE:
            raise FastNSTError(f"the ONNX backend needs images of at least {MIN_SIDE}x{MIN_SIDE} pixels, "
                               f"got {images.shape[-1]}x{images.shape[-2]}")
        feed = {self.input_name: images.detach().float().cpu().contiguous().numpy()}
        if self.takes_style:
            weights = self.style_weights
            if weights is None:
                weights = np.eye(len(self.style_names), dtype=np.float32)[0]
            feed["style_weights"] = weights
        return torch.from_numpy(self.session.run(None, feed)[0])


def run_export(ckpt: str, onnx: str | None, torchscript: str | None, check: bool = True) -> list[str]:
    """Export `ckpt` to ONNX and/or TorchScript, each checked against PyTorch; returns a line per file."""
    if not onnx and not torchscript:
        raise FastNSTError("nothing to export: give --onnx PATH and/or --torchscript PATH")
    checkpoint = load_checkpoint(ckpt)
    lines = []
    # An odd size, so the check covers the padding that makes any H x W work.
    probe = torch.rand(1, 3, 67, 45, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        expected = checkpoint.model.float().cpu().eval()(probe)
    if onnx:
        path = export_onnx(checkpoint, onnx)
        line = f"{ckpt} -> {path} (ONNX, opset {OPSET}, dynamic H x W)"
        if check:
            error = (OnnxStylizer(path)(probe) - expected).abs().max().item()
            line += f"; onnxruntime vs PyTorch at 67x45: max abs difference {error:.1e}"
        lines.append(line)
    if torchscript:
        path = export_torchscript(checkpoint, torchscript)
        line = f"{ckpt} -> {path} (TorchScript)"
        if check:
            with torch.inference_mode(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch.jit is deprecated upstream
                error = (torch.jit.load(str(path))(probe) - expected).abs().max().item()
            line += f"; vs PyTorch at 67x45: max abs difference {error:.1e}"
        lines.append(line)
    return lines

