"""The one place that reads a model and picks what runs it: a file (a fastnst checkpoint, a PyTorch
fast_neural_style file, an .onnx export, a universal model) or a loaded object, with a RuntimeSpec
(device, precision, backend, compile) and a style, becomes Runtimes (inference/runtime.py).

    runtimes = load_runtimes("five.pt", "all", RuntimeSpec(precision="fp32"))   # one per style
    runtimes = load_runtimes("universal.pt", "a.jpg=0.6,b.jpg=0.4", RuntimeSpec())

Nothing else in the package asks which kind of model it holds.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from PIL import Image

from ..checkpoint import Checkpoint, load_checkpoint
from ..checks import shown
from ..device import resolve_device
from ..errors import FastNSTError
from ..files import is_file
from ..model import TransformerNet
from ..universal import LoadedUniversal, UniversalNet, is_universal_file, load_universal
from .fastpath import FastStylizer, norms
from .options import OptionError, RuntimeSpec
from .runtime import Net, Runtime, as_runtime
from .styles import StyleSpec, StyleSwitch, net_style_names, parse_style, select_style, split_blend
from .universal import UniversalRuntime, parse_paintings

# What a model may be given as.
Model = Checkpoint | TransformerNet | UniversalNet | LoadedUniversal | Runtime | Net | str | Path
# int8's calibration photos: given, or made on demand from the style labels the run will write
# (so a caller can skip its own earlier outputs among the inputs).
Calibration = Sequence[Image.Image] | Callable[[list[str]], Sequence[Image.Image]]

INT8_REFUSAL = ("{precision} int8 runs whole images on the CPU (onnxruntime): leave out {device}, {backend}, "
                "{compile} and {tile}, or use {device} cpu")
ONNX_REFUSAL = "{precision}, {compile} and {tile} are for {backend} torch"


def _is_onnx(model: object) -> bool:
    return isinstance(model, (str, Path)) and Path(model).suffix.lower() == ".onnx"


def file_kind(path: str | Path) -> str:
    """What a model file is, for describing it: "onnx" (an export), "universal" (the universal
    model) or "checkpoint" (a network trained for its styles, or a file that is none of these)."""
    if _is_onnx(path):
        return "onnx"
    return "universal" if is_universal_file(path) else "checkpoint"


def choose_runtime(checkpoint: object, spec: RuntimeSpec, tile: int | None = None) -> str:
    """What runs a trained net: "torch" (the fast path), "onnxruntime" or "int8" (quantized, run by
    onnxruntime); an OptionError for a combination that cannot run. backend "auto": onnxruntime
    for an .onnx file, else the fast path."""
    backend = spec.backend
    if backend == "auto":
        backend = "onnxruntime" if _is_onnx(checkpoint) else "torch"
    elif backend == "torch" and _is_onnx(checkpoint):
        raise OptionError(f"{checkpoint}: an .onnx file runs with {{backend}} onnxruntime (or auto)")
    if spec.precision == "int8":
        if resolve_device(spec.device).type != "cpu" or backend == "onnxruntime" or spec.compile or tile:
            raise OptionError(INT8_REFUSAL)
        return "int8"
    if backend == "onnxruntime":
        if str(spec.device) not in ("auto", "cpu"):
            raise OptionError("{backend} onnxruntime runs on the CPU: use {device} cpu (or auto)")
        if spec.compile or spec.precision not in ("auto", "fp32") or tile:
            raise OptionError(ONNX_REFUSAL)
    return backend


def load_runtimes(model: Model, style: StyleSpec | Sequence[str | Path] = None, spec: RuntimeSpec | None = None,
                  *, shared: bool = False, calibration: Calibration = (), tile: int | None = None) -> list[Runtime]:
    """A Runtime for each choice `style` makes: "all" every style of a net; a list of paintings
    (or blends) for the universal model, one each, sharing the net.

    shared: a net's choices share one prepared net and switch its norms when called (StyleSwitch):
    one net in memory and no reload, for the webcam; else each choice is a net of its own.
    tile: the tiles the caller will ask for, refused before any work for a runtime without them.
    """
    spec = (spec or RuntimeSpec()).check()
    runtimes = _load(model, style, spec, shared, calibration, tile)
    source = (model.path if isinstance(model, (Checkpoint, LoadedUniversal))
              else model if isinstance(model, (str, Path)) else None)
    for runtime in runtimes:
        if source is not None and runtime is not model:
            runtime.sources = [Path(source), *runtime.sources]
    return runtimes


def _load(model: Model, style: Any, spec: RuntimeSpec, shared: bool, calibration: Calibration,
          tile: int | None) -> list[Runtime]:
    if isinstance(model, Runtime):
        if style not in (None, "all"):
            raise FastNSTError("a style is chosen when loading: give the checkpoint, not a loaded stylizer")
        return [model]
    if isinstance(model, (UniversalNet, LoadedUniversal)) or (
            isinstance(model, (str, Path)) and is_universal_file(model)):
        return _universal(model, style, spec)
    if not isinstance(model, (Checkpoint, str, Path)):
        return _prepared(model, style, resolve_device(spec.device))
    kind = choose_runtime(model, spec, tile)
    if kind == "onnxruntime":
        session = _onnx_session(model)
        # One session; each choice feeds its own style weights.
        return [Runtime(session.with_style(c.mix), torch.device("cpu"), c.label, session.style_names, kind)
                for c in parse_style(_one_spec(model, style, session.style_names), session.style_names)]
    loaded = model if isinstance(model, Checkpoint) else load_checkpoint(model)
    choices = parse_style(_one_spec(model, style, loaded.style_names), loaded.style_names)
    if kind == "int8":
        from .int8 import quantize  # onnxruntime is an optional dependency

        photos = calibration([c.label for c in choices]) if callable(calibration) else calibration
        quantized = quantize(loaded, list(photos))
        return [Runtime(quantized.with_style(c.mix), torch.device("cpu"), c.label, loaded.style_names, kind)
                for c in choices]
    device = resolve_device(spec.device)
    if shared and len(choices) > 1:
        net = FastStylizer(select_style(loaded.model, choices[0]), device, spec.precision, spec.compile)
        targets, state = norms(net.net), {}
        return [Runtime(StyleSwitch(net, loaded.model, c, targets, state), device, c.label, loaded.style_names)
                for c in choices]
    return [Runtime(FastStylizer(select_style(loaded.model, c), device, spec.precision, spec.compile), device,
                    c.label, loaded.style_names) for c in choices]


def _one_spec(model: object, style: Any, names: list[str]) -> StyleSpec:
    """A trained net's style choice, refusing what is meant for the universal model: a painting (a
    file that is none of the net's style names)."""
    specs = list(style) if isinstance(style, (list, tuple)) else [style]
    for spec in specs:
        if isinstance(spec, str) and any(key not in names and is_file(key)
                                         for key, _ in split_blend(spec, lambda k: k in names or is_file(k))):
            where = f"{model}" if isinstance(model, (str, Path)) else "this model"
            raise OptionError(f"{{style}} {spec}: a painting is for the universal model (leave out {{model}}); "
                              f"{where} is a network trained for its own styles ({', '.join(names)})")
    return style


def _prepared(net: TransformerNet | Net, style: StyleSpec, device: torch.device) -> list[Runtime]:
    """A net or anything called like one, run as it is on `device` (a TransformerNet: in the chosen style)."""
    if isinstance(net, TransformerNet):
        names = net_style_names(net)
        if net.config.num_styles == 1 and style is None:
            return [as_runtime(net, device, names)]
        return [Runtime(select_style(net, c).to(device).eval(), device, c.label, names)
                for c in parse_style(_one_spec(net, style, names), names)]
    if style is not None and not (isinstance(style, str) and style == "all"):
        raise FastNSTError("a style can be chosen for a checkpoint or a TransformerNet, not for a prepared stylizer")
    if not callable(net):
        raise FastNSTError(f"cannot stylize with {shown(net)}: give a checkpoint, its path or a net")
    return [as_runtime(net, device)]


def _universal(model: UniversalNet | LoadedUniversal | str | Path, style: Any, spec: RuntimeSpec) -> list[Runtime]:
    """The universal model with the painting(s) `style` names: "a.jpg", a blend "a.jpg=0.6,b.jpg=0.4",
    or a list of either (one runtime each, sharing the net: the webcam's n/p)."""
    specs = style if isinstance(style, (list, tuple)) and style else [style]
    for painting in specs:
        if painting is not None and not isinstance(painting, (str, Path)):
            raise OptionError(f"{{style}} must be a painting's path (a string or a Path), or a blend of them "
                              f"(\"a.jpg=0.6,b.jpg=0.4\"), got {shown(painting)}")
        if painting is None or painting == "all":
            raise OptionError("the universal model stylizes with a painting: give {style} PAINTING (a file; "
                              "several blend: a.jpg=0.6,b.jpg=0.4)")
    if spec.backend not in ("auto", "torch") or spec.precision == "int8":
        raise OptionError("the universal model runs with {backend} torch (not onnxruntime or int8)")
    loaded = load_universal(model) if isinstance(model, (str, Path)) else model
    net = loaded.net if isinstance(loaded, LoadedUniversal) else loaded
    net = net if loaded is not model else copy.deepcopy(net)  # the caller's own net stays as it was
    device = resolve_device(spec.device)
    return [UniversalRuntime(net, parse_paintings(painting), device, spec.precision) for painting in specs]


def _onnx_session(checkpoint: Checkpoint | str | Path) -> Any:
    from .onnx_runtime import OnnxStylizer, cached_onnx_stylizer  # onnxruntime is an optional dependency

    if isinstance(checkpoint, Checkpoint):  # loaded already (perhaps never saved): exported once, cached
        return cached_onnx_stylizer(checkpoint)
    if _is_onnx(checkpoint):
        if not Path(checkpoint).is_file():
            raise FastNSTError(f"ONNX model not found: {checkpoint}")
        return OnnxStylizer(checkpoint)
    return cached_onnx_stylizer(load_checkpoint(checkpoint))
