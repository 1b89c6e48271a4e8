"""REDUCE_MAX (reduce_max.c): the largest value over a contiguous block of axes. TFLite's converter gives
its int8 output the input's scale and zero point, so the maximum of the int8 values is the result."""

from __future__ import annotations

from tinyee.compile.call import Call, tensor_args
from tinyee.compile.ops.mean import reduced_view

OP = "REDUCE_MAX"


def lower(ctx, op) -> Call:
    if ctx.quant_params(op, op.inputs[0]) != ctx.quant_params(op, op.outputs[0]):
        ctx.fail(op, "input and output quantization differ (TFLite's converter keeps them equal)")
    outer, reduce, inner = reduced_view(ctx, op)
    return Call(op, "tee_reduce_max_s8", "tee_reduce_params", dict(outer=outer, reduce=reduce, inner=inner), {},
                tensor_args(input=op.inputs[0], output=op.outputs[0]))
