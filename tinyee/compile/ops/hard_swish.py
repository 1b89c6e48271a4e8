"""HARD_SWISH: reference kernel hard_swish.c (int16 fixed point); the optimised set runs it as a lookup
table computed at build time."""

from __future__ import annotations

from tinyee.compile.call import Call, tensor_args
from tinyee.compile.requant import as_double, as_float32, quantize_multiplier

OP = "HARD_SWISH"
TABLE_PARAMS = {"size": 256}


def _to_int16(m: int) -> int:
    """TFLite's DownScaleInt32ToInt16Multiplier."""
    return 32767 if m >= 2**31 - 1 - (1 << 15) else (m + (1 << 15)) >> 16


def lower(ctx, op) -> Call:
    s_in, zp_in = ctx.quant_params(op, op.inputs[0])
    s_out, zp_out = ctx.quant_params(op, op.outputs[0])
    hires = as_float32(1.0 / 128.0) * as_float32(s_in)
    out_m, out_e = quantize_multiplier(as_double(hires / as_float32(s_out)))
    rel_m, rel_e = quantize_multiplier(as_double(hires / as_float32(3.0 / 32768.0)))
    if out_e > 0:
        ctx.fail(op, "HARD_SWISH output multiplier exponent > 0")
    params = dict(size=ctx.size(op.inputs[0]), in_zero_point=zp_in, out_zero_point=zp_out,
                  output_multiplier_fixedpoint_int16=_to_int16(out_m),
                  reluish_multiplier_fixedpoint_int16=_to_int16(rel_m),
                  output_multiplier_exponent=out_e, reluish_multiplier_exponent=rel_e)
    return Call(op, "tee_hard_swish_s8", "tee_hard_swish_params", params, {},
                tensor_args(input=op.inputs[0], output=op.outputs[0]), in_place=(op.inputs[0],))
