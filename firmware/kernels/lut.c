#include "tinyee_kernels.h"

/* LOGISTIC, RSQRT, HARD_SWISH, ...: int8 -> int8 functions of one value, tabulated at build time. */
void tee_lut_s8(const int8_t *table, int32_t size, const int8_t *in, int8_t *out) {
    for (int32_t i = 0; i < size; ++i) out[i] = table[(uint8_t)in[i] ^ 0x80u];
}

void tee_lut_row_s8(const tee_stream_member *m, const tee_stream_row *r) {
    tee_lut_s8((const int8_t *)m->params, r->size, r->in1, r->out);
}
