/* The target-specific inner loops of tinyee's optimised kernels, picked by the compiler's feature
 * macros (so by the board's -mcpu/-march flags):
 *   Helium/MVE (Cortex-M55): 16 int8 multiply-accumulates per VMLADAVA, tail-predicated loads;
 *   DSP extension (Cortex-M4/M7/M33): SXTB16 + SMLAD, 2 multiply-accumulates per instruction;
 *   portable C otherwise.
 * Host test builds define TEE_EMULATE_MVE or TEE_EMULATE_DSP to run the very same loops with
 * plain-C definitions of the few intrinsics used (tee_simd_emulation.h). Every path sums the same
 * int32 products, so results are identical to the reference kernels bit for bit; Helium requantizes
 * four lanes at once with the same double rounding (tee_requantize_x4). */
#ifndef TEE_SIMD_H
#define TEE_SIMD_H

#include <stdint.h>
#include <string.h>

#if defined(__ARM_FEATURE_MVE)
#include <arm_mve.h>
#define TEE_PATH_MVE 1
#define TEE_KERNEL_PATH "mve"
#elif defined(TEE_EMULATE_MVE)
#include "tee_simd_emulation.h"
#define TEE_PATH_MVE 1
#define TEE_KERNEL_PATH "mve-emulated"
#elif defined(__ARM_FEATURE_DSP)
#include <arm_acle.h>
#define TEE_PATH_DSP 1
#define TEE_KERNEL_PATH "dsp"
#elif defined(TEE_EMULATE_DSP)
#include "tee_simd_emulation.h"
#define TEE_PATH_DSP 1
#define TEE_KERNEL_PATH "dsp-emulated"
#else
#define TEE_KERNEL_PATH "portable"
#endif

#if defined(TEE_PATH_DSP)
/* Four int8 values from any address (Cortex-M4/M7 LDR allows unaligned addresses). */
static inline int32_t tee_load4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* SXTB16 of the value rotated right by 8 (bytes 1 and 3). ACLE has no rotated form and
 * GCC does not fold the rotation in, so on the target it is one instruction of inline assembly. */
#if defined(__ARM_FEATURE_DSP)
static inline int32_t tee_sxtb16_ror8(int32_t v) {
    int32_t r;
    __asm("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
}
#else
static inline int32_t tee_ror8(int32_t v) { return (int32_t)(((uint32_t)v >> 8) | ((uint32_t)v << 24)); }
static inline int32_t tee_sxtb16_ror8(int32_t v) { return __sxtb16(tee_ror8(v)); }
#endif
#endif

/* For the small blocks of the hot loops, which GCC would otherwise keep as calls. */
#define TEE_ALWAYS_INLINE static inline __attribute__((always_inline))

#if defined(TEE_PATH_MVE)
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

#if !defined(TEE_PATH_MVE)
/* Dot products of rows a0, a1 with rows b0, b1 over n int8 values: acc = {a0.b0, a0.b1, a1.b0, a1.b1}. */
static inline void tee_dot_2x2(const int8_t *a0, const int8_t *a1, const int8_t *b0, const int8_t *b1, int32_t n,
                               int32_t acc[4]) {
    int32_t s00 = 0, s01 = 0, s10 = 0, s11 = 0, i = 0;
#if defined(TEE_PATH_DSP)
    const int8_t *pa0 = a0, *pa1 = a1, *pb0 = b0, *pb1 = b1; /* post-incremented: fewer live registers */
    for (int32_t k = n >> 2; k > 0; --k, pa0 += 4, pa1 += 4, pb0 += 4, pb1 += 4) {
        /* SXTB16 of x and of x rotated by 8 give bytes (0, 2) and (1, 3) as int16 pairs. */
        const int32_t x0 = tee_load4(pa0), x1 = tee_load4(pa1);
        const int32_t y0 = tee_load4(pb0), y1 = tee_load4(pb1);
        const int32_t x0e = __sxtb16(x0), x0o = tee_sxtb16_ror8(x0);
        const int32_t x1e = __sxtb16(x1), x1o = tee_sxtb16_ror8(x1);
        const int32_t y0e = __sxtb16(y0), y0o = tee_sxtb16_ror8(y0);
        const int32_t y1e = __sxtb16(y1), y1o = tee_sxtb16_ror8(y1);
        s00 = __smlad(x0o, y0o, __smlad(x0e, y0e, s00));
        s01 = __smlad(x0o, y1o, __smlad(x0e, y1e, s01));
        s10 = __smlad(x1o, y0o, __smlad(x1e, y0e, s10));
        s11 = __smlad(x1o, y1o, __smlad(x1e, y1e, s11));
    }
    i = n & ~3;
#endif
    for (; i < n; ++i) {
        s00 += a0[i] * b0[i];
        s01 += a0[i] * b1[i];
        s10 += a1[i] * b0[i];
        s11 += a1[i] * b1[i];
    }
    acc[0] = s00;
    acc[1] = s01;
    acc[2] = s10;
    acc[3] = s11;
}

/* Dot product of rows a and b over n int8 values. */
static inline int32_t tee_dot_1x1(const int8_t *a, const int8_t *b, int32_t n) {
    int32_t s = 0, i = 0;
#if defined(TEE_PATH_DSP)
    for (; i + 4 <= n; i += 4) {
        const int32_t x = tee_load4(a + i), y = tee_load4(b + i);
        s = __smlad(tee_sxtb16_ror8(x), tee_sxtb16_ror8(y), __smlad(__sxtb16(x), __sxtb16(y), s));
    }
#endif
    for (; i < n; ++i) s += a[i] * b[i];
    return s;
}
#endif

#if !defined(TEE_PATH_MVE)
/* Depthwise window of channels c..c+3: acc[i] = sum over taps t of x[t][c + i] * w[t * w_stride + i]. */
static inline void tee_depthwise_4(int32_t c, const int8_t *w, int32_t w_stride, const int8_t *const *x, int32_t taps,
                                   int32_t acc[4]) {
    int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (int32_t t = 0; t < taps; ++t, w += w_stride) {
#if defined(TEE_PATH_DSP)
        const int32_t xv = tee_load4(x[t] + c), wv = tee_load4(w);
        const int32_t xe = __sxtb16(xv), xo = tee_sxtb16_ror8(xv);
        const int32_t we = __sxtb16(wv), wo = tee_sxtb16_ror8(wv);
        s0 = __smlabb(xe, we, s0);
        s2 = __smlatt(xe, we, s2);
        s1 = __smlabb(xo, wo, s1);
        s3 = __smlatt(xo, wo, s3);
#else
        const int8_t *xt = x[t] + c;
        s0 += xt[0] * w[0];
        s1 += xt[1] * w[1];
        s2 += xt[2] * w[2];
        s3 += xt[3] * w[3];
#endif
    }
    acc[0] = s0;
    acc[1] = s1;
    acc[2] = s2;
    acc[3] = s3;
}
#endif

#endif
