"""Mutated TFLite models, and what tinyee makes of each: the shared part of the fuzz test
(test_tflite_fuzz.py) and of its large batch (benchmarks/fuzz.py).

A mutant is first read and lowered in this process (pure Python: any exception other than tinyee's
own error is an escape). One that passes goes on, in a child process so that a native crash is
counted instead of ending the run, through what `build` and `validate`'s host side do with it: the
optimised compiler (its build-time native kernel queries included) and both host interpreters."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from tinyee.compile.lower import lower
from tinyee.errors import TinyeeError
from tinyee.tflite import TfliteModel

MUTATIONS = ("bit flips", "truncation", "splice", "byte overwrite", "insertion", "word overwrite")


def mutate(data: bytes, rng) -> bytes:
    d = bytearray(data)
    kind = MUTATIONS[int(rng.integers(len(MUTATIONS)))]
    at = int(rng.integers(len(d)))
    if kind == "bit flips":
        for _ in range(rng.integers(1, 8)):
            d[rng.integers(len(d))] ^= 1 << int(rng.integers(8))
    elif kind == "truncation":
        d = d[:at]
    elif kind == "splice":
        src, n = rng.integers(len(d)), rng.integers(1, 64)
        d[at:at + n] = data[src:src + n]
    elif kind == "byte overwrite":
        d[at] = int(rng.integers(256))
    elif kind == "insertion":
        d[at:at] = rng.integers(0, 256, int(rng.integers(1, 16)), dtype=np.uint8).tobytes()
    else:  # a 32-bit word: offsets, sizes and indices in a flatbuffer are words
        d[at & ~3:(at & ~3) + 4] = int(rng.choice([0, 1, 0x7FFFFFFF, 0xFFFFFFFF, rng.integers(2**32)])).to_bytes(4, "little")
    return bytes(d)


def read_and_lower(data: bytes) -> str:
    """"read" or "refused"; any other exception propagates (an escape)."""
    try:
        model = TfliteModel(data, "mutant")
        model.macs, model.param_bytes, model.peak_op_activation_bytes
        lower(model)
    except TinyeeError:
        return "refused"
    return "read"


DEEP_CHECK = """
import sys, numpy as np
from tinyee.compile import compile_segments
from tinyee.errors import TinyeeError
from tinyee.runtime import SegmentRunner
from tinyee.tflite import TfliteModel
for path in sys.argv[1:]:
    data = open(path, "rb").read()
    try:
        model = TfliteModel(data, path)
        compile_segments([model])
        rng = np.random.default_rng(0)
        x = tuple(rng.integers(-128, 128, t.shape, dtype=np.int8) for t in model.inputs)
        for backend in ("tflm", "litert"):
            SegmentRunner(data, backend, path).run(x)
        print("ran", flush=True)
    except TinyeeError:
        print("refused", flush=True)
"""


def deep_outcomes(paths: list[Path], timeout: float = 900) -> list[str]:
    """"ran", "refused" or "escaped" for each mutant taken through the compiler and both interpreters; one
    child process for all of them, restarted after the one that escaped (exception or native crash)."""
    outcomes: list[str] = []
    while len(outcomes) < len(paths):
        rest = paths[len(outcomes):]
        r = subprocess.run([sys.executable, "-c", DEEP_CHECK, *map(str, rest)], capture_output=True, text=True,
                           timeout=timeout)
        done = r.stdout.split()
        outcomes += done
        if r.returncode != 0:
            outcomes.append("escaped")
    return outcomes
