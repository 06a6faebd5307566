"""Reading video files through PyAV (FFmpeg): what a file holds, and its frames as RGB arrays in
display order with their timestamps."""

from __future__ import annotations

import functools
import heapq
from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Iterator

import numpy as np

from ..errors import FastNSTError, first_line
from ..images import fit_size

if TYPE_CHECKING:
    import av

VIDEO_EXTENSIONS = {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi"}
# Containers that cannot hold H.264 (webm takes only VP8/VP9/AV1): their output becomes .mp4.
NO_H264 = {".webm"}
REORDER_WINDOW = 16     # frames: enough to sort the timestamps of AVI files with packed B-frames


@functools.cache
def load_av() -> ModuleType:
    """PyAV, imported where video is first read or written: it loads FFmpeg's libraries, which
    `import fastnst` need not. FFmpeg's own log lines (a damaged packet, say) would reach the
    terminal ahead of our one-line message, which says what matters: only its panics are kept."""
    import av

    av.logging.set_level(av.logging.PANIC)
    return av


def is_video(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def output_extension(source: str | Path) -> str:
    """The source's container when it can hold H.264, else .mp4."""
    ext = Path(source).suffix.lower()
    return ".mp4" if ext in NO_H264 or ext not in VIDEO_EXTENSIONS else ext


def find_videos(folder: str | Path) -> list[Path]:
    """Video files under folder (recursive, by extension; hidden ones, like our temporary files, skipped)."""
    return sorted(p for p in Path(folder).rglob("*") if is_video(p) and p.is_file() and not p.name.startswith("."))


@dataclass
class VideoInfo:
    """What a video file holds (sizes are as stored, before any rotation is applied)."""

    path: Path
    width: int
    height: int
    fps: Fraction               # average frame rate, exact (24000/1001 for 23.976)
    frames: int | None          # as the container declares it; None when it does not say
    duration: float | None      # seconds
    codec: str
    audio_streams: int
    time_base: Fraction
    metadata: dict[str, str]


def open_video(path: str | Path) -> tuple[av.container.InputContainer, av.video.stream.VideoStream]:
    """Open a file for decoding its first video stream; every failure is a one-line FastNSTError."""
    av = load_av()
    path = Path(path)
    if not path.is_file():
        raise FastNSTError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as exc:
        raise FastNSTError(f"{path}: not a video file (or a format FFmpeg cannot read): {first_line(exc)}") from None
    if not container.streams.video:
        container.close()
        raise FastNSTError(f"{path}: has no video stream")
    stream = container.streams.video[0]
    if stream.codec_context is None:
        container.close()
        raise FastNSTError(f"{path}: its video codec is unknown to this FFmpeg build (no decoder)")
    stream.thread_type = "AUTO"  # frame + slice threads: decoding keeps up with the model
    return container, stream


def probe(path: str | Path) -> VideoInfo:
    av = load_av()
    container, stream = open_video(path)
    with container:
        fps = stream.average_rate or stream.guessed_rate or stream.base_rate or Fraction(25)
        duration = (float(stream.duration * stream.time_base) if stream.duration
                    else container.duration / av.time_base if container.duration else None)
        return VideoInfo(path=Path(path), width=stream.width, height=stream.height, fps=Fraction(fps),
                         frames=stream.frames or None, duration=duration, codec=stream.codec_context.name,
                         audio_streams=len(container.streams.audio), time_base=Fraction(stream.time_base),
                         metadata=dict(container.metadata))


def _frames_in_order(frames: Iterator[av.VideoFrame], step: int) -> Iterator[tuple[av.VideoFrame, int]]:
    """(frame, pts) with strictly increasing pts. Frames come out of the decoder in display order,
    but AVI files with packed B-frames stamp them out of order (1, 2, 3, 5, 4, ...): hand the same
    timestamps out sorted, through a small window. A frame without one gets the previous + step."""
    window: deque[av.VideoFrame] = deque()
    stamps: list[int] = []
    last = None

    def next_pts() -> int:
        nonlocal last
        pts = heapq.heappop(stamps) if stamps else (0 if last is None else last + step)
        last = pts if last is None or pts > last else last + 1
        return last

    for frame in frames:
        window.append(frame)
        if frame.pts is not None:
            heapq.heappush(stamps, frame.pts)
        if len(window) > REORDER_WINDOW:
            yield window.popleft(), next_pts()
    while window:
        yield window.popleft(), next_pts()


def display_matrix(frame: av.VideoFrame) -> list[int] | None:
    """The rotation a frame should be shown with (its display matrix side data), or None."""
    for data in frame.side_data:
        if "DISPLAYMATRIX" in str(data.type):
            return np.frombuffer(bytes(data), np.int32).tolist()
    return None


def _rgb(frame: av.VideoFrame, width: int, height: int) -> np.ndarray:
    """A decoded frame as H x W x 3 uint8 RGB, resized with area averaging when smaller."""
    return frame.to_ndarray(format="rgb24", width=width, height=height, interpolation="AREA",
                            src_color_range=frame.color_range)


def read_frames(path: str | Path, *, max_size: int | None = None, limit: int | None = None) -> Iterator[np.ndarray]:
    """The frames of a video file as H x W x 3 uint8 RGB arrays, in display order; max_size
    shrinks them so the long side is at most that, limit stops after that many frames."""
    container, stream = open_video(path)
    with container:
        for _, rgb, _ in decode(container, stream, max_size, limit, Path(path)):
            yield rgb


def decode(container, stream, max_size: int | None, limit: int | None,
            path: Path) -> Iterator[tuple[int, np.ndarray, av.VideoFrame]]:
    """(pts, RGB array, decoded frame) for each frame, in display order."""
    av = load_av()
    scaled = fit_size(stream.width, stream.height, max_size)
    fps = stream.average_rate or stream.guessed_rate or Fraction(25)
    step = max(1, round(1 / (fps * stream.time_base)))
    count = 0
    try:
        for frame, pts in _frames_in_order(container.decode(stream), step):
            if limit is not None and count >= limit:
                break
            rgb = _rgb(frame, *scaled)
            count += 1
            yield pts, rgb, frame
    except av.error.FFmpegError as exc:
        raise FastNSTError(f"{path}: cannot decode frame {count + 1}: {first_line(exc)}") from None


def spread_frames(path: str | Path, count: int, short_side: int = 512) -> list[np.ndarray]:
    """`count` frames spread evenly through a video (the first among them), as RGB arrays whose
    short side is at most `short_side`: what int8 calibrates on, so a clip that opens on black (or
    on titles) does not set the ranges for every later frame. Decodes the whole file once and
    converts only the frames kept: every `stride`-th, the stride doubling whenever more than
    2 x count are held, which needs no frame count from the header (many files have none)."""
    container, stream = open_video(path)
    width, height = stream.width, stream.height
    scale = min(1.0, short_side / max(1, min(width, height)))
    size = (max(2, round(width * scale)), max(2, round(height * scale)))
    kept: list[tuple[int, np.ndarray]] = []
    stride, count = 1, max(1, count)
    av = load_av()
    with container:
        try:
            for index, frame in enumerate(container.decode(stream)):
                if index % stride:
                    continue
                kept.append((index, _rgb(frame, *size)))
                if len(kept) > 2 * count:
                    stride *= 2
                    kept = [(i, rgb) for i, rgb in kept if i % stride == 0]
        except av.error.FFmpegError:
            pass  # a damaged tail: calibrate on what was read; stylizing reports the damage
    if len(kept) <= count:
        return [rgb for _, rgb in kept]
    return [kept[round(k * (len(kept) - 1) / (count - 1))][1] for k in range(count)] if count > 1 else [kept[0][1]]

