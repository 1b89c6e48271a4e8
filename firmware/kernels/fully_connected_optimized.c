/* FULLY_CONNECTED as an int8 matrix product (tee_gemm.h), input zero point folded into the bias. */
#include "tinyee_kernels.h"
#include "tee_gemm.h"

/* Symmetric weights only: a filter zero point would need a per-row term. */
int32_t tee_fully_connected_gemm_s8_scratch_size(const tee_fc_params *p) { return p->filter_offset == 0 ? 0 : TEE_KEEP_FILTER_OFFSET; }

void tee_fully_connected_gemm_s8(const tee_fc_params *p, const int8_t *in, const int8_t *filter, int8_t *out) {
    const tee_gemm_job g = {.rows = p->rows, .cols = p->out_depth, .depth = p->in_depth, .a = in, .b = filter,
                        .out_stride = p->out_depth,
                        .col_bias = p->folded_bias, .mult = p->mult, .shift = p->shift, .per_col = p->per_channel,
                        .out_offset = p->out_offset, .act_min = p->act_min, .act_max = p->act_max};
    tee_gemm_s8(&g, out);
}

