/* Plain-C definitions of the ACLE DSP intrinsics that tee_dsp.h uses, with the Arm ARM's semantics,
 * so host tests run the DSP path bit for bit (the QEMU tests run it on the emulated Cortex-M4). */
#ifndef TEE_EMULATE_DSP_H
#define TEE_EMULATE_DSP_H

#include <stdint.h>

static inline int32_t tee_lo16(int32_t v) { return (int16_t)(v & 0xFFFF); }
static inline int32_t tee_hi16(int32_t v) { return (int16_t)(((uint32_t)v >> 16) & 0xFFFF); }
static inline int32_t tee_pack16(int32_t lo, int32_t hi) {
    return (int32_t)(((uint32_t)lo & 0xFFFFu) | ((uint32_t)hi << 16));
}

/* SXTB16: sign-extend bytes 0 and 2 into the two halfwords. */
static inline int32_t __sxtb16(int32_t v) { return tee_pack16((int8_t)(v & 0xFF), (int8_t)((v >> 16) & 0xFF)); }
/* SMLAD: acc + lo*lo + hi*hi (wrapping; the Q flag is not modelled). */
static inline int32_t __smlad(int32_t a, int32_t b, int32_t acc) {
    return (int32_t)((uint32_t)acc + (uint32_t)(tee_lo16(a) * tee_lo16(b)) + (uint32_t)(tee_hi16(a) * tee_hi16(b)));
}

#endif
