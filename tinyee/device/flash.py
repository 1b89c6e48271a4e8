"""Flashing real boards with pyOCD or OpenOCD, commands built from the board file."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tinyee.boards import Board
from tinyee.errors import TinyeeError


def flash_command(board: Board, elf: Path, tool: str | None = None) -> list[str]:
    run = board.spec["run"]
    tool = tool or run["tool"]
    if tool == "pyocd":
        return ["pyocd", "load", "--target", run["pyocd_target"], str(elf)]
    if tool == "openocd":
        return ["openocd", "-f", run["config"], "-c", f"program {elf} verify reset exit"]
    raise TinyeeError(f"board {board.name}: no flashing with {tool!r} (pyocd or openocd)")


def flash(board: Board, elf: Path, tool: str | None = None) -> None:
    cmd = flash_command(board, elf, tool)
    if shutil.which(cmd[0]) is None:
        raise TinyeeError(f"{cmd[0]} not found: install it (Debian: python3-pyocd or openocd) to flash {board.name}")
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        raise TinyeeError(f"{' '.join(cmd)} failed (is the probe connected?):\n{(r.stdout + r.stderr)[-2000:]}")
