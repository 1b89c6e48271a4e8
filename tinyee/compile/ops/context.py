"""What an op's lowering may ask about its model, and the checks every op shares."""

from __future__ import annotations

import numpy as np

from tinyee.errors import TinyeeError
from tinyee.tflite import Op, Tensor, TfliteModel

MAX_DIMS = 6  # TEE_MAX_DIMS in tinyee_kernels.h


class LoweringContext:
    def __init__(self, model: TfliteModel):
        self.model = model

    def fail(self, op: Op, why: str):
        raise TinyeeError(f"{self.model.name}: op #{op.index} {op.name}: {why}")

    def tensor(self, index: int) -> Tensor:
        return self.model.tensors[index]

    def quant_params(self, op: Op, index: int) -> tuple[float, int]:
        """(scale, zero point) of a per-tensor quantized tensor."""
        t = self.tensor(index)
        if len(t.scales) != 1 or len(t.zero_points) != 1:
            self.fail(op, f"tensor {t.name!r} is not per-tensor quantized")
        return t.scales[0], t.zero_points[0]

    def const_ints(self, op: Op, index: int) -> list[int]:
        return [int(v) for v in np.asarray(self._const(op, index).data).reshape(-1)]

    def _const(self, op: Op, index: int) -> Tensor:
        t = self.tensor(index)
        if not t.is_const:
            self.fail(op, f"input {t.name!r} must be a constant")
        return t

    def constant(self, op: Op, index: int, dtype, shape: tuple[int, ...]) -> Tensor:
        """A constant input of the given element type and shape: what the kernels read from flash."""
        t = self._const(op, index)
        if t.dtype != dtype or tuple(t.shape) != tuple(shape):
            self.fail(op, f"input {t.name!r} is {np.dtype(t.dtype).name} {list(t.shape)}, not "
                          f"{np.dtype(dtype).name} {list(shape)}")
        return t

    def window(self, op: Op, in_size: int, k: int, stride: int, dilation: int, out_size: int) -> None:
        """A sliding window's geometry as TFLite computes it (ComputeOutSize for SAME or VALID padding):
        what every window kernel relies on to stay inside its input."""
        if op.options.padding not in (0, 1):
            self.fail(op, f"padding {op.options.padding} is neither SAME nor VALID")
        if min(k, stride, dilation, in_size) < 1:
            self.fail(op, f"window {k}, stride {stride}, dilation {dilation} over {in_size}: each must be >= 1")
        span = (k - 1) * dilation + 1
        want = (in_size + stride - 1) // stride if op.options.padding == 0 else (in_size - span + stride) // stride
        if out_size != want or want < 1:
            self.fail(op, f"output size {out_size} where a window {k} (stride {stride}, dilation {dilation}) over "
                          f"{in_size} gives {want}")

    def size(self, index: int) -> int:
        return int(np.prod(self.tensor(index).shape))

    def check_rank(self, op: Op, rank: int) -> None:
        if rank > MAX_DIMS:
            self.fail(op, f"rank {rank} > {MAX_DIMS}")

    def same_quant(self, op: Op, inputs: list[int], output: int) -> None:
        want = self.quant_params(op, output)
        for i in inputs:
            if self.quant_params(op, i) != want:
                self.fail(op, "inputs and output must share scale and zero point (the kernel copies bytes)")


def same_padding(in_size: int, k: int, stride: int, dilation: int, out_size: int) -> int:
    """Leading padding of a window op, as TFLite computes it from the sizes."""
    total = (out_size - 1) * stride + (k - 1) * dilation + 1 - in_size
    return max(total, 0) // 2


def coalesce_loops(dims: list[int], *strides: list[int]) -> tuple[list[int], list[list[int]]]:
    """A loop nest over `dims` (each operand walking it with its `strides`) without size-1 dimensions and
    with adjacent dimensions that every operand walks alike merged, so innermost runs are as long as
    they can be: (dims, strides per operand), at least one dimension."""
    d: list[int] = []
    st: list[list[int]] = [[] for _ in strides]
    for i in range(len(dims) - 1, -1, -1):
        n = dims[i]
        if n == 1:
            continue
        if d and all(s[i] == own[0] * d[0] for s, own in zip(strides, st)):
            d[0] *= n
        else:
            d.insert(0, n)
            for s, own in zip(strides, st):
                own.insert(0, s[i])
    return (d, st) if d else ([1], [[0] for _ in strides])


def contiguous_strides(shape) -> list[int]:
    st, acc = [0] * len(shape), 1
    for i in range(len(shape) - 1, -1, -1):
        st[i] = acc
        acc *= shape[i]
    return st
