/* tee_gemm_s8. Helium: three rows by two columns per step (tee_dot_3x2) into int32 sums of up to
 * GEMM_COLS columns, then those rows requantized four columns per vector with the columns' parameters
 * loaded as vectors. DSP and portable: two rows by two columns per step (tee_dot_2x2), columns outside
 * and rows inside, so that each column's requantization is set up once. */
#include <stddef.h>

#include "tee_fixedpoint.h"
#include "tee_gemm.h"
#include "tee_simd.h"

#if defined(TEE_PATH_MVE)
#define GEMM_COLS 64 /* columns whose sums wait on the stack for requantization: 3 x 64 x 4 bytes */

/* Four sums, requantized, offset, clamped and stored to out; `tail`: only the lanes of p are read and
 * stored (a constant in each caller: unpredicated loads where they can be); `row_bias` is added where
 * `add_row_bias` (a constant too). */
TEE_ALWAYS_INLINE void requantize_x4(const int32_t *sums, const int32_t *bias, const int32_t *mult, const int8_t *shift,
                                     int add_row_bias, int32_t row_bias, int32_t offset, int32x4_t lo, int32x4_t hi,
                                     int tail, mve_pred16_t p, int8_t *out) {
    int32x4_t acc = tail ? vaddq_s32(vldrwq_z_s32(sums, p), vldrwq_z_s32(bias, p)) : vaddq_s32(vldrwq_s32(sums), vldrwq_s32(bias));
    const int32x4_t m = tail ? vldrwq_z_s32(mult, p) : vldrwq_s32(mult);
    const tee_shift_x4 sh = tee_split_shift_x4(tail ? vldrbq_z_s32(shift, p) : vldrbq_s32(shift));
    if (add_row_bias) acc = vaddq_n_s32(acc, row_bias);
    acc = vaddq_n_s32(tee_requantize_x4(acc, m, sh), offset);
    acc = vminq_s32(vmaxq_s32(acc, lo), hi);
    if (tail)
        vstrbq_p_s32(out, acc, p);
    else
        vstrbq_s32(out, acc);
}

/* The whole vectors of a per-channel row's requantization (per-column parameters and bias, no row bias),
 * the pointers stepping by constants. Returns the columns done. */
TEE_ALWAYS_INLINE int32_t requantize_whole(const int32_t *s, const int32_t *bias, const int32_t *mult, const int8_t *shift,
                                           int32_t offset, int32x4_t lo, int32x4_t hi, int32_t n, int8_t *o) {
    int32_t k = 0;
    for (; k + 4 <= n; k += 4, s += 4, bias += 4, mult += 4, shift += 4, o += 4)
        requantize_x4(s, bias, mult, shift, 0, 0, offset, lo, hi, 0, 0, o);
    return k;
}

/* Rows r .. r + rows - 1 of the sums, n (<= GEMM_COLS) columns from column c on, requantized into out
 * (row r's outputs; rows out_stride apart): a per-channel row's whole vectors, then predicated vectors
 * (the tail, or all of a row with a per-tensor multiplier and shift or a row bias: one copy of the
 * code for the rarer cases). A per-tensor multiplier and shift, or a missing bias, are read from four
 * copies that the pointers do not leave. */
static void requantize_rows(const tee_gemm_job *g, int32_t (*sums)[GEMM_COLS], int32_t r, int32_t rows, int32_t c,
                            int32_t n, int8_t *out) {
    const int32_t one_mult[4] = {g->mult[0], g->mult[0], g->mult[0], g->mult[0]}, no_bias[4] = {0, 0, 0, 0};
    const int8_t one_shift[4] = {g->shift[0], g->shift[0], g->shift[0], g->shift[0]};
    const int32_t param_step = g->per_col ? 4 : 0, bias_step = g->col_bias ? 4 : 0;
    const int per_channel = g->per_col && g->col_bias && !g->row_bias; /* convolutions, fully connected */
    const int32x4_t lo = vdupq_n_s32(g->act_min), hi = vdupq_n_s32(g->act_max);
    for (int32_t i = 0; i < rows; ++i, out += g->out_stride) {
        const int32_t *bias = g->col_bias ? g->col_bias + c : no_bias, *mult = g->per_col ? g->mult + c : one_mult;
        const int8_t *shift = g->per_col ? g->shift + c : one_shift;
        const int32_t row_bias = g->row_bias ? g->row_bias[r + i] : 0;
        int32_t k = per_channel ? requantize_whole(sums[i], bias, mult, shift, g->out_offset, lo, hi, n, out) : 0;
        if (k == n) continue;
        for (bias += k / 4 * bias_step, mult += k / 4 * param_step, shift += k / 4 * param_step; k < n;
             k += 4, bias += bias_step, mult += param_step, shift += param_step)
            requantize_x4(sums[i] + k, bias, mult, shift, 1, row_bias, g->out_offset, lo, hi, 1,
                          vctp32q((uint32_t)(n - k)), out + k);
    }
}

/* Three rows against column pairs: what the assembly below reads (offsets fixed there). */
typedef struct {
    const int8_t *a0, *a1, *a2, *b; /* b: the next pair's first column; advanced by the loop */
    int32_t depth, more, tail, pairs; /* more: whole 16-value steps after the first; tail: depth % 16 */
    int32_t *sums;                    /* sums[row * GEMM_COLS + column], advanced by the loop */
} rows_job;
#if defined(__ARM_FEATURE_MVE) /* the assembly's field offsets (32-bit pointers) and the sums' row stride (#256) */
_Static_assert(offsetof(rows_job, b) == 12 && offsetof(rows_job, depth) == 16 && offsetof(rows_job, more) == 20 &&
                   offsetof(rows_job, tail) == 24 && offsetof(rows_job, pairs) == 28 && offsetof(rows_job, sums) == 32,
               "rows_job's layout is fixed in dot_rows_pairs");
_Static_assert(GEMM_COLS * sizeof(int32_t) == 256, "dot_rows_pairs stores the sums' rows 256 bytes apart");

/* tee_dot_3x2 for `pairs` column pairs in turn, in assembly: the six sums stay in even registers as
 * VMLADAV(A) requires, with the five row pointers and the low-overhead loop's counter beside them, which
 * GCC's schedule of the intrinsics does not manage without spilling inside the loop (12 instructions
 * per 96 multiply-accumulates here). Needs depth >= 16. */
__attribute__((naked)) static void dot_rows_pairs(rows_job *job __attribute__((unused))) { /* job in r0 */
    __asm volatile(
        "push {r4-r11, lr}\n\t"
        "mov r11, r0\n\t"
        "ldr r12, [r11, #16]\n\t"              /* depth */
        "ldr r7, [r11, #12]\n"                 /* b0: the pair's first column */
        "1:\n\t"
        "ldm r11, {r1, r3, r5}\n\t"            /* a0, a1, a2 */
        "add r9, r7, r12\n\t"                  /* b1 */
        "vldrb.u8 q0, [r7], #16\n\t"
        "vldrb.u8 q1, [r9], #16\n\t"
        "vldrb.u8 q2, [r1], #16\n\t"
        "vmladav.s8 r0, q2, q0\n\t"
        "vmladav.s8 r2, q2, q1\n\t"
        "vldrb.u8 q2, [r3], #16\n\t"
        "vmladav.s8 r4, q2, q0\n\t"
        "vmladav.s8 r6, q2, q1\n\t"
        "vldrb.u8 q2, [r5], #16\n\t"
        "vmladav.s8 r8, q2, q0\n\t"
        "vmladav.s8 r10, q2, q1\n\t"
        "ldr lr, [r11, #20]\n\t"
        "wls lr, lr, 3f\n"
        "2:\n\t"
        "vldrb.u8 q0, [r7], #16\n\t"
        "vldrb.u8 q1, [r9], #16\n\t"
        "vldrb.u8 q2, [r1], #16\n\t"
        "vmladava.s8 r0, q2, q0\n\t"
        "vmladava.s8 r2, q2, q1\n\t"
        "vldrb.u8 q2, [r3], #16\n\t"
        "vmladava.s8 r4, q2, q0\n\t"
        "vmladava.s8 r6, q2, q1\n\t"
        "vldrb.u8 q2, [r5], #16\n\t"
        "vmladava.s8 r8, q2, q0\n\t"
        "vmladava.s8 r10, q2, q1\n\t"
        "le lr, 2b\n"
        "3:\n\t"
        "ldr lr, [r11, #24]\n\t"              /* the tail, predicated */
        "cmp lr, #0\n\t"
        "beq 4f\n\t"
        "vctp.8 lr\n\t"
        "vpstt\n\t"
        "vldrbt.u8 q0, [r7]\n\t"
        "vldrbt.u8 q1, [r9]\n\t"
        "add r9, r9, lr\n\t"                   /* b1 past its row */
        "vpst\n\t"
        "vldrbt.u8 q2, [r1]\n\t"
        "vmladava.s8 r0, q2, q0\n\t"
        "vmladava.s8 r2, q2, q1\n\t"
        "vpst\n\t"
        "vldrbt.u8 q2, [r3]\n\t"
        "vmladava.s8 r4, q2, q0\n\t"
        "vmladava.s8 r6, q2, q1\n\t"
        "vpst\n\t"
        "vldrbt.u8 q2, [r5]\n\t"
        "vmladava.s8 r8, q2, q0\n\t"
        "vmladava.s8 r10, q2, q1\n"
        "4:\n\t"
        "mov r7, r9\n\t"                       /* the next pair's b0 */
        "ldr lr, [r11, #32]\n\t"              /* sums: rows GEMM_COLS * 4 bytes apart */
        "strd r0, r2, [lr]\n\t"
        "strd r4, r6, [lr, #256]\n\t"
        "strd r8, r10, [lr, #512]\n\t"
        "add lr, lr, #8\n\t"
        "str lr, [r11, #32]\n\t"
        "ldr lr, [r11, #28]\n\t"
        "subs lr, lr, #1\n\t"
        "str lr, [r11, #28]\n\t"
        "bne 1b\n\t"
        "str r7, [r11, #12]\n\t"              /* b: past the last pair */
        "pop {r4-r11, pc}\n");
}
#endif

/* tee_dot_3x2 of the three rows with column job->b and, where `two`, the one after it, into job->sums. */
static void dot_columns(const rows_job *job, int two) {
    int32_t s[6];
    tee_dot_3x2(job->a0, job->a1, job->a2, job->b, two ? job->b + job->depth : job->b, job->depth, s);
    for (int32_t i = 0; i < 3; ++i) {
        job->sums[i * GEMM_COLS] = s[2 * i];
        if (two) job->sums[i * GEMM_COLS + 1] = s[2 * i + 1];
    }
}

/* Sums of three rows with `pairs` column pairs into job->sums, then, where `last_alone`, one more column
 * by itself. */
static void dot_pairs(rows_job *job, int last_alone) {
#if defined(__ARM_FEATURE_MVE)
    if (job->depth >= 16 && job->pairs) {
        dot_rows_pairs(job);
        job->pairs = 0;
    }
#endif
    for (; job->pairs > 0; --job->pairs, job->b += 2 * job->depth, job->sums += 2) dot_columns(job, 1);
    if (last_alone) dot_columns(job, 0);
}

/* Three rows at a time, all their columns before the next rows: in turn where one block of columns
 * holds them all. */
int tee_gemm_rows_in_turn(const tee_gemm_job *job) { return job->cols <= GEMM_COLS; }

void tee_gemm_s8(const tee_gemm_job *job, int8_t *out) {
    const tee_gemm_job local = *job; /* a copy the int8 stores below cannot alias, so it stays in registers */
    const tee_gemm_job *g = &local;
    const int32_t d = g->depth;
    int32_t sums[3][GEMM_COLS];
    for (int32_t r = 0; r < g->rows; r += 3) {
        const int32_t rows = g->rows - r < 3 ? g->rows - r : 3;
        /* Missing rows repeat row r: computed, never stored. */
        const int8_t *a0 = g->a + r * d, *a1 = rows > 1 ? a0 + d : a0, *a2 = rows > 2 ? a0 + 2 * d : a0;
        for (int32_t c0 = 0; c0 < g->cols; c0 += GEMM_COLS) {
            const int32_t cols = g->cols - c0 < GEMM_COLS ? g->cols - c0 : GEMM_COLS;
            rows_job rj = {a0, a1, a2, g->b + c0 * d, d, (d >> 4) - 1, d & 15, cols >> 1, &sums[0][0]};
            dot_pairs(&rj, cols & 1);
            requantize_rows(g, sums, r, rows, c0, cols, out + r * g->out_stride + c0);
        }
    }
}
#else
/* clamp(requantize(acc) + offset) of one output; full_range: the activation range is all of int8. */
TEE_ALWAYS_INLINE int32_t gemm_out(const tee_gemm_job *g, const tee_channel_q *q, int32_t acc, int full_range) {
    return tee_clamp8_act(tee_requantize_channel(acc, q) + g->out_offset, g->act_min, g->act_max, full_range);
}

static inline int32_t row_bias(const tee_gemm_job *g, int32_t r) { return g->row_bias ? g->row_bias[r] : 0; }

static inline tee_channel_q column_q(const tee_gemm_job *g, int32_t c) {
    const int32_t k = g->per_col ? c : 0;
    return tee_channel(g->col_bias ? g->col_bias[c] : 0, g->mult[k], g->shift[k]);
}

/* The output of row a and column b outside the 2x2 blocks (an odd last row or column): out of line, one
 * copy for the three places that need it. */
TEE_NOINLINE static int8_t lone_out(const tee_gemm_job *g, const tee_channel_q *q, const int8_t *a, const int8_t *b,
                                    int32_t r) {
    return (int8_t)gemm_out(g, q, tee_dot_1x1(a, b, g->depth) + row_bias(g, r), 0);
}

/* The 2x2 block's four outputs; full_range is a constant in each call, so one of them clamps with SSAT. */
TEE_ALWAYS_INLINE void block_out(const tee_gemm_job *g, const tee_channel_q *q0, const tee_channel_q *q1,
                                 const int32_t acc[4], int32_t rb0, int32_t rb1, int full_range, int8_t *o) {
    const int32_t os = g->out_stride;
    /* Column by column, so that each column's constants load once. */
    const int32_t y0 = gemm_out(g, q0, acc[0] + rb0, full_range), y2 = gemm_out(g, q0, acc[2] + rb1, full_range);
    const int32_t y1 = gemm_out(g, q1, acc[1] + rb0, full_range), y3 = gemm_out(g, q1, acc[3] + rb1, full_range);
    o[0] = (int8_t)y0;
    o[1] = (int8_t)y1;
    o[os] = (int8_t)y2;
    o[os + 1] = (int8_t)y3;
}

/* Columns outside: a row is read again for every pair of columns. */
int tee_gemm_rows_in_turn(const tee_gemm_job *job) {
    (void)job;
    return 0;
}

/* Column pairs outside, row pairs inside: each column's requantization is split once for all rows. */
void tee_gemm_s8(const tee_gemm_job *job, int8_t *out) {
    const tee_gemm_job local = *job; /* a copy the int8 stores below cannot alias, so it stays in registers */
    const tee_gemm_job *g = &local;
    const int32_t os = g->out_stride, as = g->depth;
    const int full_range = g->act_min == -128 && g->act_max == 127;
    int32_t c = 0;
    for (; c + 2 <= g->cols; c += 2) {
        const int8_t *b0 = g->b + c * as, *b1 = b0 + as;
        const tee_channel_q q0 = column_q(g, c), q1 = column_q(g, c + 1);
        const int8_t *a = g->a;
        int8_t *o = out + c;
        int32_t r = 0;
        for (; r + 2 <= g->rows; r += 2, a += 2 * as, o += 2 * os) {
            int32_t acc[4];
            tee_dot_2x2(a, b0, as, acc);
            const int32_t rb0 = row_bias(g, r), rb1 = row_bias(g, r + 1);
            if (full_range)
                block_out(g, &q0, &q1, acc, rb0, rb1, 1, o);
            else
                block_out(g, &q0, &q1, acc, rb0, rb1, 0, o);
        }
        if (r < g->rows) {
            o[0] = lone_out(g, &q0, a, b0, r);
            o[1] = lone_out(g, &q1, a, b1, r);
        }
    }
    if (c < g->cols) {
        const int8_t *b0 = g->b + c * as;
        const tee_channel_q q0 = column_q(g, c);
        for (int32_t r = 0; r < g->rows; ++r)
            out[r * os + c] = lone_out(g, &q0, g->a + r * as, b0, r);
    }
}
#endif
