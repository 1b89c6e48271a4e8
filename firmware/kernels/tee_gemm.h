/* The int8 matrix product behind the optimised CONV_2D, FULLY_CONNECTED and BATCH_MATMUL kernels:
 *     out[r][c] = requantize(col_bias[c] + row_bias[r] + sum_d a[r][d] * b[c][d])
 * with the rows of a and b contiguous over d and depth apart (blocking per inner-loop path: gemm.c). Zero points are folded out of the inner loop:
 * sum (x + xo)(w + wo) = sum x w + wo sum x + xo sum w + d xo wo. For constant weights the code
 * generator adds xo sum w to the bias; im2col pads with the input zero point, so padding adds 0.
 * The int32 sums equal the reference kernels' sums, so the outputs match them bit for bit. */
#ifndef TEE_GEMM_H
#define TEE_GEMM_H

#include <stdint.h>

typedef struct {
    int32_t rows, cols, depth;
    const int8_t *a, *b;
    int32_t out_stride;
    const int32_t *col_bias, *row_bias; /* either may be NULL */
    const int32_t *mult;
    const int8_t *shift;
    int32_t per_col; /* 1: mult/shift per column; 0: one for all */
    int32_t out_offset, act_min, act_max;
} tee_gemm_job;


void tee_gemm_s8(const tee_gemm_job *job, int8_t *out);

/* Whether tee_gemm_s8 finishes rows in turn: it writes a row's outputs only after the last read of that
 * row of a, and never reads it again, so with as many columns as depth the output may overwrite a. */
int tee_gemm_rows_in_turn(const tee_gemm_job *job);

#endif
