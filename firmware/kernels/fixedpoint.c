/* Transcendental helpers on gemmlowp fixed-point raw int32 values, written to reproduce
 * gemmlowp/TFLite's results exactly (same constants, same operation order). */
#include "tee_fixedpoint.h"

#define TEE_FX_ONE_Q0 TEE_INT32_MAX /* "1.0" with 0 integer bits */

static inline int32_t fx_mul(int32_t a, int32_t b) { return tee_sat_rounding_doubling_high_mul(a, b); }

/* RoundingHalfSum: (a + b) / 2 rounded away from zero. */
static inline int32_t fx_half_sum(int32_t a, int32_t b) {
    int64_t sum = (int64_t)a + (int64_t)b;
    int64_t sign = sum >= 0 ? 1 : -1;
    return (int32_t)((sum + sign) / 2);
}

/* exp(x) for x in [-1/4, 0), Q0.31. */
static int32_t exp_on_interval_minus_quarter_0(int32_t a) {
    const int32_t constant_term = 1895147668;   /* exp(-1/8) */
    const int32_t constant_1_over_3 = 715827883;
    int32_t x = a + (1 << 28);                   /* a + 1/8 */
    int32_t x2 = fx_mul(x, x);
    int32_t x3 = fx_mul(x2, x);
    int32_t x4 = fx_mul(x2, x2);
    int32_t x4_over_4 = tee_rounding_divide_by_pot(x4, 2);
    int32_t poly = tee_rounding_divide_by_pot(fx_mul(x4_over_4 + x3, constant_1_over_3) + x2, 1);
    return constant_term + fx_mul(constant_term, x + poly);
}

int32_t tee_exp_on_negative_values(int32_t a, int integer_bits) {
    const int fractional_bits = 31 - integer_bits;
    const int32_t one_quarter = (int32_t)1 << (fractional_bits - 2);
    const int32_t mask = one_quarter - 1;
    int32_t a_mod_quarter_minus_one_quarter = (a & mask) - one_quarter;
    int32_t result = exp_on_interval_minus_quarter_0(tee_rescale(a_mod_quarter_minus_one_quarter, integer_bits, 0));
    int32_t remainder = a_mod_quarter_minus_one_quarter - a;
    /* Barrel shifter: multiply by exp(-2^k) for each set bit of the remainder. */
    static const int32_t multipliers[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
    for (int k = -2; k <= 4; ++k) {
        if (integer_bits > k) {
            int shift = fractional_bits + k;
            if (remainder & ((int32_t)1 << shift)) result = fx_mul(result, multipliers[k + 2]);
        }
    }
    if (integer_bits > 5) {
        int32_t clamp = -((int32_t)1 << (36 - integer_bits)); /* -32.0 */
        if (a < clamp) result = 0;
    }
    if (a == 0) result = TEE_FX_ONE_Q0;
    return result;
}

int32_t tee_one_over_one_plus_x_for_x_in_0_1(int32_t a) {
    /* Newton-Raphson division in Q2.29, as gemmlowp. */
    int32_t half_denominator = fx_half_sum(a, TEE_FX_ONE_Q0);
    const int32_t constant_48_over_17 = 1515870810;
    const int32_t constant_neg_32_over_17 = -1010580540;
    const int32_t one_q2 = (int32_t)1 << 29;
    int32_t x = constant_48_over_17 + fx_mul(half_denominator, constant_neg_32_over_17);
    for (int i = 0; i < 3; ++i) {
        int32_t half_denominator_times_x = fx_mul(half_denominator, x);      /* Q2 */
        int32_t one_minus = one_q2 - half_denominator_times_x;              /* Q2 */
        x = x + tee_rescale(fx_mul(x, one_minus), 4, 2);                     /* Q4 -> Q2 */
    }
    /* ExactMulByPot<-1> turns Q2 into Q1 with the same raw value; Rescale<0> from Q1. */
    return tee_rescale(x, 1, 0);
}

int32_t tee_logistic_fixed(int32_t a, int integer_bits) {
    if (a == 0) return 1 << 30; /* 0.5 */
    int positive = a > 0;
    int32_t abs_input = positive ? a : -a;
    int32_t result_if_positive = tee_one_over_one_plus_x_for_x_in_0_1(tee_exp_on_negative_values(-abs_input, integer_bits));
    return positive ? result_if_positive : TEE_FX_ONE_Q0 - result_if_positive;
}

static int count_leading_zeros32(uint32_t x) {
    if (x == 0) return 32;
    int n = 0;
    while (!(x & 0x80000000u)) { x <<= 1; ++n; }
    return n;
}

int32_t tee_get_reciprocal(int32_t x, int x_integer_digits, int *num_bits_over_unit) {
    int headroom_plus_one = count_leading_zeros32((uint32_t)x);
    *num_bits_over_unit = x_integer_digits - headroom_plus_one;
    int32_t shifted_sum_minus_one = (int32_t)(((uint32_t)x << headroom_plus_one) - ((uint32_t)1 << 31));
    return tee_one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one);
}

void tee_inv_sqrt_multiplier(int32_t input, int32_t *out_multiplier, int32_t *out_shift) {
    /* TFLite GetInvSqrtQuantizedMultiplierExp with reverse_shift = -1. */
    if (input <= 1) {
        *out_multiplier = TEE_INT32_MAX;
        *out_shift = 0;
        return;
    }
    int shift = 11;
    while (input >= (1 << 29)) {
        input /= 4;
        ++shift;
    }
    unsigned max_left_shift_bits = (unsigned)count_leading_zeros32((uint32_t)input) - 1;
    unsigned left_shift_bit_pairs = max_left_shift_bits / 2 - 1;
    shift -= (int)left_shift_bit_pairs;
    input <<= 2 * left_shift_bit_pairs;
    /* Newton-Raphson for 1/sqrt in Q3.28. */
    const int32_t fixedpoint_input = input >> 1;
    const int32_t fixedpoint_half_input = tee_rounding_divide_by_pot(fixedpoint_input, 1);
    const int32_t fixedpoint_half_three = (1 << 28) + (1 << 27);
    int32_t x = 1 << 28; /* One() in Q3 */
    for (int i = 0; i < 5; ++i) {
        int32_t x3 = tee_rescale(fx_mul(fx_mul(x, x), x), 9, 3);
        x = tee_rescale(fx_mul(fixedpoint_half_three, x) - fx_mul(fixedpoint_half_input, x3), 6, 3);
    }
    const int32_t fixedpoint_half_sqrt_2 = 1518500250; /* Q0 */
    x = fx_mul(x, fixedpoint_half_sqrt_2);             /* Q3 */
    if (shift < 0) {
        x = tee_shl32(x, -shift);
        shift = 0;
    }
    *out_multiplier = x;
    *out_shift = -shift; /* reverse_shift = -1: right shift becomes a negative left shift */
}
