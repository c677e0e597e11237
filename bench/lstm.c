/* bench/lstm: training speed of a char-level LSTM and of a vanilla RNN on
 * Moby Dick, in tokens per second, through sn_text_train (the real loop:
 * forward, backward, clipping, Adam, carried state). bench/lstm_torch.py
 * trains the same networks with PyTorch's nn.LSTM / nn.RNN; bench/run.sh
 * prints the ratio.
 *
 *   one-hot(V) -> lstm 256 (or rnn 256) -> dense V, softmax cross-entropy
 *   sequence 64, batch 32 streams, Adam lr 2e-3, gradients clipped to ±5
 *
 * Each measurement trains `steps` batches (one epoch over the first
 * steps·64·32 + 1 characters) after one warm-up epoch of 3 batches, on 1
 * and on 2 threads. tokens_per_s is wall time; tokens_per_cpu_s divides by
 * the process's CPU time instead, which on a machine shared with other
 * work still measures the code (for 1 thread it is the wall-time figure of
 * a quiet machine).
 *
 * With --every K, the measured epoch also prints the rate of each block of K
 * batches as it ends (wall time from the end of the block before), which
 * shows whether a run's speed changes as it goes or is set when it starts.
 *
 * usage: bench_lstm CORPUS [STEPS] [lstm|rnn|both] [--threads LIST] [--every K]
 * (LIST as in bench/threads_opt.h; default 1,2) */
#include "scratchnet.h"
#include "threads_opt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define T 64
#define N 32
#define H 256

static double tokens_per_s;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* --every K: the rate of each block of K batches of the measured epoch */
typedef struct {
    int every, measuring;
    double t0;
} blocks;

static void on_batch(void *ctx, int epoch, int batch, int nbatches, double loss, double acc,
                     double samples_per_s) {
    (void)epoch, (void)loss, (void)acc, (void)samples_per_s;
    blocks *b = ctx;
    if (!b->measuring || b->every < 1) return;
    int done = batch; /* counted from 1 */
    if (done % b->every && done != nbatches) return;
    double t = now();
    int k = done % b->every ? done % b->every : b->every;
    printf("  batches %d-%d: tokens_per_s=%.0f\n", done - k + 1, done,
           (double)k * T * N / (t - b->t0));
    fflush(stdout);
    b->t0 = t;
}

static int on_epoch(void *ctx, const sn_epoch_stats *s) {
    (void)ctx;
    tokens_per_s = s->samples_per_s;
    return 0;
}

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int run(const char *kind, int V, const int *ids, int steps, const bench_threads *bt, int k,
               int every) {
    char spec[512];
    snprintf(spec, sizeof spec,
             "input 1\nonehot %d\n%s %d\ndense %d\nloss softmax_xent\n"
             "[train]\noptimizer adam lr=2e-3\nbatch %d\nepochs 1\nclip value=5\n",
             V, kind, H, V, N);
    bench_threads_apply(bt, k);
    sn_model *m = NULL;
    sn_error err = {0};
    sn_text_options o;
    sn_text_options_default(&o);
    o.seq_len = T;
    blocks b = {every, 0, 0.0};
    sn_train_hooks hooks = {.ctx = &b, .on_batch = on_batch, .on_epoch = on_epoch};
    sn_status s = sn_model_from_spec(spec, "bench", 1, &m, &err);
    if (s == SN_OK) /* warm-up: 3 batches */
        s = sn_text_train(m, NULL, ids, (size_t)3 * T * N + 1, NULL, 0, &o, &hooks, NULL, &err);
    double cpu = cpu_seconds();
    b.measuring = 1;
    b.t0 = now();
    if (s == SN_OK)
        s = sn_text_train(m, NULL, ids, (size_t)steps * T * N + 1, NULL, 0, &o, &hooks, NULL, &err);
    cpu = cpu_seconds() - cpu;
    sn_model_free(m);
    if (s != SN_OK) {
        fprintf(stderr, "bench_lstm: %s\n", err.msg);
        return 1;
    }
    printf("scratchnet %s threads=%s tokens_per_s=%.0f tokens_per_cpu_s=%.0f\n", kind, bt->label[k],
           tokens_per_s, (double)steps * T * N / cpu);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv) {
    bench_threads bt;
    if (!bench_threads_parse(&argc, argv, &bt)) return 2;
    int every = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--every")) continue;
        char *end = NULL;
        long e = i + 1 < argc ? strtol(argv[i + 1], &end, 10) : 0;
        if (!end || *end || e < 1 || e > 1000000) {
            fprintf(stderr, "bench_lstm: --every needs a number of batches >= 1, got '%s'\n",
                    i + 1 < argc ? argv[i + 1] : "");
            return 2;
        }
        every = (int)e;
        for (int j = i; j + 2 <= argc; j++) argv[j] = argv[j + 2];
        argc -= 2;
        i--;
    }
    if (argc < 2) {
        fprintf(stderr,
                "usage: bench_lstm CORPUS [STEPS] [lstm|rnn|both] [--threads LIST] [--every K]\n");
        return 2;
    }
    int steps = argc > 2 ? atoi(argv[2]) : 20;
    const char *which = argc > 3 ? argv[3] : "both";
    char *text = NULL;
    size_t len = 0, n = 0;
    int *ids = NULL;
    sn_vocab *v = NULL;
    sn_error err = {0};
    if (sn_text_read_file(argv[1], &text, &len, &err) != SN_OK ||
        sn_vocab_build(text, len, SN_TEXT_CHAR, 0, &v, &err) != SN_OK ||
        sn_vocab_encode(v, text, len, &ids, &n, &err) != SN_OK) {
        fprintf(stderr, "bench_lstm: %s\n", err.msg);
        return 1;
    }
    if (steps < 1 || (size_t)steps * T * N + 1 > n) {
        fprintf(stderr, "bench_lstm: STEPS must be in 1..%zu for this corpus\n", (n - 1) / (T * N));
        return 2;
    }
    printf("corpus %s: %zu characters, vocabulary %d; hidden %d, sequence %d, batch %d, %d "
           "steps\n",
           argv[1], n, sn_vocab_size(v), H, T, N, steps);
    int rc = 0;
    for (int k = 0; k < 2 && !rc; k++) {
        const char *kind = k ? "rnn" : "lstm";
        if (strcmp(which, "both") && strcmp(which, kind)) continue;
        for (int k = 0; k < bt.n && !rc; k++)
            rc = run(kind, sn_vocab_size(v), ids, steps, &bt, k, every);
    }
    sn_free(ids);
    sn_free(text);
    sn_vocab_free(v);
    return rc;
}
