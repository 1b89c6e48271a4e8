"""The protocol's frames (firmware/PROTOCOL.md): COBS(payload | CRC-32 little-endian) between 0x00
delimiters; a payload is a kind byte, a 16-bit sequence number and the body."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

FRAME_KINDS = b"BIDARUPNQE"  # banner, commands and their answers (same letter), error
NO_SEQ = 0xFFFF  # replies to no command: the boot banner, a NAK for a damaged frame
HEADER = struct.Struct("<cH")
NOISE_MAX = 2  # a fragment this short between delimiters is a damaged delimiter, not a damaged frame


def cobs_encode(data: bytes) -> bytes:
    out = bytearray()
    start = 0
    while True:
        end = start
        while end < len(data) and data[end] != 0 and end - start < 254:
            end += 1
        out.append(end - start + 1)
        out += data[start:end]
        if end == len(data):
            return bytes(out)
        full = end - start == 254  # a full block (code 0xFF) implies no zero after it
        start = end if full else end + 1
        if start == len(data):  # the data ended with a zero: one more, empty block
            out.append(1)
            return bytes(out)


def cobs_decode(data: bytes) -> bytes | None:
    """The decoded bytes, or None when the encoding is broken."""
    out = bytearray()
    i = 0
    while i < len(data):
        code = data[i]
        if code == 0 or i + code > len(data):
            return None
        out += data[i + 1:i + code]
        i += code
        if code < 0xFF and i < len(data):
            out.append(0)
    return bytes(out)


def encode(kind: bytes, seq: int, body: bytes = b"") -> bytes:
    """One frame on the wire: a leading delimiter resynchronises the receiver after noise; three trailing
    ones make a lost delimiter cost a retry instead of a timeout."""
    payload = HEADER.pack(kind, seq) + body
    return b"\0" + cobs_encode(payload + struct.pack("<I", zlib.crc32(payload))) + b"\0\0\0"


@dataclass(frozen=True)
class Frame:
    kind: bytes
    seq: int
    body: bytes


def decode(raw: bytes) -> Frame | None:
    """A frame's content (raw is the bytes between two delimiters), or None when it is damaged."""
    data = cobs_decode(raw)
    if data is None or len(data) < HEADER.size + 4:
        return None
    payload, (crc,) = data[:-4], struct.unpack("<I", data[-4:])
    if zlib.crc32(payload) != crc:
        return None
    kind, seq = HEADER.unpack(payload[:HEADER.size])
    return Frame(kind, seq, payload[HEADER.size:])
