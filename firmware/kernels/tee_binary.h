/* The element arithmetic of ADD, SUB, MUL and SQUARED_DIFFERENCE (TFLite's int8 kernels), shared by
 * binary.c and the kernels that fuse such ops (layer_norm.c). */
#ifndef TEE_BINARY_H
#define TEE_BINARY_H

#include "tinyee_kernels.h"
#include "tee_fixedpoint.h"
#include "tee_simd.h"

/* ADD, SUB and SQUARED_DIFFERENCE first rescale each input on its own (a function of the int8 value):
 * input 1, or input 2 where `second`. */
static inline int32_t tee_binary_rescale(const tee_binary_params *p, int32_t v, int second) {
    return second ? tee_requantize(tee_shl32(v + p->in2_offset, p->left_shift), p->in2_mult, p->in2_shift)
                  : tee_requantize(tee_shl32(v + p->in1_offset, p->left_shift), p->in1_mult, p->in1_shift);
}

/* The reference element: TFLite's arithmetic as is. ADD, SUB and SQUARED_DIFFERENCE rescale each
 * input first; MUL multiplies the offset inputs. */
static inline int8_t tee_binary_reference(const tee_binary_params *p, int32_t a, int32_t b) {
    int32_t raw;
    if (p->op == TEE_MUL) {
        raw = (a + p->in1_offset) * (b + p->in2_offset);
    } else {
        const int32_t sx = tee_binary_rescale(p, a, 0), sy = tee_binary_rescale(p, b, 1);
        raw = p->op == TEE_SQUARED_DIFFERENCE ? (sx - sy) * (sx - sy) : p->op == TEE_ADD ? sx + sy : sx - sy;
    }
    return tee_clamp8(tee_requantize(raw, p->out_mult, p->out_shift) + p->out_offset, p->act_min, p->act_max);
}

/* tee_binary_rescale of -128..127 (input 1, or 2 where `second`) into table[0..255] (binary.c). */
void tee_binary_rescale_table(const tee_binary_params *p, int second, int32_t *table);

#endif
