/* A dense layer followed by an elementwise activation runs both in one pass
 * (dense.c), and flatten shares its input's storage (model.c): the model's
 * activations, gradients and parameter gradients must equal bit for bit
 * what the layers compute one at a time, for every elementwise activation,
 * for batches small and large (one pass on the calling thread, or bands of
 * output units on the thread team, several per thread), in training and
 * evaluation, on 1 and 2 threads. */
#include "check.h"
#include "model/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sn_tensor view2(float *data, int n, int k) {
    int shape[2] = {n, k};
    return sn_tensor_view(data, 2, shape);
}

static int same(const float *a, const float *b, size_t n) {
    return memcmp(a, b, n * sizeof(float)) == 0;
}

/* input 1x28x28 -> flatten -> dense H -> act -> dense 10 -> softmax_xent.
 * keep: the model's keep_all; without it, a ReLU pass leaves act[2] (the
 * dense layer's output before ReLU) and grad[2] unwritten: ReLU' reads as
 * well from act[3], and dL/dy is made in place of dL/dr, in grad[3]. */
static void check_case(const char *act, int H, int n, int train, int threads, int keep) {
    char spec[256];
    snprintf(spec, sizeof spec,
             "input 1x28x28\nflatten\ndense %d\n%s\ndense 10\nloss softmax_xent\n", H, act);
    sn_set_threads(threads);
    sn_model *m = NULL;
    sn_error err = {0};
    if (sn_model_from_spec(spec, "fused", 5, &m, &err) != SN_OK) {
        fprintf(stderr, "%s\n", err.msg);
        CHECK(0);
        return;
    }
    const int in = 784, K = 10;
    sn_rng r;
    sn_rng_seed(&r, 7, 0);
    float *x = malloc(sizeof(float) * in * n);
    int *labels = malloc(sizeof(int) * n);
    for (int i = 0; i < in * n; i++) x[i] = sn_rng_normal(&r);
    for (int i = 0; i < n; i++) labels[i] = (int)sn_rng_below(&r, K);
    /* biases away from zero, so that a missing bias would show */
    for (int l = 1; l <= 3; l += 2)
        for (size_t i = 0; i < m->layers[l]->params[1].value.size; i++)
            m->layers[l]->params[1].value.data[i] = 0.1f * sn_rng_normal(&r);

    CHECK(sn_model_reserve(m, n, &err) == SN_OK);
    m->keep_all = keep;
    CHECK(sn_model_forward(m, x, n, train, &err) == SN_OK);
    CHECK(m->act[1].data == m->act[0].data); /* flatten: no copy */
    double loss;
    if (train) CHECK(sn_model_backward(m, labels, NULL, &loss, &err) == SN_OK);

    /* the same layers one at a time, on buffers of our own */
    sn_layer *d1 = m->layers[1], *a = m->layers[2], *d2 = m->layers[3];
    float *y = malloc(sizeof(float) * H * n), *rr = malloc(sizeof(float) * H * n);
    float *z = malloc(sizeof(float) * K * n), *dr = malloc(sizeof(float) * H * n);
    float *dy = malloc(sizeof(float) * H * n);
    sn_tensor X = view2(x, n, in), Y = view2(y, n, H), R = view2(rr, n, H), Z = view2(z, n, K);
    d1->ops->forward(d1, &X, &Y, train);
    a->ops->forward(a, &Y, &R, train);
    d2->ops->forward(d2, &R, &Z, train);
    if (keep || strcmp(act, "relu") != 0 || n == 1) CHECK(same(y, m->act[2].data, (size_t)H * n));
    CHECK(same(rr, m->act[3].data, (size_t)H * n));
    CHECK(same(z, m->act[4].data, (size_t)K * n));
    if (train) {
        size_t nw = d1->params[0].grad.size, nb = d1->params[1].grad.size;
        float *dw = malloc(sizeof(float) * nw), *db = malloc(sizeof(float) * nb);
        memcpy(dw, d1->params[0].grad.data, sizeof(float) * nw);
        memcpy(db, d1->params[1].grad.data, sizeof(float) * nb);
        float *dz = m->grad[4].data; /* dL/dz from the loss */
        sn_tensor DZ = view2(dz, n, K), DR = view2(dr, n, H), DY = view2(dy, n, H);
        d2->ops->backward(d2, &R, &Z, &DZ, &DR);
        a->ops->backward(a, &Y, &R, &DR, &DY);
        d1->ops->backward(d1, &X, &Y, &DY, NULL);
        if (keep || strcmp(act, "relu") != 0) {
            CHECK(same(dr, m->grad[3].data, (size_t)H * n));
            CHECK(same(dy, m->grad[2].data, (size_t)H * n));
        } else { /* dy made in place of the given gradient */
            CHECK(same(dy, m->grad[3].data, (size_t)H * n));
        }
        CHECK(same(dw, d1->params[0].grad.data, nw));
        CHECK(same(db, d1->params[1].grad.data, nb));
        free(dw);
        free(db);
    }
    free(x);
    free(labels);
    free(y);
    free(rr);
    free(z);
    free(dr);
    free(dy);
    sn_model_free(m);
}

/* The activation layer's forward behind a wrapper: dense does not fuse it. */
static void (*plain_forward)(sn_layer *, const sn_tensor *, sn_tensor *, int);
static void wrapped_forward(sn_layer *l, const sn_tensor *x, sn_tensor *y, int train) {
    plain_forward(l, x, y, train);
}

/* With dL/dx wanted (the input gradient), the fused backward also fills it. */
static void check_input_grad(int threads) {
    sn_set_threads(threads);
    sn_model *m = NULL, *u = NULL;
    sn_error err = {0};
    const char *spec = "input 300\ndense 256\nrelu\ndense 10\nloss softmax_xent\n";
    /* u: the activation's ops swapped for a copy whose forward is wrapped */
    CHECK(sn_model_from_spec(spec, "f", 5, &m, &err) == SN_OK);
    CHECK(sn_model_from_spec(spec, "u", 5, &u, &err) == SN_OK);
    if (!m || !u) return;
    static sn_layer_ops copy;
    copy = *u->layers[1]->ops;
    plain_forward = copy.forward;
    copy.forward = wrapped_forward;
    u->layers[1]->ops = &copy;
    CHECK(m->layers[0]->ops->fuse(m->layers[0], m->layers + 1, 2) == 1);
    CHECK(u->layers[0]->ops->fuse(u->layers[0], u->layers + 1, 2) == 0);
    m->input_grad = u->input_grad = 1;
    const int n = 96;
    sn_rng r;
    sn_rng_seed(&r, 3, 0);
    float *x = malloc(sizeof(float) * 300 * n);
    int *labels = malloc(sizeof(int) * n);
    for (int i = 0; i < 300 * n; i++) x[i] = sn_rng_normal(&r);
    for (int i = 0; i < n; i++) labels[i] = (int)sn_rng_below(&r, 10);
    sn_model *ms[2] = {m, u};
    for (int k = 0; k < 2; k++) {
        CHECK(sn_model_reserve(ms[k], n, &err) == SN_OK);
        CHECK(sn_model_forward(ms[k], x, n, 1, &err) == SN_OK);
        CHECK(sn_model_backward(ms[k], labels, NULL, NULL, &err) == SN_OK);
    }
    CHECK(same(m->grad[0].data, u->grad[0].data, (size_t)300 * n));
    for (int i = 0; i < m->nparams; i++)
        CHECK(same(m->params[i]->grad.data, u->params[i]->grad.data, m->params[i]->grad.size));
    free(x);
    free(labels);
    sn_model_free(m);
    sn_model_free(u);
}

int main(void) {
    const char *acts[] = {"relu", "leaky_relu 0.1", "tanh", "sigmoid", "silu", "gelu", "gelu_tanh"};
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++)
        for (int threads = 1; threads <= 2; threads++) {
            for (int keep = 0; keep <= 1; keep++) {
                check_case(acts[i], 256, 128, 1, threads, keep); /* bands on the team */
                check_case(acts[i], 64, 5, 1, threads, keep);    /* one pass */
                check_case(acts[i], 256, 128, 0, threads, keep); /* evaluation */
                check_case(acts[i], 256, 1, 0, threads, keep);   /* batch 1 */
            }
        }
    check_input_grad(1);
    check_input_grad(2);
    return check_report();
}
