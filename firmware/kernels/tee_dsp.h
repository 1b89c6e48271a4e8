/* DSP-extension (SXTB16 + SMLAD, two multiply-accumulates per instruction) and portable inner loops
 * of the optimised kernels; included by tee_simd.h everywhere but on Helium. */
#ifndef TEE_DSP_H
#define TEE_DSP_H

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

#if defined(TEE_DSP_ASM)
/* tee_dot_2x2's inner loop on the target, four depths per step: rows b0, b1 are unpacked once (SXTB16 of
 * x and of x rotated by 8 give bytes (0, 2) and (1, 3) as int16 pairs), then a1 and a0 in turn, each
 * into the same two registers: 14 registers in all, 20 instructions per 16 multiply-accumulates plus
 * the loop's two per pair of steps (GCC's schedule of the same C spills one register and does not
 * post-increment: 25 per step). */
#define TEE_DOT_2X2_STEP                                                                                          \
    "ldr %[y1o], [%[b], %[n]]\n\t"                                                                               \
    "ldr %[y0o], [%[b]], #4\n\t"                                                                                 \
    "sxtb16 %[y1e], %[y1o]\n\t"                                                                                  \
    "sxtb16 %[y1o], %[y1o], ror #8\n\t"                                                                          \
    "sxtb16 %[y0e], %[y0o]\n\t"                                                                                  \
    "sxtb16 %[y0o], %[y0o], ror #8\n\t"                                                                          \
    "ldr %[x], [%[a], %[n]]\n\t"                                                                                 \
    "sxtb16 %[xe], %[x]\n\t"                                                                                     \
    "sxtb16 %[x], %[x], ror #8\n\t"                                                                              \
    "smlad %[s10], %[xe], %[y0e], %[s10]\n\t"                                                                    \
    "smlad %[s11], %[xe], %[y1e], %[s11]\n\t"                                                                    \
    "smlad %[s10], %[x], %[y0o], %[s10]\n\t"                                                                     \
    "smlad %[s11], %[x], %[y1o], %[s11]\n\t"                                                                     \
    "ldr %[x], [%[a]], #4\n\t"                                                                                   \
    "sxtb16 %[xe], %[x]\n\t"                                                                                     \
    "sxtb16 %[x], %[x], ror #8\n\t"                                                                              \
    "smlad %[s00], %[xe], %[y0e], %[s00]\n\t"                                                                    \
    "smlad %[s01], %[xe], %[y1e], %[s01]\n\t"                                                                    \
    "smlad %[s00], %[x], %[y0o], %[s00]\n\t"                                                                     \
    "smlad %[s01], %[x], %[y1o], %[s01]\n\t"

/* steps (>= 1) of four depths from a, a + n and b, b + n into s; a and b advance past them. An odd
 * step first, then pairs of steps per loop pass. */
static inline void dot_2x2_steps(const int8_t **pa, const int8_t **pb, int32_t n, int32_t steps, int32_t s[4]) {
    const int8_t *a = *pa, *b = *pb;
    int32_t s00 = s[0], s01 = s[1], s10 = s[2], s11 = s[3], x, xe, y0e, y0o, y1e, y1o, pairs = steps >> 1;
#define TEE_DOT_2X2_OPERANDS                                                                                    \
    [a] "+r"(a), [b] "+r"(b), [s00] "+r"(s00), [s01] "+r"(s01), [s10] "+r"(s10), [s11] "+r"(s11), [x] "=&r"(x), \
        [xe] "=&r"(xe), [y0e] "=&r"(y0e), [y0o] "=&r"(y0o), [y1e] "=&r"(y1e), [y1o] "=&r"(y1o)
    if (steps & 1) __asm volatile(TEE_DOT_2X2_STEP : TEE_DOT_2X2_OPERANDS : [n] "r"(n) : "memory");
    if (pairs)
        __asm volatile("1:\n\t" TEE_DOT_2X2_STEP TEE_DOT_2X2_STEP "subs %[k], %[k], #1\n\t"
                       "bne 1b"
                       : TEE_DOT_2X2_OPERANDS, [k] "+r"(pairs)
                       : [n] "r"(n)
                       : "cc", "memory");
#undef TEE_DOT_2X2_OPERANDS
    *pa = a;
    *pb = b;
    s[0] = s00;
    s[1] = s01;
    s[2] = s10;
    s[3] = s11;
}
#endif

/* Dot products of rows a0 = a, a1 = a + n with rows b0 = b, b1 = b + n over n int8 values:
 * acc = {a0.b0, a0.b1, a1.b0, a1.b1}. One row stride for both matrices leaves the inner loop
 * registers enough. */
static inline void tee_dot_2x2(const int8_t *a, const int8_t *b, int32_t n, int32_t acc[4]) {
    int32_t s[4] = {0, 0, 0, 0}, i = 0;
#if defined(TEE_DSP_ASM)
    const int8_t *pa = a, *pb = b;
    if (n >= 4) dot_2x2_steps(&pa, &pb, n, n >> 2, s);
    i = n & ~3;
#elif defined(TEE_PATH_DSP)
    const int8_t *pa = a, *pb = b;
    for (int32_t k = n >> 2; k > 0; --k, pa += 4, pb += 4) {
        /* SXTB16 of x and of x rotated by 8 give bytes (0, 2) and (1, 3) as int16 pairs. */
        const int32_t x0 = tee_load4(pa), x1 = tee_load4(pa + n);
        const int32_t y0 = tee_load4(pb), y1 = tee_load4(pb + n);
        const int32_t x0e = __sxtb16(x0), x0o = tee_sxtb16_ror8(x0);
        const int32_t x1e = __sxtb16(x1), x1o = tee_sxtb16_ror8(x1);
        const int32_t y0e = __sxtb16(y0), y0o = tee_sxtb16_ror8(y0);
        const int32_t y1e = __sxtb16(y1), y1o = tee_sxtb16_ror8(y1);
        s[0] = __smlad(x0o, y0o, __smlad(x0e, y0e, s[0]));
        s[1] = __smlad(x0o, y1o, __smlad(x0e, y1e, s[1]));
        s[2] = __smlad(x1o, y0o, __smlad(x1e, y0e, s[2]));
        s[3] = __smlad(x1o, y1o, __smlad(x1e, y1e, s[3]));
    }
    i = n & ~3;
#endif
    const int8_t *a1 = a + n, *b1 = b + n;
    for (; i < n; ++i) {
        s[0] += a[i] * b[i];
        s[1] += a[i] * b1[i];
        s[2] += a1[i] * b[i];
        s[3] += a1[i] * b1[i];
    }
    acc[0] = s[0];
    acc[1] = s[1];
    acc[2] = s[2];
    acc[3] = s[3];
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
/* n bytes copied (the library's copy: small code; Helium has its own, tee_mve.h). */
static inline void tee_copy_bytes(int8_t *dst, const int8_t *src, int32_t n) { memcpy(dst, src, (size_t)n); }

#endif
