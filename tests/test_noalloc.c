/* A training step performs no heap allocation. This test replaces the C
 * library's allocation functions with counting wrappers (the program's own
 * definitions take precedence over libc's) and trains through sn_train: the
 * count must not change between the hooks of consecutive batches. */
#define _GNU_SOURCE /* dl_iterate_phdr */
#include "check.h"
#include "data/dataset.h"
#include "model/model.h"

#include <stddef.h>
#include <string.h>

#include "alloc_count.h"

#ifndef SN_NO_INTERPOSE
static long at_batch[64], omp_live_at_batch[64];
static int batches_seen;

static void on_batch(void *ctx, int epoch, int batch, int nbatches, double loss, double acc,
                     double sps) {
    (void)ctx, (void)epoch, (void)batch, (void)nbatches, (void)loss, (void)acc, (void)sps;
    if (batches_seen < 64) {
        omp_live_at_batch[batches_seen] = omp_allocs - omp_frees;
        at_batch[batches_seen++] = allocations;
    }
}

int main(void) {
    alloc_count_init();
    /* Batch norm over channels and features, dropout, penalties, clipping,
     * a schedule with warm-up: everything a step may do. */
    const char *spec = "input 1x8x8\nbatchnorm\nflatten\ndense 32 l1=1e-5 l2=1e-4\nbatchnorm\n"
                       "relu\ndropout 0.2\ndense 16\ngelu\ndense 4\n"
                       "loss softmax_xent\n[train]\noptimizer adamw lr=1e-3\nbatch 16\nepochs 2\n"
                       "schedule cosine\nwarmup steps=5\nclip value=5 norm=1\n";
    sn_model *m = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec(spec, "noalloc", 1, &m, &err) == SN_OK);
    sn_dataset d;
    memset(&d, 0, sizeof d);
    d.n = 16 * 10;
    d.ndim = 3;
    d.shape[0] = 1, d.shape[1] = 8, d.shape[2] = 8;
    d.sample_size = 64;
    d.num_classes = 4;
    d.x = sn_alloc((size_t)d.n * 64, sizeof(float));
    d.labels = sn_alloc((size_t)d.n, sizeof(int));
    sn_rng r;
    sn_rng_seed(&r, 3, 3);
    for (size_t i = 0; i < (size_t)d.n * 64; i++) d.x[i] = sn_rng_uniform(&r);
    for (int i = 0; i < d.n; i++) d.labels[i] = (int)sn_rng_below(&r, 4);

    /* Once with one thread, once with two (the OpenMP pool starts in the
     * first epoch's first batch, which is therefore not compared). */
    for (int threads = 1; threads <= 2; threads++) {
        sn_set_threads(threads);
        batches_seen = 0;
        sn_train_hooks hooks = {.on_batch = on_batch};
        CHECK(sn_train(m, &d, NULL, NULL, &hooks, NULL, &err) == SN_OK);
        CHECK(batches_seen == 20);
        for (int i = 2; i < batches_seen; i++) {
            if (at_batch[i] != at_batch[1])
                fprintf(stderr, "threads %d: batch %d: %ld allocations since batch 2\n", threads,
                        i + 1, at_batch[i] - at_batch[1]);
            CHECK(at_batch[i] == at_batch[1]);
            CHECK(omp_live_at_batch[i] == omp_live_at_batch[1]);
        }
    }
    /* A convolutional network: conv2d (scratch sized by sn_model_reserve),
     * max, average and global pooling. */
    sn_model *cnn = NULL;
    CHECK(sn_model_from_spec("input 1x8x8\nconv2d 4 3 pad=same\nrelu\nmaxpool 2\n"
                             "conv2d 6 3x2 pad=1\navgpool 2\nglobal_avgpool\nflatten\ndense 4\n"
                             "loss softmax_xent\n[train]\noptimizer adam\nbatch 16\nepochs 2\n",
                             "noalloc-cnn", 1, &cnn, &err) == SN_OK);
    for (int threads = 1; cnn && threads <= 2; threads++) {
        sn_set_threads(threads);
        batches_seen = 0;
        sn_train_hooks hooks = {.on_batch = on_batch};
        CHECK(sn_train(cnn, &d, NULL, NULL, &hooks, NULL, &err) == SN_OK);
        CHECK(batches_seen == 20);
        for (int i = 2; i < batches_seen; i++) {
            if (at_batch[i] != at_batch[1])
                fprintf(stderr, "cnn, threads %d: batch %d: %ld allocations since batch 2\n",
                        threads, i + 1, at_batch[i] - at_batch[1]);
            CHECK(at_batch[i] == at_batch[1]);
            CHECK(omp_live_at_batch[i] == omp_live_at_batch[1]);
        }
    }
    sn_model_free(cnn);
    /* The counting wrappers do count: the library's own allocations and
     * plain malloc (called through a volatile pointer so that the compiler
     * cannot elide it) both show. */
    long before = allocations;
    void *p = sn_alloc(16, 4);
    CHECK(allocations == before + 1);
    sn_free(p);
    void *(*volatile plain_malloc)(size_t) = malloc;
    p = plain_malloc(16);
    CHECK(allocations == before + 2);
    free(p);
    printf("OpenMP runtime %s: %ld of its own allocations set apart\n",
           omp_nseg ? "libomp" : "not libomp", omp_allocs);
    sn_dataset_free(&d);
    sn_model_free(m);
    return check_report();
}
#else
int main(void) {
    printf("skipped under AddressSanitizer (it owns malloc)\n");
    return check_report();
}
#endif
