#include <string.h>

#include "tinyee_kernels.h"
#include "tee_fixedpoint.h"
#include "tee_simd.h"

#define MAX_TAPS 64 /* largest k_h * k_w: the tap tables live on the stack */

#if defined(TEE_PATH_MVE)
static const uint32_t EVEN_LANES[4] = {0, 2, 4, 6};
#endif

/* Stride 1 with the output shaped as the input: then the output may overwrite the input. */
static int in_place(const tee_conv_params *p) {
    return p->stride_h == 1 && p->stride_w == 1 && p->out_h == p->in_h && p->out_w == p->in_w;
}

/* Depth multiplier 1 and at most MAX_TAPS taps, or -1. Scratch: one row of in_c input zero points, which
 * taps outside the input read, then, in place, a ring of the (pad_h * dil_h + 1) input rows still to be read. */
int32_t tee_depthwise_conv2d_simd_s8_scratch_size(const tee_conv_params *p) {
    if (p->depth_multiplier != 1 || p->k_h * p->k_w > MAX_TAPS) return -1;
    return p->in_c + (in_place(p) ? (p->pad_h * p->dil_h + 1) * (int32_t)p->in_w * p->in_c : 0);
}

/* Channel c alone: folded bias plus the window's products (tap t's weight at w[t * w_stride + c]). */
static inline int32_t window_1(int32_t c, const int8_t *w, int32_t w_stride, const int8_t *const *x, int32_t taps,
                               int32_t acc) {
    for (int32_t t = 0; t < taps; ++t) acc += x[t][c] * w[t * w_stride + c];
    return acc;
}

/* DEPTHWISE_CONV_2D (depth multiplier 1). The input offset is out of the inner loop:
 * sum (x + in_offset) w = sum x w + in_offset sum w, the second term in p->folded_bias; so a tap
 * outside the input reads the zero-point row (x + in_offset = 0) and every pixel has all taps.
 * Helium: sixteen channels at a time (tee_depthwise_x16), then four (tee_depthwise_x4), with vector
 * requantization; otherwise four at a time (tee_depthwise_4).
 * In place (output shaped as the input, stride 1): output row y is written over input row y, so
 * input rows y - pad_h * dil_h .. y, which the rows from y on still read, are kept in a ring of
 * pad_h * dil_h + 1 rows in scratch, each saved just before it is overwritten. */
void tee_depthwise_conv2d_simd_s8(const tee_conv_params *params, const int8_t *in, const int8_t *filter, int8_t *scratch,
                                  int8_t *out) {
    const tee_conv_params local = *params; /* not aliased by the int8 stores, so kept in registers */
    const tee_conv_params *p = &local;
    const int8_t *x_at[MAX_TAPS];
    const int32_t channels = p->in_c, out_offset = p->out_offset, act_min = p->act_min, act_max = p->act_max;
    const int32_t *bias = p->folded_bias;
    const int32_t row_bytes = (int32_t)p->in_w * channels, ring_rows = p->pad_h * p->dil_h + 1;
    const int32_t taps = (int32_t)p->k_h * p->k_w;
    int8_t *zero_row = scratch, *ring = in_place(p) ? scratch + channels : NULL;
    memset(zero_row, (int8_t)(-p->in_offset), (size_t)channels);
    for (int32_t oy = 0, ring_y = 0; oy < p->out_h; ++oy, ring_y = ring_y + 1 == ring_rows ? 0 : ring_y + 1) {
        if (ring) memcpy(ring + ring_y * row_bytes, in + oy * row_bytes, (size_t)row_bytes);
        /* This output row's input rows (NULL outside the input), from the ring where they were overwritten. */
        const int8_t *rows[MAX_TAPS];
        const int32_t in_y0 = oy * p->stride_h - p->pad_h;
        for (int32_t ky = 0; ky < p->k_h; ++ky) {
            const int32_t iy = in_y0 + ky * p->dil_h;
            const int32_t back = oy - iy; /* rows ago that row was saved, when in place */
            rows[ky] = iy < 0 || iy >= p->in_h ? NULL
                       : ring && back >= 0 ? ring + (ring_y >= back ? ring_y - back : ring_y - back + ring_rows) * row_bytes
                                           : in + iy * row_bytes;
        }
        for (int32_t ox = 0; ox < p->out_w; ++ox, out += channels) {
            const int32_t in_x0 = ox * p->stride_w - p->pad_w;
            for (int32_t ky = 0, t = 0; ky < p->k_h; ++ky)
                for (int32_t kx = 0; kx < p->k_w; ++kx, ++t) {
                    const int32_t ix = in_x0 + kx * p->dil_w;
                    x_at[t] = rows[ky] && ix >= 0 && ix < p->in_w ? rows[ky] + ix * channels : zero_row;
                }
            int32_t c = 0;
#if defined(TEE_PATH_MVE)
            for (; c + 16 <= channels; c += 16) {
                int32x4_t even[2], odd[2];
                tee_depthwise_x16(c, filter + c, channels, x_at, taps, even, odd);
                for (int32_t j = 0; j < 2; ++j) {
                    /* Each channel's bias, multiplier and shift gathered in the lanes' order. */
                    const int32_t ch = c + 8 * j;
                    const uint32x4_t e = vldrwq_u32(EVEN_LANES), o = vaddq_n_u32(e, 1);
                    const int32x4_t ve = tee_finish_x4(
                        vaddq_s32(even[j], vldrwq_gather_shifted_offset_s32(bias + ch, e)),
                        vldrwq_gather_shifted_offset_s32(p->mult + ch, e),
                        tee_split_shift_x4(vldrwq_gather_shifted_offset_s32(p->shift + ch, e)), out_offset, act_min,
                        act_max);
                    const int32x4_t vo = tee_finish_x4(
                        vaddq_s32(odd[j], vldrwq_gather_shifted_offset_s32(bias + ch, o)),
                        vldrwq_gather_shifted_offset_s32(p->mult + ch, o),
                        tee_split_shift_x4(vldrwq_gather_shifted_offset_s32(p->shift + ch, o)), out_offset, act_min,
                        act_max);
                    /* Narrowing into the bottom and top halves interleaves the lanes back into channel order. */
                    vstrbq_s16(out + ch, vmovntq_s32(vmovnbq_s32(vdupq_n_s16(0), ve), vo));
                }
            }
            for (; c < channels; c += 4) {
                const mve_pred16_t pred = vctp32q((uint32_t)(channels - c));
                const int32x4_t acc = vaddq_s32(tee_depthwise_x4(c, filter + c, channels, x_at, taps, pred),
                                                vldrwq_z_s32(bias + c, pred));
                tee_store_x4(out + c, acc, vldrwq_z_s32(p->mult + c, pred),
                             tee_split_shift_x4(vldrwq_z_s32(p->shift + c, pred)), out_offset, act_min, act_max,
                             channels - c);
            }
#else
            for (; c + 4 <= channels; c += 4) {
                int32_t acc[4];
                tee_depthwise_4(c, filter + c, channels, x_at, taps, acc);
                for (int32_t i = 0; i < 4; ++i) {
                    const tee_channel_q q = tee_channel(bias[c + i], p->mult[c + i], p->shift[c + i]);
                    out[c + i] = tee_clamp8(tee_requantize_channel(acc[i], &q) + out_offset, act_min, act_max);
                }
            }
            for (; c < channels; ++c)
                out[c] = tee_clamp8(tee_requantize_nonneg(window_1(c, filter, channels, x_at, taps, bias[c]), p->mult[c],
                                                          p->shift[c]) + out_offset, act_min, act_max);
#endif
        }
    }
}
