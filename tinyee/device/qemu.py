"""Run a firmware image on an emulated board: qemu-system-arm with deterministic instruction
counting (-icount shift=0) and the UART on a local TCP port that pyserial opens as socket://."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import serial

from tinyee.boards import Board
from tinyee.errors import TinyeeError

QEMU = "qemu-system-arm"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def qemu_command(board: Board, elf: Path, port: int) -> list[str]:
    return [QEMU, "-M", board.spec["run"]["machine"], "-display", "none", "-monitor", "none", "-kernel", str(elf),
            "-serial", f"tcp:127.0.0.1:{port},server=on,wait=on,nodelay=on", "-icount", "shift=0",
            "-semihosting-config", "enable=on,target=native"]


class QemuBoard:
    """Context manager: starts QEMU, opens the serial link, and never leaves the process behind."""

    def __init__(self, board: Board, elf: Path, timeout: float = 10.0):
        if board.spec["run"].get("tool") != "qemu":
            raise TinyeeError(f"board {board.name} is not emulated; flash it with its probe instead")
        if shutil.which(QEMU) is None:
            raise TinyeeError(f"{QEMU} not found; install Debian's qemu-system-arm (scripts/setup.sh does)")
        self.board, self.elf, self.timeout = board, Path(elf), timeout
        self.proc: subprocess.Popen | None = None
        self.port: serial.SerialBase | None = None
        self.url = ""

    def __enter__(self) -> "QemuBoard":
        port = free_port()
        self.url = f"socket://127.0.0.1:{port}"
        self.proc = subprocess.Popen(qemu_command(self.board, self.elf, port), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                self.port = serial.serial_for_url(self.url, timeout=0.5)
                return self
            except serial.SerialException:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    err = self.proc.stderr.read().decode(errors="replace") if self.proc.poll() is not None else ""
                    self.close()
                    raise TinyeeError(f"QEMU did not start for {self.board.name}: {err.strip() or 'timeout'}")
                time.sleep(0.05)

    def close(self) -> None:
        if self.port is not None:
            self.port.close()
            self.port = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __exit__(self, *exc) -> None:
        self.close()
