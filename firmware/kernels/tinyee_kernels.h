/* tinyee int8 kernel library: portable C99, no allocation, bit-exact with TFLite Micro's
 * reference int8 kernels. Parameter structs are filled by tinyee's code generator, which
 * precomputes every multiplier, shift and offset at build time. One file per op (<op>.c), and
 * <op>_optimized.c beside it where an optimised kernel exists. An optimised kernel that needs
 * working memory or accepts only some parameters has <kernel>_scratch_size(params): the bytes of
 * scratch it needs, or a negative TEE_KEEP_* code where the generator keeps the reference kernel:
 * for most codes the build warns, naming the call and the code's reason. The generator calls these
 * at build time, so the sizes live here only. */
#ifndef TINYEE_KERNELS_H
#define TINYEE_KERNELS_H

#include <stdint.h>

#define TEE_KEEP_UNSUPPORTED (-1)      /* the optimised kernel cannot run these parameters */
#define TEE_KEEP_AS_FAST (-2)          /* it could, but the reference kernel is as fast here: no warning */
#define TEE_KEEP_DEPTH_MULTIPLIER (-3) /* a depthwise depth multiplier above 1 */
#define TEE_KEEP_TAPS (-4)             /* a window of more taps than the kernel's tap tables hold */
#define TEE_KEEP_FEW_CHANNELS (-5)     /* fewer channels than the kernel's vector lanes */
#define TEE_KEEP_FILTER_OFFSET (-6)    /* asymmetric (non-zero zero point) weights */

#define TEE_MAX_DIMS 6

typedef struct {
    int16_t in_h, in_w, in_c, out_h, out_w, out_c;
    int16_t k_h, k_w, stride_h, stride_w, dil_h, dil_w, pad_h, pad_w;
    int16_t depth_multiplier; /* depthwise only */
    int32_t in_offset, out_offset, act_min, act_max;
    const int32_t *mult; /* per output channel */
    const int8_t *shift;
    const int32_t *folded_bias;  /* optimised kernels only: bias + in_offset * sum of each output channel's filter */
} tee_conv_params;

void tee_conv2d_s8(const tee_conv_params *p, const int8_t *in, const int8_t *filter, const int32_t *bias, int8_t *out);
void tee_depthwise_conv2d_s8(const tee_conv_params *p, const int8_t *in, const int8_t *filter, const int32_t *bias,
                             int8_t *out);

/* Optimised (conv_2d_optimized.c): a matrix product over im2col rows in scratch (NULL for 1x1 convolutions). */
int32_t tee_conv2d_gemm_s8_scratch_size(const tee_conv_params *p);
void tee_conv2d_gemm_s8(const tee_conv_params *p, const int8_t *in, const int8_t *filter, int8_t *scratch,
                        int8_t *out);
/* Optimised (depthwise_conv_2d_optimized.c), with the input offset folded into folded_bias; scratch holds
 * a ring of the input rows the windows read, padded with the input zero point (out may overwrite in). */
int32_t tee_depthwise_conv2d_simd_s8_scratch_size(const tee_conv_params *p);
void tee_depthwise_conv2d_simd_s8(const tee_conv_params *p, const int8_t *in, const int8_t *filter, int8_t *scratch,
                                  int8_t *out);

typedef struct {
    int32_t rows, in_depth, out_depth;
    int32_t in_offset, filter_offset, out_offset, act_min, act_max;
    const int32_t *mult; /* out_depth entries, or 1 when per_channel is 0 */
    const int8_t *shift;
    int32_t per_channel;
    const int32_t *folded_bias; /* gemm kernel only: bias + in_offset * sum of each output's weights */
} tee_fc_params;

void tee_fully_connected_s8(const tee_fc_params *p, const int8_t *in, const int8_t *filter, const int32_t *bias,
                            int8_t *out);
/* Optimised (fully_connected_optimized.c); needs filter_offset 0 (int8 weights are symmetric). */
int32_t tee_fully_connected_gemm_s8_scratch_size(const tee_fc_params *p);
void tee_fully_connected_gemm_s8(const tee_fc_params *p, const int8_t *in, const int8_t *filter, int8_t *out);

typedef struct {
    int32_t batch[3];                       /* output batch dims (leading dims padded with 1) */
    int32_t lhs_batch_stride[3], rhs_batch_stride[3];
    int32_t rows, cols, depth;              /* out [rows, cols], accumulate over depth */
    int32_t lhs_row_stride, lhs_depth_stride, rhs_depth_stride, rhs_col_stride;
    int32_t lhs_offset, rhs_offset, out_offset, mult, shift;
    int32_t pack_lhs, pack_rhs;             /* gemm kernel only: copy the operand whose depth is strided */
} tee_batch_matmul_params;

void tee_batch_matmul_s8(const tee_batch_matmul_params *p, const int8_t *lhs, const int8_t *rhs, int8_t *out);

/* Element offset of batch `index` (row-major over batch[0..2]) in an operand with these batch strides. */
static inline int32_t tee_batch_offset(const tee_batch_matmul_params *p, const int32_t *strides, int32_t index) {
    return index / (p->batch[1] * p->batch[2]) * strides[0] + index / p->batch[2] % p->batch[1] * strides[1] +
           index % p->batch[2] * strides[2];
}
/* Optimised (batch_matmul_optimized.c). */
int32_t tee_batch_matmul_gemm_s8_scratch_size(const tee_batch_matmul_params *p);
void tee_batch_matmul_gemm_s8(const tee_batch_matmul_params *p, const int8_t *lhs, const int8_t *rhs,
                              int8_t *scratch, int8_t *out);

typedef enum { TEE_ADD, TEE_SUB, TEE_MUL, TEE_SQUARED_DIFFERENCE } tee_binary_op;

typedef struct {
    tee_binary_op op;
    int32_t ndims;
    int32_t out_dims[TEE_MAX_DIMS];
    int32_t in1_strides[TEE_MAX_DIMS], in2_strides[TEE_MAX_DIMS]; /* 0 where broadcast */
    int32_t in1_offset, in2_offset, out_offset, left_shift;
    int32_t in1_mult, in1_shift, in2_mult, in2_shift, out_mult, out_shift;
    int32_t act_min, act_max;
} tee_binary_params;

void tee_binary_s8(const tee_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);
/* Optimised MUL, same parameters (Helium: four elements per step where the innermost strides are 0 or 1). */
int32_t tee_binary_simd_s8_scratch_size(const tee_binary_params *p);
void tee_binary_simd_s8(const tee_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);
/* ADD and SUB (and SQUARED_DIFFERENCE in a kernel of its own, so that a model links only the loops of its
 * ops) with each input's rescaling tabulated first in scratch (2 x 256 int32). */
int32_t tee_binary_table_s8_scratch_size(const tee_binary_params *p);
void tee_binary_table_s8(const tee_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *scratch,
                         int8_t *out);
int32_t tee_squared_difference_table_s8_scratch_size(const tee_binary_params *p);
void tee_squared_difference_table_s8(const tee_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *scratch,
                                     int8_t *out);

typedef struct {
    int32_t size, in_zero_point, in_mult, in_left_shift, in_range_radius;
} tee_logistic_params;

void tee_logistic_s8(const tee_logistic_params *p, const int8_t *in, int8_t *out);

typedef struct {
    int32_t size, in_zero_point, out_zero_point, mult, shift;
} tee_rsqrt_params;

void tee_rsqrt_s8(const tee_rsqrt_params *p, const int8_t *in, int8_t *out);

/* An expert MLP of a mixture-of-experts layer, FULLY_CONNECTED -> table -> FULLY_CONNECTED, run only on
 * the rows whose gate is not gate_zero_point (routed_expert.c); up and down as the gemm kernel takes them. */
#define TEE_ROUTE_CHUNK 8
typedef struct {
    int32_t rows, gate_zero_point;
    tee_fc_params up, down;
} tee_routed_expert_params;
int32_t tee_routed_expert_s8_scratch_size(const tee_routed_expert_params *p);
void tee_routed_expert_s8(const tee_routed_expert_params *p, const int8_t *table, const int8_t *gate,
                          const int8_t *in, const int8_t *up_filter, const int8_t *down_filter, int8_t *scratch,
                          int8_t *out);
typedef struct {
    int32_t rows, depth, in_mult, in_left_shift, diff_min;
} tee_softmax_params;

void tee_softmax_s8(const tee_softmax_params *p, const int8_t *in, int8_t *out);
/* The same with the 256 possible exponentials tabulated first in scratch (256 int32). */
int32_t tee_softmax_table_s8_scratch_size(const tee_softmax_params *p);
void tee_softmax_table_s8(const tee_softmax_params *p, const int8_t *in, int8_t *scratch, int8_t *out);

typedef struct {
    int32_t outer, reduce, inner; /* input viewed as [outer, reduce, inner] */
    int32_t in_zero_point, out_zero_point, mult, shift;
} tee_mean_params;

void tee_mean_s8(const tee_mean_params *p, const int8_t *in, int8_t *out);

typedef struct {
    int32_t outer, reduce, inner; /* input viewed as [outer, reduce, inner] */
} tee_reduce_params;
void tee_reduce_max_s8(const tee_reduce_params *p, const int8_t *in, int8_t *out);
/* LayerNorm over the last axis as onnx2tf writes it, ten int8 ops (tinyee/compile/fuse.py), in one
 * pass per row: each op's own requantization, bit for bit, nothing in between stored. The binary
 * ops' inputs are in the order their names say; their activation range is all of int8. */
typedef struct {
    int32_t rows, depth;
    tee_mean_params mean, variance;       /* m = MEAN(x), v = MEAN(square) */
    tee_binary_params square;             /* SQUARED_DIFFERENCE(x, m) */
    tee_binary_params plus_epsilon;       /* e = ADD(v, epsilon); r = RSQRT(e) by table */
    tee_binary_params scale;              /* s = MUL(r, gamma) */
    tee_binary_params scale_x, scale_mean; /* MUL(x, s), MUL(m, s) */
    tee_binary_params offset;             /* b = SUB(beta, MUL(m, s)) */
    tee_binary_params sum;                /* y = ADD(MUL(x, s), b) */
} tee_layer_norm_params;

int32_t tee_layer_norm_s8_scratch_size(const tee_layer_norm_params *p);
void tee_layer_norm_s8(const tee_layer_norm_params *p, const int8_t *in, const int8_t *gamma, const int8_t *beta,
                       const int8_t *epsilon, const int8_t *rsqrt, int8_t *scratch, int8_t *out);

typedef struct {
    int32_t ndims;
    int32_t out_dims[TEE_MAX_DIMS];
    int32_t in_strides[TEE_MAX_DIMS]; /* input stride of each output dim (permuted or strided view) */
    int32_t in_start;                 /* element offset of the first input element */
} tee_gather_params;

/* TRANSPOSE and STRIDED_SLICE: copy a strided view of the input in output order. */
void tee_strided_copy_s8(const tee_gather_params *p, const int8_t *in, int8_t *out);

typedef struct {
    int32_t ndims;
    int32_t in_dims[TEE_MAX_DIMS], pad_before[TEE_MAX_DIMS], pad_after[TEE_MAX_DIMS];
    int8_t pad_value;
} tee_pad_params;

void tee_pad_s8(const tee_pad_params *p, const int8_t *in, int8_t *out);

/* CONCATENATION: inputs share quantization; each input contributes chunk[i] bytes per outer step. */
void tee_concat_s8(int32_t outer, int32_t num_inputs, const int8_t *const *inputs, const int32_t *chunk, int8_t *out);

typedef struct {
    int16_t in_h, in_w, channels, out_h, out_w, k_h, k_w, stride_h, stride_w, pad_h, pad_w;
    int32_t act_min, act_max;
} tee_pool_params;

void tee_average_pool_s8(const tee_pool_params *p, const int8_t *in, int8_t *out);
/* Optimised (average_pool_2d_optimized.c): channels contiguous per tap, no scratch. */
int32_t tee_average_pool_simd_s8_scratch_size(const tee_pool_params *p);
void tee_average_pool_simd_s8(const tee_pool_params *p, const int8_t *in, int8_t *out);
void tee_max_pool_s8(const tee_pool_params *p, const int8_t *in, int8_t *out);

typedef struct {
    int32_t size, in_zero_point, out_zero_point;
    int16_t output_multiplier_fixedpoint_int16, reluish_multiplier_fixedpoint_int16;
    int32_t output_multiplier_exponent, reluish_multiplier_exponent;
} tee_hard_swish_params;

void tee_hard_swish_s8(const tee_hard_swish_params *p, const int8_t *in, int8_t *out);

typedef struct {
    int32_t size, in_zero_point, out_zero_point, mult, shift, act_min, act_max;
} tee_relu_params;

void tee_relu_s8(const tee_relu_params *p, const int8_t *in, int8_t *out);

typedef struct {
    int32_t size, lower, upper;
} tee_clamp_params;

void tee_relu6_s8(const tee_clamp_params *p, const int8_t *in, int8_t *out);

/* Any int8 -> int8 function of one value (LOGISTIC, RSQRT, HARD_SWISH, SiLU) as a 256-entry table indexed by
 * value + 128 (lut.c). */
void tee_lut_s8(const int8_t *table, int32_t size, const int8_t *in, int8_t *out);

/* Row streaming (stream.c): a chain of kernels run one output row at a time, each tensor made and used
 * inside the chain held in a window of the few rows its readers still need (moved up as rows arrive),
 * so the chain's memory is its inputs, its outputs and those windows: patch-based inference as in
 * MCUNetV2, with no row computed twice. The code generator plans windows and row order at build time. */
typedef struct {
    int32_t offset, row_bytes; /* arena offset; bytes per row (width x channels) */
    int16_t rows, capacity;    /* rows of the tensor; rows the window holds (all of them: the whole tensor) */
} tee_stream_window;

typedef struct tee_stream_member tee_stream_member;
/* One output row to make: in1 (and in2) point at the first of in_rows input rows, below pad_top rows of
 * padding; params is a copy of the member's parameters, for the row maker to set to the row's; size is
 * the output row's bytes. */
typedef struct {
    const int8_t *in1, *in2;
    int8_t *out, *scratch;
    void *params;
    int32_t pad_top, in_rows, row, size;
} tee_stream_row;
typedef void tee_row_fn(const tee_stream_member *m, const tee_stream_row *r);
struct tee_stream_member {
    tee_row_fn *run;
    const void *params;                /* the kernel's parameters for the whole tensor (a lookup table's table) */
    const int8_t *weights;
    uint16_t params_size, scratch;     /* bytes of params to copy (0: none); its scratch's offset in the stream's */
    int8_t stride, pad, span;          /* output row r reads input rows r * stride - pad and the span - 1 after it */
    uint8_t in1, in2, out;             /* window indices (in2 = in1 for one input) */
    uint16_t slot;                     /* where profiling sums its ticks */
};

/* The member making each next row: order[0 .. head), then order[head .. head + period) `repeats` times,
 * then the rest of order (the order of a stream's rows is mostly periodic). */
typedef struct {
    const tee_stream_window *windows;
    const tee_stream_member *members;
    const uint8_t *order;
    int32_t rows, head, period, repeats, scratch; /* scratch: arena offset of the members' scratch */
} tee_stream;

/* Built with TINYEE_PROFILE_OPS, it adds each row's ticks to its member's slot of tinyee_op_ticks. */
void tee_stream_run(const tee_stream *s, int8_t *arena);

/* Row makers of the kernels a stream can hold, each beside its kernel. */
void tee_conv2d_gemm_row_s8(const tee_stream_member *m, const tee_stream_row *r);
void tee_depthwise_conv2d_simd_row_s8(const tee_stream_member *m, const tee_stream_row *r);
void tee_binary_table_row_s8(const tee_stream_member *m, const tee_stream_row *r);
void tee_binary_simd_row_s8(const tee_stream_member *m, const tee_stream_row *r);
void tee_lut_row_s8(const tee_stream_member *m, const tee_stream_row *r);

#endif
