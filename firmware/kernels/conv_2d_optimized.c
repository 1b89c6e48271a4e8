/* CONV_2D as an int8 matrix product (tee_gemm.h) over im2col rows built in scratch. */
#include <string.h>

#include "tinyee_kernels.h"
#include "tee_gemm.h"
#include "tee_simd.h"

/* One kernel row's taps of an im2col row that reaches past the left or right edge of the input row
 * in_row: without dilation padding, the columns inside as one copy, padding; else tap by tap. Kept out of
 * line, off im2col_row's path for the pixels away from the edges. */
static TEE_NOINLINE void edge_taps(const tee_conv_params *p, const int8_t *in_row, int32_t in_x0, int8_t *row) {
    const int8_t zero_point = (int8_t)(-p->in_offset);
    const int32_t c = p->in_c;
    if (p->dil_w == 1) {
        const int32_t lo = in_x0 < 0 ? -in_x0 : 0, end = p->in_w - in_x0;
        const int32_t hi = end < p->k_w ? (end > lo ? end : lo) : p->k_w;
        tee_fill_bytes(row, zero_point, lo * c);
        tee_copy_bytes(row + lo * c, in_row + (in_x0 + lo) * c, (hi - lo) * c);
        tee_fill_bytes(row + hi * c, zero_point, (p->k_w - hi) * c);
        return;
    }
    for (int32_t kx = 0, ix = in_x0; kx < p->k_w; ++kx, ix += p->dil_w) {
        if (ix < 0 || ix >= p->in_w)
            tee_fill_bytes(row + kx * c, zero_point, c);
        else
            tee_copy_bytes(row + kx * c, in_row + ix * c, c);
    }
}

/* One im2col row: the k_h x k_w x in_c window of output pixel (oy, ox), padding = input zero point.
 * Without dilation and away from the edges each kernel row's taps are one contiguous copy, inline
 * (tee_copy_bytes), not a library call. */
static void im2col_row(const tee_conv_params *p, const int8_t *in, int32_t oy, int32_t ox, int8_t *row) {
    const int32_t in_y0 = oy * p->stride_h - p->pad_h, in_x0 = ox * p->stride_w - p->pad_w;
    const int32_t row_bytes = (int32_t)p->k_w * p->in_c;
    const int inside = p->dil_w == 1 && in_x0 >= 0 && in_x0 + p->k_w <= p->in_w;
    for (int32_t ky = 0; ky < p->k_h; ++ky, row += row_bytes) {
        const int32_t iy = in_y0 + ky * p->dil_h;
        const int8_t *in_row = in + iy * p->in_w * p->in_c;
        if (iy < 0 || iy >= p->in_h)
            tee_fill_bytes(row, (int8_t)(-p->in_offset), row_bytes);
        else if (inside)
            tee_copy_bytes(row, in_row + in_x0 * p->in_c, row_bytes);
        else
            edge_taps(p, in_row, in_x0, row);
    }
}

/* im2col rows built per matrix product, so that each output channel's setup serves that many pixels:
 * as many as fit IM2COL_BYTES, up to 8 (more scratch would raise the arena for little gain), in whole
 * blocks of the matrix product's rows: pairs on the DSP and portable paths, threes on Helium (`threes`).
 * The scratch is sized for both, the path being the target's. */
#define IM2COL_BYTES 2048

static int32_t pixels_per_pass(int32_t depth, int threes) {
    const int32_t fit = IM2COL_BYTES / depth, n = fit < 8 ? fit : 8;
    if (threes && n >= 3) return n - n % 3;
    return n < 2 ? 2 : n & ~1;
}

#if defined(TEE_PATH_MVE)
#define GEMM_THREES 1
#else
#define GEMM_THREES 0
#endif

/* A 1x1, stride 1, unpadded convolution: the input already is the im2col matrix. */
static int pointwise(const tee_conv_params *p) {
    return p->k_h == 1 && p->k_w == 1 && p->stride_h == 1 && p->stride_w == 1 && p->pad_h == 0 && p->pad_w == 0;
}

/* Pixels per block of an in-place pointwise convolution: their outputs wait in scratch until the block's
 * inputs are read. */
#define IN_PLACE_PIXELS 32

/* pixels_per_pass im2col rows; for a pointwise convolution none, or with as many output channels as input
 * channels (which the arena planner may run in place) one block of outputs. */
int32_t tee_conv2d_gemm_s8_scratch_size(const tee_conv_params *p) {
    const int32_t depth = (int32_t)p->k_h * p->k_w * p->in_c;
    if (pointwise(p)) return p->out_c == p->in_c ? IN_PLACE_PIXELS * p->out_c : 0;
    const int32_t pairs = pixels_per_pass(depth, 0), threes = pixels_per_pass(depth, 1);
    return (pairs > threes ? pairs : threes) * depth;
}

void tee_conv2d_gemm_s8(const tee_conv_params *p, const int8_t *in, const int8_t *filter, int8_t *scratch,
                        int8_t *out) {
    const int32_t depth = (int32_t)p->k_h * p->k_w * p->in_c;
    tee_gemm_job g = {.cols = p->out_c, .depth = depth, .b = filter, .out_stride = p->out_c,
                  .col_bias = p->folded_bias, .mult = p->mult, .shift = p->shift, .per_col = 1,
                  .out_offset = p->out_offset, .act_min = p->act_min, .act_max = p->act_max};
    const int32_t pixels = (int32_t)p->out_h * p->out_w;
    if (pointwise(p)) { /* in place, a block's outputs wait in scratch: no later block reads its inputs */
        const int in_place = out == in;
        const int32_t block = in_place ? IN_PLACE_PIXELS : pixels;
        for (int32_t px = 0; px < pixels; px += block) {
            g.rows = pixels - px < block ? pixels - px : block;
            g.a = in + px * p->in_c;
            tee_gemm_s8(&g, in_place ? scratch : out + px * p->out_c);
            if (in_place) memcpy(out + px * p->out_c, scratch, (size_t)(g.rows * p->out_c));
        }
        return;
    }
    const int32_t per_pass = pixels_per_pass(depth, GEMM_THREES);
    g.a = scratch;
    for (int32_t px = 0; px < pixels; px += per_pass) {
        g.rows = pixels - px < per_pass ? pixels - px : per_pass;
        for (int32_t i = 0; i < g.rows; ++i)
            im2col_row(p, in, (px + i) / p->out_w, (px + i) % p->out_w, scratch + i * depth);
        tee_gemm_s8(&g, out + px * p->out_c);
    }
}

