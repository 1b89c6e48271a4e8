/* Integer arithmetic of TFLite Micro's int8 reference kernels (gemmlowp double rounding).
 * Everything here is exact integer math, so host and Cortex-M builds agree bit for bit. */
#ifndef TEE_FIXEDPOINT_H
#define TEE_FIXEDPOINT_H

#include <stdint.h>

#define TEE_INT32_MIN ((int32_t)0x80000000)
#define TEE_INT32_MAX ((int32_t)0x7fffffff)

static inline int32_t tee_min32(int32_t a, int32_t b) { return a < b ? a : b; }
static inline int32_t tee_max32(int32_t a, int32_t b) { return a > b ? a : b; }
static inline int8_t tee_clamp8(int32_t v, int32_t lo, int32_t hi) { return (int8_t)tee_min32(tee_max32(v, lo), hi); }

/* clamp(v, lo, hi) (an int8 value, as int32) where full_range (lo = -128, hi = 127; a constant where the kernels call it) is one
 * SSAT on cores that have it: most layers' activation range is all of int8, and GCC does not turn the
 * two compares into SSAT itself. */
static inline int32_t tee_clamp8_act(int32_t v, int32_t lo, int32_t hi, int full_range) {
#if defined(__ARM_FEATURE_SAT)
    if (full_range) {
        int32_t r;
        __asm("ssat %0, #8, %1" : "=r"(r) : "r"(v));
        return r;
    }
#else
    (void)full_range;
#endif
    return tee_clamp8(v, lo, hi);
}

/* Wrapping shift left (the C++ reference multiplies by 1 << n and relies on wrap-around). */
static inline int32_t tee_shl32(int32_t x, int n) { return (int32_t)((uint32_t)x << n); }

/* gemmlowp SaturatingRoundingDoublingHighMul: round(a * b / 2^31), saturating -1 * -1.
 * gemmlowp adds 2^30 (ab >= 0) or 1 - 2^30 (ab < 0) and divides truncating toward zero; for ab < 0
 * that is ceil((ab + 1 - 2^30) / 2^31) = floor((ab + 2^30) / 2^31), the same formula as for ab >= 0,
 * so one add and an arithmetic shift give gemmlowp's result for every input. */
static inline int32_t tee_sat_rounding_doubling_high_mul(int32_t a, int32_t b) {
    if (a == b && a == TEE_INT32_MIN) return TEE_INT32_MAX;
    return (int32_t)(((int64_t)a * (int64_t)b + (1 << 30)) >> 31);
}

/* gemmlowp RoundingDivideByPOT: x / 2^exponent rounded to nearest, ties away from zero. */
static inline int32_t tee_rounding_divide_by_pot(int32_t x, int exponent) {
    int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    int32_t remainder = x & mask;
    int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* x * multiplier * 2^shift: TFLite's MultiplyByQuantizedMultiplier (double rounding); shift > 0 is a left shift. */
static inline int32_t tee_requantize(int32_t x, int32_t multiplier, int32_t shift) {
    int left = shift > 0 ? shift : 0;
    int right = shift > 0 ? 0 : -shift;
    return tee_rounding_divide_by_pot(tee_sat_rounding_doubling_high_mul(tee_shl32(x, left), multiplier), right);
}

/* One output channel's bias, multiplier and shift with the shift split once, so that each of the
 * channel's outputs pays only the arithmetic (the scalar optimised kernels). mult2 is the multiplier
 * doubled and wrapped to int32 (2m - 2^32), the form tee_high_mul takes. */
typedef struct {
    int32_t bias, mult2, left, right;
} tee_channel_q;

static inline tee_channel_q tee_channel(int32_t bias, int32_t mult, int32_t shift) {
    const tee_channel_q q = {bias, (int32_t)((uint32_t)mult << 1), shift > 0 ? shift : 0, shift > 0 ? 0 : -shift};
    return q;
}

/* tee_sat_rounding_doubling_high_mul(x, m) for m in [2^30, 2^31), from mult2 = 2m - 2^32 (wrapped):
 * x + round(x * mult2 / 2^32) = round(x * 2m / 2^32) exactly, since x * 2^32 / 2^32 is an integer,
 * and that is floor((x m + 2^30) / 2^31). On the DSP extension it is one SMMLAR instead of a 64-bit
 * multiply-accumulate, a constant and two shifts. */
static inline int32_t tee_high_mul(int32_t x, int32_t mult2) {
#if defined(__ARM_FEATURE_DSP)
    int32_t r;
    __asm("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(x), "r"(mult2), "r"(x));
    return r;
#else
    /* What SMMLAR computes, (x * 2^32 + x * mult2 + 2^31) / 2^32, so that host builds agree with the target
     * for a zero multiplier too (x, not 0; the kernels are never given one). */
    return (int32_t)(((int64_t)x * ((int64_t)mult2 + 4294967296LL) + 0x80000000LL) >> 32);
#endif
}

/* tee_requantize(acc + q->bias, multiplier, shift), bit for bit, for multipliers in [2^30, 2^31)
 * (QuantizeMultiplier's range; the code generator keeps the reference kernel for a zero one): then
 * the high multiply's -1 x -1 saturation cannot occur, and the rounding right shift (ties away from
 * zero) is floor((floor((h - [h < 0]) / 2^(n-1)) + 1) / 2), with no masks to build per output.
 * |h| < 2^31 for multipliers below 2^31, so h - 1 cannot wrap. */
static inline int32_t tee_requantize_channel(int32_t acc, const tee_channel_q *q) {
    const int32_t x = tee_shl32(acc + q->bias, q->left);
    const int32_t h = tee_high_mul(x, q->mult2);
    if (!q->right) return h;
    const int32_t t = (h - (h < 0)) >> (q->right - 1);
    return (t >> 1) + (t & 1);
}

/* Saturating x * 2^exponent (exponent > 0) as gemmlowp's SaturatingRoundingMultiplyByPOT. */
static inline int32_t tee_sat_shl(int32_t x, int exponent) {
    int32_t threshold = (int32_t)(((int64_t)1 << (31 - exponent)) - 1);
    if (x > threshold) return TEE_INT32_MAX;
    if (x < -threshold) return TEE_INT32_MIN;
    return tee_shl32(x, exponent);
}

/* Rescale a fixed-point raw value from src to dst integer bits (gemmlowp Rescale). */
static inline int32_t tee_rescale(int32_t x, int src_bits, int dst_bits) {
    int e = src_bits - dst_bits;
    if (e > 0) return tee_sat_shl(x, e);
    if (e < 0) return tee_rounding_divide_by_pot(x, -e);
    return x;
}

/* Functions of gemmlowp's fixedpoint.h on int32 raw values (declared here, defined once). */
int32_t tee_exp_on_negative_values(int32_t a, int integer_bits); /* exp(a) for a <= 0, result Q0.31 */
int32_t tee_one_over_one_plus_x_for_x_in_0_1(int32_t a);         /* Q0.31 in, Q0.31 out */
int32_t tee_logistic_fixed(int32_t a, int integer_bits);          /* Q0.31 out */
int32_t tee_get_reciprocal(int32_t x, int x_integer_digits, int *num_bits_over_unit);
void tee_inv_sqrt_multiplier(int32_t input, int32_t *out_multiplier, int32_t *out_shift);

#endif
