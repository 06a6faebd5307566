"""Video files in, stylized video files out, through PyAV (FFmpeg).

Every frame takes the image path of stylize.py (stylize_tensor), so `max_size`, `preserve_color`
and `strength` mean the same for a clip as for a photo. Three threads overlap the work: a reader
decodes frames to RGB, the caller's thread stylizes them in batches on the device, a writer
encodes H.264 and muxes it with the source's audio. Bounded queues keep memory flat.

What the output keeps: every frame with its timestamp (so frame count, frame rate, including
NTSC rates like 24000/1001, variable frame rates and duration), the rotation (display matrix),
the container's metadata and every audio stream (copied packet for packet when the container
takes the codec, else re-encoded to AAC). H.264 in 4:2:0 needs even sides: an odd width or
height loses its last pixel column or row (players would show a green edge for a padded one).
"""

from __future__ import annotations

import heapq
import io
import logging
import math
import os
import queue
import tempfile
import threading
from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterator

import av
import numpy as np
import torch
from tqdm import tqdm

from .errors import FastNSTError, first_line
from .checkpoint import Checkpoint
from .stylize import Stylizer, as_model, resolve_device, stylize_tensor

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi"}
# Containers that cannot hold H.264 (webm takes only VP8/VP9/AV1): their output becomes .mp4.
NO_H264 = {".webm"}
DEFAULT_CRF = 18        # x264's scale: 0 lossless, 18 visually lossless, 23 its default, 51 worst
DEFAULT_PRESET = "medium"
MUXER_TAGS = {"encoder", "software", "major_brand", "minor_version", "compatible_brands"}
REORDER_WINDOW = 16     # frames: enough to sort the timestamps of AVI files with packed B-frames


def is_video(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def output_extension(source: str | Path) -> str:
    """The source's container when it can hold H.264, else .mp4."""
    ext = Path(source).suffix.lower()
    return ".mp4" if ext in NO_H264 or ext not in VIDEO_EXTENSIONS else ext


def find_videos(folder: str | Path) -> list[Path]:
    """Video files under folder (recursive, by extension; hidden ones, like our temporary files, skipped)."""
    return sorted(p for p in Path(folder).rglob("*") if is_video(p) and p.is_file() and not p.name.startswith("."))


def shrunk_size(width: int, height: int, max_size: int | None = None) -> tuple[int, int]:
    """The size frames are stylized at: shrunk so the long side is at most max_size (as images are)."""
    if max_size is None or max(width, height) <= max_size:
        return width, height
    scale = max_size / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


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


class FrameClock:
    """Output timestamps: the source's own, in a time base that holds them and the nominal frame
    duration exactly. One within a source tick of the nominal frame grid is put on the grid, so a
    constant frame rate stored in coarse ticks (webm and mkv count milliseconds) comes out exact,
    while variable frame rates and gaps are kept as they are."""

    def __init__(self, source_time_base: Fraction, fps: Fraction) -> None:
        frame = 1 / Fraction(fps)
        common = Fraction(math.gcd(source_time_base.numerator, frame.numerator),
                          math.lcm(source_time_base.denominator, frame.denominator))
        self.time_base = common if common.denominator < 2**30 else Fraction(source_time_base)
        self.tick, self.fps = Fraction(source_time_base), Fraction(fps)
        self.start: Fraction | None = None
        self.last = -1

    def __call__(self, pts: int) -> int:
        """The output pts (in self.time_base) of a frame with source pts `pts`."""
        t = pts * self.tick
        if self.start is None:
            self.start = t
        grid = self.start + round((t - self.start) * self.fps) / self.fps
        if abs(t - grid) <= self.tick:
            t = grid
        self.last = max(round(t / self.time_base), self.last + 1)
        return self.last


def to_batch(frames: list[np.ndarray] | np.ndarray, device: torch.device) -> torch.Tensor:
    """H x W x 3 uint8 RGB frames -> N x 3 x H x W float in [0, 1] on `device` (what models take)."""
    pixels = torch.from_numpy(np.stack(frames) if isinstance(frames, list) else frames)
    if device.type == "cuda":
        pixels = pixels.pin_memory()  # then the copy overlaps with the work already queued
    return pixels.to(device, non_blocking=True).permute(0, 3, 1, 2).float().div_(255)


def from_batch(images: torch.Tensor) -> np.ndarray:
    """N x 3 x H x W in [0, 1] -> N x H x W x 3 uint8 RGB frames on the host."""
    return (images * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def _rgb(frame: av.VideoFrame, width: int, height: int) -> np.ndarray:
    """A decoded frame as H x W x 3 uint8 RGB, resized with area averaging when smaller."""
    return frame.to_ndarray(format="rgb24", width=width, height=height, interpolation="AREA",
                            src_color_range=frame.color_range)


def read_frames(path: str | Path, *, max_size: int | None = None, limit: int | None = None) -> Iterator[np.ndarray]:
    """The frames of a video file as H x W x 3 uint8 RGB arrays, in display order; max_size
    shrinks them so the long side is at most that, limit stops after that many frames."""
    container, stream = open_video(path)
    with container:
        for _, rgb, _ in _decode(container, stream, max_size, limit, Path(path)):
            yield rgb


def _decode(container, stream, max_size: int | None, limit: int | None,
            path: Path) -> Iterator[tuple[int, np.ndarray, av.VideoFrame]]:
    """(pts, RGB array, decoded frame) for each frame, in display order."""
    scaled = shrunk_size(stream.width, stream.height, max_size)
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


def _can_copy(stream: av.stream.Stream, format_name: str) -> bool:
    """Whether `format_name` takes this stream's packets as they are: write a header to memory."""
    try:
        with av.open(io.BytesIO(), "w", format=format_name) as probe_container:
            probe_container.add_stream_from_template(stream)
            probe_container.start_encoding()
        return True
    except (av.error.FFmpegError, ValueError):
        return False


class _Audio:
    """The source's audio streams, muxed in step with the video: before each video frame goes out,
    the audio up to its time. Read through a second demuxer, so the video reader runs apart."""

    def __init__(self, source: Path, output: av.container.OutputContainer) -> None:
        self.input = av.open(str(source))
        self.output = output
        self.routes: dict[int, tuple[av.stream.Stream, bool]] = {}
        for stream in self.input.streams.audio:
            if stream.codec_context is None:
                log.warning("%s: audio stream %d has a codec FFmpeg cannot decode; dropped", source, stream.index)
                continue
            if _can_copy(stream, output.format.name.split(",")[0]):
                self.routes[stream.index] = (output.add_stream_from_template(stream), True)
            else:
                layout = stream.layout.name if stream.layout.nb_channels <= 2 else "5.1"
                out = output.add_stream("aac", rate=stream.rate or 48000, layout=layout)
                out.bit_rate = 192_000 if stream.layout.nb_channels <= 2 else 384_000
                self.routes[stream.index] = (out, False)
            if stream.language:
                self.routes[stream.index][0].metadata["language"] = stream.language
        wanted = [s for s in self.input.streams.audio if s.index in self.routes]
        self.packets = self.input.demux(*wanted) if wanted else iter(())
        self.pending: av.Packet | None = None

    def write_until(self, seconds: float | None) -> None:
        """Mux the audio packets that start before `seconds` (None: all that are left)."""
        while True:
            packet = self.pending or next(self.packets, None)
            self.pending = None
            if packet is None:
                return
            if packet.dts is None and packet.size == 0:
                continue  # a demuxer's flush packet
            start = float(packet.pts * packet.time_base) if packet.pts is not None else None
            if start is not None and seconds is not None and start >= seconds:
                self.pending = packet
                return
            out, copy = self.routes[packet.stream.index]
            if copy:
                packet.stream = out
                self.output.mux(packet)
            else:
                try:
                    frames = packet.decode()
                except av.error.InvalidDataError:
                    continue  # a damaged packet (a cut first AC-3 frame, say): skipped, as ffmpeg does
                for frame in frames:
                    frame.pts = None  # the encoder counts samples itself
                    self.output.mux(out.encode(frame))

    def close(self, end: float | None = None) -> None:
        """Mux the rest (up to `end` seconds when given), flush the encoders, close the source."""
        self.write_until(end)
        for out, copy in self.routes.values():
            if not copy:
                self.output.mux(out.encode(None))
        self.input.close()


class VideoWriter:
    """An H.264 file written under a temporary name beside `path` and renamed by close(): an
    interrupted run leaves no half file under the final name (abort() removes the temporary one).

    Frames are H x W x 3 uint8 RGB with a pts in `time_base` units; an odd side is cropped by one
    pixel (H.264 in yuv420p, the pixel format every player takes, needs even sides).
    """

    def __init__(self, path: str | Path, width: int, height: int, *, rate: Fraction, time_base: Fraction,
                 crf: int = DEFAULT_CRF, preset: str = DEFAULT_PRESET, audio_from: Path | None = None,
                 display_matrix: list[int] | None = None,
                 metadata: dict[str, str] | None = None) -> None:
        self.path = Path(path)
        if self.path.suffix.lower() not in VIDEO_EXTENSIONS - NO_H264:
            raise FastNSTError(f"{self.path}: a video is written as .mp4, .m4v, .mov, .mkv or .avi")
        if not 0 <= crf <= 51:
            raise FastNSTError(f"--crf must be between 0 and 51, got {crf}")
        self.width, self.height = width - width % 2, height - height % 2
        if self.width < 2 or self.height < 2:
            raise FastNSTError(f"{self.path}: frames of {width}x{height} are too small for H.264")
        if (self.width, self.height) != (width, height):
            log.warning("%s: %dx%d is odd; written as %dx%d (H.264 4:2:0 needs even sides)",
                        self.path.name, width, height, self.width, self.height)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=self.path.suffix, dir=self.path.parent)
        os.close(fd)
        self.tmp = Path(tmp)
        self.audio: _Audio | None = None
        self.frames = 0
        try:
            self.output = av.open(str(self.tmp), "w", format=self._format_name(),
                                  options={"movflags": "+faststart"} if self._is_mp4() else {})
            if metadata:  # title, creation_time, location, ...; not what the muxer writes itself
                self.output.metadata.update({k: v for k, v in metadata.items() if k.lower() not in MUXER_TAGS})
            self.stream = self.output.add_stream("libx264", rate=rate, options={"crf": str(crf), "preset": preset})
            self.stream.width, self.stream.height, self.stream.pix_fmt = self.width, self.height, "yuv420p"
            # The source's own time base keeps every timestamp exact (VFR and NTSC rates included).
            self.stream.codec_context.time_base = time_base
            self.stream.time_base = time_base
            ctx = self.stream.codec_context
            ctx.colorspace, ctx.color_primaries, ctx.color_trc, ctx.color_range = 1, 1, 1, 1  # BT.709, TV range
            if display_matrix is not None:
                self.stream.set_display_matrix(display_matrix)
            if audio_from is not None:
                self.audio = _Audio(audio_from, self.output)
        except BaseException as exc:
            self.abort()
            if isinstance(exc, (av.error.FFmpegError, ValueError)):
                raise FastNSTError(f"{self.path}: cannot write video: {first_line(exc)}") from None
            raise
        self.time_base = time_base

    def _format_name(self) -> str:
        return {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".avi": "avi"}[self.path.suffix.lower()]

    def _is_mp4(self) -> bool:
        return self._format_name() in ("mp4", "mov")

    def write(self, rgb: np.ndarray, pts: int) -> None:
        rgb = np.ascontiguousarray(rgb[: self.height, : self.width])
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(
            format="yuv420p", dst_colorspace="ITU709", dst_color_range="MPEG")
        frame.pts, frame.time_base = pts, self.time_base
        try:
            if self.audio is not None:
                self.audio.write_until(float(pts * self.time_base))
            self.output.mux(self.stream.encode(frame))
        except av.error.FFmpegError as exc:
            raise FastNSTError(f"{self.path}: cannot write video: {first_line(exc)}") from None
        self.frames += 1

    def close(self, audio_end: float | None = None) -> Path:
        """Flush the encoder, add the audio left (up to `audio_end` seconds when given), write the
        trailer, rename to the final name."""
        try:
            self.output.mux(self.stream.encode(None))
            if self.audio is not None:
                self.audio.close(audio_end)
            self.output.close()
            os.replace(self.tmp, self.path)
        except BaseException as exc:
            self.abort()
            if isinstance(exc, av.error.FFmpegError):
                raise FastNSTError(f"{self.path}: cannot write video: {first_line(exc)}") from None
            raise
        return self.path

    def abort(self) -> None:
        for closable in (getattr(self, "audio", None) and self.audio.input, getattr(self, "output", None)):
            try:
                if closable is not None:
                    closable.close()
            except Exception:  # already failing: the temporary file goes regardless
                pass
        self.tmp.unlink(missing_ok=True)


# ------------------------------------------------------------------------------------- threads
_END = object()


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


class _Worker(threading.Thread):
    """A daemon thread that keeps its exception for the caller to re-raise, and stops the others."""

    def __init__(self, target: Callable[[], None], stop: threading.Event, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.work, self.stop, self.error = target, stop, None

    def run(self) -> None:
        try:
            self.work()
        except _Stopped:
            pass
        except BaseException as exc:
            self.error = exc
            self.stop.set()


def _display_matrix(frame: av.VideoFrame) -> list[int] | None:
    for data in frame.side_data:
        if "DISPLAYMATRIX" in str(data.type):
            return np.frombuffer(bytes(data), np.int32).tolist()
    return None


def stylize_video(source: str | Path, target: str | Path, model: Checkpoint | Stylizer | str | Path, *,
                  device: torch.device | str = "auto", max_size: int | None = None, preserve_color: bool = False,
                  strength: float = 1.0, tile: int = 0, batch_size: int = 4, crf: int = DEFAULT_CRF,
                  preset: str = DEFAULT_PRESET, limit: int | None = None, progress: bool | None = None) -> Path:
    """Stylize every frame of a video file (or the first `limit`) and write an H.264 file.

    model: a Checkpoint, its path, a TransformerNet (or a fastpath/onnxruntime stylizer); device,
    max_size, preserve_color, strength and tile mean what they mean for images (stylize.stylize).
    Returns the written path. progress: True, False, or None to show a bar only on a terminal.
    """
    source, target = Path(source), Path(target)
    if batch_size < 1:
        raise FastNSTError("--batch-size must be at least 1")
    if limit is not None and limit < 1:
        raise FastNSTError("--frames must be at least 1")
    device = resolve_device(device)
    model = as_model(model)
    if isinstance(model, torch.nn.Module):
        model = model.to(device).eval()
    info = probe(source)
    container, stream = open_video(source)
    stop = threading.Event()
    decoded: queue.Queue = queue.Queue(maxsize=2 * batch_size)
    stylized: queue.Queue = queue.Queue(maxsize=2 * batch_size)
    first: dict[str, Any] = {}  # the reader's notes on the first frame, for the writer
    box: dict[str, Any] = {}    # the writer's VideoWriter and last timestamp, for the main thread

    def read() -> None:
        with container:
            for pts, rgb, frame in _decode(container, stream, max_size, limit, source):
                if not first:
                    first["matrix"] = _display_matrix(frame)
                _put(decoded, (pts, rgb), stop)
            _put(decoded, _END, stop)

    clock = FrameClock(info.time_base, info.fps)

    def write() -> None:
        while (item := _get(stylized, stop)) is not _END:
            pts, rgb = item
            if "writer" not in box:
                box["writer"] = VideoWriter(target, rgb.shape[1], rgb.shape[0], rate=info.fps,
                                            time_base=clock.time_base, crf=crf, preset=preset,
                                            audio_from=source if info.audio_streams else None,
                                            display_matrix=first.get("matrix"), metadata=info.metadata)
            box["writer"].write(rgb, clock(pts))

    reader, writer = _Worker(read, stop, "fastnst-read"), _Worker(write, stop, "fastnst-write")
    expected = info.frames or (round(info.duration * info.fps) if info.duration else None)  # mkv: no count
    total = min(limit, expected) if limit and expected else (limit or expected)
    bar = tqdm(total=total, desc=source.name, unit="frame", dynamic_ncols=True,
               disable=None if progress is None else not progress)
    count = 0
    try:
        reader.start()
        writer.start()
        while (item := _get(decoded, stop)) is not _END:
            batch = [item]
            while len(batch) < batch_size and (item := _get(decoded, stop)) is not _END:
                batch.append(item)
            x = to_batch([rgb for _, rgb in batch], device)
            frames = from_batch(stylize_tensor(model, x, preserve_color=preserve_color, strength=strength, tile=tile))
            for (pts, _), rgb in zip(batch, frames):
                _put(stylized, (pts, rgb), stop)
            count += len(batch)
            bar.update(len(batch))
            if item is _END:
                break
        if count == 0:
            raise FastNSTError(f"{source}: the video has no frames")
        _put(stylized, _END, stop)
        writer.join()
        if writer.error is not None:
            raise writer.error
        audio_end = None
        if limit is not None and count == limit and info.frames != limit:  # --frames cut it short
            audio_end = float(clock.last * clock.time_base + 1 / info.fps)
        return box["writer"].close(audio_end)
    except _Stopped:
        failed = reader.error or writer.error
        raise failed if failed is not None else FastNSTError(f"{source}: stopped") from None
    finally:
        stop.set()
        bar.close()
        reader.join(timeout=5)
        writer.join(timeout=5)
        if "writer" in box and box["writer"].tmp.exists():
            box["writer"].abort()  # failed or interrupted: no half file under any name
