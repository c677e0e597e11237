/* The transposed copy of the dense weights that a one-sample evaluation
 * pass reads (src/layers/dense.c) is made again after the library's
 * writers of parameter values that tests/test_gemv.c does not exercise:
 * after early stopping puts back the best epoch's weights, the model's
 * next one-sample pass is that of the batched forward (a validation set
 * of 16k + 1 samples evaluated in batches of 16 makes the copy from the
 * last epoch's weights first); after a weight load that fails on a later
 * tensor (and so writes nothing), the copy still matches; reserving the model
 * again for a larger batch keeps a correct copy; a finite-difference check
 * on one sample in evaluation mode sees each weight it nudges. And the transposed-copy
 * kernel (src/kernels/gemv.c) skips only the inputs that are zero: a NaN
 * input, or an infinite one times a zero weight, reaches the outputs as
 * in its documented sum (one fused multiply-add chain per output from +0,
 * every input in order, then the bias). */
#include "check.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "model_check.h"
#include "scratchnet.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static float *random_floats(sn_rng *r, size_t n) {
    float *p = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) p[i] = 2.0f * sn_rng_uniform(r) - 1.0f;
    return p;
}

static int last_epoch, kept_epoch;
static int on_epoch(void *ctx, const sn_epoch_stats *e) {
    (void)ctx;
    last_epoch = e->epoch;
    return 0;
}
static void on_end(void *ctx, const sn_epoch_stats *kept) {
    (void)ctx;
    kept_epoch = kept->epoch;
}

/* Early stopping with restore: the weights put back after training. */
static void check_restore_best(void) {
    static const char spec[] = "input 8\ndense 64\nrelu\ndense 64\nrelu\ndense 3\n"
                               "loss softmax_xent\n[train]\noptimizer adam lr=0.01\nbatch 16\n"
                               "epochs 60\nearly_stop patience=3\n";
    sn_model *m = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec(spec, "restore", 3, &m, &err) == SN_OK);
    if (!m) return;
    sn_dataset train, val;
    make_data(&train, 96, 1);
    make_data(&val, 16 * 6 + 1, 2); /* the last validation batch: one sample */
    sn_train_hooks hooks = {.on_epoch = on_epoch, .on_end = on_end};
    CHECK(sn_train(m, &train, &val, NULL, &hooks, NULL, &err) == SN_OK);
    CHECK(kept_epoch >= 1 && kept_epoch < last_epoch); /* weights were put back */
    float one[3], again[3];
    CHECK(one_vs_batched(m, val.x, one) == 0);
    CHECK(one_vs_batched(m, val.x + 8, again) == 0);
    sn_dataset_free(&train);
    sn_dataset_free(&val);
    sn_model_free(m);
}

static const char mlp[] = "input 1x28x28\nflatten\ndense 256\nrelu\ndense 128\nrelu\ndense %d\n"
                          "loss softmax_xent\n";

/* A weight load that fails at the last layer's tensors (the file's last
 * layer has 11 units, the model's 10). */
static void check_failed_load(void) {
    char spec[256], path[64];
    sn_model *m = NULL, *other = NULL;
    sn_error err = {0};
    snprintf(spec, sizeof spec, mlp, 10);
    CHECK(sn_model_from_spec(spec, "model", 3, &m, &err) == SN_OK);
    snprintf(spec, sizeof spec, mlp, 11);
    CHECK(sn_model_from_spec(spec, "other", 4, &other, &err) == SN_OK);
    if (!m || !other) return;
    snprintf(path, sizeof path, "/tmp/test_param_stamp_%ld.safetensors", (long)getpid());
    CHECK(sn_model_save(other, path, &err) == SN_OK);
    CHECK(sn_model_reserve(m, 2, &err) == SN_OK);
    int in = (int)sn_model_input_size(m);
    sn_rng r;
    sn_rng_seed(&r, 9, 1);
    float *x = random_floats(&r, (size_t)in);
    for (int k = 0; k < in; k += 2) x[k] = 0.0f;
    float before[10], after[10];
    CHECK(one_vs_batched(m, x, before) == 0);
    CHECK(sn_model_load_weights(m, path, &err) == SN_ERR_SHAPE);
    CHECK(one_vs_batched(m, x, after) == 0);
    /* (the load checks every tensor before it writes any: the model, and
     * so its copy, is unchanged) */
    remove(path);
    free(x);
    sn_model_free(other);
    sn_model_free(m);
}

/* Reserved for one sample, a pass made the copy; reserved again for more,
 * the weights rewritten: the next pass is the batched one's. */
static void check_reserve_again(void) {
    char spec[256];
    sn_model *m = NULL;
    sn_error err = {0};
    snprintf(spec, sizeof spec, mlp, 10);
    CHECK(sn_model_from_spec(spec, "reserve", 5, &m, &err) == SN_OK);
    if (!m) return;
    CHECK(sn_model_reserve(m, 1, &err) == SN_OK);
    int in = (int)sn_model_input_size(m);
    sn_rng r;
    sn_rng_seed(&r, 10, 1);
    float *x = random_floats(&r, (size_t)in), first[10], before[10], after[10];
    CHECK(sn_model_forward(m, x, 1, 0, &err) == SN_OK);
    memcpy(first, sn_model_output(m)->data, sizeof first);
    CHECK(sn_model_reserve(m, 3, &err) == SN_OK);
    CHECK(one_vs_batched(m, x, before) == 0);
    CHECK(memcmp(first, before, sizeof first) == 0);
    sn_param_info p;
    CHECK(sn_model_param(m, 3, 0, &p, &err) == SN_OK);
    for (size_t i = 0; i < p.value->size; i++) p.value->data[i] *= -0.75f;
    CHECK(one_vs_batched(m, x, after) == 0);
    CHECK(memcmp(before, after, sizeof after) != 0);
    free(x);
    sn_model_free(m);
}

/* The finite-difference check on one sample in evaluation mode: each
 * nudged weight is seen by the one-sample passes that measure the loss, so
 * the weights' central differences match their gradients; after it, the
 * weights as they were, and the pass is the batched one's. */
static void check_gradcheck(void) {
    sn_model *m = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec("input 20\ndense 16\ntanh\ndense 3\nloss softmax_xent\n", "gc", 6, &m,
                             &err) == SN_OK);
    if (!m) return;
    CHECK(sn_model_reserve(m, 2, &err) == SN_OK);
    sn_rng r;
    sn_rng_seed(&r, 12, 1);
    float *x = random_floats(&r, 20), before[3], after[3];
    int label = 2;
    CHECK(one_vs_batched(m, x, before) == 0);
    sn_gradcheck_result g;
    CHECK(sn_gradcheck_run(m, x, 1, &label, NULL, 1e-2f, 32, 0, &g, &err) == SN_OK);
    CHECK(g.param[0] < 1e-2 && g.param[2] < 1e-2);
    CHECK(one_vs_batched(m, x, after) == 0);
    CHECK(memcmp(before, after, sizeof after) == 0);
    free(x);
    sn_model_free(m);
}

/* The copy kernel with a NaN input, an infinite input and zeros: each
 * output is its fma chain over every input from +0, then + b (a NaN where
 * the chain gives one), at 1 to 3 threads, split or not. */
static void check_nonfinite_inputs(int in, int out, sn_rng *r) {
    size_t nt = sn_dense_t_floats(in, out);
    if (nt == 0) return; /* no such kernel in this build */
    float *W = random_floats(r, (size_t)in * out), *b = random_floats(r, (size_t)out);
    float *x = random_floats(r, (size_t)in), *Wt = malloc(sizeof(float) * nt);
    float *want = malloc(sizeof(float) * out), *y = malloc(sizeof(float) * out);
    float *relu = malloc(sizeof(float) * out);
    for (int k = 0; k < in; k += 3) x[k] = k % 2 ? -0.0f : 0.0f;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 0) { /* an infinite input; its weight for output out/2 is 0 */
            int k = in > 1 ? 1 : 0;
            x[k] = INFINITY;
            W[(size_t)(out / 2) * in + k] = 0.0f;
        } else { /* and a NaN input, the last */
            x[in - 1] = NAN;
        }
        CHECK(sn_dense_t_build(in, out, W, Wt) == 1);
        int nan_want = 0;
        for (int j = 0; j < out; j++) {
            float acc = 0.0f;
            for (int k = 0; k < in; k++) acc = fmaf(x[k], W[(size_t)j * in + k], acc);
            want[j] = acc + b[j];
            nan_want += isnan(want[j]) != 0;
        }
        CHECK(nan_want >= 1);
        if (pass == 1) CHECK(nan_want == out);
        int bad = 0;
        for (int t = 1; t <= 3; t++) {
            sn_set_threads(t);
            sn_dense_step s[2] = {{in, out, x, W, b, y, relu, Wt}, {in, out, x, W, b, y, relu, Wt}};
            memset(y, 0, sizeof(float) * out);
            sn_dense_chain_one(2, s);
            for (int j = 0; j < out; j++) {
                int same = isnan(want[j]) ? isnan(y[j]) && isnan(relu[j])
                                          : memcmp(&y[j], &want[j], sizeof(float)) == 0 &&
                                                relu[j] == (want[j] < 0 ? 0.0f : want[j]);
                bad += !same;
            }
        }
        if (bad)
            fprintf(stderr, "transposed dense %d -> %d, non-finite inputs (%d): %d outputs off\n",
                    in, out, pass, bad);
        CHECK(bad == 0);
    }
    free(W), free(b), free(x), free(Wt), free(want), free(y), free(relu);
}

int main(void) {
    sn_rng r;
    sn_rng_seed(&r, 17, 2);
    static const int sizes[][2] = {{3, 1},     {17, 33},   {300, 20},
                                   {784, 256}, {300, 260}, {1600, 300}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        check_nonfinite_inputs(sizes[i][0], sizes[i][1], &r);
    sn_set_threads(2);
    check_reserve_again();
    check_gradcheck();
    check_failed_load();
    check_restore_best();
    return check_report();
}
