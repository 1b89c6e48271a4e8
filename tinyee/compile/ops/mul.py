"""MUL (binary.c): one requantization of the product of the offset inputs. With a LOGISTIC of one of
its inputs as the other (SiLU), the optimised set replaces the pair by one lookup table."""

from tinyee.compile.ops._binary import TABLE_PARAMS, binary_call, simd_rewrite
from tinyee.compile.requant import as_double, quantize_multiplier

OP = "MUL"
optimize = simd_rewrite


def _multipliers(s1, s2, so) -> dict:
    out_mult, out_shift = quantize_multiplier(as_double(s1) * as_double(s2) / as_double(so))
    return dict(out_mult=out_mult, out_shift=out_shift)


def lower(ctx, op):
    return binary_call(ctx, op, "TEE_MUL", _multipliers)


__all__ = ["OP", "lower", "optimize", "TABLE_PARAMS"]
