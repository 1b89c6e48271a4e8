/* Plain-C definitions of the MVE intrinsics that tee_mve.h and the Helium kernels use, with the Arm
 * ARM's semantics, so host tests run the Helium path bit for bit (the QEMU tests run it on the
 * emulated Cortex-M55 with the real instructions). */
#ifndef TEE_EMULATE_MVE_H
#define TEE_EMULATE_MVE_H

#include <stdint.h>

typedef struct { int8_t v[16]; } int8x16_t;
typedef struct { int32_t v[4]; } int32x4_t;
typedef struct { uint32_t v[4]; } uint32x4_t;
typedef struct { int16_t v[8]; } int16x8_t;
typedef struct { uint16_t v[8]; } uint16x8_t;
typedef uint16_t mve_pred16_t; /* one bit per byte lane */

/* VCTP.8: the first n byte lanes active. */
static inline mve_pred16_t vctp8q(uint32_t n) { return n >= 16 ? 0xFFFFu : (mve_pred16_t)((1u << n) - 1u); }
/* VLDRB.S8 with zeroing predication: inactive lanes read as 0 and are not accessed. */
static inline int8x16_t vldrbq_z_s8(const int8_t *p, mve_pred16_t pred) {
    int8x16_t r;
    for (int i = 0; i < 16; ++i) r.v[i] = (pred >> i & 1) ? p[i] : 0;
    return r;
}
/* VMLADAVA.S8: acc + sum of lane products. */
static inline int32_t vmladavaq_s8(int32_t acc, int8x16_t a, int8x16_t b) {
    uint32_t s = (uint32_t)acc;
    for (int i = 0; i < 16; ++i) s += (uint32_t)(a.v[i] * b.v[i]);
    return (int32_t)s;
}
static inline int32x4_t vldrbq_z_s32(const int8_t *p, mve_pred16_t pred) {
    int32x4_t r;
    for (int i = 0; i < 4; ++i) r.v[i] = (pred >> (4 * i) & 1) ? p[i] : 0;
    return r;
}
static inline int32x4_t vldrbq_s32(const int8_t *p) { return vldrbq_z_s32(p, 0xFFFFu); }
static inline uint32x4_t vreinterpretq_u32_s32(int32x4_t a) {
    uint32x4_t r;
    for (int i = 0; i < 4; ++i) r.v[i] = (uint32_t)a.v[i];
    return r;
}
/* VLDRW.32 gather, offsets in words, with zeroing predication. */
static inline int32x4_t vldrwq_gather_shifted_offset_z_s32(const int32_t *base, uint32x4_t offset, mve_pred16_t pred) {
    int32x4_t r;
    for (int i = 0; i < 4; ++i) r.v[i] = (pred >> (4 * i) & 1) ? base[offset.v[i]] : 0;
    return r;
}
static inline void vstrwq_s32(int32_t *p, int32x4_t a) {
    for (int i = 0; i < 4; ++i) p[i] = a.v[i];
}
/* VLDRW.32 with zeroing predication. */
static inline int32x4_t vldrwq_z_s32(const int32_t *p, mve_pred16_t pred) {
    int32x4_t r;
    for (int i = 0; i < 4; ++i) r.v[i] = (pred >> (4 * i) & 1) ? p[i] : 0;
    return r;
}
static inline int32x4_t vldrwq_s32(const int32_t *p) { return vldrwq_z_s32(p, 0xFFFFu); }
static inline int32x4_t vdupq_n_s32(int32_t x) {
    int32x4_t r;
    for (int i = 0; i < 4; ++i) r.v[i] = x;
    return r;
}
static inline int32x4_t vaddq_n_s32(int32x4_t a, int32_t x) {
    for (int i = 0; i < 4; ++i) a.v[i] = (int32_t)((uint32_t)a.v[i] + (uint32_t)x);
    return a;
}
static inline int32x4_t vaddq_s32(int32x4_t a, int32x4_t b) {
    for (int i = 0; i < 4; ++i) a.v[i] = (int32_t)((uint32_t)a.v[i] + (uint32_t)b.v[i]);
    return a;
}
static inline int32x4_t vmulq_s32(int32x4_t a, int32x4_t b) {
    for (int i = 0; i < 4; ++i) a.v[i] = (int32_t)((uint32_t)a.v[i] * (uint32_t)b.v[i]);
    return a;
}
/* VCTP.32: the first n word lanes active (four predicate bits per lane). */
static inline mve_pred16_t vctp32q(uint32_t n) { return n >= 4 ? 0xFFFFu : (mve_pred16_t)((1u << (4 * n)) - 1u); }
static inline int32x4_t vsetq_lane_s32(int32_t x, int32x4_t a, int lane) {
    a.v[lane] = x;
    return a;
}
static inline int32x4_t vmaxq_s32(int32x4_t a, int32x4_t b) {
    for (int i = 0; i < 4; ++i) a.v[i] = a.v[i] > b.v[i] ? a.v[i] : b.v[i];
    return a;
}
static inline int32x4_t vminq_s32(int32x4_t a, int32x4_t b) {
    for (int i = 0; i < 4; ++i) a.v[i] = a.v[i] < b.v[i] ? a.v[i] : b.v[i];
    return a;
}
static inline int32x4_t vandq_s32(int32x4_t a, int32x4_t b) {
    for (int i = 0; i < 4; ++i) a.v[i] &= b.v[i];
    return a;
}
static inline int32x4_t vsubq_s32(int32x4_t a, int32x4_t b) {
    for (int i = 0; i < 4; ++i) a.v[i] = (int32_t)((uint32_t)a.v[i] - (uint32_t)b.v[i]);
    return a;
}
static inline int32x4_t vshrq_n_s32(int32x4_t a, int n) {
    for (int i = 0; i < 4; ++i) a.v[i] >>= n;
    return a;
}
static inline int32_t tee_sat32(int64_t x) { return x > INT32_MAX ? INT32_MAX : x < INT32_MIN ? INT32_MIN : (int32_t)x; }
/* VQADD.S32: saturating add. */
static inline int32x4_t vqaddq_s32(int32x4_t a, int32x4_t b) {
    for (int i = 0; i < 4; ++i) a.v[i] = tee_sat32((int64_t)a.v[i] + b.v[i]);
    return a;
}
/* VQRDMULH.S32: saturate((2ab + 2^31) >> 32). */
static inline int32x4_t vqrdmulhq_s32(int32x4_t a, int32x4_t b) {
    for (int i = 0; i < 4; ++i) {
        const int64_t p = (int64_t)a.v[i] * b.v[i];
        a.v[i] = p == (int64_t)1 << 62 ? INT32_MAX : (int32_t)((p + ((int64_t)1 << 30)) >> 31);
    }
    return a;
}
/* VSHL.S32 (register): shift left by the signed bottom byte of b, or right (truncating) if negative. */
static inline int32x4_t vshlq_s32(int32x4_t a, int32x4_t b) {
    for (int i = 0; i < 4; ++i) {
        const int n = (int8_t)b.v[i];
        a.v[i] = n >= 32 ? 0 : n >= 0 ? (int32_t)((uint32_t)a.v[i] << n) : n <= -32 ? a.v[i] >> 31 : a.v[i] >> -n;
    }
    return a;
}
/* VRSHL.S32: as VSHL, but a right shift rounds (adds half of the last bit shifted out, in wider precision). */
static inline int32x4_t vrshlq_s32(int32x4_t a, int32x4_t b) {
    for (int i = 0; i < 4; ++i) {
        const int n = (int8_t)b.v[i];
        if (n >= 0) a.v[i] = n >= 32 ? 0 : (int32_t)((uint32_t)a.v[i] << n);
        else a.v[i] = n < -32 ? 0 : (int32_t)(((int64_t)a.v[i] + ((int64_t)1 << (-n - 1))) >> -n);
    }
    return a;
}
/* VSTRB.32: the low byte of each lane; the predicated form stores active lanes only. */
static inline void vstrbq_s32(int8_t *p, int32x4_t a) {
    for (int i = 0; i < 4; ++i) p[i] = (int8_t)a.v[i];
}
static inline void vstrbq_p_s32(int8_t *p, int32x4_t a, mve_pred16_t pred) {
    for (int i = 0; i < 4; ++i)
        if (pred >> (4 * i) & 1) p[i] = (int8_t)a.v[i];
}
/* VLDRB.S16: eight int8 values widened to int16 lanes. */
static inline int16x8_t vldrbq_s16(const int8_t *p) {
    int16x8_t r;
    for (int i = 0; i < 8; ++i) r.v[i] = p[i];
    return r;
}
/* VMULLB/VMULLT.S16: the even (bottom) or odd (top) int16 lanes multiplied into int32 lanes. */
static inline int32x4_t vmullbq_int_s16(int16x8_t a, int16x8_t b) {
    int32x4_t r;
    for (int i = 0; i < 4; ++i) r.v[i] = a.v[2 * i] * b.v[2 * i];
    return r;
}
static inline int32x4_t vmulltq_int_s16(int16x8_t a, int16x8_t b) {
    int32x4_t r;
    for (int i = 0; i < 4; ++i) r.v[i] = a.v[2 * i + 1] * b.v[2 * i + 1];
    return r;
}
static inline uint32x4_t vldrwq_u32(const uint32_t *p) {
    uint32x4_t r;
    for (int i = 0; i < 4; ++i) r.v[i] = p[i];
    return r;
}
static inline int32x4_t vldrwq_gather_shifted_offset_s32(const int32_t *base, uint32x4_t offset) {
    return vldrwq_gather_shifted_offset_z_s32(base, offset, 0xFFFFu);
}
/* VIDUP.U16: start, start + step, ... */
static inline uint16x8_t vidupq_n_u16(uint32_t start, int step) {
    uint16x8_t r;
    for (int i = 0; i < 8; ++i) r.v[i] = (uint16_t)(start + (uint32_t)(i * step));
    return r;
}
static inline uint16x8_t vmulq_n_u16(uint16x8_t a, uint16_t x) {
    for (int i = 0; i < 8; ++i) a.v[i] = (uint16_t)(a.v[i] * x);
    return a;
}
/* VCTP.16: the first n halfword lanes active (two predicate bits per lane). */
static inline mve_pred16_t vctp16q(uint32_t n) { return n >= 8 ? 0xFFFFu : (mve_pred16_t)((1u << (2 * n)) - 1u); }
/* VLDRB.S16 gather at byte offsets, with zeroing predication. */
static inline int16x8_t vldrbq_gather_offset_z_s16(const int8_t *base, uint16x8_t offset, mve_pred16_t pred) {
    int16x8_t r;
    for (int i = 0; i < 8; ++i) r.v[i] = (pred >> (2 * i) & 1) ? base[offset.v[i]] : 0;
    return r;
}
static inline void vstrbq_p_s16(int8_t *p, int16x8_t a, mve_pred16_t pred) {
    for (int i = 0; i < 8; ++i)
        if (pred >> (2 * i) & 1) p[i] = (int8_t)a.v[i];
}

/* Scalar operands, the predicated word store and the predicated add-across-lanes (LayerNorm). */
static inline int32x4_t vsubq_n_s32(int32x4_t a, int32_t x) {
    for (int i = 0; i < 4; ++i) a.v[i] = (int32_t)((uint32_t)a.v[i] - (uint32_t)x);
    return a;
}
static inline int32x4_t vmulq_n_s32(int32x4_t a, int32_t x) {
    for (int i = 0; i < 4; ++i) a.v[i] = (int32_t)((uint32_t)a.v[i] * (uint32_t)x);
    return a;
}
static inline void vstrwq_p_s32(int32_t *p, int32x4_t a, mve_pred16_t pred) {
    for (int i = 0; i < 4; ++i)
        if (pred >> (4 * i) & 1) p[i] = a.v[i];
}
static inline int32_t vaddvaq_p_s32(int32_t acc, int32x4_t a, mve_pred16_t pred) {
    for (int i = 0; i < 4; ++i)
        if (pred >> (4 * i) & 1) acc = (int32_t)((uint32_t)acc + (uint32_t)a.v[i]);
    return acc;
}

/* Byte copies and fills (bytes.c, tee_mve.h). */
static inline int8x16_t vdupq_n_s8(int8_t x) {
    int8x16_t r;
    for (int i = 0; i < 16; ++i) r.v[i] = x;
    return r;
}
static inline void vstrbq_p_s8(int8_t *p, int8x16_t a, mve_pred16_t pred) {
    for (int i = 0; i < 16; ++i)
        if (pred >> i & 1) p[i] = a.v[i];
}
/* The depthwise kernel's int8 gather into int32 lanes and byte scatter from them (offsets in bytes). */
static inline int32x4_t vldrbq_gather_offset_s32(const int8_t *base, uint32x4_t offset) {
    int32x4_t r;
    for (int i = 0; i < 4; ++i) r.v[i] = base[offset.v[i]];
    return r;
}
static inline void vstrbq_scatter_offset_s32(int8_t *base, uint32x4_t offset, int32x4_t a) {
    for (int i = 0; i < 4; ++i) base[offset.v[i]] = (int8_t)a.v[i];
}

#endif
