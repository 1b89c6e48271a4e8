"""ADD (binary.c): inputs rescaled to twice the larger input scale, 20 bits of headroom."""

from tinyee.compile.ops._binary import TABLE_PARAMS, binary_call, rescaled_inputs, table_rewrite
from tinyee.compile.requant import as_double, as_float32, quantize_multiplier

OP = "ADD"
optimize = table_rewrite


def _multipliers(s1, s2, so) -> dict:
    twice = 2 * as_double(max(as_float32(s1), as_float32(s2)))
    out_mult, out_shift = quantize_multiplier(twice / ((1 << 20) * as_double(so)))
    return dict(rescaled_inputs(as_double(s1), as_double(s2), twice, 20), out_mult=out_mult, out_shift=out_shift)


def lower(ctx, op):
    return binary_call(ctx, op, "TEE_ADD", _multipliers)


__all__ = ["OP", "lower", "optimize", "TABLE_PARAMS"]
