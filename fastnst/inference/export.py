"""Export a trained net for runtimes without fastnst: ONNX (any H x W) and TorchScript.

    export_onnx(checkpoint, "mosaic.onnx")          # python -m fastnst export mosaic.pt --onnx mosaic.onnx
    export_torchscript(checkpoint, "mosaic.ts")     # ... --torchscript mosaic.ts

Both take and return N x 3 x H x W float RGB in [0, 1] ("image" -> "stylized"; the output is not
clamped), any batch size and any H, W of at least 8. A net of several styles takes a second input,
"style_weights": one float per style (a one-hot vector picks a style, a convex one blends). ONNX
files carry the style names in their metadata ("style_names", a JSON list); onnx_runtime.py runs
them (infer.py --backend onnxruntime).
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import warnings
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..checkpoint import Checkpoint, load_checkpoint
from ..errors import FastNSTError, disk_full, first_line
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


def _atomic_write(path: str | Path, write: Callable[[str], None], checkpoint: object = None) -> Path:
    """write(tmp) then rename to path: an interrupted export never leaves a damaged file, nor
    replaces the checkpoint it came from (given as a path)."""
    with atomic_path(path, [checkpoint]) as tmp:
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
        return _atomic_write(path, write, ckpt.path)
    except FastNSTError:
        raise
    except Exception as exc:
        where = f" ({path})" if disk_full(exc) else ""
        raise FastNSTError(f"ONNX export failed{where}: {first_line(exc)}", exit_code=1) from None


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
        # Into memory first: torch.jit.save straight to a file aborts the process when the disk is full.
        buffer = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.jit.save(scripted, buffer, _extra_files=extra)
        Path(tmp).write_bytes(buffer.getvalue())

    try:
        return _atomic_write(path, write, ckpt.path)
    except OSError as exc:
        raise FastNSTError(f"could not write {path}: {first_line(exc)}", exit_code=1) from None
