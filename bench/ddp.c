/* bench/ddp: data-parallel training over MPI (build with -DSN_MPI=ON; run
 * under mpirun, bench/ddp.sh does).
 *
 *   bench_ddp allreduce [MAX_BYTES]
 *       both transports: the time of an in-place sum of floats from 4 bytes
 *       to MAX_BYTES (default 16 MiB) and of the MLP's 2.14 MB, best of 3
 *       repetitions, over MPI (MPI_Allreduce; the latency α and inverse
 *       bandwidth β of the ring model t(n) = 2(P − 1) α + 2 (P − 1)/P · n β
 *       fitted to them) and over shared memory (sn_dist_node_sum: the copy
 *       in, two barriers, the reduce-scatter and the copy out; its model
 *       t(n) = 2 α + n β). α from the smallest message, β from the slope
 *       over the gradients' sizes, 256 KiB to 4 MiB. Then the gradient
 *       reducer's step on the MLP's gradients over each transport (its
 *       gradients written, sn_dist_reducer_finish: the weighting, the sum,
 *       the sums in the gradients), fastest and median of 200 steps.
 *
 *   bench_ddp train mlp|cnn DATA_DIR [BATCHES] [--no-overlap] [--bucket BYTES]
 *                   [--compute-only] [--allreduce auto|shm|mpi] [--reps N]
 *       images per second of the Fashion-MNIST MLP (examples/fashion-mlp.net:
 *       784-512-256-10, ReLU, dropout 0.2) or CNN (examples/fashion-cnn.net),
 *       Adam, global batch 128 split over the P ranks, images in memory:
 *       forward and backward on the rank's share, the gradient all-reduce in
 *       buckets (of --bucket BYTES, default 256 KiB) started during backward
 *       (--no-overlap: all after it), the optimizer step. 5 untimed batches, then BATCHES (default
 * 100) timed, repeated N times (default 3): the median (and the slowest and fastest). --allreduce:
 * the gradients' transport (default auto). Threads per rank: OMP_NUM_THREADS (else 1). Also the
 * time rank 0 waited for the all-reduce after its backward pass. --compute-only: the same steps
 * without the all-reduce (each rank trains on its share alone): what P ranks compute when
 * communication costs nothing; the images per second then count every rank's share at the slowest
 * rank's pace.
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

/* Seconds per in-place sum of n floats over `transport` (node: the
 * shared-memory one), the slowest rank's, best of 3 repetitions. */
static int time_sum(sn_dist_node *node, float *buf, size_t n, double *best, sn_error *err) {
    const int P = sn_dist_size();
    size_t bytes = n * sizeof(float);
    int reps = (int)(((size_t)32 << 20) / bytes);
    reps = reps < 3 ? 3 : reps > 1000 ? 1000 : reps;
    *best = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now();
        for (int i = 0; i < reps; i++)
            if ((node ? sn_dist_node_sum(node, buf, n, err) : sn_dist_sum_f32(buf, n, err)) !=
                SN_OK)
                return 1;
        double t = (now() - t0) / reps;
        /* every rank uses the slowest rank's time */
        if (sn_dist_sum_f64(&t, 1, err) != SN_OK) return 1;
        t /= P;
        *best = t < *best ? t : *best;
    }
    return 0;
}

static int cmp_double(const void *a, const void *b);

/* The gradient reducer's step on the MLP's gradients over `transport`, as
 * the training loop has it after backward: every rank's gradients written
 * (here: filled), then sn_dist_reducer_finish (the weighting by each
 * rank's share of a batch of 128, the sum, the sums in the gradients).
 * Each of the steps starts with the ranks together (a sum of one number);
 * its time is the slowest rank's. Prints the fastest and the median. */
static int reducer_step(int transport, int steps) {
    const int P = sn_dist_size(), rank = sn_dist_rank();
    sn_error err = {0};
    sn_model *m = NULL;
    sn_dist_reducer *r = NULL;
    if (P > 64) return fprintf(stderr, "bench_ddp: at most 64 ranks\n"), 1;
    if (sn_model_from_spec(mlp, "mlp", 1, &m, &err) != SN_OK ||
        sn_dist_reducer_new(m, 256 << 10, transport, &r, &err) != SN_OK)
        return die(&err);
    long off, cnt;
    sn_dist_share(BATCH, rank, P, &off, &cnt);
    sn_dist_set_share(off, cnt, BATCH);
    double *t = sn_alloc((size_t)steps, sizeof(double)), all[64], sync = 0;
    size_t floats = 0;
    for (int i = 0; i < m->nparams; i++)
        floats += m->params[i]->buffer ? 0 : m->params[i]->grad.size;
    for (int k = -10; t && k < steps; k++) { /* k < 0: warm-up */
        for (int i = 0; i < m->nparams; i++) {
            sn_tensor *g = &m->params[i]->grad;
            for (size_t j = 0; j < g->size; j++) g->data[j] = 1e-3f * (float)((j + (size_t)k) % 97);
        }
        if (sn_dist_sum_f64(&sync, 1, &err) != SN_OK) return die(&err);
        double t0 = now();
        if (sn_dist_reducer_finish(r, &err) != SN_OK) return die(&err);
        double dt = now() - t0;
        if (sn_dist_allgather(&dt, sizeof dt, all, &err) != SN_OK) return die(&err);
        for (int q = 0; q < P; q++) dt = all[q] > dt ? all[q] : dt;
        if (k >= 0) t[k] = dt;
    }
    if (t) qsort(t, (size_t)steps, sizeof *t, cmp_double);
    if (t && rank == 0)
        printf("reducer_step transport=%s ranks=%d bytes=%zu steps=%d min_us=%.1f median_us=%.1f\n",
               sn_dist_allreduce_name(sn_dist_reducer_transport(r)), P, floats * sizeof(float),
               steps, t[0] * 1e6, t[steps / 2] * 1e6);
    sn_dist_set_share(0, 1, 1);
    sn_free(t);
    sn_dist_reducer_free(r);
    sn_model_free(m);
    return 0;
}

static int allreduce(size_t max_bytes) {
    const int P = sn_dist_size(), rank = sn_dist_rank();
    sn_error err = {0};
    float *buf = sn_alloc(max_bytes / sizeof(float) + 1, sizeof(float));
    if (!buf) return fprintf(stderr, "bench_ddp: out of memory\n"), 1;
    for (size_t i = 0; i <= max_bytes / sizeof(float); i++) buf[i] = 1e-3f * (float)(i % 1000);
    for (int transport = SN_ALLREDUCE_MPI; transport >= SN_ALLREDUCE_SHM; transport--) {
        sn_dist_node *node = NULL;
        if (transport == SN_ALLREDUCE_SHM) {
            if (sn_dist_node_new(max_bytes / sizeof(float), SN_ALLREDUCE_SHM, &node, &err) != SN_OK)
                return die(&err);
            if (!node) {
                if (rank == 0) printf("allreduce transport=shm: not available here\n");
                break;
            }
        }
        const char *name = sn_dist_allreduce_name(transport);
        double t_small = 0, n_small = 0, fit_n[64], fit_t[64];
        int nfit = 0;
        /* powers of 4, and the MLP's gradients (535,818 floats) */
        for (size_t bytes = 4, mlp = 535818 * sizeof(float); bytes <= max_bytes;) {
            size_t now_bytes = mlp && mlp < bytes ? mlp : bytes;
            double best;
            if (time_sum(node, buf, now_bytes / sizeof(float), &best, &err)) return die(&err);
            if (now_bytes == 4) t_small = best, n_small = (double)now_bytes;
            if (now_bytes >= (256u << 10) && now_bytes <= (4u << 20) && nfit < 64)
                fit_n[nfit] = (double)now_bytes, fit_t[nfit++] = best;
            if (rank == 0)
                printf("allreduce transport=%s ranks=%d bytes=%zu seconds=%.3e algbw_GBps=%.3f "
                       "busbw_GBps=%.3f\n",
                       name, P, now_bytes, best, now_bytes / best / 1e9,
                       2.0 * (P - 1) / P * now_bytes / best / 1e9);
            fflush(stdout);
            if (now_bytes == mlp)
                mlp = 0;
            else
                bytes *= 4;
        }
        /* least-squares slope of t over n for the gradients' sizes, 256 KiB to 4 MiB */
        double mn = 0, mt = 0, sxx = 0, sxy = 0;
        for (int i = 0; i < nfit; i++) mn += fit_n[i] / nfit, mt += fit_t[i] / nfit;
        for (int i = 0; i < nfit; i++)
            sxx += (fit_n[i] - mn) * (fit_n[i] - mn), sxy += (fit_n[i] - mn) * (fit_t[i] - mt);
        double slope = sxx > 0 ? sxy / sxx : 0;
        if (transport == SN_ALLREDUCE_MPI) {
            /* slope = 2 (P − 1)/P · β;  t_small = 2 (P − 1) α + n_small · slope */
            double beta = P > 1 ? slope * P / (2.0 * (P - 1)) : 0;
            double alpha = P > 1 ? (t_small - n_small * slope) / (2.0 * (P - 1)) : 0;
            if (rank == 0)
                printf("ring_model transport=mpi ranks=%d alpha_us=%.2f beta_ns_per_byte=%.4f "
                       "bandwidth_GBps=%.2f\n",
                       P, alpha * 1e6, beta * 1e9, beta > 0 ? 1e-9 / beta : 0);
        } else if (rank == 0) {
            /* t = 2 α (two barriers) + n β (per byte of the vector) */
            printf("shm_model transport=shm ranks=%d alpha_us=%.2f beta_ns_per_byte=%.4f "
                   "bandwidth_GBps=%.2f\n",
                   P, (t_small - n_small * slope) / 2 * 1e6, slope * 1e9,
                   slope > 0 ? 1e-9 / slope : 0);
        }
        sn_dist_node_free(node);
    }
    sn_free(buf);
    for (int transport = SN_ALLREDUCE_MPI; transport >= SN_ALLREDUCE_SHM; transport--)
        if (reducer_step(transport, 200)) return 1;
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int train(const char *which, const char *dir, int batches, int overlap, long bucket,
                 int compute_only, int transport, int reps) {
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
        sn_dist_reducer_new(m, (size_t)bucket, transport, &r, &err) != SN_OK)
        return die(&err);
    if (overlap && !compute_only) m->grads_ready = sn_dist_grads_ready, m->grads_ready_ctx = r;
    sn_dist_set_share(off, cnt, BATCH);
    const int nbatch = d.n / BATCH;
    double times[64], waits[64];
    if (reps > 64) reps = 64;
    long step = 0;
    for (int rep = -1; rep < reps; rep++) { /* rep = -1: the warm-up */
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
        if (rep >= 0) times[rep] = t, waits[rep] = wait;
    }
    double sorted[64];
    memcpy(sorted, times, (size_t)reps * sizeof *times);
    qsort(sorted, (size_t)reps, sizeof *sorted, cmp_double);
    double med = sorted[reps / 2], med_wait = 0;
    for (int i = 0; i < reps; i++)
        if (times[i] == med) med_wait = waits[i];
    if (rank == 0)
        printf("scratchnet model=%s ranks=%d threads=%d transport=%s overlap=%d buckets=%d%s "
               "images_per_s=%.0f min=%.0f max=%.0f reps=%d allreduce_wait_s_per_step=%.2e\n",
               which, P, threads,
               P > 1 && !compute_only ? sn_dist_allreduce_name(sn_dist_reducer_transport(r))
                                      : "none",
               overlap, sn_dist_reducer_buckets(r), compute_only ? " compute_only=1" : "",
               batches * BATCH / med, batches * BATCH / sorted[reps - 1],
               batches * BATCH / sorted[0], reps, med_wait / batches);
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
        rc = allreduce(argc > 2 ? (size_t)atol(argv[2]) : (size_t)16 << 20);
    } else if (argc >= 4 && strcmp(argv[1], "train") == 0) {
        int overlap = 1, batches = 100, compute_only = 0, transport = SN_ALLREDUCE_AUTO, reps = 3;
        long bucket = 256 << 10;
        for (int i = 4; i < argc; i++) {
            if (strcmp(argv[i], "--no-overlap") == 0)
                overlap = 0;
            else if (strcmp(argv[i], "--allreduce") == 0 && i + 1 < argc) {
                const char *t = argv[++i];
                transport = strcmp(t, "shm") == 0    ? SN_ALLREDUCE_SHM
                            : strcmp(t, "mpi") == 0  ? SN_ALLREDUCE_MPI
                            : strcmp(t, "auto") == 0 ? SN_ALLREDUCE_AUTO
                                                     : -1;
                if (transport < 0) {
                    fprintf(stderr, "bench_ddp: --allreduce %s: expected auto, shm or mpi\n", t);
                    sn_dist_finalize();
                    return 2;
                }
            } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
                reps = atoi(argv[++i]);
            else if (strcmp(argv[i], "--compute-only") == 0)
                compute_only = 1;
            else if (strcmp(argv[i], "--bucket") == 0 && i + 1 < argc)
                bucket = atol(argv[++i]);
            else
                batches = atoi(argv[i]);
        }
        rc = train(argv[2], argv[3], batches > 0 ? batches : 100, overlap, bucket > 0 ? bucket : 1,
                   compute_only, transport, reps > 0 ? reps : 3);
    } else {
        fprintf(
            stderr,
            "usage: bench_ddp allreduce [MAX_BYTES]\n"
            "       bench_ddp train mlp|cnn DATA_DIR [BATCHES] [--no-overlap] [--bucket BYTES]\n"
            "                 [--compute-only] [--allreduce auto|shm|mpi] [--reps N]\n");
    }
    sn_dist_finalize();
    return rc;
}
