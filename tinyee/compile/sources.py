"""Where tinyee's C lives, and which of it a compiled model needs.

``firmware/kernels`` holds the kernel library, ``firmware/library`` the cascade runtime and its API,
``firmware/harness`` the UART benchmark harness; board code is under ``boards/common``. A model's
library takes only the kernel files that define the functions its segments call, and what those
files call and include in turn.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from tinyee.errors import TinyeeError

REPO_ROOT = Path(__file__).resolve().parents[2]
FIRMWARE_DIR = REPO_ROOT / "firmware"
KERNEL_DIR = FIRMWARE_DIR / "kernels"
LIBRARY_DIR = FIRMWARE_DIR / "library"
HARNESS_DIR = FIRMWARE_DIR / "harness"
BOARD_DIR = REPO_ROOT / "boards" / "common"
RUNTIME_SOURCE = LIBRARY_DIR / "tinyee_cascade.c"
API_HEADER = LIBRARY_DIR / "tinyee_api.h"
TOOLCHAIN = "arm-none-eabi-"  # the cross toolchain's command prefix

_DEFINITION = re.compile(r"^(?!static)[\w \t*]*?\b(tee_\w+)\s*\([^;{]*\)\s*\{", re.M)
_PROTOTYPE = re.compile(r"^(?!return\b)[A-Za-z][\w \t*]*\btee_\w+\s*\([^;{]*\);", re.M)  # declares, calls nothing
_REFERENCE = re.compile(r"\b(tee_\w+)\s*\(")
_INCLUDE = re.compile(r'^#include "([^"]+)"', re.M)


def kernel_sources() -> list[Path]:
    return sorted(KERNEL_DIR.rglob("*.c"))


@cache
def _kernel_index() -> dict[str, Path]:
    """Every non-static kernel function -> the C file defining it."""
    index = {}
    for path in kernel_sources():
        for name in _DEFINITION.findall(path.read_text()):
            index[name] = path
    return index


def kernel_files(functions: set[str]) -> list[Path]:
    """The kernel .c files defining `functions`, the .c files they call into, and every header they include."""
    index = _kernel_index()
    missing = sorted(f for f in functions if f not in index)
    if missing:
        raise TinyeeError(f"no C definition of {', '.join(missing)} under {KERNEL_DIR}")
    todo, seen = [index[f] for f in functions], set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        text = path.read_text()
        todo += [index[f] for f in _REFERENCE.findall(_PROTOTYPE.sub("", text)) if f in index]
        todo += [h for name in _INCLUDE.findall(text) if (h := path.parent / name).is_file()]
    return sorted(seen)
