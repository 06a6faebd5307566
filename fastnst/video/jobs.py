"""Many files in, a stylized file out for each (and each style): what infer.py does with its inputs.

    jobs = plan_jobs(["photos/", "clip.mp4"], "mosaic.pt", style="all", runtime=RuntimeSpec(device="cpu"))
    for job, error in jobs.run(StylizeOptions(max_size=1024), VideoOptions(crf=20)):
        print(job.source, "->", job.target if error is None else error)

The policy: folders are searched for images and videos, skipping our own earlier outputs (a name
ending in _<style>); each output is named <name>_<style>.<ext> beside its input, or in an output
folder; an output never overwrites an input (nor a hard link to one); one failed file does not
stop the rest, and an unreadable one is read and reported once, not once per style; int8
calibrates on the first inputs (a video: frames spread through it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from PIL import Image

from ..checkpoint import Checkpoint
from ..errors import FastNSTError, disk_full, first_line
from ..files import MAX_FILE_NAME, ReadFiles, fit_name
from ..host_memory import keep_host_memory
from ..images import IMAGE_EXTENSIONS, find_images, open_image, open_rgb, save_image
from ..inference import OptionError, RuntimeSpec, StyleSpec, StylizeOptions, Stylizer, VideoOptions
from .pipeline import stylize_video
from .reader import VIDEO_EXTENSIONS, find_videos, is_video, output_extension, spread_frames

CALIBRATION_PHOTOS = 8

# An input file and the folder it was found in (None: given itself).
Found = tuple[Path, Path | None]


def expand_inputs(inputs: Sequence[str | Path], style_names: list[str]) -> tuple[list[Found], list[str]]:
    """(file, folder it came from or None) pairs, and errors for inputs that do not exist."""
    files, errors = [], []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            # Skip our own earlier outputs so a second run does not stylize them again.
            candidates = sorted(find_images(path) + find_videos(path))
            found = [p for p in candidates if not any(p.stem.endswith(f"_{file_label(name)}") for name in style_names)]
            if not found:
                errors.append(f"{path}: no images (jpg, png, webp, bmp) or videos (mp4, mov, mkv, webm, avi) "
                              f"in this folder")
            files += [(p, path) for p in found]
        elif path.exists():
            files.append((path, None))
        else:
            errors.append(f"{path}: no such file or folder")
    return files, errors


def file_label(label: str) -> str:
    """A style's label as output names hold it: a long blend's shortened (files.fit_name)."""
    return fit_name(label)


def output_path(source: Path, folder: Path | None, style_name: str, output: Path | None, many: bool) -> Path:
    """Where the output of `source` in `style_name` goes: <name>_<style>.<ext> beside it, or in
    `output` (a folder, under the input's path inside `folder`), or `output` itself for one file."""
    if is_video(source):
        ext = output_extension(source)  # .webm cannot hold H.264: .mp4
    else:
        ext = source.suffix.lower() if source.suffix.lower() in IMAGE_EXTENSIONS else ".png"
    name = fit_name(f"{source.stem}_{file_label(style_name)}", MAX_FILE_NAME - len(ext.encode())) + ext
    if output is None:
        return source.with_name(name)
    if not many and not output.is_dir() and output.suffix:
        return output
    relative = source.relative_to(folder).with_name(name) if folder else Path(name)
    return output / relative


def calibration_photos(files: list[Found], count: int = CALIBRATION_PHOTOS) -> list[Image.Image]:
    """Up to `count` pictures from the first inputs, for int8 calibration (a video: frames spread
    through it, not its first, which is often black or a title)."""
    photos = []
    for source, _ in files:
        if len(photos) >= count:
            break
        try:
            if is_video(source):
                photos += [Image.fromarray(rgb) for rgb in spread_frames(source, count - len(photos))]
            else:
                photos.append(open_rgb(source))
        except (FastNSTError, OSError):
            continue  # it fails again, with its error, when its turn comes
    if not photos:
        raise OptionError("{precision} int8 calibrates on the inputs, and none of them could be read")
    return photos


def _open_picture(path: Path) -> Image.Image:
    """The image as Stylizer.stylize reads a path (EXIF orientation applied, transparency kept),
    opened once for all the styles it is stylized in."""
    rgb, alpha = open_image(path)
    if alpha is not None:
        rgb.putalpha(alpha)
    return rgb


@dataclass
class Job:
    source: Path
    stylizer: Stylizer
    target: Path


@dataclass
class Jobs:
    """Every (input, style) pair to stylize, and the inputs that could not be found."""

    stylizers: list[Stylizer]
    jobs: list[Job]
    errors: list[str]     # inputs that do not exist, folders without images or videos
    many: bool            # several outputs (or a folder): named one by one

    @property
    def names(self) -> str:
        """The styles, for a progress bar."""
        labels = [s.label for s in self.stylizers]
        return "+".join(labels) if len(labels) <= 3 else f"{len(labels)} styles"

    @property
    def inputs(self) -> int:
        """How many input files the jobs stylize (each in one or more styles)."""
        return len({job.source for job in self.jobs})

    def run(self, options: StylizeOptions, video: VideoOptions | None = None
            ) -> Iterator[tuple[Job, FastNSTError | None]]:
        """Stylize each job in turn; yields it with None, or with the error that stopped it.

        An input that cannot be read is read once: the jobs of its other styles are yielded with
        the same error object, not tried again (report an error object once).
        """
        # What the run reads: every input, and the files each style comes from (checkpoint, paintings).
        photos = ReadFiles(job.source for job in self.jobs)
        reads = ReadFiles([photos, *(source for stylizer in self.stylizers for source in stylizer.sources)])
        unreadable: dict[Path, FastNSTError] = {}
        picture: tuple[Path, Image.Image] | None = None  # the image being stylized in each style
        with keep_host_memory():  # each photo reuses the memory of the one before
            for job in self.jobs:
                if job.source in unreadable:
                    yield job, unreadable[job.source]
                    continue
                try:
                    replaced = reads.replaced_by(job.target)
                    if replaced is not None:
                        what = "an input" if photos.replaced_by(job.target) else f"{replaced}, a file this run reads"
                        raise OptionError(f"{job.source}: the output {job.target} would overwrite {what}; "
                                          f"choose another {{output}}")
                    if is_video(job.source):
                        try:
                            stylize_video(job.source, job.target, job.stylizer, options, video)
                        except FastNSTError as exc:  # about the input (it names it first): no other style reads it
                            if str(exc).startswith(f"{job.source}: "):
                                unreadable[job.source] = exc
                            raise
                    else:
                        if picture is None or picture[0] != job.source:
                            picture = None
                            try:
                                picture = (job.source, _open_picture(job.source))
                            except FastNSTError as exc:
                                unreadable[job.source] = exc
                                raise
                        save_image(job.stylizer.stylize(picture[1], options), job.target, inputs=reads)
                except FastNSTError as exc:
                    yield job, exc
                    continue
                except (OSError, RuntimeError) as exc:  # disk full, out of memory, ...
                    where = f"could not write {job.target}: " if disk_full(exc) else ""
                    yield job, FastNSTError(f"{job.source}: {where}{first_line(exc)}", exit_code=1)
                    continue
                yield job, None


def plan_jobs(inputs: Sequence[str | Path], checkpoint: Checkpoint | str | Path, *,
              output: str | Path | None = None, style: StyleSpec = None, runtime: RuntimeSpec | None = None,
              tile: int | None = None) -> Jobs:
    """The model loaded once (one Stylizer per style `style` names) and a job for each input file
    and style. tile: the tile option, refused here for a runtime that cannot tile. int8 calibrates
    on the first inputs, skipping earlier outputs of the styles it makes."""
    stylizers = Stylizer.from_files(checkpoint, style, runtime,
                                    calibration=lambda labels: calibration_photos(expand_inputs(inputs, labels)[0]),
                                    tile=tile)
    files, errors = expand_inputs(inputs, [s.label for s in stylizers])
    folder_named = output is not None and str(output).endswith(("/", os.sep))  # "out/": a folder, surely
    output = Path(output) if output else None
    many = len(files) * len(stylizers) > 1 or any(folder for _, folder in files)
    if output is not None and many and output.exists() and not output.is_dir():
        raise OptionError(f"{{output}} {output}: several inputs need an output folder, and this is a file")
    if (output is not None and many and not output.exists() and not folder_named
            and output.suffix.lower() in IMAGE_EXTENSIONS | VIDEO_EXTENSIONS):
        count = f"{len(files)} input{'s' * (len(files) != 1)} in {len(stylizers)} style{'s' * (len(stylizers) != 1)}"
        raise OptionError(f"{{output}} {output}: several outputs ({count}) need an output folder, and this names "
                          f"a file; give a folder ({output.stem}/)")
    jobs = [Job(source, stylizer, output_path(source, folder, stylizer.label, output, many))
            for source, folder in files for stylizer in stylizers]
    return Jobs(stylizers, jobs, errors, many)
