/* SOFTMAX int8 -> int8 (output scale 1/256, zero point -128), TFLite Micro's fixed-point path. */
#include "tinyee_kernels.h"
#include "tee_fixedpoint.h"

#define SCALED_DIFF_INTEGER_BITS 5
#define ACCUMULATION_INTEGER_BITS 12

void tee_softmax_s8(const tee_softmax_params *p, const int8_t *in, int8_t *out) {
    for (int32_t r = 0; r < p->rows; ++r, in += p->depth, out += p->depth) {
        int32_t max_in_row = -128;
        for (int32_t c = 0; c < p->depth; ++c) max_in_row = tee_max32(max_in_row, in[c]);
        int32_t sum_of_exps = 0; /* Q12.19 */
        for (int32_t c = 0; c < p->depth; ++c) {
            const int32_t diff = (int32_t)in[c] - max_in_row;
            if (diff >= p->diff_min) {
                const int32_t scaled = tee_srdhm(tee_shl32(diff, p->in_left_shift), p->in_mult);
                const int32_t e = tee_exp_on_negative_values(scaled, SCALED_DIFF_INTEGER_BITS);
                sum_of_exps += tee_rescale(e, 0, ACCUMULATION_INTEGER_BITS);
            }
        }
        int num_bits_over_unit;
        const int32_t shifted_scale = tee_get_reciprocal(sum_of_exps, ACCUMULATION_INTEGER_BITS, &num_bits_over_unit);
        const int exponent = num_bits_over_unit + 31 - 8;
        for (int32_t c = 0; c < p->depth; ++c) {
            const int32_t diff = (int32_t)in[c] - max_in_row;
            if (diff >= p->diff_min) {
                const int32_t scaled = tee_srdhm(tee_shl32(diff, p->in_left_shift), p->in_mult);
                const int32_t e = tee_exp_on_negative_values(scaled, SCALED_DIFF_INTEGER_BITS);
                const int32_t unsat = tee_rdbpot(tee_srdhm(shifted_scale, e), exponent);
                out[c] = tee_clamp8(unsat - 128, -128, 127);
            } else {
                out[c] = -128;
            }
        }
    }
}
