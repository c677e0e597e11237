/* Activation kernels (src/kernels/act.c) and the activation layer
 * (src/layers/activation.c), checked against independent double-precision
 * references written from the defining formulas with libm, against literal
 * mathematical constants, and against central finite differences. */
#include "check.h"
#include "kernels/act.h"
#include "layers/layer.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

sn_status sn_activation_create(sn_layer_args *a, sn_layer **out, sn_error *err);

#define NKINDS 7
static const char *kind_names[NKINDS] = {"sigmoid", "tanh", "relu",     "leaky_relu",
                                         "silu",    "gelu", "gelu_tanh"};
static const double ALPHA = 0.01;
static const double C_TANH = 0.7978845608028654;   /* √(2/π) */
static const double SQRT_2PI = 2.5066282746310002; /* √(2π) */

/* ---- references in double -------------------------------------------------- */

/* The GELUs are written in forms without the cancellation of 1 + erf(x/√2)
 * and 1 + tanh v for negative x, which would spoil the references' relative
 * accuracy in the tails even in double:
 *   1 + erf(x/√2) = erfc(-x/√2),   1 + tanh v = 2 / (1 + e^(-2v)) */

static double ref_sigmoid(double x) {
    return 1.0 / (1.0 + exp(-x));
}

static double ref_f(sn_act k, double x) {
    switch (k) {
    case SN_ACT_SIGMOID:
        return ref_sigmoid(x);
    case SN_ACT_TANH:
        return tanh(x);
    case SN_ACT_RELU:
        return x > 0 ? x : 0.0;
    case SN_ACT_LEAKY_RELU:
        return x > 0 ? x : ALPHA * x;
    case SN_ACT_SILU:
        return x * ref_sigmoid(x);
    case SN_ACT_GELU:
        return 0.5 * x * erfc(-x / sqrt(2.0));
    case SN_ACT_GELU_TANH:
        return x / (1.0 + exp(-2.0 * C_TANH * (x + 0.044715 * x * x * x)));
    }
    return NAN;
}

/* The derivative, differentiated by hand from the definitions above. */
static double ref_df(sn_act k, double x) {
    double s = ref_sigmoid(x), t;
    switch (k) {
    case SN_ACT_SIGMOID:
        return s * (1.0 - s);
    case SN_ACT_TANH:
        t = tanh(x);
        return 1.0 - t * t;
    case SN_ACT_RELU:
        return x > 0 ? 1.0 : 0.0;
    case SN_ACT_LEAKY_RELU:
        return x > 0 ? 1.0 : ALPHA;
    case SN_ACT_SILU:
        return s + x * s * (1.0 - s);
    case SN_ACT_GELU:
        return 0.5 * (1.0 + erf(x / sqrt(2.0))) + x * exp(-0.5 * x * x) / SQRT_2PI;
    case SN_ACT_GELU_TANH:
        t = tanh(C_TANH * (x + 0.044715 * x * x * x));
        return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * C_TANH * (1.0 + 3 * 0.044715 * x * x);
    }
    return NAN;
}

static float f1(sn_act k, float x) {
    float y;
    sn_act_forward(k, (float)ALPHA, &x, &y, 1);
    return y;
}

/* ---- forward ------------------------------------------------------------------ */

static void test_literals(void) {
    CHECK(f1(SN_ACT_SIGMOID, 0.0f) == 0.5f);
    CHECK_NEAR(f1(SN_ACT_SIGMOID, 1.0f), 0.7310585786300049, 2e-7);
    CHECK_NEAR(f1(SN_ACT_TANH, 1.0f), 0.7615941559557649, 2e-7);
    CHECK_NEAR(f1(SN_ACT_GELU, 1.0f), 0.8413447460685429, 2e-7);
    CHECK_NEAR(f1(SN_ACT_GELU_TANH, 1.0f), 0.8411919906082768, 2e-7);
    CHECK_NEAR(f1(SN_ACT_SILU, 1.0f), 0.7310585786300049, 2e-7);
    CHECK(f1(SN_ACT_TANH, 0.0f) == 0.0f);
    CHECK(f1(SN_ACT_GELU, 0.0f) == 0.0f);
    CHECK(f1(SN_ACT_RELU, -2.0f) == 0.0f && f1(SN_ACT_RELU, 2.5f) == 2.5f);
    CHECK(f1(SN_ACT_LEAKY_RELU, -2.0f) == -0.02f && f1(SN_ACT_LEAKY_RELU, 3.0f) == 3.0f);
    /* saturation */
    CHECK(f1(SN_ACT_SIGMOID, 100.0f) == 1.0f);
    CHECK(f1(SN_ACT_SIGMOID, -100.0f) >= 0.0f && f1(SN_ACT_SIGMOID, -100.0f) < 1e-37f);
    CHECK(f1(SN_ACT_TANH, 30.0f) == 1.0f && f1(SN_ACT_TANH, -30.0f) == -1.0f);
    CHECK(f1(SN_ACT_GELU, 30.0f) == 30.0f && f1(SN_ACT_GELU, -30.0f) == 0.0f);
}

/* Over a dense grid: the error scaled by max(1, |ref|) must be a few float
 * ulps; and where the reference is not tiny (the tails of sigmoid, silu,
 * gelu), the relative error too. In the GELU tails e^(-x²/2) (or e^(-2v)) is
 * taken of an argument rounded to float, whose absolute error ~ x² · 6e-8
 * becomes the relative error of the result: the bound grows with x². */
static void test_forward_grid(void) {
    for (int k = 0; k < NKINDS; k++) {
        double worst = 0, worst_rel = 0, worst_rel_ratio = 0;
        for (int i = -4000; i <= 4000; i++) {
            float x = (float)i / 200.0f; /* [-20, 20] */
            double ref = ref_f((sn_act)k, x), got = f1((sn_act)k, x);
            double err = fabs(got - ref) / (fabs(ref) > 1 ? fabs(ref) : 1);
            if (err > worst) worst = err;
            if (fabs(ref) < 1e-30) continue;
            double rel = fabs(got - ref) / fabs(ref), bound = 1e-6 + 1.5e-7 * x * x;
            if (rel > worst_rel) worst_rel = rel;
            if (rel / bound > worst_rel_ratio) worst_rel_ratio = rel / bound;
        }
        printf("%-10s forward: max scaled error %.2e, max relative error %.2e\n", kind_names[k],
               worst, worst_rel);
        CHECK(worst < 3e-7);
        CHECK(worst_rel_ratio < 1.0);
    }
}

/* Large and extreme inputs: finite outputs and gradients, NaN propagates. */
static void test_extremes(void) {
    const float xs[] = {-FLT_MAX, -1e30f, -1e20f, -1e4f, -88.0f, -87.5f, -30.0f,
                        30.0f,    87.5f,  88.0f,  1e4f,  1e20f,  1e30f,  FLT_MAX};
    int n = (int)(sizeof xs / sizeof xs[0]);
    for (int k = 0; k < NKINDS; k++) {
        float y[16], dy[16], dx[16];
        for (int i = 0; i < n; i++) dy[i] = 1.0f;
        sn_act_forward((sn_act)k, (float)ALPHA, xs, y, (size_t)n);
        sn_act_backward((sn_act)k, (float)ALPHA, xs, y, dy, dx, (size_t)n);
        int finite = 1;
        for (int i = 0; i < n; i++) finite &= isfinite(y[i]) && isfinite(dx[i]);
        if (!finite) printf("%s: non-finite output for an extreme input\n", kind_names[k]);
        CHECK(finite);
        /* ±30: values and derivatives match the references */
        for (int i = 0; i < n; i++) {
            if (fabsf(xs[i]) != 30.0f) continue;
            CHECK_NEAR(y[i], ref_f((sn_act)k, xs[i]), 1e-6);
            CHECK_NEAR(dx[i], ref_df((sn_act)k, xs[i]), 1e-6);
        }
        float nan = NAN, ynan, dxnan, one = 1.0f;
        sn_act_forward((sn_act)k, (float)ALPHA, &nan, &ynan, 1);
        CHECK(isnan(ynan));
        if (k != SN_ACT_RELU && k != SN_ACT_LEAKY_RELU) {
            sn_act_backward((sn_act)k, (float)ALPHA, &nan, &ynan, &one, &dxnan, 1);
            CHECK(isnan(dxnan));
        }
    }
}

/* ---- backward ----------------------------------------------------------------- */

static void test_backward(void) {
    const double grid[] = {-30,  -20,  -10,   -6,    -4.5, -3,   -2.2, -1.5, -1,
                           -0.7, -0.3, -0.05, -1e-3, 1e-3, 0.05, 0.3,  0.7,  1,
                           1.5,  2.2,  3,     4.5,   6,    10,   20,   30};
    int n = (int)(sizeof grid / sizeof grid[0]);
    float x[32], y[32], dy[32], dx[32];
    for (int i = 0; i < n; i++) {
        x[i] = (float)grid[i];
        dy[i] = 0.5f + 0.25f * (float)sin(i); /* an arbitrary upstream gradient */
    }
    for (int k = 0; k < NKINDS; k++) {
        sn_act_forward((sn_act)k, (float)ALPHA, x, y, (size_t)n);
        sn_act_backward((sn_act)k, (float)ALPHA, x, y, dy, dx, (size_t)n);
        double worst_fd = 0, worst_an = 0;
        for (int i = 0; i < n; i++) {
            double xi = x[i], h = 1e-5 * (fabs(xi) > 1 ? fabs(xi) : 1);
            double fd = (ref_f((sn_act)k, xi + h) - ref_f((sn_act)k, xi - h)) / (2 * h);
            double an = ref_df((sn_act)k, xi);
            double efd = fabs(dx[i] - dy[i] * fd), ean = fabs(dx[i] - dy[i] * an);
            if (efd > worst_fd) worst_fd = efd;
            if (ean > worst_an) worst_an = ean;
            CHECK(isfinite(dx[i]));
        }
        printf("%-10s backward: max error vs finite differences %.2e, vs formula %.2e\n",
               kind_names[k], worst_fd, worst_an);
        CHECK(worst_fd < 4e-7);
        CHECK(worst_an < 4e-7);
    }
    /* the kink conventions of PyTorch: ReLU'(0) = 0, leaky ReLU'(0) = α */
    float zero = 0.0f, one = 1.0f, g;
    sn_act_backward(SN_ACT_RELU, 0.0f, &zero, NULL, &one, &g, 1);
    CHECK(g == 0.0f);
    sn_act_backward(SN_ACT_LEAKY_RELU, 0.2f, &zero, NULL, &one, &g, 1);
    CHECK(g == 0.2f);
}

/* Arrays spanning several thread blocks give the same values as one-at-a-time
 * calls, and the kernels work in place. */
static void test_large_and_in_place(void) {
    size_t n = 100003;
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y), *dx = malloc(n * sizeof *dx);
    float *z = malloc(n * sizeof *z);
    for (int k = 0; k < NKINDS; k++) {
        for (size_t i = 0; i < n; i++) x[i] = (float)((double)i / n * 24.0 - 12.0);
        sn_act_forward((sn_act)k, 0.1f, x, y, n);
        sn_act_backward((sn_act)k, 0.1f, x, y, x, dx, n); /* dy = x */
        int same = 1;
        for (size_t i = 0; i < n; i += 997) {
            float yi, dxi;
            sn_act_forward((sn_act)k, 0.1f, &x[i], &yi, 1);
            sn_act_backward((sn_act)k, 0.1f, &x[i], &yi, &x[i], &dxi, 1);
            same &= yi == y[i] && dxi == dx[i];
        }
        CHECK(same);
        memcpy(z, x, n * sizeof *z);
        sn_act_forward((sn_act)k, 0.1f, z, z, n); /* in place */
        CHECK(memcmp(z, y, n * sizeof *z) == 0);
        memcpy(z, x, n * sizeof *z);
        sn_act_backward((sn_act)k, 0.1f, x, y, z, z, n); /* dx == dy */
        CHECK(memcmp(z, dx, n * sizeof *z) == 0);
    }
    free(x), free(y), free(dx), free(z);
}

/* ---- softmax ------------------------------------------------------------------ */

static void ref_softmax(const double *x, double *y, int n) {
    double m = x[0], s = 0;
    for (int i = 1; i < n; i++) m = x[i] > m ? x[i] : m;
    for (int i = 0; i < n; i++) s += y[i] = exp(x[i] - m);
    for (int i = 0; i < n; i++) y[i] /= s;
}

static void test_softmax(void) {
    enum { R = 3, C = 5 };
    float x[R * C] = {1, 2, 3, 4, 5, -1.5f, 0.25f, 0, 2, -3, 1000, 1001, 1002, 999, 998};
    float y[R * C], y2[R * C], x2[R * C];
    sn_softmax_rows(x, y, R, C);
    for (int r = 0; r < R; r++) {
        double s = 0, xd[C], yd[C];
        for (int j = 0; j < C; j++) s += y[r * C + j], xd[j] = x[r * C + j];
        CHECK_NEAR(s, 1.0, 1e-6);
        ref_softmax(xd, yd, C);
        for (int j = 0; j < C; j++) CHECK_NEAR(y[r * C + j], yd[j], 2e-7);
    }
    /* [1000, ..., 998] is [2, 3, 4, 1, 0] shifted: same softmax */
    const int same[C] = {2, 3, 4, 1, 0};
    for (int j = 0; j < C; j++) CHECK_NEAR(y[2 * C + j], y[same[j]], 1e-7);
    /* invariant to adding a constant (64: the sums are exact in float) */
    for (int i = 0; i < R * C; i++) x2[i] = x[i] + 64.0f;
    sn_softmax_rows(x2, y2, R, C);
    for (int i = 0; i < R * C; i++) CHECK_NEAR(y2[i], y[i], 2e-7);
    /* huge and masked inputs */
    float big[4] = {3e38f, -3e38f, -INFINITY, 3e38f}, yb[4];
    sn_softmax_rows(big, yb, 1, 4);
    CHECK(yb[0] == 0.5f && yb[1] == 0.0f && yb[2] == 0.0f && yb[3] == 0.5f);
    /* in place */
    memcpy(x2, x, sizeof x);
    sn_softmax_rows(x2, x2, R, C);
    CHECK(memcmp(x2, y, sizeof y) == 0);
}

/* L = Σ w ⊙ softmax(x): dL/dx by the kernel (dy = w) against central
 * differences of the double reference. */
static void test_softmax_backward(void) {
    enum { R = 2, C = 6 };
    float x[R * C], w[R * C], y[R * C], dx[R * C];
    for (int i = 0; i < R * C; i++) {
        x[i] = (float)(1.7 * sin(1.3 * i + 0.4));
        w[i] = (float)(0.9 * cos(0.7 * i) + 0.2);
    }
    sn_softmax_rows(x, y, R, C);
    sn_softmax_backward_rows(y, w, dx, R, C);
    for (int r = 0; r < R; r++) {
        for (int j = 0; j < C; j++) {
            double xp[C], xm[C], yp[C], ym[C], h = 1e-5, lp = 0, lm = 0;
            for (int i = 0; i < C; i++) xp[i] = xm[i] = x[r * C + i];
            xp[j] += h, xm[j] -= h;
            ref_softmax(xp, yp, C), ref_softmax(xm, ym, C);
            for (int i = 0; i < C; i++) lp += w[r * C + i] * yp[i], lm += w[r * C + i] * ym[i];
            CHECK_NEAR(dx[r * C + j], (lp - lm) / (2 * h), 1e-6);
        }
    }
    /* in place: dx == dy */
    float d2[R * C];
    memcpy(d2, w, sizeof w);
    sn_softmax_backward_rows(y, d2, d2, R, C);
    CHECK(memcmp(d2, dx, sizeof dx) == 0);
}

/* ---- the layer ---------------------------------------------------------------- */

static sn_layer_args make_args(const char *kind, const char *pos, const char *key, const char *val,
                               int K) {
    sn_layer_args a;
    memset(&a, 0, sizeof a);
    a.kind = kind;
    if (pos) a.pos[a.npos++] = pos;
    if (key) a.keys[a.nopt] = key, a.vals[a.nopt++] = val;
    a.in_ndim = 1;
    a.in_shape[0] = K;
    return a;
}

static void test_layer(void) {
    sn_error err;
    sn_layer *l = NULL;
    enum { N = 2, K = 4 };
    float xv[N * K] = {-2, -0.5f, 0.5f, 2, 3, -1, 0, 1}, yv[N * K], dyv[N * K], dxv[N * K];
    int shape[2] = {N, K};
    sn_tensor x = sn_tensor_view(xv, 2, shape), y = sn_tensor_view(yv, 2, shape);
    sn_tensor dy = sn_tensor_view(dyv, 2, shape), dx = sn_tensor_view(dxv, 2, shape);
    for (int i = 0; i < N * K; i++) dyv[i] = 0.1f * (float)(i + 1);

    /* every elementwise kind, built by name */
    for (int k = 0; k < NKINDS; k++) {
        sn_layer_args a = make_args(kind_names[k], NULL, NULL, NULL, K);
        CHECK(sn_activation_create(&a, &l, &err) == SN_OK);
        if (!l) continue;
        CHECK(strcmp(l->ops->kind, kind_names[k]) == 0);
        CHECK(l->nparams == 0 && l->out_ndim == 1 && l->out_shape[0] == K);
        l->ops->forward(l, &x, &y, 1);
        l->ops->backward(l, &x, &y, &dy, &dx);
        for (int i = 0; i < N * K; i++) {
            CHECK_NEAR(yv[i], ref_f((sn_act)k, xv[i]), 1e-6);
            CHECK_NEAR(dxv[i], dyv[i] * ref_df((sn_act)k, xv[i]), 1e-6);
        }
        l->ops->backward(l, &x, &y, &dy, NULL); /* no dx wanted: nothing to do */
        sn_layer_free(l);
        l = NULL;
    }

    /* leaky_relu with a positional slope, and with alpha= */
    sn_layer_args a = make_args("leaky_relu", "0.2", NULL, NULL, K);
    CHECK(sn_activation_create(&a, &l, &err) == SN_OK);
    CHECK(strcmp(l->desc, "leaky_relu alpha=0.2") == 0);
    l->ops->forward(l, &x, &y, 1);
    CHECK(yv[0] == -0.4f && yv[3] == 2.0f);
    l->ops->backward(l, &x, &y, &dy, &dx);
    CHECK(dxv[0] == 0.2f * dyv[0] && dxv[6] == 0.2f * dyv[6] && dxv[7] == dyv[7]); /* x = 0: α */
    sn_layer_free(l);
    a = make_args("leaky_relu", NULL, "alpha", "0.3", K);
    CHECK(sn_activation_create(&a, &l, &err) == SN_OK);
    CHECK(strcmp(l->desc, "leaky_relu alpha=0.3") == 0);
    sn_layer_free(l);
    a = make_args("leaky_relu", NULL, NULL, NULL, K);
    CHECK(sn_activation_create(&a, &l, &err) == SN_OK);
    CHECK(strcmp(l->desc, "leaky_relu alpha=0.01") == 0);
    sn_layer_free(l);

    /* gelu approx=tanh is gelu_tanh */
    a = make_args("gelu", NULL, "approx", "tanh", K);
    CHECK(sn_activation_create(&a, &l, &err) == SN_OK);
    CHECK(strcmp(l->desc, "gelu approx=tanh") == 0);
    l->ops->forward(l, &x, &y, 1);
    for (int i = 0; i < N * K; i++) CHECK_NEAR(yv[i], ref_f(SN_ACT_GELU_TANH, xv[i]), 1e-6);
    sn_layer_free(l);
    a = make_args("gelu", NULL, "approx", "none", K);
    CHECK(sn_activation_create(&a, &l, &err) == SN_OK);
    CHECK(strcmp(l->desc, "gelu") == 0);
    sn_layer_free(l);

    /* softmax over each sample's K values */
    a = make_args("softmax", NULL, NULL, NULL, K);
    CHECK(sn_activation_create(&a, &l, &err) == SN_OK);
    l->ops->forward(l, &x, &y, 1);
    float yk[N * K], dxk[N * K];
    sn_softmax_rows(xv, yk, N, K);
    CHECK(memcmp(yv, yk, sizeof yk) == 0);
    l->ops->backward(l, &x, &y, &dy, &dx);
    sn_softmax_backward_rows(yk, dyv, dxk, N, K);
    CHECK(memcmp(dxv, dxk, sizeof dxk) == 0);
    sn_layer_free(l);

    /* errors */
    struct {
        const char *kind, *pos, *key, *val;
        sn_status want;
    } bad[] = {
        {"relu", "3", NULL, NULL, SN_ERR_FORMAT},
        {"sigmoid", NULL, "alpha", "0.1", SN_ERR_FORMAT},
        {"leaky_relu", "abc", NULL, NULL, SN_ERR_FORMAT},
        {"leaky_relu", "0.2", "alpha", "0.3", SN_ERR_FORMAT},
        {"leaky_relu", NULL, "alpha", "x", SN_ERR_FORMAT},
        {"gelu", NULL, "approx", "erf", SN_ERR_FORMAT},
        {"softmax", "1", NULL, NULL, SN_ERR_FORMAT},
        {"swish", NULL, NULL, NULL, SN_ERR_ARG},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        a = make_args(bad[i].kind, bad[i].pos, bad[i].key, bad[i].val, K);
        l = NULL;
        memset(&err, 0, sizeof err);
        sn_status s = sn_activation_create(&a, &l, &err);
        CHECK(s == bad[i].want && l == NULL && err.msg[0] != 0);
        printf("expected error: %s\n", err.msg);
    }
}

/* a and b hold the same bits, but that any NaN matches any NaN (the sign and
 * payload of a NaN made from two NaNs depend on which operand the compiler
 * put first). */
static int same_values(const float *a, const float *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!(isnan(a[i]) && isnan(b[i])) && memcmp(&a[i], &b[i], sizeof(float)) != 0) return 0;
    return 1;
}

/* A dense layer's band (sn_act_bias_forward, sn_act_backward_sum): bit for
 * bit the row-by-row bias, sn_act_forward, sn_act_backward and sums it
 * stands for, for every kind, band widths around the 16-value vectors, and
 * NaN, infinities, signed zeros and subnormals among the values; the values
 * between the band's rows (ld > cols) are left as they were. */
static void test_band(void) {
    static const float special[] = {NAN,    INFINITY, -INFINITY, 0.0f,  -0.0f,
                                    1e-40f, -1e-40f,  -1.5f,     2.25f, -3e38f};
    const int widths[] = {1, 7, 15, 16, 17, 31, 32, 33, 48, 64, 70};
    const int rows = 9, ld = 80;
    size_t n = (size_t)rows * ld;
    float *y0 = malloc(n * sizeof(float)), *y1 = malloc(n * sizeof(float));
    float *r0 = malloc(n * sizeof(float)), *r1 = malloc(n * sizeof(float));
    float *g = malloc(n * sizeof(float)), *d0 = malloc(n * sizeof(float));
    float *d1 = malloc(n * sizeof(float)), b[80], db0[80], db1[80];
    unsigned s = 12345;
    for (int k = 0; k < NKINDS; k++)
        for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
            int cols = widths[w];
            for (size_t i = 0; i < n; i++) {
                s = s * 1103515245u + 12345u;
                float v = ((float)(s >> 8) / 16777216.0f - 0.5f) * 8.0f;
                y0[i] = s % 11 == 0 ? special[(s >> 4) % 10] : v;
                g[i] = s % 13 == 0 ? special[(s >> 5) % 10] : 0.5f * v + 0.25f;
                r0[i] = r1[i] = d0[i] = d1[i] = -7.0f;        /* outside the band: must stay */
                if (i % ld == 1) y0[i] = 10.0f, g[i] = -0.0f; /* db = +0 + -0 + ... = +0 */
            }
            memcpy(y1, y0, n * sizeof(float));
            for (int j = 0; j < 80; j++) {
                b[j] = j % 9 == 4 ? special[j % 10] : 0.1f * (float)(j - 40);
                db0[j] = db1[j] = -7.0f;
            }
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < cols; j++) y0[(size_t)i * ld + j] += b[j];
                sn_act_forward((sn_act)k, (float)ALPHA, y0 + (size_t)i * ld, r0 + (size_t)i * ld,
                               (size_t)cols);
            }
            sn_act_bias_forward((sn_act)k, (float)ALPHA, y1, b, r1, rows, cols, (size_t)ld);
            CHECK(same_values(y0, y1, n));
            CHECK(same_values(r0, r1, n));
            for (int j = 0; j < cols; j++) db0[j] = 0.0f;
            for (int i = 0; i < rows; i++) {
                size_t o = (size_t)i * ld;
                sn_act_backward((sn_act)k, (float)ALPHA, y0 + o, r0 + o, g + o, d0 + o,
                                (size_t)cols);
                for (int j = 0; j < cols; j++) db0[j] += d0[o + j];
            }
            sn_act_backward_sum((sn_act)k, (float)ALPHA, y1, r1, g, d1, db1, rows, cols,
                                (size_t)ld);
            CHECK(same_values(d0, d1, n));
            CHECK(same_values(db0, db1, 80));
        }
    free(y0), free(y1), free(r0), free(r1), free(g), free(d0), free(d1);
}

int main(void) {
    test_literals();
    test_forward_grid();
    test_extremes();
    test_backward();
    test_large_and_in_place();
    test_softmax();
    test_softmax_backward();
    test_layer();
    test_band();
    return check_report();
}
