"""Emulated boards: qemu-system-arm with deterministic instruction counting (-icount shift=0) and the
UART on a local TCP port that pyserial opens as socket://."""

from __future__ import annotations

import ctypes
import math
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Callable

import psutil
import serial

from tinyee.boards import Board
from tinyee.errors import TinyeeError
from tinyee.targets.base import Target, check_image

QEMU = "qemu-system-arm"
EMULATOR_STALL_S = 5.0  # wall seconds in which QEMU gets no CPU time at all: it is stopped, not slow
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: the kernel kills QEMU when tinyee dies, even by SIGKILL (PR_SET_PDEATHSIG)."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class QemuTarget(Target):
    def __init__(self, board: Board, start_timeout: float = 10.0):
        super().__init__(board)
        if board.spec["run"].get("tool") != "qemu":
            raise TinyeeError(f"board {board.name} is not emulated; flash it with its probe instead")
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen | None = None
        self.port: serial.SerialBase | None = None
        self.url = ""

    def command(self, elf: Path, port: int) -> list[str]:
        return [QEMU, "-M", self.board.spec["run"]["machine"], "-display", "none", "-monitor", "none",
                "-kernel", str(elf), "-serial", f"tcp:127.0.0.1:{port},server=on,wait=on,nodelay=on",
                "-icount", "shift=0", "-semihosting-config", "enable=on,target=native"]

    def dry_run(self, elf: Path) -> str:
        return " ".join(self.command(elf, 0)).replace(":0,", ":<port>,")

    def wait(self, announce: Callable[[str], None]) -> str:
        """Hand the UART to another client (a terminal, `tinyee bench --port`) and run until Ctrl-C."""
        self.close_transport()
        announce(f"{self.board.name} is running in QEMU; its UART is {self.url}. Ctrl-C stops it.")
        try:
            self.proc.wait()
        except KeyboardInterrupt:
            return "QEMU stopped"
        if self.proc.returncode:
            err = self.proc.stderr.read().decode(errors="replace").strip()
            raise TinyeeError(f"QEMU exited with code {self.proc.returncode}" + (f": {err[-2000:]}" if err else ""))
        return "QEMU exited: the firmware ended (quit)"

    def start(self, elf: Path | None) -> None:
        if elf is None:
            raise TinyeeError(f"{self.board.name} is emulated: give the firmware image to run")
        check_image(elf)
        if shutil.which(QEMU) is None:
            raise TinyeeError(f"{QEMU} not found; install Debian's qemu-system-arm (scripts/setup.sh does)")
        port = free_port()
        self.url = f"socket://127.0.0.1:{port}"
        self.proc = subprocess.Popen(self.command(elf, port), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + self.start_timeout
        while True:
            try:
                self.port = serial.serial_for_url(self.url, timeout=0.5)
                return
            except serial.SerialException:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    err = self.proc.stderr.read().decode(errors="replace") if self.proc.poll() is not None else ""
                    self.close()
                    raise TinyeeError(f"QEMU did not start for {self.board.name}: {err.strip() or 'timeout'}")
                time.sleep(0.05)

    def open(self) -> serial.SerialBase:
        if self.port is None:
            raise TinyeeError(f"{self.board.name}: start the emulator before opening its UART")
        return self.port

    def close_transport(self) -> None:
        """Let go of the UART and leave the emulator running (for another client to connect)."""
        if self.port is not None:
            self.port.close()
            self.port = None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def link_clock(self) -> dict:
        """Under -icount the firmware runs in virtual time, as fast as QEMU gets the CPU (it polls its UART, so
        it always wants it): time-outs count QEMU's CPU seconds, so a busy host slows the deadlines with the
        emulator; a QEMU that gets no CPU time for EMULATOR_STALL_S is stopped, and once it has exited every
        deadline has passed."""
        proc = psutil.Process(self.proc.pid)

        def cpu_seconds() -> float:
            try:
                t = proc.cpu_times()
            except psutil.Error:
                return math.inf
            return t.user + t.system if self.proc.poll() is None else math.inf

        return {"clock": cpu_seconds, "stall": EMULATOR_STALL_S}

    def close(self) -> None:
        self.close_transport()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
