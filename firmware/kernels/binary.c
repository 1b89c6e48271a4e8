/* ADD, SUB, MUL and SQUARED_DIFFERENCE with broadcasting: the reference kernel, and the optimised one
 * that tabulates each input's rescaling in scratch first. */
#include <stddef.h>

#include "tinyee_kernels.h"
#include "tee_fixedpoint.h"

/* ADD, SUB and SQUARED_DIFFERENCE first rescale each input on its own (a function of the int8 value). */
static inline int32_t rescale_input(const tee_binary_params *p, int32_t v, int32_t offset, int32_t mult, int32_t shift) {
    return tee_requantize(tee_shl32(v + offset, p->left_shift), mult, shift);
}

/* Output requantization, offset and activation clamp shared by all four ops. */
static inline int8_t finish(const tee_binary_params *p, int32_t raw) {
    return (int8_t)tee_min32(tee_max32(tee_requantize_nonneg(raw, p->out_mult, p->out_shift) + p->out_offset, p->act_min),
                             p->act_max);
}

/* ADD, SUB or SQUARED_DIFFERENCE of one pair of values, each input rescaled on the fly. */
static inline int8_t rescaled_element(const tee_binary_params *p, int32_t a, int32_t b) {
    const int32_t sx = rescale_input(p, a, p->in1_offset, p->in1_mult, p->in1_shift);
    const int32_t sy = rescale_input(p, b, p->in2_offset, p->in2_mult, p->in2_shift);
    if (p->op == TEE_SQUARED_DIFFERENCE) return finish(p, (sx - sy) * (sx - sy));
    return finish(p, p->op == TEE_ADD ? sx + sy : sx - sy);
}

/* One innermost run of n outputs. With tables (256 rescaled values per input, indexed by value + 128),
 * each element costs one requantization instead of three, in a loop specialised per op. */
static void binary_run(const tee_binary_params *p, const int8_t *in1, int32_t s1, const int8_t *in2, int32_t s2,
                       int32_t n, const int32_t *tables, int8_t *out) {
    const int32_t *t1 = tables ? tables + 128 : NULL, *t2 = tables ? tables + 256 + 128 : NULL;
    if (!tables && p->op == TEE_MUL) {
        const int32_t o1 = p->in1_offset, o2 = p->in2_offset;
        for (int32_t i = 0; i < n; ++i, in1 += s1, in2 += s2) out[i] = finish(p, (*in1 + o1) * (*in2 + o2));
    } else if (!tables) {
        for (int32_t i = 0; i < n; ++i, in1 += s1, in2 += s2) out[i] = rescaled_element(p, *in1, *in2);
    } else if (p->op == TEE_ADD) {
        for (int32_t i = 0; i < n; ++i, in1 += s1, in2 += s2) out[i] = finish(p, t1[*in1] + t2[*in2]);
    } else if (p->op == TEE_SUB) {
        for (int32_t i = 0; i < n; ++i, in1 += s1, in2 += s2) out[i] = finish(p, t1[*in1] - t2[*in2]);
    } else { /* SQUARED_DIFFERENCE */
        for (int32_t i = 0; i < n; ++i, in1 += s1, in2 += s2) {
            const int32_t d = t1[*in1] - t2[*in2];
            out[i] = finish(p, d * d);
        }
    }
}

static void binary_loop(const tee_binary_params *params, const int8_t *in1, const int8_t *in2, const int32_t *tables,
                        int8_t *out) {
    const tee_binary_params local = *params; /* not aliased by the int8 stores, so kept in registers */
    const tee_binary_params *p = &local;
    int32_t idx[TEE_MAX_DIMS] = {0};
    const int last = p->ndims - 1;
    int32_t off1 = 0, off2 = 0;
    for (;;) {
        binary_run(p, in1 + off1, p->in1_strides[last], in2 + off2, p->in2_strides[last], p->out_dims[last], tables, out);
        out += p->out_dims[last];
        /* Advance the outer index like an odometer. */
        int d = last - 1;
        for (; d >= 0; --d) {
            off1 += p->in1_strides[d];
            off2 += p->in2_strides[d];
            if (++idx[d] < p->out_dims[d]) break;
            off1 -= p->in1_strides[d] * p->out_dims[d];
            off2 -= p->in2_strides[d] * p->out_dims[d];
            idx[d] = 0;
        }
        if (d < 0) return;
    }
}

void tee_binary_s8(const tee_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
    binary_loop(p, in1, in2, NULL, out);
}

/* The tables pay off from about two elements per table entry on; MUL needs no input rescaling. */
int32_t tee_binary_table_s8_scratch_size(const tee_binary_params *p) {
    int32_t elements = 1;
    for (int32_t d = 0; d < p->ndims; ++d) elements *= p->out_dims[d];
    return p->op == TEE_MUL || elements < 512 ? -1 : 2 * 256 * (int32_t)sizeof(int32_t);
}

void tee_binary_table_s8(const tee_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *scratch,
                         int8_t *out) {
    int32_t *tables = (int32_t *)(void *)scratch; /* the arena planner aligns scratch to 16 bytes */
    for (int32_t v = -128; v < 128; ++v) {
        tables[v + 128] = rescale_input(p, v, p->in1_offset, p->in1_mult, p->in1_shift);
        tables[v + 384] = rescale_input(p, v, p->in2_offset, p->in2_mult, p->in2_shift);
    }
    binary_loop(p, in1, in2, tables, out);
}

