/* HARD_SWISH reference kernel (int16 fixed point, as TFLite Micro); the optimised set tabulates it. */
#include "tinyee_kernels.h"
#include "tee_fixedpoint.h"

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
static inline int16_t rdbpot16(int16_t x, int exponent) { return (int16_t)tee_rounding_divide_by_pot(x, exponent); }


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
