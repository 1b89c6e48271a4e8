/* Helium (MVE) inner loops and requantization of the optimised kernels; included by tee_simd.h on
 * the Cortex-M55 (or with TEE_EMULATE_MVE on the host). */
#ifndef TEE_MVE_H
#define TEE_MVE_H

/* Four lanes' shifts as TFLite's requantization applies them: left before the multiply, right
 * (as a negative VRSHL count) after it. Split once per output channel group, not per output. */
typedef struct {
    int32x4_t left, right;
} tee_shift_x4;

TEE_ALWAYS_INLINE tee_shift_x4 tee_split_shift_x4(int32x4_t shift) {
    const tee_shift_x4 s = {vmaxq_s32(shift, vdupq_n_s32(0)), vminq_s32(shift, vdupq_n_s32(0))};
    return s;
}

/* TFLite's MultiplyByQuantizedMultiplier (tee_requantize) on four lanes, bit for bit. VQRDMULH is
 * gemmlowp's SaturatingRoundingDoublingHighMul exactly; VRSHL rounds ties up where gemmlowp's
 * RoundingDivideByPOT rounds them away from zero, so a negative value about to be shifted right
 * first moves down by one (then a tie rounds to the value below, and nothing else changes). */
TEE_ALWAYS_INLINE int32x4_t tee_requantize_x4(int32x4_t x, int32x4_t mult, tee_shift_x4 shift) {
    const int32x4_t high = vqrdmulhq_s32(vshlq_s32(x, shift.left), mult);
    const int32x4_t fixup = vshrq_n_s32(vandq_s32(high, shift.right), 31); /* -1 where high < 0 and right < 0 */
    return vrshlq_s32(vqaddq_s32(high, fixup), shift.right);
}

/* clamp(requantize(acc) + offset, lo, hi) on four lanes. */
TEE_ALWAYS_INLINE int32x4_t tee_finish_x4(int32x4_t acc, int32x4_t mult, tee_shift_x4 shift, int32_t offset,
                                          int32_t lo, int32_t hi) {
    const int32x4_t v = vaddq_n_s32(tee_requantize_x4(acc, mult, shift), offset);
    return vminq_s32(vmaxq_s32(v, vdupq_n_s32(lo)), vdupq_n_s32(hi));
}

/* The first min(n, 4) of tee_finish_x4 as int8 to out. */
TEE_ALWAYS_INLINE void tee_store_x4(int8_t *out, int32x4_t acc, int32x4_t mult, tee_shift_x4 shift, int32_t offset,
                                    int32_t lo, int32_t hi, int32_t n) {
    const int32x4_t v = tee_finish_x4(acc, mult, shift, offset, lo, hi);
    if (n >= 4)
        vstrbq_s32(out, v);
    else
        vstrbq_p_s32(out, v, vctp32q((uint32_t)n));
}

/* Dot products of row a with rows b0..b3 over n int8 values, lane i holding a.bi: whole vectors
 * first (post-incremented pointers, no predication), then one predicated tail. */
TEE_ALWAYS_INLINE int32x4_t tee_dot_1x4(const int8_t *a, const int8_t *b0, const int8_t *b1, const int8_t *b2,
                                        const int8_t *b3, int32_t n) {
    int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (int32_t k = n >> 4; k > 0; --k, a += 16, b0 += 16, b1 += 16, b2 += 16, b3 += 16) {
        const int8x16_t x = vldrbq_s8(a);
        s0 = vmladavaq_s8(s0, x, vldrbq_s8(b0));
        s1 = vmladavaq_s8(s1, x, vldrbq_s8(b1));
        s2 = vmladavaq_s8(s2, x, vldrbq_s8(b2));
        s3 = vmladavaq_s8(s3, x, vldrbq_s8(b3));
    }
    if (n & 15) {
        const mve_pred16_t p = vctp8q((uint32_t)(n & 15));
        const int8x16_t x = vldrbq_z_s8(a, p);
        s0 = vmladavaq_s8(s0, x, vldrbq_z_s8(b0, p));
        s1 = vmladavaq_s8(s1, x, vldrbq_z_s8(b1, p));
        s2 = vmladavaq_s8(s2, x, vldrbq_z_s8(b2, p));
        s3 = vmladavaq_s8(s3, x, vldrbq_z_s8(b3, p));
    }
    return vsetq_lane_s32(s3, vsetq_lane_s32(s2, vsetq_lane_s32(s1, vdupq_n_s32(s0), 1), 2), 3);
}
/* Depthwise windows of two pixels (tap pointers xa, xb) over channels c..c+7, in int16 lanes with one
 * VMULLB/VMULLT pair per pixel and tap, each weight vector serving both pixels: acc[0] (even) and acc[1]
 * (odd) for pixel a, acc[2] and acc[3] for pixel b; even lane i is channel c + 2i, odd lane i channel
 * c + 2i + 1. Tap t's weights for channel c are at w[t * w_stride]. */
TEE_ALWAYS_INLINE void tee_depthwise_x8_2px(int32_t c, const int8_t *w, int32_t w_stride, const int8_t *const *xa,
                                            const int8_t *const *xb, int32_t taps, int32x4_t acc[4]) {
    int32x4_t ea = vdupq_n_s32(0), oa = ea, eb = ea, ob = ea;
    for (int32_t t = 0; t < taps; ++t, w += w_stride) {
        const int16x8_t wv = vldrbq_s16(w), va = vldrbq_s16(xa[t] + c), vb = vldrbq_s16(xb[t] + c);
        ea = vaddq_s32(ea, vmullbq_int_s16(va, wv));
        oa = vaddq_s32(oa, vmulltq_int_s16(va, wv));
        eb = vaddq_s32(eb, vmullbq_int_s16(vb, wv));
        ob = vaddq_s32(ob, vmulltq_int_s16(vb, wv));
    }
    acc[0] = ea;
    acc[1] = oa;
    acc[2] = eb;
    acc[3] = ob;
}

/* tee_depthwise_x8_2px for one pixel: acc[0] even lanes, acc[1] odd lanes. */
TEE_ALWAYS_INLINE void tee_depthwise_x8(int32_t c, const int8_t *w, int32_t w_stride, const int8_t *const *x,
                                        int32_t taps, int32x4_t acc[2]) {
    int32x4_t e = vdupq_n_s32(0), o = e;
    for (int32_t t = 0; t < taps; ++t, w += w_stride) {
        const int16x8_t wv = vldrbq_s16(w), v = vldrbq_s16(x[t] + c);
        e = vaddq_s32(e, vmullbq_int_s16(v, wv));
        o = vaddq_s32(o, vmulltq_int_s16(v, wv));
    }
    acc[0] = e;
    acc[1] = o;
}

/* Depthwise window of channels c..c+3 (lanes beyond the predicate p read nothing):
 * lane i = sum over taps t of x[t][c + i] * w[t * w_stride + i]. */
TEE_ALWAYS_INLINE int32x4_t tee_depthwise_x4(int32_t c, const int8_t *w, int32_t w_stride, const int8_t *const *x,
                                             int32_t taps, mve_pred16_t p) {
    int32x4_t sum = vdupq_n_s32(0);
    for (int32_t t = 0; t < taps; ++t, w += w_stride)
        sum = vaddq_s32(sum, vmulq_s32(vldrbq_z_s32(x[t] + c, p), vldrbq_z_s32(w, p)));
    return sum;
}

#endif
