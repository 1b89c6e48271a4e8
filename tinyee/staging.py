"""Outputs that appear whole or not at all: a command writes into a scratch folder beside its output
folder, which replaces the output only when everything succeeded. An existing output folder is
replaced only when it is empty or holds an earlier result of the same kind: never a user's folder."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from tinyee.errors import TinyeeError


@contextlib.contextmanager
def staged_folder(out: Path, marker: str) -> Iterator[Path]:
    """Yield a scratch folder that becomes `out` on success; `marker` names the file an earlier result has."""
    out = Path(out).resolve()
    if out.exists() and not out.is_dir():
        raise TinyeeError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / marker).is_file():
        raise TinyeeError(f"{out} is not empty and holds no earlier tinyee result ({marker}): choose another --out")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    except OSError as e:  # before any work: an unwritable output is not found out at the end of a long run
        raise TinyeeError(f"cannot write to {out.parent}: {e.strerror or e}") from e
    try:
        yield scratch
        if out.exists():
            shutil.rmtree(out)
        scratch.rename(out)
    finally:
        if scratch.exists():
            shutil.rmtree(scratch)
