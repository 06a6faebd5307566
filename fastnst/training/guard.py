"""What keeps a run's folder and its ending safe: one run at a time per log folder (a lock the OS
drops when the process ends, so a killed run never blocks the next), and SIGTERM (what `kill`,
schedulers and containers send) ending a run like Ctrl-C: the last checkpoint kept."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from pathlib import Path
from typing import Iterator

from ..errors import FastNSTError, first_line

try:
    import fcntl
except ImportError:  # Windows: no flock; runs there are not guarded against each other
    fcntl = None


class Terminated(BaseException):
    """Raised in the main thread when the process gets SIGTERM (a BaseException, like KeyboardInterrupt:
    nothing that catches Exception swallows it)."""


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """While inside: SIGTERM raises Terminated in the main thread; the previous handler is restored after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    main_pid = os.getpid()

    def terminate(signum, frame):
        if os.getpid() != main_pid:  # a data loader worker forked meanwhile: it ends as by default
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        raise Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on `folder` (created if missing) while inside; a FastNSTError when
    another run holds it, or when it cannot be made. The lock is on the folder itself: no lock file
    is left behind."""
    if folder.exists() and not folder.is_dir():
        raise FastNSTError(f"--logdir {folder} is a file; the run writes its logs in a folder: choose another --logdir")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FastNSTError(f"--logdir {folder}: cannot make the folder ({first_line(exc)}); choose another "
                           f"--logdir") from None
    if fcntl is None:
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise FastNSTError(f"{folder}: another training run is writing to this folder; wait for it to "
                               f"finish, or choose another --logdir") from None
        yield
    finally:
        os.close(fd)  # closing drops the lock
