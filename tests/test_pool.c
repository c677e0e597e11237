/* maxpool, avgpool and global_avgpool: PyTorch fixtures (including equal
 * maxima, where the gradient goes to the first, as PyTorch), definitions
 * computed here in double precision on random geometries, finite-difference
 * gradient checks, spec errors. */
#include "cnn_cases.h"
#include "kernels/pool.h"

static int rnd(sn_rng *r, int lo, int hi) {
    return lo + (int)sn_rng_below(r, (uint32_t)(hi - lo + 1));
}

/* Random geometries against the definitions: max / mean over the window
 * (padding: skipped / counted as zero), gradients routed back. */
static void test_random_geometries(void) {
    sn_rng r;
    sn_rng_seed(&r, 7, 7);
    for (int trial = 0; trial < 80; trial++) {
        sn_conv_geom g;
        g.C = rnd(&r, 1, 4), g.H = rnd(&r, 1, 12), g.W = rnd(&r, 1, 12);
        g.kh = rnd(&r, 1, 4), g.kw = rnd(&r, 1, 4);
        g.sh = rnd(&r, 1, 4), g.sw = rnd(&r, 1, 4);
        g.ph = rnd(&r, 0, g.kh / 2), g.pw = rnd(&r, 0, g.kw / 2);
        if (trial >= 60) { /* the 2x2, stride 2 fast path, rows of up to 35 outputs */
            g.H = rnd(&r, 2, 9), g.W = rnd(&r, 2, 71);
            g.kh = g.kw = g.sh = g.sw = 2, g.ph = g.pw = 0;
        }
        int sh = g.H + 2 * g.ph - g.kh, sw = g.W + 2 * g.pw - g.kw;
        if (sh < 0 || sw < 0) {
            trial--;
            continue;
        }
        g.OH = sh / g.sh + 1, g.OW = sw / g.sw + 1;
        int N = rnd(&r, 1, 4), max = trial % 2 == 0;
        size_t nx = (size_t)N * g.C * g.H * g.W, ny = (size_t)N * g.C * g.OH * g.OW;
        float *x = malloc(nx * 4), *y = malloc(ny * 4), *dy = malloc(ny * 4), *dx = malloc(nx * 4);
        double *dxr = calloc(nx, 8);
        /* Distinct values, so that the max of every window is unique. */
        for (size_t i = 0; i < nx; i++) x[i] = (float)i * 0.01f;
        for (size_t i = nx; i > 1; i--) {
            size_t j = sn_rng_below(&r, (uint32_t)i);
            float t = x[i - 1];
            x[i - 1] = x[j], x[j] = t;
        }
        for (size_t i = 0; i < ny; i++) dy[i] = sn_rng_normal(&r);
        sn_set_threads(1 + trial % 3 / 2);
        if (max) {
            sn_maxpool_forward(&g, N, x, y);
            sn_maxpool_backward(&g, N, x, y, dy, dx);
        } else {
            sn_avgpool_forward(&g, N, x, y);
            sn_avgpool_backward(&g, N, dy, dx);
        }
        double e = 0;
        for (int p = 0; p < N * g.C; p++)
            for (int i = 0; i < g.OH; i++)
                for (int j = 0; j < g.OW; j++) {
                    double s = 0, m = -INFINITY;
                    long arg = -1;
                    for (int a = 0; a < g.kh; a++)
                        for (int b = 0; b < g.kw; b++) {
                            int yy = i * g.sh - g.ph + a, xx = j * g.sw - g.pw + b;
                            if (yy < 0 || yy >= g.H || xx < 0 || xx >= g.W) continue;
                            long k = ((long)p * g.H + yy) * g.W + xx;
                            s += x[k];
                            if (x[k] > m) m = x[k], arg = k;
                        }
                    size_t o = ((size_t)p * g.OH + i) * g.OW + j;
                    double ref = max ? m : s / (g.kh * g.kw);
                    e = fmax(e, fabs(y[o] - ref) / (1 + fabs(ref)));
                    if (max) {
                        dxr[arg] += dy[o];
                    } else {
                        for (int a = 0; a < g.kh; a++)
                            for (int b = 0; b < g.kw; b++) {
                                int yy = i * g.sh - g.ph + a, xx = j * g.sw - g.pw + b;
                                if (yy < 0 || yy >= g.H || xx < 0 || xx >= g.W) continue;
                                dxr[((size_t)p * g.H + yy) * g.W + xx] += dy[o] / (g.kh * g.kw);
                            }
                    }
                }
        for (size_t i = 0; i < nx; i++) e = fmax(e, fabs(dx[i] - dxr[i]) / (1 + fabs(dxr[i])));
        if (!(e < 1e-5))
            fprintf(stderr, "trial %d (%s): C%d H%d W%d k%dx%d s%dx%d p%dx%d: error %g\n", trial,
                    max ? "max" : "avg", g.C, g.H, g.W, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, e);
        CHECK(e < 1e-5);
        free(x), free(y), free(dy), free(dx), free(dxr);
    }
    sn_set_threads(0);
}

/* Equal maxima and NaN: the first maximum in row-major window order is
 * chosen and gets the whole gradient; a NaN wins the window (as PyTorch). */
static void test_ties_and_nan(void) {
    sn_conv_geom g = {.C = 1, .H = 2, .W = 4, .kh = 2, .kw = 2, .sh = 2, .sw = 2, .OH = 1, .OW = 2};
    float x[8] = {1, 3, 5, 5, 3, 3, 5, NAN}, y[2], dy[2] = {10, 20}, dx[8];
    sn_maxpool_forward(&g, 1, x, y);
    CHECK(y[0] == 3 && isnan(y[1]));
    sn_maxpool_backward(&g, 1, x, y, dy, dx);
    float want[8] = {0, 10, 0, 0, 0, 0, 0, 20};
    CHECK(memcmp(dx, want, sizeof dx) == 0);
}

static void test_gradchecks(void) {
    /* Inputs are random normals: a maximum within the step h = 1e-2 of the
     * runner-up would break the finite difference; these seeds have none. */
    cnn_gradcheck("input 2x6x6\nmaxpool 2\nflatten\ndense 3\nloss softmax_xent\n", 2, 1);
    cnn_gradcheck("input 2x7x9\nmaxpool 3 stride=2 pad=1\nflatten\ndense 3\nloss softmax_xent\n", 2,
                  2);
    cnn_gradcheck("input 2x7x8\navgpool 3 stride=2 pad=1\nflatten\ndense 3\nloss softmax_xent\n", 2,
                  3);
    cnn_gradcheck("input 3x5x7\navgpool 2x3 stride=1\nflatten\ndense 3\nloss softmax_xent\n", 2, 4);
    cnn_gradcheck("input 3x5x4\nglobal_avgpool\nflatten\ndense 3\nloss softmax_xent\n", 3, 5);
    cnn_gradcheck("input 2x8x8\nconv2d 3 3 pad=1\ntanh\nmaxpool 2\nconv2d 4 3\ntanh\n"
                  "global_avgpool\nflatten\ndense 3\nloss softmax_xent\n",
                  2, 6);
}

static void expect_error(const char *spec, const char *needle) {
    sn_model *m = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec(spec, "p.net", 1, &m, &err) != SN_OK && m == NULL);
    if (!strstr(err.msg, needle)) fprintf(stderr, "'%s' lacks '%s'\n", err.msg, needle);
    CHECK(strstr(err.msg, needle) != NULL);
}

static void test_spec_errors(void) {
    expect_error("input 10\nmaxpool 2\ndense 2\nloss mse\n",
                 "p.net:2: maxpool needs a CxHxW input (e.g. 'input 1x28x28'), got 10");
    expect_error("input 1x4x4\nmaxpool\nflatten\nloss mse\n", "p.net:2: maxpool: missing window");
    expect_error("input 1x4x4\navgpool 2 pad=2\nflatten\nloss mse\n",
                 "avgpool: pad 2x2 is more than half the 2x2 window");
    expect_error("input 1x4x4\nmaxpool 2 pad=same\nflatten\nloss mse\n",
                 "maxpool: pad=same is not available");
    expect_error("input 1x4x4\nmaxpool 5\nflatten\nloss mse\n",
                 "maxpool: the 5x5 window does not fit the 1x4x4 input");
    expect_error("input 1x4x4\nglobal_avgpool 2\nflatten\nloss mse\n",
                 "global_avgpool: unexpected argument '2'");
    expect_error("input 8\nglobal_avgpool\nloss mse\n", "global_avgpool needs a CxHxW input");
    expect_error("input 1x4x4\nmaxpool 2\nloss mse\n", "the last layer's output has 3 dimensions");
}

static void test_shapes(void) {
    sn_model *m = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec("input 3x7x9\nmaxpool 2\navgpool 2x3 stride=1\nglobal_avgpool\n"
                             "flatten\nloss mse\n",
                             "s", 1, &m, &err) == SN_OK);
    if (!m) return;
    CHECK(m->layers[0]->out_shape[1] == 3 && m->layers[0]->out_shape[2] == 4);
    CHECK(m->layers[1]->out_shape[1] == 2 && m->layers[1]->out_shape[2] == 2);
    CHECK(m->layers[2]->out_ndim == 3 && m->layers[2]->out_shape[0] == 3 &&
          m->layers[2]->out_shape[1] == 1 && m->layers[2]->out_shape[2] == 1);
    sn_model_free(m);
}

/* 2x2 max pooling that keeps its window positions: the same output as
 * sn_maxpool_forward, and from the positions alone the same dx as
 * sn_maxpool_backward and the gradient through a ReLU before the pooling
 * (dx where x > 0), on inputs full of ties, signed zeros and NaN. */
static void test_kept_positions(void) {
    static const float vals[] = {-1.0f, -0.0f, 0.0f, 1.0f, 2.0f, 1.0f, -2.0f, NAN};
    sn_rng r;
    sn_rng_seed(&r, 17, 1);
    for (int trial = 0; trial < 60; trial++) {
        sn_conv_geom g = {.C = rnd(&r, 1, 3), .H = rnd(&r, 2, 37), .W = rnd(&r, 2, 37)};
        g.kh = g.kw = g.sh = g.sw = 2;
        g.OH = g.H / 2;
        g.OW = g.W / 2;
        CHECK(sn_maxpool_keeps_arg(&g));
        int N = rnd(&r, 1, 3);
        size_t in = (size_t)N * g.C * g.H * g.W, out = (size_t)N * g.C * g.OH * g.OW;
        float *x = malloc(sizeof(float) * in), *y = malloc(sizeof(float) * out);
        float *y2 = malloc(sizeof(float) * out), *dy = malloc(sizeof(float) * out);
        float *dx = malloc(sizeof(float) * in), *dx2 = malloc(sizeof(float) * in);
        float *dxr = malloc(sizeof(float) * in), *dxr2 = malloc(sizeof(float) * in);
        unsigned char *arg = malloc(out);
        int nan = trial % 3 == 0; /* NaN in a third of the trials */
        for (size_t i = 0; i < in; i++) x[i] = vals[sn_rng_below(&r, nan ? 8 : 7)];
        for (size_t i = 0; i < out; i++) dy[i] = (float)sn_rng_below(&r, 100) - 50.0f;
        sn_maxpool_forward(&g, N, x, y);
        sn_maxpool_forward_arg(&g, N, x, y2, arg);
        CHECK(memcmp(y, y2, sizeof(float) * out) == 0);
        sn_maxpool_backward(&g, N, x, y, dy, dx);
        for (size_t i = 0; i < in; i++) dxr[i] = x[i] > 0 ? dx[i] : 0.0f;
        memset(dx2, 0xff, sizeof(float) * in); /* NaN: every value must be written */
        memset(dxr2, 0xff, sizeof(float) * in);
        sn_maxpool_relu_backward(&g, N, arg, dy, dx2, dxr2);
        CHECK(memcmp(dx, dx2, sizeof(float) * in) == 0);
        CHECK(memcmp(dxr, dxr2, sizeof(float) * in) == 0);
        free(x), free(y), free(y2), free(dy), free(dx), free(dx2), free(dxr), free(dxr2), free(arg);
    }
}

int main(void) {
    CHECK(cnn_run_fixture("cnn_pool.safetensors") == 12);
    test_kept_positions();
    test_random_geometries();
    test_ties_and_nan();
    test_gradchecks();
    test_spec_errors();
    test_shapes();
    return check_report();
}
