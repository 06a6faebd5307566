"""One training step: the loss terms of a batch (a style network's), and the optimizer step on their sum."""

from __future__ import annotations

import functools

import torch

from ..loss import DistillObjective, Objective
from ..model import one_hot


def compute_losses(model: torch.nn.Module, objective: Objective | DistillObjective, x: torch.Tensor, step: int = 0,
                   seed: int = 0, amp_dtype: torch.dtype | None = None,
                   style: tuple[int, int] | None = None) -> dict[str, torch.Tensor]:
    """The weighted loss terms for a batch of photos x: the objective's (content, style,
    style_<layer>..., tv; distilling: pixel, content, tv), stability, and their sum, total. The networks run in `amp_dtype`
    (None: fp32), the losses in fp32. For a net of several styles, `style` is (the objective's
    style index, the net's): the net runs with that style and the loss measures it."""
    if style is not None:
        loss_style, net_style = style
        model = functools.partial(model, style=one_hot(net_style, num_styles(model), x.device))
    with torch.autocast(x.device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
        y = model(x)
        losses = objective(y, objective.content_targets(x), style=style[0] if style else 0)
        losses["stability"] = objective.stability(model, x, y, step, seed)
    losses["total"] = losses.pop("total") + losses["stability"]
    return losses


def num_styles(model: torch.nn.Module) -> int:
    net = getattr(model, "module", model)  # under DDP
    net = getattr(net, "_orig_mod", net)   # compiled
    return net.config.num_styles


def train_step(model: torch.nn.Module, objective: Objective | DistillObjective, optimizer: torch.optim.Optimizer,
               scaler: torch.amp.GradScaler, x: torch.Tensor, step: int = 0, seed: int = 0,
               amp_dtype: torch.dtype | None = None, style: tuple[int, int] | None = None) -> dict[str, torch.Tensor]:
    """One optimizer step on the batch x; returns the loss terms of compute_losses, detached.

    With fp16 the scaler multiplies the loss so small gradients do not flush to zero, and skips
    a step whose gradients overflowed; otherwise it is disabled and passes everything through.
    """
    losses = compute_losses(model, objective, x, step, seed, amp_dtype, style)
    optimizer_step(optimizer, scaler, losses["total"])
    return {name: value.detach() for name, value in losses.items()}


def optimizer_step(optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler, total: torch.Tensor) -> None:
    """Backward from `total` and one optimizer step, through the loss scaler (see train_step)."""
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(total).backward()
    scaler.step(optimizer)
    scaler.update()
