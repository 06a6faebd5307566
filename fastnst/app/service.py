"""What the web page calls: plain functions over Stylizers loaded once, with no Gradio in sight.

    service = StyleService(workdir)                       # the bundled networks, found once
    path = service.stylize_photo("photo.jpg", StyleRequest(network="mosaic"), PhotoOptions(size=1024))
    frame = service.stylize_frame(rgb, "candy")           # the webcam, through a real-time network
    clip = service.stylize_clip("clip.mp4", StyleRequest(paintings=("painting.jpg",)), PhotoOptions())

Every heavy call holds one lock, so two requests never stylize at once on a small CPU; every file it
writes goes under `workdir`; bad input raises FastNSTError with one line meant for the page.
"""

from __future__ import annotations

import functools
import hashlib
import re
import shutil
import threading
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from PIL import Image

from ..bundled import bundled_dir
from ..checkpoint import load_checkpoint
from ..errors import FastNSTError, first_line
from ..files import safe_name
from ..images import fit_size
from ..inference import StylizeOptions, Stylizer
from ..inference.loader import file_kind
from ..inference.universal import bundled_universal
from ..universal import load_universal
from ..video import probe, stylize_video
from .inputs import (CACHED_STYLIZERS, MAX_CLIP_SECONDS, MAX_OUTPUT_PIXELS, NetworkStyle, PhotoOptions, StyleRequest, largest_size_within, megapixels, network_styles, probe_picture)

class StyleService:
    """The networks behind the page, loaded once each and reused for every request.

    workdir: where results and copies of uploaded paintings go (the caller removes it).
    checkpoints: trained networks (or a universal model) of the user's, offered first; the bundled
    ones follow. max_pixels: the largest result, in pixels, the page stylizes.
    """

    def __init__(self, workdir: str | Path, checkpoints: Sequence[str | Path] = (), *, device: str = "auto",
                 max_pixels: int = MAX_OUTPUT_PIXELS) -> None:
        self.workdir, self.device, self.max_pixels = Path(workdir), device, max_pixels
        for path in map(Path, checkpoints):
            if not path.is_file():
                raise FastNSTError(f"{path}: no such checkpoint")
        users = [Path(p).resolve() for p in checkpoints]  # resolved: a bundled file given is not offered twice
        universal = [p for p in users if file_kind(p) == "universal"]
        folder = bundled_dir()
        load = functools.cache(load_checkpoint)  # each file read once here, then let go
        self.held = {p: load(p).style_names for p in dict.fromkeys([*users, *sorted(folder.glob("*.pt"))])
                     if p not in universal and not file_kind(p) == "universal"}
        # Single-style nets first, mosaic leading; five.pt only serves the blends of its styles.
        bundled = sorted((p for p in self.held if p not in users),
                         key=lambda p: (len(self.held[p]) > 1, p.stem != "mosaic", p.name))
        own = network_styles([p for p in users if p in self.held], repeats=True, load=load)
        self.networks = own + network_styles(bundled, taken=[s.name for s in own], load=load)
        realtime = network_styles(sorted((folder / "realtime").glob("*.pt"), key=lambda p: (p.stem != "mosaic", p.name)))
        # The webcam's: the bundled real-time networks, then the user's (slower, unless small ones).
        self.realtime = realtime + network_styles(list(dict.fromkeys(s.checkpoint for s in own)),
                                                  taken=[s.name for s in realtime], repeats=True, load=load)
        self.universal_path = universal[0] if universal else bundled_universal()
        self._universal = None  # loaded on the first painting
        self._networks: dict[tuple, Stylizer] = {}
        self._stylizers: OrderedDict[tuple, Stylizer] = OrderedDict()
        self._busy = threading.Lock()  # one heavy job at a time: two would only halve each other's cores

    # -- which stylizer --------------------------------------------------------------------------

    def network(self, name: str, offered: Sequence[NetworkStyle] | None = None) -> NetworkStyle:
        for style in self.networks if offered is None else offered:
            if style.name == name:
                return style
        names = ", ".join(s.name for s in (self.networks if offered is None else offered))
        raise FastNSTError(f"no style named {name!r}: choose one of {names}")

    def stylizer(self, request: StyleRequest) -> Stylizer:
        """The Stylizer for a request, loaded on first use and kept."""
        if not 0.0 <= request.mix <= 1.0:
            raise FastNSTError(f"the blend's mix must be between 0 and 1, got {request.mix}")
        if request.paintings:
            return self._painting_stylizer(request)
        if not request.network:
            raise FastNSTError("choose a style from the gallery, or give a painting")
        first = self.network(request.network)
        second = self.network(request.blend_with) if request.blend_with else first
        if second.checkpoint == first.checkpoint and second.style == first.style:
            return self._network_stylizer(first)
        holder = first.checkpoint if second.checkpoint == first.checkpoint else self._network_holding(first.style, second.style)
        spec = f"{first.style}={request.mix:.3f},{second.style}={1 - request.mix:.3f}"
        return self._cached((holder, spec), lambda: Stylizer.load(holder, style=spec, device=self.device))

    def _network_holding(self, *styles: str) -> Path:
        """A network that holds every one of `styles`: a blend mixes the styles inside one network."""
        for path, names in self.held.items():
            if set(styles) <= set(names):
                return path
        raise FastNSTError(f"{' and '.join(styles)} are in different networks, and a blend needs one network "
                           f"holding both (checkpoints/five.pt holds the five bundled styles)")

    def _painting_stylizer(self, request: StyleRequest) -> Stylizer:
        if len(request.paintings) > 2:
            raise FastNSTError("give one painting, or two to blend")
        copies = [self._painting_copy(path) for path in request.paintings]
        weights = [request.mix, 1 - request.mix] if len(copies) == 2 else [1.0]
        if sum(w > 0 for w in weights) == 0:
            raise FastNSTError("the blend gives both paintings a share of 0")
        spec = ",".join(f"{path}={weight:.3f}" for path, weight in zip(copies, weights))
        if self._universal is None:
            self._universal = load_universal(self.universal_path)
        return self._cached(("universal", spec), lambda: Stylizer.load(self._universal, style=spec,
                                                                       device=self.device))

    def _painting_copy(self, path: str | Path) -> Path:
        """The painting, checked, under a name made of its content's hash: the same painting uploaded
        again finds its statistics computed already, and the blend's syntax meets no odd characters."""
        path = Path(path)
        probe_picture(path, "painting")
        digest = hashlib.sha1(path.read_bytes()).hexdigest()[:16]
        name = re.sub(r"[=,]", "_", safe_name(path.stem, "painting"))  # "=" and "," are the blend's syntax
        copy = self.workdir / "paintings" / digest / f"{name}{path.suffix.lower()}"
        if not copy.is_file():
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, copy)
        return copy

    def _network_stylizer(self, style: NetworkStyle) -> Stylizer:
        """A network's style, loaded once and kept for as long as the page runs (they are few)."""
        key = (style.checkpoint, style.style)
        if key not in self._networks:
            self._networks[key] = Stylizer.load(style.checkpoint, style=style.style, device=self.device)
        return self._networks[key]

    def _cached(self, key: tuple, load: Callable[[], Stylizer]) -> Stylizer:
        """A painting's or a blend's Stylizer: the last CACHED_STYLIZERS used are kept."""
        if key in self._stylizers:
            self._stylizers.move_to_end(key)
            return self._stylizers[key]
        stylizer = load()
        self._stylizers[key] = stylizer
        while len(self._stylizers) > CACHED_STYLIZERS:
            self._stylizers.popitem(last=False)
        return stylizer

    # -- the page's requests ---------------------------------------------------------------------

    def check_size(self, width: int, height: int, size: int) -> tuple[int, int]:
        """The result's size for a photo of width x height at output size `size` (0: as it is); a
        one-line FastNSTError naming a size that fits when the result would be too large."""
        if size < 0:
            raise FastNSTError(f"the output size must be a positive number of pixels, got {size}")
        out = fit_size(width, height, size or None)
        if out[0] * out[1] > self.max_pixels:
            fits = largest_size_within(width, height, self.max_pixels)
            advice = f"choose an output size of {fits} or less" if fits else "shrink it first"
            raise FastNSTError(f"the result would be {out[0]}x{out[1]} ({megapixels(out[0] * out[1])}), more than "
                               f"the page stylizes ({megapixels(self.max_pixels)}): {advice}")
        return out

    def stylize_photo(self, photo: str | Path | None, request: StyleRequest, options: PhotoOptions,
                      step: Callable[[float, str], None] = lambda fraction, what: None) -> Path:
        """The photo stylized, written as a PNG under workdir (named <photo>_<style>.png); `step`
        hears how far it got. The PNG is full size: the photo's, or options.size on the long side."""
        if photo is None:
            raise FastNSTError("give a photo: upload one, paste one, or take one with the webcam")
        width, height = probe_picture(photo, "photo")
        self.check_size(width, height, options.size)
        stylize_options = self._stylize_options(options)
        with self._busy:
            step(0.1, "loading the style")
            stylizer = self.stylizer(request)
            step(0.3, "stylizing")
            result = stylizer.stylize(photo, stylize_options)  # EXIF orientation and transparency kept
            step(0.9, "saving")
            target = self._result_path(f"{safe_name(Path(photo).stem, 'photo')}_{stylizer.label}.png")
            result.save(target)
        return target

    def stylize_frame(self, frame: np.ndarray, network: str, strength: float = 1.0,
                      preserve_color: bool = False, size: int = 480) -> np.ndarray:
        """One webcam frame (H x W x 3 uint8) through a real-time network at `size` px on the long
        side, back at the frame's size."""
        style = self.network(network, self.realtime)
        options = self._stylize_options(PhotoOptions(strength=strength, preserve_color=preserve_color, size=size))
        with self._busy:
            stylizer = self._network_stylizer(style)
            out = stylizer.stylize(frame, options)
        height, width = frame.shape[:2]
        return np.asarray(out.resize((width, height), Image.BILINEAR) if out.size != (width, height) else out)

    def stylize_clip(self, clip: str | Path | None, request: StyleRequest, options: PhotoOptions,
                     progress: bool = False) -> Path:
        """A short video stylized to an H.264 .mp4 under workdir, its audio kept; progress: a tqdm
        bar (the page follows it)."""
        if clip is None:
            raise FastNSTError("give a video clip")
        info = probe(clip)
        if info.duration and info.duration > MAX_CLIP_SECONDS:
            raise FastNSTError(f"video {Path(clip).name}: {info.duration:.0f} s is longer than the page takes "
                               f"({MAX_CLIP_SECONDS:.0f} s); cut it, or use python -m fastnst stylize")
        self.check_size(info.width, info.height, options.size)
        stylize_options = self._stylize_options(options)
        with self._busy:
            stylizer = self.stylizer(request)
            target = self._result_path(f"{safe_name(Path(clip).stem, 'clip')}_{stylizer.label}.mp4")
            return stylize_video(clip, target, stylizer, stylize_options, progress=progress)

    def _stylize_options(self, options: PhotoOptions) -> StylizeOptions:
        return StylizeOptions(max_size=options.size or None, strength=float(options.strength),
                              preserve_color=bool(options.preserve_color),
                              match_tone=bool(options.match_tone)).check()

    def _result_path(self, name: str) -> Path:
        """A fresh folder per result, so the downloaded file keeps a plain name."""
        folder = self.workdir / "results" / uuid.uuid4().hex[:12]
        folder.mkdir(parents=True)
        return folder / name


def page_message(exc: BaseException) -> str:
    """What the page shows for a failed request: a FastNSTError's line as it is, anything else as
    one line naming what went wrong (the server keeps serving either way)."""
    if isinstance(exc, FastNSTError):
        return str(exc)
    return f"unexpected {type(exc).__name__}: {first_line(exc)}"
