/* BATCH_MATMUL as an int8 matrix product (tee_gemm.h); zero-point terms from row and column sums. */
#include <stddef.h>

#include "tinyee_kernels.h"
#include "tee_gemm.h"

/* Each row sum of a strided [n, depth] view, times sum_scale, into sums; copies the rows to dst unless it is NULL. */
static void pack_rows(const int8_t *src, int32_t n, int32_t depth, int32_t n_stride, int32_t d_stride, int8_t *dst,
                      int32_t *sums, int32_t sum_scale) {
    for (int32_t i = 0; i < n; ++i, src += n_stride) {
        int32_t s = 0;
        const int8_t *v = src;
        if (dst) {
            for (int8_t *end = dst + depth; dst != end; v += d_stride) s += *dst++ = *v;
        } else {
            for (const int8_t *end = src + depth; v != end; ++v) s += *v; /* d_stride 1 where not copied */
        }
        sums[i] = s * sum_scale;
    }
}

/* Column and row terms, plus packed copies of the operands whose depth is strided. */
int32_t tee_batch_matmul_gemm_s8_scratch_size(const tee_batch_matmul_params *p) {
    return 4 * (p->rows + p->cols) + (p->pack_lhs ? p->rows * p->depth : 0) + (p->pack_rhs ? p->cols * p->depth : 0);
}

void tee_batch_matmul_gemm_s8(const tee_batch_matmul_params *p, const int8_t *lhs, const int8_t *rhs,
                              int8_t *scratch, int8_t *out) {
    /* Scratch: int32 column terms [cols], int32 row terms [rows], then the packed copies that the
     * code generator asked for (pack_lhs: [rows][depth], pack_rhs: [cols][depth]). */
    int32_t *col_bias = (int32_t *)(void *)scratch, *row_bias = col_bias + p->cols;
    int8_t *packed_lhs = (int8_t *)(row_bias + p->rows);
    int8_t *packed_rhs = packed_lhs + (p->pack_lhs ? p->rows * p->depth : 0);
    const int32_t lo = p->lhs_offset, ro = p->rhs_offset;
    const int8_t shift = (int8_t)p->shift; /* -31..30, as the gemm's per-channel shifts */
    tee_gemm_job g = {.rows = p->rows, .cols = p->cols, .depth = p->depth, .out_stride = p->cols,
                  .col_bias = col_bias, .row_bias = row_bias, .mult = &p->mult, .shift = &shift, .per_col = 0,
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
        /* An operand read in place has depth stride 1, so its rows are depth apart (or it has one row). */
        g.a = p->pack_lhs ? packed_lhs : l;
        g.b = p->pack_rhs ? packed_rhs : r;
        tee_gemm_s8(&g, out);
    }
}
