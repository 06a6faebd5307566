"""Optimization-based style transfer (Gatys et al.) and the evaluation of trained networks
against it (Johnson et al.'s equivalent optimization steps)."""

from .evaluate import evaluate
from .optimize import optimize, run_optimization

__all__ = ["evaluate", "optimize", "run_optimization"]
