/* CONV_2D as an int8 matrix product (tee_gemm.h) over im2col rows built in scratch. */
#include <string.h>

#include "tinyee_kernels.h"
#include "tee_conv.h"
#include "tee_gemm.h"
#include "tee_simd.h"

/* One im2col row: the k_h x k_w x in_c window of output pixel (oy, ox), padding = input zero point.
 * Without dilation each kernel row's taps inside the input are one contiguous copy (tee_copy_bytes:
 * inline on Helium); a window reaching past the input is first all zero point. */
static void im2col_row(const tee_conv_params *p, const int8_t *in, int32_t oy, int32_t ox, int8_t *row) {
    const int32_t c = p->in_c, in_y0 = oy * p->stride_h - p->pad_h, in_x0 = ox * p->stride_w - p->pad_w;
    const int32_t row_bytes = (int32_t)p->k_w * c, in_row_bytes = p->in_w * c;
    /* Kernel columns lo .. hi - 1 read inside the input (without dilation). */
    const int32_t lo = in_x0 < 0 ? -in_x0 : 0, end = p->in_w - in_x0;
    const int32_t hi = end < p->k_w ? (end > lo ? end : lo) : p->k_w;
    const int rows_inside = in_y0 >= 0 && in_y0 + (p->k_h - 1) * p->dil_h < p->in_h;
    if (p->dil_w == 1 && rows_inside && lo == 0 && hi == p->k_w) { /* the whole window inside */
        const int8_t *src = in + in_y0 * in_row_bytes + in_x0 * c;
        for (int32_t ky = 0; ky < p->k_h; ++ky, row += row_bytes, src += p->dil_h * in_row_bytes)
            tee_copy_bytes(row, src, row_bytes);
        return;
    }
    tee_fill_bytes(row, (int8_t)(-p->in_offset), p->k_h * row_bytes);
    for (int32_t ky = 0, iy = in_y0; ky < p->k_h; ++ky, iy += p->dil_h, row += row_bytes) {
        if (iy < 0 || iy >= p->in_h) continue;
        const int8_t *in_row = in + iy * in_row_bytes;
        if (p->dil_w == 1) {
            tee_copy_bytes(row + lo * c, in_row + (in_x0 + lo) * c, (hi - lo) * c);
            continue;
        }
        for (int32_t kx = 0, ix = in_x0; kx < p->k_w; ++kx, ix += p->dil_w)
            if (ix >= 0 && ix < p->in_w) tee_copy_bytes(row + kx * c, in_row + ix * c, c);
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
        const int in_place = out == in && !tee_gemm_rows_in_turn(&g);
        const int32_t block = in_place ? IN_PLACE_PIXELS : pixels;
        for (int32_t px = 0; px < pixels; px += block) {
            g.rows = pixels - px < block ? pixels - px : block;
            g.a = in + px * p->in_c;
            tee_gemm_s8(&g, in_place ? scratch : out + px * p->out_c);
            if (in_place) tee_copy_bytes(out + px * p->out_c, scratch, g.rows * p->out_c);
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

void tee_conv2d_gemm_row_s8(const tee_stream_member *m, const tee_stream_row *r) {
    tee_conv_params *p = r->params;
    tee_conv_row_params(p, r);
    tee_conv2d_gemm_s8(p, r->in1, m->weights, r->scratch, r->out);
}
