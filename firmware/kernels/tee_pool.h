/* What the 2-D pooling kernels share: the part of an output pixel's window that lies inside the input. */
#ifndef TEE_POOL_H
#define TEE_POOL_H

#include "tinyee_kernels.h"

typedef struct {
    int y0, x0;   /* input position of the window's top-left tap (may be outside the input) */
    int fy0, fy1; /* window rows fy0 .. fy1 - 1 lie inside the input */
    int fx0, fx1; /* window columns likewise */
} tee_pool_window;

static inline tee_pool_window tee_pool_window_at(const tee_pool_params *p, int oy, int ox) {
    tee_pool_window w;
    w.y0 = oy * p->stride_h - p->pad_h;
    w.x0 = ox * p->stride_w - p->pad_w;
    w.fy0 = w.y0 < 0 ? -w.y0 : 0;
    w.fx0 = w.x0 < 0 ? -w.x0 : 0;
    w.fy1 = p->k_h < p->in_h - w.y0 ? p->k_h : p->in_h - w.y0;
    w.fx1 = p->k_w < p->in_w - w.x0 ? p->k_w : p->in_w - w.x0;
    return w;
}

/* Element (fy, fx) of the window at channel c. */
static inline int32_t tee_pool_tap(const tee_pool_params *p, const int8_t *in, const tee_pool_window *w, int fy, int fx,
                                   int c) {
    return in[((int32_t)(w->y0 + fy) * p->in_w + (w->x0 + fx)) * p->channels + c];
}

#endif
