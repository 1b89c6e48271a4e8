/* Requantization of a convolution's accumulator, shared by the reference CONV_2D and DEPTHWISE_CONV_2D. */
#ifndef TEE_CONV_H
#define TEE_CONV_H

#include "tee_fixedpoint.h"
#include "tinyee_kernels.h"

static inline int8_t tee_conv_requantize(int32_t acc, const tee_conv_params *p, int ch) {
    return tee_clamp8(tee_requantize(acc, p->mult[ch], p->shift[ch]) + p->out_offset, p->act_min, p->act_max);
}

#endif
