/* tee_gemm_s8. Helium: one row by four columns per step (tee_dot_1x4), requantized as one vector and
 * stored as four adjacent outputs. DSP and portable: two rows by two columns per step (tee_dot_2x2). */
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
    const tee_shift_x4 shift = tee_split_shift_x4(g->per_col ? vldrwq_z_s32(g->shift + c, p) : vdupq_n_s32(g->shift[0]));
    const int8_t *a = g->a;
    out += c;
    for (int32_t r = 0; r < g->rows; ++r, a += g->a_stride, out += g->out_stride) {
        int32x4_t acc = vaddq_s32(tee_dot_1x4(a, b0, b1, b2, b3, g->depth), bias);
        if (g->row_bias) acc = vaddq_n_s32(acc, g->row_bias[r]);
        tee_store_x4(out, acc, mult, shift, g->out_offset, g->act_min, g->act_max, n);
    }
}

void tee_gemm_s8(const tee_gemm_job *job, int8_t *out) {
    const tee_gemm_job local = *job; /* a copy the int8 stores below cannot alias, so it stays in registers */
    const tee_gemm_job *g = &local;
    const int32_t bs = g->b_stride, tail = g->cols & 3, whole = g->cols - tail;
    const int8_t *b = g->b;
    int32_t c = 0;
    for (; c < whole; c += 4, b += 4 * bs) gemm_columns_x4(g, b, b + bs, b + 2 * bs, b + 3 * bs, c, 4, out);
    if (tail) /* the last column stands in for the missing ones: computed, never stored */
        gemm_columns_x4(g, b, tail > 1 ? b + bs : b, tail > 2 ? b + 2 * bs : b, b, c, tail, out);
}
#else
static inline int8_t gemm_out(const tee_gemm_job *g, int32_t r, int32_t c, int32_t acc) {
    if (g->col_bias) acc += g->col_bias[c];
    if (g->row_bias) acc += g->row_bias[r];
    const int32_t q = g->per_col ? c : 0;
    return tee_clamp8(tee_requantize_nonneg(acc, g->mult[q], g->shift[q]) + g->out_offset, g->act_min, g->act_max);
}

void tee_gemm_s8(const tee_gemm_job *job, int8_t *out) {
    const tee_gemm_job local = *job; /* a copy the int8 stores below cannot alias, so it stays in registers */
    const tee_gemm_job *g = &local;
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
#endif
