"""How good is a trained network? Its outputs' losses, its speed, and how many optimizer steps
(Gatys et al.) it takes to do as well: Johnson et al.'s "equivalent optimization steps".

    python -m fastnst evaluate --ckpt mosaic.pt --content photos/ --style mosaic.jpg --vs-optimize 300

The losses are training's objective (loss/objective.py) with the loss network, layers and weights
the checkpoint was trained with, unless overridden, so they compare with the training curves.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from pathlib import Path
from typing import Any, Iterable

import torch
from tqdm import tqdm

from ..checkpoint import Checkpoint, load_checkpoint
from ..device import resolve_device
from ..errors import FastNSTError
from ..files import atomic_path
from ..progress import show_progress
from ..images import image_files, open_rgb, resize_long_side, to_tensor
from ..inference.styles import StyleChoice, parse_style, select_style
from ..loss import RANDOM_WEIGHTS, LossConfig, Objective
from .optimize import check_run, run_optimization


def _loss_config(checkpoint: Checkpoint, overrides: dict[str, Any], choice: StyleChoice) -> LossConfig:
    """The objective the net trained `choice`'s style with (its style weight's gain, of a boosted run)."""
    config = LossConfig.from_dict(checkpoint.loss, **overrides)
    if config.style_gains:
        config.style_gains = (config.style_gains[int(choice.mix.argmax())],)
    weights = config.loss_weights
    stored = overrides.get("loss_weights") is None
    if stored and weights not in (None, RANDOM_WEIGHTS) and not Path(weights).is_file():
        raise FastNSTError(f"{checkpoint.path} was trained with loss network weights {weights}, which are "
                           f"not here; pass --loss-weights PATH")
    return config


def _style_path(checkpoint: Checkpoint, style: str | Path | None, name: str) -> Path:
    if style is not None:
        return Path(style)
    stored = checkpoint.train_args.get("style")
    if isinstance(stored, list):  # a net of several styles: the image of the style evaluated
        stored = next((s for s in stored if Path(s).stem == name), None)
    if stored and Path(stored).is_file():
        return Path(stored)
    where = f"its style image {stored} is not here" if stored else "it does not record its style image"
    raise FastNSTError(f"no --style given and {checkpoint.path}: {where}; pass --style PATH")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def evaluate(checkpoint: Checkpoint | str | Path, content: str | Path, style: str | Path | None = None, *,
             size: int | None = 256, images: int | None = None, vs_optimize: int | None = None, vs_init: str = "noise",
             vs_optimizer: str = "lbfgs", vs_lr: float | None = None, device: str | torch.device = "auto",
             progress: bool | None = False, net_style: str | int | None = None,
             **loss_overrides: Any) -> dict[str, Any]:
    """Losses and speed of a network's outputs on a folder of photos (or one photo).

    Args:
        checkpoint: a loaded Checkpoint or a checkpoint path.
        content: a folder of photos (searched recursively) or one image file.
        style: the style image the losses are measured against; default the one the checkpoint
            was trained on, if that file is here.
        size: resize each photo so its long side is this many pixels (None: as they are).
        images: use only the first this many photos (sorted by path).
        vs_optimize: also run the optimizer for up to this many steps per photo, from `vs_init`
            ("noise", as Johnson et al.'s baseline, or "content") with `vs_optimizer`, and find the
            first step whose total loss is below the network's. A step is one loss-network pass:
            for L-BFGS a function evaluation, line-search trials included (a little more than one
            per iteration), so the count is if anything on the high side of Johnson et al.'s.
        device: "auto", "cpu", "cuda", "cuda:N" or "mps".
        net_style: for a net of several styles, the one evaluated (name or index; default the first).
        **loss_overrides: LossConfig fields (loss_net, loss_weights, style_weight, ...) replacing
            the checkpoint's.

    Returns:
        A dict (JSON-ready): "images" (one entry per photo: its losses, "seconds" for the network's
        forward pass and, with vs_optimize, "optimize": steps and seconds to match), "mean" over
        photos, "optimize" (summary), and the settings used.
    """
    _check_options(size=size, images=images, vs_optimize=vs_optimize, vs_init=vs_init, vs_optimizer=vs_optimizer,
                   vs_lr=vs_lr, loss_overrides=loss_overrides)
    files = image_files(content)[:images]
    ckpt = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
    choice = _one_style(ckpt, net_style)
    config = _loss_config(ckpt, loss_overrides, choice)
    style_path = _style_path(ckpt, style, choice.label)
    dev = resolve_device(device)
    objective = Objective(style_path, config, dev)
    model = select_style(ckpt.model, choice).to(dev).eval()

    results = []
    for path in tqdm(files, desc=f"evaluate {choice.label}", unit="img", disable=not show_progress(progress)):
        photo, entry = _measure_photo(model, objective, path, content=content, size=size, device=dev,
                                      warm_up=not results)
        if vs_optimize:
            entry["optimize"] = _steps_to_match(objective, photo, entry["total"], max_steps=vs_optimize,
                                                init=vs_init, optimizer=vs_optimizer, lr=vs_lr)
        results.append(entry)

    report: dict[str, Any] = {
        "checkpoint": str(ckpt.path) if ckpt.path else ckpt.style_name, "style_name": choice.label,
        "style": str(style_path), "size": size, "device": str(dev),
        "loss": config.to_dict(),
        "images": results,
        "mean": _means(results),
    }
    if vs_optimize:
        report["optimize"] = _optimize_summary(results, max_steps=vs_optimize, init=vs_init, optimizer=vs_optimizer,
                                               lr=vs_lr)
    return report


def _check_options(*, size: int | None, images: int | None, vs_optimize: int | None, vs_init: str,
                   vs_optimizer: str, vs_lr: float | None, loss_overrides: dict[str, Any]) -> None:
    """Refuse bad options before anything is loaded."""
    if vs_optimize is not None and vs_optimize < 1:
        raise FastNSTError("--vs-optimize needs a positive number of steps")
    check_run(size=size, init=vs_init, optimizer=vs_optimizer, lr=vs_lr, loss_options=loss_overrides, flag="vs-")
    if images is not None and images < 1:
        raise FastNSTError("--images must be at least 1")


def _one_style(checkpoint: Checkpoint, net_style: str | int | None) -> StyleChoice:
    """The one style of the net evaluated: losses are measured against one style image."""
    choices = parse_style(net_style, checkpoint.style_names)
    choice = choices[0]
    if len(choices) > 1 or choice.mix.max() < 1:  # "all", or a blend: no one style image to measure against
        raise FastNSTError("evaluate measures one style at a time: give --net-style a name or an index")
    return choice


def _measure_photo(model: torch.nn.Module, objective: Objective, path: Path, *, content: str | Path,
                   size: int | None, device: torch.device, warm_up: bool) -> tuple[torch.Tensor, dict[str, Any]]:
    """The network on one photo of `content`, at `size`: the photo as a tensor, and its report entry
    (name, width, height, "seconds" for the forward pass, then every loss term of the output)."""
    photo = to_tensor(resize_long_side(open_rgb(path), size, enlarge=True)).to(device)
    with torch.inference_mode():
        if warm_up:
            model(photo)  # warm-up: the first call pays for allocation and kernel selection
        _sync(device)
        tick = time.perf_counter()
        output = model(photo).clamp(0, 1)  # the image a user gets, as stylize() returns it
        _sync(device)
        seconds = time.perf_counter() - tick
    with torch.no_grad():
        terms = {k: v.item() for k, v in objective(output, objective.content_targets(photo)).items()}
    name = str(path.relative_to(content) if Path(content).is_dir() else path.name)
    return photo, {"image": name, "width": photo.shape[-1], "height": photo.shape[-2], "seconds": seconds, **terms}


def _steps_to_match(objective: Objective, photo: torch.Tensor, net_total: float, *, max_steps: int, init: str,
                    optimizer: str, lr: float | None) -> dict[str, Any]:
    """Johnson et al.'s equivalent optimization steps for one photo: the first step at which the
    optimizer's image has a lower total loss than the network's output (None if none within
    `max_steps`), and what it cost."""
    _, history = run_optimization(objective, photo, steps=max_steps, init=init, optimizer=optimizer, lr=lr,
                                  stop_below=net_total)
    matched = next((i for i, h in enumerate(history) if h["total"] < net_total), None)
    return {"steps_to_match": matched,
            "seconds_to_match": None if matched is None else history[matched]["seconds"],
            "seconds_per_step": history[-1]["seconds"] / max(len(history) - 1, 1),
            "best_total": min(h["total"] for h in history)}


def _means(results: list[dict[str, Any]]) -> dict[str, float]:
    """The mean over photos of each number measured: seconds and every loss term."""
    keys = [k for k in results[0] if k not in ("image", "width", "height", "optimize")]
    return {k: _mean([r[k] for r in results]) for k in keys}


def _optimize_summary(results: list[dict[str, Any]], *, max_steps: int, init: str, optimizer: str,
                      lr: float | None) -> dict[str, Any]:
    """The equivalent optimization steps over all photos, and the settings they were found with."""
    steps = [r["optimize"]["steps_to_match"] for r in results]
    reached = [s for s in steps if s is not None]
    all_reached = len(reached) == len(steps)
    # A photo the optimizer never caught up on counts as infinitely many steps: the median is
    # None (">max_steps") when that is true of half of them, the mean when of any.
    median = statistics.median(math.inf if s is None else s for s in steps)
    return {
        "max_steps": max_steps, "init": init, "optimizer": optimizer, "lr": lr,
        "matched": len(reached), "of": len(steps),
        "median_steps": None if math.isinf(median) else median,
        "mean_steps": _mean(reached) if all_reached else None,
        "mean_seconds_to_match": _mean([r["optimize"]["seconds_to_match"] for r in results])
        if all_reached else None,
        "seconds_per_step": _mean([r["optimize"]["seconds_per_step"] for r in results]),
    }


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def steps_text(steps: float | None, max_steps: int) -> str:
    """An equivalent step count as the tables show it: '>N' when the optimizer never caught up."""
    return f">{max_steps}" if steps is None else f"{steps:g}"


def format_table(report: dict[str, Any]) -> str:
    """The report as a plain-text table: one row per photo, then the mean."""
    layers = [k for k in report["mean"] if k.startswith("style_")]
    columns = ["net s", "content", "style", *layers, "tv", "total"]
    keys = ["seconds", "content", "style", *layers, "tv", "total"]
    opt = report.get("optimize")
    if opt:
        columns += ["opt steps", "opt s"]
    width = max(12, *(len(r["image"]) for r in report["images"]))
    widths = [max(9, len(c)) for c in columns]
    lines = [f"{report['style_name']} on {len(report['images'])} image(s) at {report['size'] or 'full'} px, "
             f"{report['device']}, loss net {report['loss']['loss_net']}",
             f"{'image':<{width}}  " + "  ".join(f"{c:>{w}}" for c, w in zip(columns, widths))]
    rows = [(r["image"], r) for r in report["images"]] + [("mean", report["mean"])]
    for name, row in rows:
        cells = [_fmt(row[k]) for k in keys]
        if opt:
            if "optimize" in row:
                cells += [steps_text(row["optimize"]["steps_to_match"], opt["max_steps"]),
                          _fmt(row["optimize"]["seconds_to_match"])]
            else:
                median = steps_text(opt["median_steps"], opt["max_steps"])
                cells += [f"{median} (med)", _fmt(opt["mean_seconds_to_match"])]
        lines.append(f"{name:<{width}}  " + "  ".join(f"{c:>{w}}" for c, w in zip(cells, widths)))
    if opt:
        lines.append(f"optimizer: {opt['optimizer']} from {opt['init']}, up to {opt['max_steps']} steps, "
                     f"{opt['seconds_per_step']:.3g} s/step; caught up with the net on {opt['matched']} of {opt['of']}")
    return "\n".join(lines)


def write_json(report: dict[str, Any], path: str | Path, inputs: Iterable[object] = ()) -> Path:
    """Write the report as JSON, atomically: never a half-written file, never one of `inputs`."""
    path = Path(path)
    with atomic_path(path, inputs) as tmp:
        tmp.write_text(json.dumps(report, indent=2) + "\n")
    return path

