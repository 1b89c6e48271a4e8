/* AVERAGE_POOL_2D reference kernel: rounded integer mean over the window part inside the input. */
#include "tee_fixedpoint.h"
#include "tee_pool.h"

void tee_average_pool_s8(const tee_pool_params *p, const int8_t *in, int8_t *out) {
    for (int oy = 0; oy < p->out_h; ++oy) {
        for (int ox = 0; ox < p->out_w; ++ox) {
            const tee_pool_window w = tee_pool_window_at(p, oy, ox);
            for (int c = 0; c < p->channels; ++c) {
                int32_t acc = 0, count = 0;
                for (int fy = w.fy0; fy < w.fy1; ++fy)
                    for (int fx = w.fx0; fx < w.fx1; ++fx) {
                        acc += tee_pool_tap(p, in, &w, fy, fx, c);
                        ++count;
                    }
                if (count == 0) count = 1; /* TFLite would divide by zero; such windows cannot occur with valid padding */
                acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                *out++ = tee_clamp8(acc, p->act_min, p->act_max);
            }
        }
    }
}
