/* RELU6: a clamp of the int8 values between the input's 0 and 6 (TFLite Micro keeps the input's quantization). */
#include "tinyee_kernels.h"
#include "tee_fixedpoint.h"

void tee_relu6_s8(const tee_clamp_params *p, const int8_t *in, int8_t *out) {
    for (int32_t i = 0; i < p->size; ++i) out[i] = tee_clamp8(in[i], p->lower, p->upper);
}
