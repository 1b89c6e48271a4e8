/* RSQRT reference kernel; the optimised set tabulates it (lut.c). */
#include "tinyee_kernels.h"
#include "tee_fixedpoint.h"

void tee_rsqrt_s8(const tee_rsqrt_params *p, const int8_t *in, int8_t *out) {
    const int32_t k_shift = 20; /* keeps the intermediate an integer, as TFLite Micro */
    for (int32_t i = 0; i < p->size; ++i) {
        const int32_t x = (int32_t)in[i] - p->in_zero_point;
        if (x == 0) {
            out[i] = 127; /* values that quantize to 0 stand for the largest output */
            continue;
        }
        int32_t inv_mult, inv_shift;
        tee_inv_sqrt_multiplier(x, &inv_mult, &inv_shift);
        const int32_t data = tee_requantize(1, inv_mult, inv_shift + k_shift);
        out[i] = tee_clamp8(tee_requantize(data, p->mult, p->shift - k_shift) + p->out_zero_point, -128, 127);
    }
}
