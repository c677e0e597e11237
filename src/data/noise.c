/* Gaussian input noise, for robustness studies:
 *
 *   x' = x + σ·z,  z ~ N(0, 1) i.i.d. per value,
 *   x' = min(max(x', 0), 1)   when clipping (pixel intensities in [0, 1]).
 */
#include "data/dataset.h"

void sn_add_gaussian_noise(float *x, size_t n, float std, sn_rng *r, int clip) {
    for (size_t i = 0; i < n; i++) {
        float v = x[i] + std * sn_rng_normal(r);
        if (clip) v = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
        x[i] = v;
    }
}
