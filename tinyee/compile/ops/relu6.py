"""RELU6 (relu6.c): a clamp between the input's quantized 0 and 6, as TFLite Micro does it (it keeps the
input's quantization for the output); a lookup table in the optimised set."""

from __future__ import annotations

from tinyee.compile import requant
from tinyee.compile.call import Call, tensor_args

OP = "RELU6"
TABLE_PARAMS = {"size": 256}


def lower(ctx, op) -> Call:
    s_in, zp_in = ctx.quant_params(op, op.inputs[0])
    six = int(requant.round_half_away(float(requant.as_float32(6.0) / requant.as_float32(s_in)))) + zp_in
    params = dict(size=ctx.size(op.inputs[0]), lower=zp_in, upper=min(max(six, -128), 127))
    return Call(op, "tee_relu6_s8", "tee_clamp_params", params, {},
                tensor_args(input=op.inputs[0], output=op.outputs[0]), in_place=(op.inputs[0],))
