"""What a run keeps to go on exactly where it stopped: the training checkpoint, written and read back.

A training checkpoint is an inference checkpoint (checkpoint.py) in fp32 plus the optimizer's and
the loss scaler's state and the random number generators' (see `TrainingState.save`); a resumed
run reads it once, for its options (`resumed_options`) and for its state (`TrainingState.load`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .. import checkpoint as ckpt
from ..compat import resumed_run_options
from ..errors import FastNSTError, first_line
from ..files import ReadFiles, load_torch_file
from ..model import TransformerNet
from . import distributed
from .config import TrainConfig
from .styles import StyleSet


def read_resume(path: str | Path) -> ckpt.Checkpoint:
    """The training checkpoint to resume from, read once: a FastNSTError names a missing, damaged or foreign file."""
    path = Path(path)
    raw = load_torch_file(path, f"--resume {path}: no such file",
                          f"--resume {path}: not a readable fastnst training checkpoint (damaged, cut short, "
                          f"or another kind of file)")
    if not isinstance(raw, dict) or "optimizer" not in raw:
        raise FastNSTError(f"--resume {path}: not a fastnst training checkpoint (one with optimizer state)")
    return ckpt.parse_checkpoint(raw, path)


def resumed_options(resumed: ckpt.Checkpoint) -> dict[str, Any]:
    """The options a resumed run goes on with, unless given again: the stored ones, in today's
    names, and its logs and checkpoint where they were."""
    stored = resumed_run_options({**resumed.train_args, **resumed.loss})
    stored = {k: v for k, v in stored.items() if k in TrainConfig.field_names() and k != "progress"}  # this terminal's
    stored.setdefault("logdir", str(resumed.path.parent))
    stored.setdefault("ckpt_path", str(resumed.path))
    return stored


@dataclass
class TrainingState:
    """The net, its optimizer and loss scaler, the styles and the step; saved to `path`, rank 0
    writing for the group."""

    model: TransformerNet
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    styles: StyleSet
    path: Path                    # the training checkpoint
    step: int = 0                 # optimizer steps taken
    saved_step: int | None = None  # the step of the last checkpoint written to `path`
    _writing: tuple[int, int | None] | None = None  # (step, the file's inode before) of a save under way
    reads: ReadFiles | None = None  # the files the run reads: no checkpoint replaces one

    def save(self, config: TrainConfig) -> None:
        """Write the training checkpoint of this step (atomically: a failed save keeps the last one)."""
        if distributed.is_main():
            state = self._checkpoint(config)
            state["optimizer"] = self.optimizer.state_dict()
            state["style_digests"] = list(self.styles.digests)  # a resumed run's paintings, compared exactly
            if self.scaler.is_enabled():
                state["scaler"] = self.scaler.state_dict()
            state["rng"] = {"torch": torch.get_rng_state(),
                            "cuda": torch.cuda.get_rng_state_all() if self._on_cuda else []}
            self._writing = (self.step, _inode(self.path))
            try:
                ckpt.atomic_save(state, self.path, self.reads or ())
            except (OSError, RuntimeError) as exc:  # disk full, folder gone, ...: torch reports it as either
                self._writing = None
                raise FastNSTError(f"could not write the training checkpoint {self.path} at step {self.step} "
                                   f"({first_line(exc)}); {self.last_good()}", exit_code=1) from None
        self.saved_step, self._writing = self.step, None

    def settle(self) -> None:
        """After an interrupt: count a save that Ctrl-C cut short only if its file had already landed
        (the file is renamed into place, so a new one at `path` is this step's, whole)."""
        if self._writing is not None:
            step, inode_before = self._writing
            inode_now = _inode(self.path)
            if inode_now is not None and inode_now != inode_before:  # the new file replaced the old one
                self.saved_step = step
            self._writing = None

    def load(self, resumed: ckpt.Checkpoint) -> None:
        """Go on from a training checkpoint: weights, optimizer, loss scale, step and random numbers.
        Call it last in a run's setup, after everything that draws random numbers."""
        raw = resumed.raw
        self.model.load_state_dict(raw["model"])
        self.optimizer.load_state_dict(raw["optimizer"])
        if "scaler" in raw:
            self.scaler.load_state_dict(raw["scaler"])
        self.step = self.saved_step = resumed.step
        torch.set_rng_state(raw["rng"]["torch"])
        if self._on_cuda and raw["rng"].get("cuda"):
            torch.cuda.set_rng_state_all(raw["rng"]["cuda"])

    def export(self, path: Path, config: TrainConfig) -> None:
        """Write the small inference checkpoint: the net in fp16 and how it was trained, no training state."""
        if not distributed.is_main():
            return
        try:
            ckpt.atomic_save(self._checkpoint(config, half=True), path, ReadFiles([self.reads, config.resume]))
        except (OSError, RuntimeError) as exc:
            raise FastNSTError(f"could not write {path} ({first_line(exc)}); the training checkpoint "
                               f"{self.path} holds the same weights", exit_code=1) from None

    def last_good(self) -> str:
        """Where the run's last checkpoint is, for a message about a run that stopped."""
        return (f"the last good checkpoint, step {self.saved_step}, is {self.path}" if self.saved_step
                else "no checkpoint was written yet")

    def resume_hint(self) -> str:
        return (f"resume from step {self.saved_step} with --resume {self.path}" if self.saved_step
                else "no checkpoint was written yet")

    def _checkpoint(self, config: TrainConfig, half: bool = False) -> dict[str, Any]:
        return ckpt.build_checkpoint(self.model, styles=list(zip(self.styles.names, self.styles.images)),
                                     train_args=config.train_args(), loss=config.loss_only().to_dict(),
                                     step=self.step, half=half)

    @property
    def _on_cuda(self) -> bool:
        return next(self.model.parameters()).device.type == "cuda"


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except OSError:
        return None
