/* tee_gemm_s8: two rows by two columns per step of tee_dot_2x2 (tee_simd.h: Helium, DSP or portable). */
#include "tee_fixedpoint.h"
#include "tee_gemm.h"
#include "tee_simd.h"

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

