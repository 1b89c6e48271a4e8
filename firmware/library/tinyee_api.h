/* tinyee's C API. The generated tinyee_model.h holds it verbatim after the model's macros
 * (TINYEE_NUM_EXITS, TINYEE_NUM_CLASSES, TINYEE_INPUT_*, TINYEE_ARENA_SIZE, ...). */
#ifndef TINYEE_API_H
#define TINYEE_API_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TINYEE_OK 0
#define TINYEE_ERROR_ARGUMENT (-1)
#define TINYEE_THRESHOLD_NEVER INT32_MAX  /* an exit threshold no score reaches: the exit is never taken */
#define TINYEE_THRESHOLD_ALWAYS INT32_MIN /* every score reaches it (the final exit's) */

typedef struct {
    int exit;             /* exit taken, 0 .. TINYEE_NUM_EXITS - 1 */
    int label;            /* class with the highest probability (ties: the lowest index) */
    int32_t confidence;   /* the exit's integer score: its max int8 softmax value (probability (v + 128) / 256),
                             or with TINYEE_CRITERION_ENTROPY the negated entropy in Q12 nats */
    const int8_t *probs;  /* that exit's int8 softmax, TINYEE_NUM_CLASSES values in the arena; valid until the
                             next run */
} tinyee_result;

/* Runs segments on the int8 input (TINYEE_INPUT_SIZE bytes, NHWC, quantized with TINYEE_INPUT_SCALE and
 * TINYEE_INPUT_ZERO_POINT) until the first exit whose score reaches its threshold. Returns TINYEE_OK. */
int tinyee_cascade_run(const int8_t *input, tinyee_result *result);

/* A float input (as the model's float input would take it) quantized to the int8 input, as TFLite's QUANTIZE
 * does: round(x / TINYEE_INPUT_SCALE) + TINYEE_INPUT_ZERO_POINT, clamped. */
int tinyee_quantize_input(const float *x, int8_t *input);

/* For callers with their own exit policy: load the input, then run segments 0, 1, ... in order (each
 * continues from the feature map the previous one left in the arena). Returns 1 when the exit's score
 * reaches its threshold (always at the final exit), 0 when not, or a negative error. */
int tinyee_set_input(const int8_t *input);
int tinyee_segment_run(int segment, tinyee_result *result);

/* Exit thresholds in score units, changeable at run time; the final exit always accepts. */
int tinyee_set_threshold(int exit, int32_t threshold_q);
int32_t tinyee_threshold(int exit);
void tinyee_reset_thresholds(void); /* back to the calibrated ones the library was generated with */
/* The score of an int8 softmax as the cascade computes it, and its argmax in *label (may be NULL). */
int32_t tinyee_score(const int8_t *probs, int *label);

/* Called right before (done = 0) and right after (done = 1) each segment: time segments with your own
 * timer. NULL turns it off. */
typedef void (*tinyee_segment_hook)(int segment, int done, void *context);
void tinyee_set_segment_hook(tinyee_segment_hook hook, void *context);

/* The tensor arena (TINYEE_ARENA_SIZE bytes, static; place it with -DTINYEE_ARENA_ATTRIBUTES=...). */
extern int8_t tinyee_arena[TINYEE_ARENA_SIZE];

#if TINYEE_PROFILE_OPS
/* Built with -DTINYEE_PROFILE_OPS=1: ticks spent in each kernel call (numbered in cascade order), summed
 * until cleared, from a clock the application provides. */
extern uint32_t tinyee_op_ticks[TINYEE_NUM_OPS];
uint64_t tinyee_profile_ticks(void);
#endif

#ifdef __cplusplus
}
#endif

#endif
