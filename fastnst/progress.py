"""Whether to draw a progress bar: the one place that decides, for every command and API call.

The convention of pip and cargo: a bar only on a terminal. Written to a log file or a pipe, a bar's
carriage returns would put the next line (an error, a warning) after the bar's last state on the
same line, where `grep '^error:'` cannot find it; there the commands print plain lines, or nothing.
"""

from __future__ import annotations

import sys


def stderr_is_terminal() -> bool:
    """Whether stderr, where bars are drawn, is a terminal."""
    try:
        return sys.stderr is not None and sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced by an object without isatty, or closed
        return False


def show_progress(progress: bool | None = None) -> bool:
    """Whether to draw a bar: `progress` when a caller decided (True or False), else (None) only
    when stderr is a terminal. The command line passes None unless told --no-progress."""
    return stderr_is_terminal() if progress is None else bool(progress)
