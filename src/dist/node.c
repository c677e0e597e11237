/* The shared-memory all-reduce: the ranks of a node sum their vectors in an
 * MPI-3 shared window (MPI_Win_allocate_shared on the communicator of
 * MPI_Comm_split_type(MPI_COMM_TYPE_SHARED)), and across nodes each slice
 * goes through MPI_Iallreduce among the ranks of the same local rank.
 *
 * A rank's segment of the window holds its weight w, its vector V (n
 * floats) and an area S for the sums of its slice (64-byte aligned). The
 * vector stays where it is from step to step: the gradient reducer places
 * the parameters' gradients in it, so backward writes them there and reads
 * the sums there. A step, with L ranks on the node:
 *
 *   1. each rank has written its vector V, and writes its weight w;
 *   2. barrier (the writes are visible);
 *   3. reduce-scatter: local rank q sums slice q of every rank's w·V, in
 *      local rank order 0, 1, ..., L − 1, into slice q of its S and of its
 *      own V (no other rank reads slice q of V_q, nor S_q, before step 5);
 *   4. several nodes: MPI_Iallreduce of slice q of S among the ranks of
 *      local rank q, one per node: the node sums in node order, as MPI does
 *      it; copied into slice q of V;
 *   5. barrier (the sums are visible);
 *   6. each rank copies slice q of S_q into its own V, for every other q:
 *      V holds the whole sum.
 *
 * Why a separate S. Nothing waits after 6: a rank that is done goes on to
 * its next step and writes its next vector (1) while a slower rank may
 * still read this step's sums (6). It writes V, which nobody reads after
 * barrier 5, not S; it comes back to S only in its next step's 3, past that
 * step's barrier 2, which the slower rank reaches only once it has finished
 * 6. Within a step, rank q writes (3, 4) only slice q of its own V and S,
 * which no other rank reads before barrier 5.
 *
 * The weighting happens in the sum (3): w·V is the product the reducer
 * would have packed, computed as its own rounded product, then added (no
 * fused multiply-add: ISO C mode contracts nothing across statements, and
 * each product is a function's result), so the sums are bitwise those of
 * packing w·g and summing. A weight of 0 (a rank without samples) adds
 * exact zeros, whatever V holds.
 *
 * The sums are computed in a fixed order (local ranks in order, then the
 * nodes as MPI_Iallreduce sums them), so two runs are bitwise identical and
 * every rank gets the same values. For 2 ranks the sum a + b is the one
 * MPI_Allreduce gives (float addition is commutative).
 *
 * Why it beats MPI_Allreduce on one node: no byte is copied in before the
 * sum, and each crosses between cores the least it can: every rank reads
 * its slice of the others' vectors and the others' slices of the sum, once,
 * with no transport buffers in fragments, and all ranks' reductions run at
 * once.
 *
 * MPI_Win_free is collective: a rank freeing its window while another has
 * failed (and will never call it) would hang. So a freed node group is kept
 * until sn_dist_finalize, which every rank reaches only when all went well
 * (after an error the job ends with MPI_Abort). */
#include "dist/dist.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN SN_DIST_ALIGN /* floats: 64 bytes */

#ifdef SN_MPI

#include "dist/mpi_private.h"

struct sn_dist_node {
    size_t n, npad;   /* floats, npad rounded up to ALIGN */
    int lrank, lsize; /* within the node */
    int nnodes;       /* nodes (1: all ranks share one) */
    float **seg;      /* every local rank's segment: w, V, S (node.c's top) */
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
    const size_t seg_floats = ALIGN + 2 * nd->npad; /* w, V, S */
    rc = MPI_Win_allocate_shared((MPI_Aint)((seg_floats + ALIGN) * sizeof(float)), 1, MPI_INFO_NULL,
                                 nd->node, &base, &nd->win);
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
    /* a vector's padding is summed too: zeros */
    memset(nd->seg[nd->lrank], 0, seg_floats * sizeof(float));
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

/* Rank q's weight, vector and sums. */
static float *weight_of(const sn_dist_node *nd, int q) {
    return nd->seg[q];
}
static float *vector_of(const sn_dist_node *nd, int q) {
    return nd->seg[q] + ALIGN;
}
static float *sums_of(const sn_dist_node *nd, int q) {
    return nd->seg[q] + ALIGN + nd->npad;
}

float *sn_dist_node_mine(sn_dist_node *nd) {
    return vector_of(nd, nd->lrank);
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

/* w·v rounded to float on its own (never fused into the sum it enters);
 * exact zero for w = 0, whatever v is (also inf or NaN). */
static inline float term(float w, float v) {
    return w == 0.0f ? 0.0f : w * v;
}

/* s[i] = v[i] = Σ_q w[q]·src[q][i] over [lo, hi), q in order. */
static void sum_slice(float *s, float *v, float *const *src, const float *w, int L, size_t lo,
                      size_t hi) {
    if (L == 1) {
        for (size_t i = lo; i < hi; i++) s[i] = v[i] = term(w[0], src[0][i]);
        return;
    }
    if (L == 2) {
        const float *a = src[0], *b = src[1], wa = w[0], wb = w[1];
        for (size_t i = lo; i < hi; i++) {
            float x = term(wa, a[i]) + term(wb, b[i]);
            s[i] = x;
            v[i] = x;
        }
        return;
    }
    enum { CHUNK = 512 };
    float t[CHUNK];
    for (size_t c = lo; c < hi; c += CHUNK) {
        size_t m = hi - c < CHUNK ? hi - c : CHUNK;
        const float *a = src[0] + c, *b = src[1] + c;
        for (size_t i = 0; i < m; i++) t[i] = term(w[0], a[i]) + term(w[1], b[i]);
        for (int q = 2; q < L; q++) {
            const float *x = src[q] + c, wq = w[q];
            for (size_t i = 0; i < m; i++) t[i] += term(wq, x[i]);
        }
        memcpy(s + c, t, m * sizeof(float));
        memcpy(v + c, t, m * sizeof(float));
    }
}

enum { MAX_LOCAL = 256 }; /* ranks of a node summed from the stack's arrays */

sn_status sn_dist_node_reduce(sn_dist_node *nd, size_t n, float w, sn_error *err) {
    if (n > nd->n) n = nd->n;
    const int L = nd->lsize, q = nd->lrank;
    if (L > MAX_LOCAL)
        return sn_fail(err, SN_ERR_ARG, "shared-memory all-reduce: %d ranks on a node, at most %d",
                       L, MAX_LOCAL);
    const size_t lo = bound(n, q, L), hi = bound(n, q + 1, L);
    float *v = vector_of(nd, q), *sums = sums_of(nd, q);
    *weight_of(nd, q) = w;
    sn_status s = L > 1 ? barrier(nd, err) : SN_OK;
    if (s != SN_OK) return s;
    float *src[MAX_LOCAL], ws[MAX_LOCAL];
    for (int r = 0; r < L; r++) src[r] = vector_of(nd, r), ws[r] = *weight_of(nd, r);
    sum_slice(sums, v, src, ws, L, lo, hi);
    if (nd->nnodes > 1 && hi > lo) {
        MPI_Request rq;
        int rc = MPI_Iallreduce(MPI_IN_PLACE, sums + lo, (int)(hi - lo), MPI_FLOAT, MPI_SUM,
                                nd->cross, &rq);
        if (rc != MPI_SUCCESS) return sn_dist_mpi_fail(err, rc, "MPI_Iallreduce (across nodes)");
        s = sn_dist_wait_request(&rq, "all-reduce across nodes", err);
        if (s != SN_OK) return s;
        memcpy(v + lo, sums + lo, (hi - lo) * sizeof(float));
    }
    s = L > 1 ? barrier(nd, err) : SN_OK;
    if (s != SN_OK) return s;
    for (int r = 0; r < L; r++) {
        size_t a = bound(n, r, L), b = bound(n, r + 1, L);
        if (r != q && b > a) memcpy(v + a, sums_of(nd, r) + a, (b - a) * sizeof(float));
    }
    return SN_OK;
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
sn_status sn_dist_node_reduce(sn_dist_node *nd, size_t n, float w, sn_error *err) {
    (void)nd, (void)n, (void)w;
    return sn_fail(err, SN_ERR_ARG, "no shared-memory all-reduce without MPI");
}

#endif

sn_status sn_dist_node_sum(sn_dist_node *nd, float *v, size_t n, sn_error *err) {
    if (n > nd->n)
        return sn_fail(err, SN_ERR_ARG, "all-reduce of %zu values in a window of %zu", n, nd->n);
    memcpy(sn_dist_node_mine(nd), v, n * sizeof(float));
    sn_status s = sn_dist_node_reduce(nd, n, 1.0f, err);
    if (s == SN_OK) memcpy(v, sn_dist_node_mine(nd), n * sizeof(float));
    return s;
}

const char *sn_dist_allreduce_name(int transport) {
    return transport == SN_ALLREDUCE_SHM ? "shm" : transport == SN_ALLREDUCE_MPI ? "mpi" : "auto";
}
