/* RMSprop; the formula is in optim.h. ε is added after the square root:
 * d = sqrt(a) + ε (or sqrt(a − ḡ²) + ε centered), as torch.optim.RMSprop. */
#include "optim/optim.h"

#include <math.h>

void sn_rmsprop_update(const sn_train_config *c, float lr, float *w, const float *g, float *a,
                       float *b, float *gbar, size_t n) {
    const float wd = c->weight_decay, eps = c->eps, al = c->alpha, mu = c->momentum;
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] + wd * w[i];
        a[i] = al * a[i] + (1.0f - al) * gi * gi;
        float d;
        if (gbar) {
            gbar[i] = al * gbar[i] + (1.0f - al) * gi;
            d = sqrtf(a[i] - gbar[i] * gbar[i]) + eps;
        } else {
            d = sqrtf(a[i]) + eps;
        }
        if (mu > 0.0f) {
            b[i] = mu * b[i] + gi / d;
            w[i] -= lr * b[i];
        } else {
            w[i] -= lr * gi / d;
        }
    }
}
