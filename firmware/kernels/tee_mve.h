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

/* Dot products of rows a0, a1, a2 with rows b0, b1 over n int8 values: s[2 i + j] = ai.bj. Each 16
 * values of the five rows are loaded once for six VMLADAVA, which keep their sums in general
 * registers; every step predicated (the matrix product's main loop on the target is the same steps in
 * assembly with only the tail predicated, gemm.c; this serves its odd column and the host). */
TEE_ALWAYS_INLINE void tee_dot_3x2(const int8_t *a0, const int8_t *a1, const int8_t *a2, const int8_t *b0,
                                   const int8_t *b1, int32_t n, int32_t s[6]) {
    int32_t s00 = 0, s01 = 0, s10 = 0, s11 = 0, s20 = 0, s21 = 0;
    for (int32_t k = 0; k < n; k += 16, a0 += 16, a1 += 16, a2 += 16, b0 += 16, b1 += 16) {
        const mve_pred16_t p = vctp8q((uint32_t)(n - k));
        const int8x16_t y0 = vldrbq_z_s8(b0, p), y1 = vldrbq_z_s8(b1, p);
        const int8x16_t x0 = vldrbq_z_s8(a0, p), x1 = vldrbq_z_s8(a1, p), x2 = vldrbq_z_s8(a2, p);
        s00 = vmladavaq_s8(s00, x0, y0);
        s01 = vmladavaq_s8(s01, x0, y1);
        s10 = vmladavaq_s8(s10, x1, y0);
        s11 = vmladavaq_s8(s11, x1, y1);
        s20 = vmladavaq_s8(s20, x2, y0);
        s21 = vmladavaq_s8(s21, x2, y1);
    }
    s[0] = s00;
    s[1] = s01;
    s[2] = s10;
    s[3] = s11;
    s[4] = s20;
    s[5] = s21;
}

/* Depthwise windows of one or two pixels (`two`, a constant in each caller) over channels c..c+7 in int16
 * lanes, one VMULLB/VMULLT pair per pixel and tap, each weight vector serving both pixels. Tap t of pixel
 * a reads x_at[t] + a (b: + b), its weights w[t * w_stride]. sums[0] gets pixel a's sums, even lanes
 * then odd lanes (even lane i is channel c + 2i, odd lane i channel c + 2i + 1), sums[1] pixel b's. */
TEE_ALWAYS_INLINE void tee_depthwise_x8(const int8_t *w, int32_t w_stride, const int8_t *const *x_at, int32_t a,
                                        int32_t b, int32_t taps, int two, int32x4_t (*sums)[2]) {
    int32x4_t ea = vdupq_n_s32(0), oa = ea, eb = ea, ob = ea;
    for (int32_t t = 0; t < taps; ++t, w += w_stride) {
        const int8_t *x = x_at[t];
        const int16x8_t wv = vldrbq_s16(w), va = vldrbq_s16(x + a);
        ea = vaddq_s32(ea, vmullbq_int_s16(va, wv));
        oa = vaddq_s32(oa, vmulltq_int_s16(va, wv));
        if (two) {
            const int16x8_t vb = vldrbq_s16(x + b);
            eb = vaddq_s32(eb, vmullbq_int_s16(vb, wv));
            ob = vaddq_s32(ob, vmulltq_int_s16(vb, wv));
        }
    }
    sums[0][0] = ea;
    sums[0][1] = oa;
    if (two) {
        sums[1][0] = eb;
        sums[1][1] = ob;
    }
}

/* n bytes copied, 16 per step: short runs (im2col's) cost a few instructions instead of a library call.
 * On the target a tail-predicated low-overhead loop (WLSTP/LETP: three instructions per 16 bytes, the
 * last step's lanes cut to what is left); GCC does not emit one, nor keep the predicate in P0. */
TEE_ALWAYS_INLINE void tee_copy_bytes(int8_t *dst, const int8_t *src, int32_t n) {
#if defined(__ARM_FEATURE_MVE)
    __asm volatile("wlstp.8 lr, %[n], 2f\n"
                   "1:\n\t"
                   "vldrb.u8 q0, [%[src]], #16\n\t"
                   "vstrb.8 q0, [%[dst]], #16\n\t"
                   "letp lr, 1b\n"
                   "2:"
                   : [dst] "+r"(dst), [src] "+r"(src)
                   : [n] "r"(n)
                   : "q0", "lr", "memory");
#else
    for (; n > 0; n -= 16, dst += 16, src += 16) {
        const mve_pred16_t p = vctp8q((uint32_t)n);
        vstrbq_p_s8(dst, vldrbq_z_s8(src, p), p);
    }
#endif
}

#endif
