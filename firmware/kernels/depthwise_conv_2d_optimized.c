#include <string.h>

#include "tinyee_kernels.h"
#include "tee_fixedpoint.h"
#include "tee_simd.h"

#define MAX_TAPS 64 /* largest k_h * k_w: the tap tables live on the stack */

#if defined(TEE_PATH_MVE)
static const uint32_t EVEN_LANES[4] = {0, 2, 4, 6};
#define PAIRS 1 /* Helium has the registers to share weights and requantization between two pixels */
#else
#define PAIRS 0
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

/* Channel c alone: the window's products (tap t's weight at w[t * w_stride + c]). */
static inline int32_t window_1(int32_t c, const int8_t *w, int32_t w_stride, const int8_t *const *x, int32_t taps) {
    int32_t acc = 0;
    for (int32_t t = 0; t < taps; ++t) acc += x[t][c] * w[t * w_stride + c];
    return acc;
}


/* Where each tap of the pixel whose window starts at input column in_x0 reads. Kernel row ky reads
 * rows[ky] + column * units[ky]: an input row (units = channels), or the zero-point row (units = 0)
 * above and below the input; columns outside the input read the zero-point row too. */
static inline void tap_table(const tee_conv_params *p, const int8_t *const *rows, const int32_t *units,
                             const int8_t *zero_row, int32_t in_x0, const int8_t **x_at) {
    if (in_x0 >= 0 && in_x0 + (p->k_w - 1) * p->dil_w < p->in_w) { /* the common case: no column checks */
        for (int32_t ky = 0; ky < p->k_h; ++ky) {
            const int8_t *x = rows[ky] + in_x0 * units[ky];
            const int32_t step = p->dil_w * units[ky];
            for (int32_t kx = 0; kx < p->k_w; ++kx, x += step) *x_at++ = x;
        }
        return;
    }
    for (int32_t ky = 0; ky < p->k_h; ++ky)
        for (int32_t kx = 0, ix = in_x0; kx < p->k_w; ++kx, ix += p->dil_w)
            *x_at++ = ix >= 0 && ix < p->in_w ? rows[ky] + ix * units[ky] : zero_row;
}

#if !defined(TEE_PATH_MVE)
/* One pixel's output channels, four at a time; full_range (the activation range is all of int8) is a
 * constant in each call, so that the clamp is one SSAT where it can be. */
TEE_ALWAYS_INLINE void pixel_channels(const tee_conv_params *p, const int8_t *filter, const int8_t *const *x,
                                      int32_t taps, int full_range, int8_t *out) {
    const int32_t channels = p->in_c, out_offset = p->out_offset, act_min = p->act_min, act_max = p->act_max;
    const int32_t *bias = p->folded_bias;
    int32_t c = 0;
    for (; c + 4 <= channels; c += 4) {
        int32_t acc[4];
        tee_depthwise_4(c, filter + c, channels, x, taps, acc);
        for (int32_t i = 0; i < 4; ++i) {
            const tee_channel_q q = tee_channel(bias[c + i], p->mult[c + i], p->shift[c + i]);
            out[c + i] = tee_clamp8_act(tee_requantize_channel(acc[i], &q) + out_offset, act_min, act_max, full_range);
        }
    }
    for (; c < channels; ++c) {
        const tee_channel_q q = tee_channel(bias[c], p->mult[c], p->shift[c]);
        out[c] = tee_clamp8_act(tee_requantize_channel(window_1(c, filter, channels, x, taps), &q) + out_offset,
                                act_min, act_max, full_range);
    }
}
#endif

/* Output channels of one or two horizontally adjacent pixels (`pixels`; taps xa, xb) into out, out + channels. */
static inline void pixels_out(const tee_conv_params *p, const int8_t *filter, const int8_t *const *xa,
                              const int8_t *const *xb, int32_t taps, int32_t pixels, int8_t *out) {
    /* Held in registers: the int8 stores to out might alias *p as far as the compiler knows. */
    const int32_t channels = p->in_c, act_min = p->act_min, act_max = p->act_max;
#if defined(TEE_PATH_MVE)
    const int32_t out_offset = p->out_offset, *bias = p->folded_bias;
    int32_t c = 0;
    const uint32x4_t even = vldrwq_u32(EVEN_LANES), odd = vaddq_n_u32(even, 1);
    for (; c + 8 <= channels; c += 8) {
        int32x4_t acc[4];
        int32_t sums[16]; /* pixel a's channels c..c+7, then pixel b's, in channel order */
        if (pixels == 2)
            tee_depthwise_x8_2px(c, filter + c, channels, xa, xb, taps, acc);
        else
            tee_depthwise_x8(c, filter + c, channels, xa, taps, acc);
        /* Scattered back into channel order, so that each channel's parameters load contiguously and the
         * requantization needs few vectors at a time (eight registers do not hold both pixels' lanes and
         * both parities' parameters). */
        vstrwq_scatter_shifted_offset_s32(sums, even, acc[0]);
        vstrwq_scatter_shifted_offset_s32(sums, odd, acc[1]);
        if (pixels == 2) {
            vstrwq_scatter_shifted_offset_s32(sums + 8, even, acc[2]);
            vstrwq_scatter_shifted_offset_s32(sums + 8, odd, acc[3]);
        }
        for (int32_t j = 0; j < 8; j += 4) {
            const int32x4_t b = vldrwq_s32(bias + c + j), m = vldrwq_s32(p->mult + c + j);
            const tee_shift_x4 sh = tee_split_shift_x4(vldrbq_s32(p->shift + c + j));
            tee_store_x4(out + c + j, vaddq_s32(vldrwq_s32(sums + j), b), m, sh, out_offset, act_min, act_max, 4);
            if (pixels == 2)
                tee_store_x4(out + channels + c + j, vaddq_s32(vldrwq_s32(sums + 8 + j), b), m, sh, out_offset, act_min,
                             act_max, 4);
        }
    }
    for (; c < channels; c += 4) {
        const mve_pred16_t pred = vctp32q((uint32_t)(channels - c));
        const int32x4_t b = vldrwq_z_s32(bias + c, pred), m = vldrwq_z_s32(p->mult + c, pred);
        const tee_shift_x4 sh = tee_split_shift_x4(vldrbq_z_s32(p->shift + c, pred));
        for (int32_t k = 0; k < pixels; ++k)
            tee_store_x4(out + k * channels + c,
                         vaddq_s32(tee_depthwise_x4(c, filter + c, channels, k ? xb : xa, taps, pred), b), m, sh,
                         out_offset, act_min, act_max, channels - c);
    }
#else
    for (int32_t k = 0; k < pixels; ++k, out += channels) {
        if (act_min == -128 && act_max == 127)
            pixel_channels(p, filter, k ? xb : xa, taps, 1, out);
        else
            pixel_channels(p, filter, k ? xb : xa, taps, 0, out);
    }
#endif
}

/* DEPTHWISE_CONV_2D (depth multiplier 1). The input offset is out of the inner loop:
 * sum (x + in_offset) w = sum x w + in_offset sum w, the second term in p->folded_bias; so a tap
 * outside the input reads the zero-point row (x + in_offset = 0) and every pixel has all taps.
 * On Helium pixels go in horizontal pairs (pixels_out), eight channels at a time in int16 lanes, each
 * weight vector and each channel's requantization serving both pixels; otherwise one pixel, four
 * channels at a time.
 * In place (output shaped as the input, stride 1): output row y is written over input row y, so
 * input rows y - pad_h * dil_h .. y, which the rows from y on still read, are kept in a ring of
 * pad_h * dil_h + 1 rows in scratch, each saved just before it is overwritten. */
void tee_depthwise_conv2d_simd_s8(const tee_conv_params *params, const int8_t *in, const int8_t *filter, int8_t *scratch,
                                  int8_t *out) {
    const tee_conv_params local = *params; /* not aliased by the int8 stores, so kept in registers */
    const tee_conv_params *p = &local;
    const int8_t *x_at[2][MAX_TAPS];
    const int32_t channels = p->in_c;
    const int32_t row_bytes = (int32_t)p->in_w * channels, ring_rows = p->pad_h * p->dil_h + 1;
    const int32_t taps = (int32_t)p->k_h * p->k_w;
    int8_t *zero_row = scratch, *ring = in_place(p) ? scratch + channels : NULL;
    memset(zero_row, (int8_t)(-p->in_offset), (size_t)channels);
    for (int32_t oy = 0, ring_y = 0; oy < p->out_h; ++oy, ring_y = ring_y + 1 == ring_rows ? 0 : ring_y + 1) {
        if (ring) memcpy(ring + ring_y * row_bytes, in + oy * row_bytes, (size_t)row_bytes);
        /* This output row's input rows (the zero-point row outside the input), from the ring where they
         * were overwritten. */
        const int8_t *rows[MAX_TAPS];
        int32_t units[MAX_TAPS];
        const int32_t in_y0 = oy * p->stride_h - p->pad_h;
        for (int32_t ky = 0; ky < p->k_h; ++ky) {
            const int32_t iy = in_y0 + ky * p->dil_h;
            const int32_t back = oy - iy; /* rows ago that row was saved, when in place */
            const int outside = iy < 0 || iy >= p->in_h;
            units[ky] = outside ? 0 : channels;
            rows[ky] = outside ? zero_row
                       : ring && back >= 0 ? ring + (ring_y >= back ? ring_y - back : ring_y - back + ring_rows) * row_bytes
                                           : in + iy * row_bytes;
        }
        for (int32_t ox = 0, pixels; ox < p->out_w; ox += pixels, out += pixels * channels) {
            pixels = PAIRS && ox + 1 < p->out_w ? 2 : 1;
            for (int32_t k = 0; k < pixels; ++k) tap_table(p, rows, units, zero_row, (ox + k) * p->stride_w - p->pad_w, x_at[k]);
            pixels_out(p, filter, x_at[0], x_at[pixels - 1], taps, pixels, out);
        }
    }
}
