/* Helpers shared by tests that train small models or compare a model's
 * one-sample pass with its batched pass. Include after check.h. */
#ifndef SN_TEST_MODEL_CHECK_H
#define SN_TEST_MODEL_CHECK_H

#include "check.h"
#include "core/alloc.h"
#include "scratchnet.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* n samples of 8 features and 3 classes: a weak signal in feature 0, noise
 * elsewhere. */
static inline void make_data(sn_dataset *d, int n, uint64_t seed) {
    memset(d, 0, sizeof *d);
    d->n = n;
    d->ndim = 1;
    d->shape[0] = 8;
    d->sample_size = 8;
    d->num_classes = 3;
    d->x = sn_alloc((size_t)n * 8, sizeof(float));
    d->labels = sn_alloc((size_t)n, sizeof(int));
    sn_rng r;
    sn_rng_seed(&r, seed, 1);
    for (int i = 0; i < n; i++) {
        d->labels[i] = (int)sn_rng_below(&r, 3);
        for (int j = 0; j < 8; j++) /* a weak signal in feature 0, noise elsewhere */
            d->x[i * 8 + j] = sn_rng_normal(&r) + (j == 0 ? 0.7f * (float)d->labels[i] : 0.0f);
    }
}

/* The batch-1 output of x against the batched pass's (x twice, row 0),
 * within rounding; returns the number of outputs off. */
static inline int one_vs_batched(sn_model *m, const float *x, float *one) {
    sn_error err = {0};
    int in = (int)sn_model_input_size(m), K = sn_model_output_size(m), far = 0;
    float *xx = malloc(sizeof(float) * 2 * in);
    memcpy(xx, x, sizeof(float) * in), memcpy(xx + in, x, sizeof(float) * in);
    CHECK(sn_model_forward(m, x, 1, 0, &err) == SN_OK);
    memcpy(one, sn_model_output(m)->data, sizeof(float) * K);
    CHECK(sn_model_forward(m, xx, 2, 0, &err) == SN_OK);
    const float *b = sn_model_output(m)->data;
    for (int i = 0; i < K; i++) {
        if (isnan(b[i]) || isnan(one[i]))
            far += isnan(b[i]) != isnan(one[i]);
        else
            far += !(fabs(one[i] - b[i]) <= 1e-5 * (1.0 + fabs(b[i])));
    }
    free(xx);
    return far;
}

#endif
