"""The look after transfer: bring a stylized picture's brightness and contrast back towards the photo's.

A style net lends a photo its painting's light as well as its strokes: a pale style washes out a
dark room, a dark one dims a sunny street. Matching the tone moves the output's luminance (BT.601
Y) so that its mean and spread (standard deviation) are the photo's:

    Y' = mean_photo + gain * (Y - mean_output),   gain = std_photo / std_output (kept within 1/4..4)

and adds Y' - Y to R, G and B alike, so the style's colours stay what they are, only lighter or
darker, with more or less contrast. The gain limit keeps a nearly flat output from being blown up
into noise. It composes with preserve_color (which keeps the photo's chroma and this luminance)
and strength (which then blends the result with the photo).

One picture is matched on its own (match_tone). A video or a camera is matched through a
ToneSmoother: the four statistics are an exponential moving average over the frames, so the
adjustment drifts slowly (a cut settles over about ten frames) instead of following each frame's
noise, which would flicker.
"""

from __future__ import annotations

import torch

LUMA = (0.299, 0.587, 0.114)  # BT.601, as preserve_colors uses
MAX_GAIN = 4.0
SMOOTHING = 0.1  # the weight of each new frame in the moving average: about ten frames of memory


def luminance(rgb: torch.Tensor) -> torch.Tensor:
    """N x 3 x H x W RGB -> N x H x W luminance."""
    r, g, b = rgb.float().unbind(1)
    return LUMA[0] * r + LUMA[1] * g + LUMA[2] * b


def tone_stats(rgb: torch.Tensor) -> torch.Tensor:
    """N x 2: each image's luminance mean and standard deviation."""
    y = luminance(rgb).flatten(1)
    return torch.stack([y.mean(1), y.std(1, correction=0)], 1)


def adjust_tone(stylized: torch.Tensor, stylized_stats: torch.Tensor, photo_stats: torch.Tensor) -> torch.Tensor:
    """Move each image's luminance from its stats (N x 2: mean, std) to the photo's (not clamped)."""
    y = luminance(stylized)
    mean_out, std_out = stylized_stats[:, 0, None, None], stylized_stats[:, 1, None, None]
    mean_in, std_in = photo_stats[:, 0, None, None], photo_stats[:, 1, None, None]
    gain = (std_in / std_out.clamp_min(1e-6)).clamp(1 / MAX_GAIN, MAX_GAIN)
    shift = mean_in + gain * (y - mean_out) - y
    return stylized + shift.unsqueeze(1).to(stylized.dtype)


def match_tone(stylized: torch.Tensor, photo: torch.Tensor) -> torch.Tensor:
    """Each stylized image with the luminance mean and spread of its photo (N x 3 x H x W each)."""
    return adjust_tone(stylized, tone_stats(stylized), tone_stats(photo))


class ToneSmoother:
    """match_tone for a stream of frames: the statistics are averaged over time, frame by frame in
    order (also within a batch), so the adjustment changes slowly from one frame to the next.

    Only in-place tensor operations and no reads back to the host: the same object works inside
    a CUDA graph (reset() between warm-up and replay)."""

    def __init__(self, smoothing: float = SMOOTHING) -> None:
        if not 0.0 < smoothing <= 1.0:
            raise ValueError(f"smoothing must be in (0, 1], got {smoothing}")
        self.smoothing = smoothing
        self.state: torch.Tensor | None = None  # mean and std of the stylized frames, then of the photos
        self.seen: torch.Tensor | None = None   # whether state holds anything yet

    def reset(self) -> None:
        """Forget the past frames: the next frame is matched on its own (a new clip or style)."""
        if self.seen is not None:
            with torch.inference_mode():  # where the state was made (stylize_tensor runs in it)
                self.seen.zero_()

    def __call__(self, stylized: torch.Tensor, photo: torch.Tensor) -> torch.Tensor:
        stats = torch.cat([tone_stats(stylized), tone_stats(photo)], 1)  # N x 4
        if self.state is None or self.state.device != stats.device:
            self.state = torch.zeros(4, device=stats.device)
            self.seen = torch.zeros((), dtype=torch.bool, device=stats.device)
        smoothed = []
        for frame in stats:
            self.state.copy_(torch.where(self.seen, torch.lerp(self.state, frame, self.smoothing), frame))
            self.seen.fill_(True)
            smoothed.append(self.state.clone())
        smoothed = torch.stack(smoothed)
        return adjust_tone(stylized, smoothed[:, :2], smoothed[:, 2:])
