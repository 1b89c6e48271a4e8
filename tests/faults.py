"""Line faults for protocol tests: a pyserial port wrapper that damages the bytes in both directions."""

from __future__ import annotations

import numpy as np


class FaultyPort:
    """Each byte, either way, is hit with probability `rate`: then it is dropped or replaced by another
    value (half and half). `silent_after` stops all traffic to the board after that many writes."""

    def __init__(self, port, rate: float = 0.0, seed: int = 0, silent_after: int | None = None):
        self.port, self.rate, self.silent_after = port, rate, silent_after
        self.rng = np.random.default_rng(seed)
        self.writes = 0
        self.hit = 0  # bytes damaged

    def _damage(self, data: bytes) -> bytes:
        if not self.rate or not data:
            return data
        hits = self.rng.random(len(data)) < self.rate
        if not hits.any():
            return data
        self.hit += int(hits.sum())
        out = bytearray()
        for b, h in zip(data, hits):
            if not h:
                out.append(b)
            elif self.rng.random() < 0.5:
                out.append((b + int(self.rng.integers(1, 256))) % 256)
        return bytes(out)

    def write(self, data: bytes) -> int:
        self.writes += 1
        if self.silent_after is None or self.writes <= self.silent_after:
            self.port.write(self._damage(bytes(data)))
        return len(data)

    def read(self, size: int = 1) -> bytes:
        return self._damage(self.port.read(size))

    @property
    def in_waiting(self) -> int:
        return self.port.in_waiting

    @property
    def timeout(self):
        return self.port.timeout

    @timeout.setter
    def timeout(self, value):
        self.port.timeout = value

    def close(self) -> None:
        self.port.close()
