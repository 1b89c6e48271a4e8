/* SOFTMAX int8 -> int8 (output scale 1/256, zero point -128), TFLite Micro's fixed-point path. */
#include "tinyee_kernels.h"
#include "tee_fixedpoint.h"

#define SCALED_DIFF_INTEGER_BITS 5
#define ACCUMULATION_INTEGER_BITS 12

/* exp(diff * input scale * beta) in Q0.31 for diff = input - row max (in [-255, 0]); 0 below diff_min. */
static inline int32_t softmax_exp(const tee_softmax_params *p, int32_t diff) {
    if (diff < p->diff_min) return 0;
    const int32_t scaled = tee_sat_rounding_doubling_high_mul(tee_shl32(diff, p->in_left_shift), p->in_mult);
    return tee_exp_on_negative_values(scaled, SCALED_DIFF_INTEGER_BITS);
}

/* exps: NULL (computed per element, as the reference) or the 256 values of softmax_exp for diff = -index. */
static void softmax(const tee_softmax_params *params, const int8_t *in, const int32_t *exps, int8_t *out) {
    const tee_softmax_params local = *params; /* not aliased by the int8 stores, so kept in registers */
    const tee_softmax_params *p = &local;
    for (int32_t r = 0; r < p->rows; ++r, in += p->depth, out += p->depth) {
        int32_t max_in_row = -128;
        for (int32_t c = 0; c < p->depth; ++c) max_in_row = tee_max32(max_in_row, in[c]);
        int32_t sum_of_exps = 0; /* Q12.19 */
        for (int32_t c = 0; c < p->depth; ++c) {
            const int32_t diff = (int32_t)in[c] - max_in_row;
            if (diff >= p->diff_min)
                sum_of_exps += tee_rescale(exps ? exps[-diff] : softmax_exp(p, diff), 0, ACCUMULATION_INTEGER_BITS);
        }
        int num_bits_over_unit;
        const int32_t shifted_scale = tee_get_reciprocal(sum_of_exps, ACCUMULATION_INTEGER_BITS, &num_bits_over_unit);
        const int exponent = num_bits_over_unit + 31 - 8;
        for (int32_t c = 0; c < p->depth; ++c) {
            const int32_t diff = (int32_t)in[c] - max_in_row;
            if (diff >= p->diff_min) {
                const int32_t e = exps ? exps[-diff] : softmax_exp(p, diff);
                const int32_t unsat = tee_rounding_divide_by_pot(tee_sat_rounding_doubling_high_mul(shifted_scale, e), exponent);
                out[c] = tee_clamp8(unsat - 128, -128, 127);
            } else {
                out[c] = -128;
            }
        }
    }
}

void tee_softmax_s8(const tee_softmax_params *p, const int8_t *in, int8_t *out) { softmax(p, in, 0, out); }

/* The exponentials of diff = 0, -1, .., diff_min: below diff_min they are 0 and never looked up. */
static int32_t table_entries(const tee_softmax_params *p) { return 1 - (p->diff_min < -255 ? -255 : p->diff_min); }

/* The table pays off from about one element per entry on: the reference computes each element's
 * exponential twice. */
int32_t tee_softmax_table_s8_scratch_size(const tee_softmax_params *p) {
    const int32_t entries = table_entries(p);
    return p->rows * p->depth < entries ? TEE_KEEP_AS_FAST : entries * (int32_t)sizeof(int32_t);
}

void tee_softmax_table_s8(const tee_softmax_params *p, const int8_t *in, int8_t *scratch, int8_t *out) {
    int32_t *exps = (int32_t *)(void *)scratch; /* the arena planner aligns scratch to 16 bytes */
    for (int32_t i = 0, n = table_entries(p); i < n; ++i) exps[i] = softmax_exp(p, -i);
    softmax(p, in, exps, out);
}
