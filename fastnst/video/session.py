"""One run of the live demo: capture, stylize and show as three threads joined by one-frame
channels (channel.py), the recording, and the measurements (frames/s, latency, working size).
What the window shows and what its keys do: window.py (LiveView); starting a run: live.py.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np
import torch

from ..errors import FastNSTError
from ..files import ReadFiles
from ..images import fit_size
from ..inference import StylizeOptions, VideoOptions
from .channel import Channel, Stage
from .frames import FrameStylizer
from .pacing import Pacer
from .window import LiveView, Shown, TkWindow
from .writer import DEFAULT_CRF, DEFAULT_PRESET, VideoWriter


@dataclass
class WebcamRun:
    """What a webcam session did."""

    frames: int                    # frames shown (or recorded, or measured)
    width: int                     # the size they were shown and recorded at: the camera's
    height: int
    frames_per_s: float | None     # frames shown per second of wall time after the warm-up (WARMUP_*)
    device: torch.device
    recorded: Path | None          # the --output file, if recording
    snapshots: list[Path] = field(default_factory=list)
    interrupted: bool = False      # stopped by Ctrl-C (what was recorded is kept)
    latency_ms: tuple[float, float] | None = None   # capture -> shown after the warm-up: median, 95th percentile
    working_size: tuple[int, int] | None = None     # the size frames were stylized at, at the end


WARMUP_FRAMES, WARMUP_SECONDS = 10, 1.0   # measurements leave out the first 10 frames or 1 s, whichever ends first


@dataclass
class _Captured:
    """A camera frame and when it was read."""

    rgb: np.ndarray
    at: float             # time.perf_counter() when the read returned
    index: int            # frames read since the start, from 1


_END = object()  # what a stage puts in its channel when it has no more to give


@contextlib.contextmanager
def first_ctrl_c_stops(stop: Callable[[], None]) -> Iterator[None]:
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


class LiveSession:
    """One run of the demo: three threads and what they share.

    capture (a thread): reads the camera into a one-frame channel; stylize (a thread): takes the
    newest frame, stylizes it at the working size and scales it back to the camera's; the caller's
    thread: takes the newest result, records it, shows it in the window, measures. So reading,
    stylizing and showing overlap, and a frame waits for at most one other at each step.
    """

    def __init__(self, capture: cv2.VideoCapture, is_file: bool, rate: Fraction, source: str,
                 stylizers: list[FrameStylizer], names: list[str], *, output: str | Path | None,
                 options: StylizeOptions, video: VideoOptions, fps: float, snapshot_dir: Path,
                 say: Callable[[str], None], reads: ReadFiles | None = None) -> None:
        self.capture, self.is_file, self.rate, self.source = capture, is_file, rate, source
        self.reads = reads if reads is not None else ReadFiles([source] if is_file else [])  # what no file replaces
        self.stylizers, self.output = stylizers, output
        # What the window shows and what its keys do (window.py): the style in use among `names`.
        self.view = LiveView(names, snapshot_dir, self.stop, say, protect=self.reads)
        self.max_size, self.limit, self.target_fps = options.max_size, video.frames, fps
        self.crf = DEFAULT_CRF if video.crf is None else video.crf
        self.preset = DEFAULT_PRESET if video.preset is None else video.preset
        self.stopped = threading.Event()
        self.interrupted = False
        # One frame in each channel: a file's every frame in order, a camera's newest (channel.py).
        self.frames, self.results = Channel(keep_all=is_file), Channel(keep_all=is_file)
        self.pace = False           # a file in a window plays at its frame rate
        self.wanted = threading.Event()  # the stylizer is free: a file reads its next frame only then
        self.pacer: Pacer | None = None
        self.count, self.fps = 0, 0.0
        self.shown_at: list[float] = []
        self.latencies: list[float] = []
        self.size = (0, 0)
        self.working_size: tuple[int, int] | None = None
        self.recorder: VideoWriter | None = None
        self.record_start, self.last_pts = 0.0, -1
        self.recorded: Path | None = None
        self.errors: list[BaseException] = []

    # --- capture: a thread ---

    def capture_loop(self) -> None:
        try:
            index, started = 0, time.perf_counter()
            while not self.stopped.is_set() and not (self.is_file and self.limit is not None and index >= self.limit):
                if self.pace:
                    self.stopped.wait(max(0.0, started + index / float(self.rate) - time.perf_counter()))
                if self.is_file:  # read on demand: a frame read ahead would wait a whole frame time
                    while not self.wanted.wait(0.1) and not self.stopped.is_set():
                        pass
                    if self.stopped.is_set():
                        break
                    self.wanted.clear()
                ok, bgr = self.capture.read()
                if not ok:
                    if self.is_file or index:  # a file ends; a camera that worked and stops is unplugged
                        break
                    raise FastNSTError(f"--webcam {self.source}: the camera gives no frames")
                index += 1
                self.frames.put(_Captured(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), time.perf_counter(), index))
        except BaseException as exc:
            self.fail(exc)
        finally:
            self.frames.put(_END, wait=True)

    # --- stylize: a thread ---

    def stylize_loop(self) -> None:
        in_use = None
        try:
            while True:
                self.wanted.set()
                frame = self.frames.take(timeout=0.1)
                if frame is _END or self.stopped.is_set():  # stopped: the frame in hand was the last
                    break
                if frame is None:
                    continue
                camera = (frame.rgb.shape[1], frame.rgb.shape[0])
                if self.max_size is not None:  # a fixed working size
                    size = fit_size(*camera, self.max_size)
                else:
                    if self.pacer is None or self.pacer.camera != camera:
                        self.pacer = Pacer(camera, self.target_fps)
                    size = self.pacer.size
                current = self.view.current
                if current != in_use:  # a new style starts its own stream (its tone statistics afresh)
                    self.stylizers[current].reset()
                    in_use = current
                start = time.perf_counter()
                rgb = frame.rgb if size == camera else cv2.resize(frame.rgb, size, interpolation=cv2.INTER_AREA)
                styled = self.stylizers[current](rgb[None])[0]
                if styled.shape[:2] != frame.rgb.shape[:2]:  # shown and recorded at the camera's size
                    styled = cv2.resize(styled, camera, interpolation=cv2.INTER_LINEAR)
                if self.pacer is not None and self.max_size is None:
                    self.pacer.update(time.perf_counter() - start)
                self.results.put(Shown(frame.rgb, styled, self.view.names[current], size, frame.at, frame.index))
        except BaseException as exc:
            self.fail(exc)
        finally:
            self.frames.abandon()  # the capture thread never waits for a taker that is gone
            self.wanted.set()
            self.results.put(_END, wait=True)

    def fail(self, exc: BaseException) -> None:
        """A thread's error, handed to the caller's thread; the others stop."""
        self.errors.append(exc)
        self.stopped.set()

    # --- the caller's thread: records, shows and measures the newest result ---

    def run(self, window: TkWindow | None) -> None:
        # Each loop hands its own error to fail(), so the stages' error slot stays empty.
        threads = [Stage(loop, self.stopped, f"fastnst-webcam-{name}")
                   for name, loop in (("capture", self.capture_loop), ("stylize", self.stylize_loop))]
        try:
            for thread in threads:
                thread.start()
            while True:
                if window is not None:
                    if self.stopped.is_set():
                        window.close()  # gone at once; the frame in hand is still recorded
                        window = None
                    else:
                        window.update()
                result = self.results.take(timeout=0.01 if window is not None else 0.1)
                if result is _END:
                    break
                if result is not None and (self.limit is None or self.count < self.limit):
                    self.take(result)
                    if self.limit is not None and self.count >= self.limit:
                        self.stop()
                if window is not None:
                    self.view.draw(window)
            for thread in threads:
                thread.join()
            if self.errors:  # a failed run leaves no recording
                raise self.errors[0]
            self.recorded = self.recorder.close() if self.recorder is not None else None
        except BaseException:
            if self.recorder is not None:
                self.recorder.abort()
            raise
        finally:
            self.stopped.set()
            self.results.abandon()
            if window is not None:
                window.close()
            for thread in threads:
                if thread.is_alive():
                    thread.join()

    def take(self, result: Shown) -> None:
        """Record a stylized frame and count it as shown."""
        now = time.perf_counter()
        styled = result.styled
        if self.output is not None:
            if self.recorder is None:  # a camera: milliseconds of wall clock; a file: its own frame numbers
                self.recorder = VideoWriter(self.output, styled.shape[1], styled.shape[0], rate=self.rate,
                                            time_base=1 / self.rate if self.is_file else Fraction(1, 1000),
                                            crf=self.crf, preset=self.preset,
                                            inputs=self.reads)
                self.record_start = now
            pts = (result.index - 1 if self.is_file
                   else max(round((now - self.record_start) * 1000), self.last_pts + 1))
            self.recorder.write(styled, pts)
            self.last_pts = pts
            now = time.perf_counter()
        if self.shown_at:  # frames per second, smoothed over about ten frames
            rate = 1 / max(now - self.shown_at[-1], 1e-6)
            self.fps = rate if self.fps == 0 else 0.9 * self.fps + 0.1 * rate
        self.count += 1
        self.shown_at.append(now)
        self.latencies.append(now - result.captured)
        self.size, self.working_size = (styled.shape[1], styled.shape[0]), result.working_size
        result.fps = self.fps
        self.view.show(result)

    def stop(self) -> None:
        self.stopped.set()

    def interrupt(self) -> None:
        self.interrupted = True
        self.stopped.set()

    def result(self, device: torch.device) -> WebcamRun:
        """The measurements over the frames shown after the warm-up: the first WARMUP_FRAMES, or the
        first WARMUP_SECONDS, whichever ends first, and at most half the frames."""
        times, steady, latency = self.shown_at, None, None
        if times:
            first = next((i for i, t in enumerate(times) if t - times[0] >= WARMUP_SECONDS), len(times))
            first = min(first, WARMUP_FRAMES, len(times) // 2)  # a short run keeps its second half
            if len(times) - first >= 2:
                steady = (len(times) - first - 1) / max(times[-1] - times[first], 1e-9)
            after = self.latencies[first:] or self.latencies
            latency = (float(np.median(after)) * 1000, float(np.percentile(after, 95)) * 1000)
        return WebcamRun(self.count, self.size[0], self.size[1], steady, device, self.recorded, self.view.snapshots,
                         self.interrupted, latency, self.working_size)
