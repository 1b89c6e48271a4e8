"""Host side of the firmware's framed line protocol (firmware/PROTOCOL.md), over pyserial."""

from __future__ import annotations

import re
import time
import zlib
from dataclasses import dataclass

from tinyee.errors import TinyeeError

CHUNK = 128  # input bytes per `db` command
RESULT = re.compile(r"m-result exit=(\d+) class=(\d+) conf=(-?\d+) crc=([0-9A-F]{8}) ticks=([\d,]+)$")


class DeviceError(TinyeeError):
    """The board misbehaved: no answer, garbled answers past the retry budget, or an error reply."""


def checksum(text: str) -> str:
    x = 0
    for b in text.encode("ascii"):
        x ^= b
    return f"{x:02X}"


def frame(text: str) -> bytes:
    return f"{text}*{checksum(text)}\n".encode("ascii")


def unframe(raw: bytes) -> str | None:
    """The payload of a device line, or None when the line is garbled (bad checksum, noise)."""
    try:
        line = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        return None
    if len(line) < 3 or line[-3] != "*" or checksum(line[:-3]) != line[-2:].upper():
        return None
    return line[:-3]


@dataclass
class InferResult:
    exit: int
    cls: int
    confidence: int
    ticks: list[int]


class DeviceLink:
    def __init__(self, port, timeout: float = 10.0, retries: int = 3):
        self.port = port
        self.timeout = timeout
        self.retries = retries
        self.garbled = 0  # lines dropped for bad framing, reported by the bench
        self.info: dict = {}

    def _readline(self, deadline: float) -> bytes:
        while time.monotonic() < deadline:
            raw = self.port.readline()
            if raw:
                return raw
        raise DeviceError(f"the board did not answer within {self.timeout:.0f} s")

    def _expect(self, prefix: str) -> str:
        """Next well-framed device line; garbled lines are counted and skipped."""
        deadline = time.monotonic() + self.timeout
        while True:
            line = unframe(self._readline(deadline))
            if line is None:
                self.garbled += 1
                continue
            if line.startswith(prefix) or line.startswith("m-error"):
                return line

    def request(self, command: str, prefix: str) -> str:
        """Send a command and return the answer, resending when the answer or the command got garbled."""
        for _ in range(self.retries + 1):
            self.port.write(frame(command))
            try:
                line = self._expect(prefix)
            except DeviceError:
                continue
            if line == "m-error bad-frame":
                continue  # our command was damaged on the way: send it again
            if line.startswith("m-error"):
                raise DeviceError(f"the board refused {command.split()[0]!r}: {line}")
            return line
        raise DeviceError(f"no valid answer to {command.split()[0]!r} after {self.retries + 1} tries")

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.timeout
        while unframe(self._readline(deadline)) != "m-ready":
            self.garbled += 1

    def identify(self) -> dict:
        line = self.request("id", "m-id ")
        self.info = dict(kv.split("=", 1) for kv in line.split()[1:])
        return self.info

    def load_input(self, data: bytes) -> None:
        for off in range(0, len(data), CHUNK):
            chunk = data[off:off + CHUNK]
            line = self.request(f"db {off} {chunk.hex().upper()}", "m-ok db ")
            if line != f"m-ok db {off} {len(chunk)}":
                raise DeviceError(f"input chunk at {off} acknowledged as {line!r}")

    def infer(self, data: bytes, force_exit: int | None = None) -> InferResult:
        """Load one int8 input and run the cascade (or force an exit); checks the input arrived intact."""
        self.load_input(data)
        line = self.request("infer" if force_exit is None else f"infer {force_exit}", "m-result ")
        m = RESULT.match(line)
        if not m:
            raise DeviceError(f"malformed result line {line!r}")
        if int(m.group(4), 16) != zlib.crc32(data):
            raise DeviceError("the input the board ran differs from the input sent (CRC mismatch)")
        return InferResult(int(m.group(1)), int(m.group(2)), int(m.group(3)), [int(t) for t in m.group(5).split(",")])

    def quit(self) -> None:
        self.port.write(frame("quit"))
