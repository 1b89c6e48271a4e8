"""RELU (relu.c): requantized to the output scale, clamped at the output zero point; a lookup table in the
optimised set."""

from __future__ import annotations

from tinyee.compile import requant
from tinyee.compile.call import Call, tensor_args

OP = "RELU"
TABLE_PARAMS = {"size": 256}


def lower(ctx, op) -> Call:
    s_in, zp_in = ctx.quant_params(op, op.inputs[0])
    s_out, zp_out = ctx.quant_params(op, op.outputs[0])
    m, s = requant.quantize_multiplier(requant.as_double(s_in) / requant.as_double(s_out))
    params = dict(size=ctx.size(op.inputs[0]), in_zero_point=zp_in, out_zero_point=zp_out, mult=m, shift=s,
                  act_min=max(-128, zp_out), act_max=127)
    return Call(op, "tee_relu_s8", "tee_relu_params", params, {},
                tensor_args(input=op.inputs[0], output=op.outputs[0]), in_place=(op.inputs[0],))
