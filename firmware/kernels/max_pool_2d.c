/* MAX_POOL_2D: the largest value of the part of each window inside the input, then the fused
 * activation's clamp (input and output share quantization, as TFLite requires). */
#include "tinyee_kernels.h"
#include "tee_fixedpoint.h"

void tee_max_pool_s8(const tee_pool_params *p, const int8_t *in, int8_t *out) {
    for (int oy = 0; oy < p->out_h; ++oy) {
        for (int ox = 0; ox < p->out_w; ++ox) {
            const int y0 = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w;
            const int fy0 = y0 < 0 ? -y0 : 0, fx0 = x0 < 0 ? -x0 : 0;
            const int fy1 = p->k_h < p->in_h - y0 ? p->k_h : p->in_h - y0;
            const int fx1 = p->k_w < p->in_w - x0 ? p->k_w : p->in_w - x0;
            for (int c = 0; c < p->channels; ++c) {
                int32_t best = -128;
                for (int fy = fy0; fy < fy1; ++fy)
                    for (int fx = fx0; fx < fx1; ++fx)
                        best = tee_max32(best, in[((int32_t)(y0 + fy) * p->in_w + (x0 + fx)) * p->channels + c]);
                *out++ = tee_clamp8(best, p->act_min, p->act_max);
            }
        }
    }
}
