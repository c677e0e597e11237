/* bench/parity-fashion: accuracy parity with PyTorch. Trains the
 * [400, 240, 120] ReLU MLP (softmax cross-entropy, Adam lr 1e-3, batch 512,
 * a fixed number of epochs) on Fashion-MNIST in scratchnet and in PyTorch
 * (bench/parity_fashion_torch.py, run from here) and prints both test
 * accuracies and their difference; the target is at most 0.3 points.
 *
 * Both trainings of a seed start from the same weights: PyTorch's default
 * initialization under torch.manual_seed(seed), exported as safetensors and
 * loaded here with sn_model_load_weights, so that initialization luck is not
 * part of the comparison. By default they also see the same sequence of
 * mini-batches (PyTorch's permutations, exported too, replayed here with
 * the library's forward, backward and Adam step): all randomness is shared
 * and the difference measures the implementations. With --own-shuffle,
 * scratchnet trains through sn_train with its own shuffling instead: the
 * runs are then independent samples of the same procedure, and single runs
 * differ by about ±0.5 points from epoch-to-epoch noise alone.
 *
 * usage: bench_parity_fashion DATA_DIR [--epochs E] [--seeds 1,2,3] [--threads N]
 *                             [--own-shuffle] */
#include "core/error.h"
#include "model/safetensors.h"
#include "scratchnet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char spec_fmt[] = "input 1x28x28\nflatten\ndense 400\nrelu\ndense 240\nrelu\n"
                               "dense 120\nrelu\ndense 10\nloss softmax_xent\n"
                               "[train]\noptimizer adam lr=1e-3\nbatch 512\nepochs %d\nseed %d\n";

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Runs the PyTorch half for one seed; fills its accuracy (percent), time.
 * With `order` != NULL it also writes its batch order there. */
static int torch_run(const char *data, int seed, int epochs, const char *init, const char *order,
                     double *acc, double *secs) {
    char cmd[4096], line[512];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 '%s/bench/parity_fashion_torch.py' '%s' --seed %d --epochs %d "
             "--init '%s'%s%s%s",
             SN_SOURCE_DIR, data, seed, epochs, init, order ? " --order '" : "", order ? order : "",
             order ? "'" : "");
    FILE *p = popen(cmd, "r");
    if (!p) return 0;
    int ok = 0;
    while (fgets(line, sizeof line, p))
        if (sscanf(line, "pytorch seed=%*d test_acc=%lf seconds=%lf", acc, secs) == 2) ok = 1;
    return pclose(p) == 0 && ok;
}

/* Epochs of mini-batches in the given order ([epochs, n] sample indices),
 * with the library's forward, backward and optimizer step. */
static sn_status train_in_order(sn_model *m, const sn_dataset *d, const sn_st_entry *order,
                                sn_error *err) {
    const sn_train_config *c = sn_model_config(m);
    int B = c->batch, n = d->n;
    size_t S = d->sample_size;
    if (order->ndim != 2 || order->shape[0] < c->epochs || order->shape[1] != n)
        return sn_fail(err, SN_ERR_SHAPE, "batch order: %d x %d, expected %d x %d", order->shape[0],
                       order->ndim > 1 ? order->shape[1] : 0, c->epochs, n);
    sn_optimizer *o = NULL;
    float *x = malloc((size_t)B * S * sizeof(float));
    int *y = malloc((size_t)B * sizeof(int));
    sn_status s = x && y ? sn_model_reserve(m, B, err) : sn_fail(err, SN_ERR_NOMEM, "batch");
    if (s == SN_OK) s = sn_optimizer_new(m, c, &o, err);
    for (int e = 0; s == SN_OK && e < c->epochs; e++) {
        const float *perm = order->data + (size_t)e * (size_t)n;
        for (int start = 0; start < n; start += B) {
            int k = n - start < B ? n - start : B;
            for (int i = 0; i < k; i++) {
                size_t j = (size_t)perm[start + i];
                memcpy(x + (size_t)i * S, d->x + j * S, S * sizeof(float));
                y[i] = d->labels[j];
            }
            sn_model_forward(m, x, k, 1, NULL);
            sn_model_backward(m, y, NULL, NULL, NULL);
            sn_optimizer_step(o);
        }
    }
    sn_optimizer_free(o);
    free(x);
    free(y);
    return s;
}

static int ours_run(const sn_dataset *train, const sn_dataset *test, int seed, int epochs,
                    const char *init, const char *order_path, double *acc, double *secs) {
    char spec[1024];
    snprintf(spec, sizeof spec, spec_fmt, epochs, seed);
    sn_error err = {0};
    sn_model *m = NULL;
    sn_st_file order = {0};
    double loss, t0 = now();
    sn_status s = sn_model_from_spec(spec, "parity-fashion", 0, &m, &err);
    if (s == SN_OK) s = sn_model_load_weights(m, init, &err);
    if (s == SN_OK && order_path) s = sn_st_load(order_path, &order, &err);
    if (s == SN_OK && order_path && !sn_st_find(&order, "order"))
        s = sn_fail(&err, SN_ERR_FORMAT, "%s: no tensor 'order'", order_path);
    if (s == SN_OK)
        s = order_path ? train_in_order(m, train, sn_st_find(&order, "order"), &err)
                       : sn_train(m, train, NULL, NULL, NULL, NULL, &err);
    sn_st_free(&order);
    *secs = now() - t0;
    if (s == SN_OK) s = sn_evaluate(m, test, 1000, &loss, acc, &err);
    if (s != SN_OK) fprintf(stderr, "bench_parity_fashion: %s\n", err.msg);
    *acc *= 100;
    sn_model_free(m);
    return s == SN_OK;
}

int main(int argc, char **argv) {
    if (argc < 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: bench_parity_fashion DATA_DIR [--epochs E] [--seeds 1,2,3] "
                        "[--threads N]\n");
        return 2;
    }
    const char *data = argv[1], *seeds = "1,2,3";
    int epochs = 15, threads = 0, own_shuffle = 0;
    for (int i = 2; i < argc; i += 2) {
        if (strcmp(argv[i], "--own-shuffle") == 0) {
            own_shuffle = 1;
            i--;
        } else if (i + 1 >= argc) {
            fprintf(stderr, "bench_parity_fashion: %s needs a value\n", argv[i]);
            return 2;
        } else if (strcmp(argv[i], "--epochs") == 0)
            epochs = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--seeds") == 0)
            seeds = argv[i + 1];
        else if (strcmp(argv[i], "--threads") == 0)
            threads = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "bench_parity_fashion: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (epochs < 1) return 2;
    sn_set_threads(threads);
    sn_error err = {0};
    sn_dataset train, test;
    if (sn_idx_load_dir(data, "train", &train, &err) != SN_OK ||
        sn_idx_load_dir(data, "t10k", &test, &err) != SN_OK) {
        fprintf(stderr, "bench_parity_fashion: %s (scripts/fetch-data.sh fashion-mnist)\n",
                err.msg);
        return 1;
    }
    char dir[] = "/tmp/sn-parity-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    printf("[400, 240, 120] ReLU MLP on Fashion-MNIST: Adam lr 1e-3, batch 512, %d epochs, "
           "softmax cross-entropy;\nper seed both start from the same PyTorch-initialized "
           "weights, %s; %d threads here\n",
           epochs,
           own_shuffle ? "each shuffles with its own generator"
                       : "and train on the same sequence of batches",
           sn_get_threads());
    double sum_ours = 0, sum_torch = 0;
    int n = 0, failed = 0;
    char list[256];
    snprintf(list, sizeof list, "%s", seeds);
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        int seed = atoi(tok);
        char init[512], order[512];
        snprintf(init, sizeof init, "%s/init-%d.safetensors", dir, seed);
        snprintf(order, sizeof order, "%s/order-%d.safetensors", dir, seed);
        const char *ord = own_shuffle ? NULL : order;
        double at, ts, ao, to;
        if (!torch_run(data, seed, epochs, init, ord, &at, &ts)) {
            fprintf(stderr, "bench_parity_fashion: the PyTorch run of seed %d failed\n", seed);
            unlink(init);
            if (ord) unlink(ord);
            failed = 1;
            break;
        }
        int ok = ours_run(&train, &test, seed, epochs, init, ord, &ao, &to);
        unlink(init);
        if (ord) unlink(ord);
        if (!ok) {
            failed = 1;
            break;
        }
        printf("seed %d: scratchnet %.2f %%  pytorch %.2f %%  difference %+.2f points  "
               "(training %.1f s vs %.1f s)\n",
               seed, ao, at, ao - at, to, ts);
        fflush(stdout);
        sum_ours += ao, sum_torch += at, n++;
    }
    rmdir(dir);
    if (n > 0) {
        double d = (sum_ours - sum_torch) / n;
        printf("mean over %d seeds: scratchnet %.2f %%  pytorch %.2f %%  difference %+.2f points "
               "(target: at most 0.3) %s\n",
               n, sum_ours / n, sum_torch / n, d, fabs(d) <= 0.3 ? "ok" : "OUTSIDE THE TARGET");
    }
    sn_dataset_free(&train);
    sn_dataset_free(&test);
    return failed;
}
