#include "optim/optim.h"

void sn_sgd_update(const sn_train_config *c, float lr, long step, float *w, const float *g,
                   float *v, size_t n) {
    const float mu = c->momentum, wd = c->weight_decay;
    if (mu == 0.0f) {
        for (size_t i = 0; i < n; i++) w[i] -= lr * (g[i] + wd * w[i]);
        return;
    }
    const float keep = step == 0 ? 0.0f : mu; /* v = g on the first step */
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] + wd * w[i];
        v[i] = keep * v[i] + gi;
        w[i] -= lr * (c->nesterov ? gi + mu * v[i] : v[i]);
    }
}
