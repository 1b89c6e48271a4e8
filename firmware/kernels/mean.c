/* MEAN reference kernel: integer mean over a contiguous block of axes, 1/count folded into the multiplier. */
#include "tinyee_kernels.h"
#include "tee_fixedpoint.h"

void tee_mean_s8(const tee_mean_params *p, const int8_t *in, int8_t *out) {
    for (int32_t o = 0; o < p->outer; ++o) {
        for (int32_t i = 0; i < p->inner; ++i) {
            int32_t sum = 0;
            const int8_t *x = in + o * p->reduce * p->inner + i;
            for (int32_t r = 0; r < p->reduce; ++r) sum += x[r * p->inner];
            const int32_t shifted = sum - p->in_zero_point * p->reduce;
            *out++ = tee_clamp8(tee_requantize(shifted, p->mult, p->shift) + p->out_zero_point, -128, 127);
        }
    }
}
