/* The process group and its collectives: MPI_COMM_WORLD when built with
 * -DSN_MPI=ON, else one process for which every collective is the identity.
 *
 * Every wait polls with a deadline (sn_dist_set_timeout) instead of blocking
 * in MPI_Wait: a rank that stops answering becomes an error naming the
 * operation. Blocking collectives are their non-blocking forms plus that
 * wait. MPI reports errors as return codes (MPI_ERRORS_RETURN), turned into
 * SN_ERR_IO with MPI's message. */
#include "dist/dist.h"

#include <stdio.h>
#include <string.h>

static double batch_weight = 1.0;
static long share_offset, share_global;
static sn_error sticky;

void sn_dist_set_share(long offset, long n_local, long n_global) {
    batch_weight = n_global > 0 ? (double)n_local / (double)n_global : 1.0;
    share_offset = offset;
    share_global = n_global;
}

long sn_dist_share_offset(void) {
    return share_offset;
}

long sn_dist_share_global(void) {
    return share_global;
}

double sn_dist_batch_weight(void) {
    return batch_weight;
}

void sn_dist_share(long n, int rank, int size, long *offset, long *count) {
    *offset = n * rank / size;
    *count = n * (rank + 1) / size - *offset;
}

uint64_t sn_dist_hash(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

sn_status sn_dist_take_error(sn_error *err) {
    sn_status s = sticky.code;
    if (s != SN_OK && err) *err = sticky;
    sticky.code = SN_OK;
    return s;
}

void sn_dist_layer_sum(double *v, int n) {
    sn_error err = {0};
    if (sn_dist_sum_f64(v, n, &err) != SN_OK && sticky.code == SN_OK) sticky = err;
}

#ifdef SN_MPI

#include "dist/mpi_private.h"

#include <sched.h>
#include <stdlib.h>

static int inited_here, finalized;
static double timeout_s = 600;
static MPI_Request reqs[SN_DIST_MAX_REQ];
static int req_used[SN_DIST_MAX_REQ];

int sn_dist_available(void) {
    return 1;
}

static int mpi_up(void) {
    int up = 0, down = 0;
    MPI_Initialized(&up);
    MPI_Finalized(&down);
    return up && !down;
}

sn_status sn_dist_mpi_fail(sn_error *err, int rc, const char *what) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) snprintf(msg, sizeof msg, "code %d", rc);
    return sn_fail(err, SN_ERR_IO, "rank %d: %s: MPI error: %s", sn_dist_rank(), what, msg);
}

/* Started by an MPI launcher (mpirun, mpiexec, srun)? Its environment says
 * so. Otherwise the program runs as one process without MPI: a singleton
 * MPI_Init would start a runtime daemon for nothing (and fails where files
 * cannot be written). */
static int launched(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE",
                                       NULL};
    for (int i = 0; vars[i]; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

sn_status sn_dist_init(int *argc, char ***argv, sn_error *err) {
    if (mpi_up() || !launched()) return SN_OK;
    int provided = 0;
    int rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    if (rc != MPI_SUCCESS) return sn_fail(err, SN_ERR_IO, "MPI_Init_thread failed (code %d)", rc);
    inited_here = 1;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    if (provided < MPI_THREAD_FUNNELED)
        return sn_fail(err, SN_ERR_IO, "MPI does not support MPI_THREAD_FUNNELED");
    return SN_OK;
}

void sn_dist_finalize(void) {
    if (inited_here && mpi_up() && !finalized) {
        sn_dist_node_finalize();
        MPI_Finalize();
        finalized = 1;
    }
}

int sn_dist_rank(void) {
    int r = 0;
    if (mpi_up()) MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}

int sn_dist_size(void) {
    int p = 1;
    if (mpi_up()) MPI_Comm_size(MPI_COMM_WORLD, &p);
    return p;
}

void sn_dist_set_timeout(double seconds) {
    timeout_s = seconds;
}

void sn_dist_abort(int code) {
    if (mpi_up() && sn_dist_size() > 1) MPI_Abort(MPI_COMM_WORLD, code ? code : 1);
}

static sn_status req_new(int *id, sn_error *err) {
    for (int i = 0; i < SN_DIST_MAX_REQ; i++)
        if (!req_used[i]) {
            req_used[i] = 1;
            reqs[i] = MPI_REQUEST_NULL;
            *id = i;
            return SN_OK;
        }
    return sn_fail(err, SN_ERR_ARG, "more than %d collectives in flight", SN_DIST_MAX_REQ);
}

void sn_dist_progress(void) {
    if (!mpi_up()) return;
    for (int i = 0; i < SN_DIST_MAX_REQ; i++)
        if (req_used[i] && reqs[i] != MPI_REQUEST_NULL) {
            int done = 0;
            MPI_Test(&reqs[i], &done, MPI_STATUS_IGNORE); /* errors surface in wait */
            (void)done;
        }
}

sn_status sn_dist_wait_request(MPI_Request *r, const char *what, sn_error *err) {
    double t0 = MPI_Wtime();
    for (long spin = 0;; spin++) {
        int done = 0;
        int rc = MPI_Test(r, &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) return sn_dist_mpi_fail(err, rc, what);
        if (done) return SN_OK;
        if ((spin & 255) == 255) {
            double t = MPI_Wtime() - t0;
            if (timeout_s > 0 && t > timeout_s)
                return sn_fail(err, SN_ERR_IO,
                               "rank %d: a collective did not complete within %g s (another "
                               "rank stopped or is stuck)",
                               sn_dist_rank(), timeout_s);
            /* every 256 polls, let other work run: on a loaded machine the
             * rank we wait for may be the one waiting for this core (10-20 %
             * more images/s at load 9 than yielding only after 1 ms); with
             * nothing else to run it returns at once */
            sched_yield();
        }
    }
}

sn_status sn_dist_wait(const int *req, int n, sn_error *err) {
    if (!mpi_up()) return SN_OK;
    sn_status s = SN_OK;
    for (int k = 0; k < n && s == SN_OK; k++)
        s = sn_dist_wait_request(&reqs[req[k]], "collective", err);
    for (int k = 0; k < n; k++) req_used[req[k]] = 0; /* on error the job is aborted anyway */
    return s;
}

sn_status sn_dist_isum_f32(float *v, size_t n, int *req, sn_error *err) {
    *req = -1;
    if (!mpi_up()) return sn_fail(err, SN_ERR_ARG, "MPI is not initialized");
    if (n > 0x7fffffff) return sn_fail(err, SN_ERR_ARG, "all-reduce of %zu values", n);
    sn_status s = req_new(req, err);
    if (s != SN_OK) return s;
    int rc =
        MPI_Iallreduce(MPI_IN_PLACE, v, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &reqs[*req]);
    if (rc != MPI_SUCCESS) {
        req_used[*req] = 0;
        return sn_dist_mpi_fail(err, rc, "MPI_Iallreduce");
    }
    return SN_OK;
}

/* A non-blocking collective started by `start` and waited with the deadline. */
#define RUN_COLLECTIVE(what, call)                                                                 \
    do {                                                                                           \
        if (!mpi_up() || sn_dist_size() == 1) break;                                               \
        int id_;                                                                                   \
        sn_status s_ = req_new(&id_, err);                                                         \
        if (s_ != SN_OK) return s_;                                                                \
        MPI_Request *r_ = &reqs[id_];                                                              \
        int rc_ = call;                                                                            \
        if (rc_ != MPI_SUCCESS) {                                                                  \
            req_used[id_] = 0;                                                                     \
            return sn_dist_mpi_fail(err, rc_, what);                                               \
        }                                                                                          \
        return sn_dist_wait(&id_, 1, err);                                                         \
    } while (0)

sn_status sn_dist_sum_f64(double *v, int n, sn_error *err) {
    RUN_COLLECTIVE("MPI_Iallreduce",
                   MPI_Iallreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD, r_));
    return SN_OK;
}

sn_status sn_dist_sum_f32(float *v, size_t n, sn_error *err) {
    if (n > 0x7fffffff) return sn_fail(err, SN_ERR_ARG, "all-reduce of %zu values", n);
    RUN_COLLECTIVE("MPI_Iallreduce",
                   MPI_Iallreduce(MPI_IN_PLACE, v, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, r_));
    return SN_OK;
}

sn_status sn_dist_allgather(const void *mine, size_t n, void *all, sn_error *err) {
    if (n > 0x7fffffff) return sn_fail(err, SN_ERR_ARG, "all-gather of %zu bytes", n);
    if (!mpi_up() || sn_dist_size() == 1) {
        memmove(all, mine, n);
        return SN_OK;
    }
    RUN_COLLECTIVE("MPI_Iallgather", MPI_Iallgather(mine, (int)n, MPI_BYTE, all, (int)n, MPI_BYTE,
                                                    MPI_COMM_WORLD, r_));
    return SN_OK;
}

sn_status sn_dist_bcast(void *v, size_t n, int root, sn_error *err) {
    if (n > 0x7fffffff) return sn_fail(err, SN_ERR_ARG, "broadcast of %zu bytes", n);
    RUN_COLLECTIVE("MPI_Ibcast", MPI_Ibcast(v, (int)n, MPI_BYTE, root, MPI_COMM_WORLD, r_));
    return SN_OK;
}

#else /* one process */

int sn_dist_available(void) {
    return 0;
}
sn_status sn_dist_init(int *argc, char ***argv, sn_error *err) {
    (void)argc, (void)argv, (void)err;
    return SN_OK;
}
void sn_dist_finalize(void) {}
int sn_dist_rank(void) {
    return 0;
}
int sn_dist_size(void) {
    return 1;
}
void sn_dist_set_timeout(double seconds) {
    (void)seconds;
}
void sn_dist_abort(int code) {
    (void)code;
}
sn_status sn_dist_sum_f64(double *v, int n, sn_error *err) {
    (void)v, (void)n, (void)err;
    return SN_OK;
}
sn_status sn_dist_sum_f32(float *v, size_t n, sn_error *err) {
    (void)v, (void)n, (void)err;
    return SN_OK;
}
sn_status sn_dist_allgather(const void *mine, size_t n, void *all, sn_error *err) {
    (void)err;
    memmove(all, mine, n);
    return SN_OK;
}
sn_status sn_dist_bcast(void *v, size_t n, int root, sn_error *err) {
    (void)v, (void)n, (void)root, (void)err;
    return SN_OK;
}
sn_status sn_dist_isum_f32(float *v, size_t n, int *req, sn_error *err) {
    (void)v, (void)n, (void)err;
    *req = 0;
    return SN_OK;
}
void sn_dist_progress(void) {}
sn_status sn_dist_wait(const int *req, int n, sn_error *err) {
    (void)req, (void)n, (void)err;
    return SN_OK;
}

#endif
