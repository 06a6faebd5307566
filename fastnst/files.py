"""Reading PyTorch files with a one-line error, and writing files so that an interrupted write never
leaves a damaged file under the final name."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator

import torch

from .errors import FastNSTError


def _umask() -> int:
    """The process's umask: read from /proc where it can be (setting it to read it, the only
    portable way, briefly changes it for every thread, such as a video's writer thread)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether writing `a` would replace `b`: the same path, a symbolic link to it, or a hard link
    (the same file under another name)."""
    a, b = Path(a), Path(b)
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist
        return False


def refuse_overwrite(output: str | Path, inputs: Iterable[str | Path | None]) -> None:
    """A FastNSTError if writing `output` would replace one of `inputs` (same_file); None and
    anything not a path among `inputs` (a PIL image, a loaded checkpoint) are skipped."""
    output = Path(output)
    for source in inputs:
        if isinstance(source, (str, Path)) and same_file(output, source):
            raise FastNSTError(f"{output} would overwrite the input {source}; choose another output")


def temporary_path(path: str | Path, inputs: Iterable[str | Path | None] = ()) -> Path:
    """An empty file beside `path` to write instead of it (its folder made), then `commit` it. The
    temporary name keeps the suffix (writers such as PIL and PyAV pick the format from it).
    inputs: files the output must not replace (refuse_overwrite)."""
    path = Path(path)
    refuse_overwrite(path, inputs)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    return Path(tmp)


def commit(tmp: Path, path: str | Path) -> Path:
    """Rename a temporary_path to `path`, with the permissions a plain open() would have given
    (the umask honoured; mkstemp's are owner-only)."""
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, path)
    return Path(path)


@contextlib.contextmanager
def atomic_path(path: str | Path, inputs: Iterable[str | Path | None] = ()) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it to `path`, on any error delete it.

    The one home of atomic writes (images, videos, checkpoints, exports): see temporary_path and
    commit. inputs: files the output must not replace.
    """
    tmp = temporary_path(path, inputs)
    try:
        yield tmp
        commit(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def load_torch_file(path: Path, not_found: str, unreadable: str, map_location: str | torch.device = "cpu") -> Any:
    """torch.load of tensors and plain data only, or a FastNSTError with `not_found` or `unreadable`.

    weights_only: a file can carry code, which is never run (torch's advice to allow it is not ours).
    """
    if not path.is_file():
        raise FastNSTError(not_found)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception:
        raise FastNSTError(unreadable) from None


# What a style name may not hold, as part of a file name on any system: path separators, the
# characters Windows refuses, control characters, and runs of dots (no "..").
_UNSAFE = re.compile(r'(?:[/\\<>:"|?*\x00-\x1f\x7f-\x9f]|\.{2,})+')
MAX_NAME = 100


def safe_name(name: object, fallback: str) -> str:
    """`name` as a safe part of a file name: each run of unsafe characters (above) as one "_", no
    leading or trailing dots or spaces, at most MAX_NAME characters; `fallback` if nothing is left.
    Ordinary names ("rain-princess", "starry_night", "La Muse") come back unchanged."""
    text = _UNSAFE.sub("_", str(name) if name is not None else "")
    text = text.lstrip(". ").rstrip(". ")[:MAX_NAME].rstrip(". ")
    return text or fallback


def unique_names(names: list[str]) -> list[str]:
    """The names with repeats told apart: the second "candy" becomes "candy_2", the third
    "candy_3" (skipping any name already taken), so no two outputs share a file name."""
    taken, out = set(names), []
    for name in names:
        if name in out:
            k = 2
            while f"{name}_{k}" in taken:
                k += 1
            name = f"{name}_{k}"
            taken.add(name)
        out.append(name)
    return out
