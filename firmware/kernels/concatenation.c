/* CONCATENATION: inputs sharing quantization, copied chunk by chunk. */
#include <string.h>

#include "tinyee_kernels.h"

void tee_concat_s8(int32_t outer, int32_t num_inputs, const int8_t *const *inputs, const int32_t *chunk, int8_t *out) {
    for (int32_t o = 0; o < outer; ++o)
        for (int32_t i = 0; i < num_inputs; ++i) {
            memcpy(out, inputs[i] + o * chunk[i], (size_t)chunk[i]);
            out += chunk[i];
        }
}
