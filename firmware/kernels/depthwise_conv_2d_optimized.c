/* DEPTHWISE_CONV_2D (depth multiplier 1), optimised. The input offset is out of the inner loop:
 * sum (x + in_offset) w = sum x w + in_offset sum w, the second term in p->folded_bias; so a tap on
 * padding reads the input zero point (x + in_offset = 0) and every pixel has all its taps.
 * The input rows a window reads are kept in scratch, padded: the columns the windows span, the zero
 * point outside the input (whole rows above and below it). So tap t of every pixel is at a fixed
 * offset from the pixel's first column, and there are no edge cases. Each input row is copied in
 * before the output row of the same index is written, so the output may overwrite the input (stride
 * 1, output shaped as the input).
 * Helium: a ring of (k_h - 1) * dil_h + 1 int8 rows of all channels; eight channels at a time in int16
 * lanes over a row's pixels in horizontal pairs, each weight vector serving both pixels and each
 * channel group's requantization loaded once per row. Otherwise (the DSP extension): one channel at a
 * time, its rows widened to int16 in the same scratch. */
#include "tinyee_kernels.h"
#include "tee_conv.h"
#include "tee_fixedpoint.h"
#include "tee_simd.h"

#define MAX_TAPS 64 /* largest k_h * k_w: the tap tables live on the stack */

/* Input columns -pad_w .. span - pad_w - 1 are read: the padded row's width. */
static int32_t span_w(const tee_conv_params *p) { return (p->out_w - 1) * p->stride_w + (p->k_w - 1) * p->dil_w + 1; }

static int32_t ring_rows(const tee_conv_params *p) { return (p->k_h - 1) * p->dil_h + 1; }

/* At least 8 channels: Helium's last group of eight overlaps the one before where the channels are not a
 * multiple of 8 (recomputing a few outputs, from the ring, never from the overwritten input). */
int32_t tee_depthwise_conv2d_simd_s8_scratch_size(const tee_conv_params *p) {
    if (p->depth_multiplier != 1) return TEE_KEEP_DEPTH_MULTIPLIER;
    if (p->k_h * p->k_w > MAX_TAPS) return TEE_KEEP_TAPS;
    if (p->in_c < 8) return TEE_KEEP_FEW_CHANNELS;
    return ring_rows(p) * span_w(p) * p->in_c;
}

#if defined(TEE_PATH_MVE)
/* Input row iy's slot in a ring of `ring` rows (iy mod ring, iy may be negative). */
static inline int32_t ring_slot(int32_t iy, int32_t ring) { return (iy % ring + ring) % ring; }

/* Input row iy into its ring slot, between the slot's padding columns (set once: the zero point); a row
 * outside the input is the zero point throughout. */
static void load_row(const tee_conv_params *p, const int8_t *in, int32_t iy, int32_t span, int8_t *slot) {
    const int32_t c = p->in_c, inside = span - p->pad_w;
    if (iy < 0 || iy >= p->in_h) {
        tee_fill_bytes(slot, (int8_t)(-p->in_offset), span * c);
        return;
    }
    tee_copy_bytes(slot + p->pad_w * c, in + iy * p->in_w * c, (inside < p->in_w ? inside : p->in_w) * c);
}

static const uint32_t EVEN_LANES[4] = {0, 2, 4, 6};
#define ROW_PIXELS 16 /* pixels whose sums wait on the stack for requantization: 16 x 2 x 16 bytes */

/* One parity (lanes: channels c + parity, c + parity + 2, ..) of `pixels` pixels' sums (sums[i][parity]):
 * bias added, requantized with the parameters loaded once, and scattered into the output channels. */
TEE_ALWAYS_INLINE void store_parity(const tee_conv_params *p, int32x4_t (*sums)[2], int32_t pixels, int32_t c,
                                    int32_t parity, int8_t *out) {
    const int32_t channels = p->in_c;
    const uint32x4_t lanes = vldrwq_u32(EVEN_LANES);
    const int32x4_t bias = vldrwq_gather_shifted_offset_s32(p->folded_bias + c + parity, lanes);
    const int32x4_t mult = vldrwq_gather_shifted_offset_s32(p->mult + c + parity, lanes);
    const tee_shift_x4 shift = tee_split_shift_x4(vldrbq_gather_offset_s32(p->shift + c + parity, lanes));
    out += c + parity;
    for (int32_t i = 0; i < pixels; ++i, out += channels)
        vstrbq_scatter_offset_s32(out, lanes, tee_finish_x4(vaddq_s32(sums[i][parity], bias), mult, shift, p->out_offset,
                                                            p->act_min, p->act_max));
}

/* Channels c .. c + 7 of one output row: ROW_PIXELS pixels' sums at a time, pixels in pairs and a last
 * one alone, then requantized a parity at a time, so that each parity's parameters stay in registers. */
static void row_channels_x8(const tee_conv_params *p, const int8_t *filter, const int8_t *const *x_at, int32_t taps,
                            int32_t c, int8_t *out) {
    const int32_t channels = p->in_c, pixel_step = p->stride_w * channels;
    int32x4_t sums[ROW_PIXELS][2];
    for (int32_t ox0 = 0; ox0 < p->out_w; ox0 += ROW_PIXELS, out += ROW_PIXELS * channels) {
        const int32_t pixels = p->out_w - ox0 < ROW_PIXELS ? p->out_w - ox0 : ROW_PIXELS;
        for (int32_t i = 0; i < pixels; i += 2) {
            const int32_t a = (ox0 + i) * pixel_step + c;
            if (i + 1 < pixels)
                tee_depthwise_x8(filter + c, channels, x_at, a, a + pixel_step, taps, 1, sums + i);
            else
                tee_depthwise_x8(filter + c, channels, x_at, a, a, taps, 0, sums + i);
        }
        store_parity(p, sums, pixels, c, 0, out);
        store_parity(p, sums, pixels, c, 1, out);
    }
}

/* Eight channels at a time; where the channels are not a multiple of 8 the last eight overlap. */
static void output_row(const tee_conv_params *p, const int8_t *filter, const int8_t *const *x_at, int32_t taps,
                       int8_t *out) {
    for (int32_t c = 0; c < p->in_c; c += 8) row_channels_x8(p, filter, x_at, taps, c + 8 <= p->in_c ? c : p->in_c - 8, out);
}
/* The ring of int8 rows of all channels; x_at: tap t's row and column offset, one table per output row. */
TEE_ALWAYS_INLINE void depthwise(const tee_conv_params *p, const int8_t *in, const int8_t *filter, int8_t *scratch,
                                 int8_t *out) {
    const int32_t channels = p->in_c, span = span_w(p), ring = ring_rows(p), slot_bytes = span * channels;
    const int32_t taps = (int32_t)p->k_h * p->k_w;
    const int8_t *x_at[MAX_TAPS];
    int32_t next = -p->pad_h; /* the next input row to copy into the ring */
    tee_fill_bytes(scratch, (int8_t)(-p->in_offset), ring * slot_bytes);
    for (int32_t oy = 0; oy < p->out_h; ++oy, out += p->out_w * channels) {
        const int32_t in_y0 = oy * p->stride_h - p->pad_h, last = in_y0 + (ring - 1);
        for (; next <= last; ++next) load_row(p, in, next, span, scratch + ring_slot(next, ring) * slot_bytes);
        for (int32_t ky = 0, t = 0; ky < p->k_h; ++ky) {
            const int32_t iy = in_y0 + ky * p->dil_h;
            const int8_t *row = scratch + ring_slot(iy, ring) * slot_bytes;
            for (int32_t kx = 0; kx < p->k_w; ++kx, ++t) x_at[t] = row + kx * p->dil_w * channels;
        }
        output_row(p, filter, x_at, taps, out);
    }
}
#else
/* A channel's weights (tap order) and requantization; its bias starts each sum. */
typedef struct {
    int16_t w[MAX_TAPS];
    int32_t bias;
    tee_channel_q q;
} channel_taps;

typedef void rows_fn(const tee_conv_params *p, const int16_t *plane, int32_t span, int32_t n, const channel_taps *k,
                     int8_t *out);

/* n output rows of a channel from its plane (rows of span values, the first output row's window at the
 * top), tap by tap. */
static void rows_any(const tee_conv_params *p, const int16_t *plane, int32_t span, int32_t n, const channel_taps *k,
                     int8_t *out) {
    for (int32_t r = 0; r < n; ++r, plane += p->stride_h * span) {
        for (int32_t ox = 0; ox < p->out_w; ++ox, out += p->in_c) {
            int32_t acc = k->bias;
            for (int32_t ky = 0, t = 0; ky < p->k_h; ++ky) {
                const int16_t *x = plane + ky * p->dil_h * span + ox * p->stride_w;
                for (int32_t kx = 0; kx < p->k_w; ++kx, ++t) acc += x[kx * p->dil_w] * k->w[t];
            }
            *out = tee_clamp8(tee_requantize_channel(acc, &k->q) + p->out_offset, p->act_min, p->act_max);
        }
    }
}

#if defined(TEE_DSP_ASM)
static inline int32_t pack16(int32_t lo, int32_t hi) { return (int32_t)((uint16_t)lo | ((uint32_t)(uint16_t)hi << 16)); }

/* One output row of 3x3 taps at unit column dilation, for a full int8 activation range and a multiplier
 * below 1 (a right shift of at least 1, none to the left), one pixel per pass: each plane row's taps 0
 * and 1 are one word (one SMLAD), tap 2 one SMLABB/SMLABT; the row pointers are post-incremented by
 * the stride (S2 bytes), so that a row's third tap is at 4 - S2 past them. 12 registers (13 failed to
 * allocate at some optimisation levels), 27 instructions per output (GCC's schedule of the same C
 * spills nine values: 39). */
#define TEE_DW_3X3_ROW(S2, T)                                                                               \
    "1:\n\t"                                                                                               \
    "ldr %[acc], %[bias]\n\t"                                                                              \
    "ldr %[a], [%[x0]], #" #S2 "\n\t"                                                                      \
    "ldrsh %[b], [%[x0], #" #T "]\n\t"                                                                     \
    "smlad %[acc], %[a], %[w0], %[acc]\n\t"                                                                \
    "smlabb %[acc], %[b], %[w02_12], %[acc]\n\t"                                                           \
    "ldr %[a], [%[x1]], #" #S2 "\n\t"                                                                      \
    "ldrsh %[b], [%[x1], #" #T "]\n\t"                                                                     \
    "smlad %[acc], %[a], %[w1], %[acc]\n\t"                                                                \
    "smlabt %[acc], %[b], %[w02_12], %[acc]\n\t"                                                           \
    "ldr %[a], [%[x2]], #" #S2 "\n\t"                                                                      \
    "ldrsh %[b], [%[x2], #" #T "]\n\t"                                                                     \
    "smlad %[acc], %[a], %[w2], %[acc]\n\t"                                                                \
    "ldr %[a], %[w22]\n\t"                                                                                 \
    "smlabb %[acc], %[b], %[a], %[acc]\n\t"                                                                \
    "ldrd %[a], %[b], %[q]\n\t"                                                                            \
    "smmlar %[acc], %[acc], %[a], %[acc]\n\t"                                                              \
    "sub %[acc], %[acc], %[acc], lsr #31\n\t"                                                              \
    "asr %[acc], %[acc], %[b]\n\t"                                                                         \
    "and %[b], %[acc], #1\n\t"                                                                             \
    "add %[acc], %[b], %[acc], asr #1\n\t"                                                                 \
    "ldrd %[a], %[b], %[store]\n\t"                                                                        \
    "add %[acc], %[acc], %[a]\n\t"                                                                         \
    "ssat %[acc], #8, %[acc]\n\t"                                                                          \
    "strb %[acc], [%[out]]\n\t"                                                                            \
    "add %[out], %[out], %[b]\n\t"                                                                         \
    "subs %[n], %[n], #1\n\t"                                                                              \
    "bne 1b"

typedef struct {
    int32_t mult2, right_1;
} shift_q;

typedef struct {
    int32_t out_offset, step;
} store_q;

/* Whether rows_3x3 runs the channel's parameters. */
static int rows_3x3_takes(const tee_conv_params *p, const channel_taps *k) {
    return p->k_h == 3 && p->k_w == 3 && p->dil_w == 1 && p->stride_w <= 2 && p->act_min == -128 &&
           p->act_max == 127 && !k->q.left && k->q.right;
}

/* rows_any for the parameters rows_3x3_takes. A row's pointers go on from where the last one ended. */
TEE_NOINLINE static void rows_3x3(const tee_conv_params *p, const int16_t *plane, int32_t span, int32_t n,
                                  const channel_taps *k, int8_t *out) {
    const int32_t w0 = pack16(k->w[0], k->w[1]), w1 = pack16(k->w[3], k->w[4]), w2 = pack16(k->w[6], k->w[7]);
    const int32_t w02_12 = pack16(k->w[2], k->w[5]), w22 = k->w[8], bias = k->bias, out_w = p->out_w;
    const int32_t dil = p->dil_h * span;
    const int32_t skip = p->stride_h * span - out_w * p->stride_w;
    const shift_q q = {k->q.mult2, k->q.right - 1};
    const store_q store = {p->out_offset, p->in_c};
    const int16_t *x0 = plane, *x1 = plane + dil, *x2 = x1 + dil;
    for (int32_t r = n; r > 0; --r, x0 += skip, x1 += skip, x2 += skip) {
        int32_t pixels = out_w, acc, a, b;
#define TEE_DW_3X3_OPERANDS                                                                                 \
    : [x0] "+r"(x0), [x1] "+r"(x1), [x2] "+r"(x2), [out] "+r"(out), [n] "+r"(pixels), [acc] "=&r"(acc),    \
      [a] "=&r"(a), [b] "=&r"(b)                                                                            \
    : [w0] "r"(w0), [w1] "r"(w1), [w2] "r"(w2), [w02_12] "r"(w02_12), [w22] "m"(w22), [bias] "m"(bias),    \
      [q] "m"(q), [store] "m"(store)                                                                        \
    : "cc", "memory"
        if (p->stride_w == 1)
            __asm volatile(TEE_DW_3X3_ROW(2, 2) TEE_DW_3X3_OPERANDS);
        else
            __asm volatile(TEE_DW_3X3_ROW(4, 0) TEE_DW_3X3_OPERANDS);
#undef TEE_DW_3X3_OPERANDS
    }
}
#endif

/* Input rows first .. first + n - 1 of channel c, widened, into the plane rows' columns that hold the
 * input; a row outside the input is the zero point there (the padding columns are set once per call). */
static void load_rows(const tee_conv_params *p, const int8_t *in, int32_t c, int32_t first, int32_t n, int32_t span,
                      int16_t *row) {
    const int32_t channels = p->in_c, inside = span - p->pad_w, cols = inside < p->in_w ? inside : p->in_w;
    for (int32_t iy = first; iy < first + n; ++iy, row += span) {
        int16_t *dst = row + p->pad_w, *end = dst + cols;
        if (iy < 0 || iy >= p->in_h) {
            while (dst != end) *dst++ = (int16_t)-p->in_offset;
            continue;
        }
        for (const int8_t *src = in + iy * p->in_w * channels + c; dst != end; src += channels) *dst++ = *src;
    }
}

/* Channel c: its input rows widened into the plane (capacity rows), as many output rows at a time as the
 * plane holds the windows of; where it holds fewer than all, the rows still needed move up to its top
 * before the next are loaded. Every input row of the channel is loaded before an output row of the same
 * index is written, so the output may overwrite the input. */
static void channel(const tee_conv_params *p, const int8_t *in, const int8_t *filter, int32_t c, int16_t *plane,
                    int32_t capacity, int8_t *out) {
    const int32_t span = span_w(p), window = ring_rows(p), taps = (int32_t)p->k_h * p->k_w, row_out = p->out_w * p->in_c;
    channel_taps k; /* set field by field: an initialiser would zero all MAX_TAPS weights first */
    k.bias = p->folded_bias[c];
    k.q = tee_channel(0, p->mult[c], p->shift[c]);
    for (int32_t t = 0; t < taps; ++t) k.w[t] = filter[t * p->in_c + c];
    rows_fn *rows = rows_any;
#if defined(TEE_DSP_ASM)
    if (rows_3x3_takes(p, &k)) rows = rows_3x3;
#endif
    int32_t top = -p->pad_h, held = 0; /* the plane holds input rows top .. top + held - 1 */
    for (int32_t oy = 0, n; oy < p->out_h; oy += n) {
        const int32_t first = oy * p->stride_h - p->pad_h, kept = top + held - first;
        if (first > top) {
            for (int32_t i = 0; i < kept * span; ++i) plane[i] = plane[(first - top) * span + i];
            held = kept > 0 ? kept : 0;
            top = first;
        }
        n = (capacity - window) / p->stride_h + 1;
        if (n > p->out_h - oy) n = p->out_h - oy;
        const int32_t needed = (n - 1) * p->stride_h + window;
        load_rows(p, in, c, top + held, needed - held, span, plane + held * span);
        held = needed;
        rows(p, plane, span, n, &k, out + oy * row_out + c);
    }
}

/* A channel at a time, so that its weights and requantization stay in registers over all its pixels; its
 * input rows widened to int16 in scratch (a plane of as many rows as fit: all of them in the models here),
 * the zero point around them, so that two taps of a row are one word (one SMLAD) and there are no edge
 * cases. The scratch is Helium's ring of int8 rows of every channel: at least 4 windows' rows of int16. */
TEE_ALWAYS_INLINE void depthwise(const tee_conv_params *p, const int8_t *in, const int8_t *filter, int8_t *scratch,
                                 int8_t *out) {
    int16_t *plane = (int16_t *)(void *)scratch;
    const int32_t span = span_w(p), capacity = ring_rows(p) * p->in_c / 2;
    for (int32_t i = 0; i < capacity * span; ++i) plane[i] = (int16_t)-p->in_offset;
    for (int32_t c = 0; c < p->in_c; ++c) channel(p, in, filter, c, plane, capacity, out);
}
#endif

void tee_depthwise_conv2d_simd_s8(const tee_conv_params *params, const int8_t *in, const int8_t *filter, int8_t *scratch,
                                  int8_t *out) {
    const tee_conv_params local = *params; /* not aliased by the int8 stores, so kept in registers */
    depthwise(&local, in, filter, scratch, out);
}

void tee_depthwise_conv2d_simd_row_s8(const tee_stream_member *m, const tee_stream_row *r) {
    tee_conv_params *p = r->params;
    tee_conv_row_params(p, r);
    tee_depthwise_conv2d_simd_s8(p, r->in1, m->weights, r->scratch, r->out);
}
