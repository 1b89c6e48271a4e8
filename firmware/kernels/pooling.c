/* MEAN (integer mean over a contiguous block of axes) and AVERAGE_POOL_2D. */
#include "tinyee_kernels.h"
#include "tee_fixedpoint.h"

void tee_mean_s8(const tee_mean_params *p, const int8_t *in, int8_t *out) {
    for (int32_t o = 0; o < p->outer; ++o) {
        for (int32_t i = 0; i < p->inner; ++i) {
            int32_t sum = 0;
            const int8_t *x = in + o * p->reduce * p->inner + i;
            for (int32_t r = 0; r < p->reduce; ++r) sum += x[r * p->inner];
            const int32_t shifted = sum - p->in_zero_point * p->reduce;
            *out++ = tee_clamp8(tee_mbqm(shifted, p->mult, p->shift) + p->out_zero_point, -128, 127);
        }
    }
}

void tee_average_pool_s8(const tee_pool_params *p, const int8_t *in, int8_t *out) {
    for (int oy = 0; oy < p->out_h; ++oy) {
        for (int ox = 0; ox < p->out_w; ++ox) {
            const int y0 = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w;
            const int fy0 = y0 < 0 ? -y0 : 0, fx0 = x0 < 0 ? -x0 : 0;
            const int fy1 = p->k_h < p->in_h - y0 ? p->k_h : p->in_h - y0;
            const int fx1 = p->k_w < p->in_w - x0 ? p->k_w : p->in_w - x0;
            for (int c = 0; c < p->channels; ++c) {
                int32_t acc = 0, count = 0;
                for (int fy = fy0; fy < fy1; ++fy)
                    for (int fx = fx0; fx < fx1; ++fx) {
                        acc += in[((int32_t)(y0 + fy) * p->in_w + (x0 + fx)) * p->channels + c];
                        ++count;
                    }
                if (count == 0) count = 1; /* TFLite would divide by zero; such windows cannot occur with valid padding */
                acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                *out++ = tee_clamp8(acc, p->act_min, p->act_max);
            }
        }
    }
}
