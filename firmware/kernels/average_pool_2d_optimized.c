/* AVERAGE_POOL_2D, optimised: each window's sums over POOL_CHANNELS channels at a time, read row by row
 * of taps with the channels contiguous (Helium: four int32 lanes per load, sixteen channels in
 * registers), then TFLite's rounded division by the number of taps inside the input. */
#include "tee_fixedpoint.h"
#include "tee_pool.h"
#include "tee_simd.h"

#define POOL_CHANNELS 16

int32_t tee_average_pool_simd_s8_scratch_size(const tee_pool_params *p) {
    (void)p;
    return 0;
}

/* sums[i] = the window's sum of channel c + i, i < n <= POOL_CHANNELS. */
static void window_sums(const tee_pool_params *p, const int8_t *in, const tee_pool_window *w, int32_t c, int32_t n,
                        int32_t *sums) {
    const int32_t channels = p->channels, row_step = p->in_w * channels;
    const int8_t *row = in + ((int32_t)(w->y0 + w->fy0) * p->in_w + (w->x0 + w->fx0)) * channels + c;
#if defined(TEE_PATH_MVE)
    const mve_pred16_t p0 = vctp32q((uint32_t)n), p1 = vctp32q((uint32_t)(n > 4 ? n - 4 : 0));
    const mve_pred16_t p2 = vctp32q((uint32_t)(n > 8 ? n - 8 : 0)), p3 = vctp32q((uint32_t)(n > 12 ? n - 12 : 0));
    int32x4_t s0 = vdupq_n_s32(0), s1 = s0, s2 = s0, s3 = s0;
    for (int32_t fy = w->fy0; fy < w->fy1; ++fy, row += row_step) {
        const int8_t *x = row;
        for (int32_t fx = w->fx0; fx < w->fx1; ++fx, x += channels) {
            s0 = vaddq_s32(s0, vldrbq_z_s32(x, p0));
            s1 = vaddq_s32(s1, vldrbq_z_s32(x + 4, p1));
            s2 = vaddq_s32(s2, vldrbq_z_s32(x + 8, p2));
            s3 = vaddq_s32(s3, vldrbq_z_s32(x + 12, p3));
        }
    }
    vstrwq_s32(sums, s0);
    vstrwq_s32(sums + 4, s1);
    vstrwq_s32(sums + 8, s2);
    vstrwq_s32(sums + 12, s3);
#else
    for (int32_t i = 0; i < n; ++i) sums[i] = 0;
    for (int32_t fy = w->fy0; fy < w->fy1; ++fy, row += row_step) {
        const int8_t *x = row;
        for (int32_t fx = w->fx0; fx < w->fx1; ++fx, x += channels)
            for (int32_t i = 0; i < n; ++i) sums[i] += x[i];
    }
#endif
}

void tee_average_pool_simd_s8(const tee_pool_params *params, const int8_t *in, int8_t *out) {
    const tee_pool_params local = *params; /* not aliased by the int8 stores, so kept in registers */
    const tee_pool_params *p = &local;
    int32_t sums[POOL_CHANNELS];
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
        for (int32_t ox = 0; ox < p->out_w; ++ox) {
            const tee_pool_window w = tee_pool_window_at(p, oy, ox);
            int32_t count = (w.fy1 - w.fy0) * (w.fx1 - w.fx0);
            if (count <= 0) count = 1; /* as the reference kernel: such windows cannot occur with valid padding */
            for (int32_t c = 0; c < p->channels; c += POOL_CHANNELS) {
                const int32_t n = p->channels - c < POOL_CHANNELS ? p->channels - c : POOL_CHANNELS;
                window_sums(p, in, &w, c, n, sums);
                for (int32_t i = 0; i < n; ++i) {
                    const int32_t acc = sums[i];
                    *out++ = tee_clamp8(acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count, p->act_min,
                                        p->act_max);
                }
            }
        }
    }
}
