/* The sequence training loop for text models (truncated backpropagation
 * through time over parallel streams).
 *
 * The n tokens are cut into N = cfg.batch streams, stream s being the slice
 * ids[s·S .. s·S + S] with S = ⌊(n − 1) / N⌋ steps (the last n − 1 − N·S
 * tokens are left out). Batch b holds steps t = bT .. bT + T_b − 1 of every
 * stream, time-major (row t·N + s), T_b = min(T, S − bT):
 *
 *   x[t, s] = ids[s·S + bT + t]        label[t, s] = ids[s·S + bT + t + 1]
 *
 * One step (all buffers allocated before the first epoch):
 *   forward (train), mean cross-entropy over the T_b·N tokens, backward
 *   guard: loss and g finite, not exploding (else stop, or skip the batch
 *   and reset the state: guard.h)
 *   g += ∂R/∂θ (L1/L2), clip by value, then by global norm
 *   lr = schedule(epoch, step), optimizer update
 *   carry the recurrent state into the next batch (its gradient stops here)
 * The state is reset at the start of every epoch and of every evaluation.
 * This file is the text batch source of the training loop (loop.h), which
 * does everything else. */
#include "dist/dist.h"
#include "model/model.h"
#include "train/loop.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void sn_text_options_default(sn_text_options *o) {
    memset(o, 0, sizeof *o);
    o->seq_len = 50;
    o->sample_length = 200;
    o->temperature = 0.8f;
    o->keep_best = 1;
}

/* N parallel streams over a token sequence. */
typedef struct streams {
    const int *ids;
    int N;
    size_t S; /* steps per stream */
} streams;

static sn_status streams_init(streams *st, const int *ids, size_t n, int N, const char *what,
                              sn_error *err) {
    if (N < 1) return sn_fail(err, SN_ERR_ARG, "the number of streams (batch) must be >= 1");
    if (n < 2)
        return sn_fail(err, SN_ERR_ARG,
                       "the %s text has %zu token%s; it needs at least 2 (a step and its target)",
                       what, n, n == 1 ? "" : "s");
    if ((n - 1) / (size_t)N < 1)
        return sn_fail(err, SN_ERR_ARG,
                       "the %s text has %zu tokens, too few for %d streams (batch %d) of at "
                       "least one step each; use a longer text or a batch of at most %zu",
                       what, n, N, N, n > 1 ? n - 1 : 0);
    st->ids = ids;
    st->N = N;
    st->S = (n - 1) / (size_t)N;
    return SN_OK;
}

static int nbatches_of(const streams *st, int T) {
    return (int)((st->S + (size_t)T - 1) / (size_t)T);
}

/* Batch b of streams [lo, hi) into x (token ids as floats) and labels;
 * returns its T_b. */
static int fill_streams(const streams *st, int b, int T, int lo, int hi, float *x, int *labels) {
    size_t t0 = (size_t)b * T;
    int Tb = st->S - t0 < (size_t)T ? (int)(st->S - t0) : T, N = hi - lo;
    for (int t = 0; t < Tb; t++) {
        for (int s = 0; s < N; s++) {
            const int *p = st->ids + (size_t)(lo + s) * st->S + t0 + (size_t)t;
            x[t * N + s] = (float)p[0];
            labels[t * N + s] = p[1];
        }
    }
    return Tb;
}

/* *loss = mean loss per token over all batches of `st`, from a zero state.
 * Data-parallel (hooks->dist): this rank evaluates streams [N·r/P,
 * N·(r+1)/P) of the N, and the sums of loss·tokens and tokens are reduced
 * over the ranks; only the order of the additions differs from one
 * process's. */
static sn_status eval_streams(sn_model *m, const streams *st, int T, int *labels,
                              const sn_train_hooks *hooks, double *loss, sn_error *err) {
    const sn_train_dist *d = hooks ? hooks->dist : NULL;
    const int P = d && d->size > 1 ? d->size : 1, r = P > 1 ? d->rank : 0;
    const int lo = (int)((long)st->N * r / P), hi = (int)((long)st->N * (r + 1) / P);
    double sums[2] = {0, 0}; /* loss·tokens, tokens */
    sn_status s = SN_OK;
    sn_model_reset_state(m);
    for (int b = 0; s == SN_OK && hi > lo && b < nbatches_of(st, T); b++) {
        int Tb = fill_streams(st, b, T, lo, hi, m->act[0].data, labels), rows = Tb * (hi - lo);
        s = sn_model_set_seq_len(m, Tb, err);
        if (s == SN_OK) s = sn_model_forward(m, m->act[0].data, rows, 0, err);
        if (s != SN_OK) break;
        sums[0] += sn_model_loss(m, labels, NULL) * rows;
        sums[1] += rows;
        sn_model_carry_state(m);
    }
    sn_model_reset_state(m);
    if (s == SN_OK) s = sn_loop_reduce(hooks, sums, 2, err);
    *loss = sums[0] / sums[1];
    return s;
}

/* The model takes one token id per row and predicts one of K tokens. */
static sn_status check_model(const sn_model *m, const sn_vocab *v, sn_error *err) {
    if (sn_model_input_size(m) != 1)
        return sn_fail(err, SN_ERR_SHAPE,
                       "a text model takes one token id per step ('input 1', then embedding or "
                       "onehot); this one takes %zu values",
                       sn_model_input_size(m));
    if (m->loss != SN_LOSS_SOFTMAX_XENT)
        return sn_fail(err, SN_ERR_ARG, "a text model needs 'loss softmax_xent', not %s",
                       sn_loss_name(m->loss));
    if (v && sn_vocab_size(v) != sn_model_output_size(m))
        return sn_fail(err, SN_ERR_SHAPE, "the model has %d outputs, the vocabulary %d tokens",
                       sn_model_output_size(m), sn_vocab_size(v));
    return SN_OK;
}

static sn_status check_ids(const int *ids, size_t n, int K, const char *what, sn_error *err) {
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= K)
            return sn_fail(err, SN_ERR_ARG, "%s text: token %zu has id %d, outside 0..%d", what, i,
                           ids[i], K - 1);
    return SN_OK;
}

sn_status sn_text_evaluate(sn_model *m, const int *ids, size_t n, int seq_len, int streams_n,
                           double *loss, sn_error *err) {
    streams st = {0};
    sn_status s = check_model(m, NULL, err);
    if (s == SN_OK) s = check_ids(ids, n, sn_model_output_size(m), "evaluation", err);
    if (s == SN_OK && seq_len < 1) s = sn_fail(err, SN_ERR_ARG, "sequence length must be >= 1");
    if (s == SN_OK) s = streams_init(&st, ids, n, streams_n, "evaluation", err);
    if (s == SN_OK && (size_t)seq_len > st.S) seq_len = (int)st.S;
    if (s == SN_OK) s = sn_model_reserve(m, seq_len * st.N, err);
    int *labels = s == SN_OK ? sn_alloc((size_t)seq_len * st.N, sizeof(int)) : NULL;
    if (s == SN_OK && !labels) s = sn_fail(err, SN_ERR_NOMEM, "evaluation: out of memory");
    if (s == SN_OK) s = eval_streams(m, &st, seq_len, labels, NULL, loss, err);
    sn_free(labels);
    return s;
}

#define LN2 0.69314718055994531 /* nats per bit */

static void text_history_row(const sn_epoch_stats *e, char *buf, size_t len) {
    snprintf(buf, len, "%d,%ld,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.3f,%.1f,%.1f,%.1f,%d,%.6g", e->epoch,
             e->step, e->train_loss, e->train_loss / LN2, e->val_loss, e->val_loss / LN2,
             exp(e->val_loss), e->lr, e->seconds, e->samples_per_s, e->elapsed, e->cpu_seconds,
             e->skipped, e->reg_loss);
}

/* ---- the batch source ---------------------------------------------------- */

typedef struct text_source {
    streams tr, va;
    int T, have_val;
    int *labels;
    const sn_vocab *v;
    const sn_text_options *o;
    const sn_train_dist *dist;
} text_source;

static void text_epoch_begin(void *ctx, sn_model *m, sn_rng *shuffle, int resumed) {
    text_source *t = ctx;
    (void)shuffle;
    if (!resumed)
        sn_model_reset_state(m);
    else if (t->dist) /* the checkpoint holds every stream's state: this rank's share */
        sn_dist_share_state(m, t->tr.N);
}

/* Data-parallel: a checkpoint holds the state of every rank's streams. */
static sn_status text_checkpoint_state(void *ctx, sn_model *m, int done, sn_error *err) {
    text_source *t = ctx;
    if (done) {
        sn_dist_share_state(m, t->tr.N);
        return SN_OK;
    }
    return sn_dist_gather_state(m, t->tr.N, err);
}

/* Data-parallel (hooks->dist): rank r of P takes streams [N·r/P, N·(r+1)/P)
 * of every batch and carries their state. */
static int text_batch(void *ctx, sn_model *m, int b, const int **labels, const float **targets,
                      int *global_rows) {
    text_source *t = ctx;
    const int N = t->tr.N, P = t->dist ? t->dist->size : 1, r = t->dist ? t->dist->rank : 0;
    const int lo = (int)((long)N * r / P), hi = (int)((long)N * (r + 1) / P);
    sn_dist_set_share(lo, hi - lo, N); /* weights, dropout masks: dist.h */
    int Tb = fill_streams(&t->tr, b, t->T, lo, hi, m->act[0].data, t->labels);
    sn_model_set_seq_len(m, Tb, NULL); /* Tb >= 1 */
    *labels = t->labels;
    *targets = NULL;
    *global_rows = Tb * N;
    return Tb * (hi - lo);
}

static void text_after_step(void *ctx, sn_model *m) {
    (void)ctx;
    sn_model_carry_state(m);
}

static void sample(sn_model *m, const text_source *t, int epoch, const sn_train_hooks *h) {
    const sn_text_options *o = t->o;
    sn_sample_options so = {o->sample_length, o->temperature, 0, 0, m->cfg.seed + (uint64_t)epoch};
    char *text = NULL;
    size_t len = 0;
    sn_error e = {0};
    if (sn_text_generate_n(m, t->v, o->prime, &so, &text, &len, &e) == SN_OK)
        h->on_sample(h->ctx, epoch, text, len);
    else
        h->on_sample(h->ctx, epoch, e.msg, strlen(e.msg));
    sn_free(text);
}

static sn_status text_evaluate(void *ctx, sn_model *m, const sn_train_hooks *h, sn_epoch_stats *e,
                               sn_error *err) {
    text_source *t = ctx;
    sn_status s =
        t->have_val ? eval_streams(m, &t->va, t->T, t->labels, h, &e->val_loss, err) : SN_OK;
    if (s != SN_OK) return s;
    const sn_text_options *o = t->o;
    if (t->v && h && h->on_sample && o->sample_every > 0 && e->epoch % o->sample_every == 0) {
        if (!t->dist || t->dist->rank == 0) /* data-parallel: rank 0 generates the sample */
            sample(m, t, e->epoch, h);
        else /* the state sampling leaves, so the ranks' models stay alike */
            sn_model_reset_state(m);
    }
    return SN_OK;
}

sn_status sn_text_train(sn_model *m, const sn_vocab *v, const int *train, size_t ntrain,
                        const int *val, size_t nval, const sn_text_options *o,
                        const sn_train_hooks *hooks, const char *history_csv, sn_error *err) {
    return sn_text_train_checkpointed(m, v, train, ntrain, val, nval, o, hooks, history_csv, NULL,
                                      err);
}

sn_status sn_text_train_checkpointed(sn_model *m, const sn_vocab *v, const int *train,
                                     size_t ntrain, const int *val, size_t nval,
                                     const sn_text_options *o, const sn_train_hooks *hooks,
                                     const char *history_csv, const sn_checkpoint_options *ckopt,
                                     sn_error *err) {
    const sn_train_config *c = &m->cfg;
    text_source t = {.T = o->seq_len, .have_val = val && nval > 0, .v = v, .o = o};
    t.dist = hooks && hooks->dist && hooks->dist->size > 1 ? hooks->dist : NULL;
    int T = o->seq_len, K = sn_model_output_size(m);

    sn_status s = check_model(m, v, err);
    if (s == SN_OK && T < 1)
        s = sn_fail(err, SN_ERR_ARG, "sequence length must be >= 1, got %d", T);
    if (s == SN_OK) s = check_ids(train, ntrain, K, "training", err);
    if (s == SN_OK && t.have_val) s = check_ids(val, nval, K, "validation", err);
    if (s == SN_OK) s = streams_init(&t.tr, train, ntrain, c->batch, "training", err);
    if (s == SN_OK && t.have_val)
        s = streams_init(&t.va, val, nval,
                         nval > 1 && (size_t)c->batch > nval - 1 ? (int)(nval - 1) : c->batch,
                         "validation", err);
    if (s == SN_OK) s = sn_model_reserve(m, T * c->batch, err);
    if (s == SN_OK && !(t.labels = sn_alloc((size_t)T * c->batch, sizeof(int))))
        s = sn_fail(err, SN_ERR_NOMEM, "training: out of memory");
    sn_batch_source src = {.ctx = &t,
                           .trainer = "text",
                           .nbatches = s == SN_OK ? nbatches_of(&t.tr, T) : 0,
                           .samples = (long)ntrain,
                           .has_val = t.have_val,
                           .keep_best = o->keep_best && t.have_val,
                           .val_hint = "hold out validation text",
                           .epoch_begin = text_epoch_begin,
                           .batch = text_batch,
                           .after_step = text_after_step,
                           .checkpoint_state = text_checkpoint_state,
                           .evaluate = text_evaluate,
                           .history_header = "epoch,step,train_loss,train_bits,val_loss,val_bits,"
                                             "val_perplexity,lr,seconds,tokens_per_s,elapsed,"
                                             "cpu_seconds,skipped,reg_loss",
                           .history_row = text_history_row};
    if (s == SN_OK) s = sn_loop_run(m, &src, hooks, history_csv, ckopt, err);
    sn_dist_set_share(0, 0, 0);
    sn_free(t.labels);
    return s;
}
