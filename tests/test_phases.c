/* Phased jobs (sn_parallel_phases, src/core/threads.h): every call (phase,
 * chunk) runs exactly once; no call of a phase starts before every call of
 * the phase before has returned, also when one of them is slow (a chunk
 * that sleeps) and over many back-to-back jobs on 1 to 4 threads; some
 * calls run on a worker; when the team is held by another thread for many
 * jobs in a row, the jobs after run alone for a while; from inside a chunk
 * of sn_parallel, and past
 * SN_MAX_CHUNKS calls, they run on the calling thread, phase by phase, in
 * order. */
#include "check.h"
#include "core/threads.h"
#include "scratchnet.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#define MAXP 8
#define MAXC 8

typedef struct {
    int phases, chunks;
    long slow_us; /* the call (1, chunks - 1) sleeps this long */
    atomic_int runs[MAXP][MAXC];
    atomic_int ended[MAXP]; /* calls of each phase that have returned */
    atomic_int early;       /* calls that started before their phase was due */
    atomic_int on_worker;
    int wait_helper; /* us that call (0, 0) waits at most for call (0, 1) to start */
    atomic_int started1;
    atomic_int order_bad; /* calls on one thread out of (phase, chunk) order */
    int last;             /* the last call's p * chunks + c, for in-order runs */
    int thread;           /* the thread that must run them */
} job;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void sleep_us(long us) {
    struct timespec ts = {us / 1000000, us % 1000000 * 1000};
    nanosleep(&ts, NULL);
}

static void call(void *ctx, int p, int c) {
    job *j = ctx;
    if (p > 0 && atomic_load(&j->ended[p - 1]) != j->chunks) atomic_fetch_add(&j->early, 1);
    if (sn_thread_index() > 0) atomic_fetch_add(&j->on_worker, 1);
    if (j->wait_helper && p == 0 && c == 0 && j->chunks > 1) /* until another thread takes (0, 1) */
        for (double t0 = now_s();
             !atomic_load(&j->started1) && now_s() - t0 < 1e-6 * j->wait_helper;)
            sched_yield();
    if (p == 0 && c == 1) atomic_store(&j->started1, 1);
    if (j->slow_us && p == 1 && c == j->chunks - 1) sleep_us(j->slow_us);
    for (volatile int k = 0; k < 500; k++) /* a microsecond or so, for a worker to take part */
        ;
    atomic_fetch_add(&j->runs[p][c], 1);
    atomic_fetch_add(&j->ended[p], 1);
}

static void reset(job *j, int phases, int chunks, long slow_us) {
    j->phases = phases, j->chunks = chunks, j->slow_us = slow_us;
    for (int p = 0; p < MAXP; p++) {
        atomic_store(&j->ended[p], 0);
        for (int c = 0; c < MAXC; c++) atomic_store(&j->runs[p][c], 0);
    }
    atomic_store(&j->early, 0);
    atomic_store(&j->on_worker, 0);
    atomic_store(&j->started1, 0);
    j->wait_helper = 0;
    atomic_store(&j->order_bad, 0);
    j->last = -1;
}

static int each_once(job *j) {
    for (int p = 0; p < j->phases; p++)
        for (int c = 0; c < j->chunks; c++)
            if (atomic_load(&j->runs[p][c]) != 1) return 0;
    return 1;
}

/* Runs `jobs` phased jobs whose first call waits for a helper; returns how
 * many went wrong, and adds the calls run on workers to *on_worker. */
static int run_many(int jobs, int phases, int chunks, long slow_us, long *on_worker) {
    static job j;
    int bad = 0;
    for (int r = 0; r < jobs; r++) {
        reset(&j, phases, chunks, slow_us);
        j.wait_helper = sn_get_threads() > 1 ? 2000 : 0; /* so that phases run side by side */
        sn_parallel_phases(phases, chunks, call, &j);
        bad += !each_once(&j) || atomic_load(&j.early) != 0;
        *on_worker += atomic_load(&j.on_worker);
    }
    return bad;
}

/* In-order check for the calls that must run on the calling thread. */
static void ordered_call(void *ctx, int p, int c) {
    job *j = ctx;
    int k = p * j->chunks + c;
    if (k != j->last + 1 || sn_thread_index() != j->thread) atomic_fetch_add(&j->order_bad, 1);
    j->last = k;
    atomic_fetch_add(&j->runs[p][c], 1);
}

static job nested;
static void nested_chunk(void *ctx, int c) {
    (void)ctx;
    if (c == 0) {
        nested.thread = sn_thread_index(); /* the team's thread that runs this chunk */
        sn_parallel_phases(nested.phases, nested.chunks, ordered_call, &nested);
    }
}

static int seq_chunks;
static long seq_next, seq_bad;
static void seq_call(void *ctx, int p, int c) {
    (void)ctx;
    seq_bad += (long)p * seq_chunks + c != seq_next || sn_thread_index() != 0;
    seq_next++;
}

/* The team held by another thread: both its chunks spin until `release`. */
static atomic_int holding, release, held_done;
static void hold_chunk(void *ctx, int c) {
    (void)ctx, (void)c;
    atomic_store(&holding, 1);
    while (!atomic_load(&release)) sched_yield();
}
static void *hold_team(void *arg) {
    (void)arg;
    sn_parallel(2, hold_chunk, NULL);
    atomic_store(&held_done, 1);
    return NULL;
}

/* A team that never comes: while another thread holds it, phased jobs run
 * on the caller, and jobs in a row like that start periods of running
 * alone, doubling up to 256 ms. Right after the team is free again, a job
 * whose first call waits 20 ms for a helper runs alone. Returns 1 when it
 * did (tried up to 3 times: the periods are measured on the clock). */
static int absent_team_runs_alone(void) {
    static job w;
    for (int attempt = 0; attempt < 3; attempt++) {
        atomic_store(&holding, 0), atomic_store(&release, 0), atomic_store(&held_done, 0);
        pthread_t t;
        if (pthread_create(&t, NULL, hold_team, NULL) != 0) return 0;
        while (!atomic_load(&holding)) sched_yield();
        /* stalls near 0, 2, 6, ... 254 and 510 ms: at 640 ms, the 256 ms period
         * that began near 510 ms is half gone */
        for (double t0 = now_s(); now_s() - t0 < 0.64;) {
            reset(&w, 2, 2, 0);
            sn_parallel_phases(2, 2, call, &w);
        }
        atomic_store(&release, 1);
        while (!atomic_load(&held_done)) sched_yield();
        reset(&w, 2, 2, 0);
        w.wait_helper = 20000;
        sn_parallel_phases(2, 2, call, &w);
        pthread_join(t, NULL);
        if (each_once(&w) && atomic_load(&w.on_worker) == 0) return 1;
    }
    return 0;
}

int main(void) {
    /* workers take part: a first call that waits up to 20 ms for another
     * thread to take the second; over 50 such jobs some worker gets a core.
     * First, before the slow calls below start a period of running alone. */
    sn_set_threads(2);
    {
        static job w;
        int helped = 0;
        for (int r = 0; r < 50 && !helped; r++) {
            reset(&w, 2, 2, 0);
            w.wait_helper = 20000;
            sn_parallel_phases(2, 2, call, &w);
            CHECK(each_once(&w) && atomic_load(&w.early) == 0);
            helped = atomic_load(&w.on_worker) > 0;
        }
        CHECK(helped);
    }
    for (int t = 1; t <= 4; t++) {
        sn_set_threads(t);
        long on_worker = 0;
        int bad = 0;
        for (int phases = 1; phases <= 6; phases++)
            for (int chunks = 1; chunks <= 5; chunks++)
                bad += run_many(200, phases, chunks, 0, &on_worker);
        bad += run_many(20, 3, t, 2000, &on_worker); /* a slow call in phase 1 */
        if (bad) fprintf(stderr, "%d threads: %d phased jobs went wrong\n", t, bad);
        CHECK(bad == 0);
        if (t == 1) CHECK(on_worker == 0);
        printf("%d threads: %ld calls on a worker\n", t, on_worker);
    }
    sn_set_threads(2);
    CHECK(absent_team_runs_alone());
    /* nested in a chunk of sn_parallel: on that thread, in order */
    reset(&nested, 3, 2, 0);
    sn_parallel(2, nested_chunk, NULL);
    CHECK(each_once(&nested));
    CHECK(atomic_load(&nested.order_bad) == 0);
    /* past SN_MAX_CHUNKS calls: alone, in order */
    seq_chunks = SN_MAX_CHUNKS / 2 + 1;
    sn_parallel_phases(2, seq_chunks, seq_call, NULL);
    CHECK(seq_next == 2L * seq_chunks);
    CHECK(seq_bad == 0);
    return check_report();
}
