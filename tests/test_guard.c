/* The training guard (src/train/guard.h): its kernels against double
 * references; a NaN input, an overflowing input and an exploding learning
 * rate stopping sn_train at the right epoch, batch and step with the weights
 * of the last good step, bitwise; skipping (counts per epoch from an
 * independent observation of which batches hold a bad sample, history.csv,
 * batch-norm statistics left finite); every batch skipped; the gradient
 * naming on hand-poisoned gradients; the norm of gradients cut into many
 * blocks, on 1 and 2 threads; the [train] keys; text training. */
#include "check.h"
#include "core/threads.h"
#include "data/dataset.h"
#include "kernels/finite.h"
#include "model/model.h"
#include "train/guard.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

#define N      40 /* samples */
#define MAXW   256
#define MAXS   64
#define MARK_A 0.123456f /* feature 1 of the bad samples, seen in a clean run */
#define MARK_B 0.654321f

static int starts(const char *s, const char *prefix) {
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- kernels --------------------------------------------------------------- */

static void test_kernels(void) {
    sn_rng r;
    sn_rng_seed(&r, 11, 1);
    static float x[1000];
    for (size_t n = 0; n <= 1000; n += n < 40 ? 1 : 137) {
        double ref = 0;
        for (size_t i = 0; i < n; i++) {
            x[i] = 4 * sn_rng_uniform(&r) - 2;
            ref += (double)x[i] * x[i];
        }
        CHECK_NEAR(sn_sumsq(x, n), ref, 1e-5);
        CHECK_NEAR(sn_sumsq_double(x, n), ref, 1e-12);
        CHECK(sn_first_nonfinite(x, n) == n);
        if (n == 0) continue;
        /* A NaN or inf anywhere (vector body or tail) makes the sum non-finite. */
        for (size_t at = 0; at < n; at += n / 7 + 1) {
            float keep = x[at];
            x[at] = NAN;
            CHECK(isnan(sn_sumsq(x, n)) && sn_first_nonfinite(x, n) == at);
            x[at] = -INFINITY;
            CHECK(isinf(sn_sumsq(x, n)) && sn_first_nonfinite(x, n) == at);
            x[at] = 1e20f; /* finite, but its square overflows float */
            CHECK(!isfinite(sn_sumsq(x, n)) && sn_first_nonfinite(x, n) == n);
            CHECK_NEAR(sn_sumsq_double(x, n), ref - (double)keep * keep + (double)1e20f * 1e20f,
                       1e-12);
            x[at] = keep;
        }
    }
}

/* ---- data and models ------------------------------------------------------- */

/* N samples of 2 features in [-1, 1], 3 classes; samples bad[0..nbad) get
 * feature 0 = `value` and feature 1 = a marker (MARK_A, MARK_B). */
static void make_data(sn_dataset *d, const int *bad, int nbad, float value) {
    memset(d, 0, sizeof *d);
    d->n = N;
    d->ndim = 1;
    d->shape[0] = 2;
    d->sample_size = 2;
    d->num_classes = 3;
    d->x = sn_alloc(2 * N, sizeof(float));
    d->labels = sn_alloc(N, sizeof(int));
    sn_rng r;
    sn_rng_seed(&r, 5, 5);
    for (int i = 0; i < N; i++) {
        d->x[2 * i] = 2 * sn_rng_uniform(&r) - 1;
        d->x[2 * i + 1] = 2 * sn_rng_uniform(&r) - 1;
        d->labels[i] = (d->x[2 * i] > 0) + (d->x[2 * i + 1] > 0.5f);
    }
    for (int k = 0; k < nbad; k++) {
        d->x[2 * bad[k]] = value;
        d->x[2 * bad[k] + 1] = k ? MARK_B : MARK_A;
    }
}

static sn_model *make_model(const char *train, sn_error *err) {
    char spec[512];
    snprintf(spec, sizeof spec,
             "input 2\ndense 8\nrelu\ndense 3\nloss softmax_xent\n[train]\nbatch 4\nepochs 3\n%s",
             train);
    sn_model *m = NULL;
    if (sn_model_from_spec(spec, "guard", 7, &m, err) != SN_OK) return NULL;
    return m;
}

/* All trained parameter values, in order, into w; returns their number. */
static int weights(const sn_model *m, float *w) {
    int k = 0;
    for (int i = 0; i < m->nparams; i++)
        for (size_t j = 0; j < m->params[i]->value.size && k < MAXW; j++)
            w[k++] = m->params[i]->value.data[j];
    return k;
}

static int all_finite(const sn_model *m) {
    for (int i = 0; i < m->nparams; i++)
        for (size_t j = 0; j < m->params[i]->value.size; j++)
            if (!isfinite(m->params[i]->value.data[j])) return 0;
    return 1;
}

/* What hooks observe: after every applied step the weights, the step's
 * position and whether its batch (the model's input buffer) held a marked
 * sample; per epoch the skipped count. */
typedef struct obs {
    sn_model *m;
    int steps;
    float w[MAXS][MAXW];
    int epoch[MAXS], batch[MAXS], marked[MAXS];
    double first_loss;
    int skipped[8];
    long final_step;
} obs;

static void on_batch(void *ctx, int epoch, int batch, int nb, double loss, double acc, double sps) {
    (void)nb, (void)acc, (void)sps;
    obs *o = ctx;
    if (o->steps >= MAXS) return;
    int k = o->steps++;
    if (k == 0) o->first_loss = loss; /* the running mean of one batch */
    weights(o->m, o->w[k]);
    o->epoch[k] = epoch, o->batch[k] = batch, o->marked[k] = 0;
    for (int r = 0; r < o->m->batch; r++) {
        float f = o->m->act[0].data[2 * r + 1];
        o->marked[k] |= f == MARK_A || f == MARK_B;
    }
}

static int on_epoch(void *ctx, const sn_epoch_stats *e) {
    obs *o = ctx;
    if (e->epoch < 8) o->skipped[e->epoch] = e->skipped;
    o->final_step = e->step;
    return 0;
}

static sn_status run(sn_model *m, const sn_dataset *d, obs *o, const char *hist, sn_error *err) {
    memset(o, 0, sizeof *o);
    o->m = m;
    sn_train_hooks h = {.ctx = o, .on_batch = on_batch, .on_epoch = on_epoch};
    return sn_train(m, d, NULL, NULL, &h, hist, err);
}

/* ---- stopping -------------------------------------------------------------- */

/* A NaN feature (value NaN) or one that overflows the first layer (value
 * 3e38 with every first-layer weight 2: 2 · 3e38 overflows float): training stops
 * at the first batch holding it, which a clean run (marker kept, bad value
 * replaced by 0.5) shows; the weights are the clean run's after the step
 * before, bitwise. */
static void test_stop(float value, const char *why) {
    sn_error err = {0};
    const int bad[1] = {13};
    sn_dataset clean, dirty;
    make_data(&clean, bad, 1, 0.5f);
    make_data(&dirty, bad, 1, value);
    obs *ref = calloc(1, sizeof *ref), *got = calloc(1, sizeof *got);
    float w0[MAXW], w[MAXW];
    sn_model *a = make_model("optimizer sgd lr=0.1\n", &err);
    sn_model *b = make_model("optimizer sgd lr=0.1\n", &err);
    CHECK(a && b);
    if (!a || !b) goto done;
    for (int i = 0; i < 2; i++) {
        sn_tensor *t = &(i ? b : a)->layers[0]->params[0].value;
        if (!isnan(value))
            for (size_t j = 0; j < t->size; j++) t->data[j] = 2.0f;
    }
    weights(a, w0);
    CHECK(run(a, &clean, ref, NULL, &err) == SN_OK);
    int k = 0;
    while (k < ref->steps && !ref->marked[k]) k++;
    CHECK(k < ref->steps);
    sn_status s = run(b, &dirty, got, NULL, &err);
    CHECK(s == SN_ERR_NUMERIC);
    char want[128];
    snprintf(want, sizeof want, "epoch %d, batch %d (step %d): non-finite loss", ref->epoch[k],
             ref->batch[k], k + 1);
    CHECK(starts(err.msg, want));
    CHECK(strstr(err.msg, why) != NULL);
    if (!starts(err.msg, want) || !strstr(err.msg, why))
        fprintf(stderr, "got '%s', expected '%s ... %s'\n", err.msg, want, why);
    CHECK(got->steps == k);
    int nw = weights(b, w);
    CHECK(all_finite(b));
    CHECK(memcmp(w, k ? ref->w[k - 1] : w0, (size_t)nw * sizeof(float)) == 0);
done:
    free(ref);
    free(got);
    sn_model_free(a);
    sn_model_free(b);
    sn_dataset_free(&clean);
    sn_dataset_free(&dirty);
}

/* SGD with lr 1e30: step 1 is finite (weights ~1e29), step 2's forward
 * pass overflows; batch 4 of 40 samples: epoch 1, batch 2. lr 1e8 instead:
 * step 2's loss (~1e14) and gradient stay finite but explode, caught by
 * max_grad_norm (the norm printed is Σ g² computed here in double) or, with
 * that rule off, by max_loss_ratio against the first steps' largest loss (step 1's). */
static void test_explode(void) {
    sn_error err = {0};
    sn_dataset d;
    make_data(&d, NULL, 0, 0);
    obs *o = calloc(1, sizeof *o);
    float w[MAXW];
    const char *cfgs[3] = {"optimizer sgd lr=1e30\n", "optimizer sgd lr=1e8\n",
                           "optimizer sgd lr=1e8\nmax_grad_norm 0\nmax_loss_ratio 100\n"};
    const char *why[3] = {"non-finite loss", "exceeds max_grad_norm 1e+06",
                          "exceeds max_loss_ratio 100 times the largest loss of the first steps"};
    for (int c = 0; c < 3; c++) {
        sn_model *m = make_model(cfgs[c], &err);
        CHECK(m != NULL);
        if (!m) continue;
        CHECK(run(m, &d, o, NULL, &err) == SN_ERR_NUMERIC);
        CHECK(starts(err.msg, "epoch 1, batch 2 (step 2): "));
        CHECK(strstr(err.msg, why[c]) != NULL);
        if (!strstr(err.msg, why[c])) fprintf(stderr, "case %d: '%s'\n", c, err.msg);
        CHECK(o->steps == 1);
        int nw = weights(m, w);
        CHECK(all_finite(m));
        CHECK(memcmp(w, o->w[0], (size_t)nw * sizeof(float)) == 0);
        if (c == 1) {
            double ss = 0;
            for (int i = 0; i < m->nparams; i++)
                for (size_t j = 0; j < m->params[i]->grad.size; j++)
                    ss += (double)m->params[i]->grad.data[j] * m->params[i]->grad.data[j];
            const char *p = strstr(err.msg, "gradient norm ");
            double printed = p ? atof(p + 14) : 0;
            CHECK(sqrt(ss) > 1e6);
            CHECK_NEAR(printed / sqrt(ss), 1.0, 6e-3); /* %.3g */
        }
        if (c == 2) {
            const char *p = strstr(err.msg, "of the first steps ");
            double printed = p ? atof(p + 19) : 0;
            CHECK_NEAR(printed, o->first_loss, 1e-3); /* %.4g */
        }
        sn_model_free(m);
    }
    free(o);
    sn_dataset_free(&d);
}

/* ---- skipping -------------------------------------------------------------- */

/* Two NaN samples, skip mode: per epoch, the skipped count is the number of
 * batches of a clean run that hold a marked sample; history.csv's last
 * column says the same; the optimizer took the other steps; the weights
 * and (with batch norm) the running statistics stay finite. */
static void test_skip(const char *layers) {
    sn_error err = {0};
    const int bad[2] = {3, 22};
    sn_dataset clean, dirty;
    make_data(&clean, bad, 2, 0.5f);
    make_data(&dirty, bad, 2, NAN);
    obs *ref = calloc(1, sizeof *ref), *got = calloc(1, sizeof *got);
    char spec[512];
    snprintf(spec, sizeof spec,
             "input 2\n%sloss softmax_xent\n[train]\noptimizer adam\nbatch 4\nepochs 3\n"
             "skip_nonfinite yes\n",
             layers);
    sn_model *a = NULL, *b = NULL;
    CHECK(sn_model_from_spec(spec, "skip", 7, &a, &err) == SN_OK);
    CHECK(sn_model_from_spec(spec, "skip", 7, &b, &err) == SN_OK);
    if (!a || !b) goto done;
    CHECK(b->cfg.skip_nonfinite == 1);
    CHECK(run(a, &clean, ref, NULL, &err) == SN_OK);
    int want[4] = {0, 0, 0, 0}, total = 0;
    for (int k = 0; k < ref->steps; k++)
        if (ref->marked[k]) want[ref->epoch[k]]++, total++;
    CHECK(total >= 3); /* both samples, three epochs: at least one batch each */
    const char *hist = "test_guard_history.csv";
    CHECK(run(b, &dirty, got, hist, &err) == SN_OK);
    CHECK(got->final_step == 3 * (N / 4) - total);
    for (int e = 1; e <= 3; e++) CHECK(got->skipped[e] == want[e]);
    for (int k = 0; k < got->steps; k++) CHECK(!got->marked[k]);
    CHECK(all_finite(b));
    FILE *f = fopen(hist, "r");
    CHECK(f != NULL);
    char line[512];
    int row = 0;
    while (f && fgets(line, sizeof line, f)) {
        char *last = strrchr(line, ',');
        if (row == 0)
            CHECK(last && strcmp(last, ",skipped\n") == 0);
        else if (row <= 3)
            CHECK(last && atoi(last + 1) == want[row]);
        row++;
    }
    CHECK(row == 4);
    if (f) fclose(f);
    remove(hist);
done:
    free(ref);
    free(got);
    sn_model_free(a);
    sn_model_free(b);
    sn_dataset_free(&clean);
    sn_dataset_free(&dirty);
}

/* Every sample bad: every batch of epoch 1 is skipped, and training stops. */
static void test_all_skipped(void) {
    sn_error err = {0};
    int bad[N];
    for (int i = 0; i < N; i++) bad[i] = i;
    sn_dataset d;
    make_data(&d, bad, N, INFINITY);
    sn_model *m = make_model("skip_nonfinite 1\n", &err);
    obs *o = calloc(1, sizeof *o);
    CHECK(m && run(m, &d, o, NULL, &err) == SN_ERR_NUMERIC);
    CHECK(starts(err.msg, "epoch 1: all 10 batches were skipped, nothing is learning"));
    CHECK(o->steps == 0 && m && all_finite(m));
    free(o);
    sn_model_free(m);
    sn_dataset_free(&d);
}

/* ---- naming the layer ------------------------------------------------------ */

/* Gradients poisoned by hand after a clean backward: the guard names the
 * highest layer holding a NaN or inf (backward computes it first), its
 * parameter and the entry. */
static void test_naming(void) {
    sn_error err = {0};
    sn_dataset d;
    make_data(&d, NULL, 0, 0);
    sn_model *m = make_model("", &err);
    sn_guard g;
    CHECK(m && sn_model_reserve(m, 4, &err) == SN_OK &&
          sn_guard_init(&g, m, &m->cfg, &err) == SN_OK);
    if (!m) return;
    sn_model_forward(m, d.x, 4, 1, NULL);
    double loss = 0;
    sn_model_backward(m, d.labels, NULL, &loss, NULL);
    CHECK(sn_guard_check(&g, loss, 3, 17, 251, 0.01f, &err) == SN_OK);
    CHECK(g.grad_norm > 0 && isfinite(g.grad_norm));
    m->layers[0]->params[1].grad.data[2] = INFINITY; /* layer 0 bias */
    CHECK(sn_guard_check(&g, loss, 3, 17, 251, 0.01f, &err) == SN_ERR_NUMERIC);
    CHECK(starts(err.msg, "epoch 3, batch 17 (step 251): non-finite gradient in layer 0 "
                          "(dense 2->8), bias ('inf' at index 2); the learning rate is 0.01"));
    m->layers[2]->params[0].grad.data[5] = NAN; /* layer 2 weight */
    CHECK(sn_guard_check(&g, loss, 3, 17, 251, 0.01f, &err) == SN_ERR_NUMERIC);
    CHECK(
        strstr(err.msg, "non-finite gradient in layer 2 (dense 8->3), weight ('nan' at index 5)"));
    CHECK(sn_guard_check(&g, INFINITY, 3, 17, 251, 0.01f, &err) == SN_ERR_NUMERIC);
    CHECK(strstr(err.msg, "non-finite loss 'inf'") != NULL);
    CHECK(sn_guard_skip(&g, 4) == 0); /* not in skip mode */
    sn_guard_free(&g);
    sn_model_free(m);
    sn_dataset_free(&d);
}

/* A non-finite loss whose first non-finite activation lies inside layers
 * run in one pass (a convolution with the ReLU and pooling after it), whose
 * forward pass does not write it: the trace still names the layer, and the
 * running statistics of batch norm are as the training step left them.
 * One pixel of 3e38 times weights of 2 overflows the convolution. */
static void test_trace_fused(const char *layers, const char *why) {
    char spec[256];
    snprintf(spec, sizeof spec, "input 1x6x6\n%sflatten\ndense 3\nloss softmax_xent\n", layers);
    sn_error err = {0};
    sn_model *m = NULL;
    sn_guard g;
    CHECK(sn_model_from_spec(spec, "trace", 7, &m, &err) == SN_OK);
    CHECK(m && sn_model_reserve(m, 4, &err) == SN_OK &&
          sn_guard_init(&g, m, &m->cfg, &err) == SN_OK);
    if (!m) return;
    float x[4 * 36];
    int labels[4] = {0, 1, 2, 0};
    for (int i = 0; i < 4 * 36; i++) x[i] = 0.5f;
    x[2 * 36 + 3 * 6 + 3] = 3e38f;
    sn_tensor *w = &m->layers[0]->params[0].value;
    for (size_t j = 0; j < w->size; j++) w->data[j] = 2.0f;
    sn_model_forward(m, x, 4, 1, NULL);
    double loss = 0;
    sn_model_backward(m, labels, NULL, &loss, NULL);
    float before[64];
    int nb = 0;
    for (int i = 0; i < m->nparams; i++)
        for (size_t j = 0; m->params[i]->buffer && j < m->params[i]->value.size && nb < 64; j++)
            before[nb++] = m->params[i]->value.data[j];
    CHECK(!isfinite(loss));
    CHECK(sn_guard_check(&g, loss, 1, 2, 2, 0.01f, &err) == SN_ERR_NUMERIC);
    CHECK(strstr(err.msg, why) != NULL);
    if (!strstr(err.msg, why)) fprintf(stderr, "got '%s', expected '%s'\n", err.msg, why);
    nb = 0;
    for (int i = 0; i < m->nparams; i++)
        for (size_t j = 0; m->params[i]->buffer && j < m->params[i]->value.size && nb < 64; j++)
            CHECK(memcmp(&before[nb++], &m->params[i]->value.data[j], sizeof(float)) == 0);
    sn_guard_free(&g);
    sn_model_free(m);
}

/* Skip mode: a refused batch leaves the batch-norm running statistics
 * bitwise as they were before its forward pass, and zero gradients. */
static void test_skip_restores(void) {
    sn_error err = {0};
    const int bad[1] = {1};
    sn_dataset d;
    make_data(&d, bad, 1, NAN);
    sn_model *m = NULL;
    CHECK(sn_model_from_spec("input 2\ndense 8\nbatchnorm\nrelu\ndense 3\nloss softmax_xent\n"
                             "[train]\nskip_nonfinite yes\n",
                             "restore", 7, &m, &err) == SN_OK);
    sn_guard g;
    if (!m) return;
    CHECK(sn_model_reserve(m, 4, &err) == SN_OK && sn_guard_init(&g, m, &m->cfg, &err) == SN_OK);
    sn_tensor *mean = NULL;
    for (int p = 0; p < m->layers[1]->nparams; p++)
        if (m->layers[1]->params[p].buffer) mean = &m->layers[1]->params[p].value;
    CHECK(mean != NULL);
    float before[8];
    for (int step = 0; mean && step < 2; step++) { /* a good batch, then a bad one */
        const float *x = d.x + (step ? 0 : 8);
        const int *y = d.labels + (step ? 0 : 4);
        memcpy(before, mean->data, sizeof before);
        sn_guard_begin(&g);
        sn_model_forward(m, x, 4, 1, NULL);
        double loss = 0;
        sn_model_backward(m, y, NULL, &loss, NULL);
        CHECK(memcmp(before, mean->data, sizeof before) != 0); /* the forward pass moved them */
        sn_status s = sn_guard_check(&g, loss, 1, step + 1, step + 1, 0.01f, &err);
        CHECK(s == (step ? SN_ERR_NUMERIC : SN_OK));
        if (s == SN_OK) continue;
        CHECK(sn_guard_skip(&g, 4) == 1);
        CHECK(memcmp(before, mean->data, sizeof before) == 0);
        for (int i = 0; i < m->nparams; i++)
            for (size_t j = 0; !m->params[i]->buffer && j < m->params[i]->grad.size; j++)
                CHECK(m->params[i]->grad.data[j] == 0.0f);
    }
    CHECK(sn_guard_skipped(&g, 1) == 1 && sn_guard_skipped_rows(&g, 1) == 4);
    sn_guard_free(&g);
    sn_model_free(m);
    sn_dataset_free(&d);
}

/* ---- [train] keys ------------------------------------------------------------- */

static void test_spec(void) {
    sn_error err = {0};
    sn_model *m = make_model("", &err);
    CHECK(m && m->cfg.skip_nonfinite == 0 && m->cfg.max_grad_norm == 1e6f &&
          m->cfg.max_loss_ratio == 1e4f);
    sn_model_free(m);
    m = make_model("skip_nonfinite yes\nmax_grad_norm 0\nmax_loss_ratio 50\n", &err);
    CHECK(m && m->cfg.skip_nonfinite == 1 && m->cfg.max_grad_norm == 0 &&
          m->cfg.max_loss_ratio == 50);
    sn_model_free(m);
    m = make_model("skip_nonfinite no\n", &err);
    CHECK(m && m->cfg.skip_nonfinite == 0);
    sn_model_free(m);
    CHECK(make_model("skip_nonfinite maybe\n", &err) == NULL && err.code == SN_ERR_FORMAT);
    CHECK(make_model("max_grad_norm -1\n", &err) == NULL && err.code == SN_ERR_FORMAT);
}

/* ---- text training ------------------------------------------------------------ */

typedef struct text_obs {
    int epochs, skipped[4];
} text_obs;

static int text_epoch(void *ctx, const sn_epoch_stats *e) {
    text_obs *o = ctx;
    if (e->epoch < 4) o->skipped[e->epoch] = e->skipped;
    o->epochs = e->epoch;
    return 0;
}

/* lr 1e30: step 1 is finite, step 2 overflows. Stopping names it; skipping
 * skips every later batch of epoch 1, and epoch 2 (nothing left) stops. */
static void test_text(void) {
    int ids[401];
    for (int i = 0; i < 401; i++) ids[i] = (i * 7 + i / 5) % 6;
    for (int skip = 0; skip <= 1; skip++) {
        char spec[256];
        snprintf(spec, sizeof spec,
                 "input 1\nembedding 6 4\nrnn 8\ndense 6\nloss softmax_xent\n[train]\n"
                 "optimizer sgd lr=1e30\nbatch 4\nepochs 3\nskip_nonfinite %d\n",
                 skip);
        sn_model *m = NULL;
        sn_error err = {0};
        CHECK(sn_model_from_spec(spec, "text", 3, &m, &err) == SN_OK);
        if (!m) continue;
        sn_text_options o;
        sn_text_options_default(&o);
        o.seq_len = 10; /* 100 steps per stream: 10 batches */
        o.keep_best = 0;
        text_obs t = {0};
        sn_train_hooks h = {.ctx = &t, .on_epoch = text_epoch};
        sn_status s = sn_text_train(m, NULL, ids, 401, NULL, 0, &o, &h, NULL, &err);
        CHECK(s == SN_ERR_NUMERIC);
        if (!skip) {
            CHECK(starts(err.msg, "epoch 1, batch 2 (step 2): "));
            CHECK(t.epochs == 0);
        } else {
            CHECK(t.epochs == 1 && t.skipped[1] == 9);
            CHECK(starts(err.msg, "epoch 2: all 10 batches were skipped"));
        }
        CHECK(all_finite(m));
        sn_model_free(m);
    }
}

/* A layer of 70,500 weights (5 blocks, the last one short) and gradients
 * set by hand: the norm against a double reference, the same bits on 1 and
 * 2 threads; a NaN deep in the fourth block and an entry whose square
 * overflows float in a block of its own are found and named as in one
 * pass. */
static void test_blocks(void) {
    sn_error err = {0};
    sn_model *m = NULL;
    CHECK(sn_model_from_spec("input 470\ndense 150\nrelu\ndense 3\nloss softmax_xent\n", "guard", 7,
                             &m, &err) == SN_OK);
    if (!m) return;
    sn_rng r;
    sn_rng_seed(&r, 5, 2);
    double ref = 0;
    for (int i = 0; i < m->nparams; i++)
        for (size_t j = 0; j < m->params[i]->grad.size; j++) {
            float v = (2 * sn_rng_uniform(&r) - 1) * (i == 0 ? 1e-3f : 1.0f);
            m->params[i]->grad.data[j] = v;
            ref += (double)v * v;
        }
    double norm[2];
    for (int t = 1; t <= 2; t++) {
        sn_set_threads(t);
        sn_guard g;
        CHECK(sn_guard_init(&g, m, &m->cfg, &err) == SN_OK && g.nblocks == 5 + 1 + 1 + 1);
        g.max_grad_norm = 0; /* no limit */
        CHECK(sn_guard_check(&g, 1.0, 1, 1, 1, 0.1f, &err) == SN_OK);
        norm[t - 1] = g.grad_norm;
        float *w = m->layers[0]->params[0].grad.data, keep = w[3 * SN_GUARD_BLOCK + 777];
        w[3 * SN_GUARD_BLOCK + 777] = NAN;
        CHECK(sn_guard_check(&g, 1.0, 1, 1, 1, 0.1f, &err) == SN_ERR_NUMERIC);
        CHECK(strstr(err.msg, "layer 0 (dense 470->150), weight ('nan' at index 49929)") != NULL);
        w[3 * SN_GUARD_BLOCK + 777] = keep;
        float big = 1e20f, keep2 = w[4 * SN_GUARD_BLOCK + 5];
        w[4 * SN_GUARD_BLOCK + 5] = big;
        CHECK(sn_guard_check(&g, 1.0, 1, 1, 1, 0.1f, &err) == SN_OK);
        CHECK_NEAR(g.grad_norm, sqrt(ref - (double)keep2 * keep2 + (double)big * big), 1e-9);
        w[4 * SN_GUARD_BLOCK + 5] = keep2;
        sn_guard_free(&g);
    }
    sn_set_threads(1);
    CHECK_NEAR(norm[0], sqrt(ref), 1e-6);
    CHECK(memcmp(&norm[0], &norm[1], sizeof norm[0]) == 0);
    sn_model_free(m);
}

int main(void) {
    sn_set_threads(1);
    test_blocks();
    test_kernels();
    test_stop(NAN, "the input holds 'nan' (row ");
    test_stop(3e38f, "the output of layer 0 (dense 2->8) is the first non-finite activation");
    test_trace_fused("conv2d 2 3\nrelu\nmaxpool 2\n",
                     "the output of layer 0 (conv2d 1->2) is the first non-finite activation");
    test_trace_fused("conv2d 2 3 pad=same\nbatchnorm\nrelu\nmaxpool 2\n",
                     "the output of layer 0 (conv2d 1->2) is the first non-finite activation");
    test_explode();
    test_skip("dense 8\nrelu\ndense 3\n");
    test_skip("dense 8\nbatchnorm\nrelu\ndense 3\n");
    test_all_skipped();
    test_naming();
    test_skip_restores();
    test_spec();
    test_text();
    return check_report();
}
