/* How steady is the machine itself? One thread runs a fixed amount of work of
 * one kind and prints its rate, so that back-to-back runs of it give the
 * spread (max/min) that the machine shows with no scratchnet code in the way.
 * bench/threads.sh runs it beside the training benchmarks: a training
 * benchmark cannot be steadier than the machine under it.
 *
 *   fma:    independent multiply-adds on registers only (no memory traffic);
 *           prints GFLOP/s. Varies only with the core's clock and with time
 *           taken from this thread (other processes, the hypervisor).
 *   stream: a[i] = b[i] + s * c[i] over three 8 MiB arrays (beyond L2); prints
 *           GB/s moved. Varies also with the memory system's other users.
 *   sync:   the fma work on THREADS threads in lock step, as a training step
 *           runs: slices of about 20 us each, and every thread waits (spinning)
 *           for all the others at the end of each slice. Prints GFLOP/s of all
 *           threads together. Varies also when the machine takes one thread's
 *           core away for a moment: the other threads then wait for it.
 *
 *   l2:     every thread reads its own 1 MiB buffer over and over (half a
 *           core's 2 MiB L2, as the recurrent layers keep their W_hh), one
 *           multiply-add per loaded vector; prints GB/s read by all threads.
 *           Varies also when the core's L2 is not the thread's alone (a
 *           neighbour on the host evicting it) or when the buffer's physical
 *           pages crowd some of the cache's sets.
 *
 * fma, stream and l2 run THREADS independent copies and print their total
 * rate.
 *
 *   share:  what it costs two threads (on two cores) to share data, not a
 *           rate: the round trip of a cache line passed to and fro (one
 *           thread writes a flag, the other answers), and the time to
 *           rewrite a 1 MiB buffer that the other thread has just read,
 *           against one it has not touched. Where a line takes long to
 *           cross, a thread team gains less from its second core, the more
 *           so the more data its threads pass to each other; rewriting
 *           lines the other core holds copies of pays that crossing line by
 *           line.
 *
 * usage: bench_steady fma|stream|sync|l2 [seconds] [threads]
 *        bench_steady share
 *        (default 0.5 s of work on 1 thread; sync and l2: 2 threads) */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* 12 independent chains of 16-lane vectors, kept in registers: enough in
 * flight to keep two FMA ports busy (latency 4) without touching memory.
 * AVX-512 FMA where the build targets it; portable vector C elsewhere. */
typedef float v16 __attribute__((vector_size(64)));
#if defined(__AVX512F__)
#include <immintrin.h>
#define FMA(x) (x = (v16)_mm512_fmadd_ps((__m512)x, (__m512)m, (__m512)a))
#else /* ISO C mode does not contract x * m + a into one instruction */
#define FMA(x) (x = x * m + a)
#endif

static atomic_int arrived, phase; /* the lock-step barrier of sync */
static int nthreads;

static void barrier(void) {
    int p = atomic_load(&phase);
    if (atomic_fetch_add(&arrived, 1) == nthreads - 1) {
        atomic_store(&arrived, 0);
        atomic_store(&phase, p + 1);
    } else
        while (atomic_load(&phase) == p) __asm__ volatile("pause");
}

/* inner: multiply-add rounds per slice; lockstep: wait for every thread
 * after each slice (then every thread runs the same number of slices). */
static double fma_rate(double seconds, long inner, int lockstep) {
    v16 m, a, x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11;
    for (int l = 0; l < 16; l++) {
        m[l] = 0.999999f, a[l] = 1e-7f;
        x0[l] = x1[l] = x2[l] = x3[l] = x4[l] = x5[l] = 1e-3f * (float)l;
        x6[l] = x7[l] = x8[l] = x9[l] = x10[l] = x11[l] = 2e-3f * (float)l;
    }
    long rounds = 0, total = lockstep ? (long)(seconds / 20e-6) : 0;
    double t0 = now(), t;
    do {
        for (long k = 0; k < inner; k++) {
            FMA(x0), FMA(x1), FMA(x2), FMA(x3), FMA(x4), FMA(x5);
            FMA(x6), FMA(x7), FMA(x8), FMA(x9), FMA(x10), FMA(x11);
        }
        rounds++;
        if (lockstep) barrier();
        t = now() - t0;
    } while (lockstep ? rounds < total : t < seconds);
    v16 sum = x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + x10 + x11;
    float sink = 0;
    for (int l = 0; l < 16; l++) sink += sum[l];
    if (sink == 12345.0f) puts(""); /* keeps the chains alive */
    return rounds * (double)inner * 12 * 16 * 2 / t / 1e9;
}

static double stream_rate(double seconds) {
    const size_t n = (8u << 20) / sizeof(float);
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *c = malloc(n * sizeof *c);
    if (!a || !b || !c) {
        fprintf(stderr, "bench_steady: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) a[i] = 0, b[i] = (float)(i & 255), c[i] = 1.0f;
    long rounds = 0;
    double t0 = now(), t;
    do {
        float s = 1e-3f * (float)(rounds & 7);
        for (size_t i = 0; i < n; i++) a[i] = b[i] + s * c[i];
        __asm__ volatile("" ::"r"(a) : "memory");
        rounds++;
        t = now() - t0;
    } while (t < seconds);
    double gbs = rounds * 3.0 * n * sizeof(float) / t / 1e9;
    free(a), free(b), free(c);
    return gbs;
}

/* Passes over a private 1 MiB buffer: 12 accumulators, each loaded vector
 * multiplied into one of them, so the loads (two per cycle from L1, fewer
 * from L2) and not the multiply-adds bound the loop. */
static double l2_rate(double seconds) {
    const size_t n = (1u << 20) / sizeof(float);
    float *buf = NULL;
    if (posix_memalign((void **)&buf, 64, n * sizeof *buf) != 0) {
        fprintf(stderr, "bench_steady: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) buf[i] = 1.0f + 1e-6f * (float)(i & 1023);
    v16 acc[12];
    for (int c = 0; c < 12; c++)
        for (int l = 0; l < 16; l++) acc[c][l] = 1e-3f * (float)(c + l);
    const v16 a = {1e-7f, 1e-7f, 1e-7f, 1e-7f, 1e-7f, 1e-7f, 1e-7f, 1e-7f,
                   1e-7f, 1e-7f, 1e-7f, 1e-7f, 1e-7f, 1e-7f, 1e-7f, 1e-7f};
    long rounds = 0;
    double t0 = now(), t;
    do {
        for (size_t i = 0; i + 12 * 16 <= n; i += 12 * 16)
            for (int c = 0; c < 12; c++) {
                v16 m;
                memcpy(&m, buf + i + 16 * c, sizeof m);
#if defined(__AVX512F__)
                acc[c] = (v16)_mm512_fmadd_ps((__m512)acc[c], (__m512)m, (__m512)a);
#else
                acc[c] = acc[c] * m + a;
#endif
            }
        __asm__ volatile("" ::"r"(buf) : "memory");
        rounds++;
        t = now() - t0;
    } while (t < seconds);
    v16 sum = acc[0];
    for (int c = 1; c < 12; c++) sum += acc[c];
    float sink = 0;
    for (int l = 0; l < 16; l++) sink += sum[l];
    if (sink == 12345.0f) puts("");
    free(buf);
    return rounds * (double)(n / 192 * 192) * sizeof(float) / t / 1e9;
}

/* ---- share -------------------------------------------------------------- */

#define SHARE_TRIPS  100000
#define SHARE_FLOATS (1 << 18) /* 1 MiB */
#define SHARE_ROUNDS 50
static _Alignas(64) atomic_int flag;
static float *shared;

static void wait_flag(int v) {
    while (atomic_load_explicit(&flag, memory_order_acquire) != v) {
    }
}

static void *share_other(void *arg) {
    (void)arg;
    for (int i = 0; i < SHARE_TRIPS; i++) {
        wait_flag(2 * i + 1);
        atomic_store_explicit(&flag, 2 * i + 2, memory_order_release);
    }
    for (int pass = 0; pass < 2; pass++)
        for (int r = 0; r < SHARE_ROUNDS; r++) {
            int base = 2 * SHARE_TRIPS + 2 * (pass * SHARE_ROUNDS + r);
            wait_flag(base + 1);
            volatile float sink = 0;
            if (pass == 0) { /* then nothing: the buffer stays the writer's */
                v16 acc = {0};
                for (int i = 0; i < SHARE_FLOATS; i += 16) acc += *(const v16 *)(shared + i);
                sink = acc[0];
            }
            (void)sink;
            atomic_store_explicit(&flag, base + 2, memory_order_release);
        }
    return NULL;
}

/* Rewrites the buffer SHARE_ROUNDS times, each after the other thread's
 * turn (a read of it, or nothing); returns the mean time of a rewrite, us. */
static double rewrite_us(int pass) {
    double t = 0;
    for (int r = 0; r < SHARE_ROUNDS; r++) {
        int base = 2 * SHARE_TRIPS + 2 * (pass * SHARE_ROUNDS + r);
        atomic_store_explicit(&flag, base + 1, memory_order_release);
        wait_flag(base + 2);
        double t0 = now();
        for (int i = 0; i < SHARE_FLOATS; i += 16) {
            v16 v = {(float)r, (float)i};
            *(v16 *)(shared + i) = v;
        }
        t += now() - t0;
    }
    return 1e6 * t / SHARE_ROUNDS;
}

static int share(void) {
    shared = aligned_alloc(64, SHARE_FLOATS * sizeof(float));
    if (!shared) return 1;
    memset(shared, 0, SHARE_FLOATS * sizeof(float));
    pthread_t t;
    if (pthread_create(&t, NULL, share_other, NULL)) {
        fprintf(stderr, "bench_steady: cannot start a thread\n");
        free(shared);
        return 1;
    }
    double t0 = now();
    for (int i = 0; i < SHARE_TRIPS; i++) {
        atomic_store_explicit(&flag, 2 * i + 1, memory_order_release);
        wait_flag(2 * i + 2);
    }
    double trip = 1e9 * (now() - t0) / SHARE_TRIPS;
    double read = rewrite_us(0), alone = rewrite_us(1);
    pthread_join(t, NULL);
    free(shared);
    printf("share: line round trip %.0f ns; rewriting 1 MiB the other thread read %.1f us, "
           "that it did not %.1f us\n",
           trip, read, alone);
    return 0;
}

typedef struct {
    int kind; /* 0 fma, 1 stream, 2 sync, 3 l2 */
    double seconds, rate;
} job;

static void *run(void *arg) {
    job *j = arg;
    if (j->kind == 1)
        j->rate = stream_rate(j->seconds);
    else if (j->kind == 3)
        j->rate = l2_rate(j->seconds);
    else if (j->kind == 0)
        j->rate = fma_rate(j->seconds, 1L << 20, 0);
    else
        j->rate = fma_rate(j->seconds, 8192, 1); /* 8192 rounds: ~20 us */
    return NULL;
}

int main(int argc, char **argv) {
    if (argc == 2 && !strcmp(argv[1], "share")) return share();
    static const char *kinds[] = {"fma", "stream", "sync", "l2"};
    int kind = -1;
    for (int k = 0; argc >= 2 && k < 4; k++)
        if (!strcmp(argv[1], kinds[k])) kind = k;
    if (argc < 2 || argc > 4 || kind < 0) {
        fprintf(stderr, "usage: bench_steady fma|stream|sync|l2 [seconds] [threads]\n"
                        "       bench_steady share\n");
        return 2;
    }
    double seconds = argc >= 3 ? atof(argv[2]) : 0.5;
    if (!(seconds > 0 && seconds <= 60)) {
        fprintf(stderr, "bench_steady: seconds must be in (0, 60], got '%s'\n", argv[2]);
        return 2;
    }
    nthreads = argc == 4 ? atoi(argv[3]) : kind >= 2 ? 2 : 1;
    if (nthreads < 1 || nthreads > 64) {
        fprintf(stderr, "bench_steady: threads must be in 1..64, got '%s'\n", argv[3]);
        return 2;
    }
    pthread_t tid[64];
    job jobs[64];
    for (int i = 0; i < nthreads; i++) {
        jobs[i] = (job){kind, seconds, 0};
        if (i && pthread_create(&tid[i], NULL, run, &jobs[i])) {
            fprintf(stderr, "bench_steady: cannot start thread %d\n", i);
            return 1;
        }
    }
    run(&jobs[0]);
    double rate = jobs[0].rate;
    for (int i = 1; i < nthreads; i++) pthread_join(tid[i], NULL), rate += jobs[i].rate;
    if (kind == 1 || kind == 3)
        printf("%s %.2f GB/s\n", kinds[kind], rate);
    else
        printf("%s %.1f GFLOP/s\n", kinds[kind], rate);
    return 0;
}
