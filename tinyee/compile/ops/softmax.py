"""SOFTMAX (softmax.c): TFLite Micro's fixed-point path; optimised: the 256 exponentials tabulated in scratch."""

from __future__ import annotations

import dataclasses

from tinyee.compile import requant
from tinyee.compile.call import Call, ScratchArg, tensor_args

OP = "SOFTMAX"


def lower(ctx, op) -> Call:
    s_in, _ = ctx.quant_params(op, op.inputs[0])
    s_out, zp_out = ctx.quant_params(op, op.outputs[0])
    if zp_out != -128 or requant.as_float32(s_out) != requant.as_float32(1 / 256):
        ctx.fail(op, "SOFTMAX output must have scale 1/256 and zero point -128")
    real = min(requant.as_double(op.options.beta) * requant.as_double(s_in) * float(1 << 26), float(2**31 - 1))
    m, left_shift = requant.quantize_multiplier(real)
    depth = ctx.tensor(op.inputs[0]).shape[-1]
    params = dict(rows=ctx.size(op.inputs[0]) // depth, depth=depth, in_mult=m, in_left_shift=left_shift,
                  diff_min=-requant.calculate_input_radius(5, left_shift))
    return Call(op, "tee_softmax_s8", "tee_softmax_params", params, {},
                tensor_args(input=op.inputs[0], output=op.outputs[0]))


def optimize(ctx, c: Call) -> Call:
    return dataclasses.replace(c, kernel="tee_softmax_table_s8",
                               args={"input": c.args["input"], "scratch": ScratchArg(), "output": c.args["output"]})
