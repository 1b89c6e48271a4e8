/* PAD: the input surrounded by the output zero point. */
#include <string.h>

#include "tinyee_kernels.h"

static int8_t *pad_dim(const tee_pad_params *p, int d, const int8_t *in, int8_t *out, const int32_t *in_inner,
                       const int32_t *out_inner) {
    const int32_t before = p->pad_before[d] * out_inner[d], after = p->pad_after[d] * out_inner[d];
    memset(out, p->pad_value, (size_t)before);
    out += before;
    if (d == p->ndims - 1) {
        memcpy(out, in, (size_t)p->in_dims[d]);
        out += p->in_dims[d];
    } else {
        for (int32_t i = 0; i < p->in_dims[d]; ++i) out = pad_dim(p, d + 1, in + i * in_inner[d], out, in_inner, out_inner);
    }
    memset(out, p->pad_value, (size_t)after);
    return out + after;
}

void tee_pad_s8(const tee_pad_params *p, const int8_t *in, int8_t *out) {
    int32_t in_inner[TEE_MAX_DIMS], out_inner[TEE_MAX_DIMS]; /* elements per step of each dim */
    int32_t in_size = 1, out_size = 1;
    for (int d = p->ndims - 1; d >= 0; --d) {
        in_inner[d] = in_size;
        out_inner[d] = out_size;
        in_size *= p->in_dims[d];
        out_size *= p->pad_before[d] + p->in_dims[d] + p->pad_after[d];
    }
    pad_dim(p, 0, in, out, in_inner, out_inner);
}
