"""Build-time requantization parameters, computed with TFLite Micro's exact float/double order.

Scales in a .tflite file are float32; where TFLM multiplies them in float32 before widening to
double, so do we (np.float32), and elsewhere everything is Python float (double).
"""

from __future__ import annotations

import math

import numpy as np

from tinyee.errors import TinyeeError


def as_float32(x) -> np.float32:
    return np.float32(x)


def as_double(x) -> float:
    """float32 -> double, as static_cast<double>."""
    return float(np.float32(x))


def round_half_away(v: float) -> float:
    return math.floor(v + 0.5) if v >= 0 else -math.floor(-v + 0.5)


def quantize_multiplier(m: float) -> tuple[int, int]:
    """QuantizeMultiplier: m = q * 2^shift with q a Q0.31 integer (shift > 0 means left shift)."""
    if m == 0.0:
        return 0, 0
    q, shift = math.frexp(m)
    q_fixed = int(round_half_away(q * (1 << 31)))
    if q_fixed == 1 << 31:
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if q_fixed > 2**31 - 1:
        raise TinyeeError(f"multiplier {m} does not fit a Q0.31 integer")
    return q_fixed, shift


UNDERFLOW = "a multiplier below 2^-31 (TFLite's 0), which the optimised kernels' requantization does not take"


def normalized(*multipliers: int) -> bool:
    """Whether every multiplier is in [2^30, 2^31), QuantizeMultiplier's range for all but its zero result
    (a multiplier below 2^-31): what the optimised kernels' scalar requantization (tee_high_mul) takes."""
    return all(m >= 1 << 30 for m in multipliers)


def activation_range(fused: int, scale: float, zero_point: int) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for int8 (NONE, RELU, RELU_N1_TO_1, RELU6)."""
    def q(f: float) -> int:
        return zero_point + int(round_half_away(float(as_float32(f) / as_float32(scale))))

    lo, hi = -128, 127
    if fused == 0:
        return lo, hi
    if fused == 1:
        return max(lo, q(0.0)), hi
    if fused == 2:
        return max(lo, q(-1.0)), min(hi, q(1.0))
    if fused == 3:
        return max(lo, q(0.0)), min(hi, q(6.0))
    raise TinyeeError(f"fused activation {fused} is not supported for int8")


def per_channel(s_in: float, s_w: list[float], s_out: float) -> tuple[list[int], list[int]]:
    """Conv / depthwise / per-channel FC: double(s_in) * double(s_w[c]) / double(s_out)."""
    pairs = [quantize_multiplier(as_double(s_in) * as_double(w) / as_double(s_out)) for w in s_w]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def per_tensor_product(s_a: float, s_b: float, s_out: float) -> tuple[int, int]:
    """Per-tensor FC and BATCH_MATMUL: the scale product is rounded to float32 first."""
    return quantize_multiplier(as_double(as_float32(s_a) * as_float32(s_b)) / as_double(s_out))


def calculate_input_radius(integer_bits: int, left_shift: int, total_bits: int = 31) -> int:
    return math.floor(((1 << integer_bits) - 1) * (1 << (total_bits - integer_bits)) / (1 << left_shift))
