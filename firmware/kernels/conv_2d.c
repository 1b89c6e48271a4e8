/* CONV_2D reference kernel: int8, per-channel requantization (NHWC, batch 1). Taps outside the
 * input are skipped, which equals padding with the input zero point. */
#include "tinyee_kernels.h"
#include "tee_conv.h"

void tee_conv2d_s8(const tee_conv_params *p, const int8_t *in, const int8_t *filter, const int32_t *bias, int8_t *out) {
    const int in_c = p->in_c;
    for (int oy = 0; oy < p->out_h; ++oy) {
        const int in_y0 = oy * p->stride_h - p->pad_h;
        for (int ox = 0; ox < p->out_w; ++ox) {
            const int in_x0 = ox * p->stride_w - p->pad_w;
            for (int oc = 0; oc < p->out_c; ++oc) {
                int32_t acc = 0;
                const int8_t *f = filter + (int32_t)oc * p->k_h * p->k_w * in_c;
                for (int ky = 0; ky < p->k_h; ++ky) {
                    const int iy = in_y0 + ky * p->dil_h;
                    if (iy < 0 || iy >= p->in_h) continue;
                    for (int kx = 0; kx < p->k_w; ++kx) {
                        const int ix = in_x0 + kx * p->dil_w;
                        if (ix < 0 || ix >= p->in_w) continue;
                        const int8_t *x = in + ((int32_t)iy * p->in_w + ix) * in_c;
                        const int8_t *w = f + ((int32_t)ky * p->k_w + kx) * in_c;
                        for (int ic = 0; ic < in_c; ++ic) acc += (int32_t)w[ic] * ((int32_t)x[ic] + p->in_offset);
                    }
                }
                if (bias) acc += bias[oc];
                *out++ = tee_conv_requantize(acc, p, oc);
            }
        }
    }
}
