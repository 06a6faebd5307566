"""The live demo: a camera, or a video file played as one, stylized frame by frame.

    python infer.py --webcam --ckpt mosaic.pt candy.pt              # window; n/p style, o original, s snapshot, q quit
    python infer.py --webcam clip.mp4 --ckpt mosaic.pt --no-window --output out.mp4   # headless recording

Three threads, so reading, stylizing and showing overlap (on a 2-core CPU both cores work). A
capture thread reads the camera (camera.py) into a one-frame channel (channel.py); a stylize thread takes the
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

import math
from pathlib import Path
from typing import Callable, Sequence

from ..bundled import bundled_path
from ..checkpoint import Checkpoint
from ..errors import FastNSTError
from ..files import ReadFiles, check_writable, refuse_overwrite
from ..host_memory import keep_host_memory
from ..inference import OptionError, RuntimeSpec, StyleSpec, StylizeOptions, Stylizer, VideoOptions
from .camera import open_capture
from .frames import FrameStylizer
from .pacing import DEFAULT_FPS
from .session import LiveSession, WebcamRun, first_ctrl_c_stops
from .window import TkWindow, check_display


def default_snapshot_dir() -> Path:
    """Where snapshots go unless told: ~/Pictures/fastnst (created on the first snapshot)."""
    return Path.home() / "Pictures" / "fastnst"


def bundled_realtime_nets() -> list[Path]:
    """The bundled real-time networks (checkpoints/realtime): every .pt, sorted by name, mosaic first."""
    folder = bundled_path("realtime")
    nets = sorted(folder.glob("*.pt"), key=lambda path: (path.stem != "mosaic", path.name))
    if not nets:
        raise FastNSTError(f"no bundled real-time networks in {folder}: pass --ckpt with a checkpoint")
    return nets


def check_fps(fps: float) -> float:
    """The target frame rate, or an OptionError: a number above 0, not infinite."""
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 0 < fps < math.inf:
        raise OptionError(f"{{fps}} must be a number of frames per second above 0, got {fps}")
    return float(fps)


def _stylizers(models: Sequence[Stylizer | Checkpoint | str | Path], style: StyleSpec, runtime: RuntimeSpec,
               options: StylizeOptions) -> tuple[list[Stylizer], list[FrameStylizer]]:
    """Each model as the image path loads it (backend, precision and compile apply here too), one
    Stylizer per style sharing its net, and the frame path around each."""
    stylizers = [stylizer for model in models
                 for stylizer in Stylizer.from_files(model, "all" if style is None else style, runtime, shared=True)]
    return stylizers, [FrameStylizer(stylizer, stylizer.device, preserve_color=options.preserve_color,
                                     strength=options.strength, match_tone=options.match_tone, steady=options.steady)
                       for stylizer in stylizers]


def run_webcam(source: str, models: Sequence[Stylizer | Checkpoint | str | Path] = (),
               options: StylizeOptions | None = None, *, video: VideoOptions | None = None,
               style: StyleSpec = None, window: bool = True,
               output: str | Path | None = None, fps: float = DEFAULT_FPS, snapshot_dir: str | Path | None = None,
               runtime: RuntimeSpec | None = None, say: Callable[[str], None] = lambda line: None) -> WebcamRun:
    """Stylize a camera (`source` an index like "0") or a video file played as one, live.

    models: Stylizers, or checkpoints loaded here as `runtime` says (device, precision, backend,
    compile); none: the bundled real-time networks (bundled_realtime_nets). style:
    for nets of several styles, the choice n/p steps through (a name, a blend, "all"); None: every
    style of each. One net's styles share it: a switch rewrites its norms, nothing reloads.
    options: as for images (match_tone's adjustment is smoothed over the frames); max_size: a fixed
    working size, else the working size adapts so the demo reaches `fps` frames per second
    (pacing.py). video: frames, stop after that many; crf and preset, the recording's. Frames are shown and
    recorded at the camera's size. window: show the feed (keys: n/p next/previous style, o original
    side by side, s snapshot, q or Esc quit); output: also record the stylized feed to this H.264
    file. Without either it only measures. A live camera drops the frames the demo has no time
    for; a video file gives every frame, in order. snapshot_dir: where s writes PNGs (default
    ~/Pictures/fastnst). `say` receives the lines worth telling the user (where a snapshot went).
    Ctrl-C ends the run like q (WebcamRun.interrupted says so).
    """
    options = (options or StylizeOptions()).check()
    video = (video or VideoOptions()).check()
    fps = check_fps(fps)
    runtime = (runtime or RuntimeSpec()).check()
    if runtime.precision == "int8":
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
        stylizers, frame_stylizers = _stylizers(models, style, runtime, options)
        reads.add(*(path for stylizer in stylizers for path in stylizer.sources))  # the paintings too
        if output is not None:
            refuse_overwrite(output, reads)
        session = LiveSession(capture, is_file, rate, source, frame_stylizers, [s.label for s in stylizers],
                              output=output, reads=reads, options=options, video=video, fps=fps, say=say,
                              snapshot_dir=Path(snapshot_dir).expanduser() if snapshot_dir else default_snapshot_dir())
        with first_ctrl_c_stops(session.interrupt), keep_host_memory():  # frames reuse one frame's memory
            shown = TkWindow(session.view.key, session.stop) if window else None
            session.pace = window and is_file
            session.run(shown)
        if is_file and session.count == 0 and not session.interrupted:
            raise FastNSTError(f"{source}: the video has no frames{'; nothing was recorded' if output else ''}",
                               exit_code=1)
    finally:
        capture.release()
    return session.result(stylizers[0].device)
