"""SQUARED_DIFFERENCE (binary.c): inputs rescaled as ADD with 7 bits of headroom, then squared."""

from tinyee.compile.ops._binary import TABLE_PARAMS, binary_call, rescaled_inputs, table_rewrite
from tinyee.compile.requant import as_double, as_float32, quantize_multiplier

OP = "SQUARED_DIFFERENCE"
optimize = table_rewrite


def _multipliers(s1, s2, so) -> dict:
    twice = 2.0 * as_double(max(as_float32(s1), as_float32(s2)))
    out_mult, out_shift = quantize_multiplier(twice * twice / as_double(as_float32(1 << 14) * as_float32(so)))
    return dict(rescaled_inputs(as_double(s1), as_double(s2), twice, 7), out_mult=out_mult, out_shift=out_shift)


def lower(ctx, op):
    return binary_call(ctx, op, "TEE_SQUARED_DIFFERENCE", _multipliers)


__all__ = ["OP", "lower", "optimize", "TABLE_PARAMS"]
