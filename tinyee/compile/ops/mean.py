"""MEAN (mean.c): integer mean over a contiguous block of axes, 1/count folded into the multiplier."""

from __future__ import annotations

import numpy as np

from tinyee.compile import requant
from tinyee.compile.call import Call, tensor_args

OP = "MEAN"


def reduced_view(ctx, op) -> tuple[int, int, int]:
    """The input as [outer, reduce, inner] for a reduction over a contiguous block of axes."""
    shape = ctx.tensor(op.inputs[0]).shape
    rank = len(shape)
    axes = sorted({a % rank for a in ctx.const_ints(op, op.inputs[1])})
    if axes != list(range(axes[0], axes[-1] + 1)):
        ctx.fail(op, f"{op.name} over non-contiguous axes {axes} is not supported")
    return (int(np.prod(shape[:axes[0]])), int(np.prod(shape[axes[0]:axes[-1] + 1])),
            int(np.prod(shape[axes[-1] + 1:])))


def lower(ctx, op) -> Call:
    s_in, zp_in = ctx.quant_params(op, op.inputs[0])
    s_out, zp_out = ctx.quant_params(op, op.outputs[0])
    outer, reduce, inner = reduced_view(ctx, op)
    m, s = requant.quantize_multiplier(requant.as_double(s_in) / requant.as_double(s_out))
    shift = min(reduce.bit_length() - 1, 32, 31 + s)
    m, s = (m << shift) // reduce, s - shift
    params = dict(outer=outer, reduce=reduce, inner=inner, in_zero_point=zp_in, out_zero_point=zp_out, mult=m, shift=s)
    return Call(op, "tee_mean_s8", "tee_mean_params", params, {}, tensor_args(input=op.inputs[0], output=op.outputs[0]))
