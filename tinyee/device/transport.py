"""Resending commands until a valid answer comes back, over the frames of tinyee.device.framing.

Every frame carries a CRC-32 over all of it and the sequence number of the command it answers, so a
damaged answer is never accepted and a stale or duplicate one is recognised. A damaged or missing
answer makes the host send the same command again; the firmware answers a repeat from its copy of
the last answer instead of running the command twice. Bulk transfers adapt their chunk size to the
link: they halve it after a failed try and double it after a run of clean ones.
"""

from __future__ import annotations

import math
import random
import time
from typing import Callable

import serial

from tinyee.device.framing import NOISE_MAX, NO_SEQ, Frame, decode, encode
from tinyee.errors import DeviceMismatchError

DATA_MAX = 512  # bytes per `db`/`ab`/`rd` frame (LINK_DATA_MAX in firmware/harness/link.h)
DATA_MIN = 8
GROW_AFTER = 4  # clean transfers in a row before the chunk size doubles again
FRAME_BYTES_MAX = 2 * (DATA_MAX + 32)  # far above the largest frame, COBS and delimiters included
ERRORS = {1: "bad-frame", 2: "unknown-command", 3: "bad-args", 4: "input-crc"}
NAMES = {b"I": "id", b"D": "db", b"A": "ab", b"R": "rd", b"U": "run", b"P": "prof", b"N": "infer", b"Q": "quit"}


class DeviceError(DeviceMismatchError):
    """The board misbehaved: no answer, damaged answers past the retry budget, or an error reply."""


class _InputDamaged(DeviceError):
    """The board's copy of the input is not the one sent (its CRC differs): send it again."""


_GARBLED, _SILENT = "garbled", "silent"


class Transport:
    """Sends a command until a valid answer comes back. A command fails after `silences` unanswered tries
    in a row (the board is silent) or `attempts` tries in all (the line is too damaged)."""

    def __init__(self, port, timeout: float = 10.0, quick_timeout: float = 1.0, silences: int = 3,
                 attempts: int = 2000, clock: Callable[[], float] = time.monotonic, stall: float = math.inf):
        """clock: what the time-outs count in (an emulator's CPU seconds, which a busy host slows down with
        the emulator); stall: wall-clock seconds in which a clock that does not move at all (an emulator that
        makes no progress) ends a wait."""
        self.port = port
        self.clock, self.stall = clock, stall
        self.port.timeout = min(0.05, quick_timeout)  # poll: the deadlines below are the real limits
        self.timeout, self.quick_timeout = timeout, quick_timeout
        self.silences, self.attempts = silences, attempts
        self.seq = random.randrange(NO_SEQ)  # a new session's numbers do not repeat the last one's
        self.chunk, self._clean = DATA_MAX, 0
        self.garbled = 0  # damaged frames dropped; bench reports them
        self.retries = 0  # commands sent again
        self.stale = 0  # well-formed answers to an earlier command, skipped
        self.silent = 0  # tries that got no answer in time
        self._rx = bytearray()

    def _read_frame(self, timeout: float) -> Frame | str | None:
        """The next frame, _GARBLED for damaged bytes, or None after `timeout` seconds of the link's clock (or
        `stall` seconds in which it did not move)."""
        deadline = self.clock() + timeout
        last, moved = None, time.monotonic()
        while True:
            end = self._rx.find(0)
            if end >= 0:
                raw, self._rx = bytes(self._rx[:end]), self._rx[end + 1:]
                if len(raw) <= NOISE_MAX:
                    continue  # delimiters between frames, or a damaged delimiter: noise
                frame = decode(raw)
                return frame if frame is not None else _GARBLED
            if len(self._rx) > FRAME_BYTES_MAX:  # noise without a delimiter: no frame is this long
                self._rx.clear()
                return _GARBLED
            now = self.clock()
            if now != last:
                last, moved = now, time.monotonic()
            if now >= deadline or time.monotonic() - moved >= self.stall:
                return None
            try:
                self._rx += self.port.read(max(1, self.port.in_waiting))
            except (serial.SerialException, OSError) as e:
                raise DeviceError(f"the serial link broke: {e}") from e

    def _send(self, kind: bytes, seq: int, body: bytes) -> None:
        try:
            self.port.write(encode(kind, seq, body))
        except (serial.SerialException, OSError) as e:
            raise DeviceError(f"the serial link broke: {e}") from e

    def _try(self, kind: bytes, seq: int, body: bytes, timeout: float) -> Frame | str:
        self._send(kind, seq, body)
        while (frame := self._read_frame(timeout)) is not None:
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
        """Send a command until a valid answer comes back. `check` refuses answers that are well-framed but
        wrong. A bulk transfer gives `body` as a function that builds the command from self.chunk: the chunk
        halves after each failed try and doubles after a run of clean transfers."""
        timeout = self.quick_timeout if timeout is None else timeout
        bulk = callable(body)
        silent = 0
        for attempt in range(self.attempts):
            if attempt and bulk:
                self._shrink()
            payload = body() if bulk else body
            seq = self._next_seq() if attempt == 0 or bulk else self.seq
            outcome = self._try(kind, seq, payload, timeout)
            if isinstance(outcome, Frame):
                if not check(outcome.body):
                    raise DeviceError(f"the board's answer to {NAMES[kind]!r} does not match the command")
                if bulk:
                    self._grow()
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

    def _shrink(self) -> None:
        """A bulk transfer's try failed: smaller frames get through a noisy line more often."""
        self.chunk, self._clean = max(DATA_MIN, self.chunk // 2), 0

    def _grow(self) -> None:
        self._clean += 1
        if self._clean >= GROW_AFTER and self.chunk < DATA_MAX:
            self.chunk, self._clean = self.chunk * 2, 0
