/* tee_gemm_s8. Helium: one row by four columns per step (tee_dot_1x4), requantized as one vector and
 * stored as four adjacent outputs. DSP and portable: two rows by two columns per step (tee_dot_2x2).
 * Both walk columns outside and rows inside, so each column's requantization is set up once. */
#include "tee_fixedpoint.h"
#include "tee_gemm.h"
#include "tee_simd.h"

#if defined(TEE_PATH_MVE)
/* Columns c..c+n-1 (n <= 4, rows b0..b3 of b) for every row: the columns' bias, multipliers and
 * shifts are loaded once, and each row's four sums are requantized as one vector. */
TEE_ALWAYS_INLINE void gemm_columns_x4(const tee_gemm_job *g, const int8_t *b0, const int8_t *b1, const int8_t *b2,
                                       const int8_t *b3, int32_t c, int32_t n, int8_t *out) {
    const mve_pred16_t p = vctp32q((uint32_t)n);
    const int32x4_t bias = g->col_bias ? vldrwq_z_s32(g->col_bias + c, p) : vdupq_n_s32(0);
    const int32x4_t mult = g->per_col ? vldrwq_z_s32(g->mult + c, p) : vdupq_n_s32(g->mult[0]);
    const tee_shift_x4 shift = tee_split_shift_x4(g->per_col ? vldrbq_z_s32(g->shift + c, p) : vdupq_n_s32(g->shift[0]));
    const int8_t *a = g->a;
    out += c;
    for (int32_t r = 0; r < g->rows; ++r, a += g->depth, out += g->out_stride) {
        int32x4_t acc = vaddq_s32(tee_dot_1x4(a, b0, b1, b2, b3, g->depth), bias);
        if (g->row_bias) acc = vaddq_n_s32(acc, g->row_bias[r]);
        tee_store_x4(out, acc, mult, shift, g->out_offset, g->act_min, g->act_max, n);
    }
}

void tee_gemm_s8(const tee_gemm_job *job, int8_t *out) {
    const tee_gemm_job local = *job; /* a copy the int8 stores below cannot alias, so it stays in registers */
    const tee_gemm_job *g = &local;
    const int32_t bs = g->depth, tail = g->cols & 3, whole = g->cols - tail;
    const int8_t *b = g->b;
    int32_t c = 0;
    for (; c < whole; c += 4, b += 4 * bs) gemm_columns_x4(g, b, b + bs, b + 2 * bs, b + 3 * bs, c, 4, out);
    if (tail) /* the last column stands in for the missing ones: computed, never stored */
        gemm_columns_x4(g, b, tail > 1 ? b + bs : b, tail > 2 ? b + 2 * bs : b, b, c, tail, out);
}
#else
/* clamp(requantize(acc) + offset) of one output; full_range: the activation range is all of int8. */
TEE_ALWAYS_INLINE int32_t gemm_out(const tee_gemm_job *g, const tee_channel_q *q, int32_t acc, int full_range) {
    return tee_clamp8_act(tee_requantize_channel(acc, q) + g->out_offset, g->act_min, g->act_max, full_range);
}

static inline int32_t row_bias(const tee_gemm_job *g, int32_t r) { return g->row_bias ? g->row_bias[r] : 0; }

static inline tee_channel_q column_q(const tee_gemm_job *g, int32_t c) {
    const int32_t k = g->per_col ? c : 0;
    return tee_channel(g->col_bias ? g->col_bias[c] : 0, g->mult[k], g->shift[k]);
}

/* The 2x2 block's four outputs; full_range is a constant in each call, so one of them clamps with SSAT. */
TEE_ALWAYS_INLINE void block_out(const tee_gemm_job *g, const tee_channel_q *q0, const tee_channel_q *q1,
                                 const int32_t acc[4], int32_t rb0, int32_t rb1, int full_range, int8_t *o) {
    const int32_t os = g->out_stride;
    /* Column by column, so that each column's constants load once. */
    const int32_t y0 = gemm_out(g, q0, acc[0] + rb0, full_range), y2 = gemm_out(g, q0, acc[2] + rb1, full_range);
    const int32_t y1 = gemm_out(g, q1, acc[1] + rb0, full_range), y3 = gemm_out(g, q1, acc[3] + rb1, full_range);
    o[0] = (int8_t)y0;
    o[1] = (int8_t)y1;
    o[os] = (int8_t)y2;
    o[os + 1] = (int8_t)y3;
}

/* Column pairs outside, row pairs inside: each column's requantization is split once for all rows. */
void tee_gemm_s8(const tee_gemm_job *job, int8_t *out) {
    const tee_gemm_job local = *job; /* a copy the int8 stores below cannot alias, so it stays in registers */
    const tee_gemm_job *g = &local;
    const int32_t os = g->out_stride, as = g->depth;
    const int full_range = g->act_min == -128 && g->act_max == 127;
    int32_t c = 0;
    for (; c + 2 <= g->cols; c += 2) {
        const int8_t *b0 = g->b + c * as, *b1 = b0 + as;
        const tee_channel_q q0 = column_q(g, c), q1 = column_q(g, c + 1);
        const int8_t *a = g->a;
        int8_t *o = out + c;
        int32_t r = 0;
        for (; r + 2 <= g->rows; r += 2, a += 2 * as, o += 2 * os) {
            int32_t acc[4];
            tee_dot_2x2(a, b0, as, acc);
            const int32_t rb0 = row_bias(g, r), rb1 = row_bias(g, r + 1);
            if (full_range)
                block_out(g, &q0, &q1, acc, rb0, rb1, 1, o);
            else
                block_out(g, &q0, &q1, acc, rb0, rb1, 0, o);
        }
        if (r < g->rows) {
            const int32_t rb = row_bias(g, r);
            o[0] = gemm_out(g, &q0, tee_dot_1x1(a, b0, g->depth) + rb, 0);
            o[1] = gemm_out(g, &q1, tee_dot_1x1(a, b1, g->depth) + rb, 0);
        }
    }
    if (c < g->cols) {
        const int8_t *b0 = g->b + c * as;
        const tee_channel_q q0 = column_q(g, c);
        for (int32_t r = 0; r < g->rows; ++r)
            out[r * os + c] = gemm_out(g, &q0, tee_dot_1x1(g->a + r * as, b0, g->depth) + row_bias(g, r), 0);
    }
}
#endif
