"""A video file in, a stylized H.264 file out.

Three threads overlap the work: a reader decodes frames to RGB (reader.py), the caller's thread
stylizes them in batches on the device (frames.py), a writer encodes H.264 and muxes it with the
source's audio (writer.py). They are Stages joined by Channels that keep every frame (channel.py),
bounded, which keeps memory flat: `_Frame`s, then one `_End`; a stage that fails stops the others.

What the output keeps: every frame with its timestamp (so frame count, frame rate, including
NTSC rates like 24000/1001, variable frame rates and duration), the rotation (display matrix),
the container's metadata and every audio stream (copied packet for packet when the container
takes the codec, else re-encoded to AAC). H.264 in 4:2:0 needs even sides: an odd width or
height loses its last pixel column or row (players would show a green edge for a padded one).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from PIL import Image

from ..errors import FastNSTError
from ..checks import type_problem
from ..files import ReadFiles, refuse_overwrite
from ..progress import show_progress
from ..host_memory import keep_host_memory
from ..inference import StylizeOptions, Stylizer, VideoOptions
from ..inference.loader import Model
from ..inference.stylizer import stylizer_and_options
from .channel import Channel, Stage, Stopped
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


def stylize_video(source: str | Path, target: str | Path, model: Stylizer | Model | None = None,
                  options: StylizeOptions | None = None, video: VideoOptions | None = None, *,
                  progress: bool | None = None, **arguments: Any) -> Path:
    """Stylize every frame of a video file (or the first `video.frames`) and write an H.264 file.

    model: a Stylizer, or what Stylizer.load takes (then loaded for this video); None with
    style="painting.jpg": the bundled universal model. options: as for images (fastnst.stylize);
    match_tone's adjustment is smoothed over the frames, so it does not flicker. video: how to read
    and write it (batch_size, crf, preset, frames, allow_partial). arguments: the fields of either,
    and Stylizer.load's, as keywords. Returns the written path. progress: True, False, or None to
    show a bar only on a terminal. A file that ends before the frames it declares (damaged or cut
    short) is an error, and nothing is written; with allow_partial the frames read are written,
    with a warning.
    """
    source, target = _path(source, "source"), _path(target, "target")
    refuse_overwrite(target, [source, model])  # before any work; the writer checks again when it opens
    stylizer, options, video = stylizer_and_options(model, options, arguments, lambda: _calibration_frames(source),
                                                    video or VideoOptions())
    reads = ReadFiles([source, model, *stylizer.sources])  # the paintings too
    refuse_overwrite(target, reads)
    frames_out = FrameStylizer(stylizer, stylizer.device, preserve_color=options.preserve_color,
                               strength=options.strength, tile=options.tile or 0, match_tone=options.match_tone,
                               steady=options.steady)
    return _VideoRun(source, target, frames_out, options.max_size, video, reads).run(progress)


class _VideoRun:
    """One video through three stages: read (a thread) -> stylize (the caller's thread, in batches)
    -> write (a thread), joined by channels that keep every frame, bounded (channel.py)."""

    def __init__(self, source: Path, target: Path, frames_out: FrameStylizer, max_size: int | None,
                 video: VideoOptions, reads: ReadFiles) -> None:
        self.source, self.target, self.frames_out, self.max_size, self.video = source, target, frames_out, max_size, video
        self.reads = reads  # the files the run reads: the writer never replaces one
        self.info = probe(source)
        self.container, self.stream = open_video(source)  # what is wrong with the file: said here, not in a thread
        self.stop = threading.Event()
        self.decoded = Channel(2 * video.batch_size, stop=self.stop)
        self.stylized = Channel(2 * video.batch_size, stop=self.stop)

    def read(self) -> None:
        with self.container:
            frames = decode(self.container, self.stream, self.max_size, self.video.frames, self.source)
            for i, (pts, rgb, frame) in enumerate(frames):
                self.decoded.put(_Frame(pts, rgb, display_matrix(frame) if i == 0 else None))
            self.decoded.put(_End())

    def write(self) -> Path:
        info, video = self.info, self.video
        clock = FrameClock(info.time_base, info.fps)
        writer: VideoWriter | None = None
        try:
            while isinstance(item := self.stylized.take(), _Frame):
                if writer is None:
                    writer = VideoWriter(self.target, item.rgb.shape[1], item.rgb.shape[0], rate=info.fps,
                                         time_base=clock.time_base,
                                         crf=DEFAULT_CRF if video.crf is None else video.crf,
                                         preset=DEFAULT_PRESET if video.preset is None else video.preset,
                                         audio_from=self.source if info.audio_streams else None,
                                         display_matrix=item.display_matrix, metadata=info.metadata,
                                         inputs=self.reads)
                writer.write(item.rgb, clock(item.pts))
            audio_end = float(clock.last * clock.time_base + 1 / info.fps) if item.cut_short else None
            return writer.close(audio_end)
        except BaseException:
            if writer is not None:
                writer.abort()  # failed or interrupted: no half file under any name
            raise

    def stylize(self, bar: tqdm) -> int:
        """Every decoded frame, in batches, to the writer; the number of frames."""
        batch_size, count = self.video.batch_size, 0
        item = self.decoded.take()
        while isinstance(item, _Frame):
            batch = [item]
            while len(batch) < batch_size and isinstance(item := self.decoded.take(), _Frame):
                batch.append(item)
            for frame, rgb in zip(batch, self.frames_out(np.stack([f.rgb for f in batch]))):
                self.stylized.put(_Frame(frame.pts, rgb, frame.display_matrix))
            count += len(batch)
            bar.update(len(batch))
            if len(batch) == batch_size:
                item = self.decoded.take()
        return count

    def run(self, progress: bool | None) -> Path:
        info, limit = self.info, self.video.frames
        reader, writer = Stage(self.read, self.stop, "fastnst-read"), Stage(self.write, self.stop, "fastnst-write")
        expected = info.frames or (round(info.duration * info.fps) if info.duration else None)  # mkv: no count
        total = min(limit, expected) if limit and expected else (limit or expected)
        bar = tqdm(total=total, desc=self.source.name, unit="frame", dynamic_ncols=True,
                   disable=not show_progress(progress))
        with keep_host_memory():  # each frame reuses the previous frame's memory
            try:
                reader.start()
                writer.start()
                count = self.stylize(bar)
                if count == 0:
                    raise FastNSTError(f"{self.source}: the video has no frames")
                short = _shortfall(info, count, limit)
                if short and not self.video.allow_partial:
                    raise FastNSTError(f"{short}; nothing was written (allow_partial / --allow-partial keeps the "
                                       f"frames that could be read)", exit_code=1)
                self.stylized.put(_End(cut_short=limit is not None and count == limit and info.frames != limit))
                writer.join()
                if writer.error is not None:
                    raise writer.error
                if short:
                    bar.close()
                    log.warning("%s; wrote the %d frames that could be read to %s", short, count, self.target)
                return writer.result
            except Stopped:
                failed = reader.error or writer.error
                raise failed if failed is not None else FastNSTError(f"{self.source}: stopped") from None
            finally:
                self.stop.set()
                bar.close()
                reader.join(timeout=5)
                writer.join(timeout=5)
