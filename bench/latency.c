/* bench/latency: single-sample inference latency inside the library, for
 * the 784-256-128-10 ReLU MLP and the CNN of examples/fashion-cnn.net:
 * sn_model_forward on one Fashion-MNIST image (evaluation mode, the model
 * reserved for a batch of 1), CALLS calls after 1,000 untimed ones, cycling
 * through the first 1,000 test images. Prints the median and the fastest
 * tenth percentile in microseconds per call, on the library's default
 * threads (OMP_NUM_THREADS=1 for one).
 *
 * A dense layer on one sample in evaluation mode reads a transposed copy of
 * its weights (src/kernels/gemv.c), made when the model is reserved and
 * made again whenever its parameters may have changed, and an input that
 * is zero skips its row of it: 49.8% of the pixels of these images are 0,
 * and about half of each ReLU's outputs, so about half of the MLP's 940 KB
 * of weights is read per call. The MLP's three dense layers and two ReLUs
 * run as one chain, each thread applying the ReLU to the outputs it made.
 * One core streams the copy's rows from L2 at about 120 GB/s, so a call
 * takes about 1 us plus 8.6 ns per nonzero pixel (a 1 KB row of the first
 * layer): the time follows the image (of these 1,000, a tenth have fewer
 * than 240 nonzero pixels, half fewer than 405, a tenth more than 533), so
 * the fastest tenth and the median lie further apart than before. The
 * chain is not split between threads any more: split, each core read every
 * other 512 bytes of the first layer's rows, and two threads were no
 * faster than one (gemv.c: SN_GEMV_T_SCALE). Before the copy, all of W was
 * read in place, one dot product per output: 7.5 us at 1 thread; before
 * that, the GEMM's one-row path transposed W in registers on every call:
 * 21.4 us. Figures from one run, old and new binaries interleaved, are in
 * the README.
 *
 * usage: bench_latency DATA_DIR [CALLS] */
#include "scratchnet.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static const char mlp[] = "input 1x28x28\nflatten\ndense 256\nrelu\ndense 128\nrelu\n"
                          "dense 10\nloss softmax_xent\n";
static const char cnn[] = "input 1x28x28\nconv2d 32 3\nrelu\nmaxpool 2\nconv2d 64 3\nrelu\n"
                          "maxpool 2\nflatten\ndense 128\nrelu\ndense 10\nloss softmax_xent\n";

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e6 * (double)ts.tv_sec + 1e-3 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_latency DATA_DIR [CALLS]\n");
        return 2;
    }
    int calls = argc > 2 ? atoi(argv[2]) : 20000;
    if (calls < 10) calls = 10;
    sn_error err = {0};
    sn_dataset test;
    if (sn_idx_load_dir(argv[1], "t10k", &test, &err) != SN_OK) {
        fprintf(stderr, "bench_latency: %s\n", err.msg);
        return 1;
    }
    double *t = malloc(sizeof(double) * calls);
    const char *specs[2] = {mlp, cnn}, *names[2] = {"mlp-784-256-128-10", "cnn"};
    for (int k = 0; k < 2; k++) {
        sn_model *m = NULL;
        if (sn_model_from_spec(specs[k], "bench", 1, &m, &err) != SN_OK ||
            sn_model_reserve(m, 1, &err) != SN_OK) {
            fprintf(stderr, "bench_latency: %s\n", err.msg);
            return 1;
        }
        int samples = test.n < 1000 ? test.n : 1000;
        float sink = 0;
        for (int i = -1000; i < calls; i++) {
            const float *x = test.x + (size_t)((i + 1000) % samples) * test.sample_size;
            double t0 = now_us();
            sn_status s = sn_model_forward(m, x, 1, 0, &err);
            double t1 = now_us();
            if (s != SN_OK) {
                fprintf(stderr, "bench_latency: %s\n", err.msg);
                return 1;
            }
            sink += sn_model_output(m)->data[0];
            if (i >= 0) t[i] = t1 - t0;
        }
        qsort(t, calls, sizeof(double), cmp);
        printf("scratchnet latency %s batch=1 median_us=%.2f p10_us=%.2f (checksum %g)\n", names[k],
               t[calls / 2], t[calls / 10], (double)sink);
        sn_model_free(m);
    }
    free(t);
    sn_dataset_free(&test);
    return 0;
}
