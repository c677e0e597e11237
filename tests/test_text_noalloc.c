/* A step of the text training loop performs no heap allocation: the C
 * library's allocation functions are replaced by counting wrappers (as in
 * test_noalloc.c) and sn_text_train runs an LSTM, a GRU and a stacked RNN
 * with dropout; the count must not change between the hooks of consecutive
 * batches (sampling and evaluation at the end of an epoch may allocate). */
#define _GNU_SOURCE /* dl_iterate_phdr */
#include "check.h"
#include "model/model.h"

#include <stddef.h>
#include <string.h>

#include "alloc_count.h"

#ifndef SN_NO_INTERPOSE
static long at_batch[256];
static int seen[256], nseen;

static void on_batch(void *ctx, int epoch, int batch, int nbatches, double loss, double acc,
                     double tps) {
    (void)ctx, (void)nbatches, (void)loss, (void)acc, (void)tps;
    if (nseen < 256) {
        seen[nseen] = epoch * 1000 + batch;
        at_batch[nseen++] = allocations;
    }
}

static void run(const char *spec, int threads) {
    sn_model *m = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec(spec, "noalloc", 1, &m, &err) == SN_OK);
    if (!m) return;
    static int ids[4000];
    sn_rng r;
    sn_rng_seed(&r, 2, 2);
    for (int i = 0; i < 4000; i++) ids[i] = (int)sn_rng_below(&r, 7);
    sn_text_options o;
    sn_text_options_default(&o);
    o.seq_len = 12;
    sn_set_threads(threads);
    nseen = 0;
    sn_train_hooks hooks = {.on_batch = on_batch};
    CHECK(sn_text_train(m, NULL, ids, 3600, ids + 3600, 400, &o, &hooks, NULL, &err) == SN_OK);
    int steps = 0;
    for (int i = 2; i < nseen; i++) {
        if (seen[i] / 1000 != seen[i - 1] / 1000) continue; /* a new epoch */
        steps++;
        if (at_batch[i] != at_batch[i - 1])
            fprintf(stderr, "%d threads, %s: batch %d: %ld allocations\n", threads, spec,
                    seen[i] % 1000, at_batch[i] - at_batch[i - 1]);
        CHECK(at_batch[i] == at_batch[i - 1]);
    }
    CHECK(steps > 20);
    sn_model_free(m);
}

int main(void) {
    alloc_count_init();
    const char *specs[] = {
        "input 1\nembedding 7 5\nlstm 16\ndense 7\nloss softmax_xent\n[train]\noptimizer adam\n"
        "batch 8\nepochs 2\nclip value=5\n",
        "input 1\nonehot 7\ngru 9 layers=2\ndense 7\nloss softmax_xent\n[train]\n"
        "optimizer adagrad lr=0.01\nbatch 6\nepochs 2\nclip norm=1\n",
        "input 1\nembedding 7 4\nrnn 8 layers=3 dropout=0.2\ndropout 0.1\ndense 7\n"
        "loss softmax_xent\n[train]\noptimizer sgd lr=0.1 momentum=0.9\nbatch 5\nepochs 2\n",
    };
    for (int threads = 1; threads <= 2; threads++)
        for (int s = 0; s < 3; s++) run(specs[s], threads);
    return check_report();
}
#else
int main(void) {
    printf("skipped under AddressSanitizer (it owns malloc)\n");
    return check_report();
}
#endif
