/* Adagrad; the formula is in optim.h. ε is added after the square root:
 * w ← w − clr · g / (sqrt(Σg²) + ε), as torch.optim.Adagrad. */
#include "optim/optim.h"

#include <math.h>

void sn_adagrad_update(const sn_train_config *c, float lr, long t, float *w, const float *g,
                       float *s, size_t n) {
    const float wd = c->weight_decay, eps = c->eps;
    const float clr = lr / (1.0f + (float)(t - 1) * c->lr_decay);
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] + wd * w[i];
        s[i] += gi * gi;
        w[i] -= clr * gi / (sqrtf(s[i]) + eps);
    }
}
