/* Data movement: TRANSPOSE / STRIDED_SLICE (strided copy), PAD, CONCATENATION. */
#include <string.h>

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

void tee_concat_s8(int32_t outer, int32_t num_inputs, const int8_t *const *inputs, const int32_t *chunk, int8_t *out) {
    for (int32_t o = 0; o < outer; ++o)
        for (int32_t i = 0; i < num_inputs; ++i) {
            memcpy(out, inputs[i] + o * chunk[i], (size_t)chunk[i]);
            out += chunk[i];
        }
}
