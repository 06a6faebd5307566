"""The live demo's window (Tk, through tkinter and Pillow's ImageTk) and the caption drawn on frames.

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
from typing import Callable, Sequence

import cv2
import numpy as np
from PIL import Image

from ..errors import FastNSTError, first_line

WINDOW_TITLE = "fastnst"
FONT = cv2.FONT_HERSHEY_SIMPLEX


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
