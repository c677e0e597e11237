#include "optim/optim.h"

#include <math.h>

void sn_adam_update(const sn_train_config *c, float lr, long t, float *w, const float *g, float *m,
                    float *v, size_t n) {
    const float b1 = c->beta1, b2 = c->beta2, wd = c->weight_decay, eps = c->eps;
    const float bc1 = 1.0f - (float)pow(b1, (double)t);
    const float inv_sqrt_bc2 = 1.0f / sqrtf(1.0f - (float)pow(b2, (double)t));
    const float step = lr / bc1;
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] + wd * w[i];
        m[i] = b1 * m[i] + (1.0f - b1) * gi;
        v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
        w[i] -= step * m[i] / (sqrtf(v[i]) * inv_sqrt_bc2 + eps);
    }
}
