"""What a run keeps to go on exactly where it stopped: the training checkpoint, written and read back.

Whatever a run trains, its training checkpoint is the file format of what it trains, in fp32,
plus the training state: "optimizer" (Adam's state dict), "scaler" (the fp16 loss scaler's, when
one runs), "rng" ({"torch": the CPU generator's state, "cuda": [one per GPU]}), "step" and "seconds"
(the training seconds so far, which a --minutes budget counts). A style
network's (`NetState`) is an inference checkpoint (checkpoint.py) plus that; the decoders'
(`DecoderState`, decoders.py) a universal file (universal/net.py) plus that. A resumed style run
reads its file once, for its options (`resumed_options`) and for its state (`TrainingState.load`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import torch

from .. import checkpoint as ckpt
from ..compat import resumed_rng, resumed_run_options, resumed_seconds
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
    if not isinstance(raw, dict) or "optimizer" not in raw or raw.get("format") == "fastnst-universal":
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


class TrainingState:
    """What is trained (`model`), its optimizer and loss scaler, and the step; saved to `path` (rank 0
    writing for the group), the small file to `out` at the end. `inputs`: the files the run reads,
    which neither may replace. A subclass says what the weights look like in its file format."""

    def __init__(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
                 path: Path, out: Path, inputs: Iterable[str | Path | None] | ReadFiles = ()) -> None:
        self.model, self.optimizer, self.scaler = model, optimizer, scaler
        self.path, self.out, self.inputs = Path(path), Path(out), ReadFiles([inputs])
        self.step = 0                         # optimizer steps taken
        self.seconds = 0.0                    # training seconds spent, earlier runs' included (a --minutes budget's)
        self.saved_step: int | None = None    # the step of the last checkpoint written to `path`
        self._writing: tuple[int, int | None] | None = None  # (step, the file's inode before) of a save under way

    def weights(self, half: bool) -> dict[str, Any]:
        """The weights and how they were trained, as the file format stores them (half: the small file)."""
        raise NotImplementedError

    def load_weights(self, raw: dict[str, Any]) -> None:
        raise NotImplementedError

    def set_lr(self, lr: float) -> None:
        for group in self.optimizer.param_groups:  # set each step: a resumed run's state carries the old rate
            group["lr"] = lr

    def save(self) -> None:
        """Write the training checkpoint of this step (atomically: a failed save keeps the last one)."""
        if distributed.is_main():
            state = self.weights(half=False)
            state["optimizer"] = self.optimizer.state_dict()
            state["seconds"] = self.seconds
            if self.scaler.is_enabled():
                state["scaler"] = self.scaler.state_dict()
            state["rng"] = {"torch": torch.get_rng_state(),
                            "cuda": torch.cuda.get_rng_state_all() if self._on_cuda else []}
            self._writing = (self.step, _inode(self.path))
            try:
                ckpt.atomic_save(state, self.path, self.inputs)
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

    def load(self, raw: dict[str, Any]) -> None:
        """Go on from a training checkpoint: weights, optimizer, loss scale, step and random numbers.
        Call it last in a run's setup, after everything that draws random numbers."""
        self.load_weights(raw)
        self.optimizer.load_state_dict(raw["optimizer"])
        if "scaler" in raw and self.scaler.is_enabled():
            self.scaler.load_state_dict(raw["scaler"])
        self.step = self.saved_step = int(raw["step"])
        self.seconds = resumed_seconds(raw)
        rng = resumed_rng(raw["rng"])
        torch.set_rng_state(rng["torch"])
        if self._on_cuda and rng.get("cuda"):
            torch.cuda.set_rng_state_all(rng["cuda"])

    def export(self) -> None:
        """Write the small file: the weights in fp16 and how they were trained, no training state."""
        if not distributed.is_main():
            return
        try:
            ckpt.atomic_save(self.weights(half=True), self.out, ReadFiles([self.inputs, self.path]))
        except (OSError, RuntimeError) as exc:
            raise FastNSTError(f"could not write {self.out} ({first_line(exc)}); the training checkpoint "
                               f"{self.path} holds the same weights", exit_code=1) from None

    def weights_finite(self) -> bool:
        """Whether every trained weight is a number (one device sync)."""
        trained = [p.detach().isfinite().all() for p in self.model.parameters() if p.requires_grad]
        return bool(torch.stack(trained).all()) if trained else True

    def last_good(self) -> str:
        """Where the run's last checkpoint is, for a message about a run that stopped."""
        return (f"the last good checkpoint, step {self.saved_step}, is {self.path}" if self.saved_step
                else "no checkpoint was written yet")

    def resume_hint(self) -> str:
        return (f"resume from step {self.saved_step} with --resume {self.path}" if self.saved_step
                else "no checkpoint was written yet")

    @property
    def _on_cuda(self) -> bool:
        return next(self.model.parameters()).device.type == "cuda"


class NetState(TrainingState):
    """A style network's training state: the net, its styles and the run's options (TrainConfig)."""

    def __init__(self, model: TransformerNet, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
                 styles: StyleSet, config: TrainConfig) -> None:
        super().__init__(model, optimizer, scaler, Path(config.ckpt_path), Path(config.out), config.read_files())
        self.styles, self.config = styles, config

    def weights(self, half: bool) -> dict[str, Any]:
        weights = ckpt.build_checkpoint(self.model, styles=list(zip(self.styles.names, self.styles.images)),
                                        train_args=self.config.train_args(), loss=self.config.loss_only().to_dict(),
                                        step=self.step, half=half)
        if not half:  # the training checkpoint: a resumed run's paintings, compared exactly
            weights["style_digests"] = list(self.styles.digests)
        return weights

    def load_weights(self, raw: dict[str, Any]) -> None:
        self.model.load_state_dict(raw["model"])


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except OSError:
        return None
