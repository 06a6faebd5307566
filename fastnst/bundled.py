"""Where the networks that come with fastnst live: `checkpoints/` beside the package in a checkout,
`fastnst/checkpoints/` inside it when installed from a wheel (pyproject.toml maps the one onto the
other). Every default network is found through `bundled_path`, so both layouts work the same."""

from __future__ import annotations

from pathlib import Path

from .errors import FastNSTError

_PACKAGE = Path(__file__).resolve().parent
# Installed (a wheel, or a non-editable pip install): package data. A checkout: the repository's folder.
PLACES = (_PACKAGE / "checkpoints", _PACKAGE.parent / "checkpoints")


def bundled_dir() -> Path:
    """The folder of the bundled networks, or a one-line error when this install has none."""
    for place in PLACES:
        if (place / "universal.pt").is_file() or (place / "realtime").is_dir():
            return place
    raise FastNSTError("this install of fastnst has no bundled networks (checkpoints/): reinstall it from a wheel "
                       "or the repository, or pass --ckpt with a network")


def bundled_path(name: str) -> Path:
    """A bundled file or folder by its name under checkpoints/ ("universal.pt", "realtime",
    "mosaic.pt"), or a one-line error naming what is missing."""
    path = bundled_dir() / name
    if not path.exists():
        raise FastNSTError(f"no bundled {name} in {path.parent}: pass --ckpt with a network")
    return path
