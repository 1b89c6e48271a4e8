#include <string.h>

#include "tinyee_kernels.h"
#include "tee_simd.h"

#if TINYEE_PROFILE_OPS
extern uint32_t tinyee_op_ticks[];
uint64_t tinyee_profile_ticks(void);
#endif

/* Windows and members a stream may have (the code generator keeps to it), and room for the parameter
 * structs the row makers take. */
#define TEE_STREAM_MAX 32
#define TEE_STREAM_PARAMS 256
_Static_assert(sizeof(tee_conv_params) <= TEE_STREAM_PARAMS && sizeof(tee_binary_params) <= TEE_STREAM_PARAMS,
               "a member's parameters are copied into TEE_STREAM_PARAMS bytes");

static int8_t *row_at(const tee_stream_window *w, int8_t *arena, int32_t top, int32_t row) {
    return arena + w->offset + (row - top) * w->row_bytes;
}

static int32_t member_at(const tee_stream *s, int32_t i) {
    const int32_t looped = s->period * s->repeats;
    if (i >= s->head) i = i - s->head < looped ? s->head + (i - s->head) % s->period : i - looped + s->period;
    return s->order[i];
}

/* Rows move up a window by whole rows, each a multiple of 16 bytes (stream.py), so a forward copy in
 * steps of up to 16 bytes never reads what it has written. */
static void move_up(int8_t *dst, const int8_t *src, int32_t n) {
#if defined(TEE_PATH_MVE)
    tee_copy_bytes(dst, src, n);
#else
    for (; n > 0; n -= 4, dst += 4, src += 4) {
        uint32_t word;
        memcpy(&word, src, 4);
        memcpy(dst, &word, 4);
    }
#endif
}

/* top[w]: the tensor row at the top of window w; made[m]: rows member m has made. A full window drops its
 * oldest rows to take the next: the generator sized it so that no reader still needs them. */
void tee_stream_run(const tee_stream *s, int8_t *arena) {
    int32_t top[TEE_STREAM_MAX] = {0}, made[TEE_STREAM_MAX] = {0};
    uint32_t params[TEE_STREAM_PARAMS / 4];
    for (int32_t i = 0; i < s->rows; ++i) {
#if TINYEE_PROFILE_OPS
        const uint64_t start = tinyee_profile_ticks();
#endif
        const int32_t k = member_at(s, i);
        const tee_stream_member *m = &s->members[k];
        const tee_stream_window *out = &s->windows[m->out], *in = &s->windows[m->in1];
        tee_stream_row r = {.row = made[k]++, .size = out->row_bytes, .params = params,
                            .scratch = arena + s->scratch + m->scratch};
        const int32_t drop = r.row - top[m->out] - out->capacity + 1;
        if (drop > 0) {
            move_up(arena + out->offset, arena + out->offset + drop * r.size, (out->capacity - 1) * r.size);
            top[m->out] += drop;
        }
        const int32_t lo = r.row * m->stride - m->pad, first = lo > 0 ? lo : 0;
        r.pad_top = first - lo;
        r.in_rows = (lo + m->span < in->rows ? lo + m->span : in->rows) - first;
        r.in1 = row_at(in, arena, top[m->in1], first);
        r.in2 = row_at(&s->windows[m->in2], arena, top[m->in2], first);
        r.out = row_at(out, arena, top[m->out], r.row);
        memcpy(params, m->params, m->params_size);
        m->run(m, &r);
#if TINYEE_PROFILE_OPS
        tinyee_op_ticks[m->slot] += (uint32_t)(tinyee_profile_ticks() - start);
#endif
    }
}
