/* ADD, SUB, MUL and SQUARED_DIFFERENCE with broadcasting: the reference kernel, and the optimised ones:
 * MUL as is and the others with each input's rescaling tabulated in scratch first; on Helium both
 * run four elements per step where the innermost strides are 0 or 1. */
#include <stddef.h>

#include "tee_binary.h"

#if defined(TEE_PATH_MVE)
/* Four lanes of one input: its tabulated rescaling (table: 256 entries for -128..127) gathered, or (MUL,
 * no table) the value plus offset; stride 0 broadcasts a single value. `tail` (a constant in each caller,
 * as the op): only the lanes of pred are read. */
TEE_ALWAYS_INLINE int32x4_t lanes_x4(tee_binary_op op, const int8_t *in, int32_t stride, const int32_t *table,
                                     int32_t offset, int tail, mve_pred16_t pred) {
    if (!stride) return vdupq_n_s32(op != TEE_MUL ? table[*in + 128] : *in + offset);
    const int32x4_t v = tail ? vldrbq_z_s32(in, pred) : vldrbq_s32(in);
    if (op == TEE_MUL) return vaddq_n_s32(v, offset);
    const uint32x4_t at = vreinterpretq_u32_s32(vaddq_n_s32(v, 128));
    return tail ? vldrwq_gather_shifted_offset_z_s32(table, at, pred) : vldrwq_gather_shifted_offset_s32(table, at);
}

/* Four outputs (`tail`: the first n < 4); `op` and `tail` are constants in each caller. */
TEE_ALWAYS_INLINE void step_x4(const tee_binary_params *p, tee_binary_op op, const int8_t *in1, int32_t s1,
                               const int8_t *in2, int32_t s2, const int32_t *t1, const int32_t *t2, int32x4_t mult,
                               tee_shift_x4 shift, int tail, int32_t n, int8_t *out) {
    const mve_pred16_t pred = tail ? vctp32q((uint32_t)n) : 0xFFFF;
    const int32x4_t x = lanes_x4(op, in1, s1, t1, p->in1_offset, tail, pred),
                    y = lanes_x4(op, in2, s2, t2, p->in2_offset, tail, pred);
    const int32x4_t d = vsubq_s32(x, y);
    const int32x4_t raw = op == TEE_ADD ? vaddq_s32(x, y) : op == TEE_MUL ? vmulq_s32(x, y) : vmulq_s32(d, d);
    tee_store_x4(out, raw, mult, shift, p->out_offset, p->act_min, p->act_max, tail ? n : 4);
}

/* A run of n outputs with innermost strides 0 or 1, four per step, each step predicated (`whole`: only
 * the whole steps of an element-wise run, unpredicated; returns the outputs done). */
TEE_ALWAYS_INLINE int32_t run_x4(const tee_binary_params *p, tee_binary_op op, const int8_t *in1, int32_t s1,
                                 const int8_t *in2, int32_t s2, int32_t n, const int32_t *tables, int whole,
                                 int8_t *out) {
    const int32_t *t1 = tables, *t2 = tables ? tables + 256 : NULL;
    const int32x4_t mult = vdupq_n_s32(p->out_mult);
    const tee_shift_x4 shift = tee_split_shift_x4(vdupq_n_s32(p->out_shift));
    int32_t i = 0;
    if (whole)
        for (; i + 4 <= n; i += 4, in1 += 4, in2 += 4) step_x4(p, op, in1, 1, in2, 1, t1, t2, mult, shift, 0, 4, out + i);
    else
        for (; i < n; i += 4, in1 += 4 * s1, in2 += 4 * s2)
            step_x4(p, op, in1, s1, in2, s2, t1, t2, mult, shift, 1, n - i, out + i);
    return i;
}
#endif

/* The reference kernel's arithmetic (any op, read from the parameters) where binary_loop's `op` is this. */
#define REFERENCE ((tee_binary_op)-1)

/* The output's requantization, offset and clamp of an optimised run; full_range (the activation range
 * is all of int8) is a constant where loops are compiled. */
TEE_ALWAYS_INLINE int8_t finish(int32_t raw, const tee_channel_q *q, int32_t offset, int32_t lo, int32_t hi,
                                int full_range) {
    return (int8_t)tee_clamp8_act(tee_requantize_channel(raw, q) + offset, lo, hi, full_range);
}

/* An optimised run of n outputs, one element per step: MUL as is, the others from their tables (SUB as
 * ADD, its second table negated: tee_binary_table_s8); `op` is a constant in each caller. The parameters
 * are read into registers first: the int8 stores might alias *p as far as the compiler knows. */
TEE_ALWAYS_INLINE void run_scalar(const tee_binary_params *p, tee_binary_op op, const tee_channel_q *q, int full_range,
                                  const int8_t *in1, int32_t s1, const int8_t *in2, int32_t s2, int32_t n,
                                  const int32_t *tables, int8_t *out) {
    const int32_t o1 = p->in1_offset, o2 = p->in2_offset, offset = p->out_offset, lo = p->act_min, hi = p->act_max;
    const tee_channel_q qq = *q;
    const int32_t *t1 = tables + 128, *t2 = tables + 256 + 128;
    if (op == TEE_MUL) {
        for (int32_t i = 0; i < n; ++i, in1 += s1, in2 += s2)
            out[i] = finish((*in1 + o1) * (*in2 + o2), &qq, offset, lo, hi, full_range);
    } else if (op == TEE_ADD) {
        for (int32_t i = 0; i < n; ++i, in1 += s1, in2 += s2) out[i] = finish(t1[*in1] + t2[*in2], &qq, offset, lo, hi, full_range);
    } else {
        for (int32_t i = 0; i < n; ++i, in1 += s1, in2 += s2) {
            const int32_t d = t1[*in1] - t2[*in2];
            out[i] = finish(d * d, &qq, offset, lo, hi, full_range);
        }
    }
}

/* One innermost run of n outputs of `op` (a constant in each kernel). With tables (256 rescaled values
 * per input, indexed by value + 128) each element costs one requantization instead of three. On Helium
 * runs with strides 0 or 1 go four elements at a time. */
TEE_ALWAYS_INLINE void binary_run(const tee_binary_params *p, tee_binary_op op, const int8_t *in1, int32_t s1,
                                  const int8_t *in2, int32_t s2, int32_t n, const int32_t *tables, int8_t *out) {
    if (op == REFERENCE) {
        for (int32_t i = 0; i < n; ++i, in1 += s1, in2 += s2) out[i] = tee_binary_reference(p, *in1, *in2);
        return;
    }
#if defined(TEE_PATH_MVE)
    if ((s1 == 0 || s1 == 1) && (s2 == 0 || s2 == 1)) {
        if (s1 == 1 && s2 == 1 && op != TEE_SQUARED_DIFFERENCE) { /* element-wise: whole steps unpredicated */
            const int32_t done = run_x4(p, op, in1, 1, in2, 1, n, tables, 1, out);
            in1 += done;
            in2 += done;
            out += done;
            n -= done;
        }
        run_x4(p, op, in1, s1, in2, s2, n, tables, 0, out);
        return;
    }
#endif
    const tee_channel_q q = tee_channel(0, p->out_mult, p->out_shift);
#if defined(TEE_PATH_MVE)
    run_scalar(p, op, &q, 0, in1, s1, in2, s2, n, tables, out); /* strided runs only: not worth a second copy */
#else
    const int full_range = p->act_min == -128 && p->act_max == 127;
    if (s1 == 1 && s2 == 1) { /* element-wise: the strides constant, which frees two registers */
        if (full_range)
            run_scalar(p, op, &q, 1, in1, 1, in2, 1, n, tables, out);
        else
            run_scalar(p, op, &q, 0, in1, 1, in2, 1, n, tables, out);
    } else if (full_range) {
        run_scalar(p, op, &q, 1, in1, s1, in2, s2, n, tables, out);
    } else {
        run_scalar(p, op, &q, 0, in1, s1, in2, s2, n, tables, out);
    }
#endif
}

/* binary_run of one op, each its own function (referenced only by the kernels of that op, so that a model
 * links the loops of its own ops only). */
typedef void run_fn(const tee_binary_params *p, const int8_t *in1, int32_t s1, const int8_t *in2, int32_t s2, int32_t n,
                    const int32_t *tables, int8_t *out);
#define RUN_OF(name, op)                                                                                         \
    static void name(const tee_binary_params *p, const int8_t *in1, int32_t s1, const int8_t *in2, int32_t s2, \
                     int32_t n, const int32_t *tables, int8_t *out) {                                          \
        binary_run(p, op, in1, s1, in2, s2, n, tables, out);                                                  \
    }
RUN_OF(run_reference, REFERENCE)
RUN_OF(run_add, TEE_ADD)
RUN_OF(run_mul, TEE_MUL)
RUN_OF(run_squared_difference, TEE_SQUARED_DIFFERENCE)

/* Every innermost run (an odometer over the outer dimensions), each by `run`. */
static void binary_loop(const tee_binary_params *params, run_fn *run, const int8_t *in1, const int8_t *in2,
                        const int32_t *tables, int8_t *out) {
    const tee_binary_params local = *params; /* not aliased by the int8 stores, so kept in registers */
    const tee_binary_params *p = &local;
    int32_t idx[TEE_MAX_DIMS] = {0};
    const int last = p->ndims - 1;
    int32_t off1 = 0, off2 = 0;
    for (;;) {
        run(p, in1 + off1, p->in1_strides[last], in2 + off2, p->in2_strides[last], p->out_dims[last], tables, out);
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
    binary_loop(p, run_reference, in1, in2, NULL, out);
}

/* Optimised MUL: the output requantization split once per run; on Helium four elements per step. */
int32_t tee_binary_simd_s8_scratch_size(const tee_binary_params *p) { return p->op == TEE_MUL ? 0 : TEE_KEEP_UNSUPPORTED; }

void tee_binary_simd_s8(const tee_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
    binary_loop(p, run_mul, in1, in2, NULL, out);
}

/* Each input's rescaling tabulated (two tables of 256), which pays off from about two elements per table
 * entry on; MUL needs no input rescaling. ADD and SUB take tee_binary_table_s8, SQUARED_DIFFERENCE
 * tee_squared_difference_table_s8: a model links the loops of the ops it has. */
static int32_t table_scratch(const tee_binary_params *p) {
    int32_t elements = 1;
    for (int32_t d = 0; d < p->ndims; ++d) elements *= p->out_dims[d];
    return elements < 512 ? TEE_KEEP_AS_FAST : 2 * 256 * (int32_t)sizeof(int32_t);
}

static int32_t *fill_tables(const tee_binary_params *p, int8_t *scratch) {
    int32_t *tables = (int32_t *)(void *)scratch; /* the arena planner aligns scratch to 16 bytes */
    tee_binary_rescale_table(p, 0, tables);
    tee_binary_rescale_table(p, 1, tables + 256);
    return tables;
}

int32_t tee_binary_table_s8_scratch_size(const tee_binary_params *p) {
    return p->op == TEE_ADD || p->op == TEE_SUB ? table_scratch(p) : TEE_KEEP_UNSUPPORTED;
}

void tee_binary_table_s8(const tee_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *scratch,
                         int8_t *out) {
    int32_t *tables = fill_tables(p, scratch);
    if (p->op == TEE_SUB) /* a - b as a + (-b): one loop less (rescaled values are far from INT32_MIN) */
        for (int32_t i = 256; i < 512; ++i) tables[i] = -tables[i];
    binary_loop(p, run_add, in1, in2, tables, out);
}

/* The copy of an element-wise op's parameters set to one row of a stream (the generator streams only ops
 * that are one contiguous run). */
static tee_binary_params *row_params(const tee_stream_row *r) {
    tee_binary_params *p = r->params;
    p->out_dims[0] = r->size;
    return p;
}

/* In a stream the first row makes the tables (tee_binary_table_s8), which the member's scratch keeps for
 * the other rows. */
void tee_binary_table_row_s8(const tee_stream_member *m, const tee_stream_row *r) {
    (void)m;
    const tee_binary_params *p = row_params(r);
    if (!r->row)
        tee_binary_table_s8(p, r->in1, r->in2, r->scratch, r->out);
    else
        binary_loop(p, run_add, r->in1, r->in2, (const int32_t *)(void *)r->scratch, r->out);
}

void tee_binary_simd_row_s8(const tee_stream_member *m, const tee_stream_row *r) {
    (void)m;
    binary_loop(row_params(r), run_mul, r->in1, r->in2, NULL, r->out);
}

int32_t tee_squared_difference_table_s8_scratch_size(const tee_binary_params *p) {
    return p->op == TEE_SQUARED_DIFFERENCE ? table_scratch(p) : TEE_KEEP_UNSUPPORTED;
}

void tee_squared_difference_table_s8(const tee_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *scratch,
                                     int8_t *out) {
    binary_loop(p, run_squared_difference, in1, in2, fill_tables(p, scratch), out);
}

void tee_binary_rescale_table(const tee_binary_params *p, int second, int32_t *table) {
    const int32_t offset = second ? p->in2_offset : p->in1_offset;
#if defined(TEE_PATH_MVE)
    const int32x4_t left = vdupq_n_s32(p->left_shift), m = vdupq_n_s32(second ? p->in2_mult : p->in1_mult);
    const tee_shift_x4 sh = tee_split_shift_x4(vdupq_n_s32(second ? p->in2_shift : p->in1_shift));
    int32x4_t v = vsetq_lane_s32(-125, vsetq_lane_s32(-126, vsetq_lane_s32(-127, vdupq_n_s32(-128), 1), 2), 3);
    for (int32_t i = 0; i < 256; i += 4, v = vaddq_n_s32(v, 4))
        vstrwq_s32(table + i, tee_requantize_x4(vshlq_s32(vaddq_n_s32(v, offset), left), m, sh));
#else
    /* tee_binary_rescale with the shift split once: the code generator gives this kernel normalized
     * input multipliers only (tinyee/compile/ops/_binary.py). */
    const tee_channel_q q = tee_channel(0, second ? p->in2_mult : p->in1_mult, second ? p->in2_shift : p->in1_shift);
    for (int32_t v = -128; v < 128; ++v) table[v + 128] = tee_requantize_channel(tee_shl32(v + offset, p->left_shift), &q);
#endif
}
