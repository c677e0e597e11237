/* The library's thread team: the kernels split their work into a fixed number
 * of chunks and hand them to sn_parallel, which runs each chunk exactly once
 * on one of the team's threads (the calling thread included).
 *
 * Each thread first takes the chunks of a range of its own (chunk c of C
 * on thread c·T/C of T, the caller being thread 0), then helps with the
 * others' leftovers, so which thread runs a chunk may change from run to
 * run; what a chunk computes
 * does not: the split depends only on the problem and on sn_get_threads(),
 * so results are bitwise identical for a given thread count. A chunk that
 * needs private scratch or a partial sum indexes it by its chunk number,
 * never by a thread number.
 *
 * Waiting is spin-then-block: an idle team thread polls for new work for a
 * bounded time (SN_SPIN_US) and then sleeps on a condition variable; the
 * caller, once no chunk is left to claim, polls for the last ones as long
 * and then sleeps too. Back-to-back parallel products (a recurrent layer's
 * time steps) thus never pay a wake-up, and a thread that the OS has
 * descheduled (another busy process on its core) never holds up the others
 * for more than the chunks it has already claimed: the chunks it did not
 * get to are taken by the threads that run. */
#ifndef SN_CORE_THREADS_H
#define SN_CORE_THREADS_H

/* Most chunks one sn_parallel call takes. */
#define SN_MAX_CHUNKS 65535

typedef void (*sn_chunk_fn)(void *ctx, int chunk);

/* Runs fn(ctx, c) for c = 0 .. chunks-1 (chunks <= SN_MAX_CHUNKS), each once,
 * and returns when all have finished. Runs them all on the calling thread
 * when sn_get_threads() is 1, when called from inside a chunk, or when
 * another thread is using the team at the moment. */
void sn_parallel(int chunks, sn_chunk_fn fn, void *ctx);

/* sn_parallel where chunks must start in increasing order: every thread
 * takes the lowest chunk not yet taken (sn_parallel gives each thread a
 * range of its own first, see threads.c), so that a chunk may wait for
 * lower ones without deadlock: they are all taken by running threads. */
void sn_parallel_ordered(int chunks, sn_chunk_fn fn, void *ctx);

/* Phased work: runs fn(ctx, p, c) for p = 0 .. phases-1 and c = 0 ..
 * chunks-1, each once, every call of phase p starting after all of phase
 * p - 1 have returned (a barrier between phases), and returns when all have
 * finished: one hand-off to the team for several dependent steps (a
 * model's layers on one sample). Split and run alone as sn_parallel does
 * (phases * chunks <= SN_MAX_CHUNKS); calls on one thread go in order,
 * phase by phase. A thread waits for the phase before with a bounded spin
 * that yields its core, never asleep: the calls it waits for are being run. */
typedef void (*sn_phase_fn)(void *ctx, int phase, int chunk);
void sn_parallel_phases(int phases, int chunks, sn_phase_fn fn, void *ctx);

/* Nonzero on a team thread (a worker, or the caller inside sn_parallel). */
int sn_in_parallel(void);

/* The calling thread's number in the team: 0 for the caller of
 * sn_parallel and for threads outside the team, 1.. for the workers. */
int sn_thread_index(void);

/* The rule for running alone (threads.c): after a job that every worker was
 * awake for, update with the caller's time working on chunks and waiting
 * for the others' (microseconds) and the time it ended; a wait of over
 * 200 us that is longer than the work is a stall, which starts a period of
 * running alone (2 ms, doubled at each stall in a row up to 256 ms; 32
 * jobs without a stall halve the next period). solo() tells whether a job
 * starting at `now` falls in such a period. */
typedef struct {
    double solo_until, backoff;
    int good;
} sn_team_backoff;
void sn_team_backoff_update(sn_team_backoff *b, double worked_us, double waited_us, double end_us);
int sn_team_backoff_solo(const sn_team_backoff *b, double now_us);

/* CPUs this process may run on. */
int sn_cpu_count(void);

#endif
