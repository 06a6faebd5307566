"""The webcam demo's working size: the size frames are stylized at, chosen so the demo holds a
target frame rate.

A forward pass costs about the same per pixel at every size, so the pacer keeps a moving average of
the measured seconds per pixel and picks the largest size whose predicted time fits the frame
budget: the camera's own size when the machine is fast enough, smaller (down to a long side of
MIN_LONG_SIDE) when it is not. It changes size only when the change is worth it (at least
MIN_CHANGE of the area; back to the camera's own size whenever that fits), so noise in the
measurements never makes the picture pump.
"""

from __future__ import annotations

import math

DEFAULT_FPS = 15.0
MIN_LONG_SIDE = 160    # below this a style's brush strokes swamp the picture
SIDE_STEP = 8          # sides a multiple of this: the net's strided layers and the CPU kernels like it
MIN_CHANGE = 0.10      # the area must change by at least this share to switch sizes
SMOOTHING = 0.3        # the newest measurement's weight in the moving average
HEADROOM = 0.9         # aim at this share of the frame budget, so jitter does not drop frames


class Pacer:
    """Measured stylize times in, the next working size out.

    camera: (width, height) of the camera's frames, the largest working size; fps: the target.
    The first measurement is skipped (the first forward pass warms up caches and kernels).
    """

    def __init__(self, camera: tuple[int, int], fps: float = DEFAULT_FPS, min_long_side: int = MIN_LONG_SIDE) -> None:
        self.camera = camera
        self.budget = HEADROOM / fps
        self.smallest_scale = min(1.0, min_long_side / max(camera))
        self.size = camera
        self.seconds_per_pixel: float | None = None
        self.warmed_up = False

    def update(self, seconds: float) -> tuple[int, int]:
        """Take the time the last frame took at self.size; return the size for the next one."""
        if not self.warmed_up:
            self.warmed_up = True
            return self.size
        measured = seconds / (self.size[0] * self.size[1])
        average = self.seconds_per_pixel
        self.seconds_per_pixel = measured if average is None else average + SMOOTHING * (measured - average)
        wanted = self.size_for_area(self.budget / self.seconds_per_pixel)
        area, wanted_area = self.size[0] * self.size[1], wanted[0] * wanted[1]
        if abs(wanted_area - area) >= MIN_CHANGE * area or wanted == self.camera:  # the full size whenever it fits
            self.size = wanted
        return self.size

    def size_for_area(self, area: float) -> tuple[int, int]:
        """The camera's shape scaled to about `area` pixels (not more), within the bounds; sides
        rounded down to SIDE_STEP, except the camera's own size, which is kept as it is."""
        width, height = self.camera
        scale = min(1.0, max(self.smallest_scale, math.sqrt(area / (width * height))))
        if scale >= 1.0:
            return self.camera
        return tuple(max(SIDE_STEP, int(side * scale + 1e-6) // SIDE_STEP * SIDE_STEP) for side in self.camera)
