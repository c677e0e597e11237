/* The gradient reducer: bucketed all-reduce overlapped with backward.
 *
 * The trained parameters are laid out, last layer first (the order backward
 * produces their gradients), in buckets of up to bucket_bytes:
 *
 *   bucket 0: [layer L−1's params | layer L−2's ...]  bucket 1: [...]  ...
 *
 * When backward has finished layer k, every bucket whose parameters all
 * belong to layers >= k is complete: its gradients are copied in, times
 * this rank's batch weight w = n_local / n_global, and MPI_Iallreduce (sum)
 * is started on it, while backward goes on with the layers below. Buckets
 * start in the same order on every rank (MPI requires it of collectives),
 * because every rank runs the same layers in the same order. finish() waits
 * for all and copies the sums Σ_r w_r g_r back: the global mean gradient.
 * A bucket that holds a single parameter (one larger than the bucket size,
 * or alone) is summed in place in that parameter's gradient instead.
 *
 * With the shared-memory transport (node.c) the parameters' gradients live
 * in this rank's vector of the node's shared window, each at its place in
 * the layout (64-byte aligned): p->grad.data points there from
 * sn_dist_reducer_new to sn_dist_reducer_free, so backward writes them
 * where the other ranks read them, and finish() sums the window in place
 * (reduce-scatter weighted by each rank's w, across nodes, all-gather):
 * nothing is copied in, and the sums are where the guard and the optimizer
 * read them. Nothing is sent during backward. The gradients' own memory is
 * kept aside and gets the gradients back when the reducer is freed (the
 * model must outlive the reducer).
 *
 * The buckets are allocated once; a step allocates nothing. */
#include "dist/dist.h"
#include "model/model.h"

#include <string.h>

typedef struct entry {
    sn_param *p;
    size_t off;  /* in the bucket */
    size_t flat; /* in the layout of all buckets (the shared window's) */
    float *own;  /* shared memory: the gradient's own memory, set aside */
    int owns;
} entry;

typedef struct bucket {
    float *buf;
    size_t n;
    int first, count; /* its entries */
    int low_layer;    /* complete once backward has finished this layer */
    int req;
} bucket;

struct sn_dist_reducer {
    int nbuckets, nentries;
    bucket *b;
    entry *e;
    float *mem;
    size_t total;       /* floats in the layout */
    sn_dist_node *node; /* the shared-memory transport, or NULL: MPI */
    int next;           /* the first bucket not started in this step */
    sn_error err;
};

sn_status sn_dist_reducer_new(sn_model *m, size_t bucket_bytes, int transport,
                              sn_dist_reducer **out, sn_error *err) {
    *out = NULL;
    if (transport < SN_ALLREDUCE_AUTO || transport > SN_ALLREDUCE_MPI)
        return sn_fail(err, SN_ERR_ARG, "gradient reducer: unknown transport %d", transport);
    size_t cap = bucket_bytes / sizeof(float), total = 0, padded = 0;
    if (cap < 1) cap = 1;
    int np = 0;
    for (int i = 0; i < m->nlayers; i++)
        for (int j = 0; j < m->layers[i]->nparams; j++) {
            const sn_param *p = &m->layers[i]->params[j];
            if (p->buffer) continue;
            np++, total += p->grad.size;
            padded += (p->grad.size + SN_DIST_ALIGN - 1) / SN_DIST_ALIGN * SN_DIST_ALIGN;
        }
    sn_dist_reducer *r = sn_alloc(1, sizeof *r);
    if (!r) return sn_fail(err, SN_ERR_NOMEM, "gradient reducer: out of memory");
    r->e = sn_alloc((size_t)np + 1, sizeof *r->e);
    r->b = sn_alloc((size_t)np + 1, sizeof *r->b); /* at most one bucket per parameter */
    sn_status s = sn_dist_node_new(padded, transport, &r->node, err);
    if (s != SN_OK) {
        sn_dist_reducer_free(r);
        return sn_wrap(err, "gradient reducer");
    }
    if (!r->node) r->mem = sn_alloc(total + 1, sizeof(float));
    if (!r->e || !r->b || (!r->node && !r->mem)) {
        sn_dist_reducer_free(r);
        return sn_fail(err, SN_ERR_NOMEM, "gradient reducer: out of memory");
    }
    size_t used = 0;
    bucket *cur = NULL;
    for (int i = m->nlayers - 1; i >= 0; i--)
        for (int j = 0; j < m->layers[i]->nparams; j++) {
            sn_param *p = &m->layers[i]->params[j];
            if (p->buffer) continue;
            if (!cur || (cur->n > 0 && cur->n + p->grad.size > cap)) {
                cur = &r->b[r->nbuckets++];
                cur->buf = r->mem ? r->mem + used : NULL;
                cur->first = r->nentries;
            }
            r->e[r->nentries++] = (entry){p, cur->n, used, NULL, 0};
            cur->count++;
            cur->n += p->grad.size;
            cur->low_layer = i;
            /* shared memory: every gradient 64-byte aligned in the window */
            used += r->node ? (p->grad.size + SN_DIST_ALIGN - 1) / SN_DIST_ALIGN * SN_DIST_ALIGN
                            : p->grad.size;
        }
    r->total = used;
    if (r->node) { /* the gradients move into the window */
        float *mine = sn_dist_node_mine(r->node);
        for (int k = 0; k < r->nentries; k++) {
            entry *e = &r->e[k];
            sn_tensor *g = &e->p->grad;
            e->own = g->data, e->owns = g->owns;
            if (g->size) memcpy(mine + e->flat, g->data, g->size * sizeof(float));
            g->data = mine + e->flat, g->owns = 0;
        }
    }
    *out = r;
    return SN_OK;
}

void sn_dist_reducer_free(sn_dist_reducer *r) {
    if (!r) return;
    for (int k = 0; r->node && k < r->nentries; k++) { /* the gradients go home */
        entry *e = &r->e[k];
        sn_tensor *g = &e->p->grad;
        if (g->size) memcpy(e->own, g->data, g->size * sizeof(float));
        g->data = e->own, g->owns = e->owns;
    }
    sn_free(r->e);
    sn_free(r->b);
    sn_free(r->mem);
    sn_dist_node_free(r->node);
    sn_free(r);
}

int sn_dist_reducer_buckets(const sn_dist_reducer *r) {
    return r->nbuckets;
}

int sn_dist_reducer_started(const sn_dist_reducer *r) {
    return r->next;
}

size_t sn_dist_reducer_bucket_floats(const sn_dist_reducer *r, int bucket) {
    return bucket >= 0 && bucket < r->nbuckets ? r->b[bucket].n : 0;
}

int sn_dist_reducer_transport(const sn_dist_reducer *r) {
    return r->node ? SN_ALLREDUCE_SHM : SN_ALLREDUCE_MPI;
}

int sn_dist_reducer_nodes(const sn_dist_reducer *r) {
    return r->node ? sn_dist_node_count(r->node) : 0;
}

/* dst = w · src (exact zeros for w = 0: a rank without samples). */
static void scaled(float *dst, const float *src, size_t n, float w) {
    if (w == 1.0f)
        memcpy(dst, src, n * sizeof(float));
    else if (w == 0.0f)
        memset(dst, 0, n * sizeof(float));
    else
        for (size_t i = 0; i < n; i++) dst[i] = w * src[i];
}

/* buf = w · the bucket's gradients, and the sum started. A bucket of one
 * parameter is summed in the gradient's own memory (buf is the gradient):
 * no copy in, none back. Shared memory: nothing to do (the gradients are in
 * the window; finish() weights and sums them). */
static void start(sn_dist_reducer *r, bucket *b) {
    if (r->node) return;
    const float w = (float)sn_dist_batch_weight();
    if (b->count == 1) {
        sn_tensor *g = &r->e[b->first].p->grad;
        b->buf = g->data;
        if (w == 0.0f)
            memset(g->data, 0, g->size * sizeof(float));
        else if (w != 1.0f)
            for (size_t i = 0; i < g->size; i++) g->data[i] *= w;
        b->req = -1;
        if (r->err.code == SN_OK) sn_dist_isum_f32(b->buf, b->n, &b->req, &r->err);
        return;
    }
    for (int k = b->first; k < b->first + b->count; k++) {
        const sn_tensor *g = &r->e[k].p->grad;
        scaled(b->buf + r->e[k].off, g->data, g->size, w);
    }
    b->req = -1;
    if (r->err.code == SN_OK) sn_dist_isum_f32(b->buf, b->n, &b->req, &r->err);
}

void sn_dist_grads_ready(void *reducer, int layer) {
    sn_dist_reducer *r = reducer;
    if (sn_dist_size() == 1) return;
    while (r->next < r->nbuckets && r->b[r->next].low_layer >= layer) start(r, &r->b[r->next++]);
    if (!r->node) sn_dist_progress();
}

sn_status sn_dist_reducer_finish(sn_dist_reducer *r, sn_error *err) {
    if (sn_dist_size() == 1) return SN_OK;
    while (r->next < r->nbuckets) start(r, &r->b[r->next++]);
    r->next = 0;
    if (r->err.code != SN_OK) {
        *err = r->err;
        r->err.code = SN_OK;
        return err->code;
    }
    if (r->node) {
        if (sn_dist_node_reduce(r->node, r->total, (float)sn_dist_batch_weight(), err) != SN_OK)
            return sn_wrap(err, "gradient all-reduce (shared memory)");
        return SN_OK;
    }
    for (int i = 0; i < r->nbuckets; i++) {
        bucket *b = &r->b[i];
        sn_status s = sn_dist_wait(&b->req, 1, err);
        if (s != SN_OK) return sn_wrap(err, "gradient all-reduce, bucket %d", i);
        for (int k = b->first; k < b->first + b->count && b->count > 1; k++) {
            sn_tensor *g = &r->e[k].p->grad;
            memcpy(g->data, b->buf + r->e[k].off, g->size * sizeof(float));
        }
    }
    return SN_OK;
}
