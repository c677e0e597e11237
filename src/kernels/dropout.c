/* The dropout mask (dropout.h). */
#include "kernels/dropout.h"

#include <stdint.h>

/* lowbias32 (Chris Wellons' hash prospector): a bijective 32-bit mix with a
 * small bias, two 32-bit multiplies, vectorizable. */
static inline uint32_t mix32(uint32_t x) {
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

void sn_dropout_mask_hash(uint64_t key, uint32_t drop, float scale, const float *x, float *y,
                          size_t n) {
    const uint32_t k1 = (uint32_t)key, k2 = (uint32_t)(key >> 32);
    for (size_t i = 0; i < n; i++) {
        uint32_t u = mix32(mix32((uint32_t)i + k1) ^ k2);
        y[i] = u >= drop ? x[i] * scale : 0.0f;
    }
}
