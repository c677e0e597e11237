/* SGD with momentum, dampening and Nesterov; the formula is in optim.h. */
#include "optim/optim.h"

void sn_sgd_update(const sn_train_config *c, float lr, long step, float *w, const float *g,
                   float *v, size_t n) {
    const float mu = c->momentum, wd = c->weight_decay, damp = 1.0f - c->dampening;
    if (mu == 0.0f) {
        for (size_t i = 0; i < n; i++) w[i] -= lr * (g[i] + wd * w[i]);
        return;
    }
    if (step == 0) { /* v = g on the first step (no dampening) */
        for (size_t i = 0; i < n; i++) {
            float gi = g[i] + wd * w[i];
            v[i] = gi;
            w[i] -= lr * (c->nesterov ? gi + mu * gi : gi);
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] + wd * w[i];
        v[i] = mu * v[i] + damp * gi;
        w[i] -= lr * (c->nesterov ? gi + mu * v[i] : v[i]);
    }
}
