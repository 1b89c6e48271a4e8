"""Real boards: flashed through a debug probe (pyOCD, OpenOCD or SEGGER J-Link, named by the board file
or the user) and reached over a serial port (a device path, socket:// or rfc2217:// for serial servers)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import serial

from tinyee.boards import Board
from tinyee.errors import TinyeeError
from tinyee.targets.base import Target, check_image

BAUD_RATE = 115200


def _run_key(board: Board, key: str, tool: str) -> str:
    value = board.spec["run"].get(key)
    if not value:
        raise TinyeeError(f"board {board.name}: flashing with {tool} needs run.{key} in its board file")
    return value


@dataclass(frozen=True)
class Flasher:
    """One probe tool: how to put an ELF on a board, and which package brings it."""
    name: str
    install_hint: str
    command: Callable[[Board, Path], list[str]]
    script: Callable[[Path], str] | None = None  # a command file the tool reads (J-Link Commander)


FLASHERS = {
    "pyocd": Flasher("pyocd", "Debian: python3-pyocd, or pip install pyocd",
                     lambda b, elf: ["pyocd", "load", "--target", _run_key(b, "pyocd_target", "pyocd"), str(elf)]),
    "openocd": Flasher("openocd", "Debian: openocd",
                       lambda b, elf: ["openocd", "-f", _run_key(b, "config", "openocd"), "-c",
                                       f"program {elf} verify reset exit"]),
    "jlink": Flasher("JLinkExe", "SEGGER's J-Link software pack",
                     lambda b, elf: ["JLinkExe", "-device", _run_key(b, "jlink_device", "jlink"), "-if", "SWD",
                                     "-speed", "4000", "-autoconnect", "1", "-ExitOnError", "1", "-CommanderScript",
                                     "<script>"],
                     script=lambda elf: f"loadfile {elf}\nr\ng\nexit\n"),
}


def flasher_for(board: Board, tool: str | None = None) -> Flasher:
    """The probe tool asked for, or the board file's."""
    name = tool or board.spec["run"].get("tool")
    if name not in FLASHERS:
        raise TinyeeError(f"board {board.name}: no flashing with {name!r} (choose {', '.join(FLASHERS)})")
    return FLASHERS[name]


class ProbeTarget(Target):
    """A board on a serial port, flashed through its probe when given an image."""

    def __init__(self, board: Board, port: str | None, tool: str | None = None):
        super().__init__(board)
        self.tool = tool
        self.port_url = port
        self.port: serial.SerialBase | None = None

    def start(self, elf: Path | None) -> None:
        """Flash `elf` (None: the board already runs the firmware)."""
        if elf is None:
            return
        check_image(elf)
        flasher = flasher_for(self.board, self.tool)
        cmd = flasher.command(self.board, Path(elf))
        if shutil.which(cmd[0]) is None:
            raise TinyeeError(f"{cmd[0]} not found: install it ({flasher.install_hint}) to flash {self.board.name}")
        with tempfile.TemporaryDirectory(prefix="tinyee-flash-") as tmp:
            if flasher.script is not None:
                script = Path(tmp) / "flash.jlink"
                script.write_text(flasher.script(Path(elf)))
                cmd = [str(script) if a == "<script>" else a for a in cmd]
            r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode:
            raise TinyeeError(f"{' '.join(cmd)} failed (is the probe connected?):\n{(r.stdout + r.stderr)[-2000:]}")

    def dry_run(self, elf: Path) -> str:
        return " ".join(flasher_for(self.board, self.tool).command(self.board, Path(elf)))

    def wait(self, announce: Callable[[str], None]) -> str:
        return f"flashed {self.board.name}" + (f"; its UART is {self.port_url}" if self.port_url else "")

    def open(self) -> serial.SerialBase:
        if self.port_url is None:
            raise TinyeeError(f"{self.board.name}: no serial port given")
        try:
            self.port = serial.serial_for_url(self.port_url, baudrate=BAUD_RATE, timeout=0.5)
        except (serial.SerialException, ValueError) as e:
            raise TinyeeError(f"cannot open serial port {self.port_url}: {e}") from e
        return self.port

    def close(self) -> None:
        if self.port is not None:
            self.port.close()
            self.port = None
