/* REDUCE_MAX reference kernel: input and output share quantization, so the int8 maximum is the result. */
#include "tinyee_kernels.h"

void tee_reduce_max_s8(const tee_reduce_params *p, const int8_t *in, int8_t *out) {
    for (int32_t o = 0; o < p->outer; ++o) {
        for (int32_t i = 0; i < p->inner; ++i) {
            const int8_t *x = in + o * p->reduce * p->inner + i;
            int8_t best = x[0];
            for (int32_t r = 1; r < p->reduce; ++r) best = x[r * p->inner] > best ? x[r * p->inner] : best;
            *out++ = best;
        }
    }
}
