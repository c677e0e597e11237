/* bench/mlp: seconds per training epoch of the 784-256-128-10 ReLU MLP with
 * softmax cross-entropy on Fashion-MNIST (60,000 images in memory), batch
 * 128, on 1 and 2 threads, in three variants: Adam, SGD, and Adam with batch
 * norm and dropout 0.2 after each hidden layer (dense → batchnorm → relu →
 * dropout; "adam_bn_dropout"). bench/mlp_torch.py does the same in PyTorch;
 * bench/run.sh prints the ratios.
 *
 * usage: bench_mlp DATA_DIR [EPOCHS] [adam|sgd|adam_bn_dropout|all]
 *        [--threads LIST]   (LIST as in bench/threads_opt.h; default 1,2) */
#include "data/dataset.h"
#include "scratchnet.h"
#include "threads_opt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char spec[] = "input 1x28x28\nflatten\ndense 256\nrelu\ndense 128\nrelu\n"
                           "dense 10\nloss softmax_xent\n";
static const char spec_bn[] = "input 1x28x28\nflatten\ndense 256\nbatchnorm\nrelu\ndropout 0.2\n"
                              "dense 128\nbatchnorm\nrelu\ndropout 0.2\ndense 10\n"
                              "loss softmax_xent\n";

static double best_epoch;
static int on_epoch(void *ctx, const sn_epoch_stats *s) {
    (void)ctx;
    if (s->seconds < best_epoch) best_epoch = s->seconds;
    return 0;
}

int main(int argc, char **argv) {
    bench_threads bt;
    if (!bench_threads_parse(&argc, argv, &bt)) return 2;
    if (argc < 2) {
        fprintf(stderr, "usage: bench_mlp DATA_DIR [EPOCHS] [adam|sgd|adam_bn_dropout|all] "
                        "[--threads LIST]\n");
        return 2;
    }
    int epochs = argc > 2 ? atoi(argv[2]) : 2;
    const char *which = argc > 3 ? argv[3] : "all";
    sn_error err = {0};
    sn_dataset train;
    if (sn_idx_load_dir(argv[1], "train", &train, &err) != SN_OK) {
        fprintf(stderr, "bench_mlp: %s\n", err.msg);
        return 1;
    }
    const char *names[3] = {"adam", "sgd", "adam_bn_dropout"};
    const char *opts[3] = {"adam", "sgd", "adam"};
    for (int o = 0; o < 3; o++) {
        if (strcmp(which, "all") && strcmp(which, names[o])) continue;
        for (int k = 0; k < bt.n; k++) {
            bench_threads_apply(&bt, k);
            sn_model *m = NULL;
            if (sn_model_from_spec(o == 2 ? spec_bn : spec, "bench", 1, &m, &err) != SN_OK) {
                fprintf(stderr, "bench_mlp: %s\n", err.msg);
                return 1;
            }
            sn_train_config *c = sn_model_config(m);
            snprintf(c->optimizer, sizeof c->optimizer, "%s", opts[o]);
            c->lr = o == 1 ? 0.05f : 1e-3f;
            c->momentum = o == 1 ? 0.9f : 0.0f;
            c->batch = 128;
            c->epochs = epochs;
            best_epoch = 1e30;
            sn_train_hooks hooks = {.on_epoch = on_epoch};
            if (sn_train(m, &train, NULL, NULL, &hooks, NULL, &err) != SN_OK) {
                fprintf(stderr, "bench_mlp: %s\n", err.msg);
                return 1;
            }
            printf("scratchnet %s threads=%s seconds_per_epoch=%.3f\n", names[o], bt.label[k],
                   best_epoch);
            fflush(stdout);
            sn_model_free(m);
        }
    }
    sn_dataset_free(&train);
    return 0;
}
