/* The spiral data set of cs231n and of the from-scratch book (nnfs): K
 * classes of N points each, class c an arm of a spiral:
 *
 *   r_i = i / (N − 1)                       (linspace(0, 1, N))
 *   t_i = 4c + 4 i / (N − 1) + 0.2 z_i      (linspace(4c, 4(c + 1), N) + noise, z_i ~ N(0, 1))
 *   x_i = (r_i sin 2.5 t_i, r_i cos 2.5 t_i),   label c
 *
 * drawn with scratchnet's seeded generator, so a seed gives the same points
 * everywhere. The arrays are malloc'ed: release them with spiral_free. */
#ifndef SN_EXAMPLES_SPIRAL_H
#define SN_EXAMPLES_SPIRAL_H

#include "scratchnet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline int spiral_generate(sn_dataset *d, int n, int classes, uint64_t seed) {
    memset(d, 0, sizeof *d);
    d->n = n * classes;
    d->ndim = 1;
    d->shape[0] = 2;
    d->sample_size = 2;
    d->num_classes = classes;
    d->x = malloc((size_t)d->n * 2 * sizeof(float));
    d->labels = malloc((size_t)d->n * sizeof(int));
    if (!d->x || !d->labels) return -1;
    sn_rng rng;
    sn_rng_seed(&rng, seed, 0x5b1a);
    for (int c = 0; c < classes; c++) {
        for (int i = 0; i < n; i++) {
            double f = n > 1 ? (double)i / (n - 1) : 0.0;
            double r = f, t = 4.0 * c + 4.0 * f + 0.2 * sn_rng_normal(&rng);
            int k = c * n + i;
            d->x[2 * k] = (float)(r * sin(2.5 * t));
            d->x[2 * k + 1] = (float)(r * cos(2.5 * t));
            d->labels[k] = c;
        }
    }
    return 0;
}

static inline void spiral_free(sn_dataset *d) {
    free(d->x);
    free(d->labels);
    memset(d, 0, sizeof *d);
}

/* One run: the final learning rate, the loss and accuracy on the training
 * set after the last update (what the book prints at epoch 10,000), and the
 * accuracy on a fresh draw. */
typedef struct spiral_result {
    char optimizer[16];
    double lr, loss, acc, fresh_acc;
} spiral_result;

static int spiral_on_epoch(void *ctx, const sn_epoch_stats *s) {
    ((spiral_result *)ctx)->lr = s->lr;
    return 0;
}

/* Trains the spec on `train` (from `init_weights`, a safetensors file, when
 * not NULL; else from the spec's initialization with `seed`, 0 = the spec's
 * own) for `epochs` epochs (0: the spec's) and evaluates it on `train` and
 * `fresh`. */
static inline sn_status spiral_run(const char *spec_path, uint64_t seed, const char *init_weights,
                                   int epochs, const sn_dataset *train, const sn_dataset *fresh,
                                   spiral_result *out, sn_error *err) {
    sn_model *m = NULL;
    memset(out, 0, sizeof *out);
    sn_status s = sn_model_from_file(spec_path, seed, &m, err);
    if (s == SN_OK && init_weights) s = sn_model_load_weights(m, init_weights, err);
    if (s == SN_OK && epochs > 0) sn_model_config(m)->epochs = epochs;
    if (s == SN_OK) {
        snprintf(out->optimizer, sizeof out->optimizer, "%s", sn_model_config(m)->optimizer);
        sn_train_hooks hooks = {.ctx = out, .on_epoch = spiral_on_epoch};
        s = sn_train(m, train, NULL, NULL, &hooks, NULL, err);
    }
    double loss;
    if (s == SN_OK) s = sn_evaluate(m, train, train->n, &out->loss, &out->acc, err);
    if (s == SN_OK) s = sn_evaluate(m, fresh, fresh->n, &loss, &out->fresh_acc, err);
    sn_model_free(m);
    return s;
}

#endif
