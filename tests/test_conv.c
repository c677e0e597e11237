/* conv2d: PyTorch fixtures (tests/parity/gen_cnn.py), a direct convolution
 * computed here in double precision on random geometries, the adjoint
 * identity of im2col / col2im, finite-difference gradient checks, spec
 * errors, and a save / load round trip. */
#include "cnn_cases.h"
#include "kernels/conv.h"
#include "kernels/kernels.h"

#include <unistd.h>

/* y[n,f,i,j] = b[f] + Σ W[f,c,a,b'] x[n, c, i·sh - ph + a, j·sw - pw + b'] in double. */
static void conv_direct(const sn_conv_geom *g, int N, int F, const float *x, const float *w,
                        const float *b, double *y) {
    for (int n = 0; n < N; n++)
        for (int f = 0; f < F; f++)
            for (int i = 0; i < g->OH; i++)
                for (int j = 0; j < g->OW; j++) {
                    double s = b[f];
                    for (int c = 0; c < g->C; c++)
                        for (int a = 0; a < g->kh; a++)
                            for (int bb = 0; bb < g->kw; bb++) {
                                int yy = i * g->sh - g->ph + a, xx = j * g->sw - g->pw + bb;
                                if (yy < 0 || yy >= g->H || xx < 0 || xx >= g->W) continue;
                                s += (double)w[((f * g->C + c) * g->kh + a) * g->kw + bb] *
                                     x[((size_t)(n * g->C + c) * g->H + yy) * g->W + xx];
                            }
                    y[((size_t)(n * F + f) * g->OH + i) * g->OW + j] = s;
                }
}

static int rnd(sn_rng *r, int lo, int hi) {
    return lo + (int)sn_rng_below(r, (uint32_t)(hi - lo + 1));
}

/* Random geometries: the kernels against the direct sums, and the gradients
 * against their definitions (dW = Σ dy·x over the same index map, dx the
 * transposed map), all in double. */
static void test_random_geometries(void) {
    sn_rng r;
    sn_rng_seed(&r, 99, 1);
    for (int trial = 0; trial < 40; trial++) {
        sn_conv_geom g;
        g.C = rnd(&r, 1, 5), g.H = rnd(&r, 1, 13), g.W = rnd(&r, 1, 13);
        g.kh = rnd(&r, 1, 5), g.kw = rnd(&r, 1, 5);
        g.sh = rnd(&r, 1, 3), g.sw = rnd(&r, 1, 3);
        g.ph = rnd(&r, 0, g.kh - 1), g.pw = rnd(&r, 0, g.kw - 1);
        int sh = g.H + 2 * g.ph - g.kh, sw = g.W + 2 * g.pw - g.kw;
        if (sh < 0 || sw < 0) {
            trial--;
            continue;
        }
        g.OH = sh / g.sh + 1, g.OW = sw / g.sw + 1;
        int N = rnd(&r, 1, 6), F = rnd(&r, 1, 7), K = g.C * g.kh * g.kw, P = g.OH * g.OW;
        size_t nx = (size_t)N * g.C * g.H * g.W, ny = (size_t)N * F * P;
        float *x = malloc(nx * 4), *w = malloc((size_t)F * K * 4), *b = malloc((size_t)F * 4);
        float *y = malloc(ny * 4), *dy = malloc(ny * 4), *dx = malloc(nx * 4);
        float *dw = malloc((size_t)F * K * 4), *db = malloc((size_t)F * 4);
        double *yr = malloc(ny * 8), *dxr = calloc(nx, 8), *dwr = calloc((size_t)F * K, 8);
        for (size_t i = 0; i < nx; i++) x[i] = sn_rng_normal(&r);
        for (int i = 0; i < F * K; i++) w[i] = sn_rng_normal(&r);
        for (int i = 0; i < F; i++) b[i] = sn_rng_normal(&r);
        for (size_t i = 0; i < ny; i++) dy[i] = sn_rng_normal(&r);
        int threads = 1 + trial % 2;
        sn_set_threads(threads);
        float *scratch = sn_alloc(sn_conv_scratch_size(&g, F, threads), sizeof(float));
        sn_conv2d_forward(&g, N, F, x, w, b, y, scratch, threads);
        sn_conv2d_backward(&g, N, F, x, w, dy, dw, db, dx, scratch, threads);
        conv_direct(&g, N, F, x, w, b, yr);
        double dbr[8] = {0};
        for (int n = 0; n < N; n++)
            for (int f = 0; f < F; f++)
                for (int i = 0; i < g.OH; i++)
                    for (int j = 0; j < g.OW; j++) {
                        double d = dy[((size_t)(n * F + f) * g.OH + i) * g.OW + j];
                        dbr[f] += d;
                        for (int c = 0; c < g.C; c++)
                            for (int a = 0; a < g.kh; a++)
                                for (int bb = 0; bb < g.kw; bb++) {
                                    int yy = i * g.sh - g.ph + a, xx = j * g.sw - g.pw + bb;
                                    if (yy < 0 || yy >= g.H || xx < 0 || xx >= g.W) continue;
                                    size_t xi = ((size_t)(n * g.C + c) * g.H + yy) * g.W + xx;
                                    int wi = ((f * g.C + c) * g.kh + a) * g.kw + bb;
                                    dwr[wi] += d * x[xi];
                                    dxr[xi] += d * w[wi];
                                }
                    }
        double e = 0;
        for (size_t i = 0; i < ny; i++) e = fmax(e, fabs(y[i] - yr[i]) / (1 + fabs(yr[i])));
        for (size_t i = 0; i < nx; i++) e = fmax(e, fabs(dx[i] - dxr[i]) / (1 + fabs(dxr[i])));
        for (int i = 0; i < F * K; i++) e = fmax(e, fabs(dw[i] - dwr[i]) / (1 + fabs(dwr[i])));
        for (int i = 0; i < F; i++) e = fmax(e, fabs(db[i] - dbr[i]) / (1 + fabs(dbr[i])));
        if (!(e < 1e-5))
            fprintf(stderr,
                    "trial %d: C%d H%d W%d k%dx%d s%dx%d p%dx%d N%d F%d threads %d: error %g\n",
                    trial, g.C, g.H, g.W, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, N, F, threads, e);
        CHECK(e < 1e-5);
        if (threads == 1) { /* db in the documented order, bit for bit */
            float dbs[8] = {0};
            for (int n = 0; n < N; n++)
                for (int f = 0; f < F; f++) {
                    const float *row = dy + (size_t)(n * F + f) * P;
                    float acc[16] = {0}, sum = 0.0f;
                    for (int p = 0; p < P; p++) acc[p % 16] += row[p];
                    for (int k = 0; k < 16; k++) sum += acc[k];
                    dbs[f] += sum;
                }
            CHECK(memcmp(db, dbs, sizeof(float) * F) == 0);
        }
        sn_free(scratch);
        free(x), free(w), free(b), free(y), free(dy), free(dx), free(dw), free(db);
        free(yr), free(dxr), free(dwr);
    }
    sn_set_threads(0);
}

/* <im2col(x), c> = <x, col2im(c)>: col2im is the adjoint of im2col. */
static void test_adjoint(void) {
    sn_conv_geom g = {.C = 3, .H = 7, .W = 6, .kh = 3, .kw = 2, .sh = 2, .sw = 1, .ph = 1, .pw = 1};
    g.OH = (g.H + 2 * g.ph - g.kh) / g.sh + 1;
    g.OW = (g.W + 2 * g.pw - g.kw) / g.sw + 1;
    size_t nx = (size_t)g.C * g.H * g.W, nc = (size_t)g.C * g.kh * g.kw * g.OH * g.OW;
    float *x = malloc(nx * 4), *c = malloc(nc * 4), *col = malloc(nc * 4), *back = malloc(nx * 4);
    sn_rng r;
    sn_rng_seed(&r, 5, 5);
    for (size_t i = 0; i < nx; i++) x[i] = sn_rng_normal(&r);
    for (size_t i = 0; i < nc; i++) c[i] = sn_rng_normal(&r);
    sn_im2col(&g, x, col);
    sn_col2im(&g, c, back);
    double lhs = 0, rhs = 0;
    for (size_t i = 0; i < nc; i++) lhs += (double)col[i] * c[i];
    for (size_t i = 0; i < nx; i++) rhs += (double)x[i] * back[i];
    CHECK_NEAR(lhs, rhs, 1e-5 * (fabs(lhs) + 1));
    /* The first column of a padded window: row (c=0, a=0, b=0) reads pixel
     * (-1, -1), which is padding. */
    CHECK(col[0] == 0.0f);
    free(x), free(c), free(col), free(back);
}

/* The worked example of docs/conv.md, number for number. */
static void test_by_hand(void) {
    sn_model *m = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec("input 1x3x3\nconv2d 1 2\nflatten\nloss mse\n", "doc", 1, &m, &err) ==
          SN_OK);
    if (!m) return;
    sn_layer *l = m->layers[0];
    const float x[9] = {1, 2, 0, 0, 1, 3, 2, 1, 1}, w[4] = {1, -1, 2, 0};
    float dy[4] = {1, 0, -1, 2}, y[4], dx[9];
    memcpy(l->params[0].value.data, w, sizeof w);
    l->params[1].value.data[0] = 0.5f;
    CHECK(sn_model_reserve(m, 1, &err) == SN_OK);
    int xs[4] = {1, 1, 3, 3}, ys[4] = {1, 1, 2, 2};
    sn_tensor tx = sn_tensor_view((float *)x, 4, xs), ty = sn_tensor_view(y, 4, ys);
    sn_tensor tdy = sn_tensor_view(dy, 4, ys), tdx = sn_tensor_view(dx, 4, xs);
    l->ops->forward(l, &tx, &ty, 1);
    l->ops->backward(l, &tx, &ty, &tdy, &tdx);
    const float y_doc[4] = {-0.5f, 4.5f, 3.5f, 0.5f}, dw_doc[4] = {3, 7, 0, 2};
    const float dx_doc[9] = {1, -1, 0, 1, 3, -2, -2, 4, 0};
    CHECK(memcmp(y, y_doc, sizeof y) == 0);
    CHECK(memcmp(l->params[0].grad.data, dw_doc, sizeof dw_doc) == 0);
    CHECK(l->params[1].grad.data[0] == 2.0f);
    CHECK(memcmp(dx, dx_doc, sizeof dx) == 0);
    sn_model_free(m);
}

static void test_gradchecks(void) {
    cnn_gradcheck("input 1x5x5\nconv2d 2 3\nflatten\ndense 3\nloss softmax_xent\n", 2, 1);
    cnn_gradcheck("input 3x7x6\nconv2d 4 3 stride=2 pad=1\ntanh\nflatten\ndense 4\n"
                  "loss softmax_xent\n",
                  3, 2);
    cnn_gradcheck("input 2x6x7\nconv2d 3 3x5 pad=same\nsigmoid\nflatten\ndense 3\n"
                  "loss softmax_xent\n",
                  2, 3);
    cnn_gradcheck("input 2x9x8\nconv2d 3 2x4 stride=2x3 pad=same\ntanh\nflatten\ndense 3\n"
                  "loss softmax_xent\n",
                  2, 4);
    cnn_gradcheck("input 3x5x5\nconv2d 2 1\ntanh\nconv2d 3 3 stride=2 init=xavier\nflatten\n"
                  "dense 2\nloss softmax_xent\n",
                  3, 5);
    cnn_gradcheck("input 2x11x9\nconv2d 3 4x3 stride=3x2 pad=2x1\ntanh\nflatten\ndense 3\n"
                  "loss softmax_xent\n",
                  2, 6);
}

/* One training step through the model (sn_model_forward / backward, where a
 * convolution or a batch norm runs the ReLU and max pooling after it in its
 * own pass), and
 * the same step layer by layer on a twin model: every activation, every
 * gradient and every parameter gradient must be bitwise equal; with keep_all
 * 0 the activations and gradients inside a fused pass are left out of the
 * comparison (they need not be written), and must be set by
 * sn_model_replay. The inputs are coarsely quantized so that pooling windows
 * hold ties and ReLU meets exact zeros. */
static void fused_case(const char *spec, int n, int threads, int input_grad, int keep) {
    sn_model *a = NULL, *b = NULL;
    sn_error err = {0};
    sn_set_threads(threads);
    CHECK(sn_model_from_spec(spec, "fused", 7, &a, &err) == SN_OK);
    CHECK(sn_model_from_spec(spec, "fused", 7, &b, &err) == SN_OK);
    if (!a || !b) {
        fprintf(stderr, "%s\n", err.msg);
        sn_model_free(a);
        sn_model_free(b);
        return;
    }
    a->input_grad = b->input_grad = input_grad;
    a->keep_all = keep;
    int inner[SN_MAX_LAYERS + 1] = {0}; /* act[i] lies inside a fused pass */
    for (int l = 0; l < a->nlayers; l++) {
        const sn_layer *ly = a->layers[l];
        int k = ly->ops->fuse ? ly->ops->fuse(ly, a->layers + l + 1, a->nlayers - l - 1) : 0;
        for (int u = 1; u <= k; u++) inner[l + u] = 1;
        l += k;
    }
    CHECK(sn_model_reserve(a, n, &err) == SN_OK);
    CHECK(sn_model_reserve(b, n, &err) == SN_OK);
    size_t in = sn_model_input_size(a) * (size_t)n;
    float *x = malloc(sizeof(float) * in);
    int *labels = malloc(sizeof(int) * (size_t)n);
    sn_rng r;
    sn_rng_seed(&r, 5, 1);
    for (size_t i = 0; i < in; i++) x[i] = (float)((int)sn_rng_below(&r, 9) - 4) * 0.25f;
    for (int i = 0; i < n; i++) labels[i] = (int)sn_rng_below(&r, 3);
    /* conv biases away from 0, so that outputs are both signs */
    for (int l = 0; l < a->nlayers; l++)
        if (strcmp(a->layers[l]->ops->kind, "conv2d") == 0)
            for (size_t f = 0; f < a->layers[l]->params[1].value.size; f++)
                a->layers[l]->params[1].value.data[f] = b->layers[l]->params[1].value.data[f] =
                    (float)(f % 3 - 1) * 0.125f;
    CHECK(sn_model_forward(a, x, n, 1, &err) == SN_OK);
    CHECK(sn_model_backward(a, labels, NULL, NULL, &err) == SN_OK);

    int L = b->nlayers;
    memcpy(b->act[0].data, x, sizeof(float) * in);
    for (int i = 0; i < L; i++) {
        sn_tensor u = cnn_batch_view(&b->act[i], n), y = cnn_batch_view(&b->act[i + 1], n);
        b->layers[i]->ops->forward(b->layers[i], &u, &y, 1);
    }
    sn_tensor out = cnn_batch_view(&b->act[L], n), dout = cnn_batch_view(&b->grad[L], n);
    sn_loss(b->loss, &out, labels, NULL, &dout);
    for (int i = L - 1; i >= 0; i--) {
        sn_tensor u = cnn_batch_view(&b->act[i], n), y = cnn_batch_view(&b->act[i + 1], n);
        sn_tensor dy = cnn_batch_view(&b->grad[i + 1], n), dx = cnn_batch_view(&b->grad[i], n);
        b->layers[i]->ops->backward(b->layers[i], &u, &y, &dy, i > 0 || input_grad ? &dx : NULL);
    }
    for (int i = input_grad ? 0 : 1; i <= L; i++) {
        size_t len = cnn_batch_view(&a->act[i], n).size * sizeof(float);
        if (!keep && inner[i]) continue;
        if (memcmp(a->act[i].data, b->act[i].data, len) != 0 ||
            memcmp(a->grad[i].data, b->grad[i].data, len) != 0) {
            fprintf(stderr, "fused pass: '%s' threads %d keep %d: act or grad %d differs\n", spec,
                    threads, keep, i);
            CHECK(0);
        }
    }
    for (int l = 0; l < L; l++)
        for (int p = 0; p < a->layers[l]->nparams; p++) {
            const sn_tensor *ga = &a->layers[l]->params[p].grad,
                            *gb = &b->layers[l]->params[p].grad;
            CHECK(memcmp(ga->data, gb->data, ga->size * sizeof(float)) == 0);
        }
    if (!keep) {
        /* the replay fills the inner activations (poisoned first) with
         * the values of the pass before; in training mode batch norm
         * normalizes with the batch's own statistics, so the running ones
         * the replay updates once more do not enter */
        for (int i = 1; i < L; i++)
            if (inner[i]) memset(a->act[i].data, 0xff, a->act[i].size * sizeof(float));
        sn_model_replay(a, 1);
        for (int i = 1; i <= L; i++) {
            size_t len = cnn_batch_view(&a->act[i], n).size * sizeof(float);
            if (memcmp(a->act[i].data, b->act[i].data, len) != 0) {
                fprintf(stderr, "replay: '%s' threads %d: act %d differs\n", spec, threads, i);
                CHECK(0);
            }
        }
    }
    free(x);
    free(labels);
    sn_model_free(a);
    sn_model_free(b);
}

static void test_fused_passes(void) {
    static const char *const specs[] = {
        "input 1x12x11\nconv2d 4 3\nrelu\nmaxpool 2\nconv2d 5 3 pad=same\nrelu\nmaxpool 2\n"
        "flatten\ndense 3\nloss softmax_xent\n",
        "input 2x9x10\nconv2d 3 3 pad=1\nrelu\nmaxpool 3 stride=2 pad=1\nflatten\ndense 3\n"
        "loss softmax_xent\n",
        "input 3x8x7\nconv2d 4 2 stride=2\nrelu\nflatten\ndense 3\nloss softmax_xent\n",
        "input 1x7x7\nconv2d 3 3\nrelu\navgpool 2\nconv2d 2 1\nrelu\nmaxpool 2\nflatten\n"
        "dense 3\nloss softmax_xent\n",
        "input 2x6x6\nconv2d 3 3 pad=same\nleaky_relu\nmaxpool 2\nflatten\ndense 3\n"
        "loss softmax_xent\n",
        "input 1x30x30\nconv2d 6 3\nrelu\nmaxpool 2\nconv2d 8 3\nrelu\nmaxpool 2\nflatten\n"
        "dense 3\nloss softmax_xent\n",
        "input 1x14x13\nconv2d 4 3 pad=same\nbatchnorm\nrelu\nmaxpool 2\nconv2d 5 3\n"
        "batchnorm\nrelu\nmaxpool 2\nflatten\ndense 6\nbatchnorm\nrelu\ndense 3\n"
        "loss softmax_xent\n",
        "input 2x9x9\nconv2d 3 3\nbatchnorm\nrelu\nmaxpool 3 stride=2\nflatten\ndense 3\n"
        "loss softmax_xent\n",
        /* a first layer pooled in registers: a 2x3 kernel with padding, an
         * odd number of output rows and columns, filters not a multiple of 4 */
        "input 1x10x21\nconv2d 5 2x3 pad=1\nrelu\nmaxpool 2\nflatten\ndense 3\n"
        "loss softmax_xent\n",
        /* a first 3x3 layer of whole vectors of filters, whose backward pass
         * routes dy in registers: more pixels than one k block of the
         * product (28x28), two vectors and one (48 filters), padding, odd
         * output sizes and a row stride */
        "input 1x28x28\nconv2d 32 3\nrelu\nmaxpool 2\nflatten\ndense 3\nloss softmax_xent\n",
        "input 1x19x23\nconv2d 48 3 pad=same\nrelu\nmaxpool 2\nflatten\ndense 3\n"
        "loss softmax_xent\n",
        "input 1x21x12\nconv2d 16 3 stride=2x1 pad=1\nrelu\nmaxpool 2\nflatten\ndense 3\n"
        "loss softmax_xent\n",
    };
    for (size_t s = 0; s < sizeof specs / sizeof *specs; s++)
        for (int t = 1; t <= 2; t++) {
            for (int keep = 0; keep <= 1; keep++) {
                fused_case(specs[s], 5, t, 0, keep);
                fused_case(specs[s], 3, t, 1, keep);
            }
        }
    sn_set_threads(1);
}

/* A single input channel takes a path without im2col: its output must be
 * bitwise the product im2col · W plus the bias (and the ReLU after it, with
 * y kept or not), on geometries with padding, row strides, rows wider than
 * one vector, and an infinite weight whose product with a padding zero is
 * NaN in the product too. */
static void test_single_channel(void) {
    sn_rng r;
    sn_rng_seed(&r, 41, 2);
    for (int trial = 0; trial < 30; trial++) {
        sn_conv_geom g = {.C = 1, .sw = 1};
        g.H = rnd(&r, 1, 40), g.W = rnd(&r, 1, 40);
        g.kh = rnd(&r, 1, 4), g.kw = rnd(&r, 1, 4);
        g.sh = rnd(&r, 1, 2);
        g.ph = rnd(&r, 0, g.kh - 1), g.pw = rnd(&r, 0, g.kw - 1);
        int sh = g.H + 2 * g.ph - g.kh, sw = g.W + 2 * g.pw - g.kw;
        if (sh < 0 || sw < 0) {
            trial--;
            continue;
        }
        g.OH = sh / g.sh + 1, g.OW = sw + 1;
        int N = rnd(&r, 1, 4), F = rnd(&r, 1, 11), K = g.kh * g.kw, P = g.OH * g.OW;
        size_t nx = (size_t)N * g.H * g.W, ny = (size_t)N * F * P;
        float *x = malloc(nx * 4), *w = malloc((size_t)F * K * 4), *b = malloc((size_t)F * 4);
        float *y = malloc(ny * 4), *ref = malloc(ny * 4), *col = malloc((size_t)K * P * 4);
        float *yk = malloc(ny * 4), *rk = malloc(ny * 4), *rn = malloc(ny * 4);
        for (size_t i = 0; i < nx; i++) x[i] = sn_rng_normal(&r);
        for (int i = 0; i < F * K; i++) w[i] = sn_rng_normal(&r);
        for (int i = 0; i < F; i++) b[i] = sn_rng_normal(&r);
        if (trial % 5 == 4) w[0] = INFINITY;
        for (int n = 0; n < N; n++) {
            sn_im2col(&g, x + (size_t)n * g.H * g.W, col);
            float *yn = ref + (size_t)n * F * P;
            sn_sgemm(0, 0, F, P, K, 1.0f, w, K, col, P, 0.0f, yn, P);
            for (int f = 0; f < F; f++)
                for (int p = 0; p < P; p++) yn[(size_t)f * P + p] += b[f];
        }
        int threads = 1 + trial % 2;
        sn_set_threads(threads);
        float *scratch = sn_alloc(sn_conv_scratch_size(&g, F, threads), sizeof(float));
        sn_conv2d_forward(&g, N, F, x, w, b, y, scratch, threads);
        CHECK(memcmp(y, ref, ny * 4) == 0);
        sn_conv_fused kept = {.y = yk, .r = rk}, bare = {.r = rn};
        sn_conv2d_relu_forward(&g, N, F, x, w, b, &kept, scratch, threads);
        sn_conv2d_relu_forward(&g, N, F, x, w, b, &bare, scratch, threads);
        for (size_t i = 0; i < ny; i++) ref[i] = ref[i] < 0 ? 0.0f : ref[i];
        CHECK(memcmp(yk, y, ny * 4) == 0);
        CHECK(memcmp(rk, ref, ny * 4) == 0);
        CHECK(memcmp(rn, ref, ny * 4) == 0);
        sn_free(scratch);
        free(x), free(w), free(b), free(y), free(ref), free(col), free(yk), free(rk), free(rn);
    }
    sn_set_threads(1);
}

/* The batched passes form each sample's column matrix in their own scratch
 * by several paths (whole vectors across output rows when there is no
 * padding, one vector per output row when rows are narrow, plain loops
 * otherwise): the output and the filter gradient must be bitwise the
 * products with sn_im2col's matrix, on geometries that take each path
 * (images up to 40 wide, strides up to 3, several channels, padding on
 * all sides or only below and right as pad=same makes it). */
static void test_column_paths(void) {
    sn_rng r;
    sn_rng_seed(&r, 43, 3);
    for (int trial = 0; trial < 60; trial++) {
        sn_conv_geom g;
        g.C = rnd(&r, 1, 6), g.H = rnd(&r, 1, 40), g.W = rnd(&r, 1, 40);
        g.kh = rnd(&r, 1, 5), g.kw = rnd(&r, 1, 5);
        g.sh = rnd(&r, 1, 3), g.sw = rnd(&r, 1, 3);
        g.ph = trial % 3 ? 0 : rnd(&r, 0, g.kh - 1);
        g.pw = trial % 3 ? 0 : rnd(&r, 0, g.kw - 1);
        int sh = g.H + 2 * g.ph - g.kh, sw = g.W + 2 * g.pw - g.kw;
        if (sh < 0 || sw < 0) {
            trial--;
            continue;
        }
        g.OH = sh / g.sh + 1, g.OW = sw / g.sw + 1;
        if (trial % 3 == 1) { /* pad=same: zeros below and right only */
            g.OH = (g.H + g.sh - 1) / g.sh, g.OW = (g.W + g.sw - 1) / g.sw;
        }
        int N = rnd(&r, 1, 4), F = rnd(&r, 1, 9), K = g.C * g.kh * g.kw, P = g.OH * g.OW;
        size_t in = (size_t)g.C * g.H * g.W, nx = in * N, ny = (size_t)N * F * P;
        float *x = malloc(nx * 4), *w = malloc((size_t)F * K * 4), *b = malloc((size_t)F * 4);
        float *y = malloc(ny * 4), *ref = malloc(ny * 4), *col = malloc((size_t)K * P * 4);
        float *dy = malloc(ny * 4), *dw = malloc((size_t)F * K * 4), *db = malloc((size_t)F * 4);
        float *dwt = calloc((size_t)F * K, 4), *dx = malloc(nx * 4);
        for (size_t i = 0; i < nx; i++) x[i] = sn_rng_normal(&r);
        for (int i = 0; i < F * K; i++) w[i] = sn_rng_normal(&r);
        for (int i = 0; i < F; i++) b[i] = sn_rng_normal(&r);
        for (size_t i = 0; i < ny; i++) dy[i] = sn_rng_normal(&r);
        for (int n = 0; n < N; n++) {
            sn_im2col(&g, x + in * n, col);
            float *yn = ref + (size_t)n * F * P;
            sn_sgemm(0, 0, F, P, K, 1.0f, w, K, col, P, 0.0f, yn, P);
            for (int f = 0; f < F; f++)
                for (int p = 0; p < P; p++) yn[(size_t)f * P + p] += b[f];
            /* dwᵀ accumulated sample by sample, as one thread does */
            sn_sgemm(0, 1, K, F, P, 1.0f, col, P, dy + (size_t)n * F * P, P, 1.0f, dwt, F);
        }
        sn_set_threads(1);
        float *scratch = sn_alloc(sn_conv_scratch_size(&g, F, 1), sizeof(float));
        sn_conv2d_forward(&g, N, F, x, w, b, y, scratch, 1);
        CHECK(memcmp(y, ref, ny * 4) == 0);
        sn_conv2d_backward(&g, N, F, x, w, dy, dw, db, dx, scratch, 1);
        int same_dw = 1;
        for (int f = 0; f < F; f++)
            for (int k = 0; k < K; k++)
                same_dw &= memcmp(&dw[(size_t)f * K + k], &dwt[(size_t)k * F + f], 4) == 0;
        CHECK(same_dw);
        sn_free(scratch);
        free(x), free(w), free(b), free(y), free(ref), free(col), free(dy), free(dw), free(db);
        free(dwt), free(dx);
    }
}

static void expect_error(const char *spec, const char *needle) {
    sn_model *m = NULL;
    sn_error err = {0};
    sn_status s = sn_model_from_spec(spec, "bad.net", 1, &m, &err);
    CHECK(s != SN_OK && m == NULL);
    if (!strstr(err.msg, needle)) fprintf(stderr, "'%s' lacks '%s'\n", err.msg, needle);
    CHECK(strstr(err.msg, needle) != NULL);
    sn_model_free(m);
}

static void test_spec_errors(void) {
    const char *tail = "flatten\ndense 2\nloss softmax_xent\n";
    char spec[512];
#define BAD(layers, needle)                                                                        \
    do {                                                                                           \
        snprintf(spec, sizeof spec, "%s%s", layers, tail);                                         \
        expect_error(spec, needle);                                                                \
    } while (0)
    BAD("input 784\nconv2d 8 3\n", "bad.net:2: conv2d needs a CxHxW input (e.g. 'input 1x28x28'), "
                                   "got 784");
    BAD("input 1x28x28\nflatten\nconv2d 8 3\n", "bad.net:3: conv2d needs a CxHxW input");
    BAD("input 1x8x8\nconv2d 8\n", "bad.net:2: conv2d: missing kernel size");
    BAD("input 1x8x8\nconv2d\n", "conv2d: missing number of filters");
    BAD("input 1x8x8\nconv2d 8 3x\n", "conv2d: kernel size must be N or HxW");
    BAD("input 1x8x8\nconv2d 8 0\n", "conv2d: kernel size must be N or HxW with integers >= 1");
    BAD("input 1x8x8\nconv2d 8 3 stride=0\n", "conv2d: stride must be");
    BAD("input 1x8x8\nconv2d 8 3 pad=x\n", "conv2d: pad (N, HxW or same) must be");
    BAD("input 1x8x8\nconv2d 8 3 pad=-1\n", "conv2d: pad (N, HxW or same) must be");
    BAD("input 1x3x3\nconv2d 8 5\n", "conv2d: the 5x5 window does not fit the 1x3x3 input");
    BAD("input 1x8x8\nconv2d 8 3 3\n", "conv2d: unexpected argument '3'");
    BAD("input 1x8x8\nconv2d 8 3 dilation=2\n", "conv2d: unknown option 'dilation'");
    BAD("input 1x8x8\nconv2d 8 3 init=magic\n", "unknown init 'magic'");
#undef BAD
}

/* The parameters are named and shaped like a PyTorch Conv2d's, survive a
 * save / load round trip, and the summary shows the output shape. */
static void test_save_load(void) {
    const char *spec = "input 3x8x8\nconv2d 4 3x2 pad=same\nrelu\nflatten\ndense 3\n"
                       "loss softmax_xent\n";
    sn_model *m = NULL, *back = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec(spec, "s", 2, &m, &err) == SN_OK);
    if (!m) return;
    const sn_param *w = &m->layers[0]->params[0];
    CHECK(strcmp(w->name, "weight") == 0 && w->value.ndim == 4);
    CHECK(w->value.shape[0] == 4 && w->value.shape[1] == 3 && w->value.shape[2] == 3 &&
          w->value.shape[3] == 2);
    CHECK(strcmp(m->layers[0]->params[1].name, "bias") == 0);
    CHECK(m->layers[0]->out_shape[0] == 4 && m->layers[0]->out_shape[1] == 8 &&
          m->layers[0]->out_shape[2] == 8);
    /* He uniform over fan_in = 3·3·2 = 18: |w| <= sqrt(6 / 18). */
    float mx = 0;
    for (size_t i = 0; i < w->value.size; i++) mx = fmaxf(mx, fabsf(w->value.data[i]));
    CHECK(mx <= sqrtf(6.0f / 18) && mx > 0.5f * sqrtf(6.0f / 18));
    char summary[2048];
    sn_model_summary(m, summary, sizeof summary);
    CHECK(strstr(summary, "conv2d 3->4 3x2 pad=same") != NULL);
    CHECK(strstr(summary, "4x8x8") != NULL);
    char dir[] = "/tmp/sn-conv-XXXXXX", path[64];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    CHECK(sn_model_save(m, path, &err) == SN_OK);
    CHECK(sn_model_load(path, &back, &err) == SN_OK);
    if (back) {
        float x[2 * 192], pa[6], pb[6];
        sn_rng r;
        sn_rng_seed(&r, 3, 3);
        for (int i = 0; i < 2 * 192; i++) x[i] = sn_rng_normal(&r);
        CHECK(sn_model_reserve(m, 2, &err) == SN_OK && sn_model_reserve(back, 2, &err) == SN_OK);
        sn_model_predict(m, x, 2, pa, NULL);
        sn_model_predict(back, x, 2, pb, NULL);
        CHECK(memcmp(pa, pb, sizeof pa) == 0);
    }
    unlink(path);
    rmdir(dir);
    sn_model_free(back);
    sn_model_free(m);
}

int main(void) {
    CHECK(cnn_run_fixture("cnn_conv.safetensors") == 12);
    test_random_geometries();
    test_single_channel();
    test_column_paths();
    test_adjoint();
    test_by_hand();
    test_gradchecks();
    test_fused_passes();
    test_spec_errors();
    test_save_load();
    return check_report();
}
