/* FULLY_CONNECTED and BATCH_MATMUL: int32 accumulation, one requantization per output. */
#include "tinyee_kernels.h"
#include "tee_fixedpoint.h"

void tee_fully_connected_s8(const tee_fc_params *p, const int8_t *in, const int8_t *filter, const int32_t *bias,
                            int8_t *out) {
    for (int32_t r = 0; r < p->rows; ++r) {
        const int8_t *x = in + r * p->in_depth;
        for (int32_t o = 0; o < p->out_depth; ++o) {
            const int8_t *w = filter + o * p->in_depth;
            int32_t acc = 0;
            for (int32_t d = 0; d < p->in_depth; ++d)
                acc += ((int32_t)w[d] + p->filter_offset) * ((int32_t)x[d] + p->in_offset);
            if (bias) acc += bias[o];
            const int ch = p->per_channel ? o : 0;
            *out++ = tee_clamp8(tee_mbqm(acc, p->mult[ch], p->shift[ch]) + p->out_offset, p->act_min, p->act_max);
        }
    }
}

void tee_batch_matmul_s8(const tee_batch_matmul_params *p, const int8_t *lhs, const int8_t *rhs, int8_t *out) {
    const int32_t batches = p->batch[0] * p->batch[1] * p->batch[2];
    for (int32_t b = 0; b < batches; ++b) {
        const int8_t *l = lhs + tee_batch_offset(p, p->lhs_batch_stride, b);
        const int8_t *r = rhs + tee_batch_offset(p, p->rhs_batch_stride, b);
        for (int32_t i = 0; i < p->rows; ++i)
            for (int32_t j = 0; j < p->cols; ++j) {
                int32_t acc = 0;
                for (int32_t k = 0; k < p->depth; ++k) {
                    const int32_t a = l[i * p->lhs_row_stride + k * p->lhs_depth_stride];
                    const int32_t b = r[k * p->rhs_depth_stride + j * p->rhs_col_stride];
                    acc += (a + p->lhs_offset) * (b + p->rhs_offset);
                }
                *out++ = tee_clamp8(tee_mbqm(acc, p->mult, p->shift) + p->out_offset, -128, 127);
            }
    }
}
