"""The live demo: a camera, or a video file played as one, stylized frame by frame.

    python infer.py --webcam --ckpt mosaic.pt candy.pt              # window; n/p style, o original, s snapshot, q quit
    python infer.py --webcam clip.mp4 --ckpt mosaic.pt --no-window --output out.mp4   # headless recording

Three threads, so reading, stylizing and showing overlap (on a 2-core CPU both cores work). A
capture thread reads the camera (camera.py) into a one-slot mailbox; a stylize thread takes the
newest frame, stylizes it at the working size through the frame path of video files (frames.py)
and scales it back to the camera's size; the caller's thread takes the newest result, records it
with writer.VideoWriter (H.264, under a temporary name until the end), shows it in the window
(window.py) and takes each key the moment it is pressed. So a key shows that it was taken at once
even when a frame takes a second, and the window moves, redraws and closes meanwhile. A live camera
drops the frames the demo has no time for (never a queue: a frame is shown at most about two
frame times after it was read); a video file gives every frame, in order, each read the moment
the stylizer is free for it, so it waits no longer than a camera's frame would.

The working size adapts so the demo holds the target frame rate (pacing.py), unless max_size fixes
it. A camera is recorded with wall-clock timestamps, so the file plays at the speed the demo ran; a
video file keeps its own frame rate (and plays at it in the window).

Ctrl-C stops the demo as q does (a recording is kept); a second Ctrl-C interrupts at once.
"""

from __future__ import annotations

import contextlib
import math
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
from ..files import ReadFiles, check_writable, fit_name, refuse_overwrite
from ..host_memory import keep_host_memory
from ..images import fit_size, save_image
from ..inference import OptionError, StyleSpec, StylizeOptions, Stylizer
from .camera import open_capture
from .frames import FrameStylizer
from .pacing import DEFAULT_FPS, Pacer
from .window import WINDOW_TITLE, TkWindow, check_display, overlay
from .writer import DEFAULT_CRF, DEFAULT_PRESET, VideoWriter

FEEDBACK_SECONDS = 2.0     # how long the line saying what a key did stays
KEYS_HELP = "keys: n/p style, o original, s snapshot, q quit"
REALTIME_DIR = Path(__file__).resolve().parents[2] / "checkpoints" / "realtime"  # the bundled real-time nets


def default_snapshot_dir() -> Path:
    """Where snapshots go unless told: ~/Pictures/fastnst (created on the first snapshot)."""
    return Path.home() / "Pictures" / "fastnst"


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


@dataclass
class _Shown:
    """A frame as the window shows it."""

    rgb: np.ndarray       # the camera's frame
    styled: np.ndarray    # stylized at the working size, shown at the camera's
    name: str             # the style that made it
    working_size: tuple[int, int]
    captured: float       # when its camera frame was read
    index: int            # the camera frame's number, from 1
    fps: float = 0.0      # the rate frames were shown at, when this one was


_END = object()  # what a thread puts in its mailbox when it has no more to give


class _Mailbox:
    """One slot between two threads. keep_all: a put waits until the slot is free, so every item
    arrives, in order (a video file); else a put replaces what was not taken yet, the newest wins
    (a live camera: older frames are dropped, never queued). _END always waits its turn."""

    def __init__(self, keep_all: bool) -> None:
        self.keep_all = keep_all
        self.slot: list = []
        self.changed = threading.Condition()
        self.abandoned = False  # the taker is gone: puts no longer wait

    def put(self, item: object) -> None:
        with self.changed:
            if self.keep_all or item is _END:
                self.changed.wait_for(lambda: not self.slot or self.abandoned)
            self.slot[:] = [item]
            self.changed.notify_all()

    def take(self, timeout: float) -> object | None:
        """The item, or None when none came within `timeout` seconds."""
        with self.changed:
            if not self.changed.wait_for(lambda: self.slot, timeout):
                return None
            item = self.slot.pop()
            self.changed.notify_all()
            return item

    def abandon(self) -> None:
        with self.changed:
            self.abandoned = True
            self.changed.notify_all()


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
    """One run of the demo: three threads and what they share.

    capture (a thread): reads the camera into a one-slot mailbox; stylize (a thread): takes the
    newest frame, stylizes it at the working size and scales it back to the camera's; the caller's
    thread: takes the newest result, records it, shows it in the window, measures. So reading,
    stylizing and showing overlap, and a frame waits for at most one other at each step.
    """

    def __init__(self, capture: cv2.VideoCapture, is_file: bool, rate: Fraction, source: str,
                 stylizers: list[FrameStylizer], names: list[str], *, output: str | Path | None,
                 options: StylizeOptions, fps: float, snapshot_dir: Path, say: Callable[[str], None],
                 reads: ReadFiles | None = None) -> None:
        self.capture, self.is_file, self.rate, self.source = capture, is_file, rate, source
        self.reads = reads if reads is not None else ReadFiles([source] if is_file else [])  # what no file replaces
        self.stylizers, self.names = stylizers, names
        self.output, self.snapshot_dir = output, snapshot_dir
        self.max_size, self.limit, self.target_fps = options.max_size, options.frames, fps
        self.crf = DEFAULT_CRF if options.crf is None else options.crf
        self.preset = DEFAULT_PRESET if options.preset is None else options.preset
        self.say = say
        self.stopped = threading.Event()
        self.interrupted = False
        self.current = 0            # the style the next frame takes (the window's keys change it)
        self.side_by_side = False
        self.frames, self.results = _Mailbox(keep_all=is_file), _Mailbox(keep_all=is_file)
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
        self.snapshots: list[Path] = []
        self.errors: list[BaseException] = []
        self.shown: _Shown | None = None
        self.message: str | None = None
        self.message_until = 0.0
        self.dirty = False

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
            self.frames.put(_END)

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
                current = self.current
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
                self.results.put(_Shown(frame.rgb, styled, self.names[current], size, frame.at, frame.index))
        except BaseException as exc:
            self.fail(exc)
        finally:
            self.frames.abandon()  # the capture thread never waits for a taker that is gone
            self.wanted.set()
            self.results.put(_END)

    def fail(self, exc: BaseException) -> None:
        """A thread's error, handed to the caller's thread; the others stop."""
        self.errors.append(exc)
        self.stopped.set()

    # --- the caller's thread: records, shows and measures the newest result ---

    def run(self, window: TkWindow | None) -> None:
        threads = [threading.Thread(target=loop, name=f"fastnst-webcam-{name}", daemon=True)
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
                    self.draw(window)
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

    def take(self, result: _Shown) -> None:
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
        self.shown, self.dirty = result, True

    def draw(self, window: TkWindow) -> None:
        if self.message and time.monotonic() > self.message_until:
            self.message, self.dirty = None, True
        if self.dirty and self.shown is not None:
            window.show(self.view(self.shown, caption=True), f"{WINDOW_TITLE}: {self.shown.name}")
            self.dirty = False

    # --- the window's keys and views ---

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
            width, height = frame.working_size
            overlay(view, [f"{frame.name}  {width}x{height}  {frame.fps:.1f} fps", self.message], left)
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
        path = self.snapshot_dir / f"{fit_name(frame.name)}_{datetime.now():%Y%m%d-%H%M%S}_{frame.index}.png"
        try:
            save_image(Image.fromarray(self.view(frame, caption=False)), path,
                       inputs=self.reads)
        except (OSError, FastNSTError) as exc:
            self.feedback(f"snapshot failed: {first_line(exc)}")
            self.say(f"warning: snapshot {path}: {first_line(exc)}")
            return
        path = path.resolve()
        self.snapshots.append(path)
        self.feedback(f"saved {path.name}")
        self.say(f"snapshot -> {path}")

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
        return WebcamRun(self.count, self.size[0], self.size[1], steady, device, self.recorded, self.snapshots,
                         self.interrupted, latency, self.working_size)


def bundled_realtime_nets() -> list[Path]:
    """The real-time networks bundled in REALTIME_DIR: every .pt, sorted by name, mosaic first."""
    nets = sorted(REALTIME_DIR.glob("*.pt"), key=lambda path: (path.stem != "mosaic", path.name))
    if not nets:
        raise FastNSTError(f"no bundled real-time networks in {REALTIME_DIR}: pass --ckpt with a checkpoint")
    return nets


def check_fps(fps: float) -> float:
    """The target frame rate, or an OptionError: a number above 0, not infinite."""
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 0 < fps < math.inf:
        raise OptionError(f"{{fps}} must be a number of frames per second above 0, got {fps}")
    return float(fps)


def run_webcam(source: str, models: Sequence[Stylizer | Checkpoint | str | Path] = (),
               options: StylizeOptions | None = None, *, style: StyleSpec = None, window: bool = True,
               output: str | Path | None = None, fps: float = DEFAULT_FPS, snapshot_dir: str | Path | None = None,
               device: str = "auto", precision: str = "auto", compile: bool = False, backend: str = "auto",
               say: Callable[[str], None] = lambda line: None) -> WebcamRun:
    """Stylize a camera (`source` an index like "0") or a video file played as one, live.

    models: Stylizers, or checkpoints loaded here (with device, precision, compile and backend, as
    Stylizer.load takes them); none: the bundled real-time networks (bundled_realtime_nets). style:
    for nets of several styles, the choice n/p steps through (a name, a blend, "all"); None: every
    style of each. One net's styles share it: a switch rewrites its norms, nothing reloads.
    options: as for images (match_tone's adjustment is smoothed over the frames); max_size: a fixed
    working size, else the working size adapts so the demo reaches `fps` frames per second
    (pacing.py); frames: stop after that many; crf and preset: the recording's. Frames are shown and
    recorded at the camera's size. window: show the feed (keys: n/p next/previous style, o original
    side by side, s snapshot, q or Esc quit); output: also record the stylized feed to this H.264
    file. Without either it only measures. A live camera drops the frames the demo has no time
    for; a video file gives every frame, in order. snapshot_dir: where s writes PNGs (default
    ~/Pictures/fastnst). `say` receives the lines worth telling the user (where a snapshot went).
    Ctrl-C ends the run like q (WebcamRun.interrupted says so).
    """
    options = (options or StylizeOptions()).check()
    fps = check_fps(fps)
    if precision == "int8":
        raise OptionError("{precision} int8 is for images and videos (it calibrates on them); the webcam "
                          "takes auto, fp32 or bf16")
    models = list(models) or bundled_realtime_nets()
    camera_file = None if str(source).isdigit() else str(source)
    reads = ReadFiles([camera_file, *models])
    if output is not None:  # a recording never replaces the video played or a checkpoint, and can be written
        check_writable(output, reads)
    capture, is_file, rate = open_capture(source)  # what is wrong with the camera first, then the display
    try:
        if window:
            check_display()
        # Each checkpoint as the image path loads it: backend, precision and compile apply here too.
        stylizers = [stylizer for model in models
                     for stylizer in Stylizer.load_all(model, style="all" if style is None else style, shared=True,
                                                       device=device, precision=precision, compile=compile,
                                                       backend=backend)]
        reads.add(*(path for stylizer in stylizers for path in stylizer.sources))  # the paintings too
        if output is not None:
            refuse_overwrite(output, reads)
        frame_stylizers = [FrameStylizer(stylizer, stylizer.device, preserve_color=options.preserve_color,
                                         strength=options.strength, match_tone=options.match_tone,
                                         steady=options.steady)
                           for stylizer in stylizers]
        session = _Session(capture, is_file, rate, source, frame_stylizers, [s.label for s in stylizers],
                           output=output, reads=reads, options=options, fps=fps, say=say,
                           snapshot_dir=Path(snapshot_dir).expanduser() if snapshot_dir else default_snapshot_dir())
        with _first_ctrl_c_stops(session.interrupt), keep_host_memory():  # frames reuse one frame's memory
            shown = TkWindow(session.key, session.stop) if window else None
            session.pace = window and is_file
            session.run(shown)
        if is_file and session.count == 0 and not session.interrupted:
            raise FastNSTError(f"{source}: the video has no frames{'; nothing was recorded' if output else ''}",
                               exit_code=1)
    finally:
        capture.release()
    return session.result(stylizers[0].device)
