"""The live demo: a camera, or a video file played as one, stylized frame by frame.

    python infer.py --webcam --ckpt mosaic.pt candy.pt              # window; n/p style, o original, s snapshot, q quit
    python infer.py --webcam clip.mp4 --ckpt mosaic.pt --no-window --output out.mp4   # headless recording

Two threads. The caller's runs the window (window.py) and takes each key the moment it is pressed;
a worker reads the camera (camera.py), stylizes each frame through the frame path of video files
(frames.py) and records the output with writer.VideoWriter (H.264, under a temporary name until the
end). So a key shows that it was taken at once even when a frame takes a second, and the window
moves, redraws and closes meanwhile. Without a window the same frame loop runs in the caller's
thread. A camera is recorded with wall-clock timestamps, so the file plays at the speed the demo
ran; a video file keeps its own frame rate (and plays at it in the window).

Ctrl-C stops the demo as q does (a recording is kept); a second Ctrl-C interrupts at once.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator, Sequence

import cv2
import numpy as np
import torch
from PIL import Image

from ..checkpoint import Checkpoint
from ..errors import FastNSTError, first_line
from ..files import refuse_overwrite
from ..host_memory import keep_host_memory
from ..images import fit_size, save_image
from ..inference import OptionError, StyleSpec, StylizeOptions, Stylizer
from .camera import open_capture
from .frames import FrameStylizer
from .window import WINDOW_TITLE, TkWindow, check_display, overlay
from .writer import DEFAULT_CRF, DEFAULT_PRESET, VideoWriter

FEEDBACK_SECONDS = 2.0     # how long the line saying what a key did stays
KEYS_HELP = "keys: n/p style, o original, s snapshot, q quit"


def default_snapshot_dir() -> Path:
    """Where snapshots go unless told: ~/Pictures/fastnst (created on the first snapshot)."""
    return Path.home() / "Pictures" / "fastnst"


@dataclass
class WebcamRun:
    """What a webcam session did."""

    frames: int
    width: int
    height: int
    frames_per_s: float | None     # steady rate, from the second frame on (the first warms up)
    device: torch.device
    recorded: Path | None          # the --output file, if recording
    snapshots: list[Path] = field(default_factory=list)
    interrupted: bool = False      # stopped by Ctrl-C (what was recorded is kept)


@dataclass
class _Shown:
    """A frame as the window shows it."""

    rgb: np.ndarray       # the camera's frame (after max_size)
    styled: np.ndarray
    name: str             # the style that made it
    fps: float
    index: int            # frames since the start, from 1


class _Latest:
    """A one-frame mailbox from the worker to the window: the newest frame wins."""

    def __init__(self) -> None:
        self.frame: _Shown | None = None
        self.new = threading.Event()

    def put(self, frame: _Shown) -> None:
        self.frame = frame
        self.new.set()

    def take(self, timeout: float) -> _Shown | None:
        if not self.new.wait(timeout):
            return None
        self.new.clear()
        return self.frame


@contextlib.contextmanager
def _first_ctrl_c_stops(stop: Callable[[], None]) -> Iterator[None]:
    """The first Ctrl-C calls stop (the demo ends after the frame in hand, as with q); the handler
    then steps aside, so a second Ctrl-C raises KeyboardInterrupt at once. Only in the main thread,
    where Python runs signal handlers, and only where Ctrl-C is not ignored."""
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or previous == signal.SIG_IGN:
        yield
        return
    previous = previous if previous is not None else signal.default_int_handler

    def on_ctrl_c(signum, frame) -> None:
        signal.signal(signal.SIGINT, previous)
        stop()

    signal.signal(signal.SIGINT, on_ctrl_c)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class _Session:
    """One run of the demo: the frame loop, the window's keys, and what they share."""

    def __init__(self, capture: cv2.VideoCapture, is_file: bool, rate: Fraction, source: str,
                 stylizers: list[FrameStylizer], names: list[str], *, output: str | Path | None,
                 options: StylizeOptions, snapshot_dir: Path, say: Callable[[str], None]) -> None:
        self.capture, self.is_file, self.rate, self.source = capture, is_file, rate, source
        self.stylizers, self.names = stylizers, names
        self.output, self.snapshot_dir = output, snapshot_dir
        self.max_size, self.limit = options.max_size, options.frames
        self.crf = DEFAULT_CRF if options.crf is None else options.crf
        self.preset = DEFAULT_PRESET if options.preset is None else options.preset
        self.say = say
        self.stopped = threading.Event()
        self.interrupted = False
        self.current = 0            # the style the next frame takes (the window's keys change it)
        self.side_by_side = False
        self.count, self.fps = 0, 0.0
        self.started = self.last = None
        self.size = (0, 0)
        self.recorded: Path | None = None
        self.snapshots: list[Path] = []
        self.latest: _Latest | None = None   # set when a window shows the frames
        self.pace = False                    # a file in a window plays at its frame rate
        self.error: BaseException | None = None
        self.shown: _Shown | None = None
        self.message: str | None = None
        self.message_until = 0.0
        self.dirty = False

    # --- the frame loop: the worker thread with a window, else the caller's ---

    def frame_loop(self) -> None:
        recorder: VideoWriter | None = None
        record_start, last_pts, in_use = 0.0, -1, None
        try:
            while not self.stopped.is_set() and (self.limit is None or self.count < self.limit):
                ok, bgr = self.capture.read()
                if not ok:
                    if self.is_file or self.count:  # a file ends; a camera that worked and stops is unplugged
                        break
                    raise FastNSTError(f"--webcam {self.source}: the camera gives no frames")
                rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                size = fit_size(rgb.shape[1], rgb.shape[0], self.max_size)
                if size != (rgb.shape[1], rgb.shape[0]):
                    rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
                current = self.current
                if current != in_use:  # a new style starts its own stream (its tone statistics afresh)
                    self.stylizers[current].reset()
                    in_use = current
                styled = self.stylizers[current](rgb[None])[0]
                self.size = (styled.shape[1], styled.shape[0])
                now = time.perf_counter()
                if self.output is not None:
                    if recorder is None:  # a camera: milliseconds of wall clock; a file: its own frame numbers
                        recorder = VideoWriter(self.output, styled.shape[1], styled.shape[0], rate=self.rate,
                                               time_base=1 / self.rate if self.is_file else Fraction(1, 1000),
                                               crf=self.crf, preset=self.preset,
                                               inputs=[self.source] if self.is_file else ())
                        record_start = now
                    pts = self.count if self.is_file else max(round((now - record_start) * 1000), last_pts + 1)
                    recorder.write(styled, pts)
                    last_pts = pts
                self.count += 1
                if self.last is not None:  # frames per second, smoothed over about ten frames
                    self.fps = 1 / (now - self.last) if self.fps == 0 else 0.9 * self.fps + 0.1 / (now - self.last)
                else:
                    self.started = now
                self.last = now
                if self.latest is not None:
                    self.latest.put(_Shown(rgb, styled, self.names[current], self.fps, self.count))
                if self.pace:
                    self.stopped.wait(max(0.0, self.started + self.count / float(self.rate) - time.perf_counter()))
            self.recorded = recorder.close() if recorder is not None else None
        except BaseException:
            if recorder is not None:
                recorder.abort()
            raise

    def _work(self) -> None:
        try:
            self.frame_loop()
        except BaseException as exc:  # handed to the caller's thread
            self.error = exc
        finally:
            self.stopped.set()

    # --- the window: the caller's thread ---

    def window_loop(self) -> None:
        window = TkWindow(self.key, self.stop)
        self.latest, self.pace = _Latest(), self.is_file
        worker = threading.Thread(target=self._work, name="fastnst-webcam", daemon=True)
        try:
            worker.start()
            while not self.stopped.is_set():
                window.update()
                frame = self.latest.take(timeout=0.01)
                if frame is not None:
                    self.shown, self.dirty = frame, True
                if self.message and time.monotonic() > self.message_until:
                    self.message, self.dirty = None, True
                if self.dirty and self.shown is not None:
                    window.show(self.view(self.shown, caption=True), f"{WINDOW_TITLE}: {self.shown.name}")
                    self.dirty = False
        finally:
            self.stopped.set()
            window.close()  # gone at once; the worker finishes the frame in hand and closes the recording
            if worker.is_alive():
                worker.join()
        if self.error is not None:
            raise self.error

    def view(self, frame: _Shown, caption: bool) -> np.ndarray:
        """The stylized frame, or the original beside it; the caption over the stylized part."""
        if not self.side_by_side:
            view = frame.styled.copy()
        else:
            view = np.hstack([frame.rgb, frame.styled])
        if caption:
            left = frame.rgb.shape[1] if self.side_by_side else 0
            if self.side_by_side:
                overlay(view, ["original"])
            overlay(view, [f"{frame.name}  {frame.fps:.1f} fps", self.message], left)
        return view

    def stop(self) -> None:
        self.stopped.set()

    def interrupt(self) -> None:
        self.interrupted = True
        self.stopped.set()

    def key(self, name: str) -> None:
        """A key, taken at once: the state changes for the next frame, the line under the caption
        says what happened, and the window redraws the frame it shows with it."""
        if name in ("q", "escape"):
            self.stop()
            return
        if name in ("n", "p"):
            if len(self.stylizers) == 1:
                self.feedback("one style: give --ckpt several checkpoints to switch")
            else:
                self.current = (self.current + (1 if name == "n" else -1)) % len(self.stylizers)
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
        path = self.snapshot_dir / f"{frame.name}_{datetime.now():%Y%m%d-%H%M%S}_{frame.index}.png"
        try:
            save_image(Image.fromarray(self.view(frame, caption=False)), path,
                       inputs=[self.source] if self.is_file else ())
        except (OSError, FastNSTError) as exc:
            self.feedback(f"snapshot failed: {first_line(exc)}")
            self.say(f"warning: snapshot {path}: {first_line(exc)}")
            return
        path = path.resolve()
        self.snapshots.append(path)
        self.feedback(f"saved {path.name}")
        self.say(f"snapshot -> {path}")

    def result(self, device: torch.device) -> WebcamRun:
        steady = (self.count - 1) / (self.last - self.started) if self.count > 1 else None
        return WebcamRun(self.count, self.size[0], self.size[1], steady, device, self.recorded, self.snapshots,
                         self.interrupted)


def run_webcam(source: str, models: Sequence[Stylizer | Checkpoint | str | Path], options: StylizeOptions | None = None,
               *, style: StyleSpec = None, window: bool = True, output: str | Path | None = None,
               snapshot_dir: str | Path | None = None, device: str = "auto", precision: str = "auto",
               compile: bool = False, backend: str = "auto", say: Callable[[str], None] = lambda line: None,
               ) -> WebcamRun:
    """Stylize a camera (`source` an index like "0") or a video file played as one, live.

    models: Stylizers, or checkpoints loaded here (with device, precision, compile and backend, as
    Stylizer.load takes them); style: for nets of several styles, the choice n/p steps through (a
    name, a blend, "all"); None: every style of each. One net's styles share it: a switch rewrites
    its norms, nothing reloads. options: as for images (match_tone's adjustment is smoothed over
    the frames); frames: stop after that many; crf and preset: the recording's.
    window: show the feed (keys: n/p next/previous style, o original side by side, s
    snapshot, q or Esc quit); output: also record the stylized feed to this H.264 file. Without
    either it only measures the frame rate. snapshot_dir: where s writes PNGs (default
    ~/Pictures/fastnst). `say` receives the lines worth telling the user (where a snapshot went).
    Ctrl-C ends the run like q (WebcamRun.interrupted says so).
    """
    options = (options or StylizeOptions()).check()
    if precision == "int8":
        raise OptionError("{precision} int8 is for images and videos (it calibrates on them); the webcam "
                          "takes auto, fp32 or bf16")
    camera_file = None if str(source).isdigit() else str(source)
    if output is not None:  # a recording never replaces the video played or a checkpoint
        refuse_overwrite(output, [camera_file, *models])
    capture, is_file, rate = open_capture(source)  # what is wrong with the camera first, then the display
    try:
        if window:
            check_display()
        # Each checkpoint as the image path loads it: backend, precision and compile apply here too.
        stylizers = [stylizer for model in models
                     for stylizer in Stylizer.load_all(model, style="all" if style is None else style, shared=True,
                                                       device=device, precision=precision, compile=compile,
                                                       backend=backend)]
        frame_stylizers = [FrameStylizer(stylizer, stylizer.device, preserve_color=options.preserve_color,
                                         strength=options.strength, match_tone=options.match_tone)
                           for stylizer in stylizers]
        session = _Session(capture, is_file, rate, source, frame_stylizers, [s.label for s in stylizers],
                           output=output, options=options, say=say,
                           snapshot_dir=Path(snapshot_dir).expanduser() if snapshot_dir else default_snapshot_dir())
        with _first_ctrl_c_stops(session.interrupt), keep_host_memory():  # frames reuse one frame's memory
            if window:
                session.window_loop()
            else:
                session.frame_loop()
    finally:
        capture.release()
    return session.result(stylizers[0].device)
