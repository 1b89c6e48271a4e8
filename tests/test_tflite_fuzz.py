"""The TFLite reader on arbitrary bytes: bit flips, truncations and splices of real segments and of a
model tinyee did not export. Each mutant is read, its MACs counted and its ops lowered; the outcome is
a model or tinyee's own error, never another exception. Mutants that pass go on through the whole
compiler and both host interpreters, in a child process, so that a crash in native code fails the
test instead of ending it."""

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import MLPERF_TINY
from tinyee.compile.lower import lower
from tinyee.errors import TinyeeError
from tinyee.tflite import TfliteModel

MUTANTS = 2000
DEEP = 24  # passing mutants taken through compile_segments, TFLM and LiteRT
RESNET8 = MLPERF_TINY / "ic_resnet8_int8.tflite"


def mutate(data: bytes, rng) -> bytes:
    d = bytearray(data)
    kind = rng.integers(3)
    if kind == 0:
        for _ in range(rng.integers(1, 8)):
            d[rng.integers(len(d))] ^= 1 << int(rng.integers(8))
    elif kind == 1:
        d = d[:rng.integers(len(d))]
    else:
        at, src, n = rng.integers(len(d)), rng.integers(len(d)), rng.integers(1, 64)
        d[at:at + n] = data[src:src + n]
    return bytes(d)


def read_and_lower(data: bytes) -> str:
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
        x = np.zeros(model.inputs[0].shape, np.int8)
        for backend in ("tflm", "litert"):
            SegmentRunner(data, backend, path).run(x)
        print("ok", flush=True)
    except TinyeeError:
        print("refused", flush=True)
"""


def test_the_reader_survives_2000_mutants_and_passing_ones_the_whole_compiler(shipped_export, tmp_path):
    out_dir, manifest, _ = shipped_export
    originals = [(out_dir / s.file).read_bytes() for s in manifest.segments] + [RESNET8.read_bytes()]
    rng = np.random.default_rng(2026)
    outcomes, deep = {"read": 0, "refused": 0}, []
    for n in range(MUTANTS):
        data = mutate(originals[n % len(originals)], rng)
        outcome = read_and_lower(data)  # any other exception fails the test, naming the mutant below
        outcomes[outcome] += 1
        if outcome == "read" and len(deep) < DEEP and data not in originals:
            deep.append(tmp_path / f"mutant{n}.tflite")
            deep[-1].write_bytes(data)
    assert outcomes["read"] > 300 and outcomes["refused"] > 800, outcomes
    r = subprocess.run([sys.executable, "-c", DEEP_CHECK, *map(str, deep)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"a mutant crashed the compiler or an interpreter: {r.stderr[-2000:]}"
    assert len(r.stdout.split()) == len(deep) and set(r.stdout.split()) <= {"ok", "refused"}


@pytest.mark.parametrize("data, message", [
    (b"", "is not a TFLite model"),
    (b"\x1c\0\0\0TFL3" + bytes(40), "is not a valid TFLite model"),
    (json.dumps({"model": 1}).encode(), "is not a TFLite model"),
])
def test_files_that_are_not_models_are_named_as_such(data, message):
    with pytest.raises(TinyeeError, match=message):
        TfliteModel(data, "x.tflite")
