/* Batch normalization against PyTorch's BatchNorm1d / BatchNorm2d
 * (tests/parity/fixtures/toolkit_batchnorm, from gen_toolkit.py): after a
 * dense layer [N, F], over channels [N, C, H, W] and [N, C, L], in training
 * (batch statistics, running statistics updated with momentum, unbiased
 * running variance) and evaluation (running statistics), output and every
 * gradient. These values come out of per-channel reductions: norm-wise
 * bound 1e-5 (element-wise error printed). Then finite differences of whole
 * models through batch norm in training mode (fd_train.h) and evaluation
 * mode (sn_gradcheck), a save/load round trip keeping the running
 * statistics, and spec errors. */
#include "fd_train.h"
#include "fixture.h"
#include "kernels/norm.h"
#include "model/model.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A model whose layer 0 is the case's batch-norm line on inputs shaped like
 * x without its batch dimension. */
static sn_model *bn_model(const sn_st_entry *x, const char *line) {
    char spec[256], shape[64];
    int k = 0;
    for (int d = 1; d < x->ndim; d++)
        k += snprintf(shape + k, sizeof shape - (size_t)k, d > 1 ? "x%d" : "%d", x->shape[d]);
    snprintf(spec, sizeof spec, "input %s\n%s\nflatten\ndense 2\nloss mse\n", shape, line);
    sn_model *m = NULL;
    sn_error err = {0};
    if (sn_model_from_spec(spec, "bn", 1, &m, &err) != SN_OK) fprintf(stderr, "%s\n", err.msg);
    return m;
}

static void bn_case(const sn_st_file *f, const char *c) {
    char key[64], what[128];
    snprintf(key, sizeof key, "%s.spec", c);
    const char *line = sn_st_meta(f, key);
    snprintf(key, sizeof key, "%s.train", c);
    const char *train = sn_st_meta(f, key);
    const sn_st_entry *x = fixture_find(f, "%s.x", c), *dy = fixture_find(f, "%s.dy", c);
    sn_model *m = x && dy && line && train ? bn_model(x, line) : NULL;
    CHECK(m != NULL);
    if (!m) return;
    sn_layer *l = m->layers[0];
    const char *pn[4] = {"weight", "bias", "running_mean", "running_var"};
    for (int p = 0; p < 4; p++) {
        const sn_st_entry *v = fixture_find(f, "%s.%s", c, pn[p]);
        CHECK(v && v->size == l->params[p].value.size && strcmp(l->params[p].name, pn[p]) == 0);
        if (v && v->size == l->params[p].value.size)
            memcpy(l->params[p].value.data, v->data, v->size * sizeof(float));
    }
    sn_tensor xt = sn_tensor_view(x->data, x->ndim, x->shape);
    sn_tensor dyt = sn_tensor_view(dy->data, dy->ndim, dy->shape);
    sn_tensor y, dx;
    sn_error err = {0};
    sn_tensor_alloc(&y, x->ndim, x->shape, &err);
    sn_tensor_alloc(&dx, x->ndim, x->shape, &err);
    l->ops->forward(l, &xt, &y, train[0] == '1');
    l->ops->backward(l, &xt, &y, &dyt, &dx);
    struct {
        const char *name;
        const float *ours;
        size_t n;
    } out[] = {{"y", y.data, y.size},
               {"dx", dx.data, dx.size},
               {"weight.grad", l->params[0].grad.data, l->params[0].grad.size},
               {"bias.grad", l->params[1].grad.data, l->params[1].grad.size},
               {"running_mean.after", l->params[2].value.data, l->params[2].value.size},
               {"running_var.after", l->params[3].value.data, l->params[3].value.size}};
    double worst_norm = 0, worst_elem = 0;
    for (size_t i = 0; i < sizeof out / sizeof out[0]; i++) {
        const sn_st_entry *r = fixture_find(f, "%s.%s", c, out[i].name);
        snprintf(what, sizeof what, "%s: %s", c, out[i].name);
        double e = fixture_compare(what, out[i].ours, out[i].n, r, 0);
        if (e > worst_norm) worst_norm = e;
        if (r && r->size == out[i].n) {
            double ee = fixture_err_elem(out[i].ours, r->data, r->size);
            if (ee > worst_elem) worst_elem = ee;
        }
    }
    printf("  %-15s %s  norm-wise worst %.2e, element-wise worst %.2e\n", c,
           train[0] == '1' ? "train" : "eval ", worst_norm, worst_elem);
    sn_tensor_free(&y);
    sn_tensor_free(&dx);
    sn_model_free(m);
}

static void test_fixture_cases(void) {
    sn_st_file f;
    if (!fixture_open(&f, "toolkit_batchnorm.safetensors")) return;
    char *list = strdup(sn_st_meta(&f, "cases") ? sn_st_meta(&f, "cases") : "");
    int n = 0;
    for (char *save = NULL, *c = strtok_r(list, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
        bn_case(&f, c);
        n++;
    }
    CHECK(n >= 7);
    free(list);
    sn_st_free(&f);
}

static void random_fill(float *x, size_t n, sn_rng *r, float scale, float shift) {
    for (size_t i = 0; i < n; i++) x[i] = scale * sn_rng_normal(r) + shift;
}

/* Finite differences through batch norm: training mode (the batch
 * statistics depend on every input) and evaluation mode (after some
 * training forwards have moved the running statistics away from 0 and 1). */
static void gradcheck(const char *name, const char *spec, int n) {
    sn_model *m = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec(spec, "gc", 5, &m, &err) == SN_OK);
    if (!m) return;
    sn_rng r;
    sn_rng_seed(&r, 17, 1);
    size_t in = sn_model_input_size(m);
    float *x = malloc(in * (size_t)n * sizeof(float));
    int *labels = malloc((size_t)n * sizeof(int));
    random_fill(x, in * (size_t)n, &r, 1.5f, 0.7f);
    for (int i = 0; i < n; i++) labels[i] = (int)sn_rng_below(&r, 3);
    /* Non-trivial γ and β. */
    for (int i = 0; i < m->nparams; i++)
        if (!m->params[i]->buffer && !m->params[i]->decay)
            random_fill(m->params[i]->value.data, m->params[i]->value.size, &r, 0.3f, 0.8f);
    double wt = fd_train_check(m, x, n, labels, 1e-2f, 48);
    printf("  gradcheck %-6s training mode worst %.2e\n", name, wt);
    CHECK(wt >= 0 && wt < 2e-2);
    for (int k = 0; k < 5; k++) sn_model_forward(m, x, n, 1, NULL);
    double worst[SN_MAX_LAYERS], wi;
    CHECK(sn_gradcheck(m, x, n, labels, NULL, 1e-2f, 48, worst, &wi, &err) == SN_OK);
    for (int l = 0; l < m->nlayers; l++) {
        if (worst[l] > 2e-2) fprintf(stderr, "%s: layer %d worst %g\n", name, l, worst[l]);
        CHECK(worst[l] < 2e-2);
    }
    CHECK(wi < 2e-2);
    printf("  gradcheck %-6s evaluation mode, input worst %.2e\n", name, wi);
    free(x);
    free(labels);
    sn_model_free(m);
}

static void test_gradchecks(void) {
    gradcheck("dense", "input 6\ndense 5\nbatchnorm\ntanh\ndense 3\nloss softmax_xent\n", 7);
    gradcheck("conv",
              "input 2x3x4\nbatchnorm momentum=0.2 eps=1e-3\nsilu\nflatten\ndense 3\n"
              "loss softmax_xent\n",
              4);
    gradcheck("seq",
              "input 3x5\nbatchnorm\nflatten\ndense 4\nbatchnorm\nrelu\ndense 3\n"
              "loss softmax_xent\n",
              5);
}

/* Running statistics are saved with the weights and loaded back; evaluation
 * uses them (one sample's output does not depend on the rest of the batch),
 * training uses the batch's own. */
static void test_save_load_and_modes(void) {
    const char *spec = "input 4\ndense 6\nbatchnorm\nrelu\ndense 3\nloss softmax_xent\n";
    sn_model *m = NULL, *back = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec(spec, "s", 2, &m, &err) == SN_OK);
    if (!m) return;
    sn_rng r;
    sn_rng_seed(&r, 3, 3);
    float x[8 * 4], p1[3 * 8], p2[3 * 8], one[3];
    random_fill(x, 32, &r, 2.0f, 1.0f);
    sn_model_reserve(m, 8, &err);
    for (int k = 0; k < 3; k++) sn_model_forward(m, x, 8, 1, NULL);
    CHECK(m->params[4]->value.data[0] != 0.0f && m->params[5]->value.data[0] != 1.0f);
    sn_model_predict(m, x, 8, p1, NULL);
    /* sample 1 alone (its dense layers sum in another order: within rounding) */
    sn_model_predict(m, x + 4, 1, one, NULL);
    for (int i = 0; i < 3; i++) CHECK_NEAR(one[i], p1[3 + i], 1e-6);
    char dir[] = "/tmp/sn-bn-XXXXXX", path[64];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    CHECK(sn_model_save(m, path, &err) == SN_OK);
    CHECK(sn_model_load(path, &back, &err) == SN_OK);
    if (back) {
        sn_model_reserve(back, 8, &err);
        sn_model_predict(back, x, 8, p2, NULL);
        CHECK(memcmp(p1, p2, sizeof p1) == 0);
    }
    /* In training mode the first sample's output changes with the batch. */
    sn_model_forward(m, x, 8, 1, NULL);
    const sn_tensor *y = sn_model_output(m);
    float a = y->data[0];
    sn_model_forward(m, x, 4, 1, NULL);
    y = sn_model_output(m);
    CHECK(a != y->data[0]);
    unlink(path);
    rmdir(dir);
    sn_model_free(back);
    sn_model_free(m);
}

/* The per-channel kernels against their definitions written as the plain
 * loops (each plane's sum one chain of float additions in order, added
 * into a double in sample order): bitwise equal on 1 and 2 threads, on
 * sizes large enough to be split. */
static void test_kernels_exact(void) {
    static const int shapes[][3] = {{67, 5, 611}, {128, 3, 196}, {9, 4, 1000}, {20, 7, 7}};
    sn_rng r;
    sn_rng_seed(&r, 23, 1);
    for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++) {
        int N = shapes[k][0], C = shapes[k][1], S = shapes[k][2];
        size_t n = (size_t)N * C * S;
        float *x = malloc(sizeof(float) * n), *dy = malloc(sizeof(float) * n);
        float *y = malloc(sizeof(float) * n), *want = malloc(sizeof(float) * n);
        float mean[8], var[8], m2[8], v2[8], sdy[8], sdyx[8], a[8], b[8], d[8];
        double acc[16], ra[16];
        random_fill(x, n, &r, 3.0f, 0.7f);
        random_fill(dy, n, &r, 1e-3f, 0.0f);
        for (int c = 0; c < C; c++) {
            double s = 0, q = 0, g = 0, gx = 0;
            for (int i = 0; i < N; i++) {
                const float *xc = x + ((size_t)i * C + c) * S;
                float t = 0;
                for (int j = 0; j < S; j++) t += xc[j];
                s += t;
            }
            m2[c] = (float)(s / ((double)N * S));
            for (int i = 0; i < N; i++) {
                const float *xc = x + ((size_t)i * C + c) * S, *gc = dy + ((size_t)i * C + c) * S;
                float t = 0, t1 = 0, t2 = 0;
                for (int j = 0; j < S; j++) {
                    t += (xc[j] - m2[c]) * (xc[j] - m2[c]);
                    t1 += gc[j];
                    t2 += gc[j] * (xc[j] - m2[c]);
                }
                q += t;
                g += t1;
                gx += t2;
            }
            v2[c] = (float)(q / ((double)N * S));
            ra[c] = g;
            ra[C + c] = gx;
            a[c] = 0.5f + (float)c, b[c] = 0.25f - (float)c, d[c] = 0.125f * (float)c;
        }
        for (size_t i = 0; i < n; i++) {
            int c = (int)(i / (size_t)S % (size_t)C);
            want[i] = a[c] * dy[i] + b[c] * (x[i] - m2[c]) + d[c];
        }
        for (int t = 1; t <= 2; t++) {
            sn_set_threads(t);
            sn_channel_moments(x, N, C, S, mean, var, acc);
            CHECK(memcmp(mean, m2, sizeof(float) * C) == 0);
            CHECK(memcmp(var, v2, sizeof(float) * C) == 0);
            sn_channel_dot(x, dy, N, C, S, m2, sdy, sdyx, acc);
            for (int c = 0; c < C; c++) {
                CHECK(sdy[c] == (float)ra[c]);
                CHECK(sdyx[c] == (float)ra[C + c]);
            }
            sn_channel_affine2(dy, x, y, N, C, S, a, b, m2, d);
            CHECK(memcmp(y, want, sizeof(float) * n) == 0);
            sn_channel_affine(x, y, N, C, S, a, b);
            int same = 1;
            for (size_t i = 0; i < n; i++) {
                int c = (int)(i / (size_t)S % (size_t)C);
                same &= y[i] == a[c] * x[i] + b[c];
            }
            CHECK(same);
        }
        sn_set_threads(1);
        free(x), free(dy), free(y), free(want);
    }
}

static void expect_error(const char *line, const char *want) {
    char spec[256];
    snprintf(spec, sizeof spec, "input 4\n%s\ndense 2\nloss mse\n", line);
    sn_model *m = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec(spec, "t.net", 0, &m, &err) != SN_OK && m == NULL);
    if (!strstr(err.msg, want)) fprintf(stderr, "  message '%s' lacks '%s'\n", err.msg, want);
    CHECK(strstr(err.msg, want) != NULL);
}

int main(void) {
    test_fixture_cases();
    test_gradchecks();
    test_save_load_and_modes();
    test_kernels_exact();
    expect_error("batchnorm momentum=2", "t.net:2: batchnorm: momentum must be in [0, 1]");
    expect_error("batchnorm eps=0", "t.net:2: batchnorm: eps must be > 0");
    expect_error("batchnorm 3", "t.net:2: batchnorm: unexpected argument '3'");
    expect_error("batchnorm affine=0", "unknown option 'affine'");
    return check_report();
}
