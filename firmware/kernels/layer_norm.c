/* LayerNorm as onnx2tf's ten int8 ops, fused (tee_layer_norm_params; tinyee/compile/fuse.py). Per row:
 * the two means and the reciprocal square root are scalars; then one pass over the row computes
 * what does not depend on x (s = MUL(r, gamma), b = SUB(beta, MUL(m, s))) and a second one the
 * outputs, so that each pass keeps few requantizations' constants live. The rescalings of
 * SQUARED_DIFFERENCE's, SUB's and ADD's inputs are tabulated once per call, as the optimised binary
 * kernel does. Helium runs each pass four elements at a time. */
#include "tee_binary.h"

#define TABLES 4 /* x in the square, m*s in the offset, x*s and b in the sum */

/* The tables, beta's rescaling per channel, then one row of b's rescaling (int32) and of s (int8). */
int32_t tee_layer_norm_s8_scratch_size(const tee_layer_norm_params *p) {
    return (TABLES * 256 + 2 * p->depth) * (int32_t)sizeof(int32_t) + p->depth;
}

/* MEAN's requantization of a row's sum (mean.c). */
static int32_t row_mean(const tee_mean_params *m, int32_t sum) {
    return tee_clamp8(tee_requantize(sum - m->in_zero_point * m->reduce, m->mult, m->shift) + m->out_zero_point, -128,
                      127);
}

typedef struct {
    const int32_t *x, *ms, *xs, *b; /* each indexed by the int8 value */
    const int32_t *beta;            /* indexed by channel */
} rescaled_tables;

#if defined(TEE_PATH_MVE)
/* An op's output requantization, offset and clamp, four lanes. */
TEE_ALWAYS_INLINE int32x4_t finish_x4(const tee_binary_params *p, int32x4_t raw) {
    return tee_finish_x4(raw, vdupq_n_s32(p->out_mult), tee_split_shift_x4(vdupq_n_s32(p->out_shift)), p->out_offset,
                         -128, 127);
}

TEE_ALWAYS_INLINE int32x4_t gather_x4(const int32_t *table, int32x4_t v, mve_pred16_t pred) {
    return vldrwq_gather_shifted_offset_z_s32(table - 128, vreinterpretq_u32_s32(vaddq_n_s32(v, 128)), pred);
}

static int32_t sum_of_squares(const tee_layer_norm_params *p, const rescaled_tables *t, const int8_t *in,
                              int32_t mean_rescaled) {
    int32_t sum = 0;
    for (int32_t c = 0; c < p->depth; c += 4) {
        const mve_pred16_t pred = vctp32q((uint32_t)(p->depth - c));
        const int32x4_t d = vsubq_n_s32(gather_x4(t->x, vldrbq_z_s32(in + c, pred), pred), mean_rescaled);
        sum = vaddvaq_p_s32(sum, finish_x4(&p->square, vmulq_s32(d, d)), pred);
    }
    return sum;
}

static void scales_and_offsets(const tee_layer_norm_params *p, const rescaled_tables *t, const int8_t *gamma,
                               int32_t r_term, int32_t m_term, int8_t *s_row, int32_t *b_row) {
    for (int32_t c = 0; c < p->depth; c += 4) {
        const mve_pred16_t pred = vctp32q((uint32_t)(p->depth - c));
        const int32x4_t g = vaddq_n_s32(vldrbq_z_s32(gamma + c, pred), p->scale.in2_offset);
        const int32x4_t s = finish_x4(&p->scale, vmulq_n_s32(g, r_term));
        const int32x4_t ms = finish_x4(&p->scale_mean, vmulq_n_s32(vaddq_n_s32(s, p->scale_mean.in2_offset), m_term));
        const int32x4_t bt = vldrwq_z_s32(t->beta + c, pred);
        const int32x4_t b = finish_x4(&p->offset, vsubq_s32(bt, gather_x4(t->ms, ms, pred)));
        vstrbq_p_s32(s_row + c, s, pred);
        vstrwq_p_s32(b_row + c, gather_x4(t->b, b, pred), pred);
    }
}

static void outputs(const tee_layer_norm_params *p, const rescaled_tables *t, const int8_t *in, const int8_t *s_row,
                    const int32_t *b_row, int8_t *out) {
    for (int32_t c = 0; c < p->depth; c += 4) {
        const mve_pred16_t pred = vctp32q((uint32_t)(p->depth - c));
        const int32x4_t x = vaddq_n_s32(vldrbq_z_s32(in + c, pred), p->scale_x.in1_offset);
        const int32x4_t s = vaddq_n_s32(vldrbq_z_s32(s_row + c, pred), p->scale_x.in2_offset);
        const int32x4_t xs = finish_x4(&p->scale_x, vmulq_s32(x, s));
        vstrbq_p_s32(out + c, finish_x4(&p->sum, vaddq_s32(gather_x4(t->xs, xs, pred), vldrwq_z_s32(b_row + c, pred))),
                     pred);
    }
}
#else
/* One op's output requantization and offset, held in locals (the int8 stores could alias the
 * parameter struct as far as the compiler knows). Every output shift here is a right shift of at
 * least 1 (fuse.py checks), so tee_requantize_channel's left shift and zero case drop out. */
typedef struct {
    int32_t mult2, right_less_1, offset;
} out_q;

static inline out_q out_of(const tee_binary_params *p) {
    const tee_channel_q q = tee_channel(0, p->out_mult, p->out_shift);
    const out_q o = {q.mult2, q.right - 1, p->out_offset};
    return o;
}

/* tee_requantize_channel (right shift >= 1), offset and SSAT clamp. */
TEE_ALWAYS_INLINE int32_t finish(const out_q *o, int32_t raw) {
    const int32_t h = tee_high_mul(raw, o->mult2);
    const int32_t t = (h - (h < 0)) >> o->right_less_1;
    return tee_clamp8_act((t >> 1) + (t & 1) + o->offset, -128, 127, 1);
}

/* Each scalar pass below requantizes for at most two ops, so that their constants stay in registers
 * (a Cortex-M4 has 14 to spare; all six ops' at once spill on every element). */
static int32_t sum_of_squares(const tee_layer_norm_params *p, const rescaled_tables *t, const int8_t *in,
                              int32_t mean_rescaled) {
    const out_q o = out_of(&p->square);
    const int32_t *x_rescaled = t->x;
    int32_t sum = 0;
    for (const int8_t *end = in + p->depth; in != end; ++in) {
        const int32_t d = x_rescaled[*in] - mean_rescaled;
        sum += finish(&o, d * d);
    }
    return sum;
}

static TEE_NOINLINE void scales(const tee_binary_params *scale, int32_t depth, const int8_t *gamma, int32_t r_term,
                                int8_t *s_row) {
    const out_q o = out_of(scale);
    const int32_t g_offset = scale->in2_offset;
    for (const int8_t *end = gamma + depth; gamma != end; ++gamma) *s_row++ = (int8_t)finish(&o, r_term * (*gamma + g_offset));
}

static TEE_NOINLINE void offsets(const tee_layer_norm_params *p, const rescaled_tables *t, int32_t m_term,
                                 const int8_t *s_row, int32_t *b_row) {
    const out_q o_mean = out_of(&p->scale_mean), o_offset = out_of(&p->offset);
    const int32_t s_offset = p->scale_mean.in2_offset;
    const int32_t *beta_rescaled = t->beta, *ms_rescaled = t->ms, *b_rescaled = t->b;
    for (const int8_t *end = s_row + p->depth; s_row != end;) {
        const int32_t ms = finish(&o_mean, m_term * (*s_row++ + s_offset));
        *b_row++ = b_rescaled[finish(&o_offset, *beta_rescaled++ - ms_rescaled[ms])];
    }
}

static void scales_and_offsets(const tee_layer_norm_params *p, const rescaled_tables *t, const int8_t *gamma,
                               int32_t r_term, int32_t m_term, int8_t *s_row, int32_t *b_row) {
    scales(&p->scale, p->depth, gamma, r_term, s_row);
    offsets(p, t, m_term, s_row, b_row);
}

static TEE_NOINLINE void outputs(const tee_layer_norm_params *p, const rescaled_tables *t, const int8_t *in,
                                 const int8_t *s_row, const int32_t *b_row, int8_t *out) {
    const out_q o_x = out_of(&p->scale_x), o_sum = out_of(&p->sum);
    const int32_t x_offset = p->scale_x.in1_offset, s_offset = p->scale_x.in2_offset;
    const int32_t *xs_rescaled = t->xs;
    for (const int8_t *end = in + p->depth; in != end; ++in) {
        const int32_t xs = finish(&o_x, (*in + x_offset) * (*s_row++ + s_offset));
        *out++ = (int8_t)finish(&o_sum, xs_rescaled[xs] + *b_row++);
    }
}
#endif

void tee_layer_norm_s8(const tee_layer_norm_params *p, const int8_t *in, const int8_t *gamma, const int8_t *beta,
                       const int8_t *epsilon, const int8_t *rsqrt, int8_t *scratch, int8_t *out) {
    int32_t *tables = (int32_t *)(void *)scratch; /* the arena planner aligns scratch to 16 bytes */
    int32_t *beta_row = tables + TABLES * 256, *b_row = beta_row + p->depth;
    int8_t *s_row = (int8_t *)(b_row + p->depth);
    tee_binary_rescale_table(&p->square, 0, tables);
    tee_binary_rescale_table(&p->offset, 1, tables + 256);
    tee_binary_rescale_table(&p->sum, 0, tables + 512);
    tee_binary_rescale_table(&p->sum, 1, tables + 768);
    for (int32_t c = 0; c < p->depth; ++c) beta_row[c] = tee_binary_rescale(&p->offset, beta[c], 0);
    const rescaled_tables t = {tables + 128, tables + 384, tables + 640, tables + 896, beta_row};
    for (int32_t row = 0; row < p->rows; ++row, in += p->depth, out += p->depth) {
        int32_t sum = 0;
        for (int32_t c = 0; c < p->depth; ++c) sum += in[c];
        const int32_t mean = row_mean(&p->mean, sum);
        const int32_t variance = row_mean(&p->variance, sum_of_squares(p, &t, in, tee_binary_rescale(&p->square, mean, 1)));
        const int32_t r = rsqrt[tee_binary_reference(&p->plus_epsilon, variance, *epsilon) + 128];
        scales_and_offsets(p, &t, gamma, r + p->scale.in1_offset, mean + p->scale_mean.in1_offset, s_row, b_row);
        outputs(p, &t, in, s_row, b_row, out); /* in place (out == in): each x is read before its output is written */
    }
}
