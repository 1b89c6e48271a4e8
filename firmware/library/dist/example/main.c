/* Example: run the tinyee cascade on one input, then with your own exit policy.
 * Replace fill_input() with your camera or sensor pipeline; print() goes to your console. */
#include <stdio.h>

#include "tinyee_model.h"

static int8_t input[TINYEE_INPUT_SIZE];

/* int8 input = round(pixel / TINYEE_INPUT_SCALE) + TINYEE_INPUT_ZERO_POINT, NHWC; here a blank image. */
static void fill_input(void) {
    for (int i = 0; i < TINYEE_INPUT_SIZE; ++i) input[i] = (int8_t)TINYEE_INPUT_ZERO_POINT;
}

int main(void) {
    tinyee_result result;
    fill_input();

    /* 1. The calibrated cascade: stops at the first confident exit. */
    if (tinyee_cascade_run(input, &result) != TINYEE_OK) return 1;
    printf("model %s: exit %d of %d, class %d, confidence %ld\n", TINYEE_MODEL_ID, result.exit, TINYEE_NUM_EXITS,
           result.label, (long)result.confidence);

    /* 2. Stricter thresholds at run time (e.g. on low battery, relax them instead). */
    for (int k = 0; k < TINYEE_NUM_EXITS - 1; ++k) tinyee_set_threshold(k, TINYEE_THRESHOLD_NEVER);
    tinyee_cascade_run(input, &result);
    printf("every early exit off: exit %d, class %d\n", result.exit, result.label);
    tinyee_reset_thresholds();

    /* 3. Your own policy: run segment by segment and stop when the best class leads the runner-up by
     *    a margin (int8 softmax steps of 1/256). */
    tinyee_set_input(input);
    for (int k = 0; k < TINYEE_NUM_EXITS; ++k) {
        tinyee_segment_run(k, &result);
        int runner_up = -128;
        for (int c = 0; c < TINYEE_NUM_CLASSES; ++c)
            if (c != result.label && result.probs[c] > runner_up) runner_up = result.probs[c];
        const int margin = result.probs[result.label] - runner_up;
        printf("segment %d: class %d leads by %d/256\n", k, result.label, margin);
        if (margin > 64) break;
    }
    return 0;
}
