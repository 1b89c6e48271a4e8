/* DEPTHWISE_CONV_2D (depth multiplier 1), optimised. The input offset is out of the inner loop:
 * sum (x + in_offset) w = sum x w + in_offset sum w, the second term in p->folded_bias; so a tap on
 * padding reads the input zero point (x + in_offset = 0) and every pixel has all its taps.
 * The input rows a window reads are kept in scratch, padded: a ring of (k_h - 1) * dil_h + 1 rows of
 * the columns the windows span, the zero point outside the input (whole rows above and below it).
 * So tap t of every pixel is at a fixed offset from the pixel's first column (one table per output
 * row, x_at), and there are no edge cases. Each input row is copied in before the output row of the
 * same index is written, so the output may overwrite the input (stride 1, output shaped as the input).
 * Helium: eight channels at a time in int16 lanes over a row's pixels in horizontal pairs, each weight
 * vector serving both pixels and each channel group's requantization loaded once per row. Otherwise
 * one pixel, four channels at a time. */
#include "tinyee_kernels.h"
#include "tee_conv.h"
#include "tee_fixedpoint.h"
#include "tee_simd.h"

#define MAX_TAPS 64 /* largest k_h * k_w: the tap table lives on the stack */

/* Input columns -pad_w .. span - pad_w - 1 are read: the padded row's width. */
static int32_t span_w(const tee_conv_params *p) { return (p->out_w - 1) * p->stride_w + (p->k_w - 1) * p->dil_w + 1; }

static int32_t ring_rows(const tee_conv_params *p) { return (p->k_h - 1) * p->dil_h + 1; }

/* Input row iy's slot in a ring of `ring` rows (iy mod ring, iy may be negative). */
static inline int32_t ring_slot(int32_t iy, int32_t ring) { return (iy % ring + ring) % ring; }

/* At least 8 channels: Helium's last group of eight overlaps the one before where the channels are not a
 * multiple of 8 (recomputing a few outputs, from the ring, never from the overwritten input). */
int32_t tee_depthwise_conv2d_simd_s8_scratch_size(const tee_conv_params *p) {
    if (p->depth_multiplier != 1 || p->k_h * p->k_w > MAX_TAPS || p->in_c < 8) return -1;
    return ring_rows(p) * span_w(p) * p->in_c;
}

/* Input row iy into its ring slot, between the slot's padding columns (set once: the zero point); a row
 * outside the input is the zero point throughout. */
static void load_row(const tee_conv_params *p, const int8_t *in, int32_t iy, int32_t span, int8_t *slot) {
    const int32_t c = p->in_c, inside = span - p->pad_w;
    if (iy < 0 || iy >= p->in_h) {
        tee_fill_bytes(slot, (int8_t)(-p->in_offset), span * c);
        return;
    }
    tee_copy_bytes(slot + p->pad_w * c, in + iy * p->in_w * c, (inside < p->in_w ? inside : p->in_w) * c);
}

#if defined(TEE_PATH_MVE)
static const uint32_t EVEN_LANES[4] = {0, 2, 4, 6};
#define ROW_PIXELS 16 /* pixels whose sums wait on the stack for requantization: 16 x 2 x 16 bytes */

/* One parity (lanes: channels c + parity, c + parity + 2, ..) of `pixels` pixels' sums (sums[i][parity]):
 * bias added, requantized with the parameters loaded once, and scattered into the output channels. */
TEE_ALWAYS_INLINE void store_parity(const tee_conv_params *p, int32x4_t (*sums)[2], int32_t pixels, int32_t c,
                                    int32_t parity, int8_t *out) {
    const int32_t channels = p->in_c;
    const uint32x4_t lanes = vldrwq_u32(EVEN_LANES);
    const int32x4_t bias = vldrwq_gather_shifted_offset_s32(p->folded_bias + c + parity, lanes);
    const int32x4_t mult = vldrwq_gather_shifted_offset_s32(p->mult + c + parity, lanes);
    const tee_shift_x4 shift = tee_split_shift_x4(vldrbq_gather_offset_s32(p->shift + c + parity, lanes));
    out += c + parity;
    for (int32_t i = 0; i < pixels; ++i, out += channels)
        vstrbq_scatter_offset_s32(out, lanes, tee_finish_x4(vaddq_s32(sums[i][parity], bias), mult, shift, p->out_offset,
                                                            p->act_min, p->act_max));
}

/* Channels c .. c + 7 of one output row: ROW_PIXELS pixels' sums at a time, pixels in pairs and a last
 * one alone, then requantized a parity at a time, so that each parity's parameters stay in registers. */
static void row_channels_x8(const tee_conv_params *p, const int8_t *filter, const int8_t *const *x_at, int32_t taps,
                            int32_t c, int8_t *out) {
    const int32_t channels = p->in_c, pixel_step = p->stride_w * channels;
    int32x4_t sums[ROW_PIXELS][2];
    for (int32_t ox0 = 0; ox0 < p->out_w; ox0 += ROW_PIXELS, out += ROW_PIXELS * channels) {
        const int32_t pixels = p->out_w - ox0 < ROW_PIXELS ? p->out_w - ox0 : ROW_PIXELS;
        for (int32_t i = 0; i < pixels; i += 2) {
            const int32_t a = (ox0 + i) * pixel_step + c;
            if (i + 1 < pixels)
                tee_depthwise_x8(filter + c, channels, x_at, a, a + pixel_step, taps, 1, sums + i);
            else
                tee_depthwise_x8(filter + c, channels, x_at, a, a, taps, 0, sums + i);
        }
        store_parity(p, sums, pixels, c, 0, out);
        store_parity(p, sums, pixels, c, 1, out);
    }
}

/* Eight channels at a time; where the channels are not a multiple of 8 the last eight overlap. */
static void output_row(const tee_conv_params *p, const int8_t *filter, const int8_t *const *x_at, int32_t taps,
                       int8_t *out) {
    for (int32_t c = 0; c < p->in_c; c += 8) row_channels_x8(p, filter, x_at, taps, c + 8 <= p->in_c ? c : p->in_c - 8, out);
}
#else
/* Channel c alone: the window's products (tap t's input at x_at[t] + x, its weight at w[t * w_stride]). */
static inline int32_t window_1(int32_t x, const int8_t *w, int32_t w_stride, const int8_t *const *x_at, int32_t taps) {
    int32_t acc = 0;
    for (int32_t t = 0; t < taps; ++t) acc += x_at[t][x] * w[t * w_stride];
    return acc;
}

/* One pixel's output channels (its first column at offset x in the padded rows), four at a time;
 * full_range (the activation range is all of int8) is a constant in each call, so that the clamp is
 * one SSAT where it can be. */
TEE_ALWAYS_INLINE void pixel_channels(const tee_conv_params *p, const int8_t *filter, const int8_t *const *x_at,
                                      int32_t taps, int32_t x, int full_range, int8_t *out) {
    const int32_t channels = p->in_c, out_offset = p->out_offset, act_min = p->act_min, act_max = p->act_max;
    const int32_t *bias = p->folded_bias;
    int32_t c = 0;
    for (; c + 4 <= channels; c += 4) {
        int32_t acc[4];
        tee_depthwise_4(x + c, filter + c, channels, x_at, taps, acc);
        for (int32_t i = 0; i < 4; ++i) {
            const tee_channel_q q = tee_channel(bias[c + i], p->mult[c + i], p->shift[c + i]);
            out[c + i] = tee_clamp8_act(tee_requantize_channel(acc[i], &q) + out_offset, act_min, act_max, full_range);
        }
    }
    for (; c < channels; ++c) {
        const tee_channel_q q = tee_channel(bias[c], p->mult[c], p->shift[c]);
        out[c] = tee_clamp8_act(tee_requantize_channel(window_1(x + c, filter + c, channels, x_at, taps), &q) + out_offset,
                                act_min, act_max, full_range);
    }
}

static void output_row(const tee_conv_params *p, const int8_t *filter, const int8_t *const *x_at, int32_t taps,
                       int8_t *out) {
    const int32_t pixel_step = p->stride_w * p->in_c;
    for (int32_t ox = 0; ox < p->out_w; ++ox, out += p->in_c) {
        if (p->act_min == -128 && p->act_max == 127)
            pixel_channels(p, filter, x_at, taps, ox * pixel_step, 1, out);
        else
            pixel_channels(p, filter, x_at, taps, ox * pixel_step, 0, out);
    }
}
#endif

void tee_depthwise_conv2d_simd_s8(const tee_conv_params *params, const int8_t *in, const int8_t *filter, int8_t *scratch,
                                  int8_t *out) {
    const tee_conv_params local = *params; /* not aliased by the int8 stores, so kept in registers */
    const tee_conv_params *p = &local;
    const int32_t channels = p->in_c, span = span_w(p), ring = ring_rows(p), slot_bytes = span * channels;
    const int32_t taps = (int32_t)p->k_h * p->k_w;
    const int8_t *x_at[MAX_TAPS];
    int32_t next = -p->pad_h; /* the next input row to copy into the ring */
    tee_fill_bytes(scratch, (int8_t)(-p->in_offset), ring * slot_bytes);
    for (int32_t oy = 0; oy < p->out_h; ++oy, out += p->out_w * channels) {
        const int32_t in_y0 = oy * p->stride_h - p->pad_h, last = in_y0 + (ring - 1);
        for (; next <= last; ++next) load_row(p, in, next, span, scratch + ring_slot(next, ring) * slot_bytes);
        for (int32_t ky = 0, t = 0; ky < p->k_h; ++ky) {
            const int32_t iy = in_y0 + ky * p->dil_h;
            const int8_t *row = scratch + ring_slot(iy, ring) * slot_bytes;
            for (int32_t kx = 0; kx < p->k_w; ++kx, ++t) x_at[t] = row + kx * p->dil_w * channels;
        }
        output_row(p, filter, x_at, taps, out);
    }
}

void tee_depthwise_conv2d_simd_row_s8(const tee_stream_member *m, const tee_stream_row *r) {
    tee_conv_params *p = r->params;
    tee_conv_row_params(p, r);
    tee_depthwise_conv2d_simd_s8(p, r->in1, m->weights, r->scratch, r->out);
}
