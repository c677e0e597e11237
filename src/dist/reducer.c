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
 * The buckets are allocated once; a step allocates nothing. */
#include "dist/dist.h"
#include "model/model.h"

#include <string.h>

typedef struct entry {
    sn_param *p;
    size_t off; /* in the bucket */
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
    int next; /* the first bucket not started in this step */
    sn_error err;
};

sn_status sn_dist_reducer_new(sn_model *m, size_t bucket_bytes, sn_dist_reducer **out,
                              sn_error *err) {
    *out = NULL;
    size_t cap = bucket_bytes / sizeof(float), total = 0;
    if (cap < 1) cap = 1;
    int np = 0;
    for (int i = 0; i < m->nlayers; i++)
        for (int j = 0; j < m->layers[i]->nparams; j++)
            if (!m->layers[i]->params[j].buffer) np++, total += m->layers[i]->params[j].grad.size;
    sn_dist_reducer *r = sn_alloc(1, sizeof *r);
    if (!r) return sn_fail(err, SN_ERR_NOMEM, "gradient reducer: out of memory");
    r->e = sn_alloc((size_t)np + 1, sizeof *r->e);
    r->b = sn_alloc((size_t)np + 1, sizeof *r->b); /* at most one bucket per parameter */
    r->mem = sn_alloc(total + 1, sizeof(float));
    if (!r->e || !r->b || !r->mem) {
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
                cur->buf = r->mem + used;
                cur->first = r->nentries;
            }
            r->e[r->nentries++] = (entry){p, cur->n};
            cur->count++;
            cur->n += p->grad.size;
            cur->low_layer = i;
            used += p->grad.size;
        }
    *out = r;
    return SN_OK;
}

void sn_dist_reducer_free(sn_dist_reducer *r) {
    if (!r) return;
    sn_free(r->e);
    sn_free(r->b);
    sn_free(r->mem);
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

/* buf = w · the bucket's gradients, and the sum started. A bucket of one
 * parameter is summed in the gradient's own memory (buf is the gradient):
 * no copy in, none back. */
static void start(sn_dist_reducer *r, bucket *b) {
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
        float *dst = b->buf + r->e[k].off;
        if (w == 1.0f)
            memcpy(dst, g->data, g->size * sizeof(float));
        else if (w == 0.0f) /* no samples on this rank: contribute exact zeros */
            memset(dst, 0, g->size * sizeof(float));
        else
            for (size_t i = 0; i < g->size; i++) dst[i] = w * g->data[i];
    }
    b->req = -1;
    if (r->err.code == SN_OK) sn_dist_isum_f32(b->buf, b->n, &b->req, &r->err);
}

void sn_dist_grads_ready(void *reducer, int layer) {
    sn_dist_reducer *r = reducer;
    if (sn_dist_size() == 1) return;
    while (r->next < r->nbuckets && r->b[r->next].low_layer >= layer) start(r, &r->b[r->next++]);
    sn_dist_progress();
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
