/* TRANSPOSE and STRIDED_SLICE: copy a strided view of the input in output order. The code generator
 * merges the loops that can be merged, so innermost runs are as long as the view allows. */
#include <string.h>

#include "tinyee_kernels.h"
#include "tee_simd.h"

/* out[i] = in[i * step] for i < n: memcpy for long contiguous runs, else a loop (gathers on Helium). */
static inline void copy_run(const int8_t *in, int32_t step, int32_t n, int8_t *out) {
    if (step == 1 && n >= 16) {
        memcpy(out, in, (size_t)n);
        return;
    }
    if (step == 1 && (n == 2 || n == 4)) { /* MobileViT's patch (un)folding: runs of a 2x2 patch's pixels */
        if (n == 2) {
            int16_t v;
            memcpy(&v, in, 2);
            memcpy(out, &v, 2);
        } else {
            int32_t v;
            memcpy(&v, in, 4);
            memcpy(out, &v, 4);
        }
        return;
    }
#if defined(TEE_PATH_MVE)
    if (n >= 8 && step > 0 && step <= 0xFFFF / 7) { /* eight bytes per gather, at 16-bit offsets 0, step, .., 7 step */
        const uint16x8_t at = vmulq_n_u16(vidupq_n_u16(0, 1), (uint16_t)step);
        for (int32_t i = 0; i < n; i += 8, in += 8 * step) {
            const mve_pred16_t p = vctp16q((uint32_t)(n - i));
            vstrbq_p_s16(out + i, vldrbq_gather_offset_z_s16(in, at, p), p);
        }
        return;
    }
#endif
    for (int32_t i = 0; i < n; ++i) out[i] = in[i * step];
}

void tee_strided_copy_s8(const tee_gather_params *p, const int8_t *in, int8_t *out) {
    /* The innermost two loops run as a block; an odometer walks the outer ones. */
    int32_t idx[TEE_MAX_DIMS] = {0};
    const int last = p->ndims - 1, rows_dim = last - 1;
    const int32_t n = p->out_dims[last], step = p->in_strides[last];
    const int32_t rows = last > 0 ? p->out_dims[rows_dim] : 1, row_step = last > 0 ? p->in_strides[rows_dim] : 0;
    int32_t off = p->in_start;
    for (;;) {
        for (int32_t r = 0; r < rows; ++r, out += n) copy_run(in + off + r * row_step, step, n, out);
        int d = rows_dim - 1;
        for (; d >= 0; --d) {
            off += p->in_strides[d];
            if (++idx[d] < p->out_dims[d]) break;
            off -= p->in_strides[d] * p->out_dims[d];
            idx[d] = 0;
        }
        if (d < 0) return;
    }
}
