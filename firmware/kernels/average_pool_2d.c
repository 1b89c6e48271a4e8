/* AVERAGE_POOL_2D reference kernel: rounded integer mean over the window part inside the input. */
#include "tinyee_kernels.h"
#include "tee_fixedpoint.h"

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
