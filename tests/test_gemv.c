/* One sample through a dense layer (src/kernels/gemv.c): the dot-product
 * kernel against a double-precision reference; its output does not depend
 * on the thread count nor on how rows are grouped; the transposed-copy
 * kernel, which skips zero inputs, gives the bits of its documented sum
 * (one fused multiply-add chain per output, k in order, zero terms
 * included) at 1 to 3 threads; a model's batch-1 evaluation forward equals
 * its batched one within rounding, at 1 and 2 threads, on inputs with
 * zeros, negative zeros and all zeros, and allocates nothing; a batch-1
 * training forward keeps the GEMM's exact bits; the transposed copy is
 * never stale: after an optimizer step, a write through sn_model_param,
 * a write through a kept pointer announced with sn_model_params_changed,
 * a weight load and a checkpoint's resume, the next batch-1 pass matches
 * the batched one; a weight that is not finite reaches the output as in
 * the GEMM. */
#define _GNU_SOURCE /* dl_iterate_phdr */
#include "check.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "scratchnet.h"
#include "train/checkpoint.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc_count.h"
#include "model_check.h"

static float *random_floats(sn_rng *r, size_t n) {
    float *p = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) p[i] = 2.0f * sn_rng_uniform(r) - 1.0f;
    return p;
}

/* n inputs of which about `zeros` (a fraction) are 0, a quarter of those
 * -0; the others uniform in [-1, 1]. */
static float *sparse_floats(sn_rng *r, size_t n, double zeros) {
    float *p = random_floats(r, n);
    for (size_t i = 0; i < n; i++)
        if (sn_rng_uniform(r) < zeros) p[i] = sn_rng_uniform(r) < 0.25 ? -0.0f : 0.0f;
    return p;
}

/* A float sum of n terms in 16 strands, then a tree of depth 4, then the
 * bias: each term passes through at most n/16 + 6 roundings. */
static double bound(int in, double abs_sum) {
    return (in / 16.0 + 6.0) * FLT_EPSILON * abs_sum + 1e-30;
}

static void check_kernel(int in, int out, sn_rng *r) {
    float *W = random_floats(r, (size_t)in * out), *x = random_floats(r, (size_t)in);
    float *b = random_floats(r, (size_t)out);
    float *y1 = malloc(sizeof(float) * out), *y2 = malloc(sizeof(float) * out);
    float *yn = malloc(sizeof(float) * out), *yj = malloc(sizeof(float) * out);
    sn_set_threads(1);
    sn_dense_forward_one(in, out, x, W, b, y1);
    sn_set_threads(2);
    sn_dense_forward_one(in, out, x, W, b, y2);
    sn_dense_forward_one(in, out, x, W, NULL, yn);
    /* the same rows one at a time, and from an odd offset in threes */
    for (int j = 0; j < out; j++) sn_dense_forward_one(in, 1, x, W + (size_t)j * in, b + j, yj + j);
    int bad_ref = 0, bad_nobias = 0;
    for (int j = 0; j < out; j++) {
        double s = b[j], a = fabs(b[j]), sn = 0, an = 0;
        for (int k = 0; k < in; k++) {
            double t = (double)W[(size_t)j * in + k] * x[k];
            s += t, a += fabs(t), sn += t, an += fabs(t);
        }
        bad_ref += fabs(y1[j] - s) > bound(in, a);
        bad_nobias += fabs(yn[j] - sn) > bound(in, an);
    }
    if (bad_ref || bad_nobias)
        fprintf(stderr, "dense %d -> %d: %d outputs off the reference, %d without bias\n", in, out,
                bad_ref, bad_nobias);
    CHECK(bad_ref == 0);
    CHECK(bad_nobias == 0);
    CHECK(memcmp(y1, y2, sizeof(float) * out) == 0);
    CHECK(memcmp(y1, yj, sizeof(float) * out) == 0);
    if (out > 4) {
        for (int j = 1; j < out; j += 3) {
            int n = out - j < 3 ? out - j : 3;
            sn_dense_forward_one(in, n, x, W + (size_t)j * in, b + j, yj + j);
        }
        CHECK(memcmp(y1, yj, sizeof(float) * out) == 0);
    }
    free(W), free(x), free(b), free(y1), free(y2), free(yn), free(yj);
}

/* The transposed-copy kernel on one step: y[j] = fma(x[k], W[j, k], ...)
 * over every k in order from +0, then + b[j] (gemv.c), bit for bit, at 1,
 * 2 and 3 threads, for inputs with a fraction `zeros` of zeros; an
 * all-zero input gives b exactly. The last sizes are split among the
 * threads, by whole panels or by vectors. */
static void check_t_kernel(int in, int out, double zeros, sn_rng *r) {
    size_t nt = sn_dense_t_floats(in, out);
    if (nt == 0) return; /* no such kernel in this build */
    float *W = random_floats(r, (size_t)in * out), *b = random_floats(r, (size_t)out);
    float *x = sparse_floats(r, (size_t)in, zeros), *z = calloc((size_t)in, sizeof(float));
    float *Wt = malloc(sizeof(float) * nt), *want = malloc(sizeof(float) * out);
    float *y = malloc(sizeof(float) * out), *relu = malloc(sizeof(float) * out);
    CHECK(sn_dense_t_build(in, out, W, Wt) == 1);
    for (int j = 0; j < out; j++) {
        float acc = 0.0f;
        for (int k = 0; k < in; k++) acc = fmaf(x[k], W[(size_t)j * in + k], acc);
        want[j] = acc + b[j];
    }
    int bad = 0, bad_relu = 0, bad_zero = 0;
    for (int t = 1; t <= 3; t++) {
        sn_set_threads(t);
        /* in a chain of two, so that the step is split among the threads */
        sn_dense_step s[2] = {{in, out, x, W, b, y, relu, Wt}, {in, out, x, W, b, y, relu, Wt}};
        memset(y, 0xff, sizeof(float) * out);
        sn_dense_chain_one(2, s);
        bad += memcmp(y, want, sizeof(float) * out) != 0;
        for (int j = 0; j < out; j++) bad_relu += relu[j] != (want[j] < 0 ? 0.0f : want[j]);
        s[0].x = s[1].x = z;
        sn_dense_chain_one(1, s);
        bad_zero += memcmp(y, b, sizeof(float) * out) != 0;
    }
    if (bad || bad_relu || bad_zero)
        fprintf(stderr, "transposed dense %d -> %d (%.0f%% zeros): %d %d %d runs differ\n", in, out,
                100 * zeros, bad, bad_relu, bad_zero);
    CHECK(bad == 0 && bad_relu == 0 && bad_zero == 0);
    /* a weight that is not finite: the copy refuses it */
    W[(size_t)in * out / 2] = INFINITY;
    CHECK(sn_dense_t_build(in, out, W, Wt) == 0);
    W[(size_t)in * out / 2] = NAN;
    CHECK(sn_dense_t_build(in, out, W, Wt) == 0);
    free(W), free(b), free(x), free(z), free(Wt), free(want), free(y), free(relu);
}

/* A chain of dense steps (sn_dense_chain_one), each with or without a ReLU,
 * against the steps one by one through sn_dense_forward_one and the relu
 * layer's formula: the same bits at 1, 2 and 3 threads, y and relu alike.
 * One bias is NaN, so one pre-activation is: x < 0 ? 0 : x keeps it. */
static void check_chain(int n, const int *dims, unsigned relu_mask, sn_rng *r) {
    sn_dense_step s[8];
    float *W[8], *b[8], *y[8], *a[8], *ry[8], *ra[8];
    float *x = random_floats(r, (size_t)dims[0]);
    for (int i = 0; i < n; i++) {
        int in = dims[i], out = dims[i + 1];
        W[i] = random_floats(r, (size_t)in * out), b[i] = random_floats(r, (size_t)out);
        y[i] = calloc((size_t)out + 1, sizeof(float)),
        a[i] = calloc((size_t)out + 1, sizeof(float));
        ry[i] = calloc((size_t)out + 1, sizeof(float)),
        ra[i] = calloc((size_t)out + 1, sizeof(float));
    }
    if (n > 1 && dims[n] > 2) b[n - 1][2] = NAN;
    /* reference: one step at a time, the next step reading the last output */
    sn_set_threads(1);
    for (int i = 0; i < n; i++) {
        int out = dims[i + 1];
        const float *xi = i == 0 ? x : (relu_mask >> (i - 1) & 1) ? ra[i - 1] : ry[i - 1];
        sn_dense_forward_one(dims[i], out, xi, W[i], b[i], ry[i]);
        for (int j = 0; j < out; j++) ra[i][j] = ry[i][j] < 0 ? 0.0f : ry[i][j];
    }
    int bad = 0;
    for (int t = 1; t <= 3; t++) {
        sn_set_threads(t);
        for (int i = 0; i < n; i++) {
            const float *xi = i == 0 ? x : (relu_mask >> (i - 1) & 1) ? a[i - 1] : y[i - 1];
            s[i] = (sn_dense_step){
                dims[i], dims[i + 1], xi, W[i], b[i], y[i], (relu_mask >> i & 1) ? a[i] : NULL,
                NULL};
            memset(y[i], 0, sizeof(float) * dims[i + 1]);
            memset(a[i], 0, sizeof(float) * dims[i + 1]);
        }
        sn_dense_chain_one(n, s);
        for (int i = 0; i < n; i++) {
            bad += memcmp(y[i], ry[i], sizeof(float) * dims[i + 1]) != 0;
            if (relu_mask >> i & 1) bad += memcmp(a[i], ra[i], sizeof(float) * dims[i + 1]) != 0;
        }
    }
    if (bad)
        fprintf(stderr, "chain of %d steps from %d inputs: %d outputs differ\n", n, dims[0], bad);
    CHECK(bad == 0);
    if (n > 1 && dims[n] > 2 && (relu_mask >> (n - 1) & 1)) CHECK(isnan(a[n - 1][2]));
    free(x);
    for (int i = 0; i < n; i++)
        free(W[i]), free(b[i]), free(y[i]), free(a[i]), free(ry[i]), free(ra[i]);
}

/* A model's batch-1 evaluation forward fills every layer's output as the
 * layers' own forward passes on that sample do, bit for bit, at 1 to 3
 * threads: the dense chains (src/layers/dense.c) change no value. */
static void check_model_acts(const char *name, const char *spec) {
    sn_model *m = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec(spec, "gemv", 3, &m, &err) == SN_OK);
    if (!m) return;
    CHECK(sn_model_reserve(m, 4, &err) == SN_OK);
    m->keep_all = 1; /* the fused convolution's inner outputs too */
    int L = m->nlayers, in = (int)sn_model_input_size(m);
    float *ref[SN_MAX_LAYERS + 1] = {0};
    sn_rng r;
    sn_rng_seed(&r, 13, 1);
    float *x = random_floats(&r, (size_t)in);
    for (int i = 0; i <= L; i++) ref[i] = calloc(m->act[i].size / m->max_batch + 1, sizeof(float));
    memcpy(ref[0], x, sizeof(float) * in);
    for (int i = 0; i < L; i++) {
        int sx[SN_MAX_DIMS], sy[SN_MAX_DIMS];
        memcpy(sx, m->act[i].shape, sizeof sx), memcpy(sy, m->act[i + 1].shape, sizeof sy);
        sx[0] = sy[0] = 1;
        sn_tensor a = sn_tensor_view(ref[i], m->act[i].ndim, sx);
        sn_tensor y = sn_tensor_view(ref[i + 1], m->act[i + 1].ndim, sy);
        m->layers[i]->ops->forward(m->layers[i], &a, &y, 0);
    }
    int bad = 0;
    for (int t = 1; t <= 3; t++) {
        sn_set_threads(t);
        CHECK(sn_model_forward(m, x, 1, 0, &err) == SN_OK);
        for (int i = 1; i <= L; i++)
            bad += memcmp(m->act[i].data, ref[i],
                          sizeof(float) * (m->act[i].size / m->max_batch)) != 0;
    }
    if (bad) fprintf(stderr, "%s: %d layer outputs differ\n", name, bad);
    CHECK(bad == 0);
    free(x);
    for (int i = 0; i <= L; i++) free(ref[i]);
    sn_model_free(m);
}

/* A model's outputs for `n` samples: batched (evaluation mode), then one
 * sample at a time at 1 and 2 threads, then one at a time in training mode.
 * With zeros > 0, that fraction of the inputs is 0 or -0 and the last
 * sample is all zeros. */
static void check_model(const char *name, const char *spec, int n, double zeros) {
    sn_model *m = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec(spec, "gemv", 7, &m, &err) == SN_OK);
    if (!m) return;
    CHECK(sn_model_reserve(m, n, &err) == SN_OK);
    int in = sn_model_input_size(m), K = sn_model_output_size(m);
    sn_rng r;
    sn_rng_seed(&r, 11, 1);
    float *x =
        zeros > 0 ? sparse_floats(&r, (size_t)n * in, zeros) : random_floats(&r, (size_t)n * in);
    if (zeros > 0) memset(x + (size_t)(n - 1) * in, 0, sizeof(float) * in);
    float *batched = malloc(sizeof(float) * n * K), *train = malloc(sizeof(float) * n * K);
    float *one[2] = {malloc(sizeof(float) * n * K), malloc(sizeof(float) * n * K)};
    sn_set_threads(2);
    CHECK(sn_model_forward(m, x, n, 0, &err) == SN_OK);
    memcpy(batched, sn_model_output(m)->data, sizeof(float) * n * K);
    CHECK(sn_model_forward(m, x, n, 1, &err) == SN_OK);
    memcpy(train, sn_model_output(m)->data, sizeof(float) * n * K);
    CHECK(memcmp(batched, train, sizeof(float) * n * K) == 0);
    long allocs = -1;
    for (int t = 1; t <= 2; t++) {
        sn_set_threads(t);
        CHECK(sn_model_forward(m, x, 1, 0, &err) == SN_OK); /* starts the team */
#ifndef SN_NO_INTERPOSE
        allocs = allocations;
#endif
        for (int i = 0; i < n; i++) {
            CHECK(sn_model_forward(m, x + (size_t)i * in, 1, 0, &err) == SN_OK);
            memcpy(one[t - 1] + (size_t)i * K, sn_model_output(m)->data, sizeof(float) * K);
        }
#ifndef SN_NO_INTERPOSE
        CHECK(allocations == allocs);
#endif
    }
    (void)allocs;
    CHECK(memcmp(one[0], one[1], sizeof(float) * n * K) == 0);
    int far = 0, differ = 0;
    for (int i = 0; i < n * K; i++) {
        far += fabs(one[0][i] - batched[i]) > 1e-5 * (1.0 + fabs(batched[i]));
        differ += one[0][i] != batched[i];
    }
    CHECK(far == 0);
    /* training mode on one sample: the GEMM, bit for bit the batched rows */
    int train_differ = 0;
    for (int i = 0; i < n; i++) {
        CHECK(sn_model_forward(m, x + (size_t)i * in, 1, 1, &err) == SN_OK);
        train_differ += memcmp(sn_model_output(m)->data, train + (size_t)i * K, sizeof(float) * K);
    }
    CHECK(train_differ == 0);
    printf("%s: %d of %d batch-1 outputs differ from the batched ones in the last bits\n", name,
           differ, n * K);
    free(x), free(batched), free(train), free(one[0]), free(one[1]);
    sn_model_free(m);
}

/* The transposed copy is never stale: between two batch-1 passes the
 * weights change by each library path below; the second pass matches the
 * batched forward (and differs from the first). */
static void check_stale(int threads) {
    static const char spec[] = "input 1x28x28\nflatten\ndense 256\nrelu\ndense 128\nrelu\n"
                               "dense 10\nloss softmax_xent\n[train]\noptimizer sgd lr=0.5\n";
    sn_model *m = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec(spec, "stale", 3, &m, &err) == SN_OK);
    if (!m) return;
    sn_set_threads(threads);
    CHECK(sn_model_reserve(m, 2, &err) == SN_OK);
    int in = (int)sn_model_input_size(m), K = sn_model_output_size(m);
    sn_rng r;
    sn_rng_seed(&r, 21, 1);
    float *x = sparse_floats(&r, (size_t)2 * in, 0.5);
    float before[16], after[16];
    int labels[2] = {3, 7};

    /* an optimizer step after the copy was made from this training step's
     * forward pass: only the step's own stamp tells */
    sn_optimizer *o = NULL;
    CHECK(sn_optimizer_new(m, sn_model_config(m), &o, &err) == SN_OK);
    double loss;
    CHECK(sn_model_forward(m, x, 2, 1, &err) == SN_OK);
    CHECK(sn_model_backward(m, labels, NULL, &loss, &err) == SN_OK);
    CHECK(one_vs_batched(m, x, before) == 0);
    sn_optimizer_step(o);
    CHECK(one_vs_batched(m, x, after) == 0);
    CHECK(memcmp(before, after, sizeof(float) * K) != 0);

    /* a write through sn_model_param */
    sn_param_info p;
    memcpy(before, after, sizeof before);
    CHECK(sn_model_param(m, 1, 0, &p, &err) == SN_OK);
    for (size_t i = 0; i < p.value->size; i++) p.value->data[i] *= -1.5f;
    CHECK(one_vs_batched(m, x, after) == 0);
    CHECK(memcmp(before, after, sizeof(float) * K) != 0);

    /* a write through the kept pointer, announced */
    memcpy(before, after, sizeof before);
    for (size_t i = 0; i < p.value->size; i++) p.value->data[i] *= 0.5f;
    sn_model_params_changed(m);
    CHECK(one_vs_batched(m, x, after) == 0);
    CHECK(memcmp(before, after, sizeof(float) * K) != 0);

    /* a weight load brings the saved weights back */
    char path[64];
    snprintf(path, sizeof path, "/tmp/test_gemv_%ld.safetensors", (long)getpid());
    CHECK(sn_model_save(m, path, &err) == SN_OK);
    memcpy(before, after, sizeof before);
    CHECK(sn_model_param(m, 3, 0, &p, &err) == SN_OK);
    for (size_t i = 0; i < p.value->size; i++) p.value->data[i] += 0.25f;
    CHECK(one_vs_batched(m, x, after) == 0);
    CHECK(memcmp(before, after, sizeof(float) * K) != 0);
    CHECK(sn_model_load_weights(m, path, &err) == SN_OK);
    CHECK(one_vs_batched(m, x, after) == 0);
    CHECK(memcmp(before, after, sizeof(float) * K) == 0);
    remove(path);

    /* so does a checkpoint's resume */
    sn_schedule sc;
    CHECK(sn_schedule_init(&sc, &m->cfg, 5, &err) == SN_OK);
    sn_ckpt k = {.trainer = "table", .epoch = 1, .nbatches = 5, .samples = 2};
    sn_checkpoint_options co;
    memset(&co, 0, sizeof co);
    snprintf(path, sizeof path, "/tmp/test_gemv_%ld.ckpt", (long)getpid());
    co.path = path;
    CHECK(sn_ckpt_save(&co, m, o, &sc, &k, NULL, &err) == SN_OK);
    CHECK(sn_model_param(m, 5, 0, &p, &err) == SN_OK);
    for (size_t i = 0; i < p.value->size; i++) p.value->data[i] -= 0.5f;
    CHECK(one_vs_batched(m, x, after) == 0);
    CHECK(memcmp(before, after, sizeof(float) * K) != 0);
    sn_ckpt k2 = {.trainer = "table", .nbatches = 5, .samples = 2};
    CHECK(sn_ckpt_load(path, m, o, &sc, &k2, NULL, &err) == SN_OK);
    CHECK(one_vs_batched(m, x, after) == 0);
    CHECK(memcmp(before, after, sizeof(float) * K) == 0);
    sn_ckpt_free(&k2);
    remove(path);

    /* an infinity times an input that is 0: NaN, as in the batched pass */
    int k0 = 0;
    while (k0 < in && x[k0] != 0) k0++;
    CHECK(k0 < in);
    CHECK(sn_model_param(m, 1, 0, &p, &err) == SN_OK);
    p.value->data[(size_t)5 * in + k0] = INFINITY; /* unit 5's weight of input k0 */
    CHECK(one_vs_batched(m, x, after) == 0);
    CHECK(isnan(after[0]));
    sn_optimizer_free(o);
    free(x);
    sn_model_free(m);
}

int main(void) {
#ifndef SN_NO_INTERPOSE
    alloc_count_init();
#endif
    sn_rng r;
    sn_rng_seed(&r, 5, 2);
    static const int sizes[][2] = {{1, 1},   {1, 17},    {17, 1},    {17, 17},  {100, 100},
                                   {15, 9},  {16, 8},    {33, 100},  {100, 1},  {1, 100},
                                   {31, 23}, {784, 256}, {256, 128}, {128, 10}, {1600, 128}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        check_kernel(sizes[i][0], sizes[i][1], &r);
    static const int tsizes[][2] = {{1, 1},     {1, 17},    {17, 1},     {17, 33},    {16, 16},
                                    {100, 10},  {33, 300},  {256, 128},  {784, 256},  {1000, 70},
                                    {300, 260}, {784, 300}, {1600, 128}, {1024, 600}, {2048, 300}};
    for (size_t i = 0; i < sizeof tsizes / sizeof tsizes[0]; i++)
        for (int z = 0; z <= 2; z++) check_t_kernel(tsizes[i][0], tsizes[i][1], z * 0.45, &r);
    {
        static const int d1[] = {784, 256, 128, 10}, d2[] = {1600, 128, 10}, d3[] = {300, 70},
                         d4[] = {33, 200, 300, 5, 40, 9}, d5[] = {0, 20, 100},
                         d6[] = {300, 260, 300, 7}; /* two layers split: a barrier */
        for (unsigned mask = 0; mask < 8; mask++) check_chain(3, d1, mask, &r);
        check_chain(2, d2, 1, &r);
        check_chain(1, d3, 1, &r);
        check_chain(5, d4, 0x15, &r);
        check_chain(5, d4, 0x0A, &r);
        check_chain(2, d5, 3, &r);
        for (unsigned mask = 0; mask < 4; mask++) check_chain(3, d6, mask, &r);
    }
    check_model_acts("mlp", "input 1x28x28\nflatten\ndense 256\nrelu\ndense 128\nrelu\ndense 10\n"
                            "loss softmax_xent\n");
    check_model_acts("mixed",
                     "input 300\ndense 256\ndense 128 bias=-0.1\nrelu\nrelu\ndense 64\ntanh\n"
                     "dense 200\nrelu\ndense 3\nloss softmax_xent\n");
    check_model_acts("cnn", "input 1x12x12\nconv2d 8 3\nrelu\nflatten\ndense 300\nrelu\ndense 10\n"
                            "relu\nloss mse\n");
    check_model("17-100-1", "input 17\ndense 100 bias=0.1\nrelu\ndense 1\nloss mse\n", 9, 0);
    check_model("1-17-100-3",
                "input 1\ndense 17 bias=-0.2\ntanh\ndense 100\nrelu\ndense 3\n"
                "loss softmax_xent\n",
                6, 0);
    check_model("784-256-128-10",
                "input 1x28x28\nflatten\ndense 256\nrelu\ndense 128\nrelu\ndense 10\n"
                "loss softmax_xent\n",
                5, 0);
    check_model("784-256-128-10 sparse",
                "input 1x28x28\nflatten\ndense 256\nrelu\ndense 128\nrelu\ndense 10\n"
                "loss softmax_xent\n",
                60, 0.5);
    check_model("300-64-200-3 sparse",
                "input 300\ndense 64 bias=-0.1\nrelu\ndense 200\ntanh\ndense 3\nloss mse\n", 30,
                0.7);
    check_stale(1);
    check_stale(2);
    return check_report();
}
