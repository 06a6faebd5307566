"""python -m fastnst app: the web page on this machine (photos, paintings, the webcam, short videos).

    python -m fastnst app                        # opens http://127.0.0.1:7860 in the browser
    python -m fastnst app --ckpt my.pt --no-browser --port 8080
"""

from __future__ import annotations

import argparse
import importlib.util
from typing import Sequence

from ..device import DEVICE_HELP
from .common import run, say

GRADIO_MISSING = "the web app needs Gradio: pip install 'fastnst[app]'"


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m fastnst app", description="A page in the browser: a photo (upload, "
                                "paste or webcam) in a bundled style or your painting's, the live webcam, short "
                                "videos. Serves on this machine only unless --host says otherwise; Ctrl-C stops it.")
    p.add_argument("--ckpt", nargs="+", default=[], metavar="CKPT", help="trained networks of yours to offer "
                   "first (or a universal model to use for paintings); the bundled ones follow")
    p.add_argument("--host", default="127.0.0.1", help="the address to serve on (default 127.0.0.1: this machine "
                   "only; 0.0.0.0 lets the local network in)")
    p.add_argument("--port", type=int, default=None, help="the port (default: the first free one from 7860)")
    p.add_argument("--no-browser", action="store_true", help="do not open the page in the browser")
    p.add_argument("--device", default="auto", help=DEVICE_HELP)
    return p


def _app(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("gradio") is None:
        say(GRADIO_MISSING)
        return 2
    from ..app import StyleService, workspace

    with workspace() as workdir:
        from ..app.page import build_page, launch  # Gradio, imported once its files have a place to go

        page = build_page(StyleService(workdir, args.ckpt, device=args.device))
        try:
            url = launch(page, args.host, args.port, open_browser=not args.no_browser)
            print(f"fastnst app: serving on {url} (Ctrl-C stops it)", flush=True)
            page.block_thread()  # until Ctrl-C
        finally:  # also for a Ctrl-C while it starts: no server thread outlives the command
            page.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(_app, get_parser(), argv)
