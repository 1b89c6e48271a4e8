/* AVERAGE_POOL_2D, optimised: each window's sums over POOL_CHANNELS channels at a time, read tap by tap
 * with the channels contiguous (Helium: four channels per load into int32 lanes), then TFLite's rounded
 * division by the number of taps inside the input. */
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
    for (int32_t i = 0; i < n; i += 4, row += 4) {
        const mve_pred16_t lanes = vctp32q((uint32_t)(n - i));
        int32x4_t s = vdupq_n_s32(0);
        const int8_t *r = row;
        for (int32_t fy = w->fy0; fy < w->fy1; ++fy, r += row_step) {
            if (n - i >= 4) /* whole vectors unpredicated */
                for (int32_t fx = w->fx0, x = 0; fx < w->fx1; ++fx, x += channels) s = vaddq_s32(s, vldrbq_s32(r + x));
            else
                for (int32_t fx = w->fx0, x = 0; fx < w->fx1; ++fx, x += channels) s = vaddq_s32(s, vldrbq_z_s32(r + x, lanes));
        }
        vstrwq_s32(sums + i, s);
    }
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
