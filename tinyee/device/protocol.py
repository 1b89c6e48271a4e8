"""Host side of the firmware's framed protocol (firmware/PROTOCOL.md), over any pyserial port.

Every frame carries a CRC-32 over all of it and the sequence number of the command it answers, so a
damaged answer is never accepted and a stale or duplicate one is recognised. A damaged or missing
answer makes the host send the same command again; the firmware answers a repeat from its copy of
the last answer instead of running the command twice. Bulk transfers adapt their chunk size to the
link: they halve it after a failed try and double it after a run of clean ones.
"""

from __future__ import annotations

import random
import struct
import time
import zlib
from dataclasses import dataclass

import serial

from tinyee.device.framing import NOISE_MAX, NO_SEQ, Frame, decode, encode
from tinyee.errors import DeviceMismatchError

DATA_MAX = 512  # bytes per `db`/`ab`/`rd` frame (LINK_DATA_MAX in firmware/harness/link.h)
DATA_MIN = 8
GROW_AFTER = 4  # clean transfers in a row before the chunk size doubles again
PROF_CHUNK = 32  # tick counts per `prof` answer (PROF_MAX in firmware/harness/main.c)
ERRORS = {1: "bad-frame", 2: "unknown-command", 3: "bad-args", 4: "input-crc"}
NAMES = {b"I": "id", b"D": "db", b"A": "ab", b"R": "rd", b"U": "run", b"P": "prof", b"N": "infer", b"Q": "quit"}
RESULT = struct.Struct("<BHiIII")  # exit, class, confidence, input CRC, runs, arena bytes; then u64 ticks
ID = struct.Struct("<HHIII")  # exits, classes, input bytes, arena bytes, clock; then "key=value ..." text


class DeviceError(DeviceMismatchError):
    """The board misbehaved: no answer, damaged answers past the retry budget, or an error reply."""


class _InputDamaged(DeviceError):
    """The board's copy of the input is not the one sent (its CRC differs): send it again."""


@dataclass
class InferResult:
    exit: int
    cls: int
    confidence: int
    ticks: list[int]
    arena_bytes: int = 0


_GARBLED, _SILENT = "garbled", "silent"


class DeviceLink:
    """`timeout` bounds a command that computes (infer, run); `quick_timeout` one that only moves bytes.
    A command fails after `silences` unanswered tries in a row or `attempts` tries in all."""

    def __init__(self, port, timeout: float = 10.0, quick_timeout: float = 1.0, silences: int = 3,
                 attempts: int = 2000):
        self.port = port
        self.port.timeout = min(0.05, quick_timeout)  # poll: the deadlines below are the real limits
        self.timeout, self.quick_timeout = timeout, quick_timeout
        self.silences, self.attempts = silences, attempts
        self.seq = random.randrange(NO_SEQ)  # a new session's numbers do not repeat the last one's
        self.chunk, self._clean = DATA_MAX, 0
        self.garbled = 0  # damaged frames dropped; bench reports them
        self.retries = 0  # commands sent again
        self.stale = 0  # well-formed answers to an earlier command, skipped
        self.silent = 0  # tries that got no answer in time
        self.info: dict = {}
        self._rx = bytearray()
        self._loaded: int | None = None  # CRC-32 of the input the board holds, as far as the host knows

    # --- one try: send, then wait for the answer to this sequence number ---------------------------
    def _read_frame(self, deadline: float) -> Frame | str | None:
        """The next frame, _GARBLED for damaged bytes, or None at the deadline."""
        while True:
            end = self._rx.find(0)
            if end >= 0:
                raw, self._rx = bytes(self._rx[:end]), self._rx[end + 1:]
                if len(raw) <= NOISE_MAX:
                    continue  # delimiters between frames, or a damaged delimiter: noise
                frame = decode(raw)
                return frame if frame is not None else _GARBLED
            if time.monotonic() >= deadline:
                return None
            try:
                self._rx += self.port.read(max(1, self.port.in_waiting))
            except (serial.SerialException, OSError) as e:
                raise DeviceError(f"the serial link broke: {e}") from e

    def _try(self, kind: bytes, seq: int, body: bytes, timeout: float) -> Frame | str:
        try:
            self.port.write(encode(kind, seq, body))
        except (serial.SerialException, OSError) as e:
            raise DeviceError(f"the serial link broke: {e}") from e
        deadline = time.monotonic() + timeout
        while (frame := self._read_frame(deadline)) is not None:
            if frame is _GARBLED or frame.kind == b"E" and frame.seq == NO_SEQ:  # damaged on the way out or back
                self.garbled += frame is _GARBLED
                return _GARBLED
            if frame.kind == b"B":
                raise DeviceError(f"the board restarted while answering {NAMES[kind]!r}")
            if frame.seq != seq:
                self.stale += 1
                continue
            if frame.kind == b"E":
                code = frame.body[0] if frame.body else 0
                error = _InputDamaged if code == 4 else DeviceError
                raise error(f"the board refused {NAMES[kind]!r}: {ERRORS.get(code, f'error {code}')}")
            if frame.kind != kind:
                raise DeviceError(f"the board answered {NAMES[kind]!r} with a {frame.kind!r} frame")
            return frame
        return _SILENT

    def _next_seq(self) -> int:
        self.seq = (self.seq + 1) % NO_SEQ
        return self.seq

    def _exchange(self, kind: bytes, body, timeout: float | None = None, check=lambda body: True) -> bytes:
        """Send a command until a valid answer comes back; `body` may be a function of the try number
        (bulk transfers shrink their chunk). `check` refuses answers that are well-framed but wrong."""
        timeout = self.quick_timeout if timeout is None else timeout
        silent = 0
        for attempt in range(self.attempts):
            payload = body(attempt) if callable(body) else body
            seq = self._next_seq() if attempt == 0 or callable(body) else self.seq
            outcome = self._try(kind, seq, payload, timeout)
            if isinstance(outcome, Frame):
                if not check(outcome.body):
                    raise DeviceError(f"the board's answer to {NAMES[kind]!r} does not match the command")
                return outcome.body
            self.retries += 1
            self.silent += outcome is _SILENT
            silent = silent + 1 if outcome is _SILENT else 0
            if silent >= self.silences:
                raise DeviceError(f"the board did not answer {NAMES[kind]!r} within {timeout:g} s ({silent} tries)")
        raise DeviceError(f"no valid answer to {NAMES[kind]!r} after {self.attempts} tries")

    def stats(self) -> dict:
        """How hard the link had to work: commands resent, damaged frames, stale answers, unanswered tries."""
        return {"retries": self.retries, "damaged_frames": self.garbled, "stale_answers": self.stale,
                "silent_tries": self.silent}

    # --- commands --------------------------------------------------------------------------------
    def wait_ready(self, announce_s: float = 1.0) -> None:
        """Wait for the boot banner; if it went by unseen (opening a port can flush it), ask `id` instead."""
        deadline = time.monotonic() + announce_s
        while (frame := self._read_frame(deadline)) is not None:
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
            def chunk(attempt: int) -> bytes:
                if attempt:
                    self.chunk, self._clean = max(DATA_MIN, self.chunk // 2), 0
                return struct.pack("<I", base + off) + data[off:off + self.chunk]

            sent = min(self.chunk, len(data) - off)
            # A retry halves self.chunk; recompute what the accepted frame carried from the answer.
            answer = self._exchange(kind, chunk, check=lambda b: len(b) == 6 and struct.unpack("<I", b[:4])[0] == base + off)
            count = struct.unpack("<H", answer[4:])[0]
            if count > sent or count < 1:
                raise DeviceError(f"the board stored {count} bytes of a {sent}-byte chunk")
            off += count
            self._grow()

    def _grow(self) -> None:
        self._clean += 1
        if self._clean >= GROW_AFTER and self.chunk < DATA_MAX:
            self.chunk, self._clean = self.chunk * 2, 0

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

            def ask(attempt: int) -> bytes:
                if attempt:
                    self.chunk, self._clean = max(DATA_MIN, self.chunk // 2), 0
                return struct.pack("<IH", at, min(self.chunk, count - len(out)))

            answer = self._exchange(b"R", ask, check=lambda b: len(b) > 4 and struct.unpack("<I", b[:4])[0] == at
                                    and len(b) - 4 <= count - len(out))
            out += answer[4:]
            self._grow()
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
        try:
            self.port.write(encode(b"Q", self._next_seq()))
        except (serial.SerialException, OSError) as e:
            raise DeviceError(f"the serial link broke: {e}") from e
