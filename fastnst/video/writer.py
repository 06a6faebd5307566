"""Writing H.264 video files through PyAV (FFmpeg): the source's timestamps, rotation, metadata and
audio kept; written under a temporary name and renamed at the end."""

from __future__ import annotations

import io
import logging
import math
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ..errors import FastNSTError, first_line
from ..files import commit, temporary_path
from .reader import NO_H264, VIDEO_EXTENSIONS, load_av

if TYPE_CHECKING:
    import av

log = logging.getLogger(__name__)

DEFAULT_CRF = 18        # x264's scale: 0 lossless, 18 visually lossless, 23 its default, 51 worst
DEFAULT_PRESET = "medium"
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
MUXER_TAGS = {"encoder", "software", "major_brand", "minor_version", "compatible_brands"}


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


def _can_copy(stream: av.stream.Stream, format_name: str) -> bool:
    """Whether `format_name` takes this stream's packets as they are: write a header to memory."""
    av = load_av()
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
        self.input = load_av().open(str(source))
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
        av = load_av()
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
                 metadata: dict[str, str] | None = None, inputs: Sequence[str | Path | None] = ()) -> None:
        av = load_av()
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
        # The input being read (audio_from) and any other `inputs` are never replaced.
        self.tmp = temporary_path(self.path, [audio_from, *inputs])
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
                raise FastNSTError(f"{self.path}: cannot write video: {first_line(exc)}", exit_code=1) from None
            raise
        self.time_base = time_base

    def _format_name(self) -> str:
        return {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".avi": "avi"}[self.path.suffix.lower()]

    def _is_mp4(self) -> bool:
        return self._format_name() in ("mp4", "mov")

    def write(self, rgb: np.ndarray, pts: int) -> None:
        av = load_av()
        rgb = np.ascontiguousarray(rgb[: self.height, : self.width])
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(
            format="yuv420p", dst_colorspace="ITU709", dst_color_range="MPEG")
        frame.pts, frame.time_base = pts, self.time_base
        try:
            if self.audio is not None:
                self.audio.write_until(float(pts * self.time_base))
            self.output.mux(self.stream.encode(frame))
        except av.error.FFmpegError as exc:
            raise FastNSTError(f"{self.path}: cannot write video: {first_line(exc)}", exit_code=1) from None
        self.frames += 1

    def close(self, audio_end: float | None = None) -> Path:
        """Flush the encoder, add the audio left (up to `audio_end` seconds when given), write the
        trailer, rename to the final name."""
        av = load_av()
        try:
            self.output.mux(self.stream.encode(None))
            if self.audio is not None:
                self.audio.close(audio_end)
            self.output.close()
            commit(self.tmp, self.path)
        except BaseException as exc:
            self.abort()
            if isinstance(exc, av.error.FFmpegError):
                raise FastNSTError(f"{self.path}: cannot write video: {first_line(exc)}", exit_code=1) from None
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
