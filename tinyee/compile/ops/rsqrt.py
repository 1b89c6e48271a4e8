"""RSQRT: reference kernel rsqrt.c; the optimised set runs it as a lookup table computed at build time."""

from __future__ import annotations

import numpy as np

from tinyee.compile import requant
from tinyee.compile.call import Call, tensor_args

OP = "RSQRT"
TABLE_PARAMS = {"size": 256}


def lower(ctx, op) -> Call:
    s_in, zp_in = ctx.quant_params(op, op.inputs[0])
    s_out, zp_out = ctx.quant_params(op, op.outputs[0])
    m, s = requant.quantize_multiplier(1.0 / (np.sqrt(requant.as_double(s_in)) * requant.as_double(s_out)))
    params = dict(size=ctx.size(op.inputs[0]), in_zero_point=zp_in, out_zero_point=zp_out, mult=m, shift=s)
    return Call(op, "tee_rsqrt_s8", "tee_rsqrt_params", params, {},
                tensor_args(input=op.inputs[0], output=op.outputs[0]), in_place=(op.inputs[0],))
