/* Broadcasting binary ops (ADD, SUB, MUL, SQUARED_DIFFERENCE) and unary LOGISTIC, RSQRT, HARD_SWISH. */
#include "tinyee_kernels.h"
#include "tee_fixedpoint.h"

static inline int32_t binary_element(const tee_binary_params *p, int32_t a, int32_t b) {
    const int32_t x = a + p->in1_offset;
    const int32_t y = b + p->in2_offset;
    int32_t raw;
    switch (p->op) {
    case TEE_MUL:
        raw = tee_mbqm(x * y, p->out_mult, p->out_shift);
        break;
    case TEE_SQUARED_DIFFERENCE: {
        const int32_t d = tee_mbqm(tee_shl32(x, p->left_shift), p->in1_mult, p->in1_shift) -
                          tee_mbqm(tee_shl32(y, p->left_shift), p->in2_mult, p->in2_shift);
        raw = tee_mbqm(d * d, p->out_mult, p->out_shift);
        break;
    }
    default: { /* ADD, SUB */
        const int32_t sx = tee_mbqm(tee_shl32(x, p->left_shift), p->in1_mult, p->in1_shift);
        const int32_t sy = tee_mbqm(tee_shl32(y, p->left_shift), p->in2_mult, p->in2_shift);
        raw = tee_mbqm(p->op == TEE_ADD ? sx + sy : sx - sy, p->out_mult, p->out_shift);
        break;
    }
    }
    return tee_min32(tee_max32(raw + p->out_offset, p->act_min), p->act_max);
}

void tee_binary_s8(const tee_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
    int32_t idx[TEE_MAX_DIMS] = {0};
    const int last = p->ndims - 1;
    int32_t off1 = 0, off2 = 0;
    for (;;) {
        for (int32_t i = 0; i < p->out_dims[last]; ++i)
            *out++ = (int8_t)binary_element(p, in1[off1 + i * p->in1_strides[last]], in2[off2 + i * p->in2_strides[last]]);
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

void tee_logistic_s8(const tee_logistic_params *p, const int8_t *in, int8_t *out) {
    for (int32_t i = 0; i < p->size; ++i) {
        const int32_t x = (int32_t)in[i] - p->in_zero_point;
        if (x <= -p->in_range_radius) {
            out[i] = -128;
        } else if (x >= p->in_range_radius) {
            out[i] = 127;
        } else {
            const int32_t x_q4 = tee_mbqm(x, p->in_mult, p->in_left_shift);
            const int32_t y_q0 = tee_logistic_fixed(x_q4, 4);
            out[i] = tee_clamp8(tee_rdbpot(y_q0, 23) - 128, -128, 127);
        }
    }
}

void tee_rsqrt_s8(const tee_rsqrt_params *p, const int8_t *in, int8_t *out) {
    const int32_t k_shift = 20; /* keeps the intermediate an integer, as TFLite Micro */
    for (int32_t i = 0; i < p->size; ++i) {
        const int32_t x = (int32_t)in[i] - p->in_zero_point;
        if (x == 0) {
            out[i] = 127; /* values that quantize to 0 stand for the largest output */
            continue;
        }
        int32_t inv_mult, inv_shift;
        tee_inv_sqrt_multiplier(x, &inv_mult, &inv_shift);
        const int32_t data = tee_mbqm(1, inv_mult, inv_shift + k_shift);
        out[i] = tee_clamp8(tee_mbqm(data, p->mult, p->shift - k_shift) + p->out_zero_point, -128, 127);
    }
}

/* int16 helpers of the HARD_SWISH reference kernel. */
static inline int16_t sat16(int32_t v) { return (int16_t)tee_min32(tee_max32(v, -32768), 32767); }
static inline int16_t srdhm16(int16_t a, int16_t b) {
    if (a == b && a == -32768) return 32767;
    const int32_t ab = (int32_t)a * (int32_t)b;
    const int32_t nudge = ab >= 0 ? (1 << 14) : (1 - (1 << 14));
    return (int16_t)((ab + nudge) / (1 << 15));
}
static inline int16_t sdhm16(int16_t a, int16_t b) { /* truncating variant (SQDMULH) */
    if (a == b && a == -32768) return 32767;
    return (int16_t)(((int32_t)a * (int32_t)b) / (1 << 15));
}
static inline int16_t rdbpot16(int16_t x, int exponent) { return (int16_t)tee_rdbpot(x, exponent); }

void tee_hard_swish_s8(const tee_hard_swish_params *p, const int8_t *in, int8_t *out) {
    for (int32_t i = 0; i < p->size; ++i) {
        const int16_t v = (int16_t)((int32_t)in[i] - p->in_zero_point);
        const int16_t hires = (int16_t)(v * (1 << 7));
        const int16_t preshift_out = srdhm16(hires, p->output_multiplier_fixedpoint_int16);
        int16_t reluish = hires;
        if (p->reluish_multiplier_exponent > 0)
            reluish = sat16((int32_t)reluish * (1 << (p->reluish_multiplier_exponent - 1)));
        reluish = srdhm16(reluish, p->reluish_multiplier_fixedpoint_int16);
        if (p->reluish_multiplier_exponent > 0) reluish = sat16((int32_t)reluish * 2);
        if (p->reluish_multiplier_exponent < 0) reluish = rdbpot16(reluish, -p->reluish_multiplier_exponent);
        reluish = (int16_t)((reluish + (1 << 15)) >> 1);
        const int16_t preshift_value = sdhm16(reluish, preshift_out);
        int32_t value = rdbpot16(preshift_value, -p->output_multiplier_exponent) + p->out_zero_point;
        out[i] = tee_clamp8(value, -128, 127);
    }
}
