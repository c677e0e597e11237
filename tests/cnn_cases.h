/* Runs the "sn-cases-1" / "layers" fixture cases of tests/parity/gen_cnn.py
 * (cnn_conv.safetensors, cnn_pool.safetensors): builds the case's spec,
 * loads PyTorch's parameters, runs forward, then backward from the stored
 * upstream gradient dy (or from the loss), and compares the output, dL/dx
 * and every parameter gradient under the case's bound (tests/fixture.h).
 *
 * Each case runs with 1 and with 2 threads: the forward output and dL/dx are
 * computed per sample and must be bitwise equal across thread counts. */
#ifndef SN_TEST_CNN_CASES_H
#define SN_TEST_CNN_CASES_H

#include "fixture.h"
#include "model/model.h"

#include <stdlib.h>

static sn_tensor cnn_batch_view(const sn_tensor *t, int n) {
    sn_tensor v = *t;
    v.owns = 0;
    v.size = v.size / (size_t)v.shape[0] * (size_t)n;
    v.shape[0] = n;
    return v;
}

/* One case at one thread count; the output and dx are copied to y_out and
 * dx_out (when not NULL) for the cross-thread comparison. */
static void cnn_run_case(const sn_st_file *f, const char *c, int threads, float *y_out,
                         float *dx_out) {
    char key[160], what[200];
    snprintf(key, sizeof key, "%s.spec", c);
    const char *spec = sn_st_meta(f, key);
    snprintf(key, sizeof key, "%s.bound", c);
    const char *bound = sn_st_meta(f, key);
    int elem = bound && strcmp(bound, "elem") == 0;
    sn_model *m = NULL;
    sn_error err = {0};
    CHECK(spec != NULL);
    if (!spec || sn_model_from_spec(spec, c, 1, &m, &err) != SN_OK) {
        fprintf(stderr, "%s: %s\n", c, err.msg);
        CHECK(0);
        return;
    }
    sn_set_threads(threads);
    for (int i = 0; i < m->nlayers; i++) {
        for (int p = 0; p < m->layers[i]->nparams; p++) {
            sn_param *pr = &m->layers[i]->params[p];
            const sn_st_entry *e = fixture_find(f, "%s.%d.%s", c, i, pr->name);
            CHECK(e && e->size == pr->value.size);
            if (e && e->size == pr->value.size)
                memcpy(pr->value.data, e->data, e->size * sizeof(float));
        }
    }
    const sn_st_entry *x = fixture_find(f, "%s.x", c), *dy = fixture_find(f, "%s.dy", c);
    const sn_st_entry *lab = fixture_find(f, "%s.labels", c), *loss = fixture_find(f, "%s.loss", c);
    CHECK(x != NULL && (dy != NULL || (lab != NULL && loss != NULL)));
    if (!x || (!dy && (!lab || !loss))) {
        sn_model_free(m);
        return;
    }
    int n = x->shape[0], L = m->nlayers;
    CHECK(x->size == (size_t)n * sn_model_input_size(m));
    CHECK(sn_model_reserve(m, n, &err) == SN_OK);
    m->input_grad = 1;
    sn_model_forward(m, x->data, n, 1, NULL);
    const sn_tensor *y = sn_model_output(m);
    snprintf(what, sizeof what, "%s (%d threads): y", c, threads);
    fixture_compare(what, y->data, y->size, fixture_find(f, "%s.y", c), elem);
    if (y_out) memcpy(y_out, y->data, y->size * sizeof(float));
    if (dy) {
        CHECK(dy->size == y->size);
        sn_tensor g = cnn_batch_view(&m->grad[L], n);
        memcpy(g.data, dy->data, g.size * sizeof(float));
        for (int i = L - 1; i >= 0; i--) {
            sn_tensor xi = cnn_batch_view(&m->act[i], n), yi = cnn_batch_view(&m->act[i + 1], n);
            sn_tensor dyi = cnn_batch_view(&m->grad[i + 1], n),
                      dxi = cnn_batch_view(&m->grad[i], n);
            m->layers[i]->ops->backward(m->layers[i], &xi, &yi, &dyi, &dxi);
        }
    } else {
        int *labels = malloc((size_t)n * sizeof(int));
        for (int i = 0; i < n; i++) labels[i] = (int)lab->data[i];
        double l = 0;
        sn_model_backward(m, labels, NULL, &l, NULL);
        CHECK_NEAR(l, loss->data[0], 1e-5);
        free(labels);
    }
    snprintf(what, sizeof what, "%s (%d threads): dx", c, threads);
    fixture_compare(what, m->grad[0].data, (size_t)n * sn_model_input_size(m),
                    fixture_find(f, "%s.dx", c), elem);
    if (dx_out) memcpy(dx_out, m->grad[0].data, (size_t)n * sn_model_input_size(m) * sizeof(float));
    for (int i = 0; i < L; i++) {
        for (int p = 0; p < m->layers[i]->nparams; p++) {
            sn_param *pr = &m->layers[i]->params[p];
            snprintf(what, sizeof what, "%s (%d threads): %d.%s.grad", c, threads, i, pr->name);
            fixture_compare(what, pr->grad.data, pr->grad.size,
                            fixture_find(f, "%s.%d.%s.grad", c, i, pr->name), 0);
        }
    }
    sn_model_free(m);
}

/* Every case of fixture `name`; returns the number of cases run. */
static int cnn_run_fixture(const char *name) {
    sn_st_file f;
    if (!fixture_open(&f, name)) return 0;
    const char *cases = sn_st_meta(&f, "cases");
    CHECK(cases != NULL);
    int count = 0;
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", cases ? cases : "");
    for (char *c = strtok(buf, ","); c; c = strtok(NULL, ",")) {
        const sn_st_entry *y = fixture_find(&f, "%s.y", c), *x = fixture_find(&f, "%s.x", c);
        size_t ny = y ? y->size : 0, nx = x ? x->size : 0;
        float *y1 = calloc(ny + 1, sizeof(float)), *y2 = calloc(ny + 1, sizeof(float));
        float *d1 = calloc(nx + 1, sizeof(float)), *d2 = calloc(nx + 1, sizeof(float));
        cnn_run_case(&f, c, 1, y1, d1);
        cnn_run_case(&f, c, 2, y2, d2);
        if (memcmp(y1, y2, ny * sizeof(float)) != 0 || memcmp(d1, d2, nx * sizeof(float)) != 0)
            fprintf(stderr, "%s: output or dx differ between 1 and 2 threads\n", c);
        CHECK(memcmp(y1, y2, ny * sizeof(float)) == 0);
        CHECK(memcmp(d1, d2, nx * sizeof(float)) == 0);
        free(y1), free(y2), free(d1), free(d2);
        count++;
    }
    sn_set_threads(0);
    sn_st_free(&f);
    return count;
}

/* Finite-difference check of every parameter and of dL/dx of a spec, on a
 * batch of n random samples (tolerance as tests/test_model.c). */
static void cnn_gradcheck(const char *spec, int n, unsigned seed) {
    sn_model *m = NULL;
    sn_error err = {0};
    if (sn_model_from_spec(spec, "gc", seed, &m, &err) != SN_OK) {
        fprintf(stderr, "spec failed: %s\n", err.msg);
        CHECK(0);
        return;
    }
    sn_rng r;
    sn_rng_seed(&r, seed, 1);
    size_t in = sn_model_input_size(m);
    int K = sn_model_output_size(m);
    float *x = malloc(in * (size_t)n * sizeof(float));
    int *labels = malloc((size_t)n * sizeof(int));
    for (size_t i = 0; i < in * (size_t)n; i++) x[i] = sn_rng_normal(&r);
    for (int i = 0; i < n; i++) labels[i] = (int)sn_rng_below(&r, (uint32_t)K);
    double worst[SN_MAX_LAYERS], wi;
    CHECK(sn_gradcheck(m, x, n, labels, NULL, 1e-2f, 64, worst, &wi, &err) == SN_OK);
    for (int l = 0; l < m->nlayers; l++) {
        if (!(worst[l] < 2e-2)) fprintf(stderr, "%s: layer %d worst %g\n", spec, l, worst[l]);
        CHECK(worst[l] < 2e-2);
    }
    if (!(wi < 2e-2)) fprintf(stderr, "%s: input worst %g\n", spec, wi);
    CHECK(wi < 2e-2);
    free(x);
    free(labels);
    sn_model_free(m);
}

#endif
