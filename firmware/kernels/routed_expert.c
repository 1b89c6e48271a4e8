/* Routed expert MLP (tinyee/compile/route.py): FULLY_CONNECTED, a 256-entry activation table,
 * FULLY_CONNECTED, computed only for the rows (tokens) whose gate is not the gate's zero point. The
 * graph multiplies this output by the gate, and MUL gives its output zero point for a zero-point gate
 * whatever this row holds, so the other rows are left untouched. Chosen rows are gathered
 * TEE_ROUTE_CHUNK at a time into scratch and run through the optimised matrix products there. */
#include <string.h>

#include "tinyee_kernels.h"

#if TEE_COUNT_ROUTED_MACS
/* Multiply-accumulates the experts ran, for host measurements of what routing saves (tinyee/compile/native.py). */
uint64_t tee_routed_macs;
#endif

/* Bytes of a scratch section of `n` bytes, rounded up so the next one stays 16-byte aligned as arena buffers are. */
static int32_t section(int32_t n) { return (n + 15) & ~15; }

int32_t tee_routed_expert_s8_scratch_size(const tee_routed_expert_params *p) {
    if (tee_fully_connected_gemm_s8_scratch_size(&p->up) < 0 || tee_fully_connected_gemm_s8_scratch_size(&p->down) < 0)
        return TEE_KEEP_UNSUPPORTED;
    if (p->up.out_depth != p->down.in_depth || p->up.rows != p->rows || p->down.rows != p->rows)
        return TEE_KEEP_UNSUPPORTED;
    return section(TEE_ROUTE_CHUNK * p->up.in_depth) + section(TEE_ROUTE_CHUNK * p->up.out_depth) +
           TEE_ROUTE_CHUNK * p->down.out_depth;
}

static void run_chunk(const tee_routed_expert_params *p, const int8_t *table, const int8_t *up_filter,
                      const int8_t *down_filter, int8_t *scratch, const int32_t *rows, int32_t n, int8_t *out) {
    tee_fc_params up = p->up, down = p->down;
    int8_t *x = scratch, *h = x + section(TEE_ROUTE_CHUNK * up.in_depth), *e = h + section(TEE_ROUTE_CHUNK * up.out_depth);
    up.rows = down.rows = n;
#if TEE_COUNT_ROUTED_MACS
    tee_routed_macs += (uint64_t)n * (uint64_t)(up.in_depth * up.out_depth + down.in_depth * down.out_depth);
#endif
    tee_fully_connected_gemm_s8(&up, x, up_filter, h);
    tee_lut_s8(table, n * up.out_depth, h, h);
    tee_fully_connected_gemm_s8(&down, h, down_filter, e);
    for (int32_t i = 0; i < n; ++i) memcpy(out + rows[i] * down.out_depth, e + i * down.out_depth, down.out_depth);
}

void tee_routed_expert_s8(const tee_routed_expert_params *p, const int8_t *table, const int8_t *gate,
                          const int8_t *in, const int8_t *up_filter, const int8_t *down_filter, int8_t *scratch,
                          int8_t *out) {
    const int32_t depth = p->up.in_depth;
    int32_t rows[TEE_ROUTE_CHUNK], n = 0;
    for (int32_t r = 0; r < p->rows; ++r) {
        if (gate[r] == p->gate_zero_point) continue;
        memcpy(scratch + n * depth, in + r * depth, depth);
        rows[n++] = r;
        if (n == TEE_ROUTE_CHUNK) {
            run_chunk(p, table, up_filter, down_filter, scratch, rows, n, out);
            n = 0;
        }
    }
    if (n) run_chunk(p, table, up_filter, down_filter, scratch, rows, n, out);
}
