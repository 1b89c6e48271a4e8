"""LOGISTIC: reference kernel logistic.c (TFLite Micro's fixed-point path); the optimised set runs it as
a lookup table computed by that kernel at build time, fused with SiLU's MUL where there is one."""

from __future__ import annotations

import numpy as np

from tinyee.compile import requant
from tinyee.compile.call import Call, tensor_args

OP = "LOGISTIC"
TABLE_PARAMS = {"size": 256}


def lower(ctx, op) -> Call:
    s_in, zp_in = ctx.quant_params(op, op.inputs[0])
    if ctx.quant_params(op, op.outputs[0])[1] != -128:
        ctx.fail(op, "LOGISTIC output zero point must be -128")
    q, left_shift = np.frexp(requant.as_double(s_in) * float(1 << 27))
    mult = int(requant.round_half_away(float(q) * (1 << 31)))
    if mult == 1 << 31:  # TFLM casts to int32 without the halving QuantizeMultiplier does
        mult = -(1 << 31)
    params = dict(size=ctx.size(op.inputs[0]), in_zero_point=zp_in, in_mult=mult, in_left_shift=int(left_shift),
                  in_range_radius=requant.calculate_input_radius(4, int(left_shift)))
    return Call(op, "tee_logistic_s8", "tee_logistic_params", params, {},
                tensor_args(input=op.inputs[0], output=op.outputs[0]), in_place=(op.inputs[0],))
