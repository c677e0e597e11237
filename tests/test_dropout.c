/* Dropout: PyTorch's masks come from its own generator, so the fixture
 * (tests/parity/fixtures/toolkit_dropout, from gen_toolkit.py) gives what
 * can be compared: the identity in evaluation, the value a kept input is
 * scaled to (1/(1 − p) in float32) and the fraction PyTorch drops among 2^20
 * values. Here: ours drops a fraction within 5σ of p (σ = sqrt(p(1 − p)/n)),
 * keeps the mean, scales kept values exactly like PyTorch, the backward pass
 * uses the forward's mask (dx = 0 exactly where y = 0, dy/(1 − p) elsewhere),
 * masks are deterministic per seed and differ between calls, and finite
 * differences through a fixed mask agree with the backward pass. */
#include "fd_train.h"
#include "fixture.h"
#include "model/model.h"

#include <stdlib.h>
#include <string.h>

enum { ROWS = 512, COLS = 512 };

static sn_model *dropout_model(const char *line, int in, uint64_t seed) {
    char spec[128];
    snprintf(spec, sizeof spec, "input %d\n%s\ndense 2\nloss mse\n", in, line);
    sn_model *m = NULL;
    sn_error err = {0};
    if (sn_model_from_spec(spec, "d", seed, &m, &err) != SN_OK) fprintf(stderr, "%s\n", err.msg);
    CHECK(m != NULL);
    return m;
}

static void dropout_case(const sn_st_file *f, const char *c, float *big, float *out, float *grad) {
    char key[64];
    snprintf(key, sizeof key, "%s.spec", c);
    const char *line = sn_st_meta(f, key);
    const sn_st_entry *x = fixture_find(f, "%s.x", c), *ev = fixture_find(f, "%s.eval", c);
    const sn_st_entry *scale = fixture_find(f, "%s.scale", c);
    const sn_st_entry *frac = fixture_find(f, "%s.drop_fraction", c);
    CHECK(line && x && ev && scale && frac);
    if (!line || !x || !ev || !scale || !frac) return;
    double p = atof(line + strlen("dropout "));
    sn_model *m = dropout_model(line, x->shape[1], 1);
    if (!m) return;
    sn_layer *l = m->layers[0];

    /* Evaluation: the identity, as PyTorch's. */
    sn_tensor xt = sn_tensor_view(x->data, 2, x->shape), yt = sn_tensor_view(out, 2, x->shape);
    l->ops->forward(l, &xt, &yt, 0);
    CHECK(memcmp(out, x->data, x->size * sizeof(float)) == 0);
    fixture_compare("eval", out, x->size, ev, 1);

    /* Training on 2^18 ones: kept values equal PyTorch's scale, the dropped
     * fraction is p within 5σ, the mean stays 1 within 5σ. */
    for (size_t i = 0; i < (size_t)ROWS * COLS; i++) big[i] = 1.0f;
    sn_model_free(m);
    m = dropout_model(line, COLS, 7);
    l = m->layers[0];
    int shape[2] = {ROWS, COLS};
    xt = sn_tensor_view(big, 2, shape);
    yt = sn_tensor_view(out, 2, shape);
    l->ops->forward(l, &xt, &yt, 1);
    size_t zeros = 0, bad = 0, n = (size_t)ROWS * COLS;
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        zeros += out[i] == 0.0f;
        bad += out[i] != 0.0f && out[i] != scale->data[0];
        sum += out[i];
    }
    double fr = (double)zeros / n, sigma = sqrt(p * (1 - p) / n);
    printf("  %s: dropped %.5f (PyTorch %.5f), kept value %.9g (PyTorch %.9g), mean %.5f\n", c, fr,
           (double)frac->data[0], (double)(n > zeros ? scale->data[0] : 0), (double)scale->data[0],
           sum / n);
    CHECK(bad == 0);
    CHECK(fabs(fr - p) < 5 * sigma);
    CHECK(fabs(frac->data[0] - p) < 5 * sigma); /* PyTorch's own, for the record */
    CHECK(fabs(sum / n - 1.0) < 5 * sigma / (1 - p));

    /* Backward replays the mask: dx = dy/(1 − p) where kept, 0 where dropped. */
    sn_rng r;
    sn_rng_seed(&r, 5, 5);
    for (size_t i = 0; i < n; i++) big[i] = sn_rng_normal(&r);
    l->ops->forward(l, &xt, &yt, 1);
    sn_tensor dyt = sn_tensor_view(grad, 2, shape);
    for (size_t i = 0; i < n; i++) grad[i] = 0.5f + sn_rng_uniform(&r);
    float *dx = malloc(n * sizeof(float));
    sn_tensor dxt = sn_tensor_view(dx, 2, shape);
    l->ops->backward(l, &xt, &yt, &dyt, &dxt);
    size_t mismatch = 0;
    for (size_t i = 0; i < n; i++) {
        int kept = out[i] != 0.0f;
        if (kept && (out[i] != big[i] * scale->data[0] || dx[i] != grad[i] * scale->data[0]))
            mismatch++;
        if (!kept && dx[i] != 0.0f) mismatch++;
    }
    CHECK(mismatch == 0);
    free(dx);
    sn_model_free(m);
}

static void test_fixture_cases(void) {
    sn_st_file f;
    if (!fixture_open(&f, "toolkit_dropout.safetensors")) return;
    float *big = malloc((size_t)ROWS * COLS * sizeof(float));
    float *out = malloc((size_t)ROWS * COLS * sizeof(float));
    float *grad = malloc((size_t)ROWS * COLS * sizeof(float));
    dropout_case(&f, "p2", big, out, grad);
    dropout_case(&f, "p5", big, out, grad);
    free(big);
    free(out);
    free(grad);
    sn_st_free(&f);
}

/* Same seed, same masks; consecutive calls draw new masks; p = 0 and
 * evaluation are the identity. */
static void test_determinism(void) {
    sn_model *a = dropout_model("dropout 0.5", 64, 3), *b = dropout_model("dropout 0.5", 64, 3);
    sn_model *z = dropout_model("dropout 0", 64, 3);
    if (!a || !b || !z) return;
    float x[4 * 64], y1[4 * 64], y2[4 * 64], y3[4 * 64];
    for (int i = 0; i < 4 * 64; i++) x[i] = 1.0f + (float)i;
    int shape[2] = {4, 64};
    sn_tensor xt = sn_tensor_view(x, 2, shape);
    sn_tensor t1 = sn_tensor_view(y1, 2, shape), t2 = sn_tensor_view(y2, 2, shape);
    sn_tensor t3 = sn_tensor_view(y3, 2, shape);
    a->layers[0]->ops->forward(a->layers[0], &xt, &t1, 1);
    b->layers[0]->ops->forward(b->layers[0], &xt, &t2, 1);
    CHECK(memcmp(y1, y2, sizeof y1) == 0);
    a->layers[0]->ops->forward(a->layers[0], &xt, &t2, 1);
    CHECK(memcmp(y1, y2, sizeof y1) != 0);
    z->layers[0]->ops->forward(z->layers[0], &xt, &t3, 1);
    CHECK(memcmp(x, y3, sizeof x) == 0);
    sn_model_free(a);
    sn_model_free(b);
    sn_model_free(z);
}

/* Finite differences with the mask held fixed (the generator restored before
 * each forward pass), dropout between two dense layers and before the last. */
static void test_gradcheck(void) {
    sn_model *m = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec("input 6\ndense 8\ntanh\ndropout 0.5\ndense 5\ndropout 0.2\n"
                             "dense 3\nloss softmax_xent\n",
                             "gc", 4, &m, &err) == SN_OK);
    if (!m) return;
    sn_rng r;
    sn_rng_seed(&r, 9, 9);
    float x[5 * 6];
    int labels[5];
    for (int i = 0; i < 30; i++) x[i] = sn_rng_normal(&r);
    for (int i = 0; i < 5; i++) labels[i] = (int)sn_rng_below(&r, 3);
    double w = fd_train_check(m, x, 5, labels, 1e-2f, 64);
    printf("  gradcheck with fixed masks: worst %.2e\n", w);
    CHECK(w >= 0 && w < 2e-2);
    /* And the masks do matter: a training forward differs from evaluation. */
    float ev[15];
    sn_model_predict(m, x, 5, ev, NULL);
    sn_model_forward(m, x, 5, 1, NULL);
    const sn_tensor *y = sn_model_output(m);
    float tr[15];
    sn_tensor o = sn_tensor_view(tr, 2, y->shape);
    sn_loss_output(m->loss, y, &o);
    CHECK(memcmp(ev, tr, sizeof ev) != 0);
    sn_model_free(m);
}

static void expect_error(const char *line, const char *want) {
    char spec[128];
    snprintf(spec, sizeof spec, "input 4\n%s\ndense 2\nloss mse\n", line);
    sn_model *m = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec(spec, "t.net", 0, &m, &err) != SN_OK && m == NULL);
    if (!strstr(err.msg, want)) fprintf(stderr, "  message '%s' lacks '%s'\n", err.msg, want);
    CHECK(strstr(err.msg, want) != NULL);
}

int main(void) {
    test_fixture_cases();
    test_determinism();
    test_gradcheck();
    expect_error("dropout 1", "t.net:2: dropout: probability must be in [0, 1), got 1");
    expect_error("dropout -0.1", "probability must be in [0, 1)");
    expect_error("dropout half", "dropout: drop probability must be a number, got 'half'");
    expect_error("dropout 0.2 0.3", "unexpected argument '0.3'");
    expect_error("dropout 0.2 p=0.3", "give the probability once");
    expect_error("dropout 0.2 l2=0.1", "no parameters to apply l1/l2 to");
    return check_report();
}
