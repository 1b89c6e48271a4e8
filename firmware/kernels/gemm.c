/* Optimised CONV_2D, FULLY_CONNECTED and BATCH_MATMUL. All three are one int8 matrix product
 *     out[r][c] = requantize(col_bias[c] + row_bias[r] + sum_d a[r][d] * b[c][d])
 * with the rows of a and b contiguous over d, computed two rows by two columns at a time by
 * tee_dot_2x2 (tee_simd.h: Helium, DSP or portable). Zero points are folded out of the inner loop:
 * sum (x + xo)(w + wo) = sum x w + wo sum x + xo sum w + d xo wo. For constant weights the code
 * generator adds xo sum w to the bias; im2col pads with the input zero point, so padding adds 0.
 * The int32 sums equal the reference kernels' sums, so the outputs match them bit for bit. */
#include <string.h>

#include "tinyee_kernels.h"
#include "tee_fixedpoint.h"
#include "tee_simd.h"

typedef struct {
    int32_t rows, cols, depth;
    const int8_t *a, *b;
    int32_t a_stride, b_stride, out_stride;
    const int32_t *col_bias, *row_bias; /* either may be NULL */
    const int32_t *mult, *shift;
    int32_t per_col; /* 1: mult/shift per column; 0: one for all */
    int32_t out_offset, act_min, act_max;
} gemm_job;

static inline int8_t gemm_out(const gemm_job *g, int32_t r, int32_t c, int32_t acc) {
    if (g->col_bias) acc += g->col_bias[c];
    if (g->row_bias) acc += g->row_bias[r];
    const int32_t q = g->per_col ? c : 0;
    return tee_clamp8(tee_mbqm_pos(acc, g->mult[q], g->shift[q]) + g->out_offset, g->act_min, g->act_max);
}

static void gemm(const gemm_job *job, int8_t *out) {
    const gemm_job local = *job; /* a copy the int8 stores below cannot alias, so it stays in registers */
    const gemm_job *g = &local;
    int32_t r = 0;
    for (; r + 2 <= g->rows; r += 2) {
        const int8_t *a0 = g->a + r * g->a_stride, *a1 = a0 + g->a_stride;
        int8_t *o0 = out + r * g->out_stride, *o1 = o0 + g->out_stride;
        int32_t c = 0;
        for (; c + 2 <= g->cols; c += 2) {
            int32_t acc[4];
            const int8_t *b0 = g->b + c * g->b_stride;
            tee_dot_2x2(a0, a1, b0, b0 + g->b_stride, g->depth, acc);
            o0[c] = gemm_out(g, r, c, acc[0]);
            o0[c + 1] = gemm_out(g, r, c + 1, acc[1]);
            o1[c] = gemm_out(g, r + 1, c, acc[2]);
            o1[c + 1] = gemm_out(g, r + 1, c + 1, acc[3]);
        }
        if (c < g->cols) {
            const int8_t *b0 = g->b + c * g->b_stride;
            o0[c] = gemm_out(g, r, c, tee_dot_1x1(a0, b0, g->depth));
            o1[c] = gemm_out(g, r + 1, c, tee_dot_1x1(a1, b0, g->depth));
        }
    }
    if (r < g->rows) {
        const int8_t *a0 = g->a + r * g->a_stride;
        for (int32_t c = 0; c < g->cols; ++c)
            out[r * g->out_stride + c] = gemm_out(g, r, c, tee_dot_1x1(a0, g->b + c * g->b_stride, g->depth));
    }
}

/* One im2col row: the k_h x k_w x in_c window of output pixel (oy, ox), padding = input zero point. */
static void im2col_row(const tee_conv_params *p, const int8_t *in, int32_t oy, int32_t ox, int8_t *row) {
    const int8_t zero_point = (int8_t)(-p->in_offset);
    const int32_t in_y0 = oy * p->stride_h - p->pad_h, in_x0 = ox * p->stride_w - p->pad_w;
    for (int32_t ky = 0; ky < p->k_h; ++ky) {
        const int32_t iy = in_y0 + ky * p->dil_h;
        for (int32_t kx = 0; kx < p->k_w; ++kx, row += p->in_c) {
            const int32_t ix = in_x0 + kx * p->dil_w;
            if (iy < 0 || iy >= p->in_h || ix < 0 || ix >= p->in_w)
                memset(row, zero_point, (size_t)p->in_c);
            else
                memcpy(row, in + (iy * p->in_w + ix) * p->in_c, (size_t)p->in_c);
        }
    }
}

void tee_conv2d_gemm_s8(const tee_conv_params *p, const int8_t *in, const int8_t *filter, int8_t *scratch,
                        int8_t *out) {
    const int32_t depth = (int32_t)p->k_h * p->k_w * p->in_c;
    gemm_job g = {.cols = p->out_c, .depth = depth, .b = filter, .b_stride = depth, .out_stride = p->out_c,
                  .col_bias = p->folded_bias, .mult = p->mult, .shift = p->shift, .per_col = 1,
                  .out_offset = p->out_offset, .act_min = p->act_min, .act_max = p->act_max};
    const int32_t pixels = (int32_t)p->out_h * p->out_w;
    if (!scratch) { /* 1x1, stride 1, no padding: the input already is the im2col matrix */
        g.rows = pixels;
        g.a = in;
        g.a_stride = depth;
        gemm(&g, out);
        return;
    }
    /* Two output pixels at a time, so tee_dot_2x2 reuses every loaded weight twice. */
    g.a = scratch;
    g.a_stride = depth;
    for (int32_t px = 0; px < pixels; px += 2) {
        g.rows = pixels - px < 2 ? 1 : 2;
        for (int32_t i = 0; i < g.rows; ++i)
            im2col_row(p, in, (px + i) / p->out_w, (px + i) % p->out_w, scratch + i * depth);
        gemm(&g, out + px * p->out_c);
    }
}

void tee_fully_connected_gemm_s8(const tee_fc_params *p, const int8_t *in, const int8_t *filter, int8_t *out) {
    const gemm_job g = {.rows = p->rows, .cols = p->out_depth, .depth = p->in_depth, .a = in, .b = filter,
                        .a_stride = p->in_depth, .b_stride = p->in_depth, .out_stride = p->out_depth,
                        .col_bias = p->folded_bias, .mult = p->mult, .shift = p->shift, .per_col = p->per_channel,
                        .out_offset = p->out_offset, .act_min = p->act_min, .act_max = p->act_max};
    gemm(&g, out);
}

/* Each row sum of a strided [n, depth] view, times sum_scale, into sums; copies the rows to dst unless it is NULL. */
static void pack_rows(const int8_t *src, int32_t n, int32_t depth, int32_t n_stride, int32_t d_stride, int8_t *dst,
                      int32_t *sums, int32_t sum_scale) {
    for (int32_t i = 0; i < n; ++i) {
        int32_t s = 0;
        for (int32_t k = 0; k < depth; ++k) {
            const int8_t v = src[i * n_stride + k * d_stride];
            if (dst) dst[i * depth + k] = v;
            s += v;
        }
        sums[i] = s * sum_scale;
    }
}

void tee_batch_matmul_gemm_s8(const tee_batch_matmul_params *p, const int8_t *lhs, const int8_t *rhs,
                              int8_t *scratch, int8_t *out) {
    /* Scratch: int32 column terms [cols], int32 row terms [rows], then the packed copies that the
     * code generator asked for (pack_lhs: [rows][depth], pack_rhs: [cols][depth]). */
    int32_t *col_bias = (int32_t *)(void *)scratch, *row_bias = col_bias + p->cols;
    int8_t *packed_lhs = (int8_t *)(row_bias + p->rows);
    int8_t *packed_rhs = packed_lhs + (p->pack_lhs ? p->rows * p->depth : 0);
    const int32_t lo = p->lhs_offset, ro = p->rhs_offset;
    gemm_job g = {.rows = p->rows, .cols = p->cols, .depth = p->depth, .out_stride = p->cols,
                  .col_bias = col_bias, .row_bias = row_bias, .mult = &p->mult, .shift = &p->shift, .per_col = 0,
                  .out_offset = p->out_offset, .act_min = -128, .act_max = 127};
    const int32_t batches = p->batch[0] * p->batch[1] * p->batch[2];
    for (int32_t batch = 0; batch < batches; ++batch, out += p->rows * p->cols) {
        const int8_t *l = lhs + tee_batch_offset(p, p->lhs_batch_stride, batch);
        const int8_t *r = rhs + tee_batch_offset(p, p->rhs_batch_stride, batch);
        /* sum (a + lo)(b + ro) = sum a b + ro sum a + lo sum b + depth lo ro */
        pack_rows(l, p->rows, p->depth, p->lhs_row_stride, p->lhs_depth_stride,
                  p->pack_lhs ? packed_lhs : NULL, row_bias, ro);
        pack_rows(r, p->cols, p->depth, p->rhs_col_stride, p->rhs_depth_stride,
                  p->pack_rhs ? packed_rhs : NULL, col_bias, lo);
        for (int32_t c = 0; c < p->cols; ++c) col_bias[c] += p->depth * lo * ro;
        g.a = p->pack_lhs ? packed_lhs : l;
        g.a_stride = p->pack_lhs ? p->depth : p->lhs_row_stride;
        g.b = p->pack_rhs ? packed_rhs : r;
        g.b_stride = p->pack_rhs ? p->depth : p->rhs_col_stride;
        gemm(&g, out);
    }
}


/* DEPTHWISE_CONV_2D (depth multiplier 1), four channels at a time by tee_depthwise_4. Taps outside
 * the input add (zero point + in_offset) * w = 0, so they are left out, which equals padding.
 * In place (scratch given, stride 1, output shaped as the input): output row y is written over
 * input row y, so input rows y - pad_h * dil_h .. y, which the rows from y on still read, are kept
 * in a ring of pad_h * dil_h + 1 rows in scratch, each saved just before it is overwritten. */
void tee_depthwise_conv2d_simd_s8(const tee_conv_params *params, const int8_t *in, const int8_t *filter,
                                  const int32_t *bias, int8_t *scratch, int8_t *out) {
    const tee_conv_params local = *params; /* not aliased by the int8 stores, so kept in registers */
    const tee_conv_params *p = &local;
    const int8_t *x_at[TEE_MAX_TAPS];
    int32_t w_at[TEE_MAX_TAPS];
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
            int32_t c = 0;
            for (; c + 4 <= channels; c += 4) {
                int32_t acc[4];
                tee_depthwise_4(c, filter + c, x_at, w_at, taps, p->in_offset, acc);
                for (int32_t i = 0; i < 4; ++i) {
                    const int32_t ch = c + i;
                    out[ch] = tee_clamp8(tee_mbqm_pos(acc[i] + (bias ? bias[ch] : 0), p->mult[ch], p->shift[ch]) +
                                             out_offset, act_min, act_max);
                }
            }
            for (; c < channels; ++c) {
                int32_t acc = bias ? bias[c] : 0;
                for (int32_t t = 0; t < taps; ++t) acc += (x_at[t][c] + p->in_offset) * filter[w_at[t] + c];
                out[c] = tee_clamp8(tee_mbqm_pos(acc, p->mult[c], p->shift[c]) + out_offset, act_min, act_max);
            }
        }
    }
}

/* LOGISTIC, RSQRT, HARD_SWISH, ...: int8 -> int8 functions of one value, tabulated at build time. */
void tee_lut_s8(const int8_t *table, int32_t size, const int8_t *in, int8_t *out) {
    for (int32_t i = 0; i < size; ++i) out[i] = table[(uint8_t)in[i] ^ 0x80u];
}
