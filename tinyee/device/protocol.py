"""The firmware's commands (firmware/PROTOCOL.md) over any pyserial port: identify, load the input,
infer, read and write the arena, run one segment, read per-op ticks. Frames and resending are
tinyee.device.transport's."""

from __future__ import annotations

import struct
import time
import zlib
from dataclasses import dataclass

from tinyee.device.framing import Frame
from tinyee.device.transport import DeviceError, Transport, _InputDamaged

PROF_CHUNK = 32  # tick counts per `prof` answer (PROF_MAX in firmware/harness/main.c)
RESULT = struct.Struct("<BHiIII")  # exit, class, confidence, input CRC, runs, arena bytes; then u64 ticks
ID = struct.Struct("<HHIII")  # exits, classes, input bytes, arena bytes, clock; then "key=value ..." text

__all__ = ["DeviceError", "DeviceLink", "InferResult"]


@dataclass
class InferResult:
    exit: int
    cls: int
    confidence: int
    ticks: list[int]
    arena_bytes: int = 0


class DeviceLink(Transport):
    """The commands; `timeout` bounds one that computes (infer, run), `quick_timeout` one that moves bytes."""

    def __init__(self, port, **limits):
        super().__init__(port, **limits)
        self.info: dict = {}  # what the board said of itself (identify)
        self._loaded: int | None = None  # CRC-32 of the input the board holds, as far as the host knows

    def wait_ready(self, announce_s: float = 1.0) -> None:
        """Wait for the boot banner; if it went by unseen (opening a port can flush it), ask `id` instead."""
        while (frame := self._read_frame(announce_s)) is not None:
            if isinstance(frame, Frame) and frame.kind == b"B":
                return
        try:
            self.identify()
        except DeviceError as e:
            raise DeviceError(f"the board is not answering: no ready banner, and {e}") from e

    def identify(self) -> dict:
        body = self._exchange(b"I", b"", check=lambda b: len(b) >= ID.size)
        exits, classes, input_bytes, arena, clock = ID.unpack(body[:ID.size])
        text = body[ID.size:].decode("ascii", errors="replace")
        info = dict(kv.split("=", 1) for kv in text.split() if "=" in kv)
        self.info = {**info, "segments": str(exits), "classes": str(classes), "input": str(input_bytes),
                     "arena": str(arena), "clock": str(clock)}
        return self.info

    def _store(self, kind: bytes, data: bytes, base: int = 0) -> None:
        off = 0
        while off < len(data):
            sent = min(self.chunk, len(data) - off)
            # A retry halves self.chunk; the answer says how many bytes the accepted frame carried.
            answer = self._exchange(kind, lambda: struct.pack("<I", base + off) + data[off:off + self.chunk],
                                    check=lambda b: len(b) == 6 and struct.unpack("<I", b[:4])[0] == base + off)
            count = struct.unpack("<H", answer[4:])[0]
            if count > sent or count < 1:
                raise DeviceError(f"the board stored {count} bytes of a {sent}-byte chunk")
            off += count

    def load_input(self, data: bytes) -> None:
        self._loaded = None
        self._store(b"D", data)

    def write_arena(self, offset: int, data: bytes) -> None:
        """Put bytes into the device's tensor arena (tests and tensor-level checks)."""
        self._store(b"A", data, offset)

    def read_arena(self, offset: int, count: int) -> bytes:
        out = bytearray()
        while len(out) < count:
            at = offset + len(out)
            answer = self._exchange(b"R", lambda: struct.pack("<IH", at, min(self.chunk, count - len(out))),
                                    check=lambda b: len(b) > 4 and struct.unpack("<I", b[:4])[0] == at
                                    and len(b) - 4 <= count - len(out))
            out += answer[4:]
        return bytes(out)

    def run_segment(self, k: int) -> int:
        """Run segment k on the arena as it is; returns its ticks."""
        body = self._exchange(b"U", struct.pack("<B", k), self.timeout, check=lambda b: len(b) == 9 and b[0] == k)
        return struct.unpack("<Q", body[1:])[0]

    def infer(self, data: bytes, force_exit: int | None = None, runs: int = 1) -> InferResult:
        """Load one int8 input and run the cascade (or force an exit) `runs` times; ticks are per run
        (the device's sums divided by `runs`). The board runs only an input whose CRC-32 is the host's,
        and echoes that CRC in its answer."""
        crc = zlib.crc32(data)
        force = -1 if force_exit is None else force_exit
        for _ in range(3):
            if self._loaded != crc:  # forced exits on the same sample reuse the board's copy
                self.load_input(data)
                self._loaded = crc
            try:
                body = self._exchange(b"N", struct.pack("<bII", force, runs, crc), self.timeout * runs,
                                      check=lambda b: self._result_ok(b, crc, runs))
                break
            except _InputDamaged:
                self._loaded = None
                continue
        else:
            raise DeviceError("the board's copy of the input was damaged three times in a row")
        exit_, cls, confidence, _, _, arena = RESULT.unpack(body[:RESULT.size])
        ticks = [t // runs for t in struct.unpack(f"<{exit_ + 1}Q", body[RESULT.size:])]
        if force_exit is not None and exit_ != force_exit:
            raise DeviceError(f"asked for exit {force_exit}, the board answered exit {exit_}")
        return InferResult(exit_, cls, confidence, ticks, arena)

    def _result_ok(self, body: bytes, crc: int, runs: int) -> bool:
        if len(body) < RESULT.size:
            return False
        exit_, _, _, echoed, echoed_runs, _ = RESULT.unpack(body[:RESULT.size])
        exits = int(self.info.get("segments", exit_ + 1))
        return exit_ < exits and len(body) == RESULT.size + 8 * (exit_ + 1) and echoed == crc and echoed_runs == runs

    def op_ticks(self, count: int) -> list[int]:
        """Ticks of each of the cascade's `count` kernel calls during the last `infer` (summed over its runs)."""
        ticks: list[int] = []
        for first in range(0, count, PROF_CHUNK):
            n = min(PROF_CHUNK, count - first)
            body = self._exchange(b"P", struct.pack("<HH", first, n),
                                  check=lambda b: len(b) == 2 + 8 * n and struct.unpack("<H", b[:2])[0] == first)
            ticks += struct.unpack(f"<{n}Q", body[2:])
        return ticks

    def quit(self) -> None:
        self._send(b"Q", self._next_seq(), b"")
