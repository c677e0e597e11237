/* Finite-difference gradient check in training mode (batch statistics,
 * dropout masks), for the layers whose training forward differs from their
 * evaluation forward. sn_gradcheck runs the forward in evaluation mode; this
 * one restores the model's random generator before every forward pass, so
 * that each loss evaluation draws the same dropout masks as the analytic
 * pass did. Relative error |a − n| / max(|a| + |n|, 1e-3) as sn_gradcheck. */
#ifndef SN_TEST_FD_TRAIN_H
#define SN_TEST_FD_TRAIN_H

#include "model/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double fd_loss(sn_model *m, const sn_rng *r0, const float *x, int n, const int *labels) {
    m->rng = *r0;
    sn_model_forward(m, x, n, 1, NULL);
    return sn_model_loss(m, labels, NULL);
}

static double fd_rel(double a, double num) {
    double d = fabs(a) + fabs(num);
    return fabs(a - num) / (d > 1e-3 ? d : 1e-3);
}

/* Worst relative error over up to `samples` entries of every trained
 * parameter and of the input; -1 on allocation failure. */
static double fd_train_check(sn_model *m, float *x, int n, const int *labels, float h,
                             int samples) {
    sn_error err = {0};
    if (sn_model_reserve(m, n, &err) != SN_OK) return -1;
    size_t in = sn_model_input_size(m) * (size_t)n, total = in;
    for (int i = 0; i < m->nparams; i++) total += m->params[i]->grad.size;
    float *g = malloc(total * sizeof(float));
    if (!g) return -1;
    const sn_rng r0 = m->rng;
    m->input_grad = 1;
    m->rng = r0;
    sn_model_forward(m, x, n, 1, NULL);
    sn_model_backward(m, labels, NULL, NULL, NULL);
    m->input_grad = 0;
    memcpy(g, m->grad[0].data, in * sizeof(float));
    size_t off = in;
    for (int i = 0; i < m->nparams; i++) {
        memcpy(g + off, m->params[i]->grad.data, m->params[i]->grad.size * sizeof(float));
        off += m->params[i]->grad.size;
    }
    double worst = 0;
    off = 0;
    for (int t = -1; t < m->nparams; t++) {
        float *v = t < 0 ? x : m->params[t]->value.data;
        size_t size = t < 0 ? in : m->params[t]->value.size;
        if (t >= 0 && m->params[t]->buffer) { /* running statistics: not trained */
            off += size;
            continue;
        }
        size_t stride = size > (size_t)samples ? size / (size_t)samples : 1;
        for (size_t i = 0; i < size; i += stride) {
            float keep = v[i];
            v[i] = keep + h;
            double up = fd_loss(m, &r0, x, n, labels);
            v[i] = keep - h;
            double down = fd_loss(m, &r0, x, n, labels);
            v[i] = keep;
            double e = fd_rel(g[off + i], (up - down) / (2.0 * h));
            if (e > worst) worst = e;
        }
        off += size;
    }
    m->rng = r0;
    free(g);
    return worst;
}

#endif
