/* MAX_POOL_2D: the largest value of the part of each window inside the input, then the fused
 * activation's clamp (input and output share quantization, as TFLite requires). */
#include "tee_fixedpoint.h"
#include "tee_pool.h"

void tee_max_pool_s8(const tee_pool_params *p, const int8_t *in, int8_t *out) {
    for (int oy = 0; oy < p->out_h; ++oy) {
        for (int ox = 0; ox < p->out_w; ++ox) {
            const tee_pool_window w = tee_pool_window_at(p, oy, ox);
            for (int c = 0; c < p->channels; ++c) {
                int32_t best = -128;
                for (int fy = w.fy0; fy < w.fy1; ++fy)
                    for (int fx = w.fx0; fx < w.fx1; ++fx) best = tee_max32(best, tee_pool_tap(p, in, &w, fy, fx, c));
                *out++ = tee_clamp8(best, p->act_min, p->act_max);
            }
        }
    }
}
