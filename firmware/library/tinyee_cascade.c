/* tinyee cascade runtime: runs the generated segments in one static arena and stops at the first
 * confident exit with an integer compare. No UART, no clock, no allocation: what a product links. */
#include <stddef.h>
#include <string.h>

#include "tinyee_model.h"
#include "tinyee_segments.h"

#ifndef TINYEE_ARENA_ATTRIBUTES /* e.g. -DTINYEE_ARENA_ATTRIBUTES='__attribute__((section(".sram2")))' */
#define TINYEE_ARENA_ATTRIBUTES
#endif
#ifndef TINYEE_ARENA_ALIGN /* the kernels read int32 scratch and vectors from the arena: 16-byte alignment */
#if defined(__GNUC__) || defined(__clang__)
#define TINYEE_ARENA_ALIGN __attribute__((aligned(16)))
#else
#error "define TINYEE_ARENA_ALIGN as your compiler's 16-byte alignment attribute"
#endif
#endif

int8_t tinyee_arena[TINYEE_ARENA_SIZE] TINYEE_ARENA_ALIGN TINYEE_ARENA_ATTRIBUTES;

static int32_t thresholds[TINYEE_NUM_EXITS] = TINYEE_DEFAULT_THRESHOLDS;
static tinyee_segment_hook segment_hook;
static void *segment_hook_context;

int tinyee_set_threshold(int exit, int32_t threshold_q) {
    if (exit < 0 || exit >= TINYEE_NUM_EXITS - 1) return TINYEE_ERROR_ARGUMENT; /* the final exit always accepts */
    thresholds[exit] = threshold_q;
    return TINYEE_OK;
}

int32_t tinyee_threshold(int exit) {
    return exit >= 0 && exit < TINYEE_NUM_EXITS ? thresholds[exit] : TINYEE_THRESHOLD_NEVER;
}

void tinyee_reset_thresholds(void) {
    static const int32_t defaults[TINYEE_NUM_EXITS] = TINYEE_DEFAULT_THRESHOLDS;
    memcpy(thresholds, defaults, sizeof thresholds);
}

void tinyee_set_segment_hook(tinyee_segment_hook hook, void *context) {
    segment_hook = hook;
    segment_hook_context = context;
}

int tinyee_set_input(const int8_t *input) {
    if (input == NULL) return TINYEE_ERROR_ARGUMENT;
    memcpy(tinyee_arena + TINYEE_INPUT_OFFSET, input, TINYEE_INPUT_SIZE);
    return TINYEE_OK;
}

int32_t tinyee_score(const int8_t *probs, int *label) {
    int best = 0;
    for (int c = 1; c < TINYEE_NUM_CLASSES; ++c)
        if (probs[c] > probs[best]) best = c; /* ties go to the lowest class index, as on the host */
    if (label != NULL) *label = best;
#if TINYEE_CRITERION_ENTROPY
    int32_t score = 0; /* negated entropy in Q12 nats */
    for (int c = 0; c < TINYEE_NUM_CLASSES; ++c) score -= tinyee_entropy_lut[probs[c] + 128];
    return score;
#else
    return probs[best];
#endif
}

int tinyee_segment_run(int segment, tinyee_result *result) {
    if (segment < 0 || segment >= TINYEE_NUM_EXITS || result == NULL) return TINYEE_ERROR_ARGUMENT;
    if (segment_hook != NULL) segment_hook(segment, 0, segment_hook_context);
    tinyee_segments[segment](tinyee_arena);
    if (segment_hook != NULL) segment_hook(segment, 1, segment_hook_context);
    result->exit = segment;
    result->probs = tinyee_arena + tinyee_probs_offset[segment];
    result->confidence = tinyee_score(result->probs, &result->label);
    return segment == TINYEE_NUM_EXITS - 1 || result->confidence >= thresholds[segment];
}

int tinyee_quantize_input(const float *x, int8_t *input) {
    if (x == NULL || input == NULL) return TINYEE_ERROR_ARGUMENT;
    for (int32_t i = 0; i < TINYEE_INPUT_SIZE; ++i) {
        /* TFLite's QUANTIZE: x / scale in double, rounded half away from zero, plus the zero point, clamped */
        const double v = (double)x[i] / (double)TINYEE_INPUT_SCALE;
        const double magnitude = v < 0 ? -v : v;
        if (!(magnitude < 1e9)) { /* also NaN */
            input[i] = (int8_t)(v > 0 ? 127 : -128);
            continue;
        }
        int64_t q = (int64_t)magnitude;
        if (magnitude - (double)q >= 0.5) ++q;
        const int64_t r = (v < 0 ? -q : q) + TINYEE_INPUT_ZERO_POINT;
        input[i] = (int8_t)(r < -128 ? -128 : r > 127 ? 127 : r);
    }
    return TINYEE_OK;
}

int tinyee_cascade_run(const int8_t *input, tinyee_result *result) {
    if (result == NULL || tinyee_set_input(input) != TINYEE_OK) return TINYEE_ERROR_ARGUMENT;
    for (int k = 0; k < TINYEE_NUM_EXITS; ++k)
        if (tinyee_segment_run(k, result)) break;
    return TINYEE_OK;
}
