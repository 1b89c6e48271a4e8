"""The host side of the framed protocol on its own: COBS round trips, and a link fed arbitrary answers
either gets the right one or raises DeviceError, never another exception or a wrong result."""

import struct
import zlib

import numpy as np
import pytest

from tinyee.device import DeviceError, DeviceLink
from tinyee.device.framing import FRAME_KINDS, NO_SEQ, cobs_decode, cobs_encode, decode, encode


def test_cobs_round_trips_at_block_edges_and_on_random_bytes(rng):
    cases = [b"", b"\0", b"\0\0", bytes(range(1, 255)), bytes(range(1, 255)) + b"\0", bytes([7] * 508) + b"\0\1"]
    cases += [rng.integers(0, 256, n, dtype=np.uint8).tobytes() for n in rng.integers(0, 700, 300)]
    cases += [np.where(rng.random(n) < 0.3, 0, 1).astype(np.uint8).tobytes() for n in range(250, 260)]
    for data in cases:
        encoded = cobs_encode(data)
        assert 0 not in encoded and cobs_decode(encoded) == data


def test_a_damaged_frame_is_never_decoded(rng):
    frame = encode(b"N", 5, bytes(range(40)))[1:-3]
    assert decode(frame).body == bytes(range(40))
    for n in range(3000):
        bad = bytearray(frame)
        for _ in range(1 + n % 3):  # a changed byte or two or three
            bad[rng.integers(len(bad))] ^= int(rng.integers(1, 256))
        assert decode(bytes(bad)) is None or bytes(bad) == frame


class ScriptedPort:
    """Answers every command with what `answer(kind, seq, body)` returns (raw bytes on the wire)."""

    def __init__(self, answer):
        self.answer, self.pending, self.timeout = answer, b"", 0.01

    @property
    def in_waiting(self):
        return len(self.pending)

    def write(self, data):
        frame = decode(data.strip(b"\0"))
        self.pending += self.answer(frame.kind, frame.seq, frame.body)
        return len(data)

    def read(self, size=1):
        out, self.pending = self.pending[:size], self.pending[size:]
        return out


def test_the_link_survives_arbitrary_answers_and_accepts_no_wrong_one(rng):
    """Well-framed answers with random kinds, sequence numbers and bodies, and raw garbage."""
    data = bytes(range(64))
    good = struct.pack("<BHiIII", 1, 7, 90, zlib.crc32(data), 1, 4096) + struct.pack("<2Q", 10, 20)
    outcomes = {"right": 0, "refused": 0}
    for trial in range(600):
        def answer(kind, seq, body):
            if kind != b"N":  # stores go through
                return encode(kind, seq, body[:4] + struct.pack("<H", len(body) - 4))
            choice = trial % 4
            if choice == 0:  # garbage bytes with delimiters
                return rng.integers(0, 256, int(rng.integers(1, 80)), dtype=np.uint8).tobytes() + b"\0"
            if choice == 1:  # a valid frame of any kind, any body
                return encode(bytes([rng.choice(list(FRAME_KINDS))]), seq,
                              rng.integers(0, 256, int(rng.integers(0, 60)), dtype=np.uint8).tobytes())
            if choice == 2:  # the right answer, cut or grown
                cut = good[:int(rng.integers(0, len(good)))] if trial % 8 == 2 else good + b"\1"
                return encode(b"N", seq, cut)
            return encode(b"N", seq, good)  # the right answer
        link = DeviceLink(ScriptedPort(answer), timeout=0.05, quick_timeout=0.05, attempts=20)
        link.info = {"segments": "3"}
        try:
            r = link.infer(data)
        except DeviceError:
            outcomes["refused"] += 1
            continue
        assert (r.exit, r.cls, r.confidence, r.ticks, r.arena_bytes) == (1, 7, 90, [10, 20], 4096)
        outcomes["right"] += 1
    assert outcomes["right"] >= 150 and outcomes["refused"] >= 150


def test_a_nak_for_noise_is_not_an_answer():
    sent = []

    def answer(kind, seq, body):
        sent.append(seq)
        if len(sent) == 1:
            return encode(b"E", NO_SEQ, b"\1")
        return encode(b"I", seq, struct.pack("<HHIII", 3, 10, 3072, 9000, 25_000_000) + b"model=abc board=x")
    link = DeviceLink(ScriptedPort(answer), quick_timeout=0.05)
    assert link.identify()["model"] == "abc" and len(sent) == 2 and sent[0] == sent[1]  # the same command again


@pytest.mark.parametrize("code, message", [(2, "unknown-command"), (3, "bad-args"), (9, "error 9")])
def test_an_error_answer_names_the_command_and_the_error(code, message):
    link = DeviceLink(ScriptedPort(lambda kind, seq, body: encode(b"E", seq, bytes([code]))), quick_timeout=0.05)
    with pytest.raises(DeviceError, match=f"the board refused 'rd': {message}"):
        link.read_arena(0, 10)


def test_noise_without_delimiters_does_not_pile_up():
    link = DeviceLink(ScriptedPort(lambda kind, seq, body: b"\x55" * 5000), quick_timeout=0.05, attempts=5)
    with pytest.raises(DeviceError, match="no valid answer to 'id' after 5 tries"):
        link.identify()
    assert link.garbled >= 5 and len(link._rx) < 5000
