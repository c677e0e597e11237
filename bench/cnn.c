/* bench/cnn: training throughput (images/s) of the Fashion-MNIST CNN
 *
 *   conv 3x3x32, ReLU, max-pool 2, conv 3x3x64, ReLU, max-pool 2, flatten,
 *   dense 128, ReLU, dense 10, softmax cross-entropy, Adam (lr 1e-3)
 *
 * on batches of 128 images already in memory: WARMUP batches untimed, then
 * BATCHES timed (forward, backward, optimizer step), best of REPEATS, on 1
 * and 2 threads. bench/cnn_torch.py does the same in PyTorch; bench/run.sh
 * prints the ratio. Also images per CPU-second (process CPU time, all
 * threads), which a busy machine disturbs less than wall time. With
 * --profile, also the time per layer (forward and backward) of the last
 * repeat.
 *
 * With --spec FILE, the network of a .net file instead (e.g.
 * examples/fashion-cnn-bn.net; its optimizer, batches of 128 as above).
 *
 * usage: bench_cnn DATA_DIR [BATCHES] [REPEATS] [--profile] [--spec FILE]
 *        [--threads LIST]
 * (LIST as in bench/threads_opt.h; default 1,2) */
#include "model/model.h"
#include "optim/optim.h"
#include "scratchnet.h"
#include "threads_opt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH  128
#define WARMUP 5

static const char spec[] = "input 1x28x28\n"
                           "conv2d 32 3\nrelu\nmaxpool 2\n"
                           "conv2d 64 3\nrelu\nmaxpool 2\n"
                           "flatten\ndense 128\nrelu\ndense 10\n"
                           "loss softmax_xent\n"
                           "[train]\noptimizer adam lr=1e-3\n";

static double clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double now(void) {
    return clock_s(CLOCK_MONOTONIC);
}

static sn_tensor view(const sn_tensor *t, int n) {
    sn_tensor v = *t;
    v.owns = 0;
    v.size = v.size / (size_t)v.shape[0] * (size_t)n;
    v.shape[0] = n;
    return v;
}

/* One step layer by layer, adding each layer's forward and backward time. */
static void profiled_step(sn_model *m, const float *x, const int *labels, double *fw, double *bw) {
    int n = BATCH, L = m->nlayers;
    memcpy(m->act[0].data, x, (size_t)n * sn_model_input_size(m) * sizeof(float));
    for (int i = 0; i < L; i++) {
        sn_tensor a = view(&m->act[i], n), y = view(&m->act[i + 1], n);
        double t0 = now();
        m->layers[i]->ops->forward(m->layers[i], &a, &y, 1);
        fw[i] += now() - t0;
    }
    m->batch = n;
    m->out_view = view(&m->act[L], n);
    sn_tensor dout = view(&m->grad[L], n);
    sn_loss(m->loss, &m->out_view, labels, NULL, &dout);
    for (int i = L - 1; i >= 0; i--) {
        sn_tensor a = view(&m->act[i], n), y = view(&m->act[i + 1], n);
        sn_tensor dy = view(&m->grad[i + 1], n), dx = view(&m->grad[i], n);
        double t0 = now();
        m->layers[i]->ops->backward(m->layers[i], &a, &y, &dy, i > 0 ? &dx : NULL);
        bw[i] += now() - t0;
    }
}

int main(int argc, char **argv) {
    bench_threads bt;
    if (!bench_threads_parse(&argc, argv, &bt)) return 2;
    int profile = 0, npos = 0;
    const char *pos[3] = {NULL, NULL, NULL}, *net = spec;
    static char text[1 << 16];
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--profile") == 0) {
            profile = 1;
        } else if (strcmp(argv[i], "--spec") == 0 && i + 1 < argc) {
            FILE *f = fopen(argv[++i], "r");
            size_t len = f ? fread(text, 1, sizeof text - 1, f) : 0;
            if (!f || ferror(f) || len == sizeof text - 1) {
                fprintf(stderr, "bench_cnn: cannot read %s (or over 64 KiB)\n", argv[i]);
                if (f) fclose(f);
                return 2;
            }
            fclose(f);
            text[len] = '\0';
            net = text;
        } else if (npos < 3)
            pos[npos++] = argv[i];
    }
    if (!pos[0]) {
        fprintf(stderr, "usage: bench_cnn DATA_DIR [BATCHES] [REPEATS] [--profile] [--spec FILE] "
                        "[--threads LIST]\n");
        return 2;
    }
    int batches = pos[1] ? atoi(pos[1]) : 100, repeats = pos[2] ? atoi(pos[2]) : 2;
    if (batches < 1 || repeats < 1) {
        fprintf(stderr, "bench_cnn: BATCHES and REPEATS must be positive\n");
        return 2;
    }
    sn_error err = {0};
    sn_dataset train;
    if (sn_idx_load_dir(pos[0], "train", &train, &err) != SN_OK) {
        fprintf(stderr, "bench_cnn: %s\n", err.msg);
        return 1;
    }
    int nbatch = train.n / BATCH;
    for (int k = 0; k < bt.n; k++) {
        bench_threads_apply(&bt, k);
        sn_model *m = NULL;
        sn_optimizer *opt = NULL;
        if (sn_model_from_spec(net, "bench", 1, &m, &err) != SN_OK ||
            sn_model_reserve(m, BATCH, &err) != SN_OK ||
            sn_optimizer_new(m, sn_model_config(m), &opt, &err) != SN_OK) {
            fprintf(stderr, "bench_cnn: %s\n", err.msg);
            return 1;
        }
        double fw[SN_MAX_LAYERS] = {0}, bw[SN_MAX_LAYERS] = {0}, best = 1e30, t_opt = 0;
        double best_cpu = 1e30;
        long step = 0;
        for (int r = -1; r < repeats; r++) { /* r = -1: the warm-up */
            int count = r < 0 ? WARMUP : batches;
            int prof = profile && r == repeats - 1;
            double t0 = now(), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
            for (int b = 0; b < count; b++, step++) {
                size_t s = (size_t)(step % nbatch) * BATCH;
                const float *x = train.x + s * train.sample_size;
                if (prof) {
                    profiled_step(m, x, train.labels + s, fw, bw);
                    double t1 = now();
                    sn_optimizer_step(opt);
                    t_opt += now() - t1;
                } else {
                    sn_model_forward(m, x, BATCH, 1, NULL);
                    sn_model_backward(m, train.labels + s, NULL, NULL, NULL);
                    sn_optimizer_step(opt);
                }
            }
            double t = now() - t0, cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
            if (r >= 0 && (!prof || repeats == 1)) {
                if (t < best) best = t;
                if (cpu < best_cpu) best_cpu = cpu;
            }
        }
        /* images per second of wall time, and per second of CPU time summed
         * over the threads (steadier than wall time on a busy machine) */
        printf("scratchnet threads=%s images_per_s=%.0f images_per_cpu_s=%.0f\n", bt.label[k],
               batches * BATCH / best, batches * BATCH / best_cpu);
        if (profile) {
            for (int i = 0; i < m->nlayers; i++)
                printf("  %-40s forward %7.3f ms  backward %7.3f ms\n", m->layers[i]->desc,
                       1e3 * fw[i] / batches, 1e3 * bw[i] / batches);
            printf("  %-40s %7.3f ms\n", "optimizer", 1e3 * t_opt / batches);
        }
        fflush(stdout);
        sn_optimizer_free(opt);
        sn_model_free(m);
    }
    sn_dataset_free(&train);
    return 0;
}
