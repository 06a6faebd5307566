"""The page, built with Gradio: three tabs (photo, webcam, video) over one StyleService.

    with workspace() as workdir:                 # the one temporary folder, removed on exit
        from fastnst.app.page import build_page, launch   # Gradio imported inside it: its files go there
        page = build_page(StyleService(workdir))
        print(launch(page, "127.0.0.1", 7860))          # the address; the page is served from a thread
        page.block_thread()                               # until Ctrl-C

Each tab's button calls one function of this module (also the page's API, for gradio_client:
/stylize, /stylize_clip); each turns what the browser sent into a StyleService call and a failure
into a one-line message on the page (gr.Error), so a bad input never stops the server.
"""

from __future__ import annotations

import functools
import logging
import time
from typing import Any, Callable

import gradio as gr
import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import FastNSTError, first_line
from ..inference import OptionError
from .inputs import OUTPUT_SIZES, FrameRate, PhotoOptions, StyleRequest
from .service import StyleService, page_message

log = logging.getLogger("fastnst.app")

NETWORK, PAINTING = "a trained network", "my painting"
NO_BLEND = "none"
SIZE_CHOICES = [(f"{size} px", size) for size in OUTPUT_SIZES] + [("the photo's own", 0)]
FRAME_INTERVAL = 0.1   # seconds between the webcam frames the browser sends
MAX_UPLOAD = "500mb"   # a minute of 1080p video; photos are far smaller
# Fonts the browser has: the default theme's come from a font server, and the page calls nowhere.
THEME_FONTS = {"font": ["system-ui", "sans-serif"], "font_mono": ["ui-monospace", "monospace"]}


def refusal(message: str) -> gr.Error:
    """A message for the page; the server's console stays quiet (the user's mistake, not the server's)."""
    return gr.Error(message, print_exception=False)


def picture(label: str, sources: list[str], elem_id: str | None = None, visible: bool = True) -> gr.Image:
    """An image input whose upload, when it is no picture, says so in one line on the page (Gradio's
    own would show a bare "Error"). Its preprocess is wrapped, not overridden in a subclass: Gradio
    writes a stub file beside the module of every component class defined."""
    # image_mode None: the file as sent, so the service reads it once, EXIF orientation included.
    image = gr.Image(label=label, sources=sources, type="filepath", image_mode=None, format="png", height=320,
                     elem_id=elem_id, visible=visible)
    plain = image.preprocess

    def preprocess(payload: Any) -> str | None:
        named = " ".join(filter(None, [label, getattr(payload, "orig_name", None)]))
        try:
            return plain(payload)
        except Image.DecompressionBombError:
            raise refusal(f"{named}: too large to open; shrink it first") from None
        except (UnidentifiedImageError, OSError, ValueError):
            raise refusal(f"{named}: not a picture this page can read (use JPEG, PNG or WebP)") from None

    image.preprocess = preprocess
    return image


def on_page(call: Callable[..., Any]) -> Callable[..., Any]:
    """A handler whose failures reach the page as one line (gr.Error); unforeseen ones are also
    logged with their traceback for whoever runs the server. Its signature is `call`'s, so Gradio
    still passes what the parameters ask for (gr.Progress, gr.Request)."""
    @functools.wraps(call)
    def handler(*args: Any, **kwargs: Any) -> Any:
        try:
            return call(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as exc:
            if not isinstance(exc, FastNSTError):
                log.exception("request failed")
            raise refusal(page_message(exc)) from None

    return handler


def pixels(size: int | float | str | None) -> int:
    """An output size from the page (a choice, or a number typed in): whole pixels, 0 for none."""
    try:
        value = float(size or 0)
    except (TypeError, ValueError):
        raise FastNSTError(f"output size {size!r}: give a number of pixels") from None
    if not value.is_integer() or value < 0:
        raise FastNSTError(f"output size {size!r}: give a whole number of pixels")
    return int(value)


def style_request(source: str, network: str, blend_with: str | None, painting: str | None,
                  second_painting: str | None, mix: float) -> StyleRequest:
    """What the style controls say, as a StyleRequest."""
    if source == PAINTING:
        paintings = tuple(p for p in (painting, second_painting) if p)
        if not paintings:
            raise FastNSTError("give a painting (or choose a trained network)")
        if len(paintings) == 1 and second_painting:  # only the second given: it is the painting
            mix = 1.0
        return StyleRequest(paintings=paintings, mix=float(mix))
    blend = "" if not blend_with or blend_with == NO_BLEND else blend_with
    return StyleRequest(network=network or "", blend_with=blend, mix=float(mix))


def build_page(service: StyleService) -> gr.Blocks:
    """The page over `service`: a Photo, a Webcam and a Video tab."""
    with gr.Blocks(title="fastnst", analytics_enabled=False, delete_cache=(3600, 3600)) as page:
        gr.Markdown("## fastnst: a photo in the style of a painting")
        _photo_tab(service)
        _webcam_tab(service)
        _video_tab(service)
    page.queue(default_concurrency_limit=1)  # requests wait their turn; the service's lock is the last word
    return page


def _photo_tab(service: StyleService) -> None:
    """A photo in a network's style, a blend of two, or a painting's (the universal model)."""
    names = [style.name for style in service.networks]

    def stylize(photo: str | None, source: str, network: str, blend_with: str, painting: str | None,
                second_painting: str | None, mix: float, strength: float, preserve_color: bool, match_tone: bool,
                size: int, progress: gr.Progress = gr.Progress()) -> tuple[str, str]:
        """The photo in the chosen style: (the result's PNG, a line saying what was done)."""
        started = time.perf_counter()
        request = style_request(source, network, blend_with, painting, second_painting, mix)
        options = _look(strength, preserve_color, match_tone, size)
        result = service.stylize_photo(photo, request, options, step=lambda f, what: progress(f, desc=what))
        with Image.open(result) as image:
            width, height = image.size
        return str(result), f"{result.name}: {width}x{height}, {time.perf_counter() - started:.1f} s"

    with gr.Tab("Photo"):
        with gr.Row():
            with gr.Column():
                photo = picture("photo", ["upload", "clipboard", "webcam"], elem_id="photo")
                source = gr.Radio([NETWORK, PAINTING], value=NETWORK, label="style from")
                with gr.Group(visible=True) as network_controls:
                    gallery = gr.Gallery([(s.thumbnail, s.name) for s in service.networks], label="trained networks",
                                         columns=min(len(names), 6), height=180 if len(names) <= 6 else 330,
                                         allow_preview=False, object_fit="cover", interactive=False,
                                         elem_id="gallery")
                    network = gr.Dropdown(names, value=names[0], label="network")
                    blend_with = gr.Dropdown([NO_BLEND, *names], value=NO_BLEND, label="blend with")
                with gr.Group(visible=False) as painting_controls:
                    with gr.Row():
                        painting = picture("painting", ["upload", "clipboard"])
                        second_painting = picture("second painting, to blend (optional)", ["upload", "clipboard"])
                mix = gr.Slider(0, 1, value=0.5, step=0.05, label="blend: the first style's share")
                strength, size, preserve_color, match_tone = _look_controls(1024, "output size (long side)")
                run = gr.Button("Stylize", variant="primary", elem_id="stylize")
            with gr.Column():
                result = gr.Image(label="result (full size: download)", type="filepath", format="png",
                                  interactive=False, buttons=["download", "fullscreen"], height=520, elem_id="result")
                status = gr.Textbox(label="done", interactive=False, max_lines=1, elem_id="status")
        gallery.select(_chosen(names), None, network, api_visibility="private")
        source.change(shown_for, source, [network_controls, painting_controls], api_visibility="private")
        run.click(on_page(stylize), [photo, source, network, blend_with, painting, second_painting, mix,
                                     strength, preserve_color, match_tone, size], [result, status],
                  api_name="stylize", concurrency_id="stylize", show_progress="full")


def _webcam_tab(service: StyleService) -> None:
    """The browser's camera through the real-time networks, with the frame rate."""
    realtime = [style.name for style in service.realtime]
    rates: dict[str, FrameRate] = {}  # each browser tab's stream has its own

    def stylize_live(frame: np.ndarray | None, network: str, strength: float, preserve_color: bool, size: int,
                     request: gr.Request) -> tuple[np.ndarray | None, str]:
        """One webcam frame through a real-time network, and the frame rate so far."""
        if frame is None:
            return None, ""
        out = service.stylize_frame(frame, network, float(strength), bool(preserve_color), int(size))
        rate = rates.setdefault(request.session_hash or "", FrameRate())
        return out, f"{rate.tick():.1f} frames/s at {int(size)} px"

    with gr.Tab("Webcam"):
        with gr.Row():
            camera = gr.Image(label="camera", sources=["webcam"], streaming=True, type="numpy", elem_id="camera")
            live = gr.Image(label="stylized", interactive=False, streaming=True, elem_id="live")
        with gr.Row():
            live_network = gr.Radio(realtime, value=realtime[0], label="real-time network")
            live_size = gr.Slider(160, 640, value=320, step=32, label="working size (long side)")
            live_strength = gr.Slider(0, 1, value=1.0, step=0.05, label="strength")
            live_preserve = gr.Checkbox(label="preserve colour")
        frame_rate = gr.Textbox(label="frame rate", interactive=False, max_lines=1, elem_id="frame_rate")
        camera.stream(on_page(stylize_live), [camera, live_network, live_strength, live_preserve, live_size],
                      [live, frame_rate], stream_every=FRAME_INTERVAL, concurrency_limit=1,
                      concurrency_id="live", api_name="stylize_frame", show_progress="hidden")


def _video_tab(service: StyleService) -> None:
    """A short clip in a network's or a painting's style, its sound kept."""
    names = [style.name for style in service.networks]

    def stylize_clip(clip: str | None, source: str, network: str, painting: str | None, strength: float,
                     preserve_color: bool, match_tone: bool, size: int,
                     progress: gr.Progress = gr.Progress(track_tqdm=True)) -> tuple[str, str]:
        """A short video in the chosen style, its sound kept: (the .mp4, a line saying what was done)."""
        started = time.perf_counter()
        request = style_request(source, network, None, painting, None, 1.0)
        options = _look(strength, preserve_color, match_tone, size)
        progress(0, desc="starting")
        result = service.stylize_clip(clip, request, options, progress=True)
        return str(result), f"{result.name}: {time.perf_counter() - started:.1f} s"

    with gr.Tab("Video"):
        with gr.Row():
            with gr.Column():
                clip = gr.Video(label="clip (up to a minute)", sources=["upload"], height=320)
                clip_source = gr.Radio([NETWORK, PAINTING], value=NETWORK, label="style from")
                clip_network = gr.Dropdown(names, value=names[0], label="network")
                clip_painting = picture("painting", ["upload", "clipboard"], visible=False)
                clip_strength, clip_size, clip_preserve, clip_tone = _look_controls(512, "frame size (long side)")
                clip_run = gr.Button("Stylize the clip", variant="primary")
            with gr.Column():
                clip_out = gr.Video(label="stylized (sound kept)", interactive=False, buttons=["download"],
                                    height=320)
                clip_status = gr.Textbox(label="done", interactive=False, max_lines=1)
        clip_source.change(shown_for, clip_source, [clip_network, clip_painting], api_visibility="private")
        clip_run.click(on_page(stylize_clip), [clip, clip_source, clip_network, clip_painting, clip_strength,
                                               clip_preserve, clip_tone, clip_size], [clip_out, clip_status],
                       api_name="stylize_clip", concurrency_id="stylize", show_progress="full")


def _look_controls(size: int, size_label: str) -> tuple[gr.Slider, gr.Dropdown, gr.Checkbox, gr.Checkbox]:
    """The controls of how a result looks, the photo's and the clip's alike: strength, size,
    preserve colour, match tone."""
    with gr.Row():
        strength = gr.Slider(0, 1, value=1.0, step=0.05, label="strength")
        size_choice = gr.Dropdown(SIZE_CHOICES, value=size, label=size_label, allow_custom_value=True)
    with gr.Row():
        preserve_color = gr.Checkbox(label="preserve colour")
        match_tone = gr.Checkbox(label="match tone")
    return strength, size_choice, preserve_color, match_tone


def _look(strength: float, preserve_color: bool, match_tone: bool, size: int | str) -> PhotoOptions:
    """The look controls' values as PhotoOptions."""
    return PhotoOptions(strength=float(strength), preserve_color=bool(preserve_color), match_tone=bool(match_tone),
                        size=pixels(size))


def shown_for(source: str) -> tuple[dict, dict]:
    """Which style controls the choice of `source` shows: (the network's, the painting's)."""
    return gr.update(visible=source == NETWORK), gr.update(visible=source == PAINTING)


def _chosen(names: list[str]) -> Callable[[gr.SelectData], str]:
    def chosen(event: gr.SelectData) -> str:
        return names[event.index]
    return chosen


def launch(page: gr.Blocks, host: str = "127.0.0.1", port: int | None = None, open_browser: bool = False) -> str:
    """Start serving the page on host:port (None: the first free port from 7860) and return its
    address; the caller waits with `page.block_thread()` (until Ctrl-C) or ends it with `page.close()`."""
    try:
        page.launch(server_name=host, server_port=port, inbrowser=open_browser, share=False, quiet=True,
                    prevent_thread_lock=True, show_error=True, ssr_mode=False, pwa=False, mcp_server=False,
                    enable_monitoring=False, max_file_size=MAX_UPLOAD, theme=gr.themes.Default(**THEME_FONTS))
    except OSError as exc:
        if "empty port" in str(exc):  # Gradio's words for a port in use
            raise OptionError(f"cannot serve the page on {host}:{port}: the port is in use; choose another "
                              f"{{port}}") from None
        raise FastNSTError(f"cannot serve the page on {host}:{port}: {first_line(exc)}") from None
    return page.local_url
