/* Adam and AdamW; the formulas are in optim.h. ε is added after the square
 * root of the bias-corrected second moment: m̂ / (sqrt(v̂) + ε), as
 * torch.optim.Adam and AdamW compute it (denominator sqrt(v)/sqrt(1 − β2ᵗ) + ε). */
#include "optim/optim.h"

#include <math.h>

/* The shared moment update and step; wd is the L2 term added to g (0 for AdamW). */
static void adam_core(const sn_train_config *c, float lr, long t, float wd, float *w,
                      const float *g, float *m, float *v, size_t n) {
    const float b1 = c->beta1, b2 = c->beta2, eps = c->eps;
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

void sn_adam_update(const sn_train_config *c, float lr, long t, float *w, const float *g, float *m,
                    float *v, size_t n) {
    adam_core(c, lr, t, c->weight_decay, w, g, m, v, n);
}

void sn_adamw_update(const sn_train_config *c, float lr, long t, float *w, const float *g, float *m,
                     float *v, size_t n) {
    if (c->weight_decay != 0.0f) {
        const float keep = 1.0f - lr * c->weight_decay;
        for (size_t i = 0; i < n; i++) w[i] *= keep;
    }
    adam_core(c, lr, t, 0.0f, w, g, m, v, n);
}
