/* LOGISTIC reference kernel (TFLite Micro's fixed-point path); the optimised set tabulates it (lut.c). */
#include "tinyee_kernels.h"
#include "tee_fixedpoint.h"

void tee_logistic_s8(const tee_logistic_params *p, const int8_t *in, int8_t *out) {
    for (int32_t i = 0; i < p->size; ++i) {
        const int32_t x = (int32_t)in[i] - p->in_zero_point;
        if (x <= -p->in_range_radius) {
            out[i] = -128;
        } else if (x >= p->in_range_radius) {
            out[i] = 127;
        } else {
            const int32_t x_q4 = tee_requantize(x, p->in_mult, p->in_left_shift);
            const int32_t y_q0 = tee_logistic_fixed(x_q4, 4);
            out[i] = tee_clamp8(tee_rounding_divide_by_pot(y_q0, 23) - 128, -128, 127);
        }
    }
}
