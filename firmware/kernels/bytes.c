/* tee_fill_bytes (tee_simd.h): Helium 16 bytes per predicated store; otherwise a byte loop for the short
 * runs of padding it mostly gets, and the library for long ones. */
#include "tee_simd.h"

void tee_fill_bytes(int8_t *dst, int8_t v, int32_t n) {
#if defined(__ARM_FEATURE_MVE) /* a tail-predicated loop, as tee_copy_bytes */
    __asm volatile("vdup.8 q0, %[v]\n\t"
                   "wlstp.8 lr, %[n], 2f\n"
                   "1:\n\t"
                   "vstrb.8 q0, [%[dst]], #16\n\t"
                   "letp lr, 1b\n"
                   "2:"
                   : [dst] "+r"(dst)
                   : [n] "r"(n), [v] "r"((int32_t)v)
                   : "q0", "lr", "memory");
#elif defined(TEE_PATH_MVE)
    const int8x16_t x = vdupq_n_s8(v);
    for (; n > 0; n -= 16, dst += 16) vstrbq_p_s8(dst, x, vctp8q((uint32_t)n));
#else
    if (n >= 32) {
        memset(dst, v, (size_t)n);
        return;
    }
    for (int32_t i = 0; i < n; ++i) dst[i] = v;
#endif
}
