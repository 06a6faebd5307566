"""The live demo: a camera, or a video file played as one, stylized frame by frame.

    python infer.py --webcam --ckpt mosaic.pt candy.pt              # window; n/p style, o original, s snapshot, q quit
    python infer.py --webcam clip.mp4 --ckpt mosaic.pt --no-window --output out.mp4   # headless recording

OpenCV captures and shows the frames (its window needs the GUI build of OpenCV, `opencv-python`,
in place of the `opencv-python-headless` fastnst installs). Each frame takes the frame path of
video files (frames.py); --output records the stylized feed with writer.VideoWriter (H.264,
under a temporary name until the end). A camera is recorded with wall-clock timestamps, so the
file plays at the speed the demo ran; a video file keeps its own frame rate.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Callable, Sequence

os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # quiet: FFmpeg's lines would come before ours
import cv2  # noqa: E402
import numpy as np
import torch

from ..errors import FastNSTError
from ..images import fit_size
from ..inference import load_stylizer
from .frames import FrameStylizer
from .writer import DEFAULT_CRF, DEFAULT_PRESET, VideoWriter

WINDOW = "fastnst"
CAMERA_SIZE = (640, 480)  # asked of a camera; it may give another


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


def open_window() -> None:
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise FastNSTError("no display to open a window on; record headless with --no-window --output out.mp4")
    try:
        cv2.namedWindow(WINDOW, cv2.WINDOW_AUTOSIZE)
    except cv2.error:
        raise FastNSTError("this OpenCV has no windows (opencv-python-headless): pip uninstall "
                           "opencv-python-headless; pip install opencv-python; or use --no-window --output "
                           "out.mp4") from None


def overlay(bgr: np.ndarray, text: str) -> np.ndarray:
    """Text in the top left corner, white on a dark outline so it reads on any picture."""
    for color, thickness in (((0, 0, 0), 4), ((255, 255, 255), 1)):
        cv2.putText(bgr, text, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, color, thickness, cv2.LINE_AA)
    return bgr


@dataclass
class WebcamRun:
    """What a webcam session did."""

    frames: int
    width: int
    height: int
    frames_per_s: float | None     # steady rate, from the second frame on (the first warms up)
    device: torch.device
    recorded: Path | None          # the --output file, if recording


def run_webcam(source: str, checkpoints: Sequence[str | Path], *, window: bool = True, output: str | Path | None = None,
               max_size: int | None = None, preserve_color: bool = False, strength: float = 1.0,
               frames: int | None = None, device: str = "auto", precision: str = "auto", compile: bool = False,
               backend: str = "torch", crf: int = DEFAULT_CRF, preset: str = DEFAULT_PRESET,
               say: Callable[[str], None] = print) -> WebcamRun:
    """Stylize a camera (`source` an index like "0") or a video file played as one, live.

    window: show the feed (keys: n/p next/previous checkpoint, o original side by side, s
    snapshot, q quit); output: also record the stylized feed to this H.264 file. Without either
    it only measures the frame rate. The other options mean what they mean for images; `say` receives
    the lines worth telling the user (snapshots).
    """
    if not 0.0 <= strength <= 1.0:
        raise FastNSTError(f"--strength must be between 0 and 1, got {strength}")
    if max_size is not None and max_size < 1:
        raise FastNSTError("--max-size must be a positive number of pixels")
    if frames is not None and frames < 1:
        raise FastNSTError("--frames must be at least 1")
    # Each checkpoint as the image path loads it: backend, precision and compile apply here too.
    loaded = [load_stylizer(path, device=device, precision=precision, compile=compile, backend=backend)
              for path in checkpoints]
    names, dev = [name for _, name, _ in loaded], loaded[0][2]
    stylizers = [FrameStylizer(stylizer, dev, preserve_color=preserve_color, strength=strength)
                 for stylizer, _, _ in loaded]
    capture, is_file, rate = open_capture(source)
    window_open = False
    recorder: VideoWriter | None = None
    current, side_by_side, count, fps = 0, False, 0, 0.0
    started = last = record_start = None
    last_pts = -1
    styled = None
    try:
        if window:
            open_window()
            window_open = True
        while frames is None or count < frames:
            ok, bgr = capture.read()
            if not ok:
                if is_file or count:  # a file ends; a camera that worked and stops is unplugged
                    break
                raise FastNSTError(f"--webcam {source}: the camera gives no frames")
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            size = fit_size(rgb.shape[1], rgb.shape[0], max_size)
            if size != (rgb.shape[1], rgb.shape[0]):
                rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
            styled = stylizers[current](rgb[None])[0]
            now = time.perf_counter()
            if output is not None:
                if recorder is None:  # a camera: milliseconds of wall clock; a file: its own frame numbers
                    recorder = VideoWriter(output, styled.shape[1], styled.shape[0], rate=rate,
                                           time_base=1 / rate if is_file else Fraction(1, 1000),
                                           crf=crf, preset=preset)
                    record_start = now
                pts = count if is_file else max(round((now - record_start) * 1000), last_pts + 1)
                recorder.write(styled, pts)
                last_pts = pts
            count += 1
            if last is not None:  # frames per second, smoothed over about ten frames
                fps = 1 / (now - last) if fps == 0 else 0.9 * fps + 0.1 / (now - last)
            else:
                started = now
            last = now
            if window_open:
                view = np.hstack([rgb, styled]) if side_by_side else styled
                view = overlay(cv2.cvtColor(view, cv2.COLOR_RGB2BGR), f"{names[current]}  {fps:.1f} fps")
                cv2.imshow(WINDOW, view)
                key = cv2.waitKey(1) & 0xFF
                if key in (ord("q"), 27) or cv2.getWindowProperty(WINDOW, cv2.WND_PROP_VISIBLE) < 1:
                    break
                if key == ord("n"):
                    current = (current + 1) % len(stylizers)
                elif key == ord("p"):
                    current = (current - 1) % len(stylizers)
                elif key == ord("o"):
                    side_by_side = not side_by_side
                elif key == ord("s"):
                    snapshot = Path(f"{names[current]}_{datetime.now():%Y%m%d-%H%M%S}_{count}.png")
                    shown = np.hstack([rgb, styled]) if side_by_side else styled  # without the overlay
                    cv2.imwrite(str(snapshot), cv2.cvtColor(shown, cv2.COLOR_RGB2BGR))
                    say(f"snapshot -> {snapshot}")
        recorded = recorder.close() if recorder is not None else None
    except BaseException:
        if recorder is not None:
            recorder.abort()
        raise
    finally:
        capture.release()
        if window_open:
            cv2.destroyAllWindows()
    steady = (count - 1) / (last - started) if count > 1 else None
    height, width = styled.shape[:2] if styled is not None else (0, 0)
    return WebcamRun(count, width, height, steady, dev, recorded)
