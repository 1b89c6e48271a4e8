/* RELU: requantized to the output's scale, then clamped at the output's zero point (TFLite Micro's int8 path). */
#include "tinyee_kernels.h"
#include "tee_fixedpoint.h"

void tee_relu_s8(const tee_relu_params *p, const int8_t *in, int8_t *out) {
    for (int32_t i = 0; i < p->size; ++i) {
        const int32_t v = p->out_zero_point + tee_requantize((int32_t)in[i] - p->in_zero_point, p->mult, p->shift);
        out[i] = tee_clamp8(v, p->act_min, p->act_max);
    }
}
