/* Whole-model tests: finite-difference gradient checks through every
 * activation and loss, save/load round trip, optimizer steps against the
 * update formulas computed here in double precision. */
#include "check.h"
#include "model/model.h"
#include "optim/optim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void random_fill(float *x, size_t n, sn_rng *r) {
    for (size_t i = 0; i < n; i++) x[i] = sn_rng_normal(r);
}

/* Builds a spec, checks every layer's gradients and the input gradient. */
static void gradcheck(const char *spec, int n, int regression) {
    sn_model *m = NULL;
    sn_error err = {0};
    if (sn_model_from_spec(spec, "gc", 3, &m, &err) != SN_OK) {
        fprintf(stderr, "spec failed: %s\n", err.msg);
        CHECK(0);
        return;
    }
    sn_rng r;
    sn_rng_seed(&r, 11, 0);
    size_t in = sn_model_input_size(m);
    int K = sn_model_output_size(m);
    float *x = malloc(in * n * sizeof(float)), *t = malloc((size_t)K * n * sizeof(float));
    int *labels = malloc(n * sizeof(int));
    random_fill(x, in * n, &r);
    for (int i = 0; i < n; i++) labels[i] = (int)sn_rng_below(&r, K > 1 ? K : 2);
    for (int i = 0; i < K * n; i++) t[i] = sn_rng_uniform(&r);
    double worst[SN_MAX_LAYERS], wi;
    CHECK(sn_gradcheck(m, x, n, regression ? NULL : labels, regression ? t : NULL, 1e-2f, 64, worst,
                       &wi, &err) == SN_OK);
    for (int l = 0; l < m->nlayers; l++) {
        if (worst[l] > 2e-2) fprintf(stderr, "%s: layer %d worst %g\n", spec, l, worst[l]);
        CHECK(worst[l] < 2e-2);
    }
    if (wi > 2e-2) fprintf(stderr, "%s: input worst %g\n", spec, wi);
    CHECK(wi < 2e-2);
    free(x);
    free(t);
    free(labels);
    sn_model_free(m);
}

static void test_gradchecks(void) {
    gradcheck("input 6\ndense 5\ntanh\ndense 4\nloss softmax_xent\n", 3, 0);
    gradcheck("input 2x3\nflatten\ndense 5\nsigmoid\ndense 3\nloss mse\n", 4, 1);
    gradcheck("input 6\ndense 5\nsilu\ndense 5\ngelu\ndense 3\nloss softmax_xent\n", 2, 0);
    gradcheck("input 6\ndense 5\ngelu_tanh\ndense 5\nleaky_relu alpha=0.1\ndense 1\n"
              "loss bce_logits\n",
              3, 0);
    gradcheck("input 6\ndense 5\nrelu\ndense 4\nsoftmax\nloss mse\n", 3, 1);
    gradcheck("input 6\ndense 5 init=xavier_normal\ntanh\ndense 1\nsigmoid\nloss bce\n", 3, 0);
}

/* The dense layer's gradients against dW = dy xᵀ, db = dy computed here. */
static void test_dense_gradient_formula(void) {
    sn_model *m = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec("input 3\ndense 2\nloss mse\n", "x", 1, &m, &err) == SN_OK);
    if (!m) return;
    float x[3] = {0.5f, -1.0f, 2.0f}, t[2] = {0.1f, 0.2f};
    sn_model_reserve(m, 1, &err);
    sn_model_forward(m, x, 1, 1, NULL);
    sn_model_backward(m, NULL, t, NULL, NULL);
    /* MSE = mean over K=2 of (y - t)²: dL/dy = (y - t), dW = dy xᵀ. */
    const float *W = m->params[0]->value.data, *b = m->params[1]->value.data;
    for (int o = 0; o < 2; o++) {
        double y = b[o];
        for (int i = 0; i < 3; i++) y += W[o * 3 + i] * x[i];
        double dy = (y - t[o]);
        CHECK_NEAR(m->params[1]->grad.data[o], dy, 1e-5);
        for (int i = 0; i < 3; i++) CHECK_NEAR(m->params[0]->grad.data[o * 3 + i], dy * x[i], 1e-5);
    }
    sn_model_free(m);
}

static void test_save_load(void) {
    const char *spec = "input 1x4x4\nflatten\ndense 7 init=he_normal\nrelu\ndense 3\n"
                       "loss softmax_xent\n[train]\nepochs 2\n";
    sn_model *m = NULL, *back = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec(spec, "s", 4, &m, &err) == SN_OK);
    char dir[] = "/tmp/sn-model-XXXXXX", path[64];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    CHECK(sn_model_save(m, path, &err) == SN_OK);
    CHECK(sn_model_load(path, &back, &err) == SN_OK);
    if (m && back) {
        CHECK(back->nparams == m->nparams);
        for (int i = 0; i < m->nparams && i < back->nparams; i++) {
            const sn_tensor *a = &m->params[i]->value, *b = &back->params[i]->value;
            CHECK(a->size == b->size && memcmp(a->data, b->data, a->size * 4) == 0);
        }
        CHECK(strcmp(sn_model_spec(back), spec) == 0);
        CHECK(back->cfg.epochs == 2);
        /* Same predictions. */
        float x[32], pa[6], pb[6];
        sn_rng r;
        sn_rng_seed(&r, 1, 1);
        random_fill(x, 32, &r);
        sn_model_reserve(m, 2, &err);
        sn_model_reserve(back, 2, &err);
        sn_model_predict(m, x, 2, pa, NULL);
        sn_model_predict(back, x, 2, pb, NULL);
        CHECK(memcmp(pa, pb, sizeof pa) == 0);
        CHECK_NEAR(pa[0] + pa[1] + pa[2], 1.0, 1e-6);
    }
    /* A spec whose shapes disagree with the stored tensors is rejected. */
    sn_model_free(back);
    back = NULL;
    unlink(path);
    rmdir(dir);
    sn_model_free(m);
    CHECK(sn_model_load("/nonexistent.safetensors", &back, &err) != SN_OK);
    CHECK(back == NULL);
}

/* One SGD and one Adam update on a tiny vector, against the formulas. */
static void test_optimizer_formulas(void) {
    sn_train_config c;
    memset(&c, 0, sizeof c);
    c.momentum = 0.9f;
    c.nesterov = 0;
    float w[3] = {1.0f, -2.0f, 0.5f}, g[3] = {0.1f, -0.3f, 2.0f}, v[3] = {0};
    double wd[3] = {1.0, -2.0, 0.5}, vd[3] = {0};
    for (int step = 0; step < 3; step++) {
        sn_sgd_update(&c, 0.1f, step, w, g, v, 3);
        for (int i = 0; i < 3; i++) {
            vd[i] = (step ? 0.9 * vd[i] : 0.0) + g[i];
            wd[i] -= 0.1 * vd[i];
        }
    }
    for (int i = 0; i < 3; i++) CHECK_NEAR(w[i], wd[i], 1e-6);

    c.nesterov = 1;
    float w2[1] = {1.0f}, v2[1] = {0}, g2[1] = {0.5f};
    sn_sgd_update(&c, 0.1f, 0, w2, g2, v2, 1); /* v = 0.5; w -= 0.1 (0.5 + 0.9·0.5) */
    CHECK_NEAR(w2[0], 1.0 - 0.1 * (0.5 + 0.45), 1e-7);

    c.beta1 = 0.9f, c.beta2 = 0.999f, c.eps = 1e-8f;
    float wa[2] = {0.3f, -0.7f}, ga[2] = {0.2f, -1.5f}, m[2] = {0}, va[2] = {0};
    double wad[2] = {0.3, -0.7}, md[2] = {0}, vad[2] = {0};
    for (int t = 1; t <= 5; t++) {
        sn_adam_update(&c, 0.01f, t, wa, ga, m, va, 2);
        for (int i = 0; i < 2; i++) {
            md[i] = 0.9 * md[i] + 0.1 * ga[i];
            vad[i] = 0.999 * vad[i] + 0.001 * ga[i] * ga[i];
            double mh = md[i] / (1 - pow(0.9, t)), vh = vad[i] / (1 - pow(0.999, t));
            wad[i] -= 0.01 * mh / (sqrt(vh) + 1e-8);
        }
    }
    for (int i = 0; i < 2; i++) CHECK_NEAR(wa[i], wad[i], 1e-6);
    /* On the first Adam step the update is lr·sign(g) (m̂/sqrt(v̂) = g/|g|). */
    float w1[1] = {0}, g1[1] = {-3.0f}, m1[1] = {0}, v1[1] = {0};
    sn_adam_update(&c, 0.01f, 1, w1, g1, m1, v1, 1);
    CHECK_NEAR(w1[0], 0.01, 1e-6);
}

/* The hot path refuses misuse with SN_ERR_ARG and a message instead of
 * reading or writing past the reserved buffers. */
static void test_misuse(void) {
    sn_model *m = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec("input 3\ndense 2\nloss softmax_xent\n", "t", 1, &m, &err) == SN_OK);
    if (!m) return;
    float x[3 * 9] = {0}, out[2 * 9];
    int labels[9] = {0};
    err.msg[0] = 0;
    CHECK(sn_model_forward(m, x, 1, 1, &err) == SN_ERR_ARG); /* nothing reserved */
    CHECK(strstr(err.msg, "reserve") != NULL);
    CHECK(sn_model_backward(m, labels, NULL, NULL, &err) == SN_ERR_ARG); /* no forward */
    CHECK(strstr(err.msg, "without a forward pass") != NULL);
    CHECK(sn_model_predict(m, x, 1, out, &err) == SN_ERR_ARG);
    CHECK(sn_model_reserve(m, 8, &err) == SN_OK);
    CHECK(sn_model_forward(m, x, 9, 1, &err) == SN_ERR_ARG); /* more rows than reserved */
    CHECK(strstr(err.msg, "9 rows") && strstr(err.msg, "1 to 8"));
    CHECK(sn_model_forward(m, x, 0, 1, &err) == SN_ERR_ARG);
    CHECK(sn_model_predict(m, x, 9, out, &err) == SN_ERR_ARG);
    CHECK(sn_model_forward(m, x, 8, 1, &err) == SN_OK);
    double loss = -1;
    CHECK(sn_model_backward(m, labels, NULL, &loss, &err) == SN_OK && loss > 0);
    CHECK(sn_model_output(m)->shape[0] == 8);
    CHECK(sn_model_reserve(m, 16, &err) == SN_OK); /* new buffers: the old pass is gone */
    CHECK(sn_model_backward(m, labels, NULL, NULL, &err) == SN_ERR_ARG);
    sn_model_free(m);

    /* A recurrent layer takes whole sequences: rows a multiple of T. */
    m = NULL;
    CHECK(sn_model_from_spec("input 1\nembedding 4 3\nlstm 5\ndense 4\nloss softmax_xent\n", "t", 1,
                             &m, &err) == SN_OK);
    if (!m) return;
    CHECK(sn_model_reserve(m, 12, &err) == SN_OK);
    CHECK(sn_model_set_seq_len(m, 0, &err) == SN_ERR_ARG);
    CHECK(sn_model_set_seq_len(m, 4, &err) == SN_OK);
    CHECK(sn_model_forward(m, x, 6, 1, &err) == SN_ERR_ARG);
    CHECK(strstr(err.msg, "layer 1 (lstm") && strstr(err.msg, "not a multiple of 4"));
    CHECK(sn_model_forward(m, x, 8, 1, &err) == SN_OK);
    sn_model_free(m);
}

int main(void) {
    test_misuse();
    test_gradchecks();
    test_dense_gradient_formula();
    test_save_load();
    test_optimizer_formulas();
    return check_report();
}
