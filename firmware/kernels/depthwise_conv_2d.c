/* DEPTHWISE_CONV_2D reference kernel: int8, per-channel requantization, any depth multiplier. */
#include "tinyee_kernels.h"
#include "tee_conv.h"

void tee_depthwise_conv2d_s8(const tee_conv_params *p, const int8_t *in, const int8_t *filter, const int32_t *bias,
                             int8_t *out) {
    const int out_c = p->out_c;
    for (int oy = 0; oy < p->out_h; ++oy) {
        const int in_y0 = oy * p->stride_h - p->pad_h;
        for (int ox = 0; ox < p->out_w; ++ox) {
            const int in_x0 = ox * p->stride_w - p->pad_w;
            for (int ic = 0; ic < p->in_c; ++ic) {
                for (int m = 0; m < p->depth_multiplier; ++m) {
                    const int oc = ic * p->depth_multiplier + m;
                    int32_t acc = 0;
                    for (int ky = 0; ky < p->k_h; ++ky) {
                        const int iy = in_y0 + ky * p->dil_h;
                        if (iy < 0 || iy >= p->in_h) continue;
                        for (int kx = 0; kx < p->k_w; ++kx) {
                            const int ix = in_x0 + kx * p->dil_w;
                            if (ix < 0 || ix >= p->in_w) continue;
                            const int32_t x = in[((int32_t)iy * p->in_w + ix) * p->in_c + ic];
                            const int32_t w = filter[((int32_t)ky * p->k_w + kx) * out_c + oc];
                            acc += w * (x + p->in_offset);
                        }
                    }
                    if (bias) acc += bias[oc];
                    out[((int32_t)oy * p->out_w + ox) * out_c + oc] = tee_conv_requantize(acc, p, oc);
                }
            }
        }
    }
}
