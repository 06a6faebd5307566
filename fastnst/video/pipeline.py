"""A video file in, a stylized H.264 file out.

Three threads overlap the work: a reader decodes frames to RGB (reader.py), the caller's thread
stylizes them in batches on the device (frames.py), a writer encodes H.264 and muxes it with the
source's audio (writer.py). They hand over explicit items through bounded queues, which keep
memory flat: `_Frame`s, then one `_End`; a thread that fails stops the others.

What the output keeps: every frame with its timestamp (so frame count, frame rate, including
NTSC rates like 24000/1001, variable frame rates and duration), the rotation (display matrix),
the container's metadata and every audio stream (copied packet for packet when the container
takes the codec, else re-encoded to AAC). H.264 in 4:2:0 needs even sides: an odd width or
height loses its last pixel column or row (players would show a green edge for a padded one).
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from tqdm import tqdm

from PIL import Image

from ..checkpoint import Checkpoint
from ..errors import FastNSTError
from ..checks import type_problem
from ..files import ReadFiles, refuse_overwrite
from ..progress import show_progress
from ..host_memory import keep_host_memory
from ..inference import StylizeOptions, Stylizer
from ..inference.stylizer import stylizer_and_options
from ..model import TransformerNet
from .frames import FrameStylizer
from .reader import VideoInfo, decode, display_matrix, open_video, probe, spread_frames
from .writer import DEFAULT_CRF, DEFAULT_PRESET, FrameClock, VideoWriter

log = logging.getLogger(__name__)

CALIBRATION_FRAMES = 8  # int8: frames spread through the video to calibrate on


@dataclass
class _Frame:
    pts: int                                   # in the source's time base
    rgb: np.ndarray                            # H x W x 3 uint8
    display_matrix: list[int] | None = None    # the rotation, carried by the first frame only


@dataclass
class _End:
    cut_short: bool = False  # to the writer: the user asked for the first N frames, end the audio there


class _Stopped(Exception):
    """Another thread failed or the user interrupted: stop quietly."""


def _put(q: queue.Queue, item: Any, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return
        except queue.Full:
            continue
    raise _Stopped


def _get(q: queue.Queue, stop: threading.Event) -> Any:
    while not stop.is_set():
        try:
            return q.get(timeout=0.1)
        except queue.Empty:
            continue
    raise _Stopped


class _Stage(threading.Thread):
    """A daemon thread running `work`: keeps its return value and its exception for the caller,
    and on failure sets `stop`, so the other stages end too."""

    def __init__(self, work: Callable[[], Any], stop: threading.Event, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.work, self.stop = work, stop
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.work()
        except _Stopped:
            pass
        except BaseException as exc:
            self.error = exc
            self.stop.set()


def _shortfall(info: VideoInfo, frames_read: int, limit: int | None) -> str | None:
    """What to say when a file gave fewer frames than it declares (its header's count, or, when it
    has none, its duration: then 10% short at least, as durations are approximate); else None."""
    wanted = info.frames if limit is None else min(limit, info.frames or limit)
    if info.frames and frames_read < wanted:
        return f"{info.path}: the video ended after {frames_read} of its {info.frames} frames (damaged or cut short)"
    if not info.frames and limit is None and info.duration:
        expected = round(info.duration * info.fps)
        if frames_read < 0.9 * expected - 1:
            return (f"{info.path}: the video ended after {frames_read} frames, {frames_read / info.fps:.1f} s of the "
                    f"{info.duration:.1f} s it declares (damaged or cut short)")
    return None


def _calibration_frames(source: Path) -> list[Image.Image]:
    """What int8 calibrates on for a video given alone: frames spread through it."""
    frames = [Image.fromarray(rgb) for rgb in spread_frames(source, CALIBRATION_FRAMES)]
    if not frames:
        raise FastNSTError(f"{source}: the video has no frames")
    return frames


def _path(value: object, name: str) -> Path:
    """A path given from Python, or a one-line FastNSTError naming the argument."""
    problem = type_problem(value, "path")
    if problem:
        raise FastNSTError(f"{name} {problem}")
    return Path(value)


def stylize_video(source: str | Path, target: str | Path,
                  model: Stylizer | Checkpoint | TransformerNet | str | Path | None = None, options: StylizeOptions | None = None, *, progress: bool | None = None, **arguments: Any) -> Path:
    """Stylize every frame of a video file (or the first `options.frames`) and write an H.264 file.

    model: a Stylizer, or what Stylizer.load takes (then loaded for this video); None with
    style="painting.jpg": the bundled universal model. options: as for
    images (fastnst.stylize), plus the video fields (batch_size, crf, preset, frames, allow_partial);
    match_tone's adjustment is smoothed over the frames, so it does not flicker. arguments:
    StylizeOptions fields and Stylizer.load's, as fastnst.stylize takes them.
    Returns the written path. progress: True, False, or None to show a bar only on a terminal.
    A file that ends before the frames it declares (damaged or cut short) is an error, and nothing
    is written; with allow_partial the frames read are written, with a warning.
    """
    source, target = _path(source, "source"), _path(target, "target")
    refuse_overwrite(target, [source, model])  # before any work; the writer checks again when it opens
    stylizer, options = stylizer_and_options(model, options, arguments, lambda: _calibration_frames(source))
    reads = ReadFiles([source, model, *stylizer.sources])  # the paintings too
    refuse_overwrite(target, reads)
    batch_size, limit = options.batch_size, options.frames
    crf = DEFAULT_CRF if options.crf is None else options.crf
    preset = DEFAULT_PRESET if options.preset is None else options.preset
    frames_out = FrameStylizer(stylizer, stylizer.device, preserve_color=options.preserve_color,
                               strength=options.strength, tile=options.tile or 0, match_tone=options.match_tone,
                               steady=options.steady)
    info = probe(source)
    container, stream = open_video(source)
    stop = threading.Event()
    decoded: queue.Queue = queue.Queue(maxsize=2 * batch_size)
    stylized: queue.Queue = queue.Queue(maxsize=2 * batch_size)

    def read() -> None:
        with container:
            for i, (pts, rgb, frame) in enumerate(decode(container, stream, options.max_size, limit, source)):
                _put(decoded, _Frame(pts, rgb, display_matrix(frame) if i == 0 else None), stop)
            _put(decoded, _End(), stop)

    def write() -> Path:
        clock = FrameClock(info.time_base, info.fps)
        writer: VideoWriter | None = None
        try:
            while isinstance(item := _get(stylized, stop), _Frame):
                if writer is None:
                    writer = VideoWriter(target, item.rgb.shape[1], item.rgb.shape[0], rate=info.fps,
                                         time_base=clock.time_base, crf=crf, preset=preset,
                                         audio_from=source if info.audio_streams else None,
                                         display_matrix=item.display_matrix, metadata=info.metadata,
                                         inputs=reads)
                writer.write(item.rgb, clock(item.pts))
            audio_end = float(clock.last * clock.time_base + 1 / info.fps) if item.cut_short else None
            return writer.close(audio_end)
        except BaseException:
            if writer is not None:
                writer.abort()  # failed or interrupted: no half file under any name
            raise

    reader, writer = _Stage(read, stop, "fastnst-read"), _Stage(write, stop, "fastnst-write")
    expected = info.frames or (round(info.duration * info.fps) if info.duration else None)  # mkv: no count
    total = min(limit, expected) if limit and expected else (limit or expected)
    bar = tqdm(total=total, desc=source.name, unit="frame", dynamic_ncols=True,
               disable=not show_progress(progress))
    count = 0
    with keep_host_memory():  # each frame reuses the previous frame's memory
        try:
            reader.start()
            writer.start()
            item = _get(decoded, stop)
            while isinstance(item, _Frame):
                batch = [item]
                while len(batch) < batch_size and isinstance(item := _get(decoded, stop), _Frame):
                    batch.append(item)
                for frame, rgb in zip(batch, frames_out(np.stack([f.rgb for f in batch]))):
                    _put(stylized, _Frame(frame.pts, rgb, frame.display_matrix), stop)
                count += len(batch)
                bar.update(len(batch))
                if len(batch) == batch_size:
                    item = _get(decoded, stop)
            if count == 0:
                raise FastNSTError(f"{source}: the video has no frames")
            short = _shortfall(info, count, limit)
            if short and not options.allow_partial:
                raise FastNSTError(f"{short}; nothing was written (allow_partial / --allow-partial keeps the frames "
                                   f"that could be read)", exit_code=1)
            _put(stylized, _End(cut_short=limit is not None and count == limit and info.frames != limit), stop)
            writer.join()
            if writer.error is not None:
                raise writer.error
            if short:
                bar.close()
                log.warning("%s; wrote the %d frames that could be read to %s", short, count, target)
            return writer.result
        except _Stopped:
            failed = reader.error or writer.error
            raise failed if failed is not None else FastNSTError(f"{source}: stopped") from None
        finally:
            stop.set()
            bar.close()
            reader.join(timeout=5)
            writer.join(timeout=5)
