"""SUB (binary.c): as ADD, but TFLite Micro divides the scales in float32 before widening."""

from tinyee.compile.ops._binary import TABLE_PARAMS, binary_call, rescaled_inputs, table_rewrite
from tinyee.compile.requant import as_double, as_float32, quantize_multiplier

OP = "SUB"
optimize = table_rewrite


def _multipliers(s1, s2, so) -> dict:
    twice = as_float32(2) * max(as_float32(s1), as_float32(s2))
    ins = rescaled_inputs(as_double(as_float32(s1) / twice), as_double(as_float32(s2) / twice), 1.0, 20)
    out_mult, out_shift = quantize_multiplier(as_double(twice / (as_float32(1 << 20) * as_float32(so))))
    return dict(ins, out_mult=out_mult, out_shift=out_shift)


def lower(ctx, op):
    return binary_call(ctx, op, "TEE_SUB", _multipliers)


__all__ = ["OP", "lower", "optimize", "TABLE_PARAMS"]
