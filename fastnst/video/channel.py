"""The hand-over between threads that video files and the live demo are built from: reader ->
stylize -> writer (or display), each a Stage, joined by Channels.

    stop = threading.Event()
    frames = Channel(capacity=8, stop=stop)               # every frame, in order, at most 8 waiting
    newest = Channel(keep_all=False)                      # a live camera: the newest frame wins
    reader = Stage(read, stop, "fastnst-read"); reader.start()

A channel that keeps all is a bounded queue: put waits for room, so memory stays flat. One that
keeps the newest never waits: a put replaces what was not taken yet (frames the consumer had no time
for are dropped, never queued), except an item put with `wait=True` (an end marker), which waits
its turn. Setting `stop` ends every wait with Stopped; `abandon` (the taker is gone) lets puts
through without waiting.
"""

from __future__ import annotations

import collections
import threading
from typing import Any, Callable


class Stopped(Exception):
    """Another stage failed or the user stopped: end quietly."""


class Channel:
    """A one-way hand-over from one thread to another (see the module's docstring)."""

    def __init__(self, capacity: int = 1, keep_all: bool = True, stop: threading.Event | None = None) -> None:
        self.capacity, self.keep_all = max(1, capacity), keep_all
        self.stop = stop if stop is not None else threading.Event()
        self.items: collections.deque = collections.deque()
        self.changed = threading.Condition()
        self.abandoned = False

    def _wait(self, ready: Callable[[], bool], timeout: float | None) -> bool:
        """Wait (holding the lock) until ready(), polling `stop` (set: Stopped, at once); False on timeout."""
        waited = 0.0
        while self.stop.is_set() or not ready():
            if self.stop.is_set():
                raise Stopped
            if timeout is not None and waited >= timeout:
                return False
            step = 0.1 if timeout is None else min(0.1, timeout - waited)
            self.changed.wait(step)
            waited += step
        return True

    def put(self, item: Any, wait: bool = False) -> None:
        """Hand `item` over: keeping all (or `wait`), after waiting for room; else at once, in
        place of the oldest item not taken yet."""
        with self.changed:
            if self.keep_all or wait:
                self._wait(lambda: len(self.items) < self.capacity or self.abandoned, None)
            elif len(self.items) >= self.capacity:
                self.items.popleft()
            self.items.append(item)
            self.changed.notify_all()

    def take(self, timeout: float | None = None) -> Any:
        """The oldest item; None when none came within `timeout` seconds (None: wait until one does)."""
        with self.changed:
            if not self._wait(lambda: bool(self.items), timeout):
                return None
            item = self.items.popleft()
            self.changed.notify_all()
            return item

    def abandon(self) -> None:
        """The taker is gone: puts no longer wait for room."""
        with self.changed:
            self.abandoned = True
            self.changed.notify_all()


class Stage(threading.Thread):
    """A daemon thread running `work`: keeps its return value and its exception for the caller,
    and on failure sets `stop`, so the other stages end too."""

    def __init__(self, work: Callable[[], Any], stop: threading.Event, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.work, self.stop = work, stop
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.work()
        except Stopped:
            pass
        except BaseException as exc:
            self.error = exc
            self.stop.set()
