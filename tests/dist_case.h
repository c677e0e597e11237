/* Shared by tests/test_dist.c and tests/mpi/test_dist.c: a small model, a
 * seeded batch, and gradients computed over a share of the batch (with the
 * gradient reducer) or over all of it. */
#ifndef SN_TEST_DIST_CASE_H
#define SN_TEST_DIST_CASE_H

#include "dist/dist.h"
#include "model/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static sn_model *dist_model(const char *spec, int max_batch) {
    sn_model *m = NULL;
    sn_error err = {0};
    if (sn_model_from_spec(spec, "dist", 7, &m, &err) != SN_OK ||
        sn_model_reserve(m, max_batch, &err) != SN_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return NULL;
    }
    return m;
}

/* n samples of `in` values in [-1, 1) and labels in [0, k), from `seed`. */
static void dist_batch(float *x, int *labels, int n, size_t in, int k, uint64_t seed) {
    sn_rng r;
    sn_rng_seed(&r, seed, 3);
    for (size_t i = 0; i < (size_t)n * in; i++) x[i] = 2 * sn_rng_uniform(&r) - 1;
    for (int i = 0; i < n; i++) labels[i] = (int)sn_rng_below(&r, (uint32_t)k);
}

/* ‖a − b‖ / max(‖b‖, floor) over two tensors of the same size. */
static double dist_rel_floor(const sn_tensor *a, const sn_tensor *b, double floor) {
    double d = 0, nb = 0;
    for (size_t i = 0; i < b->size; i++) {
        double e = (double)a->data[i] - b->data[i];
        d += e * e, nb += (double)b->data[i] * b->data[i];
    }
    nb = sqrt(nb);
    return sqrt(d) / (nb > floor ? nb : floor > 0 ? floor : 1);
}

static double dist_rel(const sn_tensor *a, const sn_tensor *b) {
    return dist_rel_floor(a, b, 0);
}

/* The largest error over the models' trained gradients (grad = 1) or over
 * their buffers (grad = 0), each tensor's relative to its norm, or to 1 %
 * of the norm of them all where it is smaller (the gradient of a bias just
 * before batch norm is 0 up to round-off, which no bound relative to itself
 * would accept). */
static double dist_worst(const sn_model *a, const sn_model *b, int grad) {
    double all = 0, worst = 0;
    for (int i = 0; i < b->nparams; i++) {
        if (b->params[i]->buffer == grad) continue;
        const sn_tensor *t = grad ? &b->params[i]->grad : &b->params[i]->value;
        for (size_t k = 0; k < t->size; k++) all += (double)t->data[k] * t->data[k];
    }
    for (int i = 0; i < a->nparams; i++) {
        if (a->params[i]->buffer == grad) continue;
        double e =
            grad ? dist_rel_floor(&a->params[i]->grad, &b->params[i]->grad, 0.01 * sqrt(all))
                 : dist_rel_floor(&a->params[i]->value, &b->params[i]->value, 0.01 * sqrt(all));
        if (e > worst) worst = e;
    }
    return worst;
}

#endif
