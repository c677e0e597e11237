/* L1/L2 penalties and gradient clipping over the model's trained parameters
 * (batch-norm running statistics, marked `buffer`, are skipped).
 *
 *   penalty   R = Σ_θ l1·Σ|θ| + l2·Σθ²           (added to the reported loss
 *                                                separately from the data loss)
 *   gradient  g ← g + l1·sign(θ) + 2·l2·θ        (sign(0) = 0)
 *   by value  g ← min(max(g, −c), c)
 *   by norm   n = sqrt(Σ_all g²),  g ← g · min(1, c / (n + 1e-6))   (clip_grad_norm_)
 *
 * Sums are accumulated in double, in a fixed order. */
#include "model/model.h"

#include <math.h>

double sn_model_regularize(sn_model *m) {
    double total = 0;
    for (int i = 0; i < m->nparams; i++) {
        sn_param *p = m->params[i];
        if (p->buffer || (p->l1 == 0.0f && p->l2 == 0.0f)) continue;
        const float l1 = p->l1, l2x2 = 2.0f * p->l2;
        float *w = p->value.data, *g = p->grad.data;
        double a1 = 0, a2 = 0;
        for (size_t j = 0; j < p->value.size; j++) {
            float sign = (float)(w[j] > 0) - (float)(w[j] < 0);
            a1 += fabsf(w[j]);
            a2 += (double)w[j] * w[j];
            g[j] += l1 * sign + l2x2 * w[j];
        }
        total += l1 * a1 + p->l2 * a2;
    }
    return total;
}

void sn_clip_grad_value(sn_model *m, float c) {
    for (int i = 0; i < m->nparams; i++) {
        sn_param *p = m->params[i];
        if (p->buffer) continue;
        float *g = p->grad.data;
        for (size_t j = 0; j < p->grad.size; j++) g[j] = g[j] > c ? c : g[j] < -c ? -c : g[j];
    }
}

double sn_clip_grad_norm(sn_model *m, float c) {
    double sum = 0;
    for (int i = 0; i < m->nparams; i++) {
        const sn_param *p = m->params[i];
        if (p->buffer) continue;
        const float *g = p->grad.data;
        double a[4] = {0, 0, 0, 0}; /* four independent chains */
        size_t j = 0, n = p->grad.size;
        for (; j + 4 <= n; j += 4)
            for (int k = 0; k < 4; k++) a[k] += (double)g[j + k] * g[j + k];
        for (; j < n; j++) a[0] += (double)g[j] * g[j];
        sum += (a[0] + a[1]) + (a[2] + a[3]);
    }
    double norm = sqrt(sum), coef = c / (norm + 1e-6);
    if (coef < 1.0) {
        const float k = (float)coef;
        for (int i = 0; i < m->nparams; i++) {
            sn_param *p = m->params[i];
            if (p->buffer) continue;
            for (size_t j = 0; j < p->grad.size; j++) p->grad.data[j] *= k;
        }
    }
    return norm;
}
