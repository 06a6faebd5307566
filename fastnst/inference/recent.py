"""What fastnst.stylize keeps between one-off calls: the last few models loaded from files, each while
its files are unchanged, so that a loop of one-off calls loads a model (and the universal model a
painting's statistics) once, not once per photo."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Generic, Hashable, Sequence, TypeVar

Loaded = TypeVar("Loaded")
Stamp = tuple[Path, int, int, int]


def stamps(paths: Sequence[str | Path]) -> list[Stamp] | None:
    """Each file's path, inode, modification time and size (a file saved anew, even within the clock's
    tick, has another inode or time); None if one is gone."""
    try:
        return [(Path(p), (st := Path(p).stat()).st_ino, st.st_mtime_ns, st.st_size) for p in paths]
    except OSError:
        return None


class RecentlyLoaded(Generic[Loaded]):
    """The `size` objects loaded last, by key, each kept while the files `sources` names for it are
    unchanged; the oldest goes first. Thread-safe: one load at a time."""

    def __init__(self, size: int, sources: Callable[[Loaded], Sequence[str | Path]]) -> None:
        self.size, self.sources = size, sources
        self._kept: OrderedDict[Hashable, tuple[list[Stamp] | None, Loaded]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, load: Callable[[], Loaded]) -> Loaded:
        """The object kept for `key` while its files are as they were, else `load()` (then kept)."""
        with self._lock:
            if key in self._kept:
                kept_stamps, loaded = self._kept.pop(key)
                if kept_stamps is not None and stamps([stamp[0] for stamp in kept_stamps]) == kept_stamps:
                    self._kept[key] = (kept_stamps, loaded)
                    return loaded
            while len(self._kept) >= self.size:  # let the oldest go before loading another
                self._kept.popitem(last=False)
            loaded = load()
            self._kept[key] = (stamps(self.sources(loaded)), loaded)
            return loaded


# The two Stylizers fastnst.stylize loaded last (keyed by the model file, the style and the RuntimeSpec),
# each kept while its checkpoint and paintings are unchanged: a loop of one-off calls, or one going back
# and forth between two models, loads each once.
RECENT_STYLIZERS: RecentlyLoaded = RecentlyLoaded(2, lambda stylizer: stylizer.sources)
