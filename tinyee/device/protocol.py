"""Host side of the firmware's framed line protocol (firmware/PROTOCOL.md), over pyserial."""

from __future__ import annotations

import re
import time
import zlib
from dataclasses import dataclass

import serial

from tinyee.errors import DeviceMismatchError

CHUNK = 128  # input bytes per `db` command
PROF_CHUNK = 32  # tick counts per `prof` answer (PROF_MAX in firmware/harness/main.c)
RESULT = re.compile(r"m-result exit=(\d+) class=(\d+) conf=(-?\d+) crc=([0-9A-F]{8}) ticks=([\d,]+) runs=(\d+)$")


class DeviceError(DeviceMismatchError):
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

    def _readline(self, deadline: float) -> bytes | None:
        """One raw line, or None when the deadline passes first."""
        while time.monotonic() < deadline:
            try:
                raw = self.port.readline()
            except serial.SerialException as e:
                raise DeviceError(f"the serial link broke: {e}") from e
            if raw:
                return raw
        return None

    def _write(self, command: str) -> None:
        try:
            self.port.write(frame(command))
        except serial.SerialException as e:
            raise DeviceError(f"the serial link broke: {e}") from e

    def request(self, command: str, accept) -> str:
        """Send a command and return the first well-framed answer that `accept` takes.

        A garbled line is most likely our answer damaged on the way, so the command is sent
        again at once (commands are idempotent); well-framed lines that `accept` refuses are
        stale duplicates of earlier answers and are skipped. Bounded by `retries` resends.
        """
        name = command.split()[0]
        silent = 0
        for _ in range(self.retries + 1):
            self._write(command)
            deadline = time.monotonic() + self.timeout
            while (raw := self._readline(deadline)) is not None:
                line = unframe(raw)
                if line is None:
                    self.garbled += 1
                    break
                if line == "m-error bad-frame":  # our command was damaged on the way
                    break
                if line.startswith("m-error"):
                    raise DeviceError(f"the board refused {name!r}: {line}")
                if accept(line):
                    return line
            else:
                silent += 1
        if silent == self.retries + 1:
            raise DeviceError(f"the board did not answer {name!r} within {self.timeout:g} s ({silent} tries)")
        raise DeviceError(f"no valid answer to {name!r} after {self.retries + 1} tries")

    def wait_ready(self, announce_s: float = 1.0) -> None:
        """Wait for the boot banner; if it went by unseen (opening a port can flush it), ask `id` instead."""
        deadline = time.monotonic() + announce_s
        while (raw := self._readline(deadline)) is not None:
            if unframe(raw) == "m-ready":
                return
            self.garbled += 1
        try:
            self.identify()
        except DeviceError as e:
            raise DeviceError(f"the board is not answering: no m-ready banner, and {e}") from e

    def identify(self) -> dict:
        line = self.request("id", lambda l: l.startswith("m-id "))
        self.info = dict(kv.split("=", 1) for kv in line.split()[1:])
        return self.info

    def _store(self, command: str, data: bytes, base: int = 0) -> None:
        for off in range(0, len(data), CHUNK):
            chunk = data[off:off + CHUNK]
            ack = f"m-ok {command} {base + off} {len(chunk)}"
            self.request(f"{command} {base + off} {chunk.hex().upper()}", lambda line: line == ack)

    def load_input(self, data: bytes) -> None:
        self._store("db", data)

    def write_arena(self, offset: int, data: bytes) -> None:
        """Put bytes into the device's tensor arena (tests and tensor-level checks)."""
        self._store("ab", data, offset)

    def read_arena(self, offset: int, count: int) -> bytes:
        out = b""
        for off in range(offset, offset + count, CHUNK):
            n = min(CHUNK, offset + count - off)
            line = self.request(f"rd {off} {n}", lambda l: l.startswith(f"m-data {off} ") and len(l.split()[2]) == 2 * n)
            out += bytes.fromhex(line.split()[2])
        return out

    def run_segment(self, k: int) -> int:
        """Run segment k on the arena as it is; returns its ticks."""
        line = self.request(f"run {k}", lambda l: l.startswith(f"m-ran {k} ticks="))
        return int(line.rsplit("=", 1)[1])

    def infer(self, data: bytes, force_exit: int | None = None, runs: int = 1) -> InferResult:
        """Load one int8 input and run the cascade (or force an exit) `runs` times; ticks are per run
        (the device's sums divided by `runs`). Checks that the input arrived intact."""
        self.load_input(data)
        crc = f"{zlib.crc32(data):08X}"
        # A result whose CRC is not this input's is a stale answer to an earlier request.
        command = "infer" if force_exit is None and runs == 1 else f"infer {-1 if force_exit is None else force_exit} {runs}"
        line = self.request(command,
                            lambda l: (m := RESULT.match(l)) is not None and m.group(4) == crc)
        m = RESULT.match(line)
        r = InferResult(int(m.group(1)), int(m.group(2)), int(m.group(3)),
                        [int(t) // int(m.group(6)) for t in m.group(5).split(",")])
        if force_exit is not None and r.exit != force_exit:
            raise DeviceError(f"asked for exit {force_exit}, the board answered exit {r.exit}")
        return r

    def op_ticks(self, count: int) -> list[int]:
        """Ticks of each of the cascade's `count` kernel calls during the last `infer` (summed over its runs)."""
        ticks: list[int] = []
        for first in range(0, count, PROF_CHUNK):
            n = min(PROF_CHUNK, count - first)
            line = self.request(f"prof {first} {n}", lambda l: l.startswith(f"m-prof {first} "))
            values = line.split()[2].split(",")
            if len(values) != n:
                raise DeviceError(f"asked for {n} op tick counts from {first}, the board sent {len(values)}")
            ticks += [int(v) for v in values]
        return ticks

    def quit(self) -> None:
        self._write("quit")
