"""The live demo's window (Tk, through tkinter and Pillow's ImageTk), what it shows and what its keys
do (LiveView: the style in use, the original beside, snapshots, the caption drawn on frames).

Why Tk and not OpenCV's window: OpenCV's GUI wheel (opencv-python) bundles Qt with its own libxcb,
and PyAV's wheel bundles another libxcb whose xcb extension libraries carry the same names. With
av imported first (fastnst imports it for video files) Qt's window then hangs in cv2.namedWindow at
100% CPU, deaf to Ctrl-C. Tk draws through the system's own X11 libraries (or Cocoa, or Win32) and
meets neither bundled copy, in any import order; OpenCV, in its headless build, only captures.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np
from PIL import Image

from ..errors import FastNSTError, first_line
from ..files import ReadFiles, fit_name
from ..images import save_image

WINDOW_TITLE = "fastnst"
FONT = cv2.FONT_HERSHEY_SIMPLEX
FEEDBACK_SECONDS = 2.0     # how long the line saying what a key did stays
KEYS_HELP = "keys: n/p style, o original, s snapshot, q quit"


@dataclass
class Shown:
    """A frame as the window shows it."""

    rgb: np.ndarray       # the camera's frame
    styled: np.ndarray    # stylized at the working size, shown at the camera's
    name: str             # the style that made it
    working_size: tuple[int, int]
    captured: float       # when its camera frame was read
    index: int            # the camera frame's number, from 1
    fps: float = 0.0      # the rate frames were shown at, when this one was


def check_display() -> None:
    """Fail in one line, before any work, where no window can be shown."""
    if sys.platform.startswith(("linux", "freebsd", "openbsd")) and not os.environ.get("DISPLAY"):
        raise FastNSTError("no display to open a window on; record headless with --no-window --output out.mp4")


def overlay(rgb: np.ndarray, lines: Sequence[str | None], left: int = 0) -> np.ndarray:
    """Caption lines in the top left corner of the part of `rgb` from column `left` on, in place:
    white text (the second line yellow: what a key just did) on a dark translucent backing, so it
    reads on light and dark styles alike."""
    lines = [line for line in lines if line]
    height, width = rgb.shape[:2]
    if not lines or left >= width:
        return rgb
    scale = 0.55 if width - left >= 320 else 0.35
    sizes = [cv2.getTextSize(line, FONT, scale, 1) for line in lines]
    step = max(h + base for (_, h), base in sizes) + 4
    x0, y0 = left + 4, 4
    x1, y1 = min(x0 + max(w for (w, _), _ in sizes) + 10, width), min(y0 + step * len(lines) + 4, height)
    backing = rgb[y0:y1, x0:x1]
    backing[:] = backing // 3  # two thirds black
    for i, (line, ((_, h), base)) in enumerate(zip(lines, sizes)):
        color = (255, 255, 255) if i == 0 else (255, 214, 10)
        cv2.putText(rgb, line, (x0 + 5, y0 + 2 + step * i + h + 2), FONT, scale, color, 1, cv2.LINE_AA)
    return rgb


class TkWindow:
    """The demo's window: shows RGB frames (scaled down to fit the screen) and calls on_key with
    each key's name ("n", "escape", ...); closing it or Ctrl-C in it calls on_close. Hidden until
    the first frame."""

    def __init__(self, on_key: Callable[[str], None], on_close: Callable[[], None]) -> None:
        try:
            import tkinter

            from PIL import ImageTk
        except ImportError as exc:
            raise FastNSTError(f"the window needs Tk, which this Python lacks ({first_line(exc)}); on Debian "
                               f"and Ubuntu: sudo apt install python3-tk; or record headless with --no-window "
                               f"--output out.mp4") from None
        self.image_tk = ImageTk
        try:
            self.root = tkinter.Tk()
        except tkinter.TclError as exc:
            raise FastNSTError(f"no window could be opened ({first_line(exc)}); record headless with --no-window "
                               f"--output out.mp4") from None
        self.error = tkinter.TclError
        self.root.withdraw()
        self.root.title(WINDOW_TITLE)
        self.root.configure(background="black")
        self.label = tkinter.Label(self.root, borderwidth=0, highlightthickness=0, background="black")
        self.label.pack()
        self.root.bind("<KeyPress>", lambda event: on_key(event.keysym.lower()))
        self.root.bind("<Control-c>", lambda event: on_close())
        self.root.protocol("WM_DELETE_WINDOW", on_close)
        self.fit = (int(self.root.winfo_screenwidth() * 0.95), int(self.root.winfo_screenheight() * 0.9))
        self.photo = None
        self.title = WINDOW_TITLE

    def show(self, rgb: np.ndarray, title: str) -> None:
        height, width = rgb.shape[:2]
        scale = min(1.0, self.fit[0] / width, self.fit[1] / height)
        if scale < 1:
            rgb = cv2.resize(rgb, (max(1, round(width * scale)), max(1, round(height * scale))),
                             interpolation=cv2.INTER_AREA)
        image = Image.fromarray(rgb)
        if self.photo is None or (self.photo.width(), self.photo.height()) != image.size:
            self.photo = self.image_tk.PhotoImage(image)
            self.label.configure(image=self.photo)
            self.root.deiconify()
        else:
            self.photo.paste(image)
        if title != self.title:
            self.root.title(title)
            self.title = title

    def update(self) -> None:
        """Handle what happened (keys, redraws, moves); returns at once."""
        self.root.update()

    def close(self) -> None:
        with contextlib.suppress(self.error):
            self.root.destroy()


class LiveView:
    """What the demo shows and what its keys do: n/p the style the next frame takes (`current`), o
    the original beside the stylized frame, s a snapshot (a PNG in `snapshot_dir`), q or Esc
    `stop`; a line under the caption says what a key did. Keys are taken the moment they are
    pressed (from the window's thread); the frame shown is redrawn with their effect at once.

    protect: files a snapshot must never replace (a video file played as the camera). say: the
    lines worth telling the user (where a snapshot went)."""

    def __init__(self, names: list[str], snapshot_dir: Path, stop: Callable[[], None],
                 say: Callable[[str], None], protect: ReadFiles | Sequence[str | Path] = ()) -> None:
        self.names, self.snapshot_dir, self.stop, self.say = names, snapshot_dir, stop, say
        self.protect = protect
        self.current = 0            # the style the next frame takes
        self.side_by_side = False
        self.shown: Shown | None = None
        self.snapshots: list[Path] = []
        self.message: str | None = None
        self.message_until = 0.0
        self.dirty = False

    def show(self, frame: Shown) -> None:
        """The newest frame, to draw next."""
        self.shown, self.dirty = frame, True

    def draw(self, window: TkWindow) -> None:
        if self.message and time.monotonic() > self.message_until:
            self.message, self.dirty = None, True
        if self.dirty and self.shown is not None:
            window.show(self.view(self.shown, caption=True), f"{WINDOW_TITLE}: {self.shown.name}")
            self.dirty = False

    def view(self, frame: Shown, caption: bool) -> np.ndarray:
        """The stylized frame, or the original beside it; the caption over the stylized part."""
        if not self.side_by_side:
            view = frame.styled.copy()
        else:
            view = np.hstack([frame.rgb, frame.styled])
        if caption:
            left = frame.rgb.shape[1] if self.side_by_side else 0
            if self.side_by_side:
                overlay(view, ["original"])
            width, height = frame.working_size
            overlay(view, [f"{frame.name}  {width}x{height}  {frame.fps:.1f} fps", self.message], left)
        return view

    def key(self, name: str) -> None:
        """A key, taken at once: the state changes for the next frame, the line under the caption
        says what happened, and the window redraws the frame it shows with it."""
        if name in ("q", "escape"):
            self.stop()
            return
        if name in ("n", "p"):
            if len(self.names) == 1:
                self.feedback("one style: give --ckpt several checkpoints to switch")
            else:
                self.current = (self.current + (1 if name == "n" else -1)) % len(self.names)
                self.feedback(f"{'next' if name == 'n' else 'previous'} style: {self.names[self.current]}")
        elif name == "o":
            self.side_by_side = not self.side_by_side
            self.feedback("original beside the stylized frame" if self.side_by_side else "stylized frame only")
        elif name == "s":
            self.snapshot()
        elif len(name) == 1:
            self.feedback(KEYS_HELP)

    def feedback(self, message: str) -> None:
        self.message, self.message_until, self.dirty = message, time.monotonic() + FEEDBACK_SECONDS, True

    def snapshot(self) -> None:
        """The frame on screen, without the caption, as a PNG in the snapshot folder."""
        frame = self.shown
        if frame is None:
            self.feedback("no frame yet to take")
            return
        path = self.snapshot_dir / f"{fit_name(frame.name)}_{datetime.now():%Y%m%d-%H%M%S}_{frame.index}.png"
        try:
            save_image(Image.fromarray(self.view(frame, caption=False)), path, inputs=self.protect)
        except (OSError, FastNSTError) as exc:
            self.feedback(f"snapshot failed: {first_line(exc)}")
            self.say(f"warning: snapshot {path}: {first_line(exc)}")
            return
        path = path.resolve()
        self.snapshots.append(path)
        self.feedback(f"saved {path.name}")
        self.say(f"snapshot -> {path}")
