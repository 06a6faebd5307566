"""The exception type the package raises for problems a user can fix, and its kind for a bad option."""

import errno
import re
from typing import Callable


class FastNSTError(Exception):
    """An error with a message meant for users; entry points print it and exit non-zero.

    ``exit_code`` lets the entry points tell bad input or setup (2) from a failed run (1).
    """

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class OptionError(FastNSTError):
    """A bad option value, worded for whoever gave it: the message is a template whose {field}
    names are the options involved; str() gives them as Python names ("steps must be at least 1"),
    `worded(name_of)` as the caller's own (the command line's flags: "--steps ...")."""

    def __init__(self, template: str, exit_code: int = 2) -> None:
        self.template = template
        super().__init__(self.worded(lambda field: field), exit_code)

    def worded(self, name_of: Callable[[str], str]) -> str:
        return re.sub(r"\{(\w+)\}", lambda match: name_of(match.group(1)), self.template)


def first_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message (or its type name when it has none)."""
    full = disk_full(exc)
    if full:
        return full
    text = str(exc).strip()
    return text.splitlines()[0][:limit] if text else type(exc).__name__


# How torch's serializer reports a write the OS refused (it drops the OSError and its errno).
_TORCH_WRITE_FAILED = ("unexpected pos", "file write failed", "No space left on device")


def disk_full(exc: BaseException) -> str | None:
    """"no space left on device" (or the quota's words) when `exc` is a write the disk had no room
    for, from any writer: the OS's errno, or torch's serializer's internals ("[enforce fail at
    inline_container.cc:672] . unexpected pos ..."); None otherwise."""
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return "no space left on device"
    if isinstance(exc, OSError) and exc.errno == errno.EDQUOT:
        return "disk quota exceeded"
    if isinstance(exc, RuntimeError) and any(words in str(exc) for words in _TORCH_WRITE_FAILED):
        return "no space left on device"
    return None
