/* The shared-memory all-reduce: the ranks of a node sum their vectors in an
 * MPI-3 shared window (MPI_Win_allocate_shared on the communicator of
 * MPI_Comm_split_type(MPI_COMM_TYPE_SHARED)), and across nodes each slice
 * goes through MPI_Iallreduce among the ranks of the same local rank.
 *
 * A rank's segment of the window holds two areas of n floats (64-byte
 * aligned). A step, with L ranks on the node:
 *
 *   1. each rank writes its vector into its area of this step's parity;
 *   2. barrier (the writes are visible);
 *   3. reduce-scatter: local rank q sums slice q of every rank's area, in
 *      local rank order 0, 1, ..., L − 1, into slice q of its own area (no
 *      other rank reads slice q of that area before step 5);
 *   4. several nodes: MPI_Iallreduce of slice q among the ranks of local
 *      rank q, one per node: the node sums in node order, as MPI does it;
 *   5. barrier (the sums are visible);
 *   6. each rank copies slice q of owner q's area, for every q: the sum.
 *
 * Why two areas. Nothing waits after 6: a rank that is done goes on to its
 * next step and writes its next vector (1) while a slower rank may still
 * read this step's sums (6). It writes the other area, so the sums stay
 * intact; it comes back to this area only in the step after, past that
 * step's barrier 2, which the slower rank reaches only once it has finished
 * 6. Within a step, rank q writes (3, 4) only slice q of its own area,
 * which no other rank reads before barrier 5.
 *
 * The sums are computed in a fixed order (local ranks in order, then the
 * nodes as MPI_Iallreduce sums them), so two runs are bitwise identical and
 * every rank gets the same values. For 2 ranks the sum a + b is the one
 * MPI_Allreduce gives (float addition is commutative).
 *
 * Why it beats MPI_Allreduce on one node: every byte crosses the caches
 * once each way (written once, read by its slice owner, the sums read by
 * every rank), with no copies into and out of MPI's transport buffers in
 * fragments, and both ranks' reductions run at once.
 *
 * MPI_Win_free is collective: a rank freeing its window while another has
 * failed (and will never call it) would hang. So a freed node group is kept
 * until sn_dist_finalize, which every rank reaches only when all went well
 * (after an error the job ends with MPI_Abort). */
#include "dist/dist.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN 16 /* floats: 64 bytes */

#ifdef SN_MPI

#include "dist/mpi_private.h"

struct sn_dist_node {
    size_t n, npad;     /* floats, npad rounded up to ALIGN */
    int lrank, lsize;   /* within the node */
    int nnodes;         /* nodes (1: all ranks share one) */
    int parity, result; /* the area written next, the area holding the sums */
    size_t used;        /* floats of the last sum */
    float **seg;        /* every local rank's segment (2 areas) */
    MPI_Comm node, cross;
    MPI_Win win;
    struct sn_dist_node *retired;
};

static sn_dist_node *retired; /* freed, waiting for sn_dist_finalize */

/* SN_DIST_RANKS_PER_NODE=N: ranks r with the same r / N form a "node", as
 * if they ran on one machine (they must share memory: for tests of the
 * hierarchical path on one machine). 0: unset. */
static sn_status forced_per_node(int *per, sn_error *err) {
    *per = 0;
    const char *v = getenv("SN_DIST_RANKS_PER_NODE");
    if (!v || !*v) return SN_OK;
    char *end;
    long k = strtol(v, &end, 10);
    if (*end || k < 1 || k > 1 << 20)
        return sn_fail(err, SN_ERR_ARG,
                       "SN_DIST_RANKS_PER_NODE=%s: expected a whole number of ranks, at least 1",
                       v);
    *per = (int)k;
    return SN_OK;
}

static void release(sn_dist_node *nd) {
    if (nd->win != MPI_WIN_NULL) {
        MPI_Win_unlock_all(nd->win);
        MPI_Win_free(&nd->win);
    }
    if (nd->cross != MPI_COMM_NULL) MPI_Comm_free(&nd->cross);
    if (nd->node != MPI_COMM_NULL) MPI_Comm_free(&nd->node);
    sn_free(nd->seg);
    sn_free(nd);
}

void sn_dist_node_finalize(void) {
    while (retired) {
        sn_dist_node *nd = retired;
        retired = nd->retired;
        release(nd);
    }
}

void sn_dist_node_free(sn_dist_node *nd) {
    if (!nd) return;
    nd->retired = retired;
    retired = nd;
}

sn_status sn_dist_node_new(size_t n, int want, sn_dist_node **out, sn_error *err) {
    *out = NULL;
    const int P = sn_dist_size(), rank = sn_dist_rank();
    if (P == 1 || want == SN_ALLREDUCE_MPI) return SN_OK;
    if (n > 0x7fffffff) return sn_fail(err, SN_ERR_ARG, "all-reduce of %zu values", n);
    int per;
    sn_status s = forced_per_node(&per, err);
    if (s != SN_OK) return s;
    sn_dist_node *nd = sn_alloc(1, sizeof *nd);
    if (!nd) return sn_fail(err, SN_ERR_NOMEM, "shared-memory all-reduce: out of memory");
    nd->node = nd->cross = MPI_COMM_NULL;
    nd->win = MPI_WIN_NULL;
    int rc = per ? MPI_Comm_split(MPI_COMM_WORLD, rank / per, rank, &nd->node)
                 : MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL,
                                       &nd->node);
    if (rc != MPI_SUCCESS) {
        release(nd);
        return sn_dist_mpi_fail(err, rc, "MPI_Comm_split_type (the ranks of this node)");
    }
    MPI_Comm_set_errhandler(nd->node, MPI_ERRORS_RETURN);
    MPI_Comm_rank(nd->node, &nd->lrank);
    MPI_Comm_size(nd->node, &nd->lsize);
    /* every rank's node size and local rank: equal nodes? how many? */
    int mine[2] = {nd->lsize, nd->lrank}, *all = sn_alloc((size_t)P * 2, sizeof(int));
    if (!all) {
        release(nd);
        return sn_fail(err, SN_ERR_NOMEM, "shared-memory all-reduce: out of memory");
    }
    s = sn_dist_allgather(mine, sizeof mine, all, err);
    int equal = 1;
    for (int q = 0; s == SN_OK && q < P; q++) {
        equal &= all[2 * q] == nd->lsize;
        nd->nnodes += all[2 * q + 1] == 0;
    }
    sn_free(all);
    /* auto: one node of several ranks; shm: any equal nodes */
    if (s != SN_OK || !equal || (want == SN_ALLREDUCE_AUTO && (nd->nnodes > 1 || nd->lsize < 2))) {
        release(nd); /* every rank decides alike: all use MPI_Iallreduce */
        return s;
    }
    if (nd->nnodes > 1) {
        rc = MPI_Comm_split(MPI_COMM_WORLD, nd->lrank, rank, &nd->cross);
        if (rc != MPI_SUCCESS) {
            release(nd);
            return sn_dist_mpi_fail(err, rc, "MPI_Comm_split (the ranks of each local rank)");
        }
        MPI_Comm_set_errhandler(nd->cross, MPI_ERRORS_RETURN);
    }
    const int L = nd->lsize;
    nd->n = n;
    nd->npad = (n + ALIGN - 1) / ALIGN * ALIGN;
    nd->seg = sn_alloc((size_t)L, sizeof *nd->seg);
    if (!nd->seg) {
        release(nd);
        return sn_fail(err, SN_ERR_NOMEM, "shared-memory all-reduce: out of memory");
    }
    float *base = NULL;
    rc = MPI_Win_allocate_shared((MPI_Aint)((2 * nd->npad + ALIGN) * sizeof(float)), 1,
                                 MPI_INFO_NULL, nd->node, &base, &nd->win);
    if (rc != MPI_SUCCESS) {
        nd->win = MPI_WIN_NULL;
        release(nd);
        return sn_dist_mpi_fail(err, rc, "MPI_Win_allocate_shared");
    }
    MPI_Win_set_errhandler(nd->win, MPI_ERRORS_RETURN);
    for (int q = 0; q < L; q++) {
        MPI_Aint size;
        int disp;
        void *p = NULL;
        rc = MPI_Win_shared_query(nd->win, q, &size, &disp, &p);
        if (rc != MPI_SUCCESS) {
            release(nd);
            return sn_dist_mpi_fail(err, rc, "MPI_Win_shared_query");
        }
        /* the window's segments are not 64-byte aligned: align them */
        nd->seg[q] = (float *)(((uintptr_t)p + 63) & ~(uintptr_t)63);
    }
    MPI_Win_lock_all(MPI_MODE_NOCHECK, nd->win);
    *out = nd;
    return SN_OK;
}

int sn_dist_node_ranks(const sn_dist_node *nd) {
    return nd->lsize;
}

int sn_dist_node_count(const sn_dist_node *nd) {
    return nd->nnodes;
}

float *sn_dist_node_mine(sn_dist_node *nd) {
    return nd->seg[nd->lrank] + (size_t)nd->parity * nd->npad;
}

/* Slice q of L of a sum of n floats: [bound(q), bound(q + 1)), its start
 * a multiple of 64 bytes (no cache line is written by two ranks). */
static size_t bound(size_t n, int q, int L) {
    size_t b = q >= L ? n : (n + ALIGN - 1) / ALIGN * (size_t)q / (size_t)L * ALIGN;
    return b < n ? b : n;
}

/* Every local rank's writes to the window are visible to all. */
static sn_status barrier(sn_dist_node *nd, sn_error *err) {
    MPI_Win_sync(nd->win);
    MPI_Request rq;
    int rc = MPI_Ibarrier(nd->node, &rq);
    if (rc != MPI_SUCCESS) return sn_dist_mpi_fail(err, rc, "MPI_Ibarrier");
    sn_status s = sn_dist_wait_request(&rq, "shared-memory all-reduce", err);
    MPI_Win_sync(nd->win);
    return s;
}

/* dst[i] = Σ_q src[q][i] over [lo, hi), q in order. */
static void sum_slice(float *dst, float *const *src, int L, size_t off, size_t lo, size_t hi) {
    if (L == 2) {
        const float *a = src[0] + off, *b = src[1] + off;
        for (size_t i = lo; i < hi; i++) dst[i] = a[i] + b[i];
        return;
    }
    enum { CHUNK = 512 };
    float t[CHUNK];
    for (size_t c = lo; c < hi; c += CHUNK) {
        size_t m = hi - c < CHUNK ? hi - c : CHUNK;
        const float *a = src[0] + off + c, *b = src[1] + off + c;
        for (size_t i = 0; i < m; i++) t[i] = a[i] + b[i];
        for (int q = 2; q < L; q++) {
            const float *x = src[q] + off + c;
            for (size_t i = 0; i < m; i++) t[i] += x[i];
        }
        memcpy(dst + c, t, m * sizeof(float));
    }
}

sn_status sn_dist_node_reduce(sn_dist_node *nd, size_t n, sn_error *err) {
    if (n > nd->n) n = nd->n;
    const int L = nd->lsize, q = nd->lrank;
    const size_t off = (size_t)nd->parity * nd->npad, lo = bound(n, q, L), hi = bound(n, q + 1, L);
    float *mine = nd->seg[q] + off;
    nd->used = n;
    nd->result = nd->parity;
    nd->parity ^= 1;
    sn_status s = L > 1 ? barrier(nd, err) : SN_OK;
    if (s != SN_OK) return s;
    if (L > 1) sum_slice(mine, nd->seg, L, off, lo, hi);
    if (nd->nnodes > 1 && hi > lo) {
        MPI_Request rq;
        int rc = MPI_Iallreduce(MPI_IN_PLACE, mine + lo, (int)(hi - lo), MPI_FLOAT, MPI_SUM,
                                nd->cross, &rq);
        if (rc != MPI_SUCCESS) return sn_dist_mpi_fail(err, rc, "MPI_Iallreduce (across nodes)");
        s = sn_dist_wait_request(&rq, "all-reduce across nodes", err);
        if (s != SN_OK) return s;
    }
    return L > 1 ? barrier(nd, err) : SN_OK;
}

void sn_dist_node_read(const sn_dist_node *nd, size_t off, float *dst, size_t n) {
    const size_t end = off + n, area = (size_t)nd->result * nd->npad;
    for (int q = 0; q < nd->lsize; q++) {
        size_t lo = bound(nd->used, q, nd->lsize), hi = bound(nd->used, q + 1, nd->lsize);
        size_t a = lo > off ? lo : off, b = hi < end ? hi : end;
        if (a < b) memcpy(dst + (a - off), nd->seg[q] + area + a, (b - a) * sizeof(float));
    }
}

#else /* one process: never a node group */

struct sn_dist_node {
    size_t n;
};

sn_status sn_dist_node_new(size_t n, int want, sn_dist_node **out, sn_error *err) {
    (void)n, (void)want, (void)err;
    *out = NULL;
    return SN_OK;
}
void sn_dist_node_free(sn_dist_node *nd) {
    (void)nd;
}
int sn_dist_node_ranks(const sn_dist_node *nd) {
    (void)nd;
    return 1;
}
int sn_dist_node_count(const sn_dist_node *nd) {
    (void)nd;
    return 1;
}
float *sn_dist_node_mine(sn_dist_node *nd) {
    (void)nd;
    return NULL;
}
sn_status sn_dist_node_reduce(sn_dist_node *nd, size_t n, sn_error *err) {
    (void)nd, (void)n;
    return sn_fail(err, SN_ERR_ARG, "no shared-memory all-reduce without MPI");
}
void sn_dist_node_read(const sn_dist_node *nd, size_t off, float *dst, size_t n) {
    (void)nd, (void)off, (void)dst, (void)n;
}

#endif

sn_status sn_dist_node_sum(sn_dist_node *nd, float *v, size_t n, sn_error *err) {
    if (n > nd->n)
        return sn_fail(err, SN_ERR_ARG, "all-reduce of %zu values in a window of %zu", n, nd->n);
    memcpy(sn_dist_node_mine(nd), v, n * sizeof(float));
    sn_status s = sn_dist_node_reduce(nd, n, err);
    if (s == SN_OK) sn_dist_node_read(nd, 0, v, n);
    return s;
}

const char *sn_dist_allreduce_name(int transport) {
    return transport == SN_ALLREDUCE_SHM ? "shm" : transport == SN_ALLREDUCE_MPI ? "mpi" : "auto";
}
