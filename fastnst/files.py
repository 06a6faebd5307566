"""Reading PyTorch files with a one-line error, and writing files so that an interrupted write never
leaves a damaged file under the final name."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

import torch

from .errors import FastNSTError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it to `path`, on any error delete it.

    The temporary name keeps the suffix (writers such as PIL and PyAV pick the format from it) and
    gets the permissions a plain open() would have given (mkstemp's are owner-only).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
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
