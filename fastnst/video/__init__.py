"""Video: files in and out (reader, writer, the threaded pipeline), frame batches through a
stylizer, many files at once (jobs), the flicker metric, and the live webcam demo (live, with
camera and window; imported on use: it needs OpenCV, its window is Tk's)."""

from .pipeline import stylize_video
from .reader import VIDEO_EXTENSIONS, find_videos, is_video, output_extension, probe, read_frames

__all__ = ["VIDEO_EXTENSIONS", "find_videos", "is_video", "output_extension", "probe", "read_frames",
           "stylize_video"]
