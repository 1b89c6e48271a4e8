/* FULLY_CONNECTED reference kernel: int32 accumulation, one requantization per output. */
#include "tinyee_kernels.h"
#include "tee_fixedpoint.h"

void tee_fully_connected_s8(const tee_fc_params *p, const int8_t *in, const int8_t *filter, const int32_t *bias,
                            int8_t *out) {
    for (int32_t r = 0; r < p->rows; ++r) {
        const int8_t *x = in + r * p->in_depth;
        for (int32_t o = 0; o < p->out_depth; ++o) {
            const int8_t *w = filter + o * p->in_depth;
            int32_t acc = 0;
            for (int32_t d = 0; d < p->in_depth; ++d)
                acc += ((int32_t)w[d] + p->filter_offset) * ((int32_t)x[d] + p->in_offset);
            if (bias) acc += bias[o];
            const int ch = p->per_channel ? o : 0;
            *out++ = tee_clamp8(tee_requantize(acc, p->mult[ch], p->shift[ch]) + p->out_offset, p->act_min, p->act_max);
        }
    }
}
