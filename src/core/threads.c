/* The thread team (see threads.h).
 *
 * One job at a time. The caller publishes fn, ctx and the chunk count, then
 * cuts the chunks into one contiguous range per team thread (the caller is
 * thread 0), each range in one 64-bit word
 *   claim[t] = generation << 32 | end << 16 | next
 * A thread first takes the chunks of its own range from the front (next + 1
 * by compare-and-swap), then those left in the others' ranges from the back
 * (end - 1); a thread adds the number of chunks it took to `done` once it
 * has run them all, and the caller returns when done == chunks. Because
 * the generation travels in the same word, a worker that wakes late can
 * never take a chunk of a job that has ended: its compare-and-swap fails on
 * the old generation. fn and ctx are read only after a chunk has been
 * taken, while the job cannot end.
 *
 * Why ranges: with chunks handed out first come, first served, which thread
 * ran which part of the data changed from job to job, so the data one job
 * left in a core's private cache (a layer's outputs, the rows of a weight
 * matrix and their gradients) was read by the next job from the other core.
 * With ranges, chunk c of a job of C chunks on T threads runs on thread
 * c·T/C whenever that thread keeps up, and kernels that cut their data the
 * same way in successive jobs (the optimizer step after the gradient
 * products, the next step's forward product) find it in their own cache.
 * Taking the others' leftovers from the back keeps that true for all but
 * the last chunks of a thread that is late, and still lets a descheduled
 * thread hold up the others for no more than the chunk it is running.
 *
 * Idle workers poll `gen` for up to SN_SPIN_US microseconds, then sleep on
 * `wake`; the caller signals `wake` only when someone sleeps. The caller
 * waits for the last chunks the same way (`finished`). Polling pauses for
 * SN_PAUSE_US and then also yields the core every few microseconds
 * (sched_yield), so that a poller sharing its core with a thread that has
 * work (ours or another process's) hands the core over. Workers are created on the first job that
 * needs them and live until the process exits.
 *
 * Another process on the machine can deschedule a worker for a whole time
 * slice (milliseconds) in the middle of a chunk, and the caller then waits
 * for it. When that happens (the caller waited longer than STALL_US and
 * longer than it worked, although every worker was awake when the job was
 * published), the caller runs the following jobs alone for a while: 2 ms,
 * doubled at every new stall up to 256 ms, halved after 32 jobs without
 * one. Which thread runs a chunk never changes a result, so this costs
 * nothing in determinism; on a quiet machine it never triggers. */
#define _GNU_SOURCE /* sched_getaffinity */
#include "core/threads.h"

#include "scratchnet.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

/* How long an idle thread polls before it sleeps. Long enough to span the
 * serial work between two parallel products of a training step (a few to a
 * few tens of microseconds), short enough that a thread sharing its core
 * with another busy process soon gives the core back. */
#ifndef SN_SPIN_US
#define SN_SPIN_US 100
#endif

/* How long of that a poller only pauses before it also yields its core. */
#ifndef SN_PAUSE_US
#define SN_PAUSE_US 20
#endif

#define MAX_WORKERS 63
#define STALL_US    200.0
#define BACKOFF_MIN 2000.0
#define BACKOFF_MAX 256000.0

/* One thread's range of the current job, alone on its cache line. */
typedef struct {
    _Alignas(64) _Atomic uint64_t w;
} claim_word;

static struct {
    claim_word claim[MAX_WORKERS + 1];
    atomic_uint gen;
    atomic_int chunks;
    atomic_int ordered; /* 1: one range, everyone takes from its front */
    atomic_int done;
    _Atomic(sn_chunk_fn) fn;
    _Atomic(void *) ctx;
    atomic_int team;     /* threads wanted for this job, caller included */
    atomic_int sleepers; /* workers asleep (or about to be) on `wake` */
    atomic_int waiting;  /* the caller asleep (or about to be) on `finished` */
    atomic_flag busy;    /* a caller owns the team */
    int workers;         /* started; this and the rest guarded by `busy` */
    sn_team_backoff solo;
    pthread_mutex_t m;
    pthread_cond_t wake, finished;
} P = {.busy = ATOMIC_FLAG_INIT,
       .m = PTHREAD_MUTEX_INITIALIZER,
       .wake = PTHREAD_COND_INITIALIZER,
       .finished = PTHREAD_COND_INITIALIZER};

static _Thread_local int in_team, thread_index;
static atomic_int threads_set; /* sn_set_threads; 0: not set */

int sn_cpu_count(void) {
#ifdef __linux__
    cpu_set_t s;
    if (sched_getaffinity(0, sizeof s, &s) == 0 && CPU_COUNT(&s) > 0) return CPU_COUNT(&s);
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* Default thread count: OMP_NUM_THREADS when set (its first number), as
 * the library has always honoured it, else every CPU the process may use. */
static int default_threads(void) {
    const char *e = getenv("OMP_NUM_THREADS");
    if (e && *e) {
        char *end;
        long n = strtol(e, &end, 10);
        if (end != e && n > 0) return n > MAX_WORKERS + 1 ? MAX_WORKERS + 1 : (int)n;
    }
    return sn_cpu_count();
}

void sn_set_threads(int n) {
    if (n <= 0) n = sn_cpu_count();
    if (n > MAX_WORKERS + 1) n = MAX_WORKERS + 1;
    atomic_store(&threads_set, n);
}

int sn_get_threads(void) {
    int n = atomic_load_explicit(&threads_set, memory_order_relaxed);
    if (n) return n;
    n = default_threads();
    int zero = 0;
    atomic_compare_exchange_strong(&threads_set, &zero, n);
    return atomic_load(&threads_set);
}

int sn_in_parallel(void) {
    return in_team;
}

int sn_thread_index(void) {
    return thread_index;
}

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e6 * (double)ts.tv_sec + 1e-3 * (double)ts.tv_nsec;
}

/* One poll of a waiting loop, i = 0, 1, ...; returns 0 once SN_SPIN_US
 * have passed since *t0 (set on the first call that reads the clock). The
 * first SN_PAUSE_US pause the core only; after that each poll also yields
 * it (sched_yield). Most waits inside a training step (the serial work
 * between two parallel jobs, a thread finishing its last chunk) are shorter
 * than SN_PAUSE_US: they then cost no system call, and the new job is seen
 * within a pause rather than after a yield returns. */
static int poll_on(int i, double *t0) {
    if (i % 64) {
        cpu_relax();
        return 1;
    }
    double t = now_us();
    if (*t0 == 0) *t0 = t;
    if (t - *t0 < SN_PAUSE_US) {
        cpu_relax();
        return 1;
    }
    sched_yield();
    return t - *t0 <= SN_SPIN_US;
}

/* Takes one chunk of range t, from the front (own) or from the back;
 * -1 when the range is empty (or belongs to an ended job). */
static int take(int t, int own) {
    _Atomic uint64_t *p = &P.claim[t].w;
    uint64_t w = atomic_load_explicit(p, memory_order_acquire);
    for (;;) {
        int end = (int)(w >> 16 & 0xFFFF), next = (int)(w & 0xFFFF);
        if (next >= end) return -1;
        uint64_t to = own ? w + 1 : w - ((uint64_t)1 << 16);
        if (atomic_compare_exchange_weak_explicit(p, &w, to, memory_order_acq_rel,
                                                  memory_order_acquire))
            return own ? next : end - 1;
    }
}

/* Adds n chunks run to `done`; the add that completes the job wakes a
 * caller asleep on it. */
static void count_done(int n) {
    if (n == 0) return;
    int chunks = atomic_load_explicit(&P.chunks, memory_order_relaxed);
    if (atomic_fetch_add(&P.done, n) + n == chunks && atomic_load(&P.waiting)) {
        pthread_mutex_lock(&P.m);
        pthread_cond_signal(&P.finished);
        pthread_mutex_unlock(&P.m);
    }
}

/* Thread `me` of a team of `team`: its own range, then the others'
 * leftovers, until no chunk is left. fn and ctx are read once a chunk is
 * taken, and the chunks it runs are added to `done` once, at the end: the
 * job cannot end before that add, so every chunk taken here is one of the
 * same job. (One add per chunk made the line of `done`, which also holds
 * fn, ctx and the chunk count, cross between the cores at every chunk; a
 * line takes about 200 ns to cross on a 2-core Zen 5 virtual machine, where
 * the softmax of 2,048 rows in two jobs of 356 chunks, 103 times, took
 * 28.3-29.1 ms on 2 threads with an add per chunk, 25.4-26.7 ms with one
 * per thread, and 36.6 ms on one thread.) */
static void run_chunks(int me, int team) {
    int c, n = 0, ordered = atomic_load_explicit(&P.ordered, memory_order_relaxed);
    sn_chunk_fn fn = NULL;
    void *ctx = NULL;
    for (int i = 0; i < team; i++) {
        int t = ordered ? 0 : (me + i) % team;
        while ((c = take(t, ordered || i == 0)) >= 0) {
            if (!n++) {
                fn = atomic_load_explicit(&P.fn, memory_order_relaxed);
                ctx = atomic_load_explicit(&P.ctx, memory_order_relaxed);
            }
            fn(ctx, c);
        }
        if (ordered) break;
    }
    count_done(n);
}

/* Waits until `gen` differs from `seen` and returns it. */
static unsigned wait_for_job(unsigned seen) {
    double t0 = 0;
    for (int i = 0;; i++) {
        unsigned g = atomic_load_explicit(&P.gen, memory_order_acquire);
        if (g != seen) return g;
        if (!poll_on(i, &t0)) break;
    }
    unsigned g;
    pthread_mutex_lock(&P.m);
    atomic_fetch_add(&P.sleepers, 1);
    while ((g = atomic_load(&P.gen)) == seen) pthread_cond_wait(&P.wake, &P.m);
    atomic_fetch_sub(&P.sleepers, 1);
    pthread_mutex_unlock(&P.m);
    return g;
}

static void *worker(void *arg) {
    in_team = 1;
    thread_index = (int)(intptr_t)arg;
    unsigned seen = 0;
    for (;;) {
        seen = wait_for_job(seen);
        int team = atomic_load_explicit(&P.team, memory_order_relaxed);
        if (thread_index < team) run_chunks(thread_index, team);
    }
    return NULL;
}

/* The caller's wait for the chunks other threads have taken. */
static void wait_done(int chunks) {
    double t0 = 0;
    for (int i = 0;; i++) {
        if (atomic_load_explicit(&P.done, memory_order_acquire) == chunks) return;
        if (!poll_on(i, &t0)) break;
    }
    pthread_mutex_lock(&P.m);
    atomic_store(&P.waiting, 1);
    while (atomic_load(&P.done) != chunks) pthread_cond_wait(&P.finished, &P.m);
    atomic_store(&P.waiting, 0);
    pthread_mutex_unlock(&P.m);
}

static void start_workers(int n) {
    while (P.workers < n) {
        pthread_t t;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        int ok = pthread_create(&t, &a, worker, (void *)(intptr_t)(P.workers + 1)) == 0;
        pthread_attr_destroy(&a);
        if (!ok) break; /* fewer workers: the caller takes their chunks */
        P.workers++;
    }
}

static void run_inline(int chunks, sn_chunk_fn fn, void *ctx) {
    for (int c = 0; c < chunks; c++) fn(ctx, c);
}

void sn_team_backoff_update(sn_team_backoff *b, double worked, double waited, double end) {
    if (waited > STALL_US && waited > worked) {
        b->backoff = b->backoff == 0 ? BACKOFF_MIN : b->backoff * 2;
        if (b->backoff > BACKOFF_MAX) b->backoff = BACKOFF_MAX;
        b->solo_until = end + b->backoff;
        b->good = 0;
    } else if (b->backoff > 0 && ++b->good >= 32) {
        b->backoff = b->backoff / 2 < BACKOFF_MIN ? 0 : b->backoff / 2;
        b->good = 0;
    }
}

int sn_team_backoff_solo(const sn_team_backoff *b, double now) {
    return now < b->solo_until;
}

static void run_job(int chunks, sn_chunk_fn fn, void *ctx, int ordered) {
    int team = sn_get_threads();
    if (chunks <= 1 || chunks > SN_MAX_CHUNKS || team <= 1 || in_team ||
        atomic_flag_test_and_set(&P.busy)) {
        run_inline(chunks, fn, ctx);
        return;
    }
    double t0 = now_us();
    if (sn_team_backoff_solo(&P.solo, t0)) {
        /* alone, but still a team's job: the chunks see sn_in_parallel()
         * and so split nested work as they would beside the workers */
        in_team = 1;
        run_inline(chunks, fn, ctx);
        in_team = 0;
        atomic_flag_clear(&P.busy);
        return;
    }
    start_workers(team - 1);
    in_team = 1;
    atomic_store_explicit(&P.fn, fn, memory_order_relaxed);
    atomic_store_explicit(&P.ctx, ctx, memory_order_relaxed);
    atomic_store_explicit(&P.team, team, memory_order_relaxed);
    atomic_store_explicit(&P.done, 0, memory_order_relaxed);
    atomic_store_explicit(&P.chunks, chunks, memory_order_relaxed);
    atomic_store_explicit(&P.ordered, ordered, memory_order_relaxed);
    unsigned g = atomic_load_explicit(&P.gen, memory_order_relaxed) + 1;
    for (int t = 0; t < team; t++) {
        uint64_t lo = (uint64_t)chunks * (uint64_t)t / (uint64_t)team,
                 hi = (uint64_t)chunks * (uint64_t)(t + 1) / (uint64_t)team;
        if (ordered) /* all of it in thread 0's range, the others empty */
            lo = t == 0 ? 0 : (uint64_t)chunks, hi = (uint64_t)chunks;
        atomic_store_explicit(&P.claim[t].w, (uint64_t)g << 32 | hi << 16 | lo,
                              memory_order_release);
    }
    atomic_store(&P.gen, g);
    int all_awake = atomic_load(&P.sleepers) == 0 && P.workers >= team - 1;
    if (!all_awake) {
        pthread_mutex_lock(&P.m);
        pthread_cond_broadcast(&P.wake);
        pthread_mutex_unlock(&P.m);
    }
    run_chunks(0, team);
    double t1 = now_us();
    wait_done(chunks);
    if (all_awake) {
        double t2 = now_us();
        sn_team_backoff_update(&P.solo, t1 - t0, t2 - t1, t2);
    }
    in_team = 0;
    atomic_flag_clear(&P.busy);
}

/* ---- phased jobs (sn_parallel_phases) -------------------------------------
 *
 * One sn_parallel job of phases * chunks items, item i = p * chunks + c.
 * Items are claimed in increasing order (sn_parallel_ordered: every thread
 * takes the lowest item not yet taken, and a thread on its own runs them in
 * order), so when an item of phase p
 * starts, every item of the phases before it has been taken by a thread
 * that is running it or has run it: waiting for them cannot deadlock.
 * `finished` counts the items run to the end, and an item of phase p waits
 * until it reaches p * chunks. That means all of phases < p have finished:
 * items of phase p or later wait before they can finish, so the first of
 * them to finish saw the count reach p * chunks while only items of earlier
 * phases, p * chunks of them in all, could have finished.
 *
 * The caller's time in these waits is a stall like a long wait in
 * sn_parallel (a worker descheduled in the middle of a phase): it feeds the
 * same rule for running alone, with a state of its own under its own lock
 * (a caller that finds the lock taken skips the rule this time). So does a
 * team that never comes: ABSENT_JOBS jobs in a row in which the caller ran
 * every item (the other cores busy with other processes, the team with
 * another caller, or the workers asleep at every job because jobs come far
 * apart) count as one stall. Each such job costs the hand-off (its atomics,
 * a wake-up) and gains nothing; a worker spinning on a free core takes its
 * first item within microseconds. */
#define ABSENT_JOBS 8
typedef struct {
    sn_phase_fn fn;
    void *ctx;
    int chunks;
    atomic_int finished;
    atomic_int helped; /* a worker ran an item */
    double waited;     /* the calling thread's (index 0) time in the waits, us */
} phase_job;

static struct {
    atomic_flag lock;
    sn_team_backoff solo;
    int absent; /* jobs in a row the team did not come to */
} PH = {.lock = ATOMIC_FLAG_INIT};

static void phase_item(void *arg, int i) {
    phase_job *j = arg;
    int p = i / j->chunks, need = p * j->chunks;
    if (atomic_load_explicit(&j->finished, memory_order_acquire) < need) {
        double t0 = now_us();
        for (int k = 0; atomic_load_explicit(&j->finished, memory_order_acquire) < need; k++)
            if (k < 64)
                cpu_relax();
            else
                sched_yield();
        if (thread_index == 0) j->waited += now_us() - t0;
    }
    if (thread_index) atomic_store_explicit(&j->helped, 1, memory_order_relaxed);
    j->fn(j->ctx, p, i - need);
    atomic_fetch_add_explicit(&j->finished, 1, memory_order_release);
}

void sn_parallel_phases(int phases, int chunks, sn_phase_fn fn, void *ctx) {
    if (phases <= 0 || chunks <= 0) return;
    int alone =
        chunks == 1 || (long)phases * chunks > SN_MAX_CHUNKS || sn_get_threads() <= 1 || in_team;
    double t0 = 0;
    if (!alone) {
        t0 = now_us();
        if (!atomic_flag_test_and_set(&PH.lock)) {
            alone = sn_team_backoff_solo(&PH.solo, t0);
            atomic_flag_clear(&PH.lock);
        }
    }
    if (alone) {
        for (int p = 0; p < phases; p++)
            for (int c = 0; c < chunks; c++) fn(ctx, p, c);
        return;
    }
    phase_job j = {.fn = fn, .ctx = ctx, .chunks = chunks};
    atomic_init(&j.finished, 0);
    atomic_init(&j.helped, 0);
    sn_parallel_ordered(phases * chunks, phase_item, &j);
    double t1 = now_us();
    if (!atomic_flag_test_and_set(&PH.lock)) {
        double worked = t1 - t0 - j.waited, waited = j.waited;
        PH.absent = atomic_load_explicit(&j.helped, memory_order_relaxed) ? 0 : PH.absent + 1;
        if (PH.absent >= ABSENT_JOBS) { /* as a stall */
            PH.absent = 0;
            waited = worked + STALL_US + 1;
        }
        sn_team_backoff_update(&PH.solo, worked, waited, t1);
        atomic_flag_clear(&PH.lock);
    }
}

void sn_parallel(int chunks, sn_chunk_fn fn, void *ctx) {
    run_job(chunks, fn, ctx, 0);
}

void sn_parallel_ordered(int chunks, sn_chunk_fn fn, void *ctx) {
    run_job(chunks, fn, ctx, 1);
}
