/* The training guard (see guard.h): one pass over the gradients per step,
 *
 *   s_b = Σ g²  over each block b of SN_GUARD_BLOCK values  (float lanes,
 *                                                 the blocks on the team)
 *   s_p = Σ_b s_b  over parameter p's blocks, in order   (in double)
 *   ‖g‖₂ = sqrt(Σ_p s_p)                                 (in double)
 *
 * A finite s_p proves every g_p finite; a non-finite one sends that
 * parameter down the slow path (sn_first_nonfinite, then Σ g² in double when
 * it was only float overflow). Parameters are visited from the last layer to
 * the first, the order backward computes them in: a non-finite value spreads
 * downwards, so the first one found is where it started. A non-finite loss
 * is traced through the forward activations instead: the input batch, then
 * each layer's output, the first holding a NaN or inf named. Layers run in
 * one pass leave the activations inside it unwritten (model.h: keep_all),
 * so the trace first runs the forward pass on the batch again keeping them
 * all (sn_model_replay: same generator state, so the same values), with the
 * buffers it updates put back afterwards. */
#include "train/guard.h"

#include "core/threads.h"
#include "kernels/finite.h"
#include "optim/optim.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

sn_status sn_guard_init(sn_guard *g, sn_model *m, const sn_train_config *c, sn_error *err) {
    memset(g, 0, sizeof *g);
    g->m = m;
    g->skip = c->skip_nonfinite != 0;
    g->max_grad_norm = c->max_grad_norm;
    g->max_loss_ratio = c->max_loss_ratio;
    g->ref_loss = NAN;
    if (!(c->max_grad_norm >= 0) || !(c->max_loss_ratio >= 0))
        return sn_fail(err, SN_ERR_ARG, "max_grad_norm and max_loss_ratio must be >= 0 (0: off)");
    for (int i = 0; i < m->nparams; i++)
        if (m->params[i]->buffer) g->nsaved += m->params[i]->value.size;
    for (int i = 0; i < m->nparams; i++)
        if (!m->params[i]->buffer)
            g->nblocks += (int)((m->params[i]->grad.size + SN_GUARD_BLOCK - 1) / SN_GUARD_BLOCK);
    if ((g->nsaved && !(g->saved = sn_alloc(2 * g->nsaved, sizeof(float)))) ||
        (g->nblocks && (!(g->blocks = sn_alloc((size_t)g->nblocks, sizeof *g->blocks)) ||
                        !(g->part = sn_alloc((size_t)g->nblocks, sizeof(float))))) ||
        !(g->first = sn_alloc((size_t)m->nlayers * SN_MAX_PARAMS, sizeof(int)))) {
        sn_guard_free(g);
        return sn_fail(err, SN_ERR_NOMEM, "training guard: out of memory");
    }
    int b = 0;
    for (int i = 0; i < m->nlayers; i++) {
        const sn_layer *l = m->layers[i];
        for (int p = 0; p < l->nparams; p++) {
            const sn_param *q = &l->params[p];
            g->first[i * SN_MAX_PARAMS + p] = b;
            if (q->buffer) continue;
            for (size_t off = 0; off < q->grad.size; off += SN_GUARD_BLOCK)
                g->blocks[b++] = (sn_guard_block){
                    q, off,
                    q->grad.size - off < SN_GUARD_BLOCK ? q->grad.size - off : SN_GUARD_BLOCK};
        }
    }
    return SN_OK;
}

void sn_guard_free(sn_guard *g) {
    sn_free(g->saved);
    sn_free(g->blocks);
    sn_free(g->part);
    sn_free(g->first);
    g->saved = NULL;
    g->blocks = NULL;
    g->part = NULL;
    g->first = NULL;
}

/* Σ x² in float, 64 partial sums (four SIMD registers' worth: four
 * independent chains) added in a fixed order at the end. */
static float block_sumsq(const float *x, size_t n) {
    float acc[64] = {0};
    size_t j = 0;
    for (; j + 64 <= n; j += 64)
        for (int k = 0; k < 64; k++) acc[k] += x[j + k] * x[j + k];
    float s = 0;
    for (; j < n; j++) s += x[j] * x[j];
    for (int k = 0; k < 64; k++) s += acc[k];
    return s;
}

static void block_chunk(void *ctx, int b) {
    sn_guard *g = ctx;
    const sn_guard_block *k = &g->blocks[b];
    g->part[b] = block_sumsq(k->q->grad.data + k->off, k->n);
}

/* The part of `parts` that block k goes with: the optimizer cuts each
 * parameter into one contiguous part per thread (sn_optim_part_of) and
 * thread t steps part t, which for a dense layer's weights are
 * the rows whose gradients thread t has just computed (dense.c: bands); a
 * block goes with the part that holds its middle value. */
static int block_part(const sn_guard_block *k, int parts) {
    size_t mid = k->off + k->n / 2, lo, hi;
    for (int p = parts - 1; p > 0; p--) {
        sn_optim_part_of(k->q->grad.size, p, parts, &lo, &hi);
        if (mid >= lo) return p;
    }
    return 0;
}

typedef struct {
    sn_guard *g;
    int parts, per_part;
} sums_job;

/* Chunk c: the (c mod per_part)-th block of part c / per_part, if any. */
static void part_chunk(void *ctx, int c) {
    const sums_job *j = ctx;
    int part = c / j->per_part, i = c % j->per_part;
    for (int b = 0; b < j->g->nblocks; b++)
        if (block_part(&j->g->blocks[b], j->parts) == part && i-- == 0) {
            block_chunk(j->g, b);
            return;
        }
}

/* The blocks' sums: on the team when there are enough values to share, as
 * many chunks for every part (some of them empty), so that thread t's range
 * of chunks (core/threads.h) is part t's blocks and it reads the gradients
 * from its own core's cache. Which thread sums a block changes no bit. */
static void block_sums(sn_guard *g) {
    size_t total = 0;
    for (int b = 0; b < g->nblocks; b++) total += g->blocks[b].n;
    int parts = sn_get_threads();
    if (g->nblocks > 1 && total >= 4 * SN_GUARD_BLOCK && parts > 1) {
        sums_job j = {g, parts, 0};
        for (int p = 0; p < parts; p++) {
            int n = 0;
            for (int b = 0; b < g->nblocks; b++) n += block_part(&g->blocks[b], parts) == p;
            if (n > j.per_part) j.per_part = n;
        }
        if ((long)j.per_part * parts <= SN_MAX_CHUNKS) {
            sn_parallel(j.per_part * parts, part_chunk, &j);
            return;
        }
    }
    for (int b = 0; b < g->nblocks; b++) block_chunk(g, b);
}

/* Copies the buffers into s (restore = 0) or back (restore = 1). */
static void buffers_copy(sn_guard *g, float *s, int restore) {
    if (restore) sn_model_params_changed(g->m);
    for (int i = 0; s && i < g->m->nparams; i++) {
        sn_tensor *v = &g->m->params[i]->value;
        if (!g->m->params[i]->buffer) continue;
        if (restore)
            memcpy(v->data, s, v->size * sizeof(float));
        else
            memcpy(s, v->data, v->size * sizeof(float));
        s += v->size;
    }
}

/* The same with the first half of g->saved, in skip mode. */
static void buffers(sn_guard *g, int restore) {
    if (g->skip) buffers_copy(g, g->saved, restore);
}

void sn_guard_begin(sn_guard *g) {
    buffers(g, 0);
}

/* "dense 128->10" from "dense 128->10 init=he_uniform": kind and shapes. */
static void short_desc(const sn_layer *l, char *buf, size_t len) {
    const char *sp = strchr(l->desc, ' ');
    if (sp) sp = strchr(sp + 1, ' ');
    int n = sp ? (int)(sp - l->desc) : (int)strlen(l->desc);
    snprintf(buf, len, "%.*s", n, l->desc);
}

/* Whether some layers run in one pass whose inner activations a forward
 * pass leaves unwritten. */
static int has_fused(const sn_model *m) {
    if (m->keep_all) return 0;
    for (int i = 0; i < m->nlayers; i++) {
        const sn_layer *l = m->layers[i];
        if (l->ops->fuse && l->ops->fuse(l, m->layers + i + 1, m->nlayers - i - 1) > 0) return 1;
    }
    return 0;
}

/* Where a non-finite loss came from: the first forward buffer (input, then
 * each layer's output) holding a NaN or inf. */
static void trace_forward(sn_guard *g, char *buf, size_t len) {
    sn_model *m = g->m;
    if (has_fused(m)) {
        float *keep = g->saved ? g->saved + g->nsaved : NULL;
        buffers_copy(g, keep, 0);
        sn_model_replay(m, 1);
        buffers_copy(g, keep, 1);
    }
    int rows = m->batch;
    size_t per = sn_shape_size(m->in_ndim, m->in_shape);
    size_t j = sn_first_nonfinite(m->act[0].data, (size_t)rows * per);
    if (j < (size_t)rows * per) {
        snprintf(buf, len, "the input holds '%g' (row %zu of the batch); check the data",
                 (double)m->act[0].data[j], j / per + 1);
        return;
    }
    char d[96];
    for (int i = 0; i < m->nlayers; i++) {
        const sn_layer *l = m->layers[i];
        per = sn_shape_size(l->out_ndim, l->out_shape);
        j = sn_first_nonfinite(m->act[i + 1].data, (size_t)rows * per);
        if (j < (size_t)rows * per) {
            short_desc(l, d, sizeof d);
            snprintf(buf, len, "the output of layer %d (%s) is the first non-finite activation", i,
                     d);
            return;
        }
    }
    snprintf(buf, len, "every activation is finite: the loss itself overflowed");
}

sn_status sn_guard_check(sn_guard *g, double loss, int epoch, int batch, long step, float lr,
                         sn_error *err) {
    const sn_model *m = g->m;
    if (epoch != g->epoch) {
        g->epoch = epoch;
        g->skipped = g->checked = 0;
        g->skipped_rows = 0;
    }
    g->checked++;
    char what[320], d[96];
    if (!isfinite(loss)) {
        char trace[200];
        trace_forward(g, trace, sizeof trace);
        snprintf(what, sizeof what, "non-finite loss '%g': %s; the learning rate is %g", loss,
                 trace, (double)lr);
        goto refuse;
    }
    double total = 0, worst = -1;
    int worst_l = 0, worst_p = 0;
    block_sums(g);
    for (int i = m->nlayers - 1; i >= 0; i--) {
        const sn_layer *l = m->layers[i];
        for (int p = 0; p < l->nparams; p++) {
            const sn_param *q = &l->params[p];
            if (q->buffer) continue;
            double s = 0;
            for (int b = g->first[i * SN_MAX_PARAMS + p]; b < g->nblocks && g->blocks[b].q == q;
                 b++)
                s += g->part[b];
            if (!isfinite(s)) {
                size_t j = sn_first_nonfinite(q->grad.data, q->grad.size);
                if (j < q->grad.size) {
                    short_desc(l, d, sizeof d);
                    snprintf(what, sizeof what,
                             "non-finite gradient in layer %d (%s), %s ('%g' at index %zu); "
                             "the learning rate is %g",
                             i, d, q->name, (double)q->grad.data[j], j, (double)lr);
                    goto refuse;
                }
                s = sn_sumsq_double(q->grad.data, q->grad.size);
            }
            total += s;
            if (s > worst) worst = s, worst_l = i, worst_p = p;
        }
    }
    g->grad_norm = sqrt(total);
    if (g->max_grad_norm > 0 && g->grad_norm > g->max_grad_norm) {
        short_desc(m->layers[worst_l], d, sizeof d);
        snprintf(what, sizeof what,
                 "gradient norm %.3g exceeds max_grad_norm %g (largest: layer %d (%s), %s, "
                 "norm %.3g); the learning rate is %g",
                 g->grad_norm, g->max_grad_norm, worst_l, d,
                 m->layers[worst_l]->params[worst_p].name, sqrt(worst), (double)lr);
        goto refuse;
    }
    if (g->max_loss_ratio > 0 && g->ref_loss > 0 && loss > g->max_loss_ratio * g->ref_loss) {
        snprintf(what, sizeof what,
                 "loss %.4g exceeds max_loss_ratio %g times the largest loss of the first steps "
                 "%.4g; the learning rate is %g",
                 loss, g->max_loss_ratio, g->ref_loss, (double)lr);
        goto refuse;
    }
    if (g->ref_steps < SN_GUARD_REF_STEPS) {
        g->ref_steps++;
        if (!(loss <= g->ref_loss)) g->ref_loss = loss;
    }
    return SN_OK;
refuse:
    snprintf(g->last, sizeof g->last, "epoch %d, batch %d (step %ld): %s", epoch, batch, step,
             what);
    if (!g->skip) sn_fail(err, SN_ERR_NUMERIC, "%s", g->last);
    return SN_ERR_NUMERIC;
}

int sn_guard_skip(sn_guard *g, long rows) {
    if (!g->skip) return 0;
    sn_model *m = g->m;
    for (int i = 0; i < m->nparams; i++)
        if (!m->params[i]->buffer)
            memset(m->params[i]->grad.data, 0, m->params[i]->grad.size * sizeof(float));
    buffers(g, 1);
    sn_model_reset_state(m);
    g->skipped++;
    g->skipped_rows += rows;
    return 1;
}

sn_status sn_guard_epoch_end(sn_guard *g, int epoch, sn_error *err) {
    if (g->epoch != epoch || g->checked == 0 || g->skipped < g->checked) return SN_OK;
    return sn_fail(err, SN_ERR_NUMERIC,
                   "epoch %d: all %d batches were skipped, nothing is learning; the last: %s",
                   epoch, g->checked, g->last);
}

int sn_guard_skipped(const sn_guard *g, int epoch) {
    return g->epoch == epoch ? g->skipped : 0;
}

long sn_guard_skipped_rows(const sn_guard *g, int epoch) {
    return g->epoch == epoch ? g->skipped_rows : 0;
}
