"""Flicker: how much consecutive stylized frames disagree where the scene itself did not change.

The warping error of Lai et al. 2018 ("Learning Blind Video Temporal Consistency"): for each pair
of consecutive frames, optical flow on the ORIGINAL frames says where every pixel of frame t was
in frame t-1; the stylized frame t-1 is moved along that flow and compared with the stylized frame
t, over the pixels the forward-backward check (Sundaram et al. 2010, as in Ruder et al. 2016)
says are visible in both. The score is the mean squared RGB difference (values in 0..1) over
those pixels, averaged over the pairs: 0 for perfectly stable frames. The same score of the
unstylized frames is the floor the flow's own errors and lighting changes set.

    python -m fastnst flicker --ckpt mosaic.pt clip.mp4 [--frames 60] [--max-size 384]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch

from ..checkpoint import Checkpoint
from ..device import resolve_device
from ..errors import FastNSTError
from ..files import is_file
from ..inference import RuntimeSpec, Stylizer
from ..universal import is_universal_file
from .frames import FrameStylizer
from .reader import read_frames


def optical_flow(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Farneback flow between two gray uint8 frames: source(p) ~ target(p + flow(p)), H x W x 2."""
    import cv2  # OpenCV: only this metric (and the webcam) needs it

    return cv2.calcOpticalFlowFarneback(source, target, None, pyr_scale=0.5, levels=4, winsize=15,
                                        iterations=3, poly_n=5, poly_sigma=1.2, flags=0)


def _sample(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """image(p + flow(p)) for every pixel p, bilinear."""
    import cv2

    h, w = flow.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(image, xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def visible_in_both(backward: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """H x W bool: pixels of frame t whose backward flow leads inside frame t-1 and back again.

    backward maps frame t to t-1, forward maps t-1 to t; where a pixel is occluded in one frame the
    two disagree (|b + f(p + b)|^2 > 0.01 (|b|^2 + |f(p + b)|^2) + 0.5, Sundaram et al. 2010).
    """
    h, w = backward.shape[:2]
    forward_there = _sample(forward, backward)
    mismatch = ((backward + forward_there) ** 2).sum(-1)
    allowed = 0.01 * ((backward ** 2).sum(-1) + (forward_there ** 2).sum(-1)) + 0.5
    xs, ys = np.meshgrid(np.arange(w), np.arange(h))
    x, y = xs + backward[..., 0], ys + backward[..., 1]
    inside = (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)
    return (mismatch <= allowed) & inside


def pair_flow(original_prev: np.ndarray, original_next: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(backward flow from frame t to t-1, mask of the pixels visible in both) for uint8 RGB originals."""
    import cv2

    gray_prev = cv2.cvtColor(original_prev, cv2.COLOR_RGB2GRAY)
    gray_next = cv2.cvtColor(original_next, cv2.COLOR_RGB2GRAY)
    backward = optical_flow(gray_next, gray_prev)  # frame t -> t-1
    forward = optical_flow(gray_prev, gray_next)   # frame t-1 -> t
    return backward, visible_in_both(backward, forward)


def pair_error(flow: tuple[np.ndarray, np.ndarray], frame_prev: np.ndarray, frame_next: np.ndarray) -> float:
    """Warping error of one pair of uint8 RGB frames, along the (backward flow, mask) of pair_flow."""
    backward, mask = flow
    if not mask.any():
        return 0.0
    warped = _sample(frame_prev.astype(np.float32) / 255, backward)
    diff = ((frame_next.astype(np.float32) / 255 - warped) ** 2).mean(-1)
    return float(diff[mask].mean())


def warping_error(originals: Sequence[np.ndarray], frames: Sequence[np.ndarray] | None = None,
                  flows: Sequence[tuple[np.ndarray, np.ndarray]] | None = None) -> float:
    """Mean warping error over consecutive pairs of `frames` (default: the originals themselves),
    with the flow of the originals (pass `flows` from pair_flow to compute it once for many)."""
    frames = originals if frames is None else frames
    if len(originals) != len(frames) or len(originals) < 2:
        raise FastNSTError("the warping error needs at least two frames, as many stylized as original")
    if flows is None:
        flows = [pair_flow(originals[i - 1], originals[i]) for i in range(1, len(originals))]
    return float(np.mean([pair_error(flows[i - 1], frames[i - 1], frames[i]) for i in range(1, len(frames))]))


def stylize_frames(frames: Iterable[np.ndarray], model: Checkpoint | Stylizer | torch.nn.Module,
                   device: torch.device, batch_size: int = 4, steady: bool = True) -> list[np.ndarray]:
    """uint8 RGB frames -> stylized uint8 RGB frames, through the frame path of video files
    (steady: the universal model's statistics averaged over the frames, as video files have them)."""
    if isinstance(model, Checkpoint):
        model = model.model.to(device).eval()
    stylize = FrameStylizer(model, device, steady=steady)
    frames, out = list(frames), []
    for i in range(0, len(frames), batch_size):
        out += list(stylize(np.stack(frames[i:i + batch_size])))
    return out


@dataclass
class FlickerReport:
    video: Path
    frames: int
    width: int
    height: int
    original: float                                        # the unstylized video's own warping error
    stylized: dict[str, float] = field(default_factory=dict)  # checkpoint (as given) -> warping error


def measure(video: str | Path, checkpoints: Sequence[str | Path | Checkpoint], *, frames: int | None = 60,
            max_size: int | None = 384, device: str = "auto", style: str | None = None) -> FlickerReport:
    """Warping error of the first `frames` frames of a video (shrunk to max_size), unstylized and
    stylized by each checkpoint in fp32 (style: a style of a multi-style net, or the painting of a
    universal model, which is measured with its statistics averaged over the frames, the default,
    and with each frame's own)."""
    if frames is not None and frames < 2:
        raise FastNSTError("--frames must be at least 2: flicker is measured between frames")
    originals = list(read_frames(video, max_size=max_size, limit=frames))
    if len(originals) < 2:
        raise FastNSTError(f"{video}: needs at least two frames to measure flicker")
    dev = resolve_device(device)
    height, width = originals[0].shape[:2]
    flows = [pair_flow(originals[i - 1], originals[i]) for i in range(1, len(originals))]  # once, for all
    report = FlickerReport(Path(video), len(originals), width, height, warping_error(originals, flows=flows))
    for item in checkpoints:
        # A painting is for the universal models among them; a trained network beside one runs its own style.
        universal = isinstance(item, (str, Path)) and is_universal_file(item)
        own = None if style and is_file(style) and not universal else style
        stylizer = Stylizer.from_file(item, own, RuntimeSpec(device=dev, precision="fp32"))
        label = str(item) if not isinstance(item, Checkpoint) else item.style_name
        if stylizer.runtime.new_stream() is None:
            report.stylized[label] = warping_error(originals, stylize_frames(originals, stylizer, dev), flows)
            continue
        # Frames that share state (the universal model's statistics): steadied, the default, and each frame's own.
        for steady, how in ((True, ""), (False, ", each frame's own statistics")):
            frames_out = stylize_frames(originals, stylizer, dev, steady=steady)
            report.stylized[f"{label} ({stylizer.label}{how})"] = warping_error(originals, frames_out, flows)
    return report

