"""Keep freed host memory for the next frame while a CPU stylizer runs.

glibc hands every freed block larger than its mmap threshold (at most 32 MB) straight back to the
kernel, so the next layer output or the next frame of that size faults in and zeroes fresh pages:
at 1024² a 16-channel fp32 feature map is 64 MB, and on a 2-core CPU these page faults were 25 to
45 % of a forward pass (docs/speed.md, "Host memory"). Inside `keep_host_memory()` glibc serves
every allocation from its heap and keeps what is freed there: after the first frame or two have
grown the heap (by about a sixth more than one frame's peak, measured at 1024²), layers and frames
reuse the same pages, as PyTorch's CUDA caching allocator does on a GPU. When the outermost user leaves, glibc's
settings are restored and the kept memory is given back (malloc_trim). onnxruntime needs none of
this: it has its own arena. Elsewhere than glibc (macOS, Windows, musl), or with the environment
variable FASTNST_KEEP_MEMORY=0 (peak memory over speed), this does nothing.
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# mallopt parameters (malloc.h) and glibc's defaults for them.
M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4
DEFAULT_TRIM_THRESHOLD, DEFAULT_MMAP_MAX = 128 * 1024, 65536
KEEP_TRIM_THRESHOLD = 2**31 - 1  # an int: never trim the heap's top while kept

_lock = threading.Lock()
_users = 0


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    # Only glibc has gnu_get_libc_version (and mallopt with these meanings).
    return libc if all(hasattr(libc, name) for name in ("gnu_get_libc_version", "mallopt", "malloc_trim")) else None


def available() -> bool:
    """Whether fastnst keeps freed memory here: Linux with glibc, not turned off by FASTNST_KEEP_MEMORY=0."""
    return _glibc() is not None and os.environ.get("FASTNST_KEEP_MEMORY", "1") != "0"


@contextmanager
def keep_host_memory() -> Iterator[None]:
    """Within this block (nested or from several threads: counted), freed memory stays with the
    process for reuse; the outermost exit gives it back. Affects the whole process meanwhile."""
    global _users
    libc = _glibc()
    if not available():
        yield
        return
    with _lock:
        _users += 1
        if _users == 1:
            libc.mallopt(M_MMAP_MAX, 0)  # big blocks from the heap, not from their own mmap
            libc.mallopt(M_TRIM_THRESHOLD, KEEP_TRIM_THRESHOLD)
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0:
                libc.mallopt(M_MMAP_MAX, DEFAULT_MMAP_MAX)
                libc.mallopt(M_TRIM_THRESHOLD, DEFAULT_TRIM_THRESHOLD)
                libc.malloc_trim(0)


def kept() -> bool:
    """Whether some caller is inside keep_host_memory() now."""
    return _users > 0
