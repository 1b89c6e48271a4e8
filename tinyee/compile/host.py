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
from tinyee.errors import TinyeeError

REPO_ROOT = Path(__file__).resolve().parents[2]
KERNEL_DIR = REPO_ROOT / "firmware" / "kernels"


def kernel_sources() -> list[Path]:
    return sorted(KERNEL_DIR.glob("*.c"))


# Which inner loops of the optimised kernels a host build runs: the portable C ones, or the DSP or
# Helium ones with plain-C definitions of their intrinsics (firmware/kernels/tee_simd_emulation.h).
HOST_PATHS = {"portable": [], "dsp": ["-DTEE_EMULATE_DSP"], "mve": ["-DTEE_EMULATE_MVE"]}


def build_shared_library(src_dir: Path, out: Path, cc: str = "gcc", path: str = "portable") -> Path:
    if path not in HOST_PATHS:
        raise TinyeeError(f"kernel path {path!r}: choose one of {', '.join(HOST_PATHS)}")
    if shutil.which(cc) is None:
        raise TinyeeError(f"host C compiler {cc!r} not found: install gcc (scripts/setup.sh does)")
    cmd = [cc, "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", *HOST_PATHS[path],
           f"-I{KERNEL_DIR}", f"-I{src_dir}", *map(str, kernel_sources()), str(src_dir / "tinyee_model.c"), "-o", str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        raise TinyeeError(f"host build of {src_dir} failed:\n{r.stderr[-4000:]}")
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
