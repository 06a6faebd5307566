"""The one temporary folder of a running page, made before Gradio is imported, since Gradio reads
where to keep its files (GRADIO_TEMP_DIR) when it is imported and when each component is made."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def workspace() -> Iterator[Path]:
    """A temporary folder for everything the page writes (uploads, Gradio's cache, results),
    removed on exit; Gradio is told to keep its files there and never to call home."""
    saved = {key: os.environ.get(key) for key in ("GRADIO_TEMP_DIR", "GRADIO_ANALYTICS_ENABLED")}
    folder = tempfile.mkdtemp(prefix="fastnst-app-")
    os.environ.update(GRADIO_TEMP_DIR=folder, GRADIO_ANALYTICS_ENABLED="False")
    try:
        yield Path(folder)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _remove(folder)


def _remove(folder: str, tries: int = 10) -> None:
    """Remove the folder; Gradio's threads may still write a file into it while it goes (a removal then
    fails on a folder that is no longer empty), so try again until it is gone."""
    for _ in range(tries):
        shutil.rmtree(folder, ignore_errors=True)
        if not os.path.exists(folder):
            return
        time.sleep(0.1)
