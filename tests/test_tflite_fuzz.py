"""The TFLite reader on arbitrary bytes: mutants (tests/fuzz.py) of real segments and of a model tinyee did
not export. Each mutant is read, its MACs counted and its ops lowered; the outcome is a model or tinyee's
own error, never another exception. Mutants that pass go on through the whole compiler and both host
interpreters, in a child process, so that a crash in native code fails the test instead of ending it.
benchmarks/fuzz.py runs a larger batch."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import MLPERF_TINY
from fuzz import deep_outcomes, mutate, read_and_lower
from tinyee.crash_guard import run_in_child
from tinyee.errors import TinyeeError
from tinyee.tflite import TfliteModel

MUTANTS = 2000
DEEP = 24  # passing mutants taken through compile_segments, TFLM and LiteRT
RESNET8 = MLPERF_TINY / "ic_resnet8_int8.tflite"
BAD_INPUTS = Path(__file__).parent / "data" / "bad-inputs"  # found by an earlier, larger fuzzing run


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
    found = deep_outcomes(deep)
    assert "escaped" not in found, [p.name for p, o in zip(deep, found) if o == "escaped"]
    assert len(found) == len(deep) and set(found) <= {"ran", "refused"}


@pytest.mark.parametrize("name, message", [
    ("segment-bitflip-sigfpe.tflite", "op #7 CONV_2D: input 'tfl.pseudo_qconst46' is int8 [48, 1, 1, 64], not int8 "
                                      "[8240, 1, 1, 64]"),
    ("segment-splice-typeerror.tflite", "op #11 CONV_2D: reads tensor 'tfl.pseudo_qconst42', which is neither a "
                                        "constant, an input nor written by an earlier op"),
])
def test_damaged_models_that_once_crashed_are_refused_where_they_are_read(name, message, tmp_path):
    """A convolution whose output has more channels than its filter (TFLM divided by zero on it) and one that
    reads a tensor nothing writes (lowering met a bias without data) end in one clear line, at import."""
    r = subprocess.run([sys.executable, "-m", "tinyee", "import", BAD_INPUTS / name, "--out", tmp_path / "x"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and message in r.stderr, r.stderr[-2000:]
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    assert deep_outcomes([BAD_INPUTS / name]) == ["refused"]


def test_a_native_crash_is_one_clear_error():
    """The net under the checks: native code that dies of a signal in the child costs one error line."""
    with pytest.raises(TinyeeError, match=r"the tflm interpreter crashed on this model \(SIGFPE\)"):
        run_in_child(lambda: os.kill(os.getpid(), signal.SIGFPE), "x.tflite: the tflm interpreter")
    run_in_child(lambda: None, "nothing")  # a child that ends well says nothing


@pytest.mark.parametrize("data, message", [
    (b"", "is not a TFLite model"),
    (b"\x1c\0\0\0TFL3" + bytes(40), "is not a valid TFLite model"),
    (json.dumps({"model": 1}).encode(), "is not a TFLite model"),
])
def test_files_that_are_not_models_are_named_as_such(data, message):
    with pytest.raises(TinyeeError, match=message):
        TfliteModel(data, "x.tflite")
