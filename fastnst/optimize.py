"""Optimization-based style transfer (Gatys et al. 2016): gradient descent on the pixels of one image.

Slow (hundreds of loss-network passes per image) but needs no training; it minimises exactly the
per-image objective the fast networks are trained on (objective.py), which makes it the yardstick
`evaluate` compares them with.

    python -m fastnst.optimize photo.jpg --style starry_night.jpg -o out.png --steps 300
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Any, Callable

import torch
from PIL import Image
from tqdm import tqdm

from .errors import FastNSTError
from .images import open_image, to_pil, to_rgb, to_tensor
from .infer import SAVE_FORMATS, save_image
from .objective import LossConfig, StyleObjective
from .stylize import preserve_colors, resolve_device

INITS = ("content", "noise")
OPTIMIZERS = ("lbfgs", "adam")
# Adam moves every pixel by about lr per step, so lr is in units of the [0, 1] pixel range;
# L-BFGS takes whole quasi-Newton steps (torch's default lr of 1).
DEFAULT_LR = {"adam": 0.02, "lbfgs": 1.0}
LBFGS_HISTORY = 20  # remembered (step, gradient change) pairs: 2 x 20 image-sized tensors


def resize_long_side(image: Image.Image, size: int | None) -> Image.Image:
    """Resize (up or down) so the long side is `size` pixels; None keeps the image as it is."""
    if size is None or max(image.size) == size:
        return image
    scale = size / max(image.size)
    return image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                        Image.Resampling.LANCZOS)


def initial_image(content: torch.Tensor, init: str, seed: int = 0) -> torch.Tensor:
    """The starting point: a copy of the photo, or uniform white noise (seeded, reproducible)."""
    if init == "content":
        return content.clone(memory_format=torch.contiguous_format)  # L-BFGS views the gradient flat
    if init == "noise":
        gen = torch.Generator().manual_seed(seed)
        return torch.rand(content.shape, generator=gen).to(content.device)
    raise FastNSTError(f"unknown init '{init}': choose one of {', '.join(INITS)}")


def run_optimization(objective: StyleObjective, content: torch.Tensor, *, steps: int, init: str = "content",
                     optimizer: str = "lbfgs", lr: float | None = None, seed: int = 0,
                     stop_below: float | None = None,
                     on_step: Callable[[int, torch.Tensor], None] | None = None,
                     progress: bool = False) -> tuple[torch.Tensor, list[dict[str, float]]]:
    """Minimise `objective` over the pixels of one 1x3xHxW image that should keep `content`.

    One step is one loss-network forward and backward pass, for Adam and L-BFGS alike (L-BFGS
    runs without line search, one iteration per step), so step counts cost the same.

    Returns the final image (clamped to [0, 1]) and its history: entry i holds every loss term of
    the image after i steps plus "seconds" since the start (entry 0 is the starting image). With
    `stop_below`, stops once an entry's total is below it (the returned image is then one step
    further on). `on_step(i, image)` is called after each step.
    """
    if optimizer not in OPTIMIZERS:
        raise FastNSTError(f"unknown optimizer '{optimizer}': choose one of {', '.join(OPTIMIZERS)}")
    lr = DEFAULT_LR[optimizer] if lr is None else lr
    if not (lr > 0 and math.isfinite(lr)):
        raise FastNSTError("--lr must be a positive number")
    if steps < 0:
        raise FastNSTError("--steps must not be negative")
    targets = objective.content_targets(content)
    image = initial_image(content, init, seed).requires_grad_(True)
    if optimizer == "adam":
        opt = torch.optim.Adam([image], lr=lr)
    else:  # max_iter=1: each .step() is one evaluation and one update; its memory persists across calls
        opt = torch.optim.LBFGS([image], lr=lr, max_iter=1, history_size=LBFGS_HISTORY)

    history: list[dict[str, float]] = []
    start = time.perf_counter()

    def record(terms: dict[str, torch.Tensor]) -> None:
        entry = {k: v.item() for k, v in terms.items()}
        entry["seconds"] = time.perf_counter() - start
        if not math.isfinite(entry["total"]):
            raise FastNSTError(f"the loss became {entry['total']} at step {len(history)}; "
                               f"try a lower --lr", exit_code=1)
        history.append(entry)

    def closure() -> torch.Tensor:
        opt.zero_grad(set_to_none=True)
        terms = objective(image, targets)
        terms["total"].backward()
        record(terms)
        return terms["total"]

    bar = tqdm(total=steps, desc=f"optimize ({optimizer})", unit="step", disable=not progress, dynamic_ncols=True)
    try:
        for step in range(1, steps + 1):
            opt.step(closure)  # records the loss of the image *before* this step, then updates it
            with torch.no_grad():
                image.clamp_(0, 1)  # stay a valid image (projected gradient descent)
            bar.set_postfix(loss=f"{history[-1]['total']:.4g}")
            bar.update(1)
            if on_step is not None:
                on_step(step, image.detach())
            if stop_below is not None and history[-1]["total"] < stop_below:
                break  # the image is one step past the end of the history: fine for a yardstick
        else:
            with torch.no_grad():  # the loss of the final image
                record(objective(image, targets))
    finally:
        bar.close()
    return image.detach().clamp(0, 1), history


def optimize(content: Image.Image | str | Path, style: Image.Image | str | Path, *,
             output: str | Path | None = None, steps: int = 300, size: int | None = 512,
             init: str = "content", optimizer: str = "lbfgs", lr: float | None = None,
             save_every: int | None = None, preserve_color: bool = False, device: str | torch.device = "auto",
             seed: int = 0, progress: bool = False, return_history: bool = False,
             **loss_options: Any) -> Image.Image | tuple[Image.Image, list[dict[str, float]]]:
    """Stylize one image by optimizing its pixels (Gatys et al.), with training's loss.

    Args:
        content: the photo, a PIL image or a path (EXIF orientation applied).
        style: the style image, a PIL image or a path.
        output: also save the result here (written atomically); intermediate images go beside it.
        steps: loss-network passes (forward + backward) to spend.
        size: resize the photo so its long side is this many pixels (None: as it is).
        init: start from the "content" photo or from white "noise".
        optimizer: "lbfgs" or "adam"; lr: its step size (default 1 for L-BFGS, 0.02 for Adam).
        save_every: every this many steps save <output stem>_<step>.<ext> (needs output).
        preserve_color: keep the photo's colours, transfer only luminance.
        device: "auto", "cpu", "cuda", "cuda:N" or "mps".
        seed: for the noise start.
        progress: show a tqdm progress bar.
        return_history: also return the loss history (see run_optimization).
        **loss_options: LossConfig fields, as in training: loss_net, loss_weights, content_layers,
            style_layers, style_layer_weights, content_weight, style_weight, tv_weight, style_size.

    Returns:
        The stylized RGB image (RGBA if the photo had transparency), or (image, history).
    """
    unknown = set(loss_options) - set(LossConfig.__dataclass_fields__)
    if unknown:
        raise FastNSTError(f"unknown option(s): {', '.join(sorted(unknown))}")
    if steps < 1:
        raise FastNSTError("--steps must be at least 1")
    if size is not None and size < 16:
        raise FastNSTError("--size must be at least 16 pixels")
    if init not in INITS:
        raise FastNSTError(f"unknown init '{init}': choose one of {', '.join(INITS)}")
    if save_every is not None and (save_every < 1 or output is None):
        raise FastNSTError("--save-every needs a positive number of steps and an output file")
    output = Path(output) if output is not None else None
    if output is not None:
        if output.suffix.lower() not in SAVE_FORMATS:
            raise FastNSTError(f"{output}: unsupported output extension (use .jpg, .png, .webp or .bmp)")
        inputs = [Path(p).resolve() for p in (content, style) if isinstance(p, (str, Path))]
        if output.resolve() in inputs:
            raise FastNSTError(f"the output {output} would overwrite an input; choose another -o")

    rgb, alpha = open_image(content) if isinstance(content, (str, Path)) else to_rgb(content)
    rgb = resize_long_side(rgb, size)
    dev = resolve_device(device)
    objective = StyleObjective(style, LossConfig(**loss_options), dev)
    photo = to_tensor(rgb).to(dev)

    def finish(image: torch.Tensor) -> Image.Image:
        if preserve_color:
            image = preserve_colors(image, photo).clamp(0, 1)
        result = to_pil(image)
        if alpha is not None:
            result.putalpha(alpha.resize(result.size))
        return result

    def save_intermediate(step: int, image: torch.Tensor) -> None:
        if save_every and step % save_every == 0 and step < steps:
            save_image(finish(image), output.with_name(f"{output.stem}_{step:04d}{output.suffix}"))

    image, history = run_optimization(objective, photo, steps=steps, init=init, optimizer=optimizer, lr=lr,
                                      seed=seed, on_step=save_intermediate, progress=progress)
    result = finish(image)
    if output is not None:
        save_image(result, output)
    return (result, history) if return_history else result


if __name__ == "__main__":
    from .cli import optimize_main

    sys.exit(optimize_main())
