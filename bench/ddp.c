/* bench/ddp: data-parallel training over MPI (build with -DSN_MPI=ON; run
 * under mpirun, bench/ddp.sh does).
 *
 *   bench_ddp allreduce [MAX_BYTES]
 *       the transport: time of MPI_Allreduce (sum of floats) from 4 bytes to
 *       MAX_BYTES (default 64 MiB), best of several repetitions; the
 *       latency α and inverse bandwidth β of the ring model
 *           t(n) = 2(P − 1) α + 2 (P − 1)/P · n β
 *       fitted to them (α from the smallest message, β from the slope over
 *       the messages of 1 MiB and more).
 *
 *   bench_ddp train mlp|cnn DATA_DIR [BATCHES] [--no-overlap] [--bucket BYTES]
 *                   [--compute-only]
 *       images per second of the Fashion-MNIST MLP (examples/fashion-mlp.net:
 *       784-512-256-10, ReLU, dropout 0.2) or CNN (examples/fashion-cnn.net),
 *       Adam, global batch 128 split over the P ranks, images in memory:
 *       forward and backward on the rank's share, the gradient all-reduce in
 *       buckets (of --bucket BYTES, default 256 KiB) started during backward
 *       (--no-overlap: all after it), the optimizer step. 5 untimed batches, then BATCHES (default
 * 100) timed, best of 2. Threads per rank: OMP_NUM_THREADS (else 1). Also the time rank 0 waited
 * for the all-reduce after its backward pass. --compute-only: the same
 * steps without the all-reduce (each rank trains on its share alone): what
 * P ranks compute when communication costs nothing; the images per second
 * then count every rank's share at the slowest rank's pace.
 *
 * Rank 0 prints one line per measurement. */
#include "data/dataset.h"
#include "dist/dist.h"
#include "model/model.h"
#include "optim/optim.h"
#include "scratchnet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH 128

static const char mlp[] = "input 1x28x28\nflatten\ndense 512 init=he\nrelu\ndropout 0.2\n"
                          "dense 256 init=he\nrelu\ndropout 0.2\ndense 10 init=xavier\n"
                          "loss softmax_xent\n[train]\noptimizer adam lr=1e-3\n";
static const char cnn[] = "input 1x28x28\nconv2d 32 3\nrelu\nmaxpool 2\nconv2d 64 3\nrelu\n"
                          "maxpool 2\nflatten\ndense 128\nrelu\ndense 10\nloss softmax_xent\n"
                          "[train]\noptimizer adam lr=1e-3\n";

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int die(const sn_error *err) {
    fprintf(stderr, "bench_ddp: rank %d: %s\n", sn_dist_rank(), err->msg);
    sn_dist_abort(1);
    return 1;
}

static int allreduce(size_t max_bytes) {
    const int P = sn_dist_size(), rank = sn_dist_rank();
    sn_error err = {0};
    float *buf = sn_alloc(max_bytes / sizeof(float) + 1, sizeof(float));
    if (!buf) return fprintf(stderr, "bench_ddp: out of memory\n"), 1;
    double t_small = 0, n_small = 0, fit_n[64], fit_t[64];
    int nfit = 0;
    for (size_t bytes = 4; bytes <= max_bytes; bytes *= 4) {
        size_t n = bytes / sizeof(float);
        int reps = (int)(((size_t)32 << 20) / bytes);
        reps = reps < 3 ? 3 : reps > 1000 ? 1000 : reps;
        double best = 1e30;
        for (int rep = 0; rep < 3; rep++) {
            double t0 = now();
            for (int i = 0; i < reps; i++)
                if (sn_dist_sum_f32(buf, n, &err) != SN_OK) return die(&err);
            double t = (now() - t0) / reps;
            /* every rank uses the slowest rank's time */
            if (sn_dist_sum_f64(&t, 1, &err) != SN_OK) return die(&err);
            t /= P;
            best = t < best ? t : best;
        }
        if (bytes == 4) t_small = best, n_small = (double)bytes;
        if (bytes >= (1u << 20) && nfit < 64) fit_n[nfit] = (double)bytes, fit_t[nfit++] = best;
        if (rank == 0)
            printf("allreduce ranks=%d bytes=%zu seconds=%.3e algbw_GBps=%.3f busbw_GBps=%.3f\n", P,
                   bytes, best, bytes / best / 1e9, 2.0 * (P - 1) / P * bytes / best / 1e9);
        fflush(stdout);
    }
    /* least-squares slope of t over n for the large messages */
    double mn = 0, mt = 0, sxx = 0, sxy = 0;
    for (int i = 0; i < nfit; i++) mn += fit_n[i] / nfit, mt += fit_t[i] / nfit;
    for (int i = 0; i < nfit; i++)
        sxx += (fit_n[i] - mn) * (fit_n[i] - mn), sxy += (fit_n[i] - mn) * (fit_t[i] - mt);
    double slope = sxx > 0 ? sxy / sxx : 0;
    /* slope = 2 (P − 1)/P · β;  t_small = 2 (P − 1) α + n_small · slope */
    double beta = P > 1 ? slope * P / (2.0 * (P - 1)) : 0;
    double alpha = P > 1 ? (t_small - n_small * slope) / (2.0 * (P - 1)) : 0;
    if (rank == 0)
        printf("ring_model ranks=%d alpha_us=%.2f beta_ns_per_byte=%.4f bandwidth_GBps=%.2f\n", P,
               alpha * 1e6, beta * 1e9, beta > 0 ? 1e-9 / beta : 0);
    sn_free(buf);
    return 0;
}

static int train(const char *which, const char *dir, int batches, int overlap, long bucket,
                 int compute_only) {
    const int P = sn_dist_size(), rank = sn_dist_rank();
    sn_error err = {0};
    sn_dataset d;
    if (sn_idx_load_dir(dir, "train", &d, &err) != SN_OK) return die(&err);
    const char *env = getenv("OMP_NUM_THREADS");
    int threads = env && atoi(env) > 0 ? atoi(env) : 1;
    sn_set_threads(threads);
    sn_model *m = NULL;
    sn_optimizer *opt = NULL;
    sn_dist_reducer *r = NULL;
    long off, cnt;
    sn_dist_share(BATCH, rank, P, &off, &cnt);
    if (sn_model_from_spec(strcmp(which, "cnn") == 0 ? cnn : mlp, which, 1, &m, &err) != SN_OK ||
        sn_model_reserve(m, (int)cnt, &err) != SN_OK ||
        sn_optimizer_new(m, sn_model_config(m), &opt, &err) != SN_OK ||
        sn_dist_reducer_new(m, (size_t)bucket, &r, &err) != SN_OK)
        return die(&err);
    if (overlap && !compute_only) m->grads_ready = sn_dist_grads_ready, m->grads_ready_ctx = r;
    sn_dist_set_share(off, cnt, BATCH);
    const int nbatch = d.n / BATCH;
    double best = 1e30, best_wait = 0;
    long step = 0;
    for (int rep = -1; rep < 2; rep++) { /* rep = -1: the warm-up */
        int count = rep < 0 ? 5 : batches;
        double wait = 0, t0 = now();
        for (int b = 0; b < count; b++, step++) {
            size_t s = (size_t)(step % nbatch) * BATCH + (size_t)off;
            sn_model_forward(m, d.x + s * d.sample_size, (int)cnt, 1, NULL);
            sn_model_backward(m, d.labels + s, NULL, NULL, NULL);
            double w0 = now();
            if (!compute_only &&
                (sn_dist_reducer_finish(r, &err) != SN_OK || sn_dist_take_error(&err) != SN_OK))
                return die(&err);
            wait += now() - w0;
            sn_optimizer_step(opt);
        }
        double t = now() - t0, all[64];
        if (P > 64) return fprintf(stderr, "bench_ddp: at most 64 ranks\n"), 1;
        if (sn_dist_allgather(&t, sizeof t, all, &err) != SN_OK) return die(&err);
        double mean = 0, slowest = 0;
        for (int i = 0; i < P; i++)
            mean += all[i] / P, slowest = all[i] > slowest ? all[i] : slowest;
        /* ranks that waited for each other: their mean; alone: the slowest */
        t = compute_only ? slowest : mean;
        if (rep >= 0 && t < best) best = t, best_wait = wait;
    }
    if (rank == 0)
        printf("scratchnet model=%s ranks=%d threads=%d overlap=%d buckets=%d%s images_per_s=%.0f "
               "allreduce_wait_s_per_step=%.2e\n",
               which, P, threads, overlap, sn_dist_reducer_buckets(r),
               compute_only ? " compute_only=1" : "", batches * BATCH / best, best_wait / batches);
    sn_dist_reducer_free(r);
    sn_optimizer_free(opt);
    sn_model_free(m);
    sn_dataset_free(&d);
    return 0;
}

int main(int argc, char **argv) {
    sn_error err = {0};
    if (sn_dist_init(&argc, &argv, &err) != SN_OK) return die(&err);
    int rc = 2;
    if (argc >= 2 && strcmp(argv[1], "allreduce") == 0) {
        rc = allreduce(argc > 2 ? (size_t)atol(argv[2]) : (size_t)64 << 20);
    } else if (argc >= 4 && strcmp(argv[1], "train") == 0) {
        int overlap = 1, batches = 100, compute_only = 0;
        long bucket = 256 << 10;
        for (int i = 4; i < argc; i++) {
            if (strcmp(argv[i], "--no-overlap") == 0)
                overlap = 0;
            else if (strcmp(argv[i], "--compute-only") == 0)
                compute_only = 1;
            else if (strcmp(argv[i], "--bucket") == 0 && i + 1 < argc)
                bucket = atol(argv[++i]);
            else
                batches = atoi(argv[i]);
        }
        rc = train(argv[2], argv[3], batches > 0 ? batches : 100, overlap, bucket > 0 ? bucket : 1,
                   compute_only);
    } else {
        fprintf(
            stderr,
            "usage: bench_ddp allreduce [MAX_BYTES]\n"
            "       bench_ddp train mlp|cnn DATA_DIR [BATCHES] [--no-overlap] [--bucket BYTES]\n"
            "                 [--compute-only]\n");
    }
    sn_dist_finalize();
    return rc;
}
