"""Writing results so that none is lost or half-written: whole files by rename, an output folder
checked before a long run, one writer per folder."""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from pathlib import Path
from typing import Callable, Iterator

from tinyee.errors import TinyeeError


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Call write(tmp_path), flush it to disk, then rename it over path: a crash leaves the old file or
    the new one, never half of one."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        os.close(fd)
    except OSError as e:
        raise TinyeeError(f"cannot write {path}: {e.strerror or e}") from e
    try:
        write(Path(tmp))
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        raise TinyeeError(f"cannot write {path}: {e.strerror or e}") from e
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text))


def check_writable(folder: Path) -> Path:
    """Prove, before any work is done, that files can be written in `folder` (or, while it does not exist
    yet, in the folder that will hold it); creates nothing that stays."""
    folder = Path(folder)
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise TinyeeError(f"cannot write to {folder}: {existing} is not a folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as e:
        raise TinyeeError(f"cannot write to {folder}: {e.strerror or e}") from e
    return folder


@contextlib.contextmanager
def exclusive(folder: Path, what: str) -> Iterator[None]:
    """Hold `folder` for one writer (an advisory lock on folder/.tinyee.lock): a second run writing the
    same results gets a clear error instead of interleaving its records with the first's."""
    lock = Path(folder) / ".tinyee.lock"
    try:
        f = open(lock, "a+")
    except OSError as e:
        raise TinyeeError(f"cannot write to {folder}: {e.strerror or e}") from e
    with f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise TinyeeError(f"another {what} is writing to {folder}; wait for it or choose another --out") from None
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
