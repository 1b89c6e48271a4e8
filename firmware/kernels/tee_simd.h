/* The target-specific inner loops of tinyee's optimised kernels, picked by the compiler's feature
 * macros (so by the board's -mcpu/-march flags):
 *   Helium/MVE (Cortex-M55): tee_mve.h;
 *   DSP extension (Cortex-M4/M7/M33) and portable C: tee_dsp.h.
 * Host test builds define TEE_EMULATE_MVE or TEE_EMULATE_DSP to run the very same loops with
 * plain-C definitions of the intrinsics used (tee_emulate_mve.h, tee_emulate_dsp.h). Every path sums
 * the same int32 products and rounds as TFLite does, so results are identical to the reference
 * kernels bit for bit. */
#ifndef TEE_SIMD_H
#define TEE_SIMD_H

#include <stdint.h>
#include <string.h>

/* For the small blocks of the hot loops, which GCC would otherwise keep as calls. */
#define TEE_ALWAYS_INLINE static inline __attribute__((always_inline))
/* For a loop whose registers must not be shared with its caller's. */
#define TEE_NOINLINE __attribute__((noinline))

#if defined(__ARM_FEATURE_MVE)
#include <arm_mve.h>
#define TEE_PATH_MVE 1
#define TEE_KERNEL_PATH "mve"
#elif defined(TEE_EMULATE_MVE)
#include "tee_emulate_mve.h"
#define TEE_PATH_MVE 1
#define TEE_KERNEL_PATH "mve-emulated"
#elif defined(__ARM_FEATURE_DSP)
#include <arm_acle.h>
#define TEE_PATH_DSP 1
#define TEE_KERNEL_PATH "dsp"
#if defined(__OPTIMIZE__) /* the assembly loops need 12 to 14 registers: more than -O0 leaves them */
#define TEE_DSP_ASM 1
#endif
#elif defined(TEE_EMULATE_DSP)
#include "tee_emulate_dsp.h"
#define TEE_PATH_DSP 1
#define TEE_KERNEL_PATH "dsp-emulated"
#else
#define TEE_KERNEL_PATH "portable"
#endif

#if defined(TEE_PATH_MVE)
#include "tee_mve.h"
#else
#include "tee_dsp.h"
#endif

/* n bytes set to v (bytes.c: padding runs of im2col and of the depthwise rows, kept out of line). */
void tee_fill_bytes(int8_t *dst, int8_t v, int32_t n);

#endif
