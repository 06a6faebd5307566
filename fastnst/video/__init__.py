"""Video: files in and out (reader, writer, the threaded pipeline), frame batches through a
stylizer, the flicker metric and the live webcam demo (imported on use; its window is Tk's)."""

from .pipeline import stylize_video
from .reader import VIDEO_EXTENSIONS, find_videos, is_video, output_extension, probe, read_frames

__all__ = ["VIDEO_EXTENSIONS", "find_videos", "is_video", "output_extension", "probe", "read_frames",
           "stylize_video"]
