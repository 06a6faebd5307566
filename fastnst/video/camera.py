"""The camera of the live demo: a camera by index, or a video file played as one (OpenCV, which
in its headless build only captures; the window is Tk's, window.py)."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # quiet: FFmpeg's lines would come before ours
import cv2  # noqa: E402

from ..errors import FastNSTError

CAMERA_SIZE = (640, 480)   # asked of a camera; it may give another


def open_capture(source: str) -> tuple[cv2.VideoCapture, bool, Fraction]:
    """(capture, whether it is a file, frame rate) for a camera index or a video file path."""
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)  # we say it in one line instead
    if source.isdigit():
        capture = cv2.VideoCapture(int(source))
        if not capture.isOpened():
            raise FastNSTError(f"--webcam {source}: no camera with that index could be opened "
                               f"(none connected, no permission, or another program uses it)")
        capture.set(cv2.CAP_PROP_FRAME_WIDTH, CAMERA_SIZE[0])
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, CAMERA_SIZE[1])
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not a backlog, when we run slower
        is_file = False
    else:
        path = Path(source)
        if not path.is_file():
            raise FastNSTError(f"--webcam {source}: no such file (give a camera index like 0, or a video file)")
        capture = cv2.VideoCapture(str(path))
        if not capture.isOpened():
            raise FastNSTError(f"--webcam {source}: not a video file OpenCV can read")
        is_file = True
    fps = capture.get(cv2.CAP_PROP_FPS)
    rate = Fraction(fps).limit_denominator(1001) if 0 < fps < 1000 else Fraction(30)
    return capture, is_file, rate
