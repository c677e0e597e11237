/* Optimizers against PyTorch (tests/parity/fixtures/toolkit_optim, written
 * by tests/parity/gen_toolkit.py): SGD with dampening / Nesterov / weight
 * decay, Adagrad, RMSprop (momentum, centered), Adam and AdamW, with and
 * without the 1/t decay. Each case builds the optimizer from the spec line
 * PyTorch's settings came from, feeds the same gradients for 6 steps and
 * compares the weights after every step (element-wise bound 1e-6) and the
 * final state tensors by name. Also: gradient clipping and L1/L2 penalties
 * (toolkit_clip, toolkit_reg), state naming, buffers left alone,
 * configuration errors, and the bits of SGD with momentum, Adam and AdamW
 * on values with subnormals against the plain float loop. */
#include "fixture.h"
#include "model/model.h"
#include "optim/optim.h"
#include "optim/subnormal.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void optim_case(const sn_st_file *f, const char *c) {
    char key[96], what[160];
    snprintf(key, sizeof key, "%s.spec", c);
    const char *spec = sn_st_meta(f, key);
    sn_model *m = NULL;
    sn_optimizer *o = NULL;
    sn_error err = {0};
    if (!spec || sn_model_from_spec(spec, c, 1, &m, &err) != SN_OK ||
        sn_optimizer_new(m, &m->cfg, &o, &err) != SN_OK) {
        fprintf(stderr, "%s: %s\n", c, spec ? err.msg : "no spec");
        CHECK(0);
        sn_model_free(m);
        return;
    }
    const char *names[2] = {"weight", "bias"};
    const sn_st_entry *grads[2], *after[2];
    for (int p = 0; p < 2; p++) {
        const sn_st_entry *init = fixture_find(f, "%s.0.%s", c, names[p]);
        grads[p] = fixture_find(f, "%s.0.%s.grad", c, names[p]);
        after[p] = fixture_find(f, "%s.0.%s.after", c, names[p]);
        CHECK(init && grads[p] && after[p] && init->size == m->params[p]->value.size);
        if (!init || !grads[p] || !after[p] || init->size != m->params[p]->value.size) goto done;
        memcpy(m->params[p]->value.data, init->data, init->size * sizeof(float));
    }
    double worst = 0;
    int steps = grads[0]->shape[0];
    for (int k = 0; k < steps; k++) {
        for (int p = 0; p < 2; p++) {
            size_t n = m->params[p]->value.size;
            memcpy(m->params[p]->grad.data, grads[p]->data + k * n, n * sizeof(float));
        }
        sn_optimizer_step(o);
        for (int p = 0; p < 2; p++) {
            size_t n = m->params[p]->value.size;
            sn_st_entry one = *after[p];
            one.size = n;
            one.data = after[p]->data + k * n;
            snprintf(what, sizeof what, "%s: %s after step %d", c, names[p], k + 1);
            double e = fixture_compare(what, m->params[p]->value.data, n, &one, 1);
            if (e > worst) worst = e;
        }
    }
    /* Every state tensor PyTorch keeps, under the same name, and no other. */
    int expected = 0, matched = 0;
    snprintf(key, sizeof key, "%s.state.", c);
    for (int i = 0; i < f->n; i++) expected += strncmp(f->entries[i].name, key, strlen(key)) == 0;
    for (int i = 0; i < sn_optimizer_num_state(o); i++) {
        char name[64];
        sn_tensor *t = sn_optimizer_state(o, i, name, sizeof name);
        const sn_st_entry *r = fixture_find(f, "%s.%s", c, name);
        if (!r) fprintf(stderr, "%s: state %s unknown to PyTorch\n", c, name);
        CHECK(t && r);
        if (!t || !r) continue;
        snprintf(what, sizeof what, "%s: %s", c, name);
        fixture_compare(what, t->data, t->size, r, 1);
        matched++;
    }
    CHECK(matched == expected);
    CHECK(sn_optimizer_steps(o) == steps);
    printf("  %-18s %d steps, worst element-wise error %.2e, %d state tensors\n", c, steps, worst,
           matched);
done:
    sn_optimizer_free(o);
    sn_model_free(m);
}

static void test_fixture_cases(void) {
    sn_st_file f;
    if (!fixture_open(&f, "toolkit_optim.safetensors")) return;
    char *list = strdup(sn_st_meta(&f, "cases") ? sn_st_meta(&f, "cases") : "");
    int n = 0;
    for (char *save = NULL, *c = strtok_r(list, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
        optim_case(&f, c);
        n++;
    }
    CHECK(n >= 13);
    free(list);
    sn_st_free(&f);
}

/* Builds the 5-4-2 MLP of the clip and penalty fixtures; its 4 parameters
 * in order are W1 [4,5], b1 [4], W2 [2,4], b2 [2]. */
static sn_model *mlp(const char *spec) {
    sn_model *m = NULL;
    sn_error err = {0};
    if (sn_model_from_spec(spec, "mlp", 1, &m, &err) != SN_OK) fprintf(stderr, "%s\n", err.msg);
    CHECK(m && m->nparams == 4);
    return m && m->nparams == 4 ? m : NULL;
}

static int load_into(const sn_st_file *f, const char *prefix, sn_model *m, int grad) {
    for (int i = 0; i < 4; i++) {
        const sn_st_entry *e = fixture_find(f, "%s.%d", prefix, i);
        sn_tensor *t = grad ? &m->params[i]->grad : &m->params[i]->value;
        if (!e || e->size != t->size) return 0;
        memcpy(t->data, e->data, t->size * sizeof(float));
    }
    return 1;
}

static void compare_grads(const sn_st_file *f, const char *prefix, sn_model *m, int elem) {
    char what[64];
    for (int i = 0; i < 4; i++) {
        snprintf(what, sizeof what, "%s.%d", prefix, i);
        fixture_compare(what, m->params[i]->grad.data, m->params[i]->grad.size,
                        fixture_find(f, "%s.%d", prefix, i), elem);
    }
}

/* clip_grad_value_ and clip_grad_norm_ (returned norm: reduction bound). */
static void test_clip(void) {
    sn_st_file f;
    if (!fixture_open(&f, "toolkit_clip.safetensors")) return;
    sn_model *m = mlp("input 5\ndense 4\nrelu\ndense 2\nloss mse\n");
    if (m && load_into(&f, "g", m, 1)) {
        sn_clip_grad_value(m, 0.3f);
        compare_grads(&f, "value", m, 1);
        load_into(&f, "g", m, 1);
        double n = sn_clip_grad_norm(m, 2.0f);
        compare_grads(&f, "norm", m, 1);
        const sn_st_entry *t = fixture_find(&f, "norm.total");
        CHECK(t && fabs(n - t->data[0]) <= 1e-5 * t->data[0]);
        CHECK(n > 2.0); /* the case does clip */
        load_into(&f, "g", m, 1);
        n = sn_clip_grad_norm(m, 100.0f);
        compare_grads(&f, "big", m, 1);
        t = fixture_find(&f, "big.total");
        CHECK(t && fabs(n - t->data[0]) <= 1e-5 * t->data[0]);
    } else {
        CHECK(0);
    }
    sn_model_free(m);
    sn_st_free(&f);
}

/* Per-layer l1= l2= l1_bias= l2_bias= from the spec: the penalty and its
 * gradient (autograd's) added to the data gradient. */
static void test_penalties(void) {
    sn_st_file f;
    if (!fixture_open(&f, "toolkit_reg.safetensors")) return;
    sn_model *m = mlp(sn_st_meta(&f, "spec") ? sn_st_meta(&f, "spec") : "");
    if (m && load_into(&f, "p", m, 0) && load_into(&f, "g", m, 1)) {
        double r = sn_model_regularize(m);
        const sn_st_entry *t = fixture_find(&f, "penalty");
        CHECK(t && fabs(r - t->data[0]) <= 1e-5 * t->data[0]);
        compare_grads(&f, "after", m, 1);
    } else {
        CHECK(0);
    }
    sn_model_free(m);
    sn_st_free(&f);

    /* [train] l2 is the default for weights; a layer's own l2= wins; biases
     * take only l1_bias= / l2_bias=. */
    sn_error err = {0};
    CHECK(sn_model_from_spec("input 3\ndense 2\nrelu\ndense 2 l2=0.5 l1_bias=0.25\nloss mse\n"
                             "[train]\nl2 0.125\nl1 0.0625\n",
                             "d", 1, &m, &err) == SN_OK);
    if (m) {
        CHECK(m->params[0]->l2 == 0.125f && m->params[0]->l1 == 0.0625f);
        CHECK(m->params[1]->l2 == 0.0f && m->params[1]->l1 == 0.0f);
        CHECK(m->params[2]->l2 == 0.5f && m->params[2]->l1 == 0.0625f);
        CHECK(m->params[3]->l1 == 0.25f && m->params[3]->l2 == 0.0f);
        sn_model_free(m);
    }
}

/* Batch-norm running statistics are parameters of the model (saved, restored
 * with the best weights) but no optimizer, penalty or clipping touches them. */
static void test_buffers(void) {
    sn_model *m = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec("input 3\ndense 4 l2=1\nbatchnorm\ndense 2\nloss mse\n"
                             "[train]\noptimizer adam lr=0.1 weight_decay=0.1\n",
                             "b", 1, &m, &err) == SN_OK);
    if (!m) return;
    CHECK(m->nparams == 8);
    CHECK(m->params[4]->buffer && m->params[5]->buffer && !m->params[2]->buffer);
    sn_optimizer *o = NULL;
    CHECK(sn_optimizer_new(m, &m->cfg, &o, &err) == SN_OK);
    if (o) {
        CHECK(sn_optimizer_num_state(o) == 2 * 6);
        char name[64];
        sn_optimizer_state(o, 5, name, sizeof name);
        CHECK(strcmp(name, "state.2.exp_avg_sq") == 0); /* batch norm's weight */
        CHECK(sn_optimizer_state(o, 12, name, sizeof name) == NULL);
        for (int i = 0; i < m->nparams; i++)
            for (size_t j = 0; j < m->params[i]->grad.size; j++) m->params[i]->grad.data[j] = 9;
        float rm = m->params[4]->value.data[0], rv = m->params[5]->value.data[0];
        sn_model_regularize(m);
        sn_clip_grad_value(m, 1.0f);
        sn_clip_grad_norm(m, 1.0f);
        CHECK(m->params[4]->grad.data[0] == 9 && m->params[5]->grad.data[0] == 9);
        sn_optimizer_step(o);
        CHECK(m->params[4]->value.data[0] == rm && m->params[5]->value.data[0] == rv);
        CHECK(m->params[2]->value.data[0] != 1.0f); /* γ is trained */
        sn_optimizer_free(o);
    }
    sn_model_free(m);
}

/* The 1/t decay and the LR setter: lr_t = lr / (1 + decay·t). */
static void test_decay_and_lr(void) {
    sn_model *m = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec("input 2\ndense 1\nloss mse\n[train]\noptimizer rmsprop lr=0.5 "
                             "decay=0.25\n",
                             "d", 1, &m, &err) == SN_OK);
    if (!m) return;
    sn_optimizer *o = NULL;
    CHECK(sn_optimizer_new(m, &m->cfg, &o, &err) == SN_OK);
    if (o) {
        CHECK_NEAR(sn_optimizer_lr(o), 0.5, 1e-7);
        sn_optimizer_step(o);
        sn_optimizer_step(o);
        CHECK_NEAR(sn_optimizer_lr(o), 0.5 / 1.5, 1e-7);
        sn_optimizer_set_lr(o, 0.3f);
        CHECK_NEAR(sn_optimizer_lr(o), 0.3 / 1.5, 1e-7);
        sn_optimizer_set_steps(o, 4);
        CHECK_NEAR(sn_optimizer_lr(o), 0.3 / 2.0, 1e-7);
        sn_optimizer_free(o);
    }
    /* PyTorch's per-optimizer defaults when the spec gives none. */
    const struct {
        const char *line;
        float lr, eps, wd;
    } defaults[] = {{"optimizer adam", 1e-3f, 1e-8f, 0},
                    {"optimizer adamw", 1e-3f, 1e-8f, 1e-2f},
                    {"optimizer adagrad", 1e-2f, 1e-10f, 0},
                    {"optimizer rmsprop", 1e-2f, 1e-8f, 0},
                    {"lr 0.5\noptimizer adamw weight_decay=0", 0.5f, 1e-8f, 0}};
    for (int i = 0; i < 5; i++) {
        char spec[256];
        sn_model *d = NULL;
        snprintf(spec, sizeof spec, "input 2\ndense 1\nloss mse\n[train]\n%s\n", defaults[i].line);
        CHECK(sn_model_from_spec(spec, "d", 1, &d, &err) == SN_OK);
        if (!d) continue;
        CHECK(d->cfg.lr == defaults[i].lr && d->cfg.eps == defaults[i].eps &&
              d->cfg.weight_decay == defaults[i].wd);
        sn_model_free(d);
    }
    /* Bad configurations from C are refused. */
    sn_train_config c = m->cfg;
    snprintf(c.optimizer, sizeof c.optimizer, "lion");
    CHECK(sn_optimizer_new(m, &c, &o, &err) == SN_ERR_ARG && o == NULL);
    CHECK(strstr(err.msg, "unknown optimizer 'lion'") != NULL);
    c = m->cfg;
    snprintf(c.optimizer, sizeof c.optimizer, "sgd");
    c.nesterov = 1;
    c.momentum = 0;
    CHECK(sn_optimizer_new(m, &c, &o, &err) == SN_ERR_ARG);
    sn_model_free(m);
}

/* Values where the subnormal path matters: normal ones, subnormals (the
 * smallest included), tiny normals, zeros of both signs, mixed in every
 * 16-value block or alone in one. */
static float odd_value(unsigned *r, size_t i, int dense) {
    *r = *r * 1664525u + 1013904223u;
    float u = (float)(*r >> 8) / 16777216.0f - 0.5f; /* [-0.5, 0.5) */
    int kind = (int)((*r >> 4) % (dense ? 5 : 40));
    if (i >= 512 && i < 528) kind = 0; /* a block of normal values only */
    switch (kind) {
    case 1:
        return u * 1e-39f; /* subnormal */
    case 2:
        return u < 0 ? -1e-45f : 1e-45f; /* the smallest subnormal */
    case 3:
        return u * 1e-25f; /* tiny, normal */
    case 4:
        return u < 0 ? -0.0f : 0.0f;
    case 5:
        return u * 1e-19f; /* squares to a subnormal */
    default:
        return u * 1e-2f;
    }
}

static int same_bits(const float *a, const float *b, size_t n) {
    return memcmp(a, b, n * sizeof(float)) == 0;
}

/* sn_sgd_update against its float formula written one operation a
 * statement (no contraction), over several steps, bit for bit, with and
 * without Nesterov, weight decay and dampening; n = 1000 leaves a tail after
 * the 16-value blocks. */
static void test_subnormal_bits(void) {
    enum { N = 1000 };
    static float w[N], g[N], v[N], rw[N], rv[N];
    for (int dense = 0; dense < 2; dense++) {
        for (int variant = 0; variant < 3; variant++) {
            sn_train_config c;
            memset(&c, 0, sizeof c);
            c.momentum = 0.9f;
            c.nesterov = variant == 1;
            c.weight_decay = variant == 2 ? 1e-3f : 0.0f;
            c.dampening = variant == 2 ? 0.25f : 0.0f;
            unsigned r = 12345u + (unsigned)variant;
            for (size_t i = 0; i < N; i++) {
                w[i] = odd_value(&r, i, dense);
                v[i] = odd_value(&r, i, dense);
            }
            memcpy(rw, w, sizeof w), memcpy(rv, v, sizeof v);
            for (long t = 1; t <= 3; t++) {
                for (size_t i = 0; i < N; i++) g[i] = odd_value(&r, i, dense);
                const float lr = 0.05f, mu = c.momentum, damp = 1.0f - c.dampening;
                sn_sgd_update(&c, lr, t, w, g, v, N);
                for (size_t i = 0; i < N; i++) {
                    float p = c.weight_decay * rw[i];
                    float gi = g[i] + p;
                    float a = mu * rv[i];
                    float b = damp * gi;
                    rv[i] = a + b;
                    float mv = mu * rv[i];
                    float d = c.nesterov ? gi + mv : rv[i];
                    float u = lr * d;
                    rw[i] -= u;
                }
            }
            CHECK(same_bits(w, rw, N) && same_bits(v, rv, N));
        }
    }
}

/* sn_adam_update and sn_adamw_update against their float formula written one
 * operation a statement, over several steps, bit for bit: with and without
 * weight decay, at a normal and at a tiny learning rate; the moments start
 * from odd values (the second one made nonnegative, as it always is). */
static void test_adam_subnormal_bits(void) {
    enum { N = 1000 };
    static float w[N], g[N], m[N], v[N], rw[N], rm[N], rv[N];
    for (int dense = 0; dense < 2; dense++) {
        for (int variant = 0; variant < 4; variant++) {
            sn_train_config c;
            memset(&c, 0, sizeof c);
            c.beta1 = 0.9f, c.beta2 = 0.999f, c.eps = 1e-8f;
            c.weight_decay = variant & 1 ? 1e-2f : 0.0f;
            int adamw = variant >= 2;
            unsigned r = 777u + (unsigned)variant;
            for (size_t i = 0; i < N; i++) {
                w[i] = odd_value(&r, i, dense);
                m[i] = odd_value(&r, i, dense);
                v[i] = fabsf(odd_value(&r, i, dense));
            }
            memcpy(rw, w, sizeof w), memcpy(rm, m, sizeof m), memcpy(rv, v, sizeof v);
            for (long t = 1; t <= 4; t++) {
                for (size_t i = 0; i < N; i++) g[i] = odd_value(&r, i, dense);
                const float lr = t == 3 ? 1e-30f : 1e-3f;
                if (adamw)
                    sn_adamw_update(&c, lr, t, w, g, m, v, N);
                else
                    sn_adam_update(&c, lr, t, w, g, m, v, N);
                const float b1 = c.beta1, b2 = c.beta2, c1 = 1.0f - b1, c2 = 1.0f - b2;
                const float bc1 = 1.0f - (float)pow(b1, (double)t);
                const float inv = 1.0f / sqrtf(1.0f - (float)pow(b2, (double)t));
                const float step = lr / bc1, wd = adamw ? 0.0f : c.weight_decay;
                const float keep = 1.0f - lr * c.weight_decay;
                for (size_t i = 0; i < N; i++) {
                    if (adamw && c.weight_decay != 0.0f) rw[i] *= keep;
                    float p = wd * rw[i];
                    float gi = g[i] + p;
                    float a = b1 * rm[i];
                    float b = c1 * gi;
                    rm[i] = a + b;
                    float e = b2 * rv[i];
                    float f = c2 * gi;
                    float h = f * gi;
                    rv[i] = e + h;
                    float sq = sqrtf(rv[i]);
                    float q = sq * inv;
                    float den = q + c.eps;
                    float num = step * rm[i];
                    float u = num / den;
                    rw[i] -= u;
                }
            }
            CHECK(same_bits(w, rw, N) && same_bits(m, rm, N) && same_bits(v, rv, N));
        }
    }
}

/* sn_sub_tiny3, the test that sends a block of SGD's momentum loop down
 * the double path, flags exactly the lanes where one of its three vectors
 * has a nonzero |x| below 2^-64: against the three separate tests, on the
 * values of odd_value and on 2^-64 itself, its neighbours, NaN and inf. */
static void test_tiny3(void) {
#if defined(SN_SUB_AVX512)
    const float edge[] = {0x1p-64f,
                          nextafterf(0x1p-64f, 0.0f),
                          nextafterf(0x1p-64f, 1.0f),
                          -0x1p-64f,
                          NAN,
                          INFINITY,
                          -0.0f,
                          1e-45f};
    unsigned r = 11;
    int same = 1, flagged = 0;
    for (int t = 0; t < 4000; t++) {
        float x[3][16];
        for (int k = 0; k < 3; k++)
            for (int l = 0; l < 16; l++) {
                x[k][l] = t % 3 == 0 ? odd_value(&r, (size_t)l, 0) : 0.01f * (float)(l + k + 1);
                if (t % 7 == 0 && (l + k) % 5 == 0)
                    x[k][l] = edge[(t / 7 + l) % (sizeof edge / sizeof edge[0])];
            }
        if (t % 3 == 1) x[t % 2 ? 2 : 1][t % 16] = -3e-30f; /* one tiny lane */
        __m512 a = _mm512_loadu_ps(x[0]), b = _mm512_loadu_ps(x[1]), c = _mm512_loadu_ps(x[2]);
        __mmask16 want = sn_sub_tiny(a) | sn_sub_tiny(b) | sn_sub_tiny(c);
        __mmask16 got = sn_sub_tiny3(a, b, c);
        same &= got == want;
        flagged += want != 0;
    }
    CHECK(same);
    CHECK(flagged > 1000); /* the cases do exercise the flagged lanes */
#endif
}

int main(void) {
    test_tiny3();
    test_subnormal_bits();
    test_adam_subnormal_bits();
    test_fixture_cases();
    test_clip();
    test_penalties();
    test_buffers();
    test_decay_and_lr();
    return check_report();
}
