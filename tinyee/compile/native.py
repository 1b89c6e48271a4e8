"""Build generated C natively and run it from Python: the host side of bit-exactness checks.

The arena is one ctypes buffer used exactly as on the device: inputs written at their planned
offsets, segments called in order, the feature map left in place between segments.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

import numpy as np

from tinyee.compile.emit import CompiledSegment
from tinyee.compile.sources import KERNEL_DIR, kernel_sources
from tinyee.errors import TinyeeError

# Which inner loops of the optimised kernels a host build runs: the portable C ones, or the DSP or
# Helium ones with plain-C definitions of their intrinsics (firmware/kernels/tee_emulate_{dsp,mve}.h).
HOST_PATHS = {"portable": [], "dsp": ["-DTEE_EMULATE_DSP"], "mve": ["-DTEE_EMULATE_MVE"]}


def build_shared_library(src_dir: Path, out: Path, cc: str = "gcc", path: str = "portable") -> Path:
    """The generated segments of `src_dir` and all kernels as a host shared library (the arena is the caller's)."""
    return compile_shared([*kernel_sources(), src_dir / "tinyee_model.c"], [KERNEL_DIR, src_dir], out,
                          cc, path)


def compile_shared(sources: list[Path], include_dirs: list[Path], out: Path, cc: str = "gcc",
                   path: str = "portable") -> Path:
    if path not in HOST_PATHS:
        raise TinyeeError(f"kernel path {path!r}: choose one of {', '.join(HOST_PATHS)}")
    if shutil.which(cc) is None:
        raise TinyeeError(f"host C compiler {cc!r} not found: install gcc (scripts/setup.sh does)")
    cmd = [cc, "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-DTEE_COUNT_ROUTED_MACS=1",
           *HOST_PATHS[path],
           *(f"-I{d}" for d in include_dirs), *map(str, sources), "-o", str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        raise TinyeeError(f"host build of {out.name} failed:\n{r.stderr[-4000:]}")
    return out


class HostRunner:
    def __init__(self, library: Path, segments: list[CompiledSegment]):
        self.lib = ctypes.CDLL(str(library))
        self.segments = segments
        self.arena_size = max(s.plan.size for s in segments)
        self.arena = (ctypes.c_int8 * self.arena_size)()
        self.fns = [getattr(self.lib, f"tinyee_segment{s.index}") for s in segments]
        for f in self.fns:
            f.argtypes = [ctypes.POINTER(ctypes.c_int8)]
            f.restype = None

    def view(self, seg: CompiledSegment, tensor: int) -> np.ndarray:
        t = seg.model.tensors[tensor]
        off = seg.plan.offsets[tensor]
        buf = np.frombuffer(self.arena, dtype=np.int8, count=t.nbytes, offset=off)
        return buf.reshape(t.shape).copy()

    def write(self, seg: CompiledSegment, tensor: int, value: np.ndarray) -> None:
        t = seg.model.tensors[tensor]
        data = np.ascontiguousarray(value, dtype=np.int8).reshape(-1)
        if data.size != int(np.prod(t.shape)):
            raise TinyeeError(f"input of {data.size} values for tensor {t.name!r} of shape {list(t.shape)}")
        ctypes.memmove(ctypes.addressof(self.arena) + seg.plan.offsets[tensor], data.ctypes.data, data.size)

    def run(self, k: int) -> None:
        self.fns[k](self.arena)

    @property
    def routed_macs(self) -> int:
        """Multiply-accumulates routed experts have run so far (on their tokens only; tinyee/compile/route.py)."""
        return ctypes.c_uint64.in_dll(self.lib, "tee_routed_macs").value


class _Result(ctypes.Structure):
    _fields_ = [("exit", ctypes.c_int), ("label", ctypes.c_int), ("confidence", ctypes.c_int32),
                ("probs", ctypes.POINTER(ctypes.c_int8))]


class NativeLibrary:
    """A library written by `tinyee generate`, built natively and called through its C API."""

    def __init__(self, library_dir: Path, out: Path, path: str = "portable"):
        library_dir = Path(library_dir)
        self.lib = ctypes.CDLL(str(compile_shared(sorted((library_dir / "src").glob("*.c")),
                                                  [library_dir / "include", library_dir / "src"], out, path=path)))
        self.lib.tinyee_cascade_run.argtypes = [ctypes.POINTER(ctypes.c_int8), ctypes.POINTER(_Result)]
        self.lib.tinyee_set_threshold.argtypes = [ctypes.c_int, ctypes.c_int32]
        self.lib.tinyee_threshold.restype = ctypes.c_int32

    def quantize_input(self, x: np.ndarray) -> np.ndarray:
        """tinyee_quantize_input of one float input."""
        data = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
        out = np.empty(data.size, np.int8)
        self.lib.tinyee_quantize_input(data.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
                                       out.ctypes.data_as(ctypes.POINTER(ctypes.c_int8)))
        return out

    def cascade_run(self, x: np.ndarray, num_classes: int) -> tuple[int, int, int, np.ndarray]:
        """(exit, label, confidence, that exit's int8 softmax) for one int8 input."""
        data = np.ascontiguousarray(x, dtype=np.int8).reshape(-1)
        result = _Result()
        status = self.lib.tinyee_cascade_run(data.ctypes.data_as(ctypes.POINTER(ctypes.c_int8)), ctypes.byref(result))
        if status != 0:
            raise TinyeeError(f"tinyee_cascade_run returned {status}")
        probs = np.ctypeslib.as_array(result.probs, shape=(num_classes,)).copy()
        return result.exit, result.label, result.confidence, probs
