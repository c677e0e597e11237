/* GFLOP/s of sn_sgemm and OpenBLAS's cblas_sgemm on square sizes and on the
 * shapes of a batch-128 MLP 784-256-128-10, on 1 and 2 threads, measured in
 * the same run. Each measurement is the best of many short batches of calls
 * (see measure()); the table is measured `passes` times (argument, default 3)
 * and the best kept.
 * Run with OMP_WAIT_POLICY=passive on an otherwise idle machine:
 *   OMP_WAIT_POLICY=passive build/bench/bench_gemm [passes]
 * OpenBLAS picks its kernel from the CPU model and falls back to a generic
 * SSE3 one ("Prescott") on models it does not know, as on some virtual CPUs;
 * the kernel it runs is printed. To compare with its AVX-512 kernel there:
 *   OPENBLAS_CORETYPE=SkylakeX OMP_WAIT_POLICY=passive build/bench/bench_gemm */
#include "kernels/kernels.h"
#include "scratchnet.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void openblas_set_num_threads(int num_threads);
char *openblas_get_corename(void);

typedef struct {
    const char *name;
    int tA, tB, M, N, K;
} shape;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static void pause_s(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

static float *A, *B, *C;

static void call(int ours, const shape *s) {
    int lda = s->tA ? s->M : s->K, ldb = s->tB ? s->K : s->N;
    if (ours)
        sn_sgemm(s->tA, s->tB, s->M, s->N, s->K, 1.0f, A, lda, B, ldb, 0.0f, C, s->N);
    else
        cblas_sgemm(CblasRowMajor, s->tA ? CblasTrans : CblasNoTrans,
                    s->tB ? CblasTrans : CblasNoTrans, s->M, s->N, s->K, 1.0f, A, lda, B, ldb, 0.0f,
                    C, s->N);
}

/* Batch size for ~`target` seconds of calls (or one call). */
static int batch_size(int ours, const shape *s, double target) {
    call(ours, s);
    double t = now();
    call(ours, s);
    double one = now() - t;
    return one > target ? 1 : (int)(target / (one > 1e-7 ? one : 1e-7)) + 1;
}

/* Seconds per call of the best batch of `batch` calls: ours (o == 0) or
 * OpenBLAS's (o == 1). */
static double run_batch(int o, const shape *s, int batch) {
    double t = now();
    for (int i = 0; i < batch; i++) call(!o, s);
    return (now() - t) / batch;
}

/* Best GFLOP/s of ours (gf[0]) and OpenBLAS (gf[1]) over short batches of
 * calls (~0.2 ms, or one call), >= 3 of each and >= 0.4 s in all. Short
 * batches fit between the other work of a busy machine, and the best batch
 * is one from a quiet moment. On one thread ours and OpenBLAS take turns, so
 * that both see the same moments; on several, OpenBLAS's workers spin a while
 * after a call and would take a core from ours: all of ours first, then all
 * of OpenBLAS's, then a pause for its workers to sleep. */
static void measure(const shape *s, int threads, double gf[2]) {
    int batch[2] = {batch_size(1, s, 2e-4), batch_size(0, s, 2e-4)};
    double best[2] = {1e30, 1e30};
    if (threads == 1) {
        double total = 0.0;
        for (int r = 0; total < 0.4 || r < 3; r++)
            for (int o = 0; o < 2; o++) {
                double dt = run_batch(o, s, batch[o]);
                total += dt * batch[o];
                if (dt < best[o]) best[o] = dt;
            }
    } else {
        for (int o = 0; o < 2; o++) {
            double total = 0.0;
            for (int r = 0; total < 0.2 || r < 3; r++) {
                double dt = run_batch(o, s, batch[o]);
                total += dt * batch[o];
                if (dt < best[o]) best[o] = dt;
            }
        }
        pause_s(0.2);
    }
    for (int o = 0; o < 2; o++) gf[o] = 2.0 * s->M * s->N * s->K / best[o] * 1e-9;
}

int main(int argc, char **argv) {
    int passes = argc > 1 ? atoi(argv[1]) : 3;
    if (passes < 1) passes = 1;
    const int max = 2048;
    A = aligned_alloc(64, sizeof(float) * max * max);
    B = aligned_alloc(64, sizeof(float) * max * max);
    C = aligned_alloc(64, sizeof(float) * max * max);
    sn_rng rng;
    sn_rng_seed(&rng, 1, 1);
    for (int i = 0; i < max * max; i++) {
        A[i] = sn_rng_normal(&rng);
        B[i] = sn_rng_normal(&rng);
        C[i] = 0.0f;
    }
    static const shape shapes[] = {
        {"square 64", 0, 0, 64, 64, 64},
        {"square 128", 0, 0, 128, 128, 128},
        {"square 256", 0, 0, 256, 256, 256},
        {"square 512", 0, 0, 512, 512, 512},
        {"square 1024", 0, 0, 1024, 1024, 1024},
        {"square 2048", 0, 0, 2048, 2048, 2048},
        /* layer in -> out, batch 128, W: [out, in]:
         * forward X W^T (NT), dW = dY^T X (TN), dX = dY W (NN) */
        {"784->256 fwd  X.W^T", 0, 1, 128, 256, 784},
        {"784->256 dW   dY^T.X", 1, 0, 256, 784, 128},
        {"784->256 dX   dY.W", 0, 0, 128, 784, 256},
        {"256->128 fwd  X.W^T", 0, 1, 128, 128, 256},
        {"256->128 dW   dY^T.X", 1, 0, 128, 256, 128},
        {"256->128 dX   dY.W", 0, 0, 128, 256, 128},
        {"128->10  fwd  X.W^T", 0, 1, 128, 10, 128},
        {"128->10  dW   dY^T.X", 1, 0, 10, 128, 128},
        {"128->10  dX   dY.W", 0, 0, 128, 128, 10},
    };
    const int nshapes = (int)(sizeof shapes / sizeof shapes[0]);
    /* Several passes over the whole table, keeping each figure's best: a
     * noisy moment (other work on the machine) spoils one pass, not all. */
    double ours[3][sizeof shapes / sizeof shapes[0]] = {{0}};
    double blas[3][sizeof shapes / sizeof shapes[0]] = {{0}};
    for (int pass = 0; pass < passes; pass++) {
        for (int threads = 1; threads <= 2; threads++) {
            sn_set_threads(threads);
            openblas_set_num_threads(threads);
            for (int i = 0; i < nshapes; i++) {
                double gf[2];
                measure(&shapes[i], threads, gf);
                double o = gf[0], b = gf[1];
                if (o > ours[threads][i]) ours[threads][i] = o;
                if (b > blas[threads][i]) blas[threads][i] = b;
            }
        }
    }
    printf("kernel: %s; OpenBLAS kernel: %s; best of %d passes; GFLOP/s = 2*M*N*K / time\n",
           sn_sgemm_kernel_name(), openblas_get_corename(), passes);
    double min_ratio = 1e30;
    for (int threads = 1; threads <= 2; threads++) {
        printf("\nthreads %d\n%-24s %5s %5s %5s %10s %10s %7s\n", threads, "shape", "M", "N", "K",
               "ours GF/s", "OpenBLAS", "ratio");
        double min_t = 1e30;
        for (int i = 0; i < nshapes; i++) {
            const shape *s = &shapes[i];
            double r = ours[threads][i] / blas[threads][i];
            printf("%-24s %5d %5d %5d %10.1f %10.1f %7.2f\n", s->name, s->M, s->N, s->K,
                   ours[threads][i], blas[threads][i], r);
            if (!strncmp(s->name, "square", 6) && s->M >= 256 && r < min_t) min_t = r;
        }
        printf("min ratio, square sizes >= 256, %d thread%s: %.2f\n", threads,
               threads > 1 ? "s" : "", min_t);
        if (min_t < min_ratio) min_ratio = min_t;
    }
    printf("\nsummary: min ours/OpenBLAS ratio over square sizes >= 256 (1 and 2 threads): %.2f\n",
           min_ratio);
    free(A), free(B), free(C);
    return 0;
}
