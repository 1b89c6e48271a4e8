#include <string.h>

#include "tinyee_kernels.h"
#include "tee_fixedpoint.h"
#include "tee_simd.h"

#define MAX_TAPS 64 /* largest k_h * k_w: the tap tables live on the stack */

/* Depth multiplier 1 and at most MAX_TAPS taps, or -1. Scratch: a ring of the (pad_h * dil_h + 1) input rows
 * still to be read when stride 1 keeps the output shaped as the input, so the output may overwrite the
 * input; otherwise none. */
int32_t tee_depthwise_conv2d_simd_s8_scratch_size(const tee_conv_params *p) {
    if (p->depth_multiplier != 1 || p->k_h * p->k_w > MAX_TAPS) return -1;
    const int same_shape = p->stride_h == 1 && p->stride_w == 1 && p->out_h == p->in_h && p->out_w == p->in_w;
    return same_shape ? (p->pad_h * p->dil_h + 1) * (int32_t)p->in_w * p->in_c : 0;
}

/* DEPTHWISE_CONV_2D (depth multiplier 1): on Helium sixteen channels at a time (tee_depthwise_x16, then
 * tee_depthwise_x4 for the rest) with vector requantization, otherwise four (tee_depthwise_4). Taps outside the input add (zero point + in_offset) * w = 0, so they are left out, which equals padding.
 * In place (scratch given, stride 1, output shaped as the input): output row y is written over
 * input row y, so input rows y - pad_h * dil_h .. y, which the rows from y on still read, are kept
 * in a ring of pad_h * dil_h + 1 rows in scratch, each saved just before it is overwritten. */
void tee_depthwise_conv2d_simd_s8(const tee_conv_params *params, const int8_t *in, const int8_t *filter,
                                  const int32_t *bias, int8_t *scratch, int8_t *out) {
    const tee_conv_params local = *params; /* not aliased by the int8 stores, so kept in registers */
    const tee_conv_params *p = &local;
    const int8_t *x_at[MAX_TAPS];
    int32_t w_at[MAX_TAPS];
    const int32_t channels = p->in_c, out_offset = p->out_offset, act_min = p->act_min, act_max = p->act_max;
    const int32_t row_bytes = (int32_t)p->in_w * channels, ring = p->pad_h * p->dil_h + 1;
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
        if (scratch) memcpy(scratch + oy % ring * row_bytes, in + oy * row_bytes, (size_t)row_bytes);
        const int32_t in_y0 = oy * p->stride_h - p->pad_h;
        for (int32_t ox = 0; ox < p->out_w; ++ox, out += channels) {
            const int32_t in_x0 = ox * p->stride_w - p->pad_w;
            int32_t taps = 0;
            for (int32_t ky = 0; ky < p->k_h; ++ky) {
                const int32_t iy = in_y0 + ky * p->dil_h;
                if (iy < 0 || iy >= p->in_h) continue;
                const int8_t *row = scratch && iy <= oy ? scratch + iy % ring * row_bytes : in + iy * row_bytes;
                for (int32_t kx = 0; kx < p->k_w; ++kx) {
                    const int32_t ix = in_x0 + kx * p->dil_w;
                    if (ix < 0 || ix >= p->in_w) continue;
                    x_at[taps] = row + ix * channels;
                    w_at[taps++] = (ky * p->k_w + kx) * channels;
                }
            }
#if defined(TEE_PATH_MVE)
            int32_t c = 0;
            for (; c + 16 <= channels; c += 16) {
                int32x4_t acc[4];
                tee_depthwise_x16(c, filter + c, x_at, w_at, taps, p->in_offset, acc);
                for (int32_t j = 0; j < 4; ++j) {
                    const int32_t ch = c + 4 * j;
                    tee_store_x4(out + ch, bias ? vaddq_s32(acc[j], vldrwq_s32(bias + ch)) : acc[j],
                                 vldrwq_s32(p->mult + ch), tee_split_shift_x4(vldrwq_s32(p->shift + ch)), out_offset,
                                 act_min, act_max, 4);
                }
            }
            for (; c < channels; c += 4) {
                const mve_pred16_t pred = vctp32q((uint32_t)(channels - c));
                int32x4_t acc = tee_depthwise_x4(c, filter + c, x_at, w_at, taps, p->in_offset, pred);
                if (bias) acc = vaddq_s32(acc, vldrwq_z_s32(bias + c, pred));
                tee_store_x4(out + c, acc, vldrwq_z_s32(p->mult + c, pred),
                             tee_split_shift_x4(vldrwq_z_s32(p->shift + c, pred)), out_offset, act_min, act_max,
                             channels - c);
            }
#else
            int32_t c = 0;
            for (; c + 4 <= channels; c += 4) {
                int32_t acc[4];
                tee_depthwise_4(c, filter + c, x_at, w_at, taps, p->in_offset, acc);
                for (int32_t i = 0; i < 4; ++i) {
                    const int32_t ch = c + i;
                    out[ch] = tee_clamp8(tee_requantize_nonneg(acc[i] + (bias ? bias[ch] : 0), p->mult[ch], p->shift[ch]) +
                                             out_offset, act_min, act_max);
                }
            }
            for (; c < channels; ++c) {
                int32_t acc = bias ? bias[c] : 0;
                for (int32_t t = 0; t < taps; ++t) acc += (x_at[t][c] + p->in_offset) * filter[w_at[t] + c];
                out[c] = tee_clamp8(tee_requantize_nonneg(acc, p->mult[c], p->shift[c]) + out_offset, act_min, act_max);
            }
#endif
        }
    }
}
