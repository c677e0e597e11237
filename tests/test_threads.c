/* The thread team (src/core/threads.h): every chunk runs exactly once, on
 * 1 to 4 threads, across many back-to-back jobs (the hand-off word, late
 * workers, sleeping and waking); calls from inside a chunk and from several
 * outside threads at once run inline and still complete; sn_set_threads and
 * sn_get_threads; the rule for running alone after a thread stalls in the
 * middle of a job, on made-up timings, and (reported, not checked: it needs
 * a quiet machine) on a real stall. */
#include "check.h"
#include "core/threads.h"
#include "scratchnet.h"

#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#define MAXC 4096

static atomic_int runs[MAXC];
static atomic_int on_worker; /* chunks run by a worker (thread index > 0) */

static void count_chunk(void *ctx, int c) {
    (void)ctx;
    atomic_fetch_add(&runs[c], 1);
    if (sn_thread_index() > 0) atomic_fetch_add(&on_worker, 1);
}

static int each_once(int chunks) {
    for (int c = 0; c < chunks; c++) atomic_store(&runs[c], 0);
    sn_parallel(chunks, count_chunk, NULL);
    for (int c = 0; c < chunks; c++)
        if (atomic_load(&runs[c]) != 1) return 0;
    return 1;
}

static void sleep_us(long us) {
    struct timespec ts = {us / 1000000, us % 1000000 * 1000};
    nanosleep(&ts, NULL);
}

/* Every chunk once, for many sizes, back to back and with pauses long
 * enough for the workers to fall asleep. */
static void test_each_once(void) {
    for (int threads = 1; threads <= 4; threads++) {
        sn_set_threads(threads);
        CHECK(sn_get_threads() == threads);
        int ok = 1;
        for (int job = 0; job < 20000; job++) {
            int chunks = 1 + (job * 7919) % 37;
            if (job % 1000 == 999) chunks = MAXC;
            if (job % 500 == 0) sleep_us(1000);
            ok &= each_once(chunks);
        }
        CHECK(ok);
    }
}

/* Ranges and order. sn_parallel: thread t's first chunk is c = C·t/T, and
 * its range is done by it or by the others, each chunk once (above). Here:
 * sn_parallel_ordered, where a chunk starts only after every lower one was
 * taken: when chunk c enters, at most T - 1 lower chunks (one per other
 * thread, taken but not yet entered) have not entered. Each chunk works a
 * little so that the workers join in. */
static atomic_int entered[MAXC], out_of_order, ordered_on_worker;
static void order_chunk(void *ctx, int c) {
    int threads = *(const int *)ctx, below = 0;
    for (int k = 0; k < c; k++) below += atomic_load(&entered[k]);
    if (below < c - (threads - 1)) atomic_fetch_add(&out_of_order, 1);
    atomic_store(&entered[c], 1);
    if (sn_thread_index() > 0) atomic_fetch_add(&ordered_on_worker, 1);
    volatile double x = 1;
    for (int i = 0; i < 20000; i++) x = x * 1.0000001 + 1e-9;
}

static void test_ordered(void) {
    for (int threads = 2; threads <= 4; threads++) {
        sn_set_threads(threads);
        atomic_store(&out_of_order, 0);
        atomic_store(&ordered_on_worker, 0);
        for (int job = 0; job < 20; job++) {
            for (int c = 0; c < 400; c++) atomic_store(&entered[c], 0);
            sn_parallel_ordered(400, order_chunk, &threads);
            int all = 1;
            for (int c = 0; c < 400; c++) all &= atomic_load(&entered[c]);
            CHECK(all);
        }
        CHECK(atomic_load(&out_of_order) == 0);
        printf("ordered jobs on %d threads: %d of 8000 chunks on workers\n", threads,
               atomic_load(&ordered_on_worker));
    }
}

/* A chunk that starts a job of its own: the inner job runs inline. */
static atomic_int inner_total, outer_inline;
static void inner_chunk(void *ctx, int c) {
    (void)ctx, (void)c;
    atomic_fetch_add(&inner_total, 1);
}
static void outer_chunk(void *ctx, int c) {
    (void)ctx, (void)c;
    if (sn_in_parallel()) atomic_fetch_add(&outer_inline, 1);
    sn_parallel(5, inner_chunk, NULL);
}

static void test_nested(void) {
    sn_set_threads(2);
    atomic_store(&inner_total, 0);
    atomic_store(&outer_inline, 0);
    sn_parallel(8, outer_chunk, NULL);
    CHECK(atomic_load(&inner_total) == 40);
    CHECK(atomic_load(&outer_inline) == 8);
    CHECK(!sn_in_parallel());
}

/* Several outside threads submitting at once: each job completes. */
typedef struct {
    atomic_int hits[64];
} tally;
static void tally_chunk(void *ctx, int c) {
    atomic_fetch_add(&((tally *)ctx)->hits[c], 1);
}
static void *submitter(void *arg) {
    int *ok = arg;
    for (int k = 0; k < 2000; k++) {
        tally t;
        for (int c = 0; c < 64; c++) atomic_init(&t.hits[c], 0);
        sn_parallel(64, tally_chunk, &t);
        for (int c = 0; c < 64; c++)
            if (atomic_load(&t.hits[c]) != 1) *ok = 0;
    }
    return NULL;
}

static void test_concurrent_callers(void) {
    sn_set_threads(2);
    pthread_t t[3];
    int ok[3] = {1, 1, 1};
    for (int i = 0; i < 3; i++) pthread_create(&t[i], NULL, submitter, &ok[i]);
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    CHECK(ok[0] && ok[1] && ok[2]);
}

/* Chunk 1 on a worker sleeps 5 ms (a thread descheduled mid-job); chunk 0
 * waits until chunk 1 has been taken. */
static atomic_int taken, stalled;
static void stall_chunk(void *ctx, int c) {
    (void)ctx;
    if (c == 1) {
        atomic_store(&taken, 1);
        if (sn_thread_index() > 0) {
            atomic_store(&stalled, 1);
            sleep_us(5000);
        }
        return;
    }
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do clock_gettime(CLOCK_MONOTONIC, &t);
    while (!atomic_load(&taken) && t.tv_sec - t0.tv_sec < 1);
}

/* 64 chunks of 50 us; returns how many a worker ran. */
static void busy_chunk(void *ctx, int c) {
    (void)ctx;
    count_chunk(NULL, c);
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do clock_gettime(CLOCK_MONOTONIC, &t);
    while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 50000);
}
static int probe(void) {
    atomic_store(&on_worker, 0);
    sn_parallel(64, busy_chunk, NULL);
    return atomic_load(&on_worker);
}

/* The rule on made-up timings (microseconds). */
static void test_backoff_rule(void) {
    sn_team_backoff b = {0};
    sn_team_backoff_update(&b, 50, 30, 1000); /* a normal job */
    CHECK(!sn_team_backoff_solo(&b, 1001));
    sn_team_backoff_update(&b, 5000, 4000, 2000); /* long wait, longer work */
    CHECK(!sn_team_backoff_solo(&b, 2001));
    sn_team_backoff_update(&b, 50, 150, 3000); /* short wait */
    CHECK(!sn_team_backoff_solo(&b, 3001));
    sn_team_backoff_update(&b, 50, 3000, 10000); /* a stall: 2 ms alone */
    CHECK(sn_team_backoff_solo(&b, 11999));
    CHECK(!sn_team_backoff_solo(&b, 12001));
    sn_team_backoff_update(&b, 50, 3000, 20000); /* another: 4 ms */
    CHECK(sn_team_backoff_solo(&b, 23999));
    CHECK(!sn_team_backoff_solo(&b, 24001));
    for (int k = 0; k < 20; k++) sn_team_backoff_update(&b, 50, 3000, 30000);
    CHECK(sn_team_backoff_solo(&b, 30000 + 255999)); /* at most 256 ms */
    CHECK(!sn_team_backoff_solo(&b, 30000 + 256001));
    for (int k = 0; k < 32; k++) sn_team_backoff_update(&b, 50, 30, 300000);
    sn_team_backoff_update(&b, 50, 3000, 400000); /* halved by 32 good jobs, doubled */
    CHECK(sn_team_backoff_solo(&b, 400000 + 255999));
    CHECK(!sn_team_backoff_solo(&b, 400000 + 256001));
    for (int k = 0; k < 32 * 9; k++) sn_team_backoff_update(&b, 50, 30, 700000);
    sn_team_backoff_update(&b, 50, 3000, 800000); /* back to 2 ms */
    CHECK(sn_team_backoff_solo(&b, 801999));
    CHECK(!sn_team_backoff_solo(&b, 802001));
}

/* A real stall: the next job runs on the caller alone. An attempt counts
 * when a worker took part in the job just before and the stall happened on
 * a worker. Printed only: on a busy machine a worker may sleep through the
 * job after the stall even without the rule. */
static void report_runs_alone_after_stall(void) {
    sn_set_threads(2);
    int counted = 0, alone = 0;
    for (int attempt = 0; attempt < 5; attempt++) {
        sleep_us(300000); /* past any earlier period of running alone */
        int before = probe();
        atomic_store(&taken, 0);
        atomic_store(&stalled, 0);
        sn_parallel(2, stall_chunk, NULL);
        int after = probe();
        if (before > 0 && atomic_load(&stalled)) {
            counted++;
            alone += after == 0;
        }
    }
    printf("after a stall on a worker: %d of %d jobs ran on the caller alone\n", alone, counted);
}

/* Right after a stall the caller may run jobs alone: a chunk still sees
 * that it is inside a job, so nested work splits as it does beside the
 * workers (the kernels pick their thread count by sn_in_parallel). */
static void test_nested_after_stall(void) {
    sn_set_threads(2);
    for (int attempt = 0; attempt < 5; attempt++) {
        sleep_us(300000);
        probe();
        atomic_store(&taken, 0);
        atomic_store(&stalled, 0);
        sn_parallel(2, stall_chunk, NULL);
        test_nested();
    }
}

int main(void) {
    sn_set_threads(0);
    CHECK(sn_get_threads() == sn_cpu_count());
    sn_set_threads(1000);
    CHECK(sn_get_threads() == 64);
    test_each_once();
    test_nested();
    test_ordered();
    test_concurrent_callers();
    test_backoff_rule();
    report_runs_alone_after_stall();
    test_nested_after_stall();
    return check_report();
}
