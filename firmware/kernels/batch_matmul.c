/* BATCH_MATMUL reference kernel: broadcast batches, strided operands (adjoints), int32 accumulation. */
#include "tinyee_kernels.h"
#include "tee_fixedpoint.h"

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
                *out++ = tee_clamp8(tee_requantize(acc, p->mult, p->shift) + p->out_offset, -128, 127);
            }
    }
}
