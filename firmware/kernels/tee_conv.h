/* What CONV_2D and DEPTHWISE_CONV_2D share: the reference kernels' requantization of an accumulator, and the
 * optimised kernels' parameters for one row of a stream. */
#ifndef TEE_CONV_H
#define TEE_CONV_H

#include "tee_fixedpoint.h"
#include "tinyee_kernels.h"

static inline int8_t tee_conv_requantize(int32_t acc, const tee_conv_params *p, int ch) {
    return tee_clamp8(tee_requantize(acc, p->mult[ch], p->shift[ch]) + p->out_offset, p->act_min, p->act_max);
}

/* The copy p of a convolution's parameters set to one output row of a stream (stream.c). */
static inline void tee_conv_row_params(tee_conv_params *p, const tee_stream_row *r) {
    p->in_h = (int16_t)r->in_rows;
    p->pad_h = (int16_t)r->pad_top;
    p->out_h = 1;
}

#endif
