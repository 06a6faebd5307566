"""Reading PyTorch files with a one-line error, and writing files so that an interrupted write never
leaves a damaged file under the final name."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator

import torch

from .errors import FastNSTError, first_line


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


def is_file(path: str | Path) -> bool:
    """Whether `path` is an existing file; False, not an error, for a string no file can be named
    (too long, a NUL in it), such as a blend of many paintings."""
    try:
        return Path(path).is_file()
    except (OSError, ValueError):
        return False


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


class ReadFiles:
    """The files a run reads (photos, videos, paintings, checkpoints, a teacher): an output must
    never replace one. `replaced_by(output)` finds the one writing `output` would replace: the same
    path, a symbolic link to it, or a hard link (the same file under another name). Lookups are by
    set, so a run of thousands of files checks each output at once. None and anything not a path
    (a PIL image, a loaded checkpoint) are skipped."""

    def __init__(self, paths: Iterable[object] = ()) -> None:
        self._by_path: dict[Path, Path] = {}
        self._by_id: dict[tuple[int, int], Path] = {}
        self._folders: list[tuple[Path, frozenset[str]]] = []  # folders whose files of these suffixes are read
        self.add(*paths)

    def add_folder(self, folder: object, suffixes: Iterable[str]) -> "ReadFiles":
        """Every file under `folder` (a training data folder) whose suffix is one of `suffixes` is read."""
        if isinstance(folder, (str, os.PathLike)) and Path(folder).is_dir():
            self._folders.append((Path(folder).resolve(), frozenset(s.lower() for s in suffixes)))
        return self

    def add(self, *paths: object) -> "ReadFiles":
        for path in paths:
            if isinstance(path, ReadFiles):
                self._by_path.update(path._by_path)
                self._by_id.update(path._by_id)
                self._folders += path._folders
            elif isinstance(path, (str, os.PathLike)):
                path = Path(path)
                self._by_path.setdefault(path.resolve(), path)
                file_id = _file_id(path)
                if file_id is not None:
                    self._by_id.setdefault(file_id, path)
        return self

    def __iter__(self) -> Iterator[Path]:
        return iter(self._by_path.values())

    def replaced_by(self, output: str | Path) -> Path | None:
        output = Path(output)
        found = self._by_path.get(output.resolve())
        if found is None:
            file_id = _file_id(output)
            found = self._by_id.get(file_id) if file_id is not None else None
        if found is None and self._folders and output.is_file():
            where = output.resolve()
            found = next((output for folder, suffixes in self._folders
                          if where.suffix.lower() in suffixes and where.is_relative_to(folder)), None)
        return found


def _file_id(path: Path) -> tuple[int, int] | None:
    """(device, inode): the same for every name of one file; None if it does not exist."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def refuse_overwrite(output: str | Path, inputs: Iterable[object] | ReadFiles, option: str = "") -> None:
    """A FastNSTError if writing `output` would replace one of `inputs` (ReadFiles: the same path, a
    link to it): the one check every writer makes (temporary_path) and every command makes before
    it starts, so that no run replaces a file it reads. option: the flag `output` came from, for
    the message ("--out")."""
    source = (inputs if isinstance(inputs, ReadFiles) else ReadFiles(inputs)).replaced_by(output)
    if source is not None:
        named = f"{option} {output}" if option else str(output)
        raise FastNSTError(f"{named} would overwrite the input {source}; choose another {option or 'output'}")


def check_writable(path: str | Path, inputs: Iterable[object] | ReadFiles = (), option: str = "") -> None:
    """Before any work: a FastNSTError (one line) if `path` replaces an input, or cannot be written
    (a folder, a path under a file, a place the system refuses). Tried, and nothing left behind:
    not the temporary file, nor the folders made for it. option: its flag, for the message."""
    refuse_overwrite(path, inputs, option)
    path = Path(path)
    with _made_for_a_moment(path.parent):
        _temporary(path, option).unlink()


def check_folder(path: str | Path, option: str = "") -> None:
    """Before any work: a FastNSTError (one line) if the folder `path` cannot be made (see make_folder);
    tried, and nothing left behind."""
    with _made_for_a_moment(Path(path)):
        make_folder(path, option)


@contextlib.contextmanager
def _made_for_a_moment(folder: Path) -> Iterator[None]:
    """Remove, on the way out, the folders up to `folder` that did not exist on the way in."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    try:
        yield
    finally:
        for made in missing:  # the deepest first
            try:
                made.rmdir()
            except OSError:
                pass


def make_folder(path: str | Path, option: str = "") -> Path:
    """The folder `path`, made if missing; a one-line FastNSTError where it cannot be (a file stands
    there or above it, a place the system refuses). option: its flag, for the message."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        named = f"{option} {path}" if option else str(path)
        raise FastNSTError(f"{named}: cannot make this folder: {_why(path, exc)}") from None
    return path


def _why(path: Path, exc: OSError) -> str:
    """Why `path` could not be made: a file where a folder is needed, or the system's reason."""
    blocking = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        return f"{blocking} is a file, not a folder"
    return exc.strerror or first_line(exc)


def _temporary(path: Path, option: str = "") -> Path:
    """The empty temporary file beside `path` (its folder made), or why it cannot be in one line."""
    def unwritable(why: str) -> FastNSTError:
        return FastNSTError(f"{option} {path}: cannot write it: {why}" if option else f"cannot write {path}: {why}")

    if path.is_dir():
        raise unwritable("it is a folder; give a file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    except OSError as exc:
        raise unwritable(_why(path.parent, exc)) from None
    os.close(fd)
    return Path(tmp)


def temporary_path(path: str | Path, inputs: Iterable[object] | ReadFiles = ()) -> Path:
    """An empty file beside `path` to write instead of it (its folder made), then `commit` it. The
    temporary name keeps the suffix (writers such as PIL and PyAV pick the format from it).
    inputs: files the output must not replace (refuse_overwrite). A path that cannot be written (a
    folder, under a file, a place the system refuses) is a one-line FastNSTError."""
    path = Path(path)
    refuse_overwrite(path, inputs)
    return _temporary(path)


def commit(tmp: Path, path: str | Path) -> Path:
    """Rename a temporary_path to `path`, with the permissions a plain open() would have given
    (the umask honoured; mkstemp's are owner-only)."""
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, path)
    return Path(path)


@contextlib.contextmanager
def atomic_path(path: str | Path, inputs: Iterable[object] | ReadFiles = ()) -> Iterator[Path]:
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


# Bytes of a file name we make: below the 255 most filesystems allow, with room for the hidden
# temporary name it is first written under (".<name>.<random>.tmp<suffix>").
MAX_FILE_NAME = 200


def fit_name(text: str, limit: int = MAX_NAME) -> str:
    """`text` as it is if its UTF-8 form fits in `limit` bytes; else a readable prefix and a short hash
    of the whole ("candy40+mosaic30+...-3f2a9c1d"), so names stay apart and the same text always
    gives the same name."""
    data = text.encode()
    if len(data) <= limit:
        return text
    digest = hashlib.sha1(data).hexdigest()[:8]
    prefix = data[:max(limit - len(digest) - 1, 0)].decode(errors="ignore").rstrip(". ")
    return f"{prefix}-{digest}"


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
