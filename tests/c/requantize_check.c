/* Every requantization the optimised kernels use against tee_requantize (TFLite's double rounding),
 * on edge and random accumulators, multipliers and shifts. Prints the number of disagreements. */
#include <stdio.h>

#include "tee_fixedpoint.h"
#include "tee_simd.h"

static uint32_t state = 2463534242u;
static int32_t next(void) { /* xorshift32 */
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return (int32_t)state;
}

int main(void) {
    const int32_t edges[] = {TEE_INT32_MIN, TEE_INT32_MIN + 1, -65536, -32768, -257, -256, -255, -129, -128,
                             -127, -3, -2, -1, 0, 1, 2, 3, 127, 128, 255, 256, 32767, 65536, TEE_INT32_MAX - 1,
                             TEE_INT32_MAX};
    const int n_edges = (int)(sizeof edges / sizeof edges[0]);
    long bad = 0, checked = 0;
    for (int32_t shift = -31; shift <= 8; ++shift)
        for (int i = 0; i < 4000; ++i) {
            /* multipliers as TFLite makes them: 0 or in [2^30, 2^31), both ends included */
            const int32_t mult = i % 97 == 0   ? 0
                                 : i % 89 == 0 ? 0x40000000
                                 : i % 83 == 0 ? TEE_INT32_MAX
                                               : (int32_t)(0x40000000u | ((uint32_t)next() & 0x3FFFFFFFu));
            int32_t acc[4];
            for (int k = 0; k < 4; ++k) {
                const int32_t r = next();
                /* tie cases: a multiple of 2^n plus half of it, for the right shift that follows */
                acc[k] = i < n_edges ? edges[(i + k) % n_edges] : k == 3 ? (r >> 8) : r >> (i % 31);
            }
            for (int k = 0; k < 4 && mult; ++k) { /* the scalar form's range: no zero multiplier */
                const int32_t want = tee_requantize(acc[k], mult, shift);
                const tee_channel_q q = tee_channel(0, mult, shift);
                bad += tee_requantize_channel(acc[k], &q) != want;
                ++checked;
            }
#if defined(TEE_PATH_MVE)
            const int32x4_t v = vsetq_lane_s32(acc[3], vsetq_lane_s32(acc[2], vsetq_lane_s32(acc[1], vdupq_n_s32(acc[0]), 1), 2), 3);
            int32_t got[4];
            vstrwq_s32(got, tee_requantize_x4(v, vdupq_n_s32(mult), tee_split_shift_x4(vdupq_n_s32(shift))));
            for (int k = 0; k < 4; ++k) bad += got[k] != tee_requantize(acc[k], mult, shift);
#endif
        }
    printf("%ld %ld\n", checked, bad);
    return 0;
}
