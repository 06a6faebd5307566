"""Optimization-based style transfer (Gatys et al. 2016): gradient descent on the pixels of one image.

Slow (hundreds of loss-network passes per image) but needs no training; it minimises exactly the
per-image objective the fast networks are trained on (loss/objective.py), which makes it the
yardstick `evaluate` compares them with.

    python -m fastnst optimize photo.jpg --style starry_night.jpg -o out.png --steps 300
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from ..device import resolve_device
from ..errors import FastNSTError
from ..files import check_writable
from ..progress import show_progress
from ..images import SAVE_FORMATS, open_image, resize_long_side, save_image, to_pil, to_rgb, to_tensor
from ..inference import preserve_colors
from ..loss import LossConfig, Objective

INITS = ("content", "noise")
OPTIMIZERS = ("lbfgs", "adam")
# Adam moves every pixel by about lr per step: lr is in units of the [0, 1] pixel range.
# L-BFGS-B finds its own step lengths by line search.
ADAM_LR = 0.02
LBFGS_HISTORY = 20  # remembered (step, gradient change) pairs


class _Stop(Exception):
    """Ends a scipy L-BFGS-B run from inside its objective once the step budget is spent."""


def initial_image(content: torch.Tensor, init: str, seed: int = 0) -> torch.Tensor:
    """The starting point: a copy of the photo, or uniform white noise (seeded, reproducible)."""
    if init == "content":
        return content.clone(memory_format=torch.contiguous_format)
    if init == "noise":
        gen = torch.Generator().manual_seed(seed)
        return torch.rand(content.shape, generator=gen).to(content.device)
    raise FastNSTError(f"unknown init '{init}': choose one of {', '.join(INITS)}")


def check_optimizer(optimizer: str, lr: float | None) -> None:
    if optimizer not in OPTIMIZERS:
        raise FastNSTError(f"unknown optimizer '{optimizer}': choose one of {', '.join(OPTIMIZERS)}")
    if optimizer == "lbfgs" and lr is not None:
        raise FastNSTError("--lr is for --optimizer adam: L-BFGS finds its step lengths by line search")
    if lr is not None and not (lr > 0 and math.isfinite(lr)):
        raise FastNSTError("--lr must be a positive number")


def check_run(*, size: int | None, init: str, optimizer: str, lr: float | None, loss_options: dict[str, Any],
              flag: str = "") -> None:
    """The options optimize and evaluate share; `flag` prefixes the optimizer's flag names ("vs-")."""
    unknown = set(loss_options) - set(LossConfig.field_names())
    if unknown:
        raise FastNSTError(f"unknown option(s): {', '.join(sorted(unknown))}")
    if size is not None and size < 16:
        raise FastNSTError("--size must be at least 16 pixels")
    if init not in INITS:
        raise FastNSTError(f"unknown --{flag}init '{init}': choose one of {', '.join(INITS)}")
    check_optimizer(optimizer, lr)


def run_optimization(objective: Objective, content: torch.Tensor, *, steps: int, init: str = "content",
                     optimizer: str = "lbfgs", lr: float | None = None, seed: int = 0,
                     stop_below: float | None = None,
                     on_step: Callable[[int, torch.Tensor], None] | None = None,
                     progress: bool | None = False) -> tuple[torch.Tensor, list[dict[str, float]]]:
    """Minimise `objective` over the pixels, kept in [0, 1], of one 1x3xHxW image that should keep
    `content`.

    One step is one loss-network forward and backward pass, for both optimizers, so step counts
    cost the same: an Adam update, or one function evaluation of scipy's L-BFGS-B (line-search
    trials included), which handles the pixel bounds exactly where clamping after each step would
    corrupt L-BFGS's curvature estimates and make it unstable.

    Returns the image the last step produced and the history: entry i holds every loss term of
    the image after i steps, plus "seconds" since the start (entry 0: the starting image). Stops
    after `steps` steps, or with `stop_below` as soon as an entry's total is below it, or when
    L-BFGS-B converges. `on_step(i, image)` is called with the image of each step.
    """
    check_optimizer(optimizer, lr)
    lr = ADAM_LR if lr is None else lr
    if steps < 0:
        raise FastNSTError("--steps must not be negative")
    targets = objective.content_targets(content)
    image = initial_image(content, init, seed).requires_grad_(True)
    history: list[dict[str, float]] = []
    best = {"total": math.inf, "image": None}  # L-BFGS's line search tries points worse than the last
    start = time.perf_counter()
    bar = tqdm(total=steps, desc=f"optimize ({optimizer})", unit="step", disable=not show_progress(progress),
               dynamic_ncols=True)

    def evaluate() -> float:
        """The loss of the current image, recorded, and its gradient in image.grad."""
        if history:
            bar.update(1)
            if on_step is not None:
                on_step(len(history), image.detach())
        image.grad = None
        terms = objective(image, targets)
        terms["total"].backward()
        entry = _history_entry(terms, start, step=len(history))
        history.append(entry)
        if entry["total"] < best["total"]:
            best.update(total=entry["total"], image=image.detach().clone())
        bar.set_postfix(loss=f"{entry['total']:.4g}")
        return entry["total"]

    def done() -> bool:
        return len(history) > steps or (stop_below is not None and history[-1]["total"] < stop_below)

    try:
        if optimizer == "adam":
            _adam(image, lr, evaluate, done)
        else:
            _lbfgs_b(image, evaluate, done)
    finally:
        bar.close()
    # The best image seen: a budget can run out in the middle of a line search, on a trial point.
    return best["image"] if best["image"] is not None else image.detach(), history


def _history_entry(terms: dict[str, torch.Tensor], start: float, step: int) -> dict[str, float]:
    """One entry of the history: every loss term as a number, and the seconds since `start`.

    The clock is read after the terms are fetched, which waits for the device to finish them. A
    loss that is not finite ends the run, with a hint: usually Adam's lr is too high.
    """
    entry = {k: v.item() for k, v in terms.items()}
    entry["seconds"] = time.perf_counter() - start
    if not math.isfinite(entry["total"]):
        raise FastNSTError(f"the loss became {entry['total']} at step {step}; try a lower --lr", exit_code=1)
    return entry


def _adam(image: torch.Tensor, lr: float, evaluate: Callable[[], float], done: Callable[[], bool]) -> None:
    """Run Adam on `image` in place until done() says so, clamping to [0, 1] after each update
    (projected gradient descent: stay a valid image)."""
    adam = torch.optim.Adam([image], lr=lr)
    while True:
        evaluate()
        if done():
            break
        adam.step()
        with torch.no_grad():
            image.clamp_(0, 1)


def _lbfgs_b(image: torch.Tensor, evaluate: Callable[[], float], done: Callable[[], bool]) -> None:
    """Run scipy's L-BFGS-B on `image` in place, within [0, 1], until done() says so."""
    from scipy.optimize import Bounds, minimize  # only this optimizer needs scipy

    def loss_and_grad(x: np.ndarray) -> tuple[float, np.ndarray]:
        with torch.no_grad():
            image.copy_(torch.from_numpy(x).view(image.shape))
        loss = evaluate()
        if done():
            raise _Stop
        return loss, image.grad.detach().cpu().double().numpy().ravel()

    x0 = image.detach().cpu().double().numpy().ravel()
    try:
        result = minimize(loss_and_grad, x0, jac=True, method="L-BFGS-B", bounds=Bounds(0.0, 1.0),
                          options={"maxcor": LBFGS_HISTORY, "maxiter": 10**9, "maxfun": 10**9,
                                   "ftol": 0.0, "gtol": 0.0})
    except _Stop:
        return
    # Converged (or the line search could go no further) before the budget: keep its answer.
    with torch.no_grad():
        image.copy_(torch.from_numpy(result.x).view(image.shape))
    evaluate()


def optimize(content: Image.Image | str | Path, style: Image.Image | str | Path, *,
             output: str | Path | None = None, steps: int = 300, size: int | None = 512,
             init: str = "content", optimizer: str = "lbfgs", lr: float | None = None,
             save_every: int | None = None, preserve_color: bool = False, device: str | torch.device = "auto",
             seed: int = 0, progress: bool | None = False, return_history: bool = False,
             **loss_options: Any) -> Image.Image | tuple[Image.Image, list[dict[str, float]]]:
    """Stylize one image by optimizing its pixels (Gatys et al.), with training's loss.

    Args:
        content: the photo, a PIL image or a path (EXIF orientation applied).
        style: the style image, a PIL image or a path.
        output: also save the result here (written atomically); intermediate images go beside it.
        steps: loss-network passes (forward + backward) to spend.
        size: resize the photo so its long side is this many pixels (None: as it is).
        init: start from the "content" photo or from white "noise".
        optimizer: "lbfgs" (scipy's L-BFGS-B, as Gatys et al.) or "adam".
        lr: Adam's step size in [0, 1] pixel units (default 0.02); L-BFGS needs none.
        save_every: every this many steps save <output stem>_<step>.<ext> (needs output).
        preserve_color: keep the photo's colours, transfer only luminance.
        device: "auto", "cpu", "cuda", "cuda:N" or "mps".
        seed: for the noise start.
        progress: show a tqdm progress bar (None: only when stderr is a terminal).
        return_history: also return the loss history (see run_optimization).
        **loss_options: LossConfig fields, as in training (loss_net, loss_weights, content_layers,
            style_layers, style_layer_weights, content_weight, style_weight, tv_weight, style_size),
            with training's defaults.

    Returns:
        The stylized RGB image (RGBA if the photo had transparency), or (image, history).
    """
    if steps < 1:
        raise FastNSTError("--steps must be at least 1")
    check_run(size=size, init=init, optimizer=optimizer, lr=lr, loss_options=loss_options)
    if save_every is not None and (save_every < 1 or output is None):
        raise FastNSTError("--save-every needs a positive number of steps and an output file")
    output = _output_path(output, inputs=[content, style])

    rgb, alpha = open_image(content) if isinstance(content, (str, Path)) else to_rgb(content)
    rgb = resize_long_side(rgb, size, enlarge=True)
    dev = resolve_device(device)
    objective = Objective(style, LossConfig(**loss_options), dev)
    photo = to_tensor(rgb).to(dev)

    def save_intermediate(step: int, image: torch.Tensor) -> None:
        if save_every and step % save_every == 0 and step < steps:
            save_image(_finish(image, photo, alpha, preserve_color),
                       output.with_name(f"{output.stem}_{step:04d}{output.suffix}"), inputs=[content, style])

    image, history = run_optimization(objective, photo, steps=steps, init=init, optimizer=optimizer, lr=lr,
                                      seed=seed, on_step=save_intermediate, progress=progress)
    result = _finish(image, photo, alpha, preserve_color)
    if output is not None:
        save_image(result, output, inputs=[content, style])
    return (result, history) if return_history else result


def _output_path(output: str | Path | None, inputs: list[Image.Image | str | Path]) -> Path | None:
    """`output` as a Path, checked before any work is done: a format we can save, and not one of
    the `inputs` (nor a hard link to one), and a place that can be written."""
    if output is None:
        return None
    output = Path(output)
    if output.suffix.lower() not in SAVE_FORMATS:
        raise FastNSTError(f"{output}: unsupported output extension (use .jpg, .png, .webp or .bmp)")
    check_writable(output, inputs)  # not an input (nor a hard link to one), and writable: before the work
    return output


def _finish(image: torch.Tensor, photo: torch.Tensor, alpha: Image.Image | None, preserve_color: bool) -> Image.Image:
    """The optimized pixels as the user gets them: with the photo's colours if asked, and its
    transparency put back."""
    if preserve_color:
        image = preserve_colors(image, photo).clamp(0, 1)
    result = to_pil(image)
    if alpha is not None:
        result.putalpha(alpha.resize(result.size))
    return result
