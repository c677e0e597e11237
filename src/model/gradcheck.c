/* Gradient checking by central differences: the independent test of every
 * backward pass. */
#include "model/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double loss_at(sn_model *m, const float *x, int n, const int *labels, const float *targets) {
    sn_model_forward(m, x, n, 0);
    return sn_model_loss(m, labels, targets);
}

static double rel_err(double a, double num) {
    double d = fabs(a) + fabs(num);
    return fabs(a - num) / (d > 1e-3 ? d : 1e-3);
}

/* Checks `count` evenly spread entries of v against the analytic g. */
static double check_tensor(sn_model *m, float *v, const float *g, size_t size, const float *x,
                           int n, const int *labels, const float *targets, float h, int samples) {
    double worst = 0;
    size_t stride = size > (size_t)samples ? size / (size_t)samples : 1;
    for (size_t i = 0; i < size; i += stride) {
        float keep = v[i];
        v[i] = keep + h;
        double up = loss_at(m, x, n, labels, targets);
        v[i] = keep - h;
        double down = loss_at(m, x, n, labels, targets);
        v[i] = keep;
        double e = rel_err(g[i], (up - down) / (2.0 * h));
        if (e > worst) worst = e;
    }
    return worst;
}

sn_status sn_gradcheck(sn_model *m, const float *x, int n, const int *labels, const float *targets,
                       float h, int samples, double *worst, double *worst_input, sn_error *err) {
    sn_status s = sn_model_reserve(m, n, err);
    if (s != SN_OK) return s;
    size_t in = sn_model_input_size(m) * (size_t)n;
    float *xc = malloc(in * sizeof(float));
    float *gc = malloc(in * sizeof(float));
    sn_tensor *grads = calloc((size_t)m->nparams + 1, sizeof(sn_tensor));
    if (!xc || !gc || !grads) s = sn_fail(err, SN_ERR_NOMEM, "gradcheck: out of memory");
    for (int i = 0; s == SN_OK && i < m->nparams; i++) {
        const sn_tensor *g = &m->params[i]->grad;
        s = sn_tensor_alloc(&grads[i], g->ndim, g->shape, err);
    }
    if (s == SN_OK) {
        memcpy(xc, x, in * sizeof(float));
        /* Analytic gradients of all parameters and of the input, kept aside
         * because the loss evaluations below overwrite the workspace. */
        m->input_grad = 1;
        sn_model_forward(m, xc, n, 0);
        sn_model_backward(m, labels, targets);
        m->input_grad = 0;
        memcpy(gc, m->grad[0].data, in * sizeof(float));
        for (int i = 0; i < m->nparams; i++)
            memcpy(grads[i].data, m->params[i]->grad.data, grads[i].size * sizeof(float));
        int pi = 0;
        for (int l = 0; l < m->nlayers; l++) {
            worst[l] = 0;
            for (int p = 0; p < m->layers[l]->nparams; p++, pi++) {
                sn_tensor *v = &m->layers[l]->params[p].value;
                double e = check_tensor(m, v->data, grads[pi].data, v->size, xc, n, labels, targets,
                                        h, samples);
                if (e > worst[l]) worst[l] = e;
            }
        }
        *worst_input = check_tensor(m, xc, gc, in, xc, n, labels, targets, h, samples);
    }
    for (int i = 0; grads && i < m->nparams; i++) sn_tensor_free(&grads[i]);
    free(grads);
    free(xc);
    free(gc);
    return s;
}
