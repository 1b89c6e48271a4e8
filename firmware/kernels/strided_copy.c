/* TRANSPOSE and STRIDED_SLICE: copy a strided view of the input in output order. */
#include "tinyee_kernels.h"

void tee_strided_copy_s8(const tee_gather_params *p, const int8_t *in, int8_t *out) {
    int32_t idx[TEE_MAX_DIMS] = {0};
    const int last = p->ndims - 1;
    int32_t off = p->in_start;
    for (;;) {
        const int32_t step = p->in_strides[last];
        for (int32_t i = 0; i < p->out_dims[last]; ++i) *out++ = in[off + i * step];
        int d = last - 1;
        for (; d >= 0; --d) {
            off += p->in_strides[d];
            if (++idx[d] < p->out_dims[d]) break;
            off -= p->in_strides[d] * p->out_dims[d];
            idx[d] = 0;
        }
        if (d < 0) return;
    }
}
